// Huge-page level selection, zaps and statistics of the TDP MMU (docs/semantics/tdp-mmu.md;
// docs/semantics/nested-observations.md §2). Mappings are populated with KVM_PRE_FAULT_MEMORY (no guest code) and observed with
// pages_4k/2m/1g deltas and, where the backend can show it, mapping(vm, gpa).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

void populate(Check& c, int vcpu, u64 gpa, u64 size, std::source_location loc = std::source_location::current()) {
  kvm_pre_fault_memory p{};
  p.gpa = gpa;
  p.size = size;
  Call call = c.pre_fault(vcpu, p);
  if (!call.r.is_ok() || p.size != 0)
    c.fail_now(call.what + " left size " + hex(p.size) + ", returned " + ret_str(call.r), loc);
}

Stats pages(u64 k4, u64 m2, u64 g1 = 0) { return {{"pages_4k", k4}, {"pages_2m", m2}, {"pages_1g", g1}}; }

// Negative deltas are written as two's complement u64 (expect_stats_delta compares as i64).
u64 minus(u64 v) { return static_cast<u64>(-static_cast<i64>(v)); }

using Vm = Check::VmVcpu;

// A THP region the VMM wrote itself: real huge pages on the host.
u64 touched_thp(Check& c, u64 size) {
  const u64 mem = c.mmap(size, Backing::thp, 2 * MiB);
  c.must({c.api().touch(mem, size), "touch"});
  return mem;
}

}  // namespace

KVMSIM_CASE(hugepage, thp_touched_maps_2m, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 4 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 4 * MiB, mem));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 2));
  c.expect_level(v.vm, 1 * GiB + 2 * MiB + 4 * KiB, 2);
}

KVMSIM_CASE(hugepage, anon_nohuge_maps_4k, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(4 * MiB, Backing::anon_nohuge, 2 * MiB);
  c.must({c.api().touch(mem, 4 * MiB), "touch"});
  c.add_slot(v.vm, make_region(0, 1 * GiB, 4 * MiB, mem));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(1024, 0));
  c.expect_level(v.vm, 1 * GiB, 1);
}

// A read fault on untouched THP-eligible memory maps the host's huge zero page: a 2M leaf.
KVMSIM_CASE(hugepage, thp_untouched_read_maps_huge_zero_page, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(4 * MiB, Backing::thp, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 4 * MiB, mem));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), c.profile().huge_zero_page ? pages(0, 2) : pages(1024, 0));
}

// gpa and hva not congruent modulo 2M: no 2M leaf anywhere in the slot.
KVMSIM_CASE(hugepage, hva_not_congruent_maps_4k, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 6 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 4 * MiB, mem + 4 * KiB));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(1024, 0));
}

// A slot starting 4K into a 2M region: the partial head region is 4K only, the rest 2M.
KVMSIM_CASE(hugepage, unaligned_slot_head, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 4 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB + 4 * KiB, 4 * MiB - 4 * KiB, mem + 4 * KiB));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB + 4 * KiB, 4 * MiB - 4 * KiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(511, 1));
  c.expect_level(v.vm, 1 * GiB + 4 * KiB, 1);
  c.expect_level(v.vm, 1 * GiB + 2 * MiB, 2);
}

// The trace-format example: slot of 2M+4K, the unaligned tail page maps at 4K.
KVMSIM_CASE(hugepage, unaligned_slot_tail, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 4 * MiB);
  c.add_slot(v.vm, make_region(10, 3 * GiB, 2 * MiB + 4 * KiB, mem));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 3 * GiB, 2 * MiB + 4 * KiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(1, 1));
  c.expect_level(v.vm, 3 * GiB + 2 * MiB, 1);
}

KVMSIM_CASE(hugepage, hugetlb_2m_maps_2m, Need::tdp, Need::stats, Need::hugetlb) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(4 * MiB, Backing::hugetlb_2m, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 4 * MiB, mem));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 2));
}

KVMSIM_CASE(hugepage, hugetlb_1g_maps_1g, Need::tdp, Need::stats, Need::hugetlb_1g, Need::one_g_pages) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(1 * GiB, Backing::hugetlb_1g, 1 * GiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 1 * GiB, mem));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 1 * GiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 0, 1));
  c.expect_level(v.vm, 1 * GiB + 5 * MiB, 3);
}

// Congruent modulo 2M but not modulo 1G: 1G backing still maps at 2M.
KVMSIM_CASE(hugepage, hugetlb_1g_not_congruent_maps_2m, Need::tdp, Need::stats, Need::hugetlb_1g) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(1 * GiB, Backing::hugetlb_1g, 1 * GiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 8 * MiB, mem + 2 * MiB));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 8 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 4, 0));
}

// Every fault in a dirty-logged slot maps 4K.
KVMSIM_CASE(hugepage, log_dirty_slot_maps_4k, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(512, 0));
}

// guest_memfd folios are order 0: private mappings are always 4K.
KVMSIM_CASE(hugepage, gmem_private_maps_4k, Need::tdp, Need::stats, Need::sw_protected_vm, Need::memory_attributes,
            Need::guest_memfd) {
  Vm v = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = touched_thp(c, 4 * MiB);
  const int fd = c.create_gmem(v.vm, 4 * MiB);
  c.add_slot(v.vm, make_gmem_region(0, 0, 4 * MiB, mem, fd));
  c.must(c.set_attributes(v.vm, 2 * MiB, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 0, 4 * MiB);
  // Shared half from the THP uaddr at 2M, private half from guest_memfd at 4K (docs/semantics/nested-observations.md §2).
  c.expect_stats_delta(before, c.stats(v.vm), pages(512, 1));
}

// One private page makes its 2M region mixed: that region maps 4K, the other stays 2M.
KVMSIM_CASE(hugepage, mixed_attributes_region_maps_4k, Need::tdp, Need::stats, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_memfd) {
  Vm v = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = touched_thp(c, 4 * MiB);
  const int fd = c.create_gmem(v.vm, 4 * MiB);
  c.add_slot(v.vm, make_gmem_region(0, 0, 4 * MiB, mem, fd));
  c.must(c.set_attributes(v.vm, 3 * MiB, 4 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 0, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(512, 1));
  c.expect_level(v.vm, 2 * MiB, 1);
  c.expect_level(v.vm, 0, 2);
}

// gmem-only (MMAP) slots serve shared faults from guest_memfd: 4K even over THP uaddr.
KVMSIM_CASE(hugepage, gmem_only_slot_maps_4k, Need::tdp, Need::stats, Need::gmem_mmap, Need::user_memory2) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 2 * MiB);
  const int fd = c.create_gmem(v.vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP);
  c.add_slot(v.vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 0, 2 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(512, 0));
}

// Pre-faulting an already mapped range changes nothing.
KVMSIM_CASE(hugepage, prefault_twice_is_idempotent, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem));
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  const Stats before = c.stats(v.vm);
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 0));
}

namespace {

// Slots 0 (1G) and 1 (2G) of 64 KiB each, host-written and pre-faulted at 4K (16 leaves each);
// returns slot 1's host address. The set-up of the memslot-delete zap cases.
u64 two_populated_slots(Check& c, const Vm& v) {
  const u64 a = c.mmap(64 * KiB, Backing::anon_nohuge);
  const u64 b = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.must({c.api().touch(a, 64 * KiB), "touch"});
  c.must({c.api().touch(b, 64 * KiB), "touch"});
  c.add_slot(v.vm, make_region(0, 1 * GiB, 64 * KiB, a));
  c.add_slot(v.vm, make_region(1, 2 * GiB, 64 * KiB, b));
  populate(c, v.vcpu, 1 * GiB, 64 * KiB);
  populate(c, v.vcpu, 2 * GiB, 64 * KiB);
  return b;
}

}  // namespace

// Deleting a slot zaps its mappings; with the SLOT_ZAP_ALL quirk (default VMs) every mapping goes.
KVMSIM_CASE(hugepage, delete_zaps, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 b = two_populated_slots(c, v);
  const Stats before = c.stats(v.vm);
  c.add_slot(v.vm, make_region(1, 2 * GiB, 0, b));
  const bool zap_all = c.profile().slot_zap_all_quirk || c.profile().zap_all_on_slot_change;
  c.expect_stats_delta(before, c.stats(v.vm), pages(minus(zap_all ? 32 : 16), 0));
  c.expect_level(v.vm, 2 * GiB, 0);
}

KVMSIM_CASE(hugepage, move_zaps_old_range, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem));
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  const Stats before = c.stats(v.vm);
  c.add_slot(v.vm, make_region(0, 4 * GiB, 2 * MiB, mem));
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, minus(1)));
  c.expect_level(v.vm, 1 * GiB, 0);
  kvm_pre_fault_memory p{};
  p.gpa = 1 * GiB;
  p.size = 4 * KiB;
  // The move zapped everything (SLOT_ZAP_ALL): on 6.12 a pre-fault on the old vCPU never returns.
  const int vcpu = c.profile().prefault_hangs_after_zap_all ? c.create_vcpu(v.vm, 1) : v.vcpu;
  c.expect_err(c.pre_fault(vcpu, p), ENOENT);
}

// Enabling dirty logging (no manual protect) eagerly splits huge leaves when eager_page_split.
KVMSIM_CASE(hugepage, log_dirty_enable_splits, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem));
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  const Stats before = c.stats(v.vm);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES));
  c.expect_stats_delta(before, c.stats(v.vm), c.profile().eager_page_split ? pages(512, minus(1)) : pages(0, 0));
}

// Disabling it again recovers the 2M leaf in place (6.13+) or zaps the 4K leaves (older).
KVMSIM_CASE(hugepage, log_dirty_disable_recovers, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES));
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  const Stats before = c.stats(v.vm);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem));
  c.expect_stats_delta(before, c.stats(v.vm),
                       c.profile().dirty_log_disable_recovers_in_place ? pages(minus(512), 1) : pages(minus(512), 0));
}

// Changing attributes zaps every leaf overlapping the range, a partially covered 2M leaf entirely.
KVMSIM_CASE(hugepage, attribute_change_zaps, Need::tdp, Need::stats, Need::sw_protected_vm, Need::memory_attributes) {
  Vm v = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = touched_thp(c, 4 * MiB);
  c.add_slot(v.vm, make_region(0, 0, 4 * MiB, mem));
  populate(c, v.vcpu, 0, 4 * MiB);
  const Stats before = c.stats(v.vm);
  c.must(c.set_attributes(v.vm, 2 * MiB + 8 * KiB, 4 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, minus(1)));
  c.expect_level(v.vm, 0, 2);
  c.expect_level(v.vm, 2 * MiB, 0);
}

KVMSIM_CASE(hugepage, punch_hole_zaps_gmem_mappings, Need::tdp, Need::stats, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_memfd) {
  Vm v = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(2 * MiB, Backing::anon_nohuge);
  const int fd = c.create_gmem(v.vm, 2 * MiB);
  c.add_slot(v.vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  c.must(c.set_attributes(v.vm, 0, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  populate(c, v.vcpu, 0, 2 * MiB);
  const Stats before = c.stats(v.vm);
  c.must(c.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 64 * KiB, 64 * KiB));
  c.expect_stats_delta(before, c.stats(v.vm), pages(minus(16), 0));
  c.expect_level(v.vm, 64 * KiB, 0);
  c.expect_level(v.vm, 0, 1);
}

// MADV_DONTNEED invalidates through the MMU notifier.
KVMSIM_CASE(hugepage, madvise_dontneed_zaps, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.must({c.api().touch(mem, 64 * KiB), "touch"});
  c.add_slot(v.vm, make_region(0, 1 * GiB, 64 * KiB, mem));
  populate(c, v.vcpu, 1 * GiB, 64 * KiB);
  const Stats before = c.stats(v.vm);
  c.must({c.api().madvise(mem, 32 * KiB, MADV_DONTNEED), "madvise(MADV_DONTNEED)"});
  c.expect_stats_delta(before, c.stats(v.vm), pages(minus(8), 0));
}

// A guest write to a huge-zero-page mapping: before v6.13 the host CoWs at 4K and the 2M leaf is replaced by a 4K
// one; since v6.13 (Profile::huge_zero_wp_allocates_thp, do_huge_zero_wp_pmd) the host allocates a THP in its
// place and the refault maps it at 2M again (measured on the 7.3 oracle).
KVMSIM_CASE(hugepage, write_after_huge_zero_page_maps_4k, Need::tdp, Need::stats, Need::guest_access) {
  if (!c.profile().huge_zero_page) c.skip("host has no huge zero page");
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB, Backing::thp, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem));
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  const Stats before = c.stats(v.vm);
  c.expect_outcome(c.api().access(v.vcpu, 1 * GiB, AccessKind::write), outcome_ok(), "guest write");
  if (c.profile().huge_zero_wp_allocates_thp) {
    c.expect_stats_delta(before, c.stats(v.vm), pages(0, 0));
    c.expect_level(v.vm, 1 * GiB, 2);
  } else {
    c.expect_stats_delta(before, c.stats(v.vm), pages(1, minus(1)));
    c.expect_level(v.vm, 1 * GiB, 1);
  }
}

// With the SLOT_ZAP_ALL quirk disabled, deleting a slot zaps only that slot's leaves.
KVMSIM_CASE(hugepage, delete_without_zap_all_quirk, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const Call cap = c.check_extension(v.vm, KVM_CAP_DISABLE_QUIRKS2);
  if (cap.r.ret <= 0 || !(static_cast<u64>(cap.r.ret) & KVM_X86_QUIRK_SLOT_ZAP_ALL))
    c.skip("needs KVM_X86_QUIRK_SLOT_ZAP_ALL in KVM_CAP_DISABLE_QUIRKS2");
  c.must(c.enable_cap(v.vm, KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_SLOT_ZAP_ALL));
  const u64 b = two_populated_slots(c, v);
  const Stats before = c.stats(v.vm);
  c.add_slot(v.vm, make_region(1, 2 * GiB, 0, b));
  c.expect_stats_delta(before, c.stats(v.vm), pages(minus(16), 0));
  c.expect_level(v.vm, 1 * GiB, 1);
}

// An exec fault on a huge leaf: with the NX mitigation the leaf is split (children executable)
// and counted in nx_lpage_splits; without it nothing changes.
KVMSIM_CASE(hugepage, exec_fault_on_huge_page, Need::tdp, Need::stats, Need::guest_access) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = touched_thp(c, 2 * MiB);
  c.add_slot(v.vm, make_region(0, 1 * GiB, 2 * MiB, mem));
  populate(c, v.vcpu, 1 * GiB, 2 * MiB);
  const Stats before = c.stats(v.vm);
  c.expect_outcome(c.api().access(v.vcpu, 1 * GiB, AccessKind::exec), outcome_ok(), "guest exec");
  Stats want = c.profile().nx_huge_pages ? pages(512, minus(1)) : pages(0, 0);
  want["nx_lpage_splits"] = c.profile().nx_huge_pages ? 1 : 0;
  c.expect_stats_delta(before, c.stats(v.vm), want);
}
