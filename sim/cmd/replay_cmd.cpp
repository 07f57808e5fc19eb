// `kvmsim replay`: every trace on one backend, or on two compared statement by statement. Lock-step
// sides run trace by trace as the files are read; when a side is a batch backend (the nested
// oracle), traces are grouped by the profiles they run as and each group is one batch per side.
#include <algorithm>
#include <fstream>
#include <map>
#include <variant>

#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/differential.h"

namespace kvmsim {

namespace {

struct Tally {
  int passed = 0, failed = 0, malformed = 0, skipped = 0;
  std::vector<std::string> json_reports;
  std::vector<std::string> json_errors;  // one error_json() per malformed trace
};

class ReplayRun {
 public:
  ReplayRun(const ReplayArgs& args, std::vector<std::unique_ptr<Backend>> sides, std::ostream& out, std::ostream& err)
      : args_(args), sides_(std::move(sides)), out_(out), err_(err) {}

  int run(const std::vector<std::string>& files);

 private:
  struct Pending {
    trace::Trace trace;
    std::vector<const model::Profile*> profiles;
    std::vector<std::shared_ptr<model::Profile>> owned;  // profiles changed by the trace's host header
  };
  bool all_lockstep() const {
    for (const auto& s : sides_)
      if (!s->lockstep()) return false;
    return true;
  }
  std::ostream& notes() { return args_.format == "json" ? err_ : out_; }
  std::optional<Pending> prepare(const std::string& file);
  void run_lockstep(const Pending& p);
  void run_batches(std::vector<Pending>& pending);
  void single(const ReplayReport& r, const std::string& text);
  void pair(const DiffReport& d);
  void batch_failed(const Pending& p, std::size_t side, const std::string& why);
  int finish();

  const ReplayArgs& args_;
  std::vector<std::unique_ptr<Backend>> sides_;
  std::ostream& out_;
  std::ostream& err_;
  Tally t_;
  std::map<std::string, std::vector<std::string>> batch_json_;  // backend name -> its batches
};

std::string single_text(const ReplayReport& r, bool verbose) {
  std::string out = std::string(r.ok() ? "PASS " : "FAIL ") + r.file + " [" + r.backend + "/" + r.backend_profile +
                    "] " + std::to_string(r.counts.statements) + " statements, " + std::to_string(r.counts.checked) +
                    " checked";
  if (r.counts.mismatched) out += ", " + std::to_string(r.counts.mismatched) + " mismatched";
  if (r.counts.not_run) out += ", " + std::to_string(r.counts.not_run) + " not run";
  if (r.counts.unobservable) out += ", " + std::to_string(r.counts.unobservable) + " unobservable";
  out += "\n";
  for (const auto& s : r.results) {
    const bool problem =
        s.status == StepStatus::mismatch || s.status == StepStatus::not_run || s.status == StepStatus::unobservable;
    if (problem) out += "  " + s.message + "\n";
    else if (verbose)
      out += "  " + r.file + ":" + std::to_string(s.line) + ": " + step_status_name(s.status) + ": " + s.actual + "\n";
    if (!s.kernel_bug.empty()) out += "  " + s.kernel_bug + "\n";
  }
  return out;
}

std::optional<ReplayRun::Pending> ReplayRun::prepare(const std::string& file) {
  trace::ParseError parse_error;
  std::optional<trace::Trace> t = load_trace(file, err_, &parse_error);
  if (!t) {
    t_.json_errors.push_back(error_json(parse_error));
    ++t_.malformed;
    return std::nullopt;
  }
  std::string error;
  auto profiles = resolve_profiles(sides_, args_.profile, t->profile, &error);
  if (!profiles) {
    const int line = args_.profile.empty() ? directive_line(t->source, "profile") : 0;
    if (line) err_ << t->file << ":" << line << ": " << error << "\n";
    else err_ << "kvmsim: " << error << "\n";
    t_.json_errors.push_back(error_json(line ? t->file : "", line, 0, error));
    ++t_.malformed;
    return std::nullopt;
  }
  for (std::size_t i = 0; i < sides_.size(); i++) {
    std::string why = sides_[i]->refuses_profile(*profiles->profiles[i]);
    if (why.empty() && t->host && sides_[i]->runs_guest_agent())
      why = "its host header sets THP policies, which a real kernel takes from sysfs, not from the trace";
    if (!why.empty()) {
      notes() << "SKIP " << t->file << ": " << why << "\n";
      ++t_.skipped;
      return std::nullopt;
    }
  }
  std::vector<std::shared_ptr<model::Profile>> owned;
  for (auto& p : profiles->profiles) {
    p = with_host_header(*p, *t, &owned, &error);
    if (!p) {
      err_ << t->file << ":" << t->host->line << ": " << error << "\n";
      t_.json_errors.push_back(error_json(t->file, t->host->line, 0, error));
      ++t_.malformed;
      return std::nullopt;
    }
  }
  return Pending{std::move(*t), std::move(profiles->profiles), std::move(owned)};
}

void ReplayRun::single(const ReplayReport& r, const std::string& text) {
  if (args_.update && r.updated_text != text) {
    std::ofstream o(r.file, std::ios::binary | std::ios::trunc);
    o << r.updated_text;
    if (!o) {
      err_ << r.file << ": cannot write updated trace\n";
      ++t_.malformed;
      return;
    }
  }
  if (args_.format == "json") t_.json_reports.push_back(r.json());
  else out_ << single_text(r, args_.verbose);
  r.ok() ? ++t_.passed : ++t_.failed;
}

void ReplayRun::pair(const DiffReport& d) {
  if (args_.format == "json") t_.json_reports.push_back(d.json());
  else out_ << d.text(args_.divergences_only);
  const bool pass = args_.divergences_only ? d.divergences == 0 : d.ok();
  pass ? ++t_.passed : ++t_.failed;
}

void ReplayRun::run_lockstep(const Pending& p) {
  std::unique_ptr<KvmApi> api[2];
  for (std::size_t i = 0; i < sides_.size(); i++) {
    std::string why;
    api[i] = sides_[i]->open(*p.profiles[i], &why);
    if (!api[i]) return batch_failed(p, i, why);
  }
  if (sides_.size() == 1) return single(replay(p.trace, *api[0], ReplayOptions{args_.update}), p.trace.source);
  pair(replay_pair(p.trace, *api[0], *api[1]));
}

void ReplayRun::batch_failed(const Pending& p, std::size_t side, const std::string& why) {
  notes() << "FAIL " << p.trace.file << " [" << sides_[side]->name() << "/" << p.profiles[side]->name << "]: " << why
          << "\n";
  ++t_.failed;
}

void ReplayRun::run_batches(std::vector<Pending>& pending) {
  // One batch per distinct profile assignment, in order of first use.
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < pending.size(); i++) {
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const auto& grp) { return pending[grp.front()].profiles == pending[i].profiles; });
    if (g == groups.end()) groups.push_back({i});
    else g->push_back(i);
  }
  for (const auto& grp : groups) {
    std::vector<const trace::Trace*> traces;
    for (std::size_t i : grp) traces.push_back(&pending[i].trace);
    std::vector<std::vector<BatchReplay>> results(sides_.size());
    std::vector<BatchRun> runs;
    for (std::size_t s = 0; s < sides_.size(); s++) {
      runs.push_back(sides_[s]->replay_batch(traces, *pending[grp.front()].profiles[s], BatchOptions{args_.update, 0},
                                             &results[s]));
      const BatchRun& run = runs.back();
      if (!run.json.empty()) batch_json_[sides_[s]->name()].push_back(run.json);
      if (!run.ok) err_ << "kvmsim: backend " << sides_[s]->name() << " failed: " << run.failure << "\n";
      else if (!run.summary.empty() && args_.format != "json") out_ << run.summary << "\n";
    }
    for (std::size_t k = 0; k < grp.size(); k++) {
      const Pending& p = pending[grp[k]];
      const ReplayReport* reports[2] = {nullptr, nullptr};
      bool failed = false;
      for (std::size_t s = 0; s < sides_.size() && !failed; s++) {
        if (!runs[s].ok) {
          batch_failed(p, s, "backend " + sides_[s]->name() + " did not run (see stderr)");
          failed = true;
        } else if (!results[s][k].report) {
          batch_failed(p, s, results[s][k].failure);
          failed = true;
        } else {
          reports[s] = &*results[s][k].report;
        }
      }
      if (failed) continue;
      if (sides_.size() == 1) {
        // A batch backend writes --update results back itself (the nested oracle's run.sh).
        if (args_.format == "json") t_.json_reports.push_back(reports[0]->json());
        else out_ << single_text(*reports[0], args_.verbose);
        reports[0]->ok() ? ++t_.passed : ++t_.failed;
      } else {
        pair(diff_recorded(p.trace, *reports[0], *reports[1]));
      }
    }
  }
}

int ReplayRun::run(const std::vector<std::string>& files) {
  std::vector<Pending> pending;
  const bool stream = all_lockstep();
  for (std::size_t i = 0; i < files.size(); i++) {
    const std::string& f = files[i];
    if (args_.trace_progress)
      report_progress(args_.progress, "replay: " + std::to_string(i) + "/" + std::to_string(files.size()) + " traces, " +
                                        std::to_string(t_.failed) + " failed; " + f);
    std::optional<Pending> p = prepare(f);
    if (!p) continue;
    if (stream) run_lockstep(*p);
    else pending.push_back(std::move(*p));
  }
  if (!stream) run_batches(pending);
  report_progress(args_.progress, "");  // done: what follows on stderr starts on a clean line
  return finish();
}

int ReplayRun::finish() {
  if (args_.format == "json") {
    out_ << "{\"schema\": 1, \"reports\": [";
    for (std::size_t i = 0; i < t_.json_reports.size(); ++i) out_ << (i ? ", " : "") << t_.json_reports[i];
    out_ << "]";
    for (const auto& [name, runs] : batch_json_) {
      out_ << ", \"" << name << "\": [";
      for (std::size_t i = 0; i < runs.size(); ++i) out_ << (i ? ", " : "") << runs[i];
      out_ << "]";
    }
    out_ << ", \"errors\": [";
    for (std::size_t i = 0; i < t_.json_errors.size(); ++i) out_ << (i ? ", " : "") << t_.json_errors[i];
    out_ << "]";
    out_ << ", \"passed\": " << t_.passed << ", \"failed\": " << t_.failed << ", \"malformed\": " << t_.malformed
         << ", \"skipped\": " << t_.skipped << "}\n";
  } else {
    out_ << "replay: " << t_.passed << " passed, " << t_.failed << " failed, " << t_.malformed << " malformed, "
         << t_.skipped << " skipped\n";
  }
  if (t_.malformed) return kExitUsage;
  if (t_.failed) return kExitMismatch;
  if (t_.passed == 0) return kExitNothingRan;
  return kExitOk;
}

}  // namespace

int run_replay(const ReplayArgs& args, std::ostream& out, std::ostream& err) {
  // A failure of the whole command: one line on stderr and, in JSON mode, an error document on stdout.
  auto fail = [&](int code, const std::string& message) {
    err << "kvmsim: " << message << "\n";
    if (args.format == "json") out << error_document("", 0, 0, message);
    return code;
  };
  auto spec = parse_backend_spec(args.backend, 2);
  if (auto* e = std::get_if<std::string>(&spec)) return fail(kExitUsage, *e);
  const BackendSpec& s = std::get<BackendSpec>(spec);
  if (args.update && s.paired()) return fail(kExitUsage, "--update needs a single backend");
  if (args.divergences_only && !s.paired()) return fail(kExitUsage, "--divergences-only needs a backend pair (A,B or both)");
  if (args.update && std::find(args.files.begin(), args.files.end(), kStdinPath) != args.files.end())
    return fail(kExitUsage, "--update cannot write results back to standard input ('-')");
  std::vector<std::string> files;
  std::string error;
  if (!expand_trace_paths(args.files, &files, &error)) return fail(kExitUsage, error);
  if (files.empty()) return fail(kExitNothingRan, "no *.trace files found");
  BackendOptions options;
  options.max_host_mem = args.max_host_mem;
  options.kvm_device = args.kvm_device;
  options.progress = args.progress;
  auto sides = make_backends(s, options);
  if (!check_backends(sides, !args.profile.empty(), err).empty()) {
    if (args.format == "json") out << "{\"schema\": 1, \"reports\": [], \"unavailable\": true}\n";
    return unavailable_exit(args.require_kvm);
  }
  return ReplayRun(args, std::move(sides), out, err).run(files);
}

}  // namespace kvmsim
