// GuestMemfd: one guest_memfd file (KVM_CREATE_GUEST_MEMFD, docs/semantics/guest-memfd.md). Its size
// and flags never change; which pages are allocated is not kept (nothing the model implements
// observes it); bindings map disjoint file ranges to memslots; with in-place conversion
// (docs/semantics/gmem-conversion.md §2) every page index has attributes, kept per file (the inode).
// Invariant: bindings never overlap.
// The ioctl-level checks (create, fallocate) are free functions so the VM and the tests share
// them; the zaps those operations imply are computed by the Vm.
#pragma once

#include <map>
#include <vector>

#include "model/attributes/memory_attributes.h"
#include "model/interval_map.h"
#include "model/memslots/memslot.h"
#include "model/types.h"
#include "model/uapi.h"

namespace kvmsim::model {

struct GmemBindingRef {
  u64 offset = 0;  // byte range [offset, end) of the file
  u64 end = 0;
  u16 as_id = 0;
  u16 slot_id = 0;
  bool operator==(const GmemBindingRef&) const = default;
};

class GuestMemfd {
 public:
  // [PATCH v8 01/46] kvm_gmem_init_inode(): every index starts PRIVATE unless the file is INIT_SHARED.
  GuestMemfd(u64 file_id, u64 size, u64 flags) : file_id_(file_id), size_(size), flags_(flags) {
    if (!(flags & uapi::GUEST_MEMFD_FLAG_INIT_SHARED))
      attributes_.set(0, size >> 12, uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE);
  }

  u64 file_id() const { return file_id_; }
  u64 size() const { return size_; }
  u64 flags() const { return flags_; }
  bool mmap_capable() const { return flags_ & uapi::GUEST_MEMFD_FLAG_MMAP; }

  // fallocate(2) after the VFS checks; on success `punched` says whether mappings must be zapped.
  // Which pages are allocated is not kept: no uAPI the model implements can observe it (a fault
  // allocates on first use, a read of guest_memfd is not modelled).
  Ret fallocate(int mode, u64 offset, u64 len, bool* punched);

  // Bindings: `overlaps` checks [offset, end) against every existing binding.
  bool overlaps(u64 offset, u64 end) const;
  void bind(const GmemBindingRef& b);
  void unbind(u16 as_id, u16 slot_id);
  std::vector<GmemBindingRef> bindings_in(u64 offset, u64 end) const;
  std::vector<GmemBindingRef> bindings() const;

  // Pages whose folio is "prepared" (6.12: uptodate): populated, or faulted in by the guest through
  // kvm_gmem_get_pfn(). A hole punch frees them. Only KVM_GUEST_MEMFD_POPULATE (RFC) reads it.
  bool prepared(u64 index) const { return prepared_.get(index).has_value(); }
  void set_prepared(u64 index) { prepared_.assign(index, index + 1, true); }
  void unprepare(u64 start_index, u64 end_index) { prepared_.erase(start_index, end_index); }

  // Per-page-index attributes; only a profile with in-place conversion reads or changes them.
  const MemoryAttributes& attributes() const { return attributes_; }
  void set_attributes(u64 start_index, u64 end_index, u64 attrs) { attributes_.set(start_index, end_index, attrs); }

 private:
  u64 file_id_;
  u64 size_;
  u64 flags_;
  std::map<u64, GmemBindingRef> bindings_;  // offset -> binding
  MemoryAttributes attributes_;             // page index -> attributes
  IntervalMap<bool> prepared_;              // page indexes whose folio is prepared
};

// KVM_CREATE_GUEST_MEMFD argument checks (docs/semantics/guest-memfd.md §1): flags & ~supported, size <= 0 or unaligned.
Ret check_create_guest_memfd(const uapi::kvm_create_guest_memfd& g, u64 supported_flags);

// vfs_fallocate's generic checks that precede the file's own, in kernel order: offset < 0 or
// len <= 0 -> EINVAL; unknown mode or PUNCH_HOLE without KEEP_SIZE -> EOPNOTSUPP; not a regular
// file (KVM's anon-inode fds, /dev/kvm) -> ENODEV; offset+len beyond the max file size -> EFBIG.
Ret check_vfs_fallocate(int mode, u64 offset, u64 len, bool regular_file);

}  // namespace kvmsim::model
