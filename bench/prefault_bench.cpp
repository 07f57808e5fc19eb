// KVM_PRE_FAULT_MEMORY of a whole memslot through model::Kvm, at the granularity the backing and
// alignment choose: anon_nohuge -> 4K leaves, hugetlb_2m -> 2M, hugetlb_1g -> 1G; guests of
// 1 GiB, 64 GiB and 1 TiB, plus 64 TiB at 2M on the 5-level profile (linux-6.18-la57).
// Setup (VM, vCPU, host mmap, memslot) is untimed; one iteration = one pre-fault of the slot
// into an empty page table (the VM is rebuilt untimed between iterations).
// Counters:
//   ns_per_page       per 4K page of guest memory pre-faulted
//   ns_per_leaf       per leaf SPTE installed (what the kernel's loop pays per step)
//   pages_per_s       4K guest pages per second
//   pages_4k/2m/1g    the VM's stats after the pre-fault
//   pt_bytes          bytes of the model's page-table objects (PageTable::pt_bytes)
//   heap_bytes        live heap growth of the whole VM after the pre-fault (measured)
//   kernel_pt_bytes   what KVM's page tables hold for the same leaves (4 KiB per table page)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/guest_sizes.h"
#include "bench/heap_meter.h"
#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "model/uapi.h"

namespace kvmsim::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr u64 kGiB = 1ull << 30;

struct PrefaultVm {
  std::unique_ptr<model::Kvm> kvm;
  int vm_fd = -1, vcpu_fd = -1;
  std::string error;
};

PrefaultVm make_vm(const model::Profile& profile, Backing backing, u64 bytes) {
  PrefaultVm v;
  v.kvm = std::make_unique<model::Kvm>(profile);
  model::Kvm& k = *v.kvm;
  const Ret vm = k.ioctl_create_vm(k.kvm_fd(), uapi::KVM_X86_DEFAULT_VM);
  const Ret vcpu = vm.is_ok() ? k.ioctl_create_vcpu(static_cast<int>(vm.ret), 0) : vm;
  const Ret host = vcpu.is_ok() ? k.mmap(bytes, backing, kGiB) : vcpu;
  if (!host.is_ok()) {
    v.error = "setup errno " + std::to_string(host.err);
    return v;
  }
  v.vm_fd = static_cast<int>(vm.ret);
  v.vcpu_fd = static_cast<int>(vcpu.ret);
  // A memslot holds fewer than 2^31 pages (KVM_MEM_MAX_NR_PAGES): guests above 4 TiB use
  // several adjacent 4 TiB slots, as a VMM would.
  constexpr u64 kMaxSlot = 4ull << 40;
  for (u64 off = 0, id = 0; off < bytes; off += kMaxSlot, ++id) {
    const uapi::kvm_userspace_memory_region r{static_cast<u32>(id), 0, off, std::min(kMaxSlot, bytes - off),
                                              static_cast<u64>(host.ret) + off};
    const Ret slot = k.ioctl_set_user_memory_region(v.vm_fd, r);
    if (!slot.is_ok()) {
      v.error = "KVM_SET_USER_MEMORY_REGION errno " + std::to_string(slot.err);
      break;
    }
  }
  return v;
}

// Args: {leaf level (1, 2, 3), GiB, root level (4, 5)}.
void BM_PrefaultSlot(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const u64 bytes = static_cast<u64>(state.range(1)) * kGiB;
  const bool la57 = state.range(2) == 5;
  const Backing backing = level == 1 ? Backing::anon_nohuge : level == 2 ? Backing::hugetlb_2m : Backing::hugetlb_1g;
  const model::Profile& profile = *model::find_profile(la57 ? "linux-6.18-la57" : "linux-6.18");
  const u64 pages = bytes >> 12;
  const u64 leaves = pages >> (9 * (level - 1));
  double total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const u64 heap0 = heap_live_bytes();
    PrefaultVm v = make_vm(profile, backing, bytes);
    if (!v.error.empty()) {
      state.SkipWithError(v.error.c_str());
      return;
    }
    const u64 heap1 = heap_live_bytes();
    uapi::kvm_pre_fault_memory p{0, bytes, 0, {}};
    state.ResumeTiming();
    const auto t0 = Clock::now();
    const Ret r = v.kvm->ioctl_pre_fault_memory(v.vcpu_fd, p);
    total += std::chrono::duration<double>(Clock::now() - t0).count();
    state.PauseTiming();
    if (!r.is_ok() || p.size != 0) {
      state.SkipWithError(("KVM_PRE_FAULT_MEMORY errno " + std::to_string(r.err)).c_str());
      return;
    }
    const Stats st = *v.kvm->stats(v.vm_fd);
    const model::PageTable& mmu = v.kvm->vm(v.vm_fd)->mmu().page_table(0);
    if (st.at(level == 1 ? "pages_4k" : level == 2 ? "pages_2m" : "pages_1g") != leaves) {
      state.SkipWithError("pre-fault did not map the slot at the expected level");
      return;
    }
    state.counters["pages_4k"] = static_cast<double>(st.at("pages_4k"));
    state.counters["pages_2m"] = static_cast<double>(st.at("pages_2m"));
    state.counters["pages_1g"] = static_cast<double>(st.at("pages_1g"));
    state.counters["pt_bytes"] = static_cast<double>(mmu.pt_bytes());
    state.counters["kernel_pt_bytes"] = static_cast<double>(mmu.kernel_pt_bytes());
    state.counters["heap_bytes"] = static_cast<double>(heap_live_bytes() - heap1);
    (void)heap0;
    v = PrefaultVm{};  // teardown untimed
    state.ResumeTiming();
  }
  const double per_iter = total / static_cast<double>(state.iterations());
  state.counters["guest_GiB"] = static_cast<double>(bytes >> 30);
  state.counters["level"] = level;
  state.counters["root_level"] = la57 ? 5 : 4;
  state.counters["prefault_ms"] = per_iter * 1e3;
  state.counters["ns_per_page"] = per_iter * 1e9 / static_cast<double>(pages);
  state.counters["ns_per_leaf"] = per_iter * 1e9 / static_cast<double>(leaves);
  state.counters["pages_per_s"] = static_cast<double>(pages) / per_iter;
}

BENCHMARK(BM_PrefaultSlot)
    ->Apply(guest_size_sweep)
    ->Unit(benchmark::kMillisecond);

// Dirty logging on a 64 GiB hugetlb_2m slot pre-faulted at 2M (untimed): one iteration sets
// KVM_MEM_LOG_DIRTY_PAGES (eager split of every 2M leaf into 512 4K leaves) and clears it again
// (6.13+: in-place recovery of the 2M leaves). Counters: enable_ms, disable_ms, pages_4k at the
// peak, pt_bytes at the peak (model) and kernel_pt_bytes (the kernel's 4K tables at the peak).
void BM_DirtyLogCycle(benchmark::State& state) {
  const u64 bytes = static_cast<u64>(state.range(0)) * kGiB;
  PrefaultVm v = make_vm(model::default_profile(), Backing::hugetlb_2m, bytes);
  if (!v.error.empty()) return state.SkipWithError(v.error.c_str());
  uapi::kvm_pre_fault_memory p{0, bytes, 0, {}};
  if (!v.kvm->ioctl_pre_fault_memory(v.vcpu_fd, p).is_ok() || p.size)
    return state.SkipWithError("pre-fault failed");
  const u64 hva = v.kvm->vm(v.vm_fd)->slots(0).by_gfn(0)->userspace_addr;
  double on_s = 0, off_s = 0;
  u64 peak_4k = 0, peak_pt = 0, peak_kernel_pt = 0;
  for (auto _ : state) {
    const uapi::kvm_userspace_memory_region on{0, uapi::KVM_MEM_LOG_DIRTY_PAGES, 0, bytes, hva};
    const uapi::kvm_userspace_memory_region off{0, 0, 0, bytes, hva};
    auto t0 = Clock::now();
    const Ret r1 = v.kvm->ioctl_set_user_memory_region(v.vm_fd, on);
    const auto t1 = Clock::now();
    state.PauseTiming();
    peak_4k = v.kvm->stats(v.vm_fd)->at("pages_4k");
    peak_pt = v.kvm->vm(v.vm_fd)->mmu().page_table(0).pt_bytes();
    peak_kernel_pt = v.kvm->vm(v.vm_fd)->mmu().page_table(0).kernel_pt_bytes();
    state.ResumeTiming();
    const auto t2 = Clock::now();
    const Ret r2 = v.kvm->ioctl_set_user_memory_region(v.vm_fd, off);
    const auto t3 = Clock::now();
    if (!r1.is_ok() || !r2.is_ok()) return state.SkipWithError("KVM_SET_USER_MEMORY_REGION failed");
    on_s += std::chrono::duration<double>(t1 - t0).count();
    off_s += std::chrono::duration<double>(t3 - t2).count();
  }
  const double n = static_cast<double>(state.iterations());
  const Stats st = *v.kvm->stats(v.vm_fd);
  if (peak_4k != bytes >> 12 || st.at("pages_2m") != bytes >> 21)
    return state.SkipWithError("dirty logging did not split to 4K and recover to 2M");
  state.counters["enable_ms"] = on_s * 1e3 / n;
  state.counters["disable_ms"] = off_s * 1e3 / n;
  state.counters["split_ns_per_page"] = on_s * 1e9 / n / static_cast<double>(bytes >> 12);
  state.counters["pages_4k"] = static_cast<double>(peak_4k);
  state.counters["pages_2m"] = static_cast<double>(st.at("pages_2m"));
  state.counters["pt_bytes"] = static_cast<double>(peak_pt);
  state.counters["kernel_pt_bytes"] = static_cast<double>(peak_kernel_pt);
}
BENCHMARK(BM_DirtyLogCycle)->ArgName("GiB")->Arg(64)->Unit(benchmark::kMillisecond);

// KVM_PRE_FAULT_MEMORY of a whole dirty-logged anon slot (every leaf 4K, hugepage_adjust step 4).
// Before dirty logging is enabled (untimed) the VMM has written every other GiB, so half the
// leaves map writable and mark their pages dirty and half map read-only; one iteration = one
// pre-fault into an empty page table. Counters: prefault_ms, ns_per_page, pages_4k, dirty_pages
// (the slot's dirty bitmap, untimed).
void BM_PrefaultDirtyLoggedSlot(benchmark::State& state) {
  const u64 bytes = static_cast<u64>(state.range(0)) * kGiB;
  double total = 0;
  u64 pages_4k = 0, dirty = 0;
  for (auto _ : state) {
    state.PauseTiming();
    PrefaultVm v = make_vm(model::default_profile(), Backing::anon_nohuge, bytes);
    if (!v.error.empty()) return state.SkipWithError(v.error.c_str());
    const u64 hva = v.kvm->vm(v.vm_fd)->slots(0).by_gfn(0)->userspace_addr;
    for (u64 off = 0; off < bytes; off += 2 * kGiB)
      if (!v.kvm->touch(hva + off, std::min(kGiB, bytes - off)).is_ok()) return state.SkipWithError("touch failed");
    const uapi::kvm_userspace_memory_region on{0, uapi::KVM_MEM_LOG_DIRTY_PAGES, 0, bytes, hva};
    if (!v.kvm->ioctl_set_user_memory_region(v.vm_fd, on).is_ok())
      return state.SkipWithError("KVM_SET_USER_MEMORY_REGION failed");
    uapi::kvm_pre_fault_memory p{0, bytes, 0, {}};
    state.ResumeTiming();
    const auto t0 = Clock::now();
    const Ret r = v.kvm->ioctl_pre_fault_memory(v.vcpu_fd, p);
    total += std::chrono::duration<double>(Clock::now() - t0).count();
    state.PauseTiming();
    if (!r.is_ok() || p.size != 0) return state.SkipWithError("KVM_PRE_FAULT_MEMORY failed");
    pages_4k = v.kvm->stats(v.vm_fd)->at("pages_4k");
    // The slot's bitmap as KVM_GET_DIRTY_LOG would return it, read without the ioctl's re-protection
    // (which would write-protect 2^27 pages word by word).
    dirty = 0;
    for (u64 w : v.kvm->vm(v.vm_fd)->slots(0).find(0)->dirty_bitmap) dirty += static_cast<u64>(__builtin_popcountll(w));
    v = PrefaultVm{};
    state.ResumeTiming();
  }
  if (pages_4k != bytes >> 12) return state.SkipWithError("pre-fault did not map every page at 4K");
  const double per_iter = total / static_cast<double>(state.iterations());
  state.counters["guest_GiB"] = static_cast<double>(bytes >> 30);
  state.counters["prefault_ms"] = per_iter * 1e3;
  state.counters["ns_per_page"] = per_iter * 1e9 / static_cast<double>(bytes >> 12);
  state.counters["pages_4k"] = static_cast<double>(pages_4k);
  state.counters["dirty_pages"] = static_cast<double>(dirty);
}
BENCHMARK(BM_PrefaultDirtyLoggedSlot)->ArgName("GiB")->Arg(1)->Arg(1024)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvmsim::bench
