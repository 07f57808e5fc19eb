// `kvmsim conformance`: the suite (conformance/) on one or more backends. A backend that cannot run
// here is one line and no cases; the others still run. Exit: 1 on any failure or a backend on which
// nothing passed; else 77 when a requested backend could not run (1 with --require-kvm); else 0.
#include <algorithm>
#include <variant>

#include "conformance/runner.h"
#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/fuzz/shard.h"

namespace kvmsim {

namespace {

bool valid_arguments(const ConformanceArgs& args, std::ostream& err) {
  if (args.format != "text" && args.format != "tap" && args.format != "junit" && args.format != "json") {
    err << "conformance: unknown format '" << args.format << "' (text, tap, junit, json)\n";
    return false;
  }
  if (!args.group.empty()) {
    const auto& g = conf::group_names();
    if (std::find(g.begin(), g.end(), args.group) == g.end()) {
      err << "conformance: unknown group '" << args.group << "'\n";
      return false;
    }
  }
  return true;
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
  auto spec = parse_backend_spec(args.backend, 8);
  if (auto* e = std::get_if<std::string>(&spec)) {
    err << "conformance: " << *e << "\n";
    return kExitUsage;
  }
  if (!valid_arguments(args, err)) return kExitUsage;
  std::vector<const conf::Case*> cases = conf::select_cases(args.group, args.filter);
  if (!args.shard.empty()) {
    // The same partition as GoogleTest's: position p of the selection belongs to shard p % N.
    auto shard = fuzz::parse_shard(args.shard);
    if (!shard) {
      err << "conformance: bad --shard '" << args.shard << "' (I/N with 0 <= I < N)\n";
      return kExitUsage;
    }
    std::vector<const conf::Case*> mine;
    for (std::size_t i = 0; i < cases.size(); i++)
      if (shard->owns(i)) mine.push_back(cases[i]);
    cases = std::move(mine);
  }
  if (args.list) {
    list_cases(cases, out);
    return kExitOk;
  }
  if (cases.empty()) {
    err << "conformance: no case matches\n";
    return kExitMismatch;
  }
  BackendOptions options;
  options.max_host_mem = args.max_host_mem;
  options.kvm_device = args.kvm_device;
  auto sides = make_backends(std::get<BackendSpec>(spec), options);
  const std::vector<std::string> unavailable = check_backends(sides, !args.profile.empty(), err);
  std::erase_if(sides, [](const auto& b) { return !b->unavailable().empty(); });
  if (sides.empty()) return unavailable_exit(args.require_kvm);

  std::string error;
  auto profiles = resolve_profiles(sides, args.profile, std::nullopt, &error);
  if (!profiles) {
    err << "conformance: " << error << "\n";
    return kExitUsage;
  }
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
