// Memslot churn: create then delete KVM_CAP_NR_MEMSLOTS (32764 on x86) one-page memslots, as
// a VMM with many small regions (or a hot-plug storm) does. Measured on model::Kvm, and in the
// same run on the real /dev/kvm (KvmBackend) so the model can be compared with the kernel:
// `model_vs_kvm_ratio` = model time / kernel time (< 1: the model is faster).
// The real backend only creates 4 KiB slots: on this shadow-paging host the kernel allocates rmap
// and lpage_info per 4K page of a slot, so large slots would cost real host memory.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>

#include "bench/anchors.h"
#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "model/uapi.h"
#include "sim/kvm/kvm_backend.h"

namespace kvmsim::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr u32 kSlots = 32764;  // KVM_USER_MEM_SLOTS on x86 (32767 minus 3 private slots)
constexpr u64 kSlotSize = 4096;
constexpr u64 kGpaBase = 1ull << 32;  // clear of the legacy holes; any aligned base would do

// One create-all/delete-all cycle on `api`; returns seconds (the creations alone in *create_s),
// or a negative value with *err set when a call fails (the benchmark then reports the errno
// instead of a bogus time).
double churn_once(KvmApi& api, std::string* err, double* create_s = nullptr) {
  Ret vm = api.ioctl_create_vm(api.kvm_fd(), uapi::KVM_X86_DEFAULT_VM);
  if (!vm.is_ok()) {
    *err = "KVM_CREATE_VM errno " + std::to_string(vm.err);
    return -1;
  }
  const int vm_fd = static_cast<int>(vm.ret);
  Ret host = api.mmap(kSlots * kSlotSize, Backing::anon, 4096);
  if (!host.is_ok()) {
    *err = "mmap errno " + std::to_string(host.err);
    api.close(vm_fd);
    return -1;
  }
  const u64 hva = static_cast<u64>(host.ret);
  const auto t0 = Clock::now();
  for (u32 s = 0; s < kSlots && err->empty(); ++s) {
    const uapi::kvm_userspace_memory_region r{s, 0, kGpaBase + s * kSlotSize, kSlotSize, hva + s * kSlotSize};
    Ret ret = api.ioctl_set_user_memory_region(vm_fd, r);
    if (!ret.is_ok()) *err = "create slot " + std::to_string(s) + " errno " + std::to_string(ret.err);
  }
  if (create_s) *create_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (u32 s = 0; s < kSlots && err->empty(); ++s) {
    const uapi::kvm_userspace_memory_region r{s, 0, kGpaBase + s * kSlotSize, 0, hva + s * kSlotSize};
    Ret ret = api.ioctl_set_user_memory_region(vm_fd, r);
    if (!ret.is_ok()) *err = "delete slot " + std::to_string(s) + " errno " + std::to_string(ret.err);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  api.close(vm_fd);
  api.munmap(hva, kSlots * kSlotSize);
  return err->empty() ? secs : -1;
}

void BM_MemslotChurnModel(benchmark::State& state) {
  model::Kvm kvm(model::default_profile());
  std::string err;
  double total = 0, creates = 0;
  for (auto _ : state) {
    double c = 0;
    const double s = churn_once(kvm, &err, &c);
    if (s < 0) {
      state.SkipWithError(err.c_str());
      return;
    }
    state.SetIterationTime(s);
    total += s;
    creates += c;
  }
  const double per_iter = total / static_cast<double>(state.iterations());
  state.counters["slots"] = kSlots;
  state.counters["ns_per_ioctl"] = per_iter * 1e9 / (2.0 * kSlots);
  state.counters["stmts_per_s"] = 2.0 * kSlots / per_iter;
  // Against the kernel's published per-slot setup cost (bench/anchors.h), which times creations
  // only: the model's creations alone.
  const double create_ns = creates / static_cast<double>(state.iterations()) * 1e9 / kSlots;
  state.counters["create_ns_per_slot"] = create_ns;
  state.counters["speedup_vs_published_509"] = kKernelSlotSetupNs509 / create_ns;
  state.counters["speedup_vs_published_32k"] = kKernelSlotSetupNs32k / create_ns;
}
BENCHMARK(BM_MemslotChurnModel)->UseManualTime()->Unit(benchmark::kMillisecond);

// Model and kernel in one benchmark so the ratio is taken on the same machine state.
void BM_MemslotChurnModelVsKvm(benchmark::State& state) {
  std::string open_err;
  auto real = kvm::make_kvm_backend(model::default_profile(), kvm::KvmBackendOptions{}, &open_err);
  if (!real) {
    state.SkipWithError(("no /dev/kvm: " + open_err).c_str());
    return;
  }
  model::Kvm sim(model::default_profile());
  std::string err;
  double model_s = 0, kvm_s = 0;
  for (auto _ : state) {
    const double m = churn_once(sim, &err);
    const double k = m < 0 ? -1 : churn_once(*real, &err);
    if (m < 0 || k < 0) {
      state.SkipWithError(err.c_str());
      return;
    }
    model_s += m;
    kvm_s += k;
    state.SetIterationTime(k);  // the benchmark's time is the kernel's; the model is in counters
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["model_ms"] = model_s * 1e3 / n;
  state.counters["kvm_ms"] = kvm_s * 1e3 / n;
  state.counters["model_vs_kvm_ratio"] = model_s / kvm_s;
}
// Iterations(1): the kernel needs seconds per cycle; one is a stable enough comparison.
BENCHMARK(BM_MemslotChurnModelVsKvm)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvmsim::bench
