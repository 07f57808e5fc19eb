// Attribute conversion storm: KVM_SET_MEMORY_ATTRIBUTES flipping private <-> shared over 2M or
// 1G sub-ranges of a 4 GiB guest_memfd memslot in a KVM_X86_SW_PROTECTED_VM on model::Kvm, as a
// confidential guest converting memory does. Every call changes the attributes of its chunk
// (chunk i is private on odd passes when i is even, and so on), so each one pays the full cost:
// the attribute map update, the lpage_info mixed-attribute recomputation and the zap of the range.
// With `mapped`=1 the whole slot is pre-faulted (untimed) before every pass, so each conversion
// also zaps the leaves of its chunk. Counters: ns_per_ioctl, ioctls_per_s.
#include <benchmark/benchmark.h>

#include <cerrno>
#include <string>

#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "model/uapi.h"

namespace kvmsim::bench {
namespace {

constexpr u64 kMiB = 1ull << 20;
constexpr u64 kSlotBytes = 4ull << 30;

// Args: {chunk in MiB (2 or 1024), mapped (0/1)}.
void BM_MemoryAttributesStorm(benchmark::State& state) {
  const u64 chunk = static_cast<u64>(state.range(0)) * kMiB;
  const bool mapped = state.range(1) != 0;
  const u64 chunks = kSlotBytes / chunk;
  model::Kvm kvm(model::default_profile());
  auto fail = [&](const char* what, const Ret& r) {
    state.SkipWithError((std::string(what) + " errno " + std::to_string(r.err)).c_str());
  };
  Ret vm = kvm.ioctl_create_vm(kvm.kvm_fd(), uapi::KVM_X86_SW_PROTECTED_VM);
  if (!vm.is_ok()) return fail("KVM_CREATE_VM", vm);
  const int vm_fd = static_cast<int>(vm.ret);
  Ret vcpu = kvm.ioctl_create_vcpu(vm_fd, 0);
  if (!vcpu.is_ok()) return fail("KVM_CREATE_VCPU", vcpu);
  uapi::kvm_create_guest_memfd g{};
  g.size = kSlotBytes;
  Ret gmem = kvm.ioctl_create_guest_memfd(vm_fd, g);
  if (!gmem.is_ok()) return fail("KVM_CREATE_GUEST_MEMFD", gmem);
  Ret host = kvm.mmap(kSlotBytes, Backing::thp, 2 * kMiB);
  if (!host.is_ok()) return fail("mmap", host);
  uapi::kvm_userspace_memory_region2 r{};
  r.slot = 0;
  r.flags = uapi::KVM_MEM_GUEST_MEMFD;
  r.guest_phys_addr = 0;
  r.memory_size = kSlotBytes;
  r.userspace_addr = static_cast<u64>(host.ret);
  r.guest_memfd = static_cast<u32>(gmem.ret);
  Ret slot = kvm.ioctl_set_user_memory_region2(vm_fd, r);
  if (!slot.is_ok()) return fail("KVM_SET_USER_MEMORY_REGION2", slot);
  // Untimed: map the whole slot (each chunk as its current attribute says) before a pass.
  auto prefault_all = [&]() -> bool {
    uapi::kvm_pre_fault_memory p{};
    p.size = kSlotBytes;
    while (p.size) {
      Ret pf = kvm.ioctl_pre_fault_memory(static_cast<int>(vcpu.ret), p);
      if (!pf.is_ok() && pf.err != EINTR && pf.err != EAGAIN) {
        fail("KVM_PRE_FAULT_MEMORY", pf);
        return false;
      }
    }
    return true;
  };
  u64 pass = 0;
  u64 leaves_before = 0;
  for (auto _ : state) {
    if (mapped) {
      state.PauseTiming();
      if (!prefault_all()) return;
      const Stats st = kvm.stats(vm_fd).value_or(Stats{});
      leaves_before = 0;
      for (const char* k : {"pages_4k", "pages_2m", "pages_1g"}) leaves_before += st.count(k) ? st.at(k) : 0;
      state.ResumeTiming();
    }
    for (u64 i = 0; i < chunks; ++i) {
      const bool priv = ((i + pass) % 2) == 0;
      uapi::kvm_memory_attributes a{i * chunk, chunk, priv ? uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, 0};
      Ret ret = kvm.ioctl_set_memory_attributes(vm_fd, a);
      if (!ret.is_ok()) return fail("KVM_SET_MEMORY_ATTRIBUTES", ret);
    }
    ++pass;
  }
  state.counters["ioctls"] = static_cast<double>(chunks);
  state.counters["ns_per_ioctl"] = benchmark::Counter(static_cast<double>(chunks) * 1e-9,
                                                      benchmark::Counter::kIsIterationInvariantRate |
                                                          benchmark::Counter::kInvert);
  state.counters["ioctls_per_s"] =
      benchmark::Counter(static_cast<double>(chunks), benchmark::Counter::kIsIterationInvariantRate);
  // Leaves present when the last timed pass started (all of them are zapped by the pass).
  state.counters["leaves_zapped_per_pass"] = static_cast<double>(leaves_before);
}
BENCHMARK(BM_MemoryAttributesStorm)
    ->ArgNames({"chunk_MiB", "mapped"})
    ->Args({2, 0})
    ->Args({1024, 0})
    ->Args({2, 1})
    ->Args({1024, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kvmsim::bench
