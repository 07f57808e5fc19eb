// The names an importer gives what a VMM's calls create, shared by every importer (strace, syzkaller,
// kvmsim record's raw log)
// so that the same program reads the same whichever log it came from: /dev/kvm is the predefined
// `kvm`; VMs are `vm`, `vm2`, ...; vCPUs `vcpuID` (`vcpuID_2` for a second vCPU with that id); host
// mappings `mem1`, `mem2`, ...; memfds `memfd1`, ...; an address inside a mapping is `memN+OFF`.
// A source names an fd by its own key (strace: the fd number, syzkaller: the resource `r3`).
// Invariants: a key maps to at most one handle; mapping ranges never overlap (a new mapping replaces
// what it covers, as MAP_FIXED does; what is left of an older mapping keeps its name and offsets);
// same calls -> same names. Every fd handle has the kind of the call that made it (sim/trace/schema.h
// HandleKind), and fits() says whether a statement takes it, so that what an importer writes parses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sim/trace/ast.h"

namespace kvmsim::importer {

class Handles {
 public:
  using u64 = std::uint64_t;

  // `kind`: the HandleKind the creating call binds (trace::kHandleVm for KVM_CREATE_VM's fd, ...).
  void bind(const std::string& key, std::string handle, unsigned kind) { fds_[key] = Fd{std::move(handle), kind}; }
  std::optional<std::string> fd(const std::string& key) const;
  unsigned kind(const std::string& key) const;  // of a bound key (0: none)
  void unbind(const std::string& key) { fds_.erase(key); }

  std::string new_vm();                         // `vm`, `vm2`, ...
  std::string new_vcpu(u64 id);                 // `vcpu0`, `vcpu0_2`
  std::string fresh(const std::string& base);   // `mem1`, `memfd1`, ...

  // A mapping of `size` bytes (page-rounded) at host address `start`, named `name`.
  void map(u64 start, u64 size, const std::string& name);
  void unmap(u64 start, u64 size);
  // The mapping `addr` lies in and the offset within it: after a MAP_FIXED into a reservation, the
  // innermost one (the reservation's ranges around it keep their names).
  struct Place {
    std::string name;
    u64 offset = 0;
  };
  std::optional<Place> place(u64 addr) const;
  // `memN` or `memN+OFF` (OFF decimal below 10, hex above), if `addr` lies in a mapping.
  std::optional<trace::Expr> address(u64 addr) const;

 private:
  struct Fd {
    std::string name;
    unsigned kind;
  };
  struct Range {
    u64 size;
    std::string name;
    u64 offset;  // of the range's start within the mapping `name`
  };
  std::map<std::string, Fd> fds_;
  std::map<u64, Range> ranges_;
  std::map<std::string, int> counter_;
};

// Whether a handle of `kind` may be parameter `param` of the call statement `callee`: the kinds the
// statement schema accepts there (sim/trace/schema.h). A statement whose first parameter is not an fd is a
// /dev/kvm ioctl (KVM_CREATE_VM: only `kvm` fits). `kind` 0 is a raw fd number (`-1`), which a handle
// parameter accepts. False for a callee without a statement (KVM_RUN). An importer writes an ioctl whose fd
// does not fit (KVM_CHECK_EXTENSION on a vCPU fd) as the recorded-only `ioctl(...)`, as the kernel answered it.
bool fits(unsigned kind, std::string_view callee, std::size_t param = 0);

// Spellings both importers use for values a VMM passes.
trace::Expr number_expr(std::uint64_t v);   // decimal below 10, hex above (`8`, `0x200000`)
trace::Expr slot_expr(std::uint64_t slot);  // `3`, or `0x10000|3` for address space 1 (docs/semantics/memslots.md §1)

// The backing word of an anonymous mmap with these MAP_* flags: `anon`, `shmem` (MAP_SHARED), `hugetlb_2m`,
// `hugetlb_1g` (MAP_HUGETLB with its page-size bits).
std::string anon_backing_word(std::uint64_t flags);
// The same, or nullopt when a flag beyond the ones a backing mmap can state (MAP_FIXED, MAP_FIXED_NOREPLACE,
// MAP_NORESERVE) is set without MAP_HUGETLB (the strace and syzkaller importers; the raw log's converter
// states the other flags as keywords).
std::optional<std::string> anon_backing(std::uint64_t flags);

// A comment keeps a line readable whatever bytes it held (binary junk becomes '?'), cut at 200 chars.
std::string printable(const std::string& s);

}  // namespace kvmsim::importer
