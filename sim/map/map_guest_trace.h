// The guest the map test and benchmark draw at two sizes (sim/test/map_test.cpp, bench/map_bench.cpp):
// `gib` GiB of hugetlb 1G memory in slots of at most 4 TiB (a memslot holds < 2^31 pages), the
// last 1G a slot of its own, everything pre-faulted, then dirty logging on that last slot (eager
// split to 4K). Profile linux-6.18. Invariant: gib >= 2; the text parses as a v1 trace.
#pragma once

#include <algorithm>
#include <string>

#include "model/types.h"

namespace kvmsim {

inline std::string map_guest_trace(u64 gib) {
  const u64 k4T = 4096;
  auto g = [](u64 n) { return std::to_string(n) + "G"; };
  std::string t = "kvmsim-trace 1\nprofile linux-6.18\nmem = mmap(" + g(gib) +
                  ", hugetlb_1g)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\nvcpu = KVM_CREATE_VCPU(vm, 0)\n";
  u64 at = 0;
  int slot = 0;
  auto add = [&](u64 size, const std::string& flags) {
    t += "KVM_SET_USER_MEMORY_REGION(vm, {slot=" + std::to_string(slot) + flags + ", guest_phys_addr=" + g(at) +
         ", memory_size=" + g(size) + ", userspace_addr=mem+" + g(at) + "})\n";
  };
  for (; at < gib - 1; ++slot) {
    const u64 size = std::min(k4T, gib - 1 - at);
    add(size, "");
    at += size;
  }
  add(1, "");
  t += "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=0, size=" + g(gib) + "})\n";
  add(1, ", flags=KVM_MEM_LOG_DIRTY_PAGES");
  return t;
}

}  // namespace kvmsim
