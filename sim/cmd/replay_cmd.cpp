// `kvmsim replay`: every trace on one backend, or on two compared statement by statement. Lock-step
// sides stream each file: statements run as they are parsed (sim/replay_stream.h), reports keep
// only what they print, -v lines are spilled to a temporary file and --update writes a spliced
// copy renamed over the trace, so memory does not grow with the trace. When a side is a batch
// backend (the nested oracle), traces are parsed whole, grouped by the profiles they run as and
// each group is one batch per side.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <variant>

#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/differential.h"
#include "sim/replay_stream.h"

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
  void run_stream(const std::string& file);
  void run_batches(std::vector<Pending>& pending);
  // A single backend's report; `lines` is what the text report prints under its head.
  void single(const ReplayReport& r, const std::string& lines);
  void pair(const DiffReport& d);
  void batch_failed(const std::string& file, const model::Profile& profile, std::size_t side, const std::string& why);
  int finish();

  const ReplayArgs& args_;
  std::vector<std::unique_ptr<Backend>> sides_;
  std::ostream& out_;
  std::ostream& err_;
  Tally t_;
  std::map<std::string, std::vector<std::string>> batch_json_;  // backend name -> its batches
};

std::string single_head(const ReplayReport& r) {
  std::string out = std::string(r.ok() ? "PASS " : "FAIL ") + r.file + " [" + r.backend + "/" + r.backend_profile +
                    "] " + std::to_string(r.counts.statements) + " statements, " + std::to_string(r.counts.checked) +
                    " checked";
  if (r.counts.mismatched) out += ", " + std::to_string(r.counts.mismatched) + " mismatched";
  if (r.counts.not_run) out += ", " + std::to_string(r.counts.not_run) + " not run";
  if (r.counts.unobservable) out += ", " + std::to_string(r.counts.unobservable) + " unobservable";
  return out + "\n";
}

// What the text report prints under its head for one statement.
std::string single_lines(const std::string& file, const StatementResult& s, bool verbose) {
  std::string out;
  const bool problem =
      s.status == StepStatus::mismatch || s.status == StepStatus::not_run || s.status == StepStatus::unobservable;
  if (problem) out += "  " + s.message + "\n";
  else if (verbose)
    out += "  " + file + ":" + std::to_string(s.line) + ": " + step_status_name(s.status) + ": " + s.actual + "\n";
  if (!s.kernel_bug.empty()) out += "  " + s.kernel_bug + "\n";
  return out;
}

std::string single_text(const ReplayReport& r, bool verbose) {
  std::string out = single_head(r);
  for (const auto& s : r.results) out += single_lines(r.file, s, verbose);
  return out;
}

// A temporary file next to `path` (so rename() over it stays on one file system).
std::FILE* temp_next_to(const std::string& path, std::string* name) {
  std::string tmpl = path + ".kvmsim-XXXXXX";
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) return nullptr;
  *name = tmpl;
  return fdopen(fd, "wb");
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

void ReplayRun::single(const ReplayReport& r, const std::string& lines) {
  if (args_.format == "json") t_.json_reports.push_back(r.json());
  else out_ << single_head(r) << lines;
  r.ok() ? ++t_.passed : ++t_.failed;
}

void ReplayRun::pair(const DiffReport& d) {
  if (args_.format == "json") t_.json_reports.push_back(d.json());
  else out_ << d.text(args_.divergences_only);
  const bool pass = args_.divergences_only ? d.divergences == 0 : d.ok();
  pass ? ++t_.passed : ++t_.failed;
}

void ReplayRun::run_stream(const std::string& path) {
  // `-` is standard input, named <stdin> in messages and reports (never closed, never updated).
  const bool from_stdin = path == kStdinPath;
  const std::string file = from_stdin ? kStdinName : path;
  auto unreadable = [&](const std::string& why) {
    err_ << file << ": " << why << "\n";
    t_.json_errors.push_back(error_json(file, 0, 0, why));
    ++t_.malformed;
  };
  std::error_code ec;
  if (!from_stdin && std::filesystem::exists(file, ec) && !std::filesystem::is_regular_file(file, ec))
    return unreadable("not a regular file (a FIFO or device is never opened: it could block)");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(from_stdin ? stdin : std::fopen(file.c_str(), "rb"),
                                                    from_stdin ? +[](std::FILE*) { return 0; } : &std::fclose);
  if (!in) return unreadable("cannot read file");
  // --update: every line read goes to a copy next to the trace, renamed over it at the end.
  using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;
  std::string copy_name;
  File copy(args_.update ? temp_next_to(file, &copy_name) : nullptr, &std::fclose);
  if (args_.update && !copy) {
    err_ << file << ": cannot write updated trace\n";
    ++t_.malformed;
    return;
  }
  auto drop_copy = [&] {
    if (!copy) return;
    copy.reset();
    std::remove(copy_name.c_str());
  };
  TraceStream ts(in.get(), file);
  if (copy) ts.copy_to(copy.get());
  // The header and profile directive come first: once the first statement is parsed (or the file
  // ended) the profile is known and the backends can be opened.
  trace::Statement* st = ts.next();
  auto malformed = [&] {
    drop_copy();
    err_ << ts.error()->str() << "\n";
    t_.json_errors.push_back(error_json(*ts.error()));
    ++t_.malformed;
  };
  if (!st && ts.error()) return malformed();
  const std::optional<std::string> header = ts.parser().profile();
  std::string error;
  auto profiles = resolve_profiles(sides_, args_.profile, header, &error);
  if (!profiles) {
    drop_copy();
    const int line = args_.profile.empty() ? std::max(1, ts.parser().profile_line()) : 0;
    if (line) err_ << file << ":" << line << ": " << error << "\n";
    else err_ << "kvmsim: " << error << "\n";
    t_.json_errors.push_back(error_json(line ? file : "", line, 0, error));
    ++t_.malformed;
    return;
  }
  // The `host` header (traces/FORMAT.md): only the model takes THP policies from a trace.
  trace::Trace head;
  head.file = file;
  head.host = ts.parser().host();
  for (std::size_t i = 0; i < sides_.size(); i++) {
    std::string why = sides_[i]->refuses_profile(*profiles->profiles[i]);
    if (why.empty() && head.host && sides_[i]->runs_guest_agent())
      why = "its host header sets THP policies, which a real kernel takes from sysfs, not from the trace";
    if (!why.empty()) {
      drop_copy();
      notes() << "SKIP " << file << ": " << why << "\n";
      ++t_.skipped;
      return;
    }
  }
  std::vector<std::shared_ptr<model::Profile>> owned;
  for (auto& p : profiles->profiles) {
    p = with_host_header(*p, head, &owned, &error);
    if (!p) {
      drop_copy();
      err_ << file << ":" << head.host->line << ": " << error << "\n";
      t_.json_errors.push_back(error_json(file, head.host->line, 0, error));
      ++t_.malformed;
      return;
    }
  }
  std::unique_ptr<KvmApi> api[2];
  for (std::size_t i = 0; i < sides_.size(); i++) {
    std::string why;
    api[i] = sides_[i]->open(*profiles->profiles[i], &why);
    if (!api[i]) {
      drop_copy();
      return batch_failed(file, *profiles->profiles[i], i, why);
    }
  }
  // JSON reports carry every statement's result; text reports only their problems, and -v lines
  // go to a spill file until the head (which needs the counts) is printed.
  ReplayOptions options;
  options.keep_all_results = args_.format == "json";
  File spill(args_.verbose && args_.format != "json" && sides_.size() == 1 ? std::tmpfile() : nullptr, &std::fclose);
  if (sides_.size() == 1) {
    Replayer rep(file, header, *api[0], options);
    for (; st; st = ts.next()) {
      StatementResult r = rep.step(*st);
      if (r.rewrite) ts.set_rewrite(*r.rewrite);
      if (spill) {
        const std::string lines = single_lines(file, r, true);
        std::fwrite(lines.data(), 1, lines.size(), spill.get());
      }
    }
    if (ts.error()) return malformed();
    if (copy) {
      struct stat sb {};
      const bool ok = std::fflush(copy.get()) == 0 && !ts.write_failed() && ::stat(file.c_str(), &sb) == 0 &&
                      ::fchmod(fileno(copy.get()), sb.st_mode & 07777) == 0;
      if (!ok || (ts.changed() && std::rename(copy_name.c_str(), file.c_str()) != 0)) {
        drop_copy();
        err_ << file << ": cannot write updated trace\n";
        ++t_.malformed;
        return;
      }
      if (ts.changed()) copy.reset();  // renamed: nothing to remove
      drop_copy();
    }
    ReplayReport report = rep.report();
    std::string lines;
    if (spill) {
      std::rewind(spill.get());
      char buf[1 << 16];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, spill.get())) > 0;) lines.append(buf, n);
    } else if (args_.format != "json") {
      for (const auto& s : report.results) lines += single_lines(file, s, false);
    }
    return single(report, lines);
  }
  LockstepPair lockstep(file, header, *api[0], *api[1], options);
  for (; st; st = ts.next()) lockstep.step(*st);
  if (ts.error()) return malformed();
  pair(lockstep.report());
}

void ReplayRun::batch_failed(const std::string& file, const model::Profile& profile, std::size_t side,
                             const std::string& why) {
  notes() << "FAIL " << file << " [" << sides_[side]->name() << "/" << profile.name << "]: " << why << "\n";
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
          batch_failed(p.trace.file, *p.profiles[s], s, "backend " + sides_[s]->name() + " did not run (see stderr)");
          failed = true;
        } else if (!results[s][k].report) {
          batch_failed(p.trace.file, *p.profiles[s], s, results[s][k].failure);
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
  const bool stream = all_lockstep();
  std::vector<Pending> pending;
  for (std::size_t i = 0; i < files.size(); i++) {
    const std::string& f = files[i];
    if (args_.trace_progress)
      report_progress(args_.progress, "replay: " + std::to_string(i) + "/" + std::to_string(files.size()) + " traces, " +
                                        std::to_string(t_.failed) + " failed; " + f);
    if (stream) {
      run_stream(f);
    } else if (std::optional<Pending> p = prepare(f)) {
      pending.push_back(std::move(*p));
    }
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
