#include "sim/kvm/host_memory.h"

#include "sim/kvm/user_access.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; /usr/include is 6.1 but keep older libcs building
#endif

namespace kvmsim::kvm {

namespace {
constexpr u64 k4K = 4096;
u64 round_up(u64 v, u64 a) { return (v + a - 1) / a * a; }
bool is_pow2(u64 v) { return v && !(v & (v - 1)); }

std::string hugetlb_reason(u64 page_size) {
  const char* dir = page_size == (1ull << 30) ? "hugepages-1048576kB" : "hugepages-2048kB";
  std::string path = std::string("/sys/kernel/mm/hugepages/") + dir + "/free_hugepages";
  std::string free_pages = "?";
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[32] = {};
    if (std::fgets(buf, sizeof buf, f)) free_pages = buf;
    std::fclose(f);
    while (!free_pages.empty() && (free_pages.back() == '\n')) free_pages.pop_back();
  }
  return std::string("hugetlb: no huge pages available for this mapping (") + path + " = " + free_pages +
         "); reserve some via nr_hugepages";
}
}  // namespace

HostMemory::~HostMemory() {
  for (const auto& [addr, r] : regions_) ::munmap(reinterpret_cast<void*>(addr), r.size);
}

Ret HostMemory::admit(u64 size) {
  if (size > cap_ || mapped_bytes_ > cap_ - size) {
    host_limit_ = true;
    diag_ = "host memory cap: mapping " + std::to_string(size) + " bytes would exceed max_host_mem=" +
            std::to_string(cap_) + " (already mapped " + std::to_string(mapped_bytes_) + ")";
    return Ret::fail(ENOMEM);
  }
  return Ret::ok();
}

Ret HostMemory::map(u64 size, Backing backing, u64 align) {
  diag_.clear();
  host_limit_ = false;
  if (size == 0 || backing == Backing::guest_memfd) return Ret::fail(EINVAL);
  const u64 page = backing_page_size(backing);
  if (align == 0) align = backing_default_align(backing);
  if (!is_pow2(align)) return Ret::fail(EINVAL);
  if (align < page) align = page;
  size = round_up(size, page);
  if (Ret r = admit(size); !r.is_ok()) return r;

  // Reserve address space with slack, then place the real mapping at an aligned address
  // inside it with MAP_FIXED and release the rest.
  const u64 slack = align > k4K ? align : 0;
  void* res = ::mmap(nullptr, size + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) return Ret::fail(errno);
  const u64 base = reinterpret_cast<u64>(res);
  const u64 addr = round_up(base, align);

  int fd = -1;
  int flags = MAP_FIXED;
  if (Ret r = backing_flags(backing, size, &flags, &fd); !r.is_ok()) {
    ::munmap(res, size + slack);
    return r;
  }
  void* m = ::mmap(reinterpret_cast<void*>(addr), size, PROT_READ | PROT_WRITE, flags, fd, 0);
  int e = errno;
  if (fd >= 0) ::close(fd);  // the mapping keeps the memfd alive
  if (m == MAP_FAILED) {
    ::munmap(res, size + slack);
    if (backing == Backing::hugetlb_2m || backing == Backing::hugetlb_1g) {
      diag_ = hugetlb_reason(page);
      host_limit_ = true;
    }
    return Ret::fail(e);
  }
  if (addr > base) ::munmap(res, addr - base);
  if (base + size + slack > addr + size) ::munmap(reinterpret_cast<void*>(addr + size), base + size + slack - addr - size);

  if (backing == Backing::anon_nohuge) ::madvise(m, size, MADV_NOHUGEPAGE);
  if (backing == Backing::thp) ::madvise(m, size, MADV_HUGEPAGE);
  insert(addr, size, PROT_READ | PROT_WRITE, false);
  return Ret::ok(static_cast<i64>(addr));
}

// The MAP_* flags (and, for shmem, a fresh memfd of `size` bytes in *fd) of a backing.
Ret HostMemory::backing_flags(Backing backing, u64 size, int* flags, int* fd) {
  switch (backing) {
    case Backing::shmem:
      *fd = ::memfd_create("kvmsim-shmem", MFD_CLOEXEC);
      if (*fd < 0 || ::ftruncate(*fd, static_cast<off_t>(size)) != 0) {
        int e = errno;
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
        return Ret::fail(e);
      }
      *flags |= MAP_SHARED;
      break;
    case Backing::hugetlb_2m: *flags |= MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT); break;
    case Backing::hugetlb_1g: *flags |= MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (30 << MAP_HUGE_SHIFT); break;
    default: *flags |= MAP_PRIVATE | MAP_ANONYMOUS; break;
  }
  return Ret::ok();
}

// A VMM's placement: prot other than read/write, MAP_NORESERVE, and MAP_FIXED into a range this
// backend mapped before (the caller refuses ranges that are not ours).
Ret HostMemory::map_placed(u64 size, Backing backing, u64 align, const MmapPlacement& p) {
  const bool fixed = p.fixed || (p.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE));
  if (!fixed) {
    Ret r = map(size, backing, align);
    if (!r.is_ok() || p.prot == (PROT_READ | PROT_WRITE)) return r;
    Ret m = mprotect(static_cast<u64>(r.ret), size, p.prot);
    return m.is_ok() ? r : m;
  }
  diag_.clear();
  host_limit_ = false;
  if (size == 0 || backing == Backing::guest_memfd) return Ret::fail(EINVAL);
  size = round_up(size, backing_page_size(backing));
  if (Ret r = admit(size); !r.is_ok()) return r;
  int fd = -1;
  int flags = ((p.flags & MAP_FIXED_NOREPLACE) ? MAP_FIXED_NOREPLACE : MAP_FIXED) | (p.flags & MAP_NORESERVE);
  if (Ret r = backing_flags(backing, size, &flags, &fd); !r.is_ok()) return r;
  void* m = ::mmap(reinterpret_cast<void*>(p.fixed), size, p.prot, flags, fd, 0);
  int e = errno;
  if (fd >= 0) ::close(fd);
  if (m == MAP_FAILED) return Ret::fail(e);
  if (backing == Backing::anon_nohuge) ::madvise(m, size, MADV_NOHUGEPAGE);
  if (backing == Backing::thp) ::madvise(m, size, MADV_HUGEPAGE);
  insert(p.fixed, size, p.prot, false);
  return Ret::ok(static_cast<i64>(p.fixed));
}

Ret HostMemory::map_fd(int fd, u64 size, u64 offset, int prot, int flags, bool touch_sigbus) {
  diag_.clear();
  host_limit_ = false;
  if (Ret r = admit(round_up(size, k4K)); !r.is_ok()) return r;
  void* m = ::mmap(nullptr, size, prot, flags, fd, static_cast<off_t>(offset));
  if (m == MAP_FAILED) return Ret::fail(errno);
  insert(reinterpret_cast<u64>(m), round_up(size, k4K), prot, touch_sigbus);
  return Ret::ok(static_cast<i64>(reinterpret_cast<u64>(m)));
}

std::optional<u64> HostMemory::foreign_mapping(u64 addr, u64 size) const {
  const u64 end = size > ~addr ? ~0ull : addr + round_up(size, k4K);
  std::FILE* f = std::fopen("/proc/self/maps", "r");
  if (!f) return addr;  // cannot tell: treat as foreign, never risk it
  std::optional<u64> found;
  unsigned long long ms = 0, me = 0;
  char line[512];
  while (!found && std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "%llx-%llx", &ms, &me) != 2) continue;
    u64 cur = std::max<u64>(ms, addr);
    const u64 stop = std::min<u64>(me, end);
    while (cur < stop) {
      auto it = regions_.upper_bound(cur);
      if (it == regions_.begin() || cur >= std::prev(it)->first + std::prev(it)->second.size) {
        found = cur;
        break;
      }
      --it;
      cur = it->first + it->second.size;
    }
  }
  std::fclose(f);
  return found;
}

Ret HostMemory::unmap(u64 addr, u64 size) {
  if (::munmap(reinterpret_cast<void*>(addr), size) != 0) return Ret::fail(errno);
  erase_range(addr, round_up(size, k4K));
  return Ret::ok();
}

Ret HostMemory::madvise(u64 addr, u64 size, int advice) {
  if (::madvise(reinterpret_cast<void*>(addr), size, advice) != 0) return Ret::fail(errno);
  return Ret::ok();
}

Ret HostMemory::mprotect(u64 addr, u64 size, int prot) {
  if (::mprotect(reinterpret_cast<void*>(addr), size, prot) != 0) return Ret::fail(errno);
  const u64 end = addr + round_up(size, k4K);
  split_at(addr);
  split_at(end);
  for (auto it = regions_.lower_bound(addr); it != regions_.end() && it->first < end; ++it) it->second.prot = prot;
  return Ret::ok();
}

bool HostMemory::owns(u64 addr) const {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return false;
  --it;
  return addr < it->first + it->second.size;
}

bool HostMemory::host_writable(u64 addr, u64 len) const {
  u64 cur = addr;
  const u64 end = addr + len;
  while (cur < end) {
    auto it = regions_.upper_bound(cur);
    if (it == regions_.begin()) return false;
    --it;
    if (cur >= it->first + it->second.size) return false;
    if (!(it->second.prot & PROT_WRITE) || it->second.touch_sigbus) return false;
    cur = it->first + it->second.size;
  }
  return true;
}

bool HostMemory::protection_allows(u64 addr, u64 len, bool write) const {
  for (u64 cur = addr; cur < addr + len;) {
    auto it = regions_.upper_bound(cur);
    if (it == regions_.begin()) return false;
    --it;
    if (cur >= it->first + it->second.size) return false;
    if (it->second.prot == PROT_NONE || (write && !(it->second.prot & PROT_WRITE))) return false;
    cur = it->first + it->second.size;
  }
  return true;
}

Ret HostMemory::touch(u64 addr, u64 size) {
  if (size == 0) return Ret::ok();
  if (!protection_allows(addr, size, true)) {
    diag_ = "touch: range is not host-writable memory mapped by this backend";
    return Ret::fail(EFAULT);
  }
  // MADV_POPULATE_WRITE (5.14+) faults every page in for write, so THP-eligible memory gets real THPs.
  // It fails with EFAULT at a page the kernel refuses (SIGBUS: guest_memfd, EOF); the guarded per-page
  // write below then finds which one, and reports it instead of dying. The byte-wise `lock or` is a
  // write fault on hardware, but QEMU TCG (the nested oracle) first faults it in for read: the host
  // maps its huge zero page and the write then splits it to 4K.
  const u64 first = addr & ~(k4K - 1);
  if (host_writable(addr, size) &&
      ::madvise(reinterpret_cast<void*>(first), round_up(addr + size, k4K) - first, MADV_POPULATE_WRITE) == 0)
    return Ret::ok();
  for (u64 p = first; p < addr + size; p += k4K)
    if (Ret r = guarded_touch(p < addr ? addr : p); !r.is_ok()) return r;
  return Ret::ok();
}

void HostMemory::insert(u64 addr, u64 size, int prot, bool touch_sigbus) {
  erase_range(addr, size);  // MAP_FIXED-style replacement of anything we tracked there
  regions_[addr] = Region{size, prot, touch_sigbus};
  mapped_bytes_ += size;
}

void HostMemory::split_at(u64 addr) {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return;
  --it;
  const u64 start = it->first;
  Region r = it->second;
  if (addr <= start || addr >= start + r.size) return;
  it->second.size = addr - start;
  regions_[addr] = Region{start + r.size - addr, r.prot, r.touch_sigbus};
}

void HostMemory::erase_range(u64 addr, u64 size) {
  const u64 end = addr + size;
  split_at(addr);
  split_at(end);
  for (auto it = regions_.lower_bound(addr); it != regions_.end() && it->first < end;) {
    mapped_bytes_ -= it->second.size;
    it = regions_.erase(it);
  }
}

}  // namespace kvmsim::kvm
