// Value types shared by the model and every backend: the result of a system call, host
// memory backings, guest access outcomes, statistics and leaf descriptions. Errors are values:
// a call that fails has ret == -1 and err set to a Linux errno, exactly as userspace sees it.
// Invariant: Ret::ok() carries err == 0 and Ret::fail() ret == -1; nothing here has state.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace kvmsim {

using u8 = std::uint8_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i64 = std::int64_t;

// What a syscall returns to userspace: ret >= 0 on success, or ret == -1 with err = errno.
// A load or store of the VMM's own memory (trace `poke`, `peek`, `touch`) can instead raise a
// signal: sig = SIGBUS (docs/semantics/memory-contents.md §4), with ret == -1 and err == 0.
struct Ret {
  i64 ret = 0;
  int err = 0;
  int sig = 0;
  // A load (peek) whose bytes a proposal leaves unspecified (docs/semantics/memory-contents.md §6): `ret`
  // holds what the model happens to store, which no trace may rely on.
  bool unspecified = false;

  static Ret ok(i64 value = 0) { return Ret{value, 0, 0, false}; }
  static Ret fail(int errnum) { return Ret{-1, errnum, 0, false}; }
  static Ret signal(int signo) { return Ret{-1, 0, signo, false}; }
  bool is_ok() const { return err == 0 && sig == 0; }
  bool operator==(const Ret&) const = default;
};

// How the VMM backed a host virtual range (traces/FORMAT.md "Statements").
enum class Backing { anon, anon_nohuge, thp, shmem, hugetlb_2m, hugetlb_1g, guest_memfd };

const char* backing_name(Backing b);
std::optional<Backing> backing_from_name(const std::string& name);
// The host page size a backing is built from (4K for anon/shmem/THP's small pages).
u64 backing_page_size(Backing b);
// Default host-virtual alignment of an mmap with this backing (2M for THP).
u64 backing_default_align(Backing b);

// How a VMM places an anonymous/shmem/hugetlb mapping beyond size and backing (traces/FORMAT.md
// "mmap as VMMs do it"): QEMU reserves guest RAM with a PROT_NONE MAP_NORESERVE mapping and maps
// RAM blocks into it with MAP_FIXED. `fixed`: the address of a MAP_FIXED (or MAP_FIXED_NOREPLACE)
// mapping; 0 lets the kernel choose. `flags` keeps the VMM's MAP_* bits (MAP_NORESERVE has no effect
// on what KVM sees).
struct MmapPlacement {
  int prot = 3;  // PROT_READ | PROT_WRITE
  int flags = 0;
  u64 fixed = 0;
  bool is_default() const { return prot == 3 && flags == 0 && fixed == 0; }
};

enum class AccessKind { read, write, exec };
const char* access_kind_name(AccessKind k);
std::optional<AccessKind> access_kind_from_name(const std::string& name);

// What KVM_RUN reports for one guest access (trace: `access(vcpu, gpa, kind) = ...`).
struct AccessOutcome {
  // memory_error: KVM_EXIT_MEMORY_ERROR of the private-fd v5 proposal (KVM_RUN fails with EPERM).
  enum class Kind { ok, mmio, memory_fault, error, memory_error };
  Kind kind = Kind::ok;
  int err = 0;     // Kind::error (and memory_fault, where KVM_RUN fails with EFAULT)
  u64 flags = 0;   // memory_fault: KVM_MEMORY_EXIT_FLAG_*
  u64 gpa = 0;     // memory_fault
  u64 size = 0;    // memory_fault
  u64 value = 0;   // ok: the u64 a value access loaded (KvmApi::access_value with AccessKind::read)
  bool unspecified = false;  // ok: some loaded byte is unspecified (docs/semantics/memory-contents.md §6)
  bool operator==(const AccessOutcome&) const = default;
};

// What fstat(2) reports that a trace can check (`fstat(FD) => {size=.., blksize=..}`).
struct FileStat {
  u64 size = 0;     // st_size
  u64 blksize = 0;  // st_blksize
  bool operator==(const FileStat&) const = default;
};

// Page-table levels as KVM numbers them: 1 = 4K, 2 = 2M, 3 = 1G (4 = 512G, 5 = 256T tables).
// pages_per_hpage() and gfn_round_for_level() are below, in kvmsim::model: not in mmu/, because
// memslots (lpage_info) and host memory reason in levels too.
inline u64 level_size(int level) { return 4096ull << (9 * (level - 1)); }
const char* level_name(int level);  // "4K", "2M", "1G", "none"

// KVM binary statistics by name (pages_4k, pages_2m, pages_1g, nx_lpage_splits, ...).
// std::map: iteration order is by name, so printing is deterministic.
using Stats = std::map<std::string, u64>;

// The TDP leaf covering a GPA, as `expect mapping(vm, GPA)` sees it.
struct Mapping {
  int level = 0;  // 0: no leaf
  u64 gpa = 0;    // first GPA the leaf maps
  bool writable = false;
  bool executable = false;
  bool is_private = false;
  bool accessed = false;
  bool dirty = false;
  bool operator==(const Mapping&) const = default;
};

// A run of TDP leaves: [gpa, gpa + size) mapped by consecutive leaves of one level with the same
// permissions and privateness (accessed/dirty are not part of it). The observable `kvmsim compare`
// diffs statement by statement (model/mmu/leaf_runs.h); a snapshot is O(runs), never O(pages).
struct LeafRun {
  u64 gpa = 0;
  u64 size = 0;
  int level = 0;
  bool writable = false;
  bool executable = false;
  bool is_private = false;
  u64 end() const { return gpa + size; }
  bool operator==(const LeafRun&) const = default;
};

}  // namespace kvmsim

namespace kvmsim::model {

// KVM_PAGES_PER_HPAGE: the 4K gfns one entry at `level` covers, and gfn rounded down to it.
inline constexpr u64 pages_per_hpage(int level) { return 1ull << (9 * (level - 1)); }
inline constexpr u64 gfn_round_for_level(u64 gfn, int level) {
  return gfn & ~(pages_per_hpage(level) - 1);
}

// Hex formatting for assertion and explanation texts.
inline std::string hex(u64 v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace kvmsim::model
