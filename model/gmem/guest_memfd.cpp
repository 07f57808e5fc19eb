#include "model/gmem/guest_memfd.h"

#include <algorithm>
#include <cerrno>
#include <limits>

#include "model/core_assert.h"

namespace kvmsim::model {

using namespace uapi;

Ret check_create_guest_memfd(const kvm_create_guest_memfd& g, u64 supported_flags) {
  if (g.flags & ~supported_flags) return Ret::fail(EINVAL);
  // The size is a signed loff_t in the kernel; reserved[] is not checked.
  if (static_cast<i64>(g.size) <= 0 || (g.size & (kPageSize - 1))) return Ret::fail(EINVAL);
  return Ret::ok();
}

Ret check_vfs_fallocate(int mode, u64 offset, u64 len, bool regular_file) {
  if (static_cast<i64>(offset) < 0 || static_cast<i64>(len) <= 0) return Ret::fail(EINVAL);
  constexpr int kModeMask = 0x02 | 0x08 | 0x10 | 0x20 | 0x40;  // punch, collapse, zero, insert, unshare
  if (mode & ~(kModeMask | FALLOC_FL_KEEP_SIZE)) return Ret::fail(EOPNOTSUPP);
  const int m = mode & kModeMask;
  if (m && (m & (m - 1))) return Ret::fail(EOPNOTSUPP);  // modes are mutually exclusive
  if ((m == FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) return Ret::fail(EOPNOTSUPP);
  if (!regular_file) return Ret::fail(ENODEV);
  if (offset + len > static_cast<u64>(std::numeric_limits<i64>::max())) return Ret::fail(EFBIG);
  return Ret::ok();
}

Ret GuestMemfd::fallocate(int mode, u64 offset, u64 len, bool* punched) {
  *punched = false;
  if (!(mode & FALLOC_FL_KEEP_SIZE)) return Ret::fail(EOPNOTSUPP);
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return Ret::fail(EOPNOTSUPP);
  if ((offset | len) & (kPageSize - 1)) return Ret::fail(EINVAL);
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    // Not bounds-checked: punching at or beyond EOF succeeds (docs/semantics/host-kvm-pvm.md §3).
    *punched = true;
    return Ret::ok();
  }
  if (offset + len > size_) return Ret::fail(EINVAL);
  return Ret::ok();
}

bool GuestMemfd::overlaps(u64 offset, u64 end) const { return !bindings_in(offset, end).empty(); }

void GuestMemfd::bind(const GmemBindingRef& b) {
  KVMSIM_ASSERT(b.offset < b.end && !overlaps(b.offset, b.end), "binding [%llx,%llx) overlaps",
                (unsigned long long)b.offset, (unsigned long long)b.end);
  bindings_.emplace(b.offset, b);
}

void GuestMemfd::unbind(u16 as_id, u16 slot_id) {
  for (auto it = bindings_.begin(); it != bindings_.end(); ++it)
    if (it->second.as_id == as_id && it->second.slot_id == slot_id) {
      bindings_.erase(it);
      return;
    }
  KVMSIM_ASSERT(false, "unbind of unknown slot %u/%u", as_id, slot_id);
}

std::vector<GmemBindingRef> GuestMemfd::bindings_in(u64 offset, u64 end) const {
  std::vector<GmemBindingRef> out;
  if (offset >= end) return out;
  auto it = bindings_.upper_bound(offset);
  if (it != bindings_.begin() && std::prev(it)->second.end > offset) --it;
  for (; it != bindings_.end() && it->first < end; ++it) out.push_back(it->second);
  return out;
}

std::vector<GmemBindingRef> GuestMemfd::bindings() const {
  std::vector<GmemBindingRef> out;
  for (const auto& [o, b] : bindings_) out.push_back(b);
  return out;
}

}  // namespace kvmsim::model
