// Simulated guest accesses (KvmApi::access: a vCPU reads or writes one 4K page; a missing or
// insufficient SPTE takes the fault path) on model::Kvm, sequential or random order, first touch
// (every access faults) or re-touch (every leaf is already there: the hardware A/D path), and
// the same first-touch workload on the real /dev/kvm through the kvm backend's guest agent in
// the same run, reported as a model/kernel ratio.
// The slot is anon_nohuge (4K host pages) so every access is one 4K fault, as with the kernel's
// shadow MMU on this host. Counters: ns_per_access, accesses_per_s, pages_4k/2m/1g, pt_bytes.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/anchors.h"
#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "model/uapi.h"
#include "sim/kvm/kvm_backend.h"

namespace kvmsim::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr u64 kMiB = 1ull << 20;
constexpr u64 kGpaBase = 1ull << 32;  // clear of the legacy holes and the agent's own slot

// Access order over `pages` pages: sequential, or a fixed permutation (deterministic LCG shuffle).
std::vector<u64> access_order(u64 pages, bool random) {
  std::vector<u64> order(pages);
  for (u64 i = 0; i < pages; ++i) order[i] = i;
  if (random) {
    u64 x = 0x9e3779b97f4a7c15ull;
    for (u64 i = pages - 1; i > 0; --i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      std::swap(order[i], order[(x >> 33) % (i + 1)]);
    }
  }
  return order;
}

struct Guest {
  int vm_fd = -1, vcpu_fd = -1;
  u64 hva = 0, bytes = 0;
  std::string error;
};

Guest make_guest(KvmApi& api, u64 bytes) {
  Guest g;
  g.bytes = bytes;
  const Ret vm = api.ioctl_create_vm(api.kvm_fd(), uapi::KVM_X86_DEFAULT_VM);
  const Ret vcpu = vm.is_ok() ? api.ioctl_create_vcpu(static_cast<int>(vm.ret), 0) : vm;
  const Ret host = vcpu.is_ok() ? api.mmap(bytes, Backing::anon_nohuge, 2 * kMiB) : vcpu;
  if (!host.is_ok()) {
    g.error = api.backend_name() + " setup errno " + std::to_string(host.err);
    return g;
  }
  g.vm_fd = static_cast<int>(vm.ret);
  g.vcpu_fd = static_cast<int>(vcpu.ret);
  g.hva = static_cast<u64>(host.ret);
  // Written once by the VMM so guest reads map writable pages, like a loaded guest image.
  const Ret touched = api.touch(g.hva, bytes);
  const uapi::kvm_userspace_memory_region r{0, 0, kGpaBase, bytes, g.hva};
  const Ret slot = touched.is_ok() ? api.ioctl_set_user_memory_region(g.vm_fd, r) : touched;
  if (!slot.is_ok()) g.error = api.backend_name() + " slot errno " + std::to_string(slot.err);
  return g;
}

void close_guest(KvmApi& api, const Guest& g) {
  api.close(g.vcpu_fd);
  api.close(g.vm_fd);
  api.munmap(g.hva, g.bytes);
}

// Seconds for one pass of accesses in `order`; negative with *err set on a failed access.
double touch_pass(KvmApi& api, const Guest& g, const std::vector<u64>& order, AccessKind kind, std::string* err) {
  const auto t0 = Clock::now();
  for (u64 p : order) {
    const AccessOutcome o = api.access(g.vcpu_fd, kGpaBase + p * 4096, kind);
    if (o.kind != AccessOutcome::Kind::ok) {
      *err = api.backend_name() + ": access at page " + std::to_string(p) + " failed (errno " +
             std::to_string(o.err) + ")";
      return -1;
    }
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Args: {MiB, random (0/1), retouch (0/1), write (0/1)}.
void BM_GuestAccessModel(benchmark::State& state) {
  const u64 bytes = static_cast<u64>(state.range(0)) * kMiB;
  const bool random = state.range(1) != 0, retouch = state.range(2) != 0;
  const AccessKind kind = state.range(3) ? AccessKind::write : AccessKind::read;
  const std::vector<u64> order = access_order(bytes >> 12, random);
  double total = 0;
  Stats st;
  u64 pt_bytes = 0;
  for (auto _ : state) {
    model::Kvm kvm(model::default_profile());
    Guest g = make_guest(kvm, bytes);
    if (!g.error.empty()) return state.SkipWithError(g.error.c_str());
    std::string err;
    if (retouch && touch_pass(kvm, g, order, kind, &err) < 0) return state.SkipWithError(err.c_str());
    const double s = touch_pass(kvm, g, order, kind, &err);
    if (s < 0) return state.SkipWithError(err.c_str());
    state.SetIterationTime(s);
    total += s;
    st = *kvm.stats(g.vm_fd);
    pt_bytes = kvm.vm(g.vm_fd)->mmu().page_table(0).pt_bytes();
  }
  const double n = static_cast<double>(order.size()) * static_cast<double>(state.iterations());
  state.counters["accesses"] = static_cast<double>(order.size());
  state.counters["ns_per_access"] = total * 1e9 / n;
  state.counters["accesses_per_s"] = n / total;
  // First touch against the kernel's published cost of a 4K first-touch fault (bench/anchors.h).
  if (!retouch) state.counters["speedup_vs_published_fault"] = kKernelFirstTouchNs / (total * 1e9 / n);
  state.counters["pages_4k"] = static_cast<double>(st["pages_4k"]);
  state.counters["pages_2m"] = static_cast<double>(st["pages_2m"]);
  state.counters["pages_1g"] = static_cast<double>(st["pages_1g"]);
  state.counters["pt_bytes"] = static_cast<double>(pt_bytes);
}
BENCHMARK(BM_GuestAccessModel)
    ->ArgNames({"MiB", "random", "retouch", "write"})
    ->Args({1024, 0, 0, 0})
    ->Args({1024, 1, 0, 0})
    ->Args({1024, 0, 1, 0})
    ->Args({1024, 1, 1, 0})
    ->Args({1024, 0, 0, 1})
    ->Args({1024, 1, 1, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// First touch (read faults) of a small slot on the model and on /dev/kvm, same accesses, same run.
// Args: {MiB}. Keep it a few MiB: the real side runs a guest vCPU per access.
void BM_GuestFirstTouchModelVsKvm(benchmark::State& state) {
  const u64 bytes = static_cast<u64>(state.range(0)) * kMiB;
  std::string open_err;
  auto real = kvm::make_kvm_backend(model::default_profile(), kvm::KvmBackendOptions{}, &open_err);
  if (!real) return state.SkipWithError(("no /dev/kvm: " + open_err).c_str());
  const std::vector<u64> order = access_order(bytes >> 12, false);
  double model_s = 0, kvm_s = 0;
  for (auto _ : state) {
    std::string err;
    model::Kvm sim(model::default_profile());
    Guest gm = make_guest(sim, bytes);
    Guest gk = make_guest(*real, bytes);
    if (!gm.error.empty() || !gk.error.empty()) return state.SkipWithError((gm.error + gk.error).c_str());
    const double m = touch_pass(sim, gm, order, AccessKind::read, &err);
    const double k = m < 0 ? -1 : touch_pass(*real, gk, order, AccessKind::read, &err);
    close_guest(*real, gk);
    if (m < 0 || k < 0) return state.SkipWithError(err.c_str());
    model_s += m;
    kvm_s += k;
    state.SetIterationTime(k);  // the benchmark's time is the kernel's; the model is in counters
  }
  const double n = static_cast<double>(order.size()) * static_cast<double>(state.iterations());
  state.counters["accesses"] = static_cast<double>(order.size());
  state.counters["model_ns_per_access"] = model_s * 1e9 / n;
  state.counters["kvm_ns_per_access"] = kvm_s * 1e9 / n;
  state.counters["model_vs_kvm_ratio"] = model_s / kvm_s;
  state.counters["kvm_vs_model_speedup"] = kvm_s / model_s;
}
BENCHMARK(BM_GuestFirstTouchModelVsKvm)->ArgName("MiB")->Arg(4)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvmsim::bench
