// A fuzz campaign: from one seed, generate cases (generator.h), replay each on two fresh backends in
// lock-step (sim/differential.h replay_pair, the same comparison rules as `replay --backend A,B`),
// and on the first divergence shrink the case (shrinker.h) under its signature (signature.h),
// re-run the result 5 times to measure how reliably it reproduces, and write it as a v1 trace whose
// expected results are side B's answers (the kernel when B is kvm).
// Determinism rules (enforced by sim/test/fuzz_test.cpp): every option is derived from the seed;
// the report (CampaignResult::report) and the emitted trace are built only from generated text and
// backend answers, never from the clock, addresses or unordered containers. Timing (the steps/s
// rate, the time budget) is kept out of `report` and goes to the rate line only. A time budget
// stops a campaign between cases, so a budget-limited run is a deterministic prefix of the full one.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "model/profiles/profile.h"
#include "sim/backend/backend.h"
#include "sim/fuzz/seed.h"
#include "sim/fuzz/signature.h"
#include "sim/progress.h"

namespace kvmsim::fuzz {

struct CampaignOptions {
  Seed seed;
  std::size_t steps = 1000;               // total generated statements over all cases
  // The two sides (sim/backend/backend.h; both must outlive the run). run_campaign needs two lock-step
  // sides; run_batch_campaign a lock-step side A and a batch side B.
  Backend* side_a = nullptr;
  Backend* side_b = nullptr;
  const model::Profile* profile_a = nullptr;  // the profile each side answers as (must outlive the run)
  const model::Profile* profile_b = nullptr;
  int batch_item_timeout_s = 15;  // batch side: one case (a generated case takes well under a second)
  double time_budget_s = 0;      // 0: none; checked between cases
  bool faults = false;           // generate inject statements
  bool shrink = true;
  bool strict = false;           // known open divergences (known_open.h) are findings too
  bool check_invariants = true;  // model sides: check_invariants() of every VM after every statement
  double shrink_budget_s = 60;   // wall-clock cap of the shrinker
  std::size_t shrink_max_candidates = 0;  // 0: unlimited (deterministic cap for tests)
  int reruns = 5;
  std::string out_dir;           // where the shrunk trace is written ("" : nothing is written); with
                                 // a directory the case being run is also kept in last-case.trace
                                 // there (the model aborting on an invariant leaves it behind)
  std::string replay_hint;       // how to name the pair in the printed replay command (default A,B)
  ProgressFn progress;           // hears "fuzz: case N, S/T steps" between cases and while shrinking (may be empty)
};

struct FoundDivergence {
  std::size_t case_index = 0;
  Signature signature;
  int line = 0;                  // in the original case
  std::string original;          // the generated case
  std::string shrunk;            // minimised, expected results from side B
  std::size_t original_statements = 0, shrunk_statements = 0;
  std::size_t shrink_candidates = 0;
  int reproduced = 0, reruns = 0;
  std::string file;              // written trace ("" when out_dir is empty)
  std::string replay_command;
};

struct EmittedCase {
  std::size_t index = 0;  // the case number of the report's `case N:` line
  std::string trace;
  bool operator==(const EmittedCase&) const = default;
};

struct CampaignResult {
  std::size_t cases = 0, steps = 0;  // cases and generated statements replayed
  std::optional<FoundDivergence> found;
  std::map<std::string, std::size_t> explained;  // known open divergences met (known_open.h), by name
  std::string failure;         // non-empty: the nested oracle failed to boot or report (exit 1)
  std::string report;          // deterministic text: seed, options, one line per case, outcome
  // Every case run with side A's observed results (for --emit-trace), each a complete v1 trace that
  // `kvmsim replay` accepts on its own, in case order (a case the kernel hung on has none).
  std::vector<EmittedCase> emitted;
  double seconds = 0;          // wall clock of the replay part (for the rate)
  bool budget_hit = false;
  double rate() const { return seconds > 0 ? static_cast<double>(steps) / seconds : 0; }
};

CampaignResult run_campaign(const CampaignOptions& options);

// ---- shared by run_campaign and run_nested_campaign (nested_campaign.h) ----
// The statement count of the next case: kMinCase..kMaxCase drawn from `lengths` (the seed's stream 0, so
// the split of --steps into cases is fixed), cut to what remains of `steps` after `done`.
std::size_t next_case_length(Rng& lengths, std::size_t done, std::size_t steps);
// Completes `f` from `expected` (the minimal case with side B's answers): the "found by" comment after
// the header lines, the written trace and its replay command (when out_dir is set), the report lines;
// then moves it into res.found.
void record_finding(const CampaignOptions& o, std::size_t case_index, const std::string& expected, FoundDivergence f,
                    CampaignResult& res);
// `text` with `comment` (whole `#` lines) inserted after its header lines (`kvmsim-trace 1`,
// `profile ...`): the header must stay first, so a trace with the comment still parses.
std::string insert_after_header(const std::string& text, const std::string& comment);
// The report's closing lines: the explained counts and, without a finding, the result line.
void finish_report(CampaignResult& res);

}  // namespace kvmsim::fuzz
