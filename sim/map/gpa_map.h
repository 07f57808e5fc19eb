// GpaMap: one VM's guest physical address space as drawable data — what `kvmsim map` shows. Per
// memslot (in gpa order): id, flags, host backing, the alignment of its gpa and hva, and the slot
// cut into runs: maximal ranges with one state (a leaf level, never mapped, or zapped by a given
// statement) and one private/shared attribute, each with the `explain` verdict for its first page
// (model/vm/explain.h: the same reasoning as `kvmsim explain --gpa START`).
// Built from the model's public queries only, in O(leaf runs + attribute runs + zaps) — never page
// by page — so a 64 TiB guest costs what a 4 GiB one does when it is mapped uniformly.
// Invariants: runs of a slot are sorted, non-empty, contiguous and cover the slot exactly; two
// adjacent runs differ in state, level, attribute or zapping line; output is deterministic.
#pragma once

#include <string>
#include <vector>

#include "model/vm/vm.h"
#include "sim/map/map_replay.h"

namespace kvmsim {

struct MapRun {
  enum class State { mapped, never_mapped, zapped };
  u64 start = 0, end = 0;  // gpa bytes, [start, end)
  State state = State::never_mapped;
  int level = 0;            // mapped: 1..3 (4K/2M/1G)
  bool is_private = false;  // mapped: the leaf's private bit; else the gfn attribute
  int zapped_line = 0;      // zapped: the last statement that zapped it
  u64 leaves = 0;           // mapped: number of leaves
  std::string rule;         // the rule that set the level of a read fault now ("" : none limited)
  std::string verdict;      // explain's one-line verdict at `start`
};

struct MapSlot {
  u16 as_id = 0, id = 0;
  u64 gpa = 0, size = 0, hva = 0;
  u32 flags = 0;
  std::string backing;      // host backing of the hva ("thp", "hugetlb_1g", "guest_memfd", "none")
  u64 gpa_align = 0;        // largest power of two dividing gpa (capped at 1G)
  u64 hva_align = 0;        // the same for hva
  bool congruent_2m = false, congruent_1g = false;  // gpa and hva agree modulo 2M / 1G
  std::vector<MapRun> runs;
};

struct GpaMap {
  std::string vm;        // the trace's handle
  std::string profile;
  int at_line = 0;       // 0: whole trace
  u64 bytes[4] = {0, 0, 0, 0};  // [1..3]: mapped bytes at 4K/2M/1G, [0]: slot bytes unmapped
  std::vector<MapSlot> slots;
};

GpaMap build_gpa_map(const model::Vm& vm, const VmHistory& history, int at_line);

const char* run_state_name(MapRun::State s);  // "mapped", "never_mapped", "zapped"
// "4K", "2M", "1020K": exact when the size is a whole number below 1024 of a unit; else one
// decimal of the largest unit ("3.9G"). For labels: JSON byte counts are exact.
std::string size_text(u64 bytes);

}  // namespace kvmsim
