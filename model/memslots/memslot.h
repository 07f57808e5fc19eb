// Memslot and MemslotSet: one guest-physical -> host-virtual slot, and the slots of one address
// space. Invariants of a MemslotSet: ids are unique; slots never overlap in gfn space; both
// indexes (by id, by base gfn) always describe the same slots. Slots live in a vector indexed by
// id (O(1) lookup, stable addresses, iteration by id) and an ordered map by base gfn (O(log n)
// overlap and gfn lookups), so iteration order is deterministic and 32764 creates and deletes
// take milliseconds.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "model/host/memfd.h"
#include "model/memslots/lpage_info.h"
#include "model/types.h"

namespace kvmsim {
using u16 = std::uint16_t;  // slot ids and address-space ids are 16-bit in the uAPI
}

namespace kvmsim::model {

// The guest_memfd range backing a KVM_MEM_GUEST_MEMFD slot.
struct GmemBinding {
  u64 file_id = 0;
  u64 offset = 0;       // byte offset of the slot's first page in the file
  bool file_open = true;  // false once the guest_memfd was released: faults then get EFAULT
};

// The private fd of a KVM_MEM_PRIVATE slot (private-fd v5 proposal, docs/semantics/proposals.md §2).
// The slot holds the file, as the posted code keeps slot->private_file.
struct PrivateFdBinding {
  std::shared_ptr<const Memfd> file;
  u64 offset = 0;           // private_offset in bytes; v5 checks neither alignment nor range
  // The memfile notifier and pfn_ops are set up only by a CREATE (patch 10/13 kvm_set_memslot);
  // a MOVE or FLAGS_ONLY copy of the slot has neither.
  bool registered = false;
  u64 pgoff_of(u64 gfn, u64 base_gfn) const { return gfn - base_gfn + (offset >> 12); }
};

struct Memslot {
  u16 id = 0;
  u16 as_id = 0;
  u64 base_gfn = 0;
  u64 npages = 0;
  u64 userspace_addr = 0;
  u32 flags = 0;                      // KVM_MEM_* (user-visible bits only)
  std::optional<GmemBinding> gmem;    // iff flags has KVM_MEM_GUEST_MEMFD
  bool gmem_only = false;             // internal KVM_MEMSLOT_GMEM_ONLY: file has GUEST_MEMFD_FLAG_MMAP
  std::optional<PrivateFdBinding> private_fd;  // iff flags has KVM_MEM_PRIVATE (private-fd profiles)
  std::vector<u64> dirty_bitmap;      // ceil(npages/64) words when a bitmap is allocated
  bool has_dirty_bitmap = false;
  // kvm_lpage_info for 2M/1G: computed at CREATE/MOVE, kept on FLAGS_ONLY (set by the Vm).
  std::optional<LpageInfo> lpage_info;

  u64 end_gfn() const { return base_gfn + npages; }
  bool contains(u64 gfn) const { return gfn >= base_gfn && gfn < end_gfn(); }
  u64 hva_of(u64 gfn) const { return userspace_addr + ((gfn - base_gfn) << 12); }
  u64 hva_end() const { return userspace_addr + (npages << 12); }
};

class MemslotSet {
 public:
  const Memslot* find(u16 id) const;
  Memslot* find(u16 id);
  const Memslot* by_gfn(u64 gfn) const;
  // Slots intersecting [start, end) gfns, in gfn order.
  std::vector<const Memslot*> overlapping(u64 start, u64 end) const;
  // Does any slot other than `except` intersect [start, end)?
  bool overlaps(u64 start, u64 end, std::optional<u16> except) const;

  void insert(Memslot slot);  // the caller has checked id uniqueness and overlap
  Memslot erase(u16 id);

  std::size_t size() const { return size_; }
  // Every slot, in id order.
  std::vector<const Memslot*> by_id() const;

 private:
  std::vector<std::unique_ptr<Memslot>> by_id_;  // index = slot id; null: no such slot
  std::size_t size_ = 0;
  std::map<u64, u16> by_gfn_;  // base_gfn -> id
};

}  // namespace kvmsim::model
