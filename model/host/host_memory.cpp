#include "model/host/host_memory.h"

#include <algorithm>
#include <cerrno>
#include <csignal>

#include "model/core_assert.h"
#include "model/uapi.h"

namespace kvmsim::model {

using namespace uapi;

namespace {
constexpr u64 kPage = kPageSize;
u64 align_up(u64 v, u64 a) { return (v + a - 1) & ~(a - 1); }
bool is_pow2(u64 v) { return v && !(v & (v - 1)); }
}  // namespace

HostMemory::HostMemory(const Profile& profile)
    : thp_(profile.thp), huge_zero_page_(profile.huge_zero_page), huge_zero_wp_thp_(profile.huge_zero_wp_allocates_thp), user_ptr_max_(profile.user_ptr_max) {}

bool HostMemory::access_ok(u64 addr, u64 size) const {
  return addr + size >= addr && addr + size <= user_ptr_max_;
}

const HostRegion* HostMemory::region_at(u64 hva) const {
  auto it = regions_.upper_bound(hva);
  if (it == regions_.begin()) return nullptr;
  --it;
  return hva < it->second.end ? &it->second : nullptr;
}

bool HostMemory::file_mapped(u64 file_id) const {
  for (const auto& [s, r] : regions_)
    if (r.file && r.file->file_id == file_id) return true;
  return false;
}

std::vector<HostRegion> HostMemory::regions() const {
  std::vector<HostRegion> out;
  for (const auto& [s, r] : regions_) out.push_back(r);
  return out;
}

std::optional<HostMemory::Chunk> HostMemory::chunk_state(u64 hva) const {
  auto it = chunks_.find(chunk_of(hva));
  if (it == chunks_.end()) return std::nullopt;
  return it->second;
}

bool HostMemory::thp_eligible(const HostRegion& r) const {
  if (r.nohugepage || r.file) return false;  // shmem/memfd/gmem: no THP in this model
  if (r.backing == Backing::thp) return thp_ != ThpPolicy::never;
  if (r.backing == Backing::anon)
    return thp_ == ThpPolicy::always || (r.hugepage && thp_ == ThpPolicy::madvise);
  return false;
}

u64 HostMemory::huge_size(const HostRegion& r) const {
  if (r.file) return kPage;
  return backing_page_size(r.backing);
}

HostChange HostMemory::mmap(u64 size, Backing backing, u64 align, const MmapPlacement& placement) {
  if (size == 0 || backing == Backing::guest_memfd) return {Ret::fail(EINVAL), {}};
  if (placement.prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return {Ret::fail(EINVAL), {}};
  const u64 page = backing_page_size(backing);
  if (align == 0) align = backing_default_align(backing);
  if (!is_pow2(align)) return {Ret::fail(EINVAL), {}};
  align = std::max(align, page);
  size = align_up(size, page);  // hugetlb lengths round up to the huge page size
  HostChange out;
  u64 addr = align_up(next_, align);
  const bool noreplace = placement.flags & MAP_FIXED_NOREPLACE;
  if (placement.fixed || (placement.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) {
    // mm/mmap.c do_mmap(): a fixed address must be aligned to the page (the huge page for hugetlb).
    addr = placement.fixed;
    if (addr & (page - 1)) return {Ret::fail(EINVAL), {}};
    if (addr + size < addr || !access_ok(addr, size)) return {Ret::fail(ENOMEM), {}};
    if (!mapped_parts(addr, addr + size).empty()) {
      if (noreplace) return {Ret::fail(EEXIST), {}};
      out = munmap(addr, size);
      if (!out.ret.is_ok()) return out;
    }
    next_ = std::max(next_, addr + size);
  } else {
    if (addr + size < addr || !access_ok(addr, size)) return {Ret::fail(ENOMEM), {}};
    next_ = addr + size;
  }
  HostRegion r;
  r.start = addr;
  r.end = addr + size;
  r.backing = backing;
  r.prot = placement.prot;
  r.shared = backing == Backing::shmem;
  r.hugepage = backing == Backing::thp;
  r.nohugepage = backing == Backing::anon_nohuge;
  regions_.emplace(addr, r);
  out.ret = Ret::ok(static_cast<i64>(addr));
  return out;
}

HostChange HostMemory::mmap_file(const MappedFile& file, u64 size, u64 offset, int prot, int flags) {
  const int type = flags & (MAP_SHARED | MAP_PRIVATE);
  if (size == 0 || (offset & (kPage - 1)) || (type != MAP_SHARED && type != MAP_PRIVATE))
    return {Ret::fail(EINVAL), {}};
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return {Ret::fail(EINVAL), {}};
  if (file.kind == MappedFile::Kind::guest_memfd) {
    // do_mmap: noexec mount check first, then the file's mmap op (kvm_gmem_mmap).
    if (prot & PROT_EXEC) return {Ret::fail(EPERM), {}};
    if (!(file.gmem_flags & GUEST_MEMFD_FLAG_MMAP)) return {Ret::fail(ENODEV), {}};
    if (type != MAP_SHARED) return {Ret::fail(EINVAL), {}};
  }
  size = align_up(size, kPage);
  const u64 addr = align_up(next_, kPage);
  if (!access_ok(addr, size)) return {Ret::fail(ENOMEM), {}};
  next_ = addr + size;
  HostRegion r;
  r.start = addr;
  r.end = addr + size;
  r.backing = file.kind == MappedFile::Kind::guest_memfd ? Backing::guest_memfd : Backing::shmem;
  r.prot = prot;
  r.shared = type == MAP_SHARED;
  r.file = file;
  r.file_offset = offset;
  regions_.emplace(addr, r);
  return {Ret::ok(static_cast<i64>(addr)), {}};
}

void HostMemory::split_chunk(u64 chunk, std::vector<HostRange>& inval) {
  auto it = chunks_.find(chunk);
  if (it == chunks_.end() || it->second == Chunk::split) return;
  // A real THP splits into 512 real (written) pages; the huge zero page into zero-page PTEs.
  if (it->second == Chunk::thp) written_.assign(chunk, chunk + kChunk, true);
  it->second = Chunk::split;
  inval.push_back(HostRange{chunk, chunk + kChunk});
}

void HostMemory::split_region_at(u64 addr, std::vector<HostRange>& inval) {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return;
  --it;
  HostRegion& r = it->second;
  if (addr <= r.start || addr >= r.end) return;
  if (addr & (kChunk - 1)) split_chunk(chunk_of(addr), inval);
  HostRegion tail = r;
  tail.start = addr;
  tail.file_offset = r.file_offset + (addr - r.start);
  r.end = addr;
  regions_.emplace(addr, tail);
}

std::vector<HostRange> HostMemory::mapped_parts(u64 start, u64 end) const {
  std::vector<HostRange> out;
  auto it = regions_.upper_bound(start);
  if (it != regions_.begin() && std::prev(it)->second.end > start) --it;
  for (; it != regions_.end() && it->first < end; ++it)
    out.push_back(HostRange{std::max(start, it->second.start), std::min(end, it->second.end)});
  return out;
}

bool HostMemory::fully_mapped(u64 start, u64 end) const {
  u64 pos = start;
  for (const auto& part : mapped_parts(start, end)) {
    if (part.start != pos) return false;
    pos = part.end;
  }
  return pos >= end;
}

HostChange HostMemory::munmap(u64 addr, u64 size) {
  if ((addr & (kPage - 1)) || size == 0) return {Ret::fail(EINVAL), {}};
  size = align_up(size, kPage);
  const u64 end = addr + size;
  if (end < addr || !access_ok(addr, size)) return {Ret::fail(EINVAL), {}};
  // hugetlb VMAs can only be split at huge page boundaries.
  for (u64 cut : {addr, end}) {
    const HostRegion* r = region_at(cut);
    if (r && r->start != cut && (cut & (huge_size(*r) - 1))) return {Ret::fail(EINVAL), {}};
  }
  HostChange out;
  split_region_at(addr, out.invalidated);
  split_region_at(end, out.invalidated);
  for (const auto& part : mapped_parts(addr, end)) out.invalidated.push_back(part);
  auto it = regions_.lower_bound(addr);
  while (it != regions_.end() && it->first < end) it = regions_.erase(it);
  for (auto c = chunks_.lower_bound(chunk_of(addr)); c != chunks_.end() && c->first < end;)
    c = (c->first >= addr && c->first + kChunk <= end) ? chunks_.erase(c) : std::next(c);
  written_.erase(addr, end);
  cached_.erase(addr, end);
  // Anonymous pages (and CoW copies) die with their last mapping; file pages stay in the file.
  contents_.zero(PageContents::kAnon, addr, end);
  cow_.erase(addr, end);
  return out;
}

HostChange HostMemory::mprotect(u64 addr, u64 size, int prot) {
  if (addr & (kPage - 1)) return {Ret::fail(EINVAL), {}};
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return {Ret::fail(EINVAL), {}};
  if (size == 0) return {Ret::ok(), {}};
  size = align_up(size, kPage);
  const u64 end = addr + size;
  if (end < addr) return {Ret::fail(ENOMEM), {}};
  if (!fully_mapped(addr, end)) return {Ret::fail(ENOMEM), {}};
  for (const auto& part : mapped_parts(addr, end)) {
    const HostRegion* r = region_at(part.start);
    // noexec mount (guest_memfd): VM_MAYEXEC is clear.
    if ((prot & PROT_EXEC) && r->file && r->file->kind == MappedFile::Kind::guest_memfd)
      return {Ret::fail(EACCES), {}};
    for (u64 cut : {part.start, part.end})
      if (cut != r->start && cut != r->end && (cut & (huge_size(*r) - 1))) return {Ret::fail(EINVAL), {}};
  }
  HostChange out;
  bool any_change = false;
  for (const auto& part : mapped_parts(addr, end))
    if (region_at(part.start)->prot != prot) any_change = true;
  if (!any_change) return out;  // mprotect_fixup: unchanged VMAs are left alone
  split_region_at(addr, out.invalidated);
  split_region_at(end, out.invalidated);
  for (auto it = regions_.lower_bound(addr); it != regions_.end() && it->first < end; ++it) {
    if (it->second.prot == prot) continue;
    it->second.prot = prot;
    out.invalidated.push_back(HostRange{it->second.start, it->second.end});
  }
  return out;
}

HostChange HostMemory::madvise(u64 addr, u64 size, int advice) {
  // Advice that changes nothing KVM sees is validated like any other, then has no effect here.
  const bool inert = advice == MADV_DONTFORK || advice == MADV_DOFORK || advice == MADV_MERGEABLE ||
                     advice == MADV_UNMERGEABLE || advice == MADV_DONTDUMP || advice == MADV_DODUMP;
  if (advice != MADV_DONTNEED && advice != MADV_HUGEPAGE && advice != MADV_NOHUGEPAGE && !inert)
    return {Ret::fail(EINVAL), {}};
  if (addr & (kPage - 1)) return {Ret::fail(EINVAL), {}};
  size = align_up(size, kPage);
  u64 end = addr + size;
  if (end < addr) return {Ret::fail(EINVAL), {}};
  if (size == 0) return {Ret::ok(), {}};
  HostChange out;
  const bool holes = !fully_mapped(addr, end);  // applied to mapped parts, then ENOMEM
  if (advice == MADV_DONTNEED) {
    for (const auto& part : mapped_parts(addr, end)) {
      const HostRegion& r = *region_at(part.start);
      u64 s = part.start, e = part.end;
      if (r.backing == Backing::hugetlb_2m || r.backing == Backing::hugetlb_1g) {
        const u64 hs = huge_size(r);
        if (s & (hs - 1)) return {Ret::fail(EINVAL), {}};
        e &= ~(hs - 1);  // hugetlb: the end is aligned down
        if (s >= e) continue;
      }
      for (u64 c = chunk_of(s); c < e; c += kChunk) {
        if (c >= s && c + kChunk <= e) chunks_.erase(c);  // whole chunk: back to untouched
        else split_chunk(c, out.invalidated);           // part of a huge chunk: split to 4K
      }
      written_.erase(s, e);
      // zap_page_range: private pages are freed, the next touch reads the zero page; shared
      // (shmem, memfd, guest_memfd) pages stay in the page cache with their data.
      if (!r.shared) {
        contents_.zero(PageContents::kAnon, s, e);
        cow_.erase(s, e);
      }
      out.invalidated.push_back(HostRange{s, e});
    }
  } else if (!inert) {
    split_region_at(addr, out.invalidated);
    split_region_at(end, out.invalidated);
    for (auto it = regions_.lower_bound(addr); it != regions_.end() && it->first < end; ++it) {
      // Existing huge pages stay; only future faults see the new policy.
      it->second.hugepage = advice == MADV_HUGEPAGE;
      it->second.nohugepage = advice == MADV_NOHUGEPAGE;
    }
  }
  if (holes) out.ret = Ret::fail(ENOMEM);
  return out;
}

bool HostMemory::gmem_page_private(const MappedFile& f, u64 offset) const {
  if (f.kind != MappedFile::Kind::guest_memfd) return false;
  if (auto it = gmem_private_.find(f.file_id); it != gmem_private_.end())
    if (auto v = it->second.get(offset)) return *v;
  return !(f.gmem_flags & GUEST_MEMFD_FLAG_INIT_SHARED);
}

void HostMemory::set_gmem_private(u64 file_id, u64 offset, u64 end, bool is_private) {
  gmem_private_[file_id].assign(offset, end, is_private);
}

std::vector<HostRange> HostMemory::file_mappings(u64 file_id, u64 offset, u64 end) const {
  std::vector<HostRange> out;
  for (const auto& [s, r] : regions_) {
    if (!r.file || r.file->file_id != file_id) continue;
    const u64 rs = r.file_offset, re = r.file_offset + (r.end - r.start);
    const u64 is = std::max(rs, offset), ie = std::min(re, end);
    if (is < ie) out.push_back(HostRange{r.start + (is - rs), r.start + (ie - rs)});
  }
  return out;
}

std::vector<HostRange> HostMemory::unmap_file_pages(u64 file_id, u64 offset, u64 len) {
  const u64 fend = offset + len < offset ? ~0ull : offset + len;
  std::vector<HostRange> out = file_mappings(file_id, offset, fend);
  for (const HostRange& h : out) written_.erase(h.start, h.end);  // the PTEs; the page-cache pages (cached_) stay
  return out;
}

HostChange HostMemory::pin(u64 addr, u64 size) {
  HostChange out;
  if (size == 0) return out;
  const u64 start = addr & ~(kPage - 1);
  const u64 end = align_up(addr + size, kPage);
  if (end <= start) return {Ret::fail(EFAULT), {}};
  // Every page must fault in for write before any is pinned (a VMM unwinds a partial pin); GUP
  // turns what would be SIGSEGV or SIGBUS for the CPU into EFAULT.
  if (Ret r = check_protection(start, end, true); !r.is_ok()) return {r, {}};
  for (u64 page = start; page < end; page += kPage)
    if (sigbus_at(*region_at(page), page)) return {Ret::fail(EFAULT), {}};
  for (u64 page = start; page < end; page += kPage) {
    HostFault f = fault_in(page, true);
    KVMSIM_ASSERT(f.ok(), "pin page=%llx err=%d", (unsigned long long)page, f.err);
    for (auto& h : f.invalidated) out.invalidated.push_back(h);
    const HostRegion& r = *region_at(page);
    Pin& p = pins_[page];
    if (p.count == 0 && r.file) {
      p.file = true;
      p.file_id = r.file->file_id;
      p.offset = r.file_offset + (page - r.start);
      p.in_file = true;
    }
    ++p.count;
  }
  return out;
}

Ret HostMemory::unpin(u64 addr, u64 size) {
  if (size == 0) return Ret::ok();
  const u64 start = addr & ~(kPage - 1);
  const u64 end = align_up(addr + size, kPage);
  if (end <= start) return Ret::fail(EINVAL);
  for (u64 page = start; page < end; page += kPage)
    if (!pins_.count(page)) return Ret::fail(EINVAL);
  for (u64 page = start; page < end; page += kPage) {
    auto it = pins_.find(page);
    if (--it->second.count == 0) pins_.erase(it);
  }
  return Ret::ok();
}

std::optional<u64> HostMemory::first_pinned_file_page(u64 file_id, u64 offset, u64 end) const {
  std::optional<u64> first;
  for (const auto& [hva, p] : pins_)
    if (p.file && p.in_file && p.file_id == file_id && p.offset >= offset && p.offset < end)
      first = first ? std::min(*first, p.offset) : p.offset;
  return first;
}

std::vector<HostRange> HostMemory::punch_file(u64 file_id, u64 offset, u64 len) {
  const u64 fend = offset + len < offset ? ~0ull : offset + len;
  std::vector<HostRange> out = file_mappings(file_id, offset, fend);
  for (const HostRange& h : out) {
    written_.erase(h.start, h.end);
    cached_.erase(h.start, h.end);
  }
  for (auto& [hva, p] : pins_)
    if (p.file && p.file_id == file_id && p.offset >= offset && p.offset < fend) p.in_file = false;
  contents_.zero(file_id, offset, fend);  // shmem_undo_range / kvm_gmem_punch_hole: the folios go
  return out;
}

HostFault HostMemory::fault_4k(const HostRegion& r, u64 hva, bool write) {
  const u64 hs = huge_size(r);
  const u64 page = hva & ~(hs - 1);
  HostFault f;
  f.level = r.backing == Backing::hugetlb_1g ? 3 : r.backing == Backing::hugetlb_2m ? 2 : 1;
  // A shared mapping has no write-notify (shmem, memfd): a read fault allocates the page-cache page
  // and installs a writable PTE, so KVM's writable GUP succeeds and maps it writable (found by
  // kvmsim fuzz: dirty-logged shmem slot, traces/regressions/shmem_read_fault_maps_writable.trace).
  // A write to a private anonymous page never written before replaces the zero page a read may have
  // mapped (CoW): the MMU notifier invalidates it, so a KVM mapping of the zero page goes (found by
  // kvmsim fuzz: traces/regressions/zero_page_cow_zaps_4k.trace).
  if (write && !r.shared && !r.file && hs == kPage && !is_written(page)) f.invalidated.push_back(HostRange{page, page + hs});
  // A present PTE is found by GUP's fast path: no page fault, so no fault-around either.
  const bool faulted = !is_written(page);
  if (write || r.shared) written_.assign(page, page + hs, true);
  if (r.shared) {
    cached_.assign(page, page + hs, true);
    if (faulted && !write && hs == kPage) fault_around(r, hva);
  }
  f.writable = (r.prot & PROT_WRITE) && is_written(page);
  return f;
}

void HostMemory::fault_around(const HostRegion& r, u64 hva) {
  // do_fault_around(): a read fault on a file mapping whose vm_ops has map_pages (shmem, memfd; not
  // guest_memfd) also maps the page-cache pages of the aligned fault_around_bytes window, clipped
  // to the VMA and the PMD. Shared mappings have no write-notify, so those PTEs are writable.
  if (r.file && r.file->kind == MappedFile::Kind::guest_memfd) return;
  const u64 window = hva & ~(kFaultAroundBytes - 1);
  const u64 start = std::max(window, r.start);
  const u64 end = std::min({window + kFaultAroundBytes, r.end, chunk_of(hva) + kChunk});
  for (u64 p = start; p < end; p += kPage)
    if (cached_.get(p).has_value()) written_.assign(p, p + kPage, true);
}

bool HostMemory::read_fault_run(u64 hva, u64 limit, u64* end, HostFault* f) const {
  const HostRegion* r = region_at(hva);
  // A shared mapping's read fault changes host state (page cache, fault-around, writable PTEs:
  // fault_4k()): such runs take the per-page path (found by kvmsim fuzz, model vs model-ref:
  // traces/regressions/shmem_dirty_log_prefault_bulk.trace).
  if (!r || r->prot == PROT_NONE || r->file || r->shared || thp_eligible(*r) || limit <= hva) return false;
  // Chunk state (left from a time the region was THP-eligible) decides faults in its chunk.
  auto c = chunks_.lower_bound(chunk_of(hva));
  if (c != chunks_.end() && c->first == chunk_of(hva)) return false;
  u64 e = std::min(limit, r->end);
  if (c != chunks_.end()) e = std::min(e, c->first);
  // fault_4k(read): level from the backing, writable iff the host page was written.
  const u64 hs = huge_size(*r);
  const u64 page = hva & ~(hs - 1);
  const bool written = is_written(page);
  e = std::min(e, written_.uniform_end(page, e));  // O(log n): no scan of later runs
  if (e <= hva) return false;
  *end = e;
  f->err = 0;
  f->level = r->backing == Backing::hugetlb_1g ? 3 : r->backing == Backing::hugetlb_2m ? 2 : 1;
  f->writable = (r->prot & PROT_WRITE) && written;
  f->invalidated.clear();
  return true;
}

HostFault HostMemory::fault_in(u64 hva, bool write) {
  HostFault f;
  const HostRegion* r = region_at(hva);
  if (!r || r->prot == PROT_NONE || (write && !(r->prot & PROT_WRITE))) {
    f.err = EFAULT;
    return f;
  }
  if (r->file) {
    // Beyond EOF, or a guest_memfd page the host may not map: SIGBUS -> EFAULT.
    if (sigbus_at(*r, hva)) {
      f.err = EFAULT;
      return f;
    }
    return fault_4k(*r, hva, write);
  }
  const u64 chunk = chunk_of(hva);
  auto it = chunks_.find(chunk);
  if (it != chunks_.end()) {
    KVMSIM_ASSERT(it->second == Chunk::split || chunk_inside(*r, chunk), "chunk=%llx", (unsigned long long)chunk);
    switch (it->second) {
      case Chunk::thp:
        f.level = 2;
        f.writable = (r->prot & PROT_WRITE) != 0;
        return f;
      case Chunk::huge_zero:
        if (!write) {
          f.level = 2;
          return f;
        }
        if (huge_zero_wp_thp_) {
          // The huge zero PMD is replaced by a freshly allocated THP: one 2M invalidation.
          it->second = Chunk::thp;
          f.invalidated.push_back(HostRange{chunk, chunk + kChunk});
          f.level = 2;
          f.writable = (r->prot & PROT_WRITE) != 0;
          return f;
        }
        split_chunk(chunk, f.invalidated);  // CoW of the huge zero page happens at 4K
        {
          HostFault g = fault_4k(*r, hva, write);
          g.invalidated = std::move(f.invalidated);
          return g;
        }
      case Chunk::split:
        return fault_4k(*r, hva, write);
    }
  }
  if (thp_eligible(*r) && chunk_inside(*r, chunk)) {
    const bool zero = !write && huge_zero_page_;
    chunks_[chunk] = zero ? Chunk::huge_zero : Chunk::thp;
    f.level = 2;
    f.writable = !zero && (r->prot & PROT_WRITE);
    return f;
  }
  return fault_4k(*r, hva, write);
}

HostChange HostMemory::touch(u64 addr, u64 size) {
  HostChange out;
  if (size == 0) return out;
  const u64 start = addr & ~(kPage - 1);
  const u64 end = align_up(addr + size, kPage);
  if (end <= start) return {Ret::fail(EFAULT), {}};
  if (Ret r = check_protection(start, end, true); !r.is_ok()) return {r, {}};
  for (u64 page = start; page < end;) {
    // Pages before a refused one are written (faulted in) already, as the CPU's stores did.
    if (sigbus_at(*region_at(page), page)) {
      out.ret = Ret::signal(SIGBUS);
      return out;
    }
    HostFault f = fault_in(page, true);
    KVMSIM_ASSERT(f.ok(), "touch page=%llx err=%d", (unsigned long long)page, f.err);
    for (auto& h : f.invalidated) out.invalidated.push_back(h);
    // The VMM's write keeps what it writes over (an atomic OR of 0), but it is a write: a
    // MAP_PRIVATE file page becomes the process's own copy.
    if (const HostRegion* r = region_at(page); r->file && !r->shared) locate(page, true);
    // One write covers the whole host page (4K, THP chunk, or hugetlb page) just mapped.
    const u64 step = level_size(f.level);
    page = (page & ~(step - 1)) + step;
  }
  return out;
}

void HostMemory::set_file_size(u64 file_id, u64 size) {
  for (auto& [s, r] : regions_)
    if (r.file && r.file->file_id == file_id) r.file->size = size;
}


bool HostMemory::sigbus_at(const HostRegion& r, u64 hva) const {
  if (!r.file) return false;
  const u64 off = r.file_offset + ((hva & ~(kPage - 1)) - r.start);
  if (off >= align_up(r.file->size, kPage)) return true;  // beyond EOF
  return r.file->kind == MappedFile::Kind::guest_memfd && !gmem_host_accessible(*r.file, off);
}

Ret HostMemory::check_protection(u64 start, u64 end, bool write) const {
  for (u64 page = start & ~(kPage - 1); page < end; page += kPage) {
    const HostRegion* r = region_at(page);
    if (!r || r->prot == PROT_NONE || (write && !(r->prot & PROT_WRITE))) return Ret::fail(EFAULT);
  }
  return Ret::ok();
}

// One u64 load or store at addr: at most two pages, each faulted in, in order, as the CPU does; a
// refused page ends it there (the first page stays faulted in). The data moves only when both are in.
HostChange HostMemory::vmm_access(u64 addr, bool write, u64* value) {
  if (addr + 8 < addr) return {Ret::fail(EFAULT), {}};
  if (Ret r = check_protection(addr, addr + 8, write); !r.is_ok()) return {r, {}};
  HostChange out;
  for (u64 pos = addr; pos < addr + 8; pos = (pos & ~(kPage - 1)) + kPage) {
    if (sigbus_at(*region_at(pos), pos)) {
      out.ret = Ret::signal(SIGBUS);
      return out;
    }
    HostFault f = fault_in(pos, write);
    KVMSIM_ASSERT(f.ok(), "vmm access hva=%llx err=%d", (unsigned long long)pos, f.err);
    for (auto& h : f.invalidated) out.invalidated.push_back(h);
  }
  u64 loaded = 0;
  bool unspecified = false;
  for (u64 pos = addr; pos < addr + 8;) {
    const u64 next = std::min(addr + 8, (pos & ~(kPage - 1)) + kPage);
    const unsigned n = static_cast<unsigned>(next - pos);
    if (write) {
      store(pos, *value >> (8 * (pos - addr)), n);
    } else {
      const Location l = locate(pos, false);
      loaded |= contents_.load(l.object, l.offset, n) << (8 * (pos - addr));
      unspecified |= contents_.unspecified(l.object, l.offset, n);
    }
    pos = next;
  }
  if (!write) {
    out.ret = Ret::ok(static_cast<i64>(loaded));
    out.ret.unspecified = unspecified;
  }
  return out;
}

HostChange HostMemory::vmm_store(u64 addr, u64 value) { return vmm_access(addr, true, &value); }
HostChange HostMemory::vmm_load(u64 addr) { return vmm_access(addr, false, nullptr); }

HostMemory::Location HostMemory::locate(u64 hva, bool for_write) {
  const HostRegion* r = region_at(hva);
  KVMSIM_ASSERT(r, "locate: hva %llx is not mapped", (unsigned long long)hva);
  if (!r->file) return {PageContents::kAnon, hva};
  const u64 off = r->file_offset + (hva - r->start);
  if (r->shared) return {r->file->file_id, off};
  const u64 page = hva & ~(kPage - 1);
  if (cow_.get(page)) return {PageContents::kAnon, hva};
  if (!for_write) return {r->file->file_id, off};
  // wp_page_copy(): the first write to a MAP_PRIVATE file page copies it.
  contents_.copy(r->file->file_id, off & ~(kPage - 1), PageContents::kAnon, page, kPage);
  cow_.assign(page, page + kPage, true);
  return {PageContents::kAnon, hva};
}

void HostMemory::store(u64 hva, u64 value, unsigned n) {
  const Location l = locate(hva, true);
  contents_.store(l.object, l.offset, value, n);
}

}  // namespace kvmsim::model
