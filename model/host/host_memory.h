// HostMemory: the VMM process's simulated user address space, and the host page state KVM sees
// when it faults a host virtual address in (GUP + host page-table walk).
//
// Address allocation rule (deterministic): a bump pointer starting at 0x100000000000; every
// mmap returns the pointer rounded up to the mapping's alignment (at least the backing's page
// size), and the pointer moves past the mapping. Addresses are never reused, so a trace maps to
// the same addresses on every run.
//
// Host page-state model (docs/semantics/tdp-mmu.md §4, docs/semantics/host-memory.md):
//  * anon_nohuge, shmem, memfd and guest_memfd mappings are 4K; hugetlb_2m is 2M, hugetlb_1g 1G.
//  * THP-eligible memory (`thp`; `anon` when the profile's THP policy is `always`, or after
//    MADV_HUGEPAGE unless the policy is `never`; never after MADV_NOHUGEPAGE) is tracked per
//    2 MiB host-virtual chunk lying entirely inside one region. Untouched chunks are absent
//    (sparse); a read fault maps the huge zero page (2M, read-only) or, without huge zero page,
//    a THP; a write fault or touch makes a THP; a write fault on a huge-zero chunk CoWs at 4K
//    (the chunk becomes `split`). Chunks not entirely inside a region are 4K.
//  * A 4K (or hugetlb) page is mapped writable only once it has been written (read faults map
//    the zero page / read-only PTEs, so KVM maps them read-only).
//  * Shared mappings (shmem, memfd) have no write-notify: a read fault maps the page writable, and
//    maps its page-cache neighbours in the 64 KiB fault-around window too (what the legacy MMU's
//    PTE prefetch then finds present).
// Contents (docs/semantics/memory-contents.md): what the pages hold lives in a PageContents: private
// mappings' bytes by hva (object 0), shared file mappings' bytes by file offset; a MAP_PRIVATE file
// page is copied into object 0 on its first write (CoW), and reads through the file until then.
// Invariant: huge chunk states (huge_zero, thp) exist only for chunks entirely inside one region.
// Every operation that changes what is mapped reports the invalidated host ranges (what the MMU
// notifier would tell KVM); the caller forwards them to every VM.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/host/page_contents.h"
#include "model/interval_map.h"
#include "model/profiles/profile.h"
#include "model/types.h"

namespace kvmsim::model {

struct HostRange {
  u64 start = 0;
  u64 end = 0;  // exclusive
  bool operator==(const HostRange&) const = default;
};

// Result of an operation that may change host mappings.
struct HostChange {
  Ret ret;
  std::vector<HostRange> invalidated;
};

// Result of faulting one host address in, as KVM's hva_to_pfn + host level walk see it.
struct HostFault {
  int err = 0;        // 0, or EFAULT (unmapped, PROT_NONE, write to read-only, SIGBUS)
  int level = 0;      // host mapping level: 1 = 4K, 2 = 2M, 3 = 1G
  bool writable = false;
  std::vector<HostRange> invalidated;  // a CoW split of a huge-zero chunk invalidates it
  bool ok() const { return err == 0; }
};

// A file an fd mmap refers to (the Kvm resolves the fd).
struct MappedFile {
  enum class Kind { memfd, guest_memfd };
  Kind kind = Kind::memfd;
  u64 file_id = 0;
  u64 size = 0;
  u64 gmem_flags = 0;  // guest_memfd only
};

struct HostRegion {
  u64 start = 0;
  u64 end = 0;
  Backing backing = Backing::anon;
  int prot = 0;
  bool shared = false;
  bool hugepage = false;    // MADV_HUGEPAGE
  bool nohugepage = false;  // MADV_NOHUGEPAGE
  std::optional<MappedFile> file;
  u64 file_offset = 0;  // file offset of `start`
};

class HostMemory {
 public:
  static constexpr u64 kMmapBase = 0x100000000000ull;
  static constexpr u64 kChunk = 2ull << 20;

  explicit HostMemory(const Profile& profile);

  // Anonymous / shmem / hugetlb mapping; ret = address (EINVAL size 0 or bad align, ENOMEM).
  // With placement.fixed (MAP_FIXED) the mapping replaces whatever was at [fixed, fixed+size), as
  // do_mmap() unmaps it first (EINVAL when not page aligned); MAP_FIXED_NOREPLACE answers EEXIST
  // instead of replacing. The bump pointer then moves past it, so later addresses stay fresh.
  HostChange mmap(u64 size, Backing backing, u64 align, const MmapPlacement& placement = {});
  // mmap of a file. guest_memfd: PROT_EXEC -> EPERM, no MMAP flag -> ENODEV, not MAP_SHARED -> EINVAL.
  HostChange mmap_file(const MappedFile& file, u64 size, u64 offset, int prot, int flags);
  HostChange munmap(u64 addr, u64 size);
  HostChange madvise(u64 addr, u64 size, int advice);
  HostChange mprotect(u64 addr, u64 size, int prot);
  // The VMM writes [addr, addr+size) itself, keeping the contents: check_user_access() decides.
  HostChange touch(u64 addr, u64 size);

  // ---- contents (docs/semantics/memory-contents.md) ----
  // The VMM stores / loads the u64 at addr (touch: writes a range), page by page in address order,
  // each faulted in as the CPU would (THP, zero page, CoW) until a refused page: -1 EFAULT stands for
  // SIGSEGV (not mapped, PROT_NONE, a store to a read-only mapping; checked for the whole access
  // first, as the real backend does from its own record), Ret::signal(SIGBUS) for a file page beyond
  // EOF or a guest_memfd page the host may not access (docs/semantics/memory-contents.md §4).
  HostChange vmm_store(u64 addr, u64 value);
  HostChange vmm_load(u64 addr);  // ret = the value (as i64), ret.unspecified where a proposal leaves it open
  // Where the byte at hva lives now (the caller has faulted it in). for_write breaks the CoW of a
  // MAP_PRIVATE file page first.
  struct Location {
    u64 object = 0;  // PageContents::kAnon or a file id
    u64 offset = 0;
  };
  Location locate(u64 hva, bool for_write);
  // Stores `n` bytes at hva that lie in one page (the caller checked and faulted it in).
  void store(u64 hva, u64 value, unsigned n);
  PageContents& contents() { return contents_; }
  const PageContents& contents() const { return contents_; }
  // fallocate(PUNCH_HOLE) on a file: its pages vanish from every mapping of [offset, offset+len).
  std::vector<HostRange> punch_file(u64 file_id, u64 offset, u64 len);
  // unmap_mapping_pages() on a file: the PTEs of [offset, offset+len) go from every mapping, the pages stay.
  std::vector<HostRange> unmap_file_pages(u64 file_id, u64 offset, u64 len);
  // In-place conversion (docs/semantics/gmem-conversion.md §2): guest_memfd pages of [offset, end) become
  // private (a host fault is SIGBUS) or shared. Pages never set here follow the file's INIT_SHARED flag.
  void set_gmem_private(u64 file_id, u64 offset, u64 end, bool is_private);

  // Long-term GUP pins (pin_user_pages(FOLL_WRITE | FOLL_LONGTERM), as VFIO takes them; trace `pin`/`unpin`,
  // docs/semantics/gmem-conversion.md §3). pin faults every page of [addr, addr+size) in for write and
  // takes one reference on it: EFAULT (nothing pinned) if a page cannot be faulted in. unpin drops one pin
  // of every page: EINVAL (nothing unpinned) if a page of the range holds none.
  HostChange pin(u64 addr, u64 size);
  Ret unpin(u64 addr, u64 size);
  // The lowest page offset of file `file_id` in [offset, end) that is still in the file and pinned.
  std::optional<u64> first_pinned_file_page(u64 file_id, u64 offset, u64 end) const;
  // A memfd's size changed (ftruncate, write, pwrite): its mappings' EOF moves with it.
  void set_file_size(u64 file_id, u64 size);

  HostFault fault_in(u64 hva, bool write);
  // Bulk pre-fault support: the largest end <= limit such that a read fault_in() of every page
  // of [hva, end) would change nothing and answer *f (same level and writability, no error,
  // nothing invalidated). False when that does not hold for hva itself (THP-eligible memory,
  // whose read faults create chunk state; file mappings; unmapped or PROT_NONE). O(log n).
  bool read_fault_run(u64 hva, u64 limit, u64* end, HostFault* f) const;

  // What host_pfn_mapping_level() would see for hva right now, without faulting anything in
  // (for `explain` and in-place huge page recovery). An untouched THP-eligible chunk reports
  // the 2M a read fault would map there. level 0: not mapped at all (a fault gets EFAULT).
  struct HostPeek {
    int level = 0;
    std::string detail;  // e.g. "thp chunk 0x100000200000 is a THP"
  };
  // with_detail = false: level only, no string formatting (the fault path).
  HostPeek peek(u64 hva, bool with_detail = true) const;
  // get_user_pages_fast_only(FOLL_WRITE) on one page: true iff hva is mapped by a present,
  // writable host PTE right now (nothing is faulted in). KVM's PTE prefetch uses this.
  bool gup_fast_writable(u64 hva) const;

  // access_ok(): [addr, addr+size) does not wrap and ends at or below the user pointer limit.
  bool access_ok(u64 addr, u64 size) const;
  const HostRegion* region_at(u64 hva) const;
  bool file_mapped(u64 file_id) const;
  std::vector<HostRegion> regions() const;

  enum class Chunk { huge_zero, thp, split };
  std::optional<Chunk> chunk_state(u64 hva) const;

 private:
  // The host ranges that map file pages [offset, end) of `file_id`, one per mapping, in address order.
  std::vector<HostRange> file_mappings(u64 file_id, u64 offset, u64 end) const;
  static u64 chunk_of(u64 hva) { return hva & ~(kChunk - 1); }
  bool thp_eligible(const HostRegion& r) const;
  bool chunk_inside(const HostRegion& r, u64 chunk) const { return chunk >= r.start && chunk + kChunk <= r.end; }
  u64 huge_size(const HostRegion& r) const;
  // Split the region containing `addr` so that `addr` becomes a region boundary; a huge chunk
  // cut by the boundary is split to 4K (split_huge_pmd) and reported as invalidated.
  void split_region_at(u64 addr, std::vector<HostRange>& inval);
  void split_chunk(u64 chunk, std::vector<HostRange>& inval);
  // Regions intersecting [start, end), clipped.
  std::vector<HostRange> mapped_parts(u64 start, u64 end) const;
  bool fully_mapped(u64 start, u64 end) const;
  HostFault fault_4k(const HostRegion& r, u64 hva, bool write);
  static constexpr u64 kFaultAroundBytes = 64ull << 10;  // /sys/kernel/mm/.../fault_around_bytes default
  void fault_around(const HostRegion& r, u64 hva);
  bool is_written(u64 page) const { return written_.get(page).has_value(); }
  // A guest_memfd page the host may not touch (private): its fault is SIGBUS.
  bool gmem_page_private(const MappedFile& f, u64 offset) const;
  // kvm_gmem_fault_user_mapping(): may the host map this guest_memfd page (file offset `off`)?
  // 6.18-7.3: only when the file was created INIT_SHARED (every page shared, §4); with in-place conversion,
  // when the page is not private (gmem_page_private()).
  bool gmem_host_accessible(const MappedFile& f, u64 off) const { return !gmem_page_private(f, off); }
  Ret check_protection(u64 start, u64 end, bool write) const;
  HostChange vmm_access(u64 addr, bool write, u64* value);
  // A host access to this region's page at hva is SIGBUS (beyond EOF, guest_memfd page not shared).
  bool sigbus_at(const HostRegion& r, u64 hva) const;

  ThpPolicy thp_;
  bool huge_zero_page_;
  bool huge_zero_wp_thp_;
  u64 user_ptr_max_;
  u64 next_ = kMmapBase;
  std::map<u64, HostRegion> regions_;  // start -> region
  std::map<u64, Chunk> chunks_;        // 2M chunk base -> state (absent = untouched)
  IntervalMap<bool> written_;          // host byte ranges (page granular) written at least once
  // Pages of shared (shmem/memfd) mappings that are in the page cache: allocated by a fault or a
  // write, kept by MADV_DONTNEED (it only drops PTEs), gone with munmap or a hole punch. Keyed by
  // hva (addresses are never reused); a file mapped twice is not seen as one.
  IntervalMap<bool> cached_;
  // guest_memfd file id -> page offsets converted by KVM_SET_MEMORY_ATTRIBUTES2 (true: private).
  std::map<u64, IntervalMap<bool>> gmem_private_;
  // Pinned host pages, by the page's hva at pin time (addresses are never reused).
  struct Pin {
    u32 count = 0;
    bool file = false;    // a file page (shmem/memfd/guest_memfd): its identity is (file_id, offset)
    u64 file_id = 0, offset = 0;
    bool in_file = true;  // a hole punch takes the page out of the file; the pin keeps the page alive
  };
  std::map<u64, Pin> pins_;
  PageContents contents_;
  IntervalMap<bool> cow_;  // pages of MAP_PRIVATE file mappings already copied into object 0
};

}  // namespace kvmsim::model
