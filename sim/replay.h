// The replay engine: executes a parsed trace against any KvmApi backend (the model or real
// /dev/kvm), one statement at a time, and compares what the backend returns with what the
// trace expects. Stepping is explicit so two backends can run in lock-step and be compared
// statement by statement. Each statement runs through the handler its schema row's Op selects
// (sim/replay_call.h, sim/replay_handlers.cpp); this engine keeps what all statements share.
// Rules: the predefined handle `kvm` is backend.kvm_fd(); a binding that fails is a mismatch
// ("expected success") and every later statement using that handle is not_run; only the
// out-fields / counters / mapping keys written in the trace are compared; a backend that cannot
// observe stats or mappings yields `unobservable`, never a pass. Expressions with handles wrap
// modulo 2^64 (name-free ones were range-checked by the parser).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/vm/kvm_api.h"
#include "sim/trace/ast.h"

namespace kvmsim {

struct ReplayOptions {
  bool update = false;  // build ReplayReport::updated_text
  // Keep every statement's result in ReplayReport::results (-v, JSON reports, tests). Off, the
  // report keeps only what the text report prints (problems and kernel-bug lines) plus the
  // counts, so memory does not grow with the trace (streamed replay).
  bool keep_all_results = true;
};

enum class StepStatus { matched, mismatch, unchecked, unobservable, not_run };
const char* step_status_name(StepStatus s);

struct StatementResult {
  int line = 0;
  std::string statement;  // the statement as written (trimmed line)
  std::string actual;     // trace syntax: `-1 EINVAL`, `0 => {gpa=3G+2M, size=0}`, `pages_4k=1 pages_2m=0`
  std::string expected;   // same syntax; "" when the trace expects nothing; "success" for a binding
  StepStatus status = StepStatus::unchecked;
  std::string message;    // for mismatch / unobservable / not_run: `FILE:LINE: ...` + "\n    " + statement
  // What --update writes into the statement's result span (nullopt: leave the line alone).
  std::optional<std::string> rewrite;
  // The backend could not do what this statement asks on this host (its safety cap, missing huge
  // pages, KvmApi::Diagnostic::host_limit; or an `inject` it cannot perform): not a kernel answer.
  bool host_limit = false;
  // A bug of a modelled proposal that this statement reached (`kernel-bug: ...`, model/map_memory.cpp):
  // reported whatever the status, like a splat in the kernel log.
  std::string kernel_bug;
  // A call's answer as values (nullopt for observations): kvmsim compare translates written-back
  // fields between two ioctls' structs (sim/compare/translations.cpp) from these, not from `actual`.
  std::optional<Ret> ret;
  std::vector<std::pair<std::string, u64>> written_back;  // expression out-fields, schema order
};

struct StatementResult;
struct ReplayCounts {
  std::size_t statements = 0, checked = 0, matched = 0, mismatched = 0, unchecked = 0, unobservable = 0,
              not_run = 0;
  // The one way counts are made: from the statements' statuses ("checked" = matched + mismatched).
  void add(StepStatus s);
  static ReplayCounts of(const std::vector<StatementResult>& results);
};

// What a report with ReplayOptions::keep_all_results off keeps of a result: what the text
// reports print (a problem's message, a kernel-bug line).
bool worth_keeping(const StatementResult& r);

struct ReplayReport {
  std::string file;
  std::string backend;
  std::string trace_profile;    // `profile` directive, "" if none
  std::string backend_profile;  // profile().name of the backend
  ReplayCounts counts;
  std::vector<StatementResult> results;
  std::string updated_text;  // only with ReplayOptions::update

  bool ok() const { return counts.mismatched == 0 && counts.not_run == 0; }
  std::string text() const;  // human report: problems, then a summary line
  std::string json() const;  // deterministic, stable key order; read back by sim/replay_json.h
};

// Holds references: `trace` and `backend` must outlive the Replayer.
class Replayer {
 public:
  Replayer(const trace::Trace& trace, KvmApi& backend, ReplayOptions options);
  // A streamed trace: statements come one by one through step(st), as they are parsed. No source
  // is kept, so options.update is the caller's (splice_result() per line).
  Replayer(std::string file, std::optional<std::string> trace_profile, KvmApi& backend, ReplayOptions options);
  bool done() const { return !trace_ || next_ >= trace_->statements.size(); }
  StatementResult step();                              // the next statement of the trace
  StatementResult step(const trace::Statement& st);  // any statement (streamed traces)
  // The report so far (all steps taken); updated_text is filled when options.update is set.
  ReplayReport report() const;
  // A bound handle's backend value (nullopt: unbound, or its creation failed).
  std::optional<u64> handle(const std::string& name) const {
    auto it = handles_.find(name);
    return it == handles_.end() ? std::nullopt : it->second.value;
  }

 private:
  struct Handle {
    std::optional<u64> value;  // nullopt: its creation failed
    int line = 0;
  };
  // The parts every statement shares; what differs per operation is its handler (sim/replay_call.h).
  StatementResult run(const trace::Statement& st);
  std::optional<std::string> failed_handle(const trace::Statement& st) const;
  u64 eval(const trace::Expr& e) const;

  const trace::Trace* trace_ = nullptr;  // nullptr: a streamed trace
  std::string file_;
  std::optional<std::string> trace_profile_;
  KvmApi& api_;
  ReplayOptions options_;
  std::size_t next_ = 0;
  std::map<std::string, Handle> handles_;
  bool any_failed_ = false;  // some handle's creation failed (failed_handle() has something to find)
  std::vector<StatementResult> results_;  // all, or only the worth_keeping() ones
  ReplayCounts counts_;
};

ReplayReport replay(const trace::Trace& trace, KvmApi& backend, const ReplayOptions& options);

// The original source with each result span replaced by `rewrite` (comments, blank lines and
// layout elsewhere byte-identical).
std::string apply_rewrites(const trace::Trace& trace, const std::vector<StatementResult>& results);

// One statement's line (st.text) with its result span replaced by `rewrite`: what apply_rewrites
// does per line, for traces rewritten as they stream.
std::string splice_result(const trace::Statement& st, const std::string& rewrite);

}  // namespace kvmsim
