// `kvmsim conformance`: the suite (conformance/) on one or more backends. A backend that cannot run
// here is one line and no cases; the others still run. Exit: 1 on any failure or a backend on which
// nothing passed; else 77 when a requested backend could not run (1 with --require-kvm); else 0.
#include <algorithm>
#include <variant>

#include "conformance/runner.h"
#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/json/json.h"
#include "sim/fuzz/shard.h"

namespace kvmsim {

namespace {

// What is wrong with the arguments, or "".
std::string argument_error(const ConformanceArgs& args) {
  if (args.format != "text" && args.format != "tap" && args.format != "junit" && args.format != "json")
    return "unknown format '" + args.format + "' (text, tap, junit, json)";
  const auto& g = conf::group_names();
  if (!args.group.empty() && std::find(g.begin(), g.end(), args.group) == g.end())
    return "unknown group '" + args.group + "'";
  return "";
}

// `--list --format json` (docs/json.md): {"schema": 1, "count", "groups": {group: n}, "cases": [{"id",
// "group", "name", "needs"}]}, in the order of the text listing.
void list_cases_json(const std::vector<const conf::Case*>& cases, std::ostream& out) {
  out << "{\"schema\": 1, \"count\": " << cases.size() << ", \"groups\": {";
  bool first = true;
  for (const auto& g : conf::group_names()) {
    const auto n = std::count_if(cases.begin(), cases.end(), [&](const conf::Case* c) { return c->group == g; });
    if (!n) continue;
    out << (first ? "" : ", ") << json_quote(g) << ": " << n;
    first = false;
  }
  out << "}, \"cases\": [";
  for (std::size_t i = 0; i < cases.size(); i++) {
    const conf::Case* c = cases[i];
    out << (i ? ", " : "") << "{\"id\": " << json_quote(c->id()) << ", \"group\": " << json_quote(c->group)
        << ", \"name\": " << json_quote(c->name) << ", \"needs\": [";
    for (std::size_t k = 0; k < c->needs.size(); k++) out << (k ? ", " : "") << json_quote(conf::need_name(c->needs[k]));
    out << "]}";
  }
  out << "]}\n";
}

void list_cases(const std::vector<const conf::Case*>& cases, std::ostream& out) {
  for (const conf::Case* c : cases) {
    out << c->id();
    if (!c->needs.empty()) {
      out << "  needs:";
      for (conf::Need n : c->needs) out << " " << conf::need_name(n);
    }
    out << "\n";
  }
}

void print_report(const conf::RunReport& report, const std::string& format, std::ostream& out, std::ostream& err) {
  if (format == "tap") conf::format_tap(report, out);
  else if (format == "junit") conf::format_junit(report, out);
  else if (format == "json") conf::format_json(report, out);
  else conf::format_text(report, out);
  if (format != "text") err << conf::summary_line(report) << "\n";
}

}  // namespace

int run_conformance(const ConformanceArgs& args, std::ostream& out, std::ostream& err) {
  const bool json = args.format == "json";
  // A failure of the whole run: its line on stderr and, in JSON mode, the error document on stdout.
  auto fail = [&](int code, const std::string& message) {
    err << "conformance: " << message << "\n";
    if (json) out << error_document("", 0, 0, message);
    return code;
  };
  auto spec = parse_backend_spec(args.backend, 8);
  if (auto* e = std::get_if<std::string>(&spec)) return fail(kExitUsage, *e);
  if (std::string why = argument_error(args); !why.empty()) return fail(kExitUsage, why);
  std::vector<const conf::Case*> cases = conf::select_cases(args.group, args.filter);
  if (!args.shard.empty()) {
    // The same partition as GoogleTest's: position p of the selection belongs to shard p % N.
    auto shard = fuzz::parse_shard(args.shard);
    if (!shard) return fail(kExitUsage, "bad --shard '" + args.shard + "' (I/N with 0 <= I < N)");
    std::vector<const conf::Case*> mine;
    for (std::size_t i = 0; i < cases.size(); i++)
      if (shard->owns(i)) mine.push_back(cases[i]);
    cases = std::move(mine);
  }
  if (args.list) {
    json ? list_cases_json(cases, out) : list_cases(cases, out);
    return kExitOk;
  }
  if (cases.empty()) return fail(kExitMismatch, "no case matches");
  BackendOptions options;
  options.max_host_mem = args.max_host_mem;
  options.kvm_device = args.kvm_device;
  options.progress = args.progress;
  auto sides = make_backends(std::get<BackendSpec>(spec), options);
  const std::vector<std::string> unavailable = check_backends(sides, !args.profile.empty(), err);
  std::erase_if(sides, [](const auto& b) { return !b->unavailable().empty(); });
  if (sides.empty()) return unavailable_exit(args.require_kvm);

  std::string error;
  auto profiles = resolve_profiles(sides, args.profile, std::nullopt, &error);
  if (!profiles) return fail(kExitUsage, error);
  const model::Profile& profile = *profiles->profiles.front();
  for (const auto& b : sides) {
    if (std::string why = b->refuses_profile(profile); !why.empty()) {
      err << "conformance: backend " << b->name() << ": " << why << "\n";
      return kExitUsage;
    }
  }
  conf::RunReport report;
  for (const auto& b : sides) {
    if (!b->lockstep()) {
      conf::run_on_batch(cases, *b, profile, args.group, args.filter, &report, err);
      continue;
    }
    Backend* backend = b.get();
    conf::BackendFactory factory = [backend, &profile](std::string* why) { return backend->open(profile, why); };
    conf::run_on_backend(cases, b->name(), factory, &report);
  }
  print_report(report, args.format, out, err);
  const int rc = conf::exit_code(report);
  if (rc != kExitOk || unavailable.empty()) return rc;
  return unavailable_exit(args.require_kvm);
}

}  // namespace kvmsim
