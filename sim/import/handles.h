// Handle naming shared by every importer (`import strace`, `record`): the one place that decides how a
// recording's fds and host addresses are written in a trace. fds become handles (`kvm`, `vm`, `vm2`,
// `vcpu0`, `vcpu0_2` for a second vCPU 0, `memfd1`, `gmem1`); mmap results become `mem1`, `mem2`...; an
// address inside a live mapping becomes `memN+OFF` (the innermost mapping that contains it, so RAM mapped
// with MAP_FIXED into a reservation is named after the RAM block).
// Invariants: a name is never reused within one trace; an fd or range forgotten (close, munmap) no longer
// resolves; same sequence of calls -> same names.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "sim/trace/ast.h"

namespace kvmsim::importer {

class Handles {
 public:
  using u64 = std::uint64_t;

  // fds
  void bind_fd(int fd, const std::string& name) { fds_[fd] = name; }
  std::optional<std::string> fd(int fd) const;
  void forget_fd(int fd) { fds_.erase(fd); }
  std::string new_vm();              // `vm`, then `vm2`, ...
  std::string new_vcpu(u64 id);      // `vcpu0`, a second vCPU 0 `vcpu0_2`
  std::string fresh(const std::string& base);  // `base1`, `base2`, ...

  // host mappings
  std::string map(u64 start, u64 size);  // a new `memN` for [start, start+size), replacing what it covers
  void unmap(u64 start, u64 size);       // ranges starting inside [start, start+size) are gone
  struct Place {
    std::string name;
    u64 offset = 0;
    u64 start = 0;  // the mapping's start
  };
  std::optional<Place> place(u64 addr) const;
  std::optional<std::string> address_text(u64 addr) const;   // `mem2+0x1000`
  std::optional<trace::Expr> address_expr(u64 addr) const;   // the same as an expression

 private:
  struct Range {
    u64 size;
    std::string name;
  };
  std::map<int, std::string> fds_;
  std::map<u64, Range> ranges_;
  std::map<std::string, int> counter_;
};

}  // namespace kvmsim::importer
