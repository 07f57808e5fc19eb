// Published figures of the real kernel the benchmarks compare the model with (bench/README.md
// "Anchors"). Each is a per-operation cost taken from the named public post (the kvm@vger.kernel.org
// archive on lore.kernel.org); a benchmark reports `speedup_vs_*` = anchor / model cost, so > 1
// means the model is faster. The posts do not run on this machine: a ratio is an order of
// magnitude, and the same-run comparisons against this host's /dev/kvm (`*VsKvm`) are the firm ones.
#pragma once

namespace kvmsim::bench {

// memslot_perf_test "Slot setup", x86 (Xeon 8167M, TDP MMU off, the default then), "After" column of
// Maciej S. Szmigiero, "[PATCH v2 0/8] KVM: Scalable memslots implementation", kvm@vger.kernel.org,
// 2021-04-13 (Message-Id <cover.1618322001.git.maciej.szmigiero@oracle.com>; the series is upstream):
// 0.00803 s with 509 slots in use and 0.59 s with 32k slots in use. The timed loop of
// memslot_perf_test's prepare_vm() creates every slot but the VM's first (508 and 32763 slots), each
// with its own anonymous mmap and one KVM_SET_USER_MEMORY_REGION; no slot is deleted in it. So these
// are per-slot *creation* costs, compared with the model's creations alone.
constexpr double kKernelSlotSetupNs509 = 8.03e6 / 508;     // 15.8 us per slot
constexpr double kKernelSlotSetupNs32k = 0.59e9 / 32763;   // 18.0 us per slot

// First-touch 4K write fault per vCPU, x86, 4K anonymous backing: dirty_log_perf_test
// `-i 5 -v 16 -s anonymous` (16 vCPUs, 1 GiB each, so 262144 first-touch writes per vCPU, run
// concurrently), "Populate memory time: 3.105203579s" (the run without the patch), Keqian Zhu,
// "Re: [RFC PATCH v2 2/2] KVM: x86: Not wr-protect huge page with init_all_set dirty log",
// kvm@vger.kernel.org, 2021-04-27 (Message-ID <f0651fce-3b39-3ca7-6681-9fbc6edf8480@huawei.com>).
// The host CPU is not stated; the populate pass writes every page (wr_fract 1, the default), so
// it is compared with the model's first-touch *write*.
constexpr double kKernelFirstTouchNs = 3.105203579e9 / 262144;  // 11.8 us per fault per vCPU

}  // namespace kvmsim::bench
