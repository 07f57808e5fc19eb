// MemoryAttributes: the per-VM gfn -> attributes map of KVM_SET_MEMORY_ATTRIBUTES (docs/semantics/memory-attributes.md §1),
// stored as ranges (an IntervalMap), so a 1 TiB range costs O(1) memory. Attribute 0 is
// "no entry" (the kernel erases xarray entries for 0), so equal adjacent ranges merge and
// uniformity queries over a huge-page region look at a single run.
// Invariant: no stored run holds 0, and adjacent runs never hold equal attributes.
#pragma once

#include "model/interval_map.h"
#include "model/types.h"
#include "model/uapi.h"

namespace kvmsim::model {

class MemoryAttributes {
 public:
  u64 get(u64 gfn) const { return runs_.get(gfn).value_or(0); }
  // Every gfn of [start, end) has exactly `attrs` (kvm_range_has_memory_attributes, mask ~0).
  bool range_has(u64 start, u64 end, u64 attrs) const;
  // All gfns of [start, end) have the same attributes; *attrs receives them.
  bool uniform(u64 start, u64 end, u64* attrs = nullptr) const;
  void set(u64 start, u64 end, u64 attrs);
  // First gfn after `gfn` (at most `limit`) whose attributes differ from gfn's: walks the stored
  // runs, so a reader (kvmsim map) visits a 64 TiB range in O(runs).
  u64 run_end(u64 gfn, u64 limit) const { return runs_.uniform_end(gfn, limit); }
  std::size_t run_count() const { return runs_.run_count(); }

 private:
  IntervalMap<u64> runs_;  // only nonzero attributes are stored
};

// The argument checks of KVM_SET_MEMORY_ATTRIBUTES, in kernel order (docs/semantics/memory-attributes.md §1 steps 2-5).
Ret check_set_memory_attributes(const uapi::kvm_memory_attributes& a, u64 supported);

}  // namespace kvmsim::model
