// write(2) on a guest_memfd as posted in "[PATCH v7 1/2] KVM: guest_memfd: add generic population via write"
// (Nikita Kalyazin, 2025-11-14; docs/semantics/gmem-write.md). The file gains .write_iter =
// generic_perform_write (mm/filemap.c) and FMODE_PWRITE; generic_perform_write() cuts the write into
// chunks of one folio (a guest_memfd folio is one page) and calls, per chunk,
//  * kvm_gmem_write_begin(): no GUEST_MEMFD_FLAG_WRITE on the inode -> ENODEV; pos + len beyond i_size ->
//    EINVAL; pos or len not page aligned -> EINVAL; then kvm_gmem_get_folio() allocates the page;
//  * kvm_gmem_write_end(): a folio not yet uptodate has [copied, len) zeroed and is marked uptodate.
// The first failing chunk ends the write: the bytes already written if any, else its errno. Nothing checks
// the page's shared/private state: a VM with private memory cannot create the flag (the profile's flag table).
#include <algorithm>
#include <cerrno>
#include <string>

#include "model/core_assert.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using uapi::kPageSize;

namespace {
constexpr u64 kMaxRwCount = 0x7ffff000;  // MAX_RW_COUNT (INT_MAX & PAGE_MASK): vfs_write() caps count
}

Ret Vm::gmem_write(u64 file_id, u64 offset, u64 len, u64 value) {
  auto it = gmem_.find(file_id);
  KVMSIM_ASSERT(it != gmem_.end(), "write on released gmem %llu", (unsigned long long)file_id);
  const GuestMemfd& f = it->second;
  len = std::min(len, kMaxRwCount);
  u64 pos = offset, written = 0;
  int status = 0;
  do {
    const u64 bytes = std::min(kPageSize - (pos & (kPageSize - 1)), len - written);
    // kvm_gmem_write_begin(), in the posted order.
    if (!(f.flags() & profile_.gmem_write_flag)) status = ENODEV;
    else if (pos + bytes > f.size()) status = EINVAL;
    else if ((pos | bytes) & (kPageSize - 1)) status = EINVAL;
    if (status) break;
    if (bytes == 0) {
      // write_end() returned 0 copied: generic_perform_write() takes it for a short copy and, with nothing
      // left to fault in, fails with EFAULT — after write_end() marked the folio uptodate.
      report_kernel_bug("[PATCH v7 1/2] kvm_gmem_write_end(): a zero-length write at " +
                        std::to_string(pos) + " marks the folio uptodate without zeroing it; if it was new, "
                        "its stale contents become readable by the host and the guest");
      status = EFAULT;
      break;
    }
    host_.contents().fill(file_id, pos, bytes, value);
    pos += bytes;
    written += bytes;
  } while (written < len);
  if (written == 0) return Ret::fail(status);
  return Ret::ok(static_cast<i64>(written));
}

}  // namespace kvmsim::model
