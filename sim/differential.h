// Differential replay: one trace, two backends (normally the model and this host's /dev/kvm), run in
// lock-step with one Replayer each. After every statement the two `actual` strings are compared;
// the first statement where they disagree is the divergence reported for the trace, later ones
// are only counted (after one divergence the two states may differ for good, so later
// disagreements are mostly echoes). Each side's own expectation mismatches are still reported.
// Rules: a statement either side cannot observe (mapping() on kvm, stats on a backend without
// them) is never a divergence; a binding statement is compared by success/failure only, because
// host addresses and fd numbers differ by nature. When the trace was written for another profile
// than a backend answers as, that backend's mismatches are labelled as profile differences.
// A statement one backend could not put to its kernel (StatementResult::host_limit: a safety cap,
// missing huge pages) ends the comparison there: from then on the two states differ because of
// the host, not the kernel, so later disagreements are not divergences. The trace still fails on
// that backend (its own mismatch), and the stop is reported with the backend's reason.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "model/vm/kvm_api.h"
#include "sim/replay.h"
#include "sim/trace/ast.h"

namespace kvmsim {

struct Divergence {
  int line = 0;
  std::string statement;  // as written
  std::string a_actual;   // what backend A answered (comparable form, see comparable_actual)
  std::string b_actual;
};

struct DiffReport {
  std::string file;
  std::string trace_profile;       // `profile` header of the trace, "" if none
  ReplayReport a, b;               // each side's own report (backend, backend_profile, mismatches)
  std::optional<Divergence> first;  // first statement where the two backends disagree
  std::size_t divergences = 0;     // all disagreeing statements, including the first
  // Where the comparison stopped because a backend hit a host limit (nullopt: it ran to the end).
  struct HostLimitStop {
    int line = 0;
    std::string statement;
    std::string backend;  // the side that could not run it
    std::string message;  // that side's message, with its reason
  };
  std::optional<HostLimitStop> stopped;

  bool ok() const { return divergences == 0 && a.ok() && b.ok(); }
  // `FILE:LINE: A X, B Y` for the first divergence, then each side's problems (labelled with the
  // backend name, and as profile differences when the trace was written for another profile),
  // then one summary line. `divergences_only`: the summary line says AGREE / DIVERGE (whether the
  // backends disagreed) instead of PASS / FAIL (whether everything held).
  std::string text(bool divergences_only = false) const;
  std::string json() const;  // deterministic, stable key order
};

// What is compared for one statement: the actual text, except "ok"/"failed: ERR" for bindings,
// and nullopt when the statement says nothing comparable (unobservable on this side).
std::optional<std::string> comparable_actual(const StatementResult& r);

// "" when the trace has no profile or `backend_profile` equals it; otherwise
// "profile difference (trace written for X, backend answers as Y)".
std::string profile_label(const std::string& trace_profile, const std::string& backend_profile);

// Two Replayers in lock-step over statements given one at a time (a streamed trace); replay_pair
// is this over a parsed trace. Both backends must be fresh and outlive the pair.
class LockstepPair {
 public:
  LockstepPair(std::string file, std::optional<std::string> trace_profile, KvmApi& a, KvmApi& b,
               ReplayOptions options = {});
  // Steps both sides; `after_step` (if set) sees side A's result.
  void step(const trace::Statement& st, const std::function<void(const StatementResult&)>& after_step = {});
  DiffReport report() const;

 private:
  KvmApi& a_;
  KvmApi& b_;
  Replayer ra_, rb_;
  DiffReport d_;
};

// Runs `trace` on `a` and `b` in lock-step. Both backends must be fresh; both must outlive the call.
// `after_step`, if set, is called after every statement (both sides stepped), e.g. to check the
// model's invariants (kvmsim fuzz).
DiffReport replay_pair(const trace::Trace& trace, KvmApi& a, KvmApi& b,
                       const std::function<void(const StatementResult&)>& after_step = {});

// The same comparison over two reports recorded separately (e.g. the nested oracle's, replayed in a
// guest, and the model's): statement i of each report is compared when both carry the trace's i-th
// line; a report without it (cut short, or of another trace) counts as a divergence there.
DiffReport diff_recorded(const trace::Trace& trace, const ReplayReport& a, const ReplayReport& b);

}  // namespace kvmsim
