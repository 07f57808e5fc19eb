// HostMemory: the VMM process's guest-RAM mappings for the real /dev/kvm backend. It creates
// mappings with the requested backing (anon, anon_nohuge, thp, shmem, hugetlb_2m/1g, or an fd),
// aligned by over-reserving and trimming, and keeps an exact interval map of what it mapped so
// that (1) the total never exceeds the configured cap (ENOMEM + diagnostic instead of an OOM),
// (2) touch() refuses ranges that would crash the process (unmapped, not writable, or a
// guest_memfd mapping whose host touch SIGBUSes), and (3) the destructor unmaps everything.
// Invariant: regions_ never overlap; mapped_bytes_ == sum of region sizes.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "model/types.h"

namespace kvmsim::kvm {

class HostMemory {
 public:
  explicit HostMemory(u64 cap_bytes) : cap_(cap_bytes) {}
  ~HostMemory();
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

  Ret map(u64 size, Backing backing, u64 align);
  Ret map_placed(u64 size, Backing backing, u64 align, const MmapPlacement& placement);
  // mmap(fd); `touch_sigbus`: the host may not touch these pages (guest_memfd without
  // INIT_SHARED), so touch() answers EFAULT instead of dying.
  Ret map_fd(int fd, u64 size, u64 offset, int prot, int flags, bool touch_sigbus);
  Ret unmap(u64 addr, u64 size);
  Ret madvise(u64 addr, u64 size, int advice);
  Ret mprotect(u64 addr, u64 size, int prot);
  // The VMM writes one byte per 4K page, preserving contents; a page the kernel refuses answers
  // SIGBUS (Ret::signal), caught (user_access.h) (an atomic OR of 0 is a single
  // write fault, so THP-eligible memory gets real huge pages, never the huge zero page).
  Ret touch(u64 addr, u64 size);

  // True if [addr, addr+len) is inside our mappings and host-writable without faulting.
  bool host_writable(u64 addr, u64 len) const;
  // True if [addr, addr+len) is inside our mappings and their protection allows the access; the
  // kernel may still answer SIGBUS (guest_memfd, EOF): callers use sim/kvm/user_access.h.
  bool protection_allows(u64 addr, u64 len, bool write) const;
  // addr lies in a mapping this backend made (any protection).
  bool owns(u64 addr) const;
  // The first address of [addr, addr+size) that is mapped in this process but not by this backend
  // (kvmsim's code, heap, stack, the guest agent): munmap/madvise/mprotect there would hit kvmsim
  // itself. nullopt: every page is ours or unmapped. Reads /proc/self/maps.
  std::optional<u64> foreign_mapping(u64 addr, u64 size) const;
  u64 cap() const { return cap_; }
  const std::string& last_diagnostic() const { return diag_; }
  // The last failure was the cap or missing huge pages, not something the kernel decided.
  bool last_was_host_limit() const { return host_limit_; }

 private:
  struct Region {
    u64 size = 0;
    int prot = 0;
    bool touch_sigbus = false;
  };
  Ret admit(u64 size);  // cap check
  static Ret backing_flags(Backing backing, u64 size, int* flags, int* fd);
  void insert(u64 addr, u64 size, int prot, bool touch_sigbus);
  void split_at(u64 addr);
  void erase_range(u64 addr, u64 size);

  u64 cap_;
  u64 mapped_bytes_ = 0;
  std::map<u64, Region> regions_;
  std::string diag_;
  bool host_limit_ = false;
};

}  // namespace kvmsim::kvm
