// The leaves of a TDP root as runs (LeafRun, model/types.h), and what changed between two
// snapshots: the observable `kvmsim compare` diffs after every statement (which leaves a statement
// installed or zapped, and which of them lie beyond the range a populate ioctl asked for).
// Invariants: a snapshot is sorted by gpa, its runs are disjoint and maximal (two adjacent runs
// differ in level, permissions or privateness); building and diffing cost O(runs) and O(table
// entries), never O(pages), so a 1 TiB guest mapped with 4K leaves is cheap to observe.
#pragma once

#include <vector>

#include "model/mmu/page_table.h"
#include "model/types.h"

namespace kvmsim::model {

// Every present leaf of `pt`, coalesced into maximal runs (accessed/dirty ignored).
std::vector<LeafRun> leaf_runs(const PageTable& pt);

struct LeafDiff {
  std::vector<LeafRun> installed;  // in `after`, not identically in `before`
  std::vector<LeafRun> zapped;     // in `before`, not identically in `after` (a replaced leaf is both)
  bool empty() const { return installed.empty() && zapped.empty(); }
  bool operator==(const LeafDiff&) const = default;
};
LeafDiff diff_leaf_runs(const std::vector<LeafRun>& before, const std::vector<LeafRun>& after);

// The parts of `runs` outside [start, end) (clipped at the bounds: a huge leaf straddling `end`
// shows as the bytes it maps beyond it).
std::vector<LeafRun> outside_range(const std::vector<LeafRun>& runs, u64 start, u64 end);

}  // namespace kvmsim::model
