// `kvmsim compare`: one trace, the model under two profiles, statement by statement. Both sides
// run in lock-step through the replay engine (sim/replay.h), each on a fresh model session; after
// every statement each side records what it answered (return value, errno, written-back fields,
// a `kernel-bug:` diagnostic), what it changed in every VM's TDP leaves (model/mmu/leaf_runs.h:
// runs installed and zapped, with level, range, permissions and privateness), its stat deltas,
// and, for a populate ioctl, the leaves it installed beyond the range it asked for.
// Rules: a statement whose ioctl one profile lacks runs there as its translation
// (translations.h), and the row says so with every note of what the rewrite could not express;
// the written-back fields of a translated call are compared in the original's names. What differs
// is a statement's own effect (deltas, not states), so one early difference does not echo into
// every later statement. The trace's own expectations are not checked: the profiles are compared
// with each other. Output is deterministic: same trace and profiles -> byte-identical report.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "model/mmu/leaf_runs.h"
#include "model/profiles/profile.h"
#include "sim/trace/ast.h"

namespace kvmsim::compare {

// One VM's part of what a statement did on one side.
struct VmEffect {
  model::LeafDiff leaves;
  std::vector<LeafRun> beyond;       // populate ioctls: installed leaves outside the requested range
  std::map<std::string, i64> stats;  // non-zero stat deltas
  bool operator==(const VmEffect&) const = default;
};

struct SideEffect {
  std::string result;      // `-1 EAGAIN => {base_gfn=0x40400, nr_pages=2, source=0}`, `ok` for a binding
  std::string lacks;       // what this profile lacks for the statement ("": it has all of it)
  std::string translated;  // the statement run instead of the written one ("": as written)
  std::vector<std::string> notes;  // what the translation could not express, or why it could not be made
  std::string kernel_bug;
  std::map<std::string, VmEffect> vms;  // by VM handle, only VMs the statement changed
};

struct StatementComparison {
  int line = 0;
  std::string statement;  // as written
  SideEffect side[2];
  std::vector<std::string> differs;  // of "result", "kernel-bug", "leaves", "beyond", "stats"
};

struct CompareReport {
  std::string file;
  std::string profile[2];
  std::size_t statements = 0;
  std::size_t differing = 0;   // statements with a non-empty `differs`
  std::size_t translated = 0;  // statements either side ran translated
  std::vector<StatementComparison> rows;  // the differing statements and those a profile lacks, in order
  bool agree() const { return differing == 0; }
  // One block per row (`FILE:LINE: statement`, the translation, one line per difference), then
  // `FILE: AGREE|DIFFER (...)`.
  std::string text() const;
  std::string json() const;  // docs/json.md "compare"
};

CompareReport compare_profiles(const trace::Trace& trace, const model::Profile& a, const model::Profile& b);

// `[1G, 1G+2M) 2M r-x shared` (one run) / `none`.
std::string format_run(const LeafRun& r);

}  // namespace kvmsim::compare
