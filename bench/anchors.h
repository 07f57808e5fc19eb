// Published figures of the real kernel the benchmarks compare the model with (bench/README.md
// "Anchors"). Each is a per-operation cost taken from the named public source; a benchmark
// reports `speedup_vs_*` = anchor / model cost, so > 1 means the model is faster.
#pragma once

namespace kvmsim::bench {

// memslot_perf_test "slot setup" (create every slot), x86, from Maciej S. Szmigiero, "[PATCH v2 0/8]
// KVM: Scalable memslots implementation", kvm@vger.kernel.org, 2021-04-13 (the test output in the
// cover letter, after the series, which is upstream): 509 slots in 8.03 ms and 32k slots (32764)
// in 0.59 s.
constexpr double kKernelSlotSetupNs509 = 8.03e6 / 509;     // 15.8 us per slot
constexpr double kKernelSlotSetupNs32k = 0.59e9 / 32764;   // 18.0 us per slot

// First-touch 4K fault of one vCPU on x86 with TDP, 13.8 us: 1 GiB (262144 4K pages) populated in
// 3.62 s in a dirty_log_perf_test run (`Populate memory time`), as quoted in issue 17 (host not
// stated; see bench/README.md for how firm this figure is).
constexpr double kKernelFirstTouchNs = 13.8e3;

}  // namespace kvmsim::bench
