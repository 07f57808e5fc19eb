// Leaf runs: snapshot and difference (leaf_runs.h).
#include "model/mmu/leaf_runs.h"

#include <algorithm>
#include <optional>

namespace kvmsim::model {

namespace {

bool same_kind(const LeafRun& a, const LeafRun& b) {
  return a.level == b.level && a.writable == b.writable && a.executable == b.executable &&
         a.is_private == b.is_private;
}

// Appends `r`, merging it into the last run when it continues it.
void append(std::vector<LeafRun>& out, const LeafRun& r) {
  if (r.size == 0) return;
  if (!out.empty() && out.back().end() == r.gpa && same_kind(out.back(), r)) {
    out.back().size += r.size;
    return;
  }
  out.push_back(r);
}

// The run of `runs` (sorted, disjoint) covering gpa, from index *i on (advanced monotonically).
const LeafRun* covering(const std::vector<LeafRun>& runs, std::size_t* i, u64 gpa) {
  while (*i < runs.size() && runs[*i].end() <= gpa) ++*i;
  if (*i < runs.size() && runs[*i].gpa <= gpa) return &runs[*i];
  return nullptr;
}

}  // namespace

std::vector<LeafRun> leaf_runs(const PageTable& pt) {
  std::vector<LeafRun> out;
  pt.for_each_leaf_run(0, pt.max_gfn_exclusive(), [&](u64 gfn, u64 count, int level, const SpteAttrs& a) {
    append(out, LeafRun{gfn << 12, count * level_size(level), level, a.writable, a.executable, a.is_private});
  });
  return out;
}

LeafDiff diff_leaf_runs(const std::vector<LeafRun>& before, const std::vector<LeafRun>& after) {
  // Sweep the boundaries of both lists; each segment between two boundaries has one run (or none)
  // on each side.
  std::vector<u64> cuts;
  cuts.reserve(2 * (before.size() + after.size()));
  for (const auto* list : {&before, &after})
    for (const LeafRun& r : *list) {
      cuts.push_back(r.gpa);
      cuts.push_back(r.end());
    }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  LeafDiff d;
  std::size_t bi = 0, ai = 0;
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    const u64 lo = cuts[k], hi = cuts[k + 1];
    const LeafRun* b = covering(before, &bi, lo);
    const LeafRun* a = covering(after, &ai, lo);
    if (a && b && same_kind(*a, *b)) continue;
    if (a) append(d.installed, LeafRun{lo, hi - lo, a->level, a->writable, a->executable, a->is_private});
    if (b) append(d.zapped, LeafRun{lo, hi - lo, b->level, b->writable, b->executable, b->is_private});
  }
  return d;
}

std::vector<LeafRun> outside_range(const std::vector<LeafRun>& runs, u64 start, u64 end) {
  std::vector<LeafRun> out;
  for (const LeafRun& r : runs) {
    if (r.gpa < start) {
      LeafRun left = r;
      left.size = std::min(r.end(), start) - r.gpa;
      append(out, left);
    }
    if (r.end() > end) {
      LeafRun right = r;
      right.gpa = std::max(r.gpa, end);
      right.size = r.end() - right.gpa;
      append(out, right);
    }
  }
  return out;
}

}  // namespace kvmsim::model
