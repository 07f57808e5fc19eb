// KVM_SET_USER_MEMORY_REGION / REGION2 (docs/semantics/memslots.md §2-§3; docs/semantics/host-kvm-pvm.md §2).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

// Runs `r` through v1 and (when the backend has it) v2, expecting the same result from both.
void expect_both(Check& c, int vm, const Region& r, Ret expected,
                 std::source_location loc = std::source_location::current()) {
  c.expect_ret(c.region(vm, r), expected, loc);
  if (c.has(Need::user_memory2)) c.expect_ret(c.region2(vm, r), expected, loc);
}

u32 as_slot(u32 as_id, u32 id) { return as_id << 16 | id; }

}  // namespace

// ---- alignment (docs/semantics/memslots.md §2 steps 6-8) ----

KVMSIM_CASE(memslot, gpa_unaligned) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  expect_both(c, vm, make_region(0, 0x100001, 4 * KiB, mem), Ret::fail(EINVAL));
  expect_both(c, vm, make_region(0, 0x100800, 4 * KiB, mem), Ret::fail(EINVAL));
}

KVMSIM_CASE(memslot, size_unaligned) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  expect_both(c, vm, make_region(0, 1 * MiB, 0x1001, mem), Ret::fail(EINVAL));
  expect_both(c, vm, make_region(0, 1 * MiB, 0x800, mem), Ret::fail(EINVAL));
}

KVMSIM_CASE(memslot, uaddr_unaligned) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  expect_both(c, vm, make_region(0, 1 * MiB, 4 * KiB, mem + 1), Ret::fail(EINVAL));
  expect_both(c, vm, make_region(0, 1 * MiB, 4 * KiB, mem + 0x800), Ret::fail(EINVAL));
}

// The host mapping is only looked at when the guest faults (docs/semantics/memslots.md §2: access_ok, not mapped-ness).
KVMSIM_CASE(memslot, uaddr_unmapped_accepted) {
  const int vm = c.create_vm();
  c.expect_ok(c.region(vm, make_region(0, 1 * MiB, 64 * KiB, 0x7000000000ull)));
}

KVMSIM_CASE(memslot, uaddr_prot_none_and_read_accepted) {
  const int vm = c.create_vm();
  const u64 a = c.mmap(64 * KiB);
  const u64 b = c.mmap(64 * KiB);
  c.must({c.api().mprotect(a, 64 * KiB, PROT_NONE), "mprotect(PROT_NONE)"});
  c.must({c.api().mprotect(b, 64 * KiB, PROT_READ), "mprotect(PROT_READ)"});
  c.expect_ok(c.region(vm, make_region(0, 1 * MiB, 64 * KiB, a)));
  c.expect_ok(c.region(vm, make_region(1, 2 * MiB, 64 * KiB, b)));
}

KVMSIM_CASE(memslot, uaddr_zero_accepted) {
  const int vm = c.create_vm();
  c.expect_ok(c.region(vm, make_region(0, 1 * MiB, 64 * KiB, 0)));
}

KVMSIM_CASE(memslot, uaddr_kernel_address) {
  const int vm = c.create_vm();
  expect_both(c, vm, make_region(0, 1 * MiB, 4 * KiB, 0xffff888000000000ull), Ret::fail(EINVAL));
}

KVMSIM_CASE(memslot, uaddr_end_of_user_space) {
  const int vm = c.create_vm();
  expect_both(c, vm, make_region(0, 1 * MiB, 4 * KiB, 0x7ffffffff000ull), Ret::fail(EINVAL));
  expect_both(c, vm, make_region(0, 1 * MiB, 8 * KiB, 0x7ffffffff000ull), Ret::fail(EINVAL));
}

KVMSIM_CASE(memslot, uaddr_plus_size_wraps) {
  const int vm = c.create_vm();
  expect_both(c, vm, make_region(0, 1 * MiB, 2 * MiB, 0xfffffffffff00000ull), Ret::fail(EINVAL));
}

// ---- slot ids and address spaces (docs/semantics/memslots.md §2 steps 3, 10) ----

KVMSIM_CASE(memslot, slot_id_limits) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  c.expect_ok(c.region(vm, make_region(KVM_USER_MEM_SLOTS - 1, 0, 4 * KiB, mem)));
  c.expect_err(c.region(vm, make_region(KVM_USER_MEM_SLOTS, 1 * MiB, 4 * KiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(32766, 1 * MiB, 4 * KiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(32767, 1 * MiB, 4 * KiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(0xffff, 1 * MiB, 4 * KiB, mem)), EINVAL);
}

// as_id 1 is valid only with SMM (KVM_CAP_MULTI_ADDRESS_SPACE 2); as_id 2 never on x86.
KVMSIM_CASE(memslot, address_space_ids) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  const Ret as1 = c.caps().nr_as_default_vm >= 2 ? Ret::ok(0) : Ret::fail(EINVAL);
  c.expect_ret(c.region(vm, make_region(as_slot(1, 0), 0, 4 * KiB, mem)), as1);
  c.expect_err(c.region(vm, make_region(as_slot(2, 0), 0, 4 * KiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(as_slot(2, 0), 0, 0, mem)), EINVAL);
}

// Overlap is only checked within one address space.
KVMSIM_CASE(memslot, smm_space_may_overlap_normal_space, Need::smm_address_space) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.expect_ok(c.region(vm, make_region(as_slot(0, 0), 0, 2 * MiB, mem)));
  c.expect_ok(c.region(vm, make_region(as_slot(1, 0), 0, 2 * MiB, mem)));
  c.expect_err(c.region(vm, make_region(as_slot(1, 1), 1 * MiB, 2 * MiB, mem)), EEXIST);
  c.expect_ok(c.region(vm, make_region(as_slot(1, 0), 0, 0, mem)));
  c.expect_ok(c.region(vm, make_region(as_slot(0, 0), 0, 0, mem)));
}

KVMSIM_CASE(memslot, private_vm_has_one_address_space, Need::sw_protected_vm) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(64 * KiB);
  c.expect_err(c.region(vm, make_region(as_slot(1, 0), 0, 4 * KiB, mem)), EINVAL);
  c.expect_ok(c.region(vm, make_region(as_slot(0, 0), 0, 4 * KiB, mem)));
}

// ---- flags (docs/semantics/memslots.md §2 steps 2, 4) ----

KVMSIM_CASE(memslot, flags_valid, Need::readonly_mem) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.expect_ok(c.region(vm, make_region(0, 0, 64 * KiB, mem, KVM_MEM_LOG_DIRTY_PAGES)));
  c.expect_ok(c.region(vm, make_region(1, 1 * MiB, 64 * KiB, mem, KVM_MEM_READONLY)));
  c.expect_ok(c.region(vm, make_region(2, 2 * MiB, 64 * KiB, mem, KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES)));
}

// Every undefined bit through v1, including the v2-only GUEST_MEMFD (set_memory_region_test).
KVMSIM_CASE(memslot, flags_invalid_v1) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  for (int bit = 2; bit < 32; ++bit)
    c.expect_err(c.region(vm, make_region(0, 0, 64 * KiB, mem, 1u << bit)), EINVAL);
}

KVMSIM_CASE(memslot, flags_invalid_v2, Need::user_memory2) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  for (int bit = 3; bit < 32; ++bit)
    c.expect_err(c.region2(vm, make_region(0, 0, 64 * KiB, mem, 1u << bit)), EINVAL);
}

// pad1/pad2 and the guest_memfd fields are not looked at without KVM_MEM_GUEST_MEMFD.
KVMSIM_CASE(memslot, v2_padding_and_unused_fields_ignored, Need::user_memory2) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  Region r = make_region(0, 0, 64 * KiB, mem);
  r.pad1 = 1;
  r.pad2[3] = 9;
  r.guest_memfd = 12345;
  r.guest_memfd_offset = 0x123;
  c.expect_ok(c.region2(vm, r));
}

// ---- sizes and GPA limits (docs/semantics/memslots.md §2 steps 11, 12, 19) ----

KVMSIM_CASE(memslot, too_many_pages_per_slot) {
  const int vm = c.create_vm();
  const u64 max = KVM_MEM_MAX_NR_PAGES * kPageSize;  // 8 TiB - 4 KiB
  c.expect_err(c.region(vm, make_region(1, 16ull << 40, max + kPageSize, 1ull << 44)), EINVAL);
}

KVMSIM_CASE(memslot, max_pages_per_slot_accepted) {
  // Without TDP the shadow MMU allocates (and zeroes) 8 bytes of rmap per page: 16 GiB here.
  if (!c.has(Need::tdp)) c.skip("an 8 TiB slot costs 16 GiB of shadow-MMU rmaps on this host");
  // The nested oracle's vCPU has MAXPHYADDR 40: an 8 TiB slot does not fit below its last gfn (gpa_limit
  // checks that boundary instead).
  if (c.profile().max_gfn + 1 < KVM_MEM_MAX_NR_PAGES) c.skip("the guest physical address space is smaller than 8 TiB");
  const int vm = c.create_vm();
  const u64 max = KVM_MEM_MAX_NR_PAGES * kPageSize;  // never touched
  c.expect_ok(c.region(vm, make_region(0, 0, max, 1ull << 44)));
}

// The highest slot ends exactly at (kvm_mmu_max_gfn + 1) pages; one page more is EINVAL.
KVMSIM_CASE(memslot, gpa_limit) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  const u64 end = (c.profile().max_gfn + 1) << kPageShift;
  c.expect_ok(c.region(vm, make_region(0, end - 4 * KiB, 4 * KiB, mem)));
  c.expect_ok(c.region(vm, make_region(0, end - 4 * KiB, 0, mem)));  // (overlap would be EEXIST first)
  c.expect_err(c.region(vm, make_region(1, end, 4 * KiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(1, end - 4 * KiB, 8 * KiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(1, 1ull << 63, 4 * KiB, mem)), EINVAL);
}

KVMSIM_CASE(memslot, gpa_plus_size_wraps) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  c.expect_err(c.region(vm, make_region(0, 0xfffffffffffff000ull, 8 * KiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(0, 0xfffffffffffff000ull, 4 * KiB, mem)), EINVAL);
}

// NR_MEMSLOTS slots can be created, one more cannot (set_memory_region_test).
KVMSIM_CASE(memslot, fill_all_slots) {
  const int vm = c.create_vm();
  const u64 nr = c.caps().nr_memslots;
  c.expect_eq(nr, KVM_USER_MEM_SLOTS, "KVM_CAP_NR_MEMSLOTS");
  const u64 mem = c.mmap(4 * KiB);
  for (u64 i = 0; i < nr; ++i) {
    if (!c.expect_ok(c.region(vm, make_region(static_cast<u32>(i), i * 4 * KiB, 4 * KiB, mem)))) return;
  }
  c.expect_err(c.region(vm, make_region(static_cast<u32>(nr), nr * 4 * KiB, 4 * KiB, mem)), EINVAL);
}

// ---- overlap (docs/semantics/memslots.md §2 step 16) ----

KVMSIM_CASE(memslot, overlap_identical) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(4 * MiB);
  c.add_slot(vm, make_region(0, 1 * MiB, 1 * MiB, mem));
  c.expect_err(c.region(vm, make_region(1, 1 * MiB, 1 * MiB, mem)), EEXIST);
}

KVMSIM_CASE(memslot, overlap_partial_head_and_tail) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(4 * MiB);
  c.add_slot(vm, make_region(0, 1 * MiB, 1 * MiB, mem));
  c.expect_err(c.region(vm, make_region(1, 1 * MiB - 4 * KiB, 8 * KiB, mem)), EEXIST);
  c.expect_err(c.region(vm, make_region(1, 2 * MiB - 4 * KiB, 8 * KiB, mem)), EEXIST);
}

KVMSIM_CASE(memslot, overlap_superset_and_subset) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(4 * MiB);
  c.add_slot(vm, make_region(0, 1 * MiB, 1 * MiB, mem));
  c.expect_err(c.region(vm, make_region(1, 0, 4 * MiB, mem)), EEXIST);
  c.expect_err(c.region(vm, make_region(1, 1 * MiB + 64 * KiB, 64 * KiB, mem)), EEXIST);
}

KVMSIM_CASE(memslot, adjacent_slots) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(4 * MiB);
  c.add_slot(vm, make_region(0, 1 * MiB, 1 * MiB, mem));
  c.expect_ok(c.region(vm, make_region(1, 2 * MiB, 1 * MiB, mem)));
  c.expect_ok(c.region(vm, make_region(2, 1 * MiB - 4 * KiB, 4 * KiB, mem)));
}

// Host VA overlap between slots is allowed.
KVMSIM_CASE(memslot, alias_same_uaddr) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_ok(c.region(vm, make_region(1, 1 * GiB, 2 * MiB, mem)));
}

// ---- delete (docs/semantics/memslots.md §2 step 14) ----

KVMSIM_CASE(memslot, delete_nonexistent) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  expect_both(c, vm, make_region(5, 0, 0, mem), Ret::fail(EINVAL));
}

KVMSIM_CASE(memslot, delete_twice) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  c.add_slot(vm, make_region(0, 0, 64 * KiB, mem));
  c.expect_ok(c.region(vm, make_region(0, 0, 0, mem)));
  c.expect_err(c.region(vm, make_region(0, 0, 0, mem)), EINVAL);
}

// Flag validity and alignment are checked before the delete is recognised.
KVMSIM_CASE(memslot, delete_still_checks_alignment_and_flags) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  c.add_slot(vm, make_region(0, 0, 64 * KiB, mem));
  c.expect_err(c.region(vm, make_region(0, 0x800, 0, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(0, 0, 0, mem + 1)), EINVAL);
  c.expect_err(c.region(vm, make_region(0, 0, 0, mem, 1u << 3)), EINVAL);
  // The slot survived every failed delete.
  c.expect_err(c.region(vm, make_region(1, 0, 64 * KiB, mem)), EEXIST);
  c.expect_ok(c.region(vm, make_region(0, 0, 0, mem)));
}

// Once valid, a delete ignores gpa, uaddr and flags.
KVMSIM_CASE(memslot, delete_ignores_other_fields, Need::readonly_mem) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  const u64 other = c.mmap(64 * KiB);
  c.add_slot(vm, make_region(0, 0, 64 * KiB, mem));
  c.add_slot(vm, make_region(1, 1 * MiB, 64 * KiB, mem));
  c.expect_ok(c.region(vm, make_region(0, 5 * GiB, 0, other)));
  c.expect_ok(c.region(vm, make_region(1, 0, 0, mem, KVM_MEM_READONLY)));
  c.expect_ok(c.region(vm, make_region(2, 0, 128 * KiB, mem)));  // the range is free again
}

KVMSIM_CASE(memslot, recreate_after_delete_with_new_uaddr) {
  const int vm = c.create_vm();
  const u64 a = c.mmap(2 * MiB);
  const u64 b = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, a));
  c.expect_ok(c.region(vm, make_region(0, 0, 0, a)));
  c.expect_ok(c.region(vm, make_region(0, 0, 1 * MiB, b, 0)));
}

// ---- modify (docs/semantics/memslots.md §2 step 15) ----

KVMSIM_CASE(memslot, modify_identical_is_noop) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  expect_both(c, vm, make_region(0, 0, 2 * MiB, mem), Ret::ok(0));
}

KVMSIM_CASE(memslot, modify_toggle_log_dirty) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_ok(c.region(vm, make_region(0, 0, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES)));
  c.expect_ok(c.region(vm, make_region(0, 0, 2 * MiB, mem)));
  c.expect_ok(c.region(vm, make_region(0, 0, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES)));
}

KVMSIM_CASE(memslot, modify_readonly_bit, Need::readonly_mem) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 1 * MiB, mem));
  c.add_slot(vm, make_region(1, 1 * MiB, 1 * MiB, mem, KVM_MEM_READONLY));
  c.expect_err(c.region(vm, make_region(0, 0, 1 * MiB, mem, KVM_MEM_READONLY)), EINVAL);
  c.expect_err(c.region(vm, make_region(1, 1 * MiB, 1 * MiB, mem)), EINVAL);
}

KVMSIM_CASE(memslot, modify_size) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(4 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_err(c.region(vm, make_region(0, 0, 4 * MiB, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(0, 0, 1 * MiB, mem)), EINVAL);
}

KVMSIM_CASE(memslot, modify_uaddr) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(4 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_err(c.region(vm, make_region(0, 0, 2 * MiB, mem + 2 * MiB)), EINVAL);
  c.expect_err(c.region(vm, make_region(0, 4 * MiB, 2 * MiB, mem + 4 * KiB)), EINVAL);
}

// ---- move (docs/semantics/memslots.md §2 steps 15-16) ----

KVMSIM_CASE(memslot, move_slot) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_ok(c.region(vm, make_region(0, 1 * GiB, 2 * MiB, mem)));
  // The old range is free, the new one taken.
  c.expect_ok(c.region(vm, make_region(1, 0, 2 * MiB, mem)));
  c.expect_err(c.region(vm, make_region(2, 1 * GiB, 4 * KiB, mem)), EEXIST);
}

KVMSIM_CASE(memslot, move_with_log_dirty_change) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_ok(c.region(vm, make_region(0, 1 * GiB, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES)));
}

KVMSIM_CASE(memslot, move_onto_occupied_range) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.add_slot(vm, make_region(1, 1 * GiB, 2 * MiB, mem));
  c.expect_err(c.region(vm, make_region(0, 1 * GiB + 1 * MiB, 2 * MiB, mem)), EEXIST);
}

// A slot may overlap its own old range while moving.
KVMSIM_CASE(memslot, move_overlapping_itself) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_ok(c.region(vm, make_region(0, 4 * KiB, 2 * MiB, mem)));
}

KVMSIM_CASE(memslot, move_readonly_slot, Need::readonly_mem) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem, KVM_MEM_READONLY));
  c.expect_ok(c.region(vm, make_region(0, 1 * GiB, 2 * MiB, mem, KVM_MEM_READONLY)));
}

// A GUEST_MEMFD request over an existing non-gmem slot is a modify carrying the flag: EINVAL.
KVMSIM_CASE(memslot, modify_to_guest_memfd, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  const int gmem = c.create_gmem(vm, 2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, gmem)), EINVAL);
}

// Deletes go through the same as_id check: an absent address space is EINVAL, not "no slot".
KVMSIM_CASE(memslot, address_space_ids_on_delete) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(64 * KiB);
  c.add_slot(vm, make_region(0, 0, 4 * KiB, mem));
  // With SMM, as_id 1 exists but holds no slot 0: deleting it is EINVAL all the same.
  c.expect_err(c.region(vm, make_region(as_slot(1, 0), 0, 0, mem)), EINVAL);
  c.expect_err(c.region(vm, make_region(as_slot(3, 0), 0, 0, mem)), EINVAL);
  c.expect_ok(c.region(vm, make_region(as_slot(0, 0), 0, 0, mem)));
}
