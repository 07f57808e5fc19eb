// The observations table of docs/semantics/nested-observations.md §2, one named case per row: what a real Linux 6.12
// TDP MMU (the nested oracle, `kvmsim conformance --backend model,nested`) answers, which the model must
// answer too. The cases need the TDP MMU and its statistics, so on this host's shadow-paging /dev/kvm they
// skip naming the missing capability; they run on the model and on the nested backend.
// Differences from the measurement set-up in docs/semantics/nested-observations.md §1: there a guest program in slot 0 wrote the
// pages, so every row counted its code page (+1 4K or +1 2M). Here the access agent performs the writes
// from its own slot, whose leaves never show in the statistics (sim/kvm/guest_agent.h: the agent's host
// pages are dropped before every stats read, which zaps its leaves), so the rows read without it.
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

using Vm = Check::VmVcpu;

Stats pages(u64 k4, u64 m2, u64 g1 = 0) { return {{"pages_4k", k4}, {"pages_2m", m2}, {"pages_1g", g1}}; }

constexpr u64 kBase = 1 * GiB;  // every row's slot starts here (below the oracle's 1T GPA limit)

// The guest writes one byte in every 4K page of [gpa, gpa + size), as the measured guest program did.
void guest_writes(Check& c, int vcpu, u64 gpa, u64 size, std::source_location loc = std::source_location::current()) {
  for (u64 p = gpa; p < gpa + size; p += 4 * KiB) {
    AccessOutcome o = c.api().access(vcpu, p, AccessKind::write);
    if (o.kind != AccessOutcome::Kind::ok) c.fail_now("guest write at " + hex(p) + ": " + outcome_str(o), loc);
  }
}

// KVM_PRE_FAULT_MEMORY of [gpa, gpa + size) expected to return `ret` and leave gpa/size as given.
void expect_prefault(Check& c, int vcpu, u64 gpa, u64 size, Ret ret, u64 gpa_after, u64 size_after,
                     std::source_location loc = std::source_location::current()) {
  kvm_pre_fault_memory p{};
  p.gpa = gpa;
  p.size = size;
  Call call = c.pre_fault(vcpu, p);
  c.expect_ret(call, ret, loc);
  c.expect_eq(p.gpa, gpa_after, call.what + ": gpa written back", loc);
  c.expect_eq(p.size, size_after, call.what + ": size written back", loc);
}

// The writes rows: a 4 MiB slot of `backing` (hva `offset` bytes into a 2M-aligned mapping), written
// page by page by the guest, then the leaves counted.
void writes_row(Check& c, Backing backing, u64 offset, const Stats& expected) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(4 * MiB + offset, backing, 2 * MiB);
  c.add_slot(v.vm, make_region(0, kBase, 4 * MiB, mem + offset));
  const Stats before = c.stats(v.vm);
  guest_writes(c, v.vcpu, kBase, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), expected);
}

// The private-memory rows: a SW_PROTECTED VM, a 4 MiB slot on untouched THP memory (with or without a
// guest_memfd), PRIVATE on its upper 2 MiB.
struct PrivateRow {
  Vm v;
  u64 mem;
};
PrivateRow private_row(Check& c, bool with_gmem) {
  PrivateRow r{c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM), c.mmap(4 * MiB, Backing::thp, 2 * MiB)};
  if (with_gmem) {
    const int fd = c.create_gmem(r.v.vm, 4 * MiB);
    c.add_slot(r.v.vm, make_gmem_region(0, kBase, 4 * MiB, r.mem, fd));
  } else {
    c.add_slot(r.v.vm, make_region(0, kBase, 4 * MiB, r.mem));
  }
  c.must(c.set_attributes(r.v.vm, kBase + 2 * MiB, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  return r;
}

}  // namespace

// ---- guest writes 4 MiB (rows 1-5)

KVMSIM_CASE(hugepage, observed_nohugepage_writes_map_4k, Need::tdp, Need::stats, Need::guest_access) {
  writes_row(c, Backing::anon_nohuge, 0, pages(1024, 0));
}

// A write fault on untouched THP-eligible memory allocates a real THP in the host: 2M leaves.
KVMSIM_CASE(hugepage, observed_thp_writes_map_2m, Need::tdp, Need::stats, Need::guest_access) {
  writes_row(c, Backing::thp, 0, pages(0, 2));
}

KVMSIM_CASE(hugepage, observed_thp_hva_4k_off_maps_4k, Need::tdp, Need::stats, Need::guest_access) {
  writes_row(c, Backing::thp, 4 * KiB, pages(1024, 0));
}

KVMSIM_CASE(hugepage, observed_hugetlb_2m_writes_map_2m, Need::tdp, Need::stats, Need::guest_access, Need::hugetlb) {
  writes_row(c, Backing::hugetlb_2m, 0, pages(0, 2));
}

KVMSIM_CASE(hugepage, observed_hugetlb_1g_slot_maps_1g, Need::tdp, Need::stats, Need::guest_access, Need::hugetlb_1g,
            Need::one_g_pages) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(1 * GiB, Backing::hugetlb_1g, 1 * GiB);
  c.add_slot(v.vm, make_region(0, kBase, 1 * GiB, mem));
  const Stats before = c.stats(v.vm);
  guest_writes(c, v.vcpu, kBase, 16 * KiB);
  guest_writes(c, v.vcpu, kBase + 512 * MiB, 16 * KiB);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 0, 1));
}

// ---- KVM_PRE_FAULT_MEMORY on 6.12 (rows 6-11)

KVMSIM_CASE(prefault, observed_nohugepage_4m_maps_1024_4k, Need::pre_fault, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(4 * MiB, Backing::anon_nohuge, 2 * MiB);
  c.add_slot(v.vm, make_region(0, kBase, 4 * MiB, mem));
  const Stats before = c.stats(v.vm);
  expect_prefault(c, v.vcpu, kBase, 4 * MiB, Ret::ok(0), kBase + 4 * MiB, 0);
  c.expect_stats_delta(before, c.stats(v.vm), pages(1024, 0));
}

// A pre-fault is a read fault: untouched THP memory maps the host's huge zero page, read-only, at 2M.
KVMSIM_CASE(prefault, observed_untouched_thp_maps_huge_zero_page_2m, Need::pre_fault, Need::tdp, Need::stats) {
  if (!c.profile().huge_zero_page) c.skip("host has no huge zero page");
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(4 * MiB, Backing::thp, 2 * MiB);
  c.add_slot(v.vm, make_region(0, kBase, 4 * MiB, mem));
  const Stats before = c.stats(v.vm);
  expect_prefault(c, v.vcpu, kBase, 4 * MiB, Ret::ok(0), kBase + 4 * MiB, 0);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 2));
}

// ... then the guest writes it: on 6.12 the host copies-on-write at 4K, so every 2M leaf becomes 512 4K leaves.
// Since v6.13 (Profile::huge_zero_wp_allocates_thp; mm/huge_memory.c do_huge_zero_wp_pmd) the host allocates a
// THP in place of the huge zero page and the write maps it at 2M again: measured on the 7.3 oracle.
KVMSIM_CASE(prefault, observed_huge_zero_page_then_writes_map_4k, Need::pre_fault, Need::tdp, Need::stats,
            Need::guest_access) {
  if (!c.profile().huge_zero_page) c.skip("host has no huge zero page");
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(4 * MiB, Backing::thp, 2 * MiB);
  c.add_slot(v.vm, make_region(0, kBase, 4 * MiB, mem));
  const Stats before = c.stats(v.vm);
  expect_prefault(c, v.vcpu, kBase, 4 * MiB, Ret::ok(0), kBase + 4 * MiB, 0);
  guest_writes(c, v.vcpu, kBase, 4 * MiB);
  c.expect_stats_delta(before, c.stats(v.vm), c.profile().huge_zero_wp_allocates_thp ? pages(0, 2) : pages(1024, 0));
}

KVMSIM_CASE(prefault, observed_hugetlb_1g_maps_1g, Need::pre_fault, Need::tdp, Need::stats, Need::hugetlb_1g,
            Need::one_g_pages) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(1 * GiB, Backing::hugetlb_1g, 1 * GiB);
  c.add_slot(v.vm, make_region(0, kBase, 1 * GiB, mem));
  const Stats before = c.stats(v.vm);
  expect_prefault(c, v.vcpu, kBase, 4 * KiB, Ret::ok(0), kBase + 4 * KiB, 0);
  c.expect_stats_delta(before, c.stats(v.vm), pages(0, 0, 1));
}

KVMSIM_CASE(prefault, observed_outside_every_slot_is_enoent, Need::pre_fault, Need::tdp) {
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB, Backing::anon_nohuge);
  c.add_slot(v.vm, make_region(0, kBase, 2 * MiB, mem));
  expect_prefault(c, v.vcpu, 2 * kBase, 4 * KiB, Ret::fail(ENOENT), 2 * kBase, 4 * KiB);
}

// Without the TDP MMU (kvm_amd.npt=0 on the oracle, profile linux-6.12-shadow) the ioctl exists but the
// arch step refuses: EOPNOTSUPP, nothing consumed.
KVMSIM_CASE(prefault, observed_without_tdp_is_eopnotsupp, Need::no_pre_fault) {
  if (!c.profile().has_pre_fault) c.skip("KVM_PRE_FAULT_MEMORY does not exist in this kernel");
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB, Backing::anon_nohuge);
  c.add_slot(v.vm, make_region(0, kBase, 2 * MiB, mem));
  expect_prefault(c, v.vcpu, kBase, 4 * KiB, Ret::fail(EOPNOTSUPP), kBase, 4 * KiB);
}

// ---- dirty logging on a 1 GiB hugetlb slot (rows 12-13) and a slot move (row 14)

KVMSIM_CASE(dirtylog, observed_1g_enable_splits_to_4k_disable_zaps, Need::pre_fault, Need::tdp, Need::stats,
            Need::hugetlb_1g, Need::one_g_pages) {
  if (!c.profile().eager_page_split) c.skip("eager page split is off in this profile");
  Vm v = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(1 * GiB, Backing::hugetlb_1g, 1 * GiB);
  c.add_slot(v.vm, make_region(0, kBase, 1 * GiB, mem));
  expect_prefault(c, v.vcpu, kBase, 4 * KiB, Ret::ok(0), kBase + 4 * KiB, 0);
  const Stats mapped = c.stats(v.vm);
  c.add_slot(v.vm, make_region(0, kBase, 1 * GiB, mem, KVM_MEM_LOG_DIRTY_PAGES));
  const Stats logging = c.stats(v.vm);
  c.expect_stats_delta(mapped, logging, pages(262144, 0, static_cast<u64>(-1)));  // eager split straight to 4K
  c.add_slot(v.vm, make_region(0, kBase, 1 * GiB, mem));
  if (c.profile().dirty_log_disable_recovers_in_place)
    c.expect_stats_delta(logging, c.stats(v.vm), {{"pages_4k", static_cast<u64>(-262144)}});
  else
    c.expect_stats_delta(logging, c.stats(v.vm), pages(static_cast<u64>(-262144), 0, 0));  // zapped, no recovery
}

// Moving a slot of a DEFAULT VM with the SLOT_ZAP_ALL quirk (6.12 default; 6.1 always) zaps every leaf
// of the VM, not only the moved slot's. (No pre-fault follows on this vCPU: on 6.12.117 a pre-fault on a
// vCPU whose root a zap-all made obsolete never returns, docs/nested.md.)
KVMSIM_CASE(hugepage, observed_slot_move_zaps_every_mapping, Need::pre_fault, Need::tdp, Need::stats) {
  Vm v = c.create_vm_with_vcpu();
  const u64 a = c.mmap(64 * KiB, Backing::anon_nohuge), b = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(v.vm, make_region(0, kBase, 64 * KiB, a));
  c.add_slot(v.vm, make_region(1, 2 * kBase, 64 * KiB, b));
  expect_prefault(c, v.vcpu, kBase, 64 * KiB, Ret::ok(0), kBase + 64 * KiB, 0);
  expect_prefault(c, v.vcpu, 2 * kBase, 64 * KiB, Ret::ok(0), 2 * kBase + 64 * KiB, 0);
  const Stats before = c.stats(v.vm);
  c.add_slot(v.vm, make_region(1, 3 * kBase, 64 * KiB, b));
  const bool zap_all = c.profile().slot_zap_all_quirk || c.profile().zap_all_on_slot_change;
  const u64 zapped = zap_all ? 32 : 16;
  c.expect_stats_delta(before, c.stats(v.vm), pages(static_cast<u64>(-static_cast<i64>(zapped)), 0));
}

// ---- private memory, SW_PROTECTED VM (rows 15-18)

// Pre-fault of a guest_memfd slot half PRIVATE: the private half maps from guest_memfd at 4K only, the
// shared half from the (untouched THP) hva: the huge zero page at 2M.
KVMSIM_CASE(attributes, observed_gmem_private_half_4k_shared_half_2m, Need::pre_fault, Need::tdp, Need::stats,
            Need::sw_protected_vm, Need::memory_attributes, Need::guest_memfd, Need::user_memory2) {
  PrivateRow r = private_row(c, true);
  const Stats before = c.stats(r.v.vm);
  expect_prefault(c, r.v.vcpu, kBase, 4 * MiB, Ret::ok(0), kBase + 4 * MiB, 0);
  c.expect_stats_delta(before, c.stats(r.v.vm), c.profile().huge_zero_page ? pages(512, 1) : pages(1024, 0));
}

// ... then the guest writes all 4 MiB: the private half stays 4K; the shared half copies-on-write at 4K on 6.12,
// and since v6.13 (huge_zero_wp_allocates_thp) gets a THP in place of the huge zero page and stays 2M (7.3 oracle).
KVMSIM_CASE(attributes, observed_gmem_half_private_then_writes_map_4k, Need::pre_fault, Need::tdp, Need::stats,
            Need::sw_protected_vm, Need::memory_attributes, Need::guest_memfd, Need::user_memory2,
            Need::guest_access) {
  PrivateRow r = private_row(c, true);
  const Stats before = c.stats(r.v.vm);
  expect_prefault(c, r.v.vcpu, kBase, 4 * MiB, Ret::ok(0), kBase + 4 * MiB, 0);
  guest_writes(c, r.v.vcpu, kBase, 4 * MiB);
  const bool thp = c.profile().huge_zero_page && c.profile().huge_zero_wp_allocates_thp;
  c.expect_stats_delta(before, c.stats(r.v.vm), thp ? pages(512, 1) : pages(1024, 0));
}

// Without a guest_memfd the private half cannot be faulted: pre-fault returns 0 with gpa/size advanced
// to it (partial progress hides the error) ...
KVMSIM_CASE(attributes, observed_no_gmem_prefault_stops_at_private_half, Need::pre_fault, Need::tdp,
            Need::sw_protected_vm, Need::memory_attributes) {
  PrivateRow r = private_row(c, false);
  expect_prefault(c, r.v.vcpu, kBase, 4 * MiB, Ret::ok(0), kBase + 2 * MiB, 2 * MiB);
  expect_prefault(c, r.v.vcpu, kBase + 2 * MiB, 2 * MiB, Ret::fail(EFAULT), kBase + 2 * MiB, 2 * MiB);
}

// ... and a guest access there exits KVM_RUN with -1 EFAULT and KVM_EXIT_MEMORY_FAULT (private, 4K).
KVMSIM_CASE(access, observed_no_gmem_private_access_is_memory_fault, Need::tdp, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_access) {
  PrivateRow r = private_row(c, false);
  c.expect_outcome(c.api().access(r.v.vcpu, kBase + 2 * MiB, AccessKind::write),
                   outcome_memory_fault(KVM_MEMORY_EXIT_FLAG_PRIVATE, kBase + 2 * MiB, 4 * KiB), "guest write");
}
