// Trace-level shrinking of a diverging fuzz case. The predicate answers "does this candidate trace
// still diverge with the same signature?" (see signature.h); the shrinker only ever keeps
// candidates the predicate accepts, so the result reproduces the original divergence.
// Passes, repeated until nothing changes or the budget is spent:
//  1. drop trailing statements (everything after the diverging line, then halves of the tail);
//  2. drop single statements, last to first (a candidate whose bindings no longer resolve fails
//     to parse and is rejected by the predicate);
//  3. simplify arguments: each number in a call's arguments toward 0, 4K, 2M and aligned values,
//     and `X+off` toward `X`.
// Comment lines are dropped. The header (`kvmsim-trace`, `profile`) is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kvmsim::fuzz {

struct ShrinkStats {
  std::size_t candidates = 0;  // predicate calls
  std::size_t accepted = 0;
  bool budget_exhausted = false;
};

// `keeps_bug(text)` must be deterministic; `budget` limits predicate calls (0: unlimited);
// `should_stop()` is polled between candidates (a wall-clock deadline lives with the caller).
std::string shrink_trace(const std::string& text, int diverging_line, const std::function<bool(const std::string&)>& keeps_bug,
                         std::size_t budget, const std::function<bool()>& should_stop, ShrinkStats* stats);

// Choice-level shrinking with RapidCheck's shrink sequences (rc::shrink::eachElement to 0 or half,
// then rc::shrink::removeChunks): `choices` is the Rng draw sequence a case was generated
// from (Rng::record), `keeps_bug(candidate)` regenerates the case from the candidate (Rng::replay) and
// runs it. Greedy: the first accepted candidate restarts the sequences from it. Runs before the
// trace-level pass; it can change what a statement is, not only drop it.
std::vector<std::uint64_t> shrink_choices(std::vector<std::uint64_t> choices,
                                          const std::function<bool(const std::vector<std::uint64_t>&)>& keeps_bug,
                                          std::size_t budget, const std::function<bool()>& should_stop,
                                          ShrinkStats* stats);

// Number of statement lines (not header, comment or blank).
std::size_t count_statements(const std::string& text);

}  // namespace kvmsim::fuzz
