#include "sim/nested/nested_replay.h"

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <variant>

#include "model/profiles/profile.h"
#include "sim/backends.h"
#include "sim/differential.h"
#include "sim/nested/nested_runner.h"
#include "sim/replay.h"
#include "sim/trace/parser.h"

namespace kvmsim::nested {

namespace {

std::string flavour_list() {
  std::string s;
  for (const auto& f : flavours()) s += (s.empty() ? "" : ", ") + f;
  return s;
}

struct Input {
  std::string file;
  std::optional<trace::Trace> trace;
  const model::Profile* profile = nullptr;
  std::size_t boot = 0;   // index into the boots
  std::size_t index = 0;  // position within that boot's batch
};

std::string single_text(const ReplayReport& r) {
  std::string out = std::string(r.ok() ? "PASS " : "FAIL ") + r.file + " [nested/" + r.backend_profile + "] " +
                    std::to_string(r.counts.statements) + " statements, " + std::to_string(r.counts.checked) +
                    " checked";
  if (r.counts.mismatched) out += ", " + std::to_string(r.counts.mismatched) + " mismatched";
  if (r.counts.not_run) out += ", " + std::to_string(r.counts.not_run) + " not run";
  if (r.counts.unobservable) out += ", " + std::to_string(r.counts.unobservable) + " unobservable";
  out += "\n";
  for (const auto& s : r.results)
    if (s.status == StepStatus::mismatch || s.status == StepStatus::not_run || s.status == StepStatus::unobservable)
      out += "  " + s.message + "\n";
  return out;
}

}  // namespace

bool uses_nested(const std::string& spec) {
  if (spec == "nested") return true;
  auto comma = spec.find(',');
  return comma != std::string::npos && (spec.substr(0, comma) == "nested" || spec.substr(comma + 1) == "nested");
}

int run_nested_replay_command(const ReplayArgs& args, const std::vector<std::string>& files, std::ostream& out,
                              std::ostream& err) {
  // Which side is the model (-1: nested alone).
  int model_side = -1;
  if (args.backend != "nested") {
    auto comma = args.backend.find(',');
    std::string a = args.backend.substr(0, comma), b = args.backend.substr(comma + 1);
    if (a == "nested" && b == "model") model_side = 1;
    else if (a == "model" && b == "nested") model_side = 0;
    else {
      err << "kvmsim: the nested oracle pairs only with the model (model,nested), not '" << args.backend << "'\n";
      return kExitUsage;
    }
    if (args.update) {
      err << "kvmsim: --update needs a single backend\n";
      return kExitUsage;
    }
  }

  int passed = 0, mismatched = 0, malformed = 0, skipped = 0;
  std::vector<std::string> json_reports;
  std::vector<Input> inputs;
  std::vector<const model::Profile*> boot_profiles;  // in order of first use
  std::vector<std::vector<std::string>> boot_files;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in) {
      err << f << ": cannot read file\n";
      ++malformed;
      continue;
    }
    auto parsed = trace::parse(ss.str(), f);
    if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
      err << e->str() << "\n";
      ++malformed;
      continue;
    }
    Input input;
    input.file = f;
    input.trace = std::get<trace::Trace>(std::move(parsed));
    const std::string pname =
        args.profile.empty() ? input.trace->profile.value_or(model::default_profile().name) : args.profile;
    input.profile = model::find_profile(pname);
    if (!input.profile) {
      err << f << ": unknown profile '" << pname << "'\n";
      ++malformed;
      continue;
    }
    if (!is_flavour(pname)) {
      // JSON mode keeps stdout one JSON document: the reason goes to stderr there.
      (args.format == "json" ? err : out) << "SKIP " << f << ": profile " << pname
                                          << " is not a nested oracle flavour (" << flavour_list() << ")\n";
      ++skipped;
      continue;
    }
    std::size_t b = 0;
    while (b < boot_profiles.size() && boot_profiles[b] != input.profile) ++b;
    if (b == boot_profiles.size()) {
      boot_profiles.push_back(input.profile);
      boot_files.emplace_back();
    }
    input.boot = b;
    input.index = boot_files[b].size();
    boot_files[b].push_back(f);
    inputs.push_back(std::move(input));
  }

  // One boot per flavour, all of its traces batched.
  std::vector<BootRun> boots;
  for (std::size_t b = 0; b < boot_profiles.size(); b++) {
    RunOptions options;
    options.update = args.update;
    boots.push_back(run_nested_replay(boot_files[b], *boot_profiles[b], options));
    const BootRun& run = boots.back();
    if (!run.ok) {
      err << "kvmsim: nested oracle (" << run.profile << ") failed: " << run.failure << "\n";
      continue;
    }
    if (args.format != "json") {
      char line[256];
      std::snprintf(line, sizeof line, "boot %.2f s, insmod %.2f s, wall %.2f s for %zu traces", run.boot_seconds,
                    run.insmod_seconds, run.wall_seconds, run.traces.size());
      out << "nested " << run.profile << ": " << run.versions() << "; kvm " << run.kvm_params << "; " << line << "\n";
    }
  }

  for (const auto& input : inputs) {
    const BootRun& run = boots[input.boot];
    const std::string tag = " [nested/" + input.profile->name + "]";
    if (!run.ok) {
      (args.format == "json" ? err : out) << "FAIL " << input.file << tag
                                          << ": the nested oracle did not run (see stderr)\n";
      ++mismatched;
      continue;
    }
    const TraceRun& tr = run.traces[input.index];
    if (!tr.report) {
      std::ostream& o = args.format == "json" ? err : out;
      o << "FAIL " << input.file << tag << ": the guest's kvmsim exited " << tr.exit_code
        << (tr.exit_code == 143 ? " (killed by the per-trace timeout)" : "") << " without a report\n";
      if (!tr.stderr_text.empty()) o << "  " << tr.stderr_text << "\n";
      ++mismatched;
      continue;
    }
    bool ok;
    if (model_side < 0) {
      ok = tr.report->ok();
      if (args.format == "json") json_reports.push_back(tr.report->json());
      else out << single_text(*tr.report);
    } else {
      std::string why;
      auto model = make_backend("model", *input.profile, BackendOptions{}, &why);
      if (!model) {
        err << "kvmsim: " << why << "\n";
        ++malformed;
        continue;
      }
      ReplayReport m = replay(*input.trace, *model, ReplayOptions{});
      DiffReport d = model_side == 0 ? diff_recorded(*input.trace, m, *tr.report)
                                     : diff_recorded(*input.trace, *tr.report, m);
      ok = d.ok();
      if (args.format == "json") json_reports.push_back(d.json());
      else out << d.text();
    }
    ok ? ++passed : ++mismatched;
  }

  if (args.format == "json") {
    out << "{\"schema\": 1, \"reports\": [";
    for (std::size_t i = 0; i < json_reports.size(); ++i) out << (i ? ", " : "") << json_reports[i];
    out << "], \"nested\": [";
    for (std::size_t i = 0; i < boots.size(); ++i) out << (i ? ", " : "") << boots[i].json();
    out << "], \"passed\": " << passed << ", \"failed\": " << mismatched << ", \"malformed\": " << malformed
        << ", \"skipped\": " << skipped << "}\n";
  } else {
    out << "replay: " << passed << " passed, " << mismatched << " failed, " << malformed << " malformed, " << skipped
        << " skipped\n";
  }
  if (malformed) return kExitUsage;
  if (mismatched) return kExitMismatch;
  if (passed == 0) return kExitNothingRan;
  return kExitOk;
}

}  // namespace kvmsim::nested
