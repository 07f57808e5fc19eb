// Dirty logging: KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2),
// the dirty ring's enable rules (docs/semantics/dirty-log.md; docs/semantics/host-kvm-pvm.md §5; dirty_log_test.c).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

constexpr u64 kPages = 512;  // a 2 MiB slot

// A VM with slot 0 = 512 pages with LOG_DIRTY_PAGES at GPA 1G; returns the VM fd.
int vm_with_logged_slot(Check& c, bool manual = false, bool initially_set = false) {
  const int vm = c.create_vm();
  if (manual) {
    u64 arg = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | (initially_set ? KVM_DIRTY_LOG_INITIALLY_SET : 0);
    c.must(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, arg));
  }
  const u64 mem = c.mmap(kPages * kPageSize, Backing::anon_nohuge);
  c.add_slot(vm, make_region(0, 1 * GiB, kPages * kPageSize, mem, KVM_MEM_LOG_DIRTY_PAGES));
  return vm;
}

int popcount(const std::vector<u64>& bitmap) {
  int n = 0;
  for (u64 w : bitmap) n += __builtin_popcountll(w);
  return n;
}

std::vector<u64> all_ones() { return std::vector<u64>(kPages / 64, ~0ull); }

}  // namespace

KVMSIM_CASE(dirtylog, get_on_unlogged_or_missing_slot) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  std::vector<u64> bitmap;
  c.expect_err(c.get_dirty_log(vm, 0, bitmap), ENOENT);
  c.expect_err(c.get_dirty_log(vm, 7, bitmap), ENOENT);
}

KVMSIM_CASE(dirtylog, get_bad_slot_id) {
  const int vm = c.create_vm();
  std::vector<u64> bitmap;
  c.expect_err(c.get_dirty_log(vm, KVM_USER_MEM_SLOTS, bitmap), EINVAL);
  c.expect_err(c.get_dirty_log(vm, 0xffff, bitmap), EINVAL);
  c.expect_err(c.get_dirty_log(vm, 2u << 16, bitmap), EINVAL);
  // as_id 1 exists only with SMM; there it is merely an absent slot.
  c.expect_err(c.get_dirty_log(vm, 1u << 16, bitmap), c.caps().nr_as_default_vm >= 2 ? ENOENT : EINVAL);
}

KVMSIM_CASE(dirtylog, get_fresh_slot_is_clean) {
  const int vm = vm_with_logged_slot(c);
  std::vector<u64> bitmap;
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(bitmap.size(), kPages / 64, "bitmap words");
  c.expect_eq(static_cast<u64>(popcount(bitmap)), 0, "dirty bits after creation");
}

// Enabling LOG_DIRTY_PAGES later creates the bitmap; disabling it drops it.
KVMSIM_CASE(dirtylog, get_follows_flag_toggle) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  std::vector<u64> bitmap;
  c.expect_err(c.get_dirty_log(vm, 0, bitmap), ENOENT);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES));
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  c.expect_err(c.get_dirty_log(vm, 0, bitmap), ENOENT);
}

KVMSIM_CASE(dirtylog, enable_manual_protect_args, Need::manual_dirty_log) {
  const int vm = c.create_vm();
  c.expect_err(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 4), EINVAL);
  c.expect_err(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_DIRTY_LOG_INITIALLY_SET), EINVAL);
  c.expect_err(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 1, 1), EINVAL);
  c.expect_ok(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 1));
  c.expect_ok(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 3));
  c.expect_ok(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0));  // disabling is allowed
}

KVMSIM_CASE(dirtylog, enable_manual_protect_after_slots_exist, Need::manual_dirty_log) {
  const int vm = vm_with_logged_slot(c);
  c.expect_ok(c.enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 3));
}

// INITIALLY_SET: a slot created afterwards starts all-dirty; GET does not clear, CLEAR does.
KVMSIM_CASE(dirtylog, initially_set_get_and_clear, Need::manual_dirty_log) {
  const int vm = vm_with_logged_slot(c, true, true);
  std::vector<u64> bitmap;
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), kPages, "dirty bits (initially set)");
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), kPages, "dirty bits after a second GET");
  c.expect_ok(c.clear_dirty_log(vm, 0, 0, kPages, all_ones()));
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), 0, "dirty bits after CLEAR");
}

KVMSIM_CASE(dirtylog, clear_single_bit, Need::manual_dirty_log) {
  const int vm = vm_with_logged_slot(c, true, true);
  std::vector<u64> one(1, 1ull << 3);
  c.expect_ok(c.clear_dirty_log(vm, 0, 0, 64, one));
  std::vector<u64> bitmap;
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), kPages - 1, "dirty bits after clearing page 3");
  c.expect_eq(bitmap.empty() ? 0 : (bitmap[0] >> 3) & 1, 0, "bit 3");
  c.expect_eq(bitmap.empty() ? 0 : (bitmap[0] >> 4) & 1, 1, "bit 4");
}

// Without INITIALLY_SET, manual protect starts clean and GET does not clear.
KVMSIM_CASE(dirtylog, manual_protect_without_initially_set, Need::manual_dirty_log) {
  const int vm = vm_with_logged_slot(c, true, false);
  std::vector<u64> bitmap;
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), 0, "dirty bits");
}

KVMSIM_CASE(dirtylog, clear_alignment_rules) {
  const int vm = vm_with_logged_slot(c);
  const std::vector<u64> ones = all_ones();
  c.expect_err(c.clear_dirty_log(vm, 0, 1, 64, ones), EINVAL);     // first_page not a multiple of 64
  c.expect_err(c.clear_dirty_log(vm, 0, 0, 63, ones), EINVAL);     // short, and not up to the end
  c.expect_ok(c.clear_dirty_log(vm, 0, 448, 64, ones));            // exactly to the end
  c.expect_ok(c.clear_dirty_log(vm, 0, 64, 448, ones));            // aligned, to the end
}

KVMSIM_CASE(dirtylog, clear_bounds) {
  const int vm = vm_with_logged_slot(c);
  const std::vector<u64> ones(16, ~0ull);
  c.expect_err(c.clear_dirty_log(vm, 0, 448, 70, ones), EINVAL);   // past the end
  c.expect_err(c.clear_dirty_log(vm, 0, 576, 64, ones), EINVAL);   // first_page > npages
  c.expect_ok(c.clear_dirty_log(vm, 0, 0, 0, ones));               // nothing to clear
  c.expect_ok(c.clear_dirty_log(vm, 0, 512, 0, ones));             // first_page == npages, empty
  c.expect_err(c.clear_dirty_log(vm, 0, 0, 448 + 8, ones), EINVAL);  // not a multiple of 64, not to the end
}

KVMSIM_CASE(dirtylog, clear_on_unlogged_or_missing_slot) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  const std::vector<u64> ones = all_ones();
  c.expect_err(c.clear_dirty_log(vm, 0, 0, 64, ones), ENOENT);
  c.expect_err(c.clear_dirty_log(vm, 9, 0, 64, ones), ENOENT);
}

KVMSIM_CASE(dirtylog, clear_bad_slot_id) {
  const int vm = vm_with_logged_slot(c);
  const std::vector<u64> ones = all_ones();
  c.expect_err(c.clear_dirty_log(vm, KVM_USER_MEM_SLOTS, 0, 64, ones), EINVAL);
  c.expect_err(c.clear_dirty_log(vm, 2u << 16, 0, 64, ones), EINVAL);
  c.expect_err(c.clear_dirty_log(vm, 1u << 16, 0, 64, ones), c.caps().nr_as_default_vm >= 2 ? ENOENT : EINVAL);
}

// CLEAR works whether or not manual protect was enabled.
KVMSIM_CASE(dirtylog, clear_without_manual_protect) {
  const int vm = vm_with_logged_slot(c);
  c.expect_ok(c.clear_dirty_log(vm, 0, 0, kPages, all_ones()));
}

// ---- dirty ring enable rules (kvm_vm_ioctl_enable_dirty_log_ring) ----

KVMSIM_CASE(dirtylog, ring_size_rules, Need::dirty_log_ring) {
  for (u64 size : {0ull, 100ull, 2048ull, 4096ull + 16}) {
    const int vm = c.create_vm();
    c.expect_err(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, size), EINVAL);
  }
  const int big = c.create_vm();
  c.expect_err(c.enable_cap(big, KVM_CAP_DIRTY_LOG_RING, c.caps().dirty_ring_max_bytes * 2), E2BIG);
  const int vm = c.create_vm();
  c.expect_ok(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, 4096));
  c.expect_err(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, 4096), EINVAL);  // second enable
}

KVMSIM_CASE(dirtylog, ring_after_vcpu_creation, Need::dirty_log_ring) {
  const int vm = c.create_vm();
  c.create_vcpu(vm);
  c.expect_err(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, 4096), EINVAL);
}

// With a ring (and no bitmap fallback) the bitmap ioctls are ENXIO.
KVMSIM_CASE(dirtylog, ring_disables_bitmap_ioctls, Need::dirty_log_ring) {
  const int vm = c.create_vm();
  c.must(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, 4096));
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 1 * GiB, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES));
  std::vector<u64> bitmap;
  c.expect_err(c.get_dirty_log(vm, 0, bitmap), ENXIO);
  c.expect_err(c.clear_dirty_log(vm, 0, 0, 64, all_ones()), ENXIO);
}

// ---- guest writes (needs a backend that runs guest accesses) ----

KVMSIM_CASE(dirtylog, guest_writes_are_logged, Need::guest_access) {
  const int vm = vm_with_logged_slot(c);
  const int vcpu = c.create_vcpu(vm);
  for (u64 p = 0; p < 10; ++p)
    c.expect_outcome(c.api().access(vcpu, 1 * GiB + p * kPageSize, AccessKind::write), outcome_ok(), "guest write");
  std::vector<u64> bitmap;
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(bitmap.empty() ? 0 : bitmap[0], 0x3ff, "bitmap word 0 after writing pages 0-9");
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), 0, "dirty bits after a second GET (GET clears)");
  for (u64 p = 20; p < 30; ++p)
    c.expect_outcome(c.api().access(vcpu, 1 * GiB + p * kPageSize, AccessKind::read), outcome_ok(), "guest read");
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), 0, "dirty bits after reads only");
  c.expect_outcome(c.api().access(vcpu, 1 * GiB + 5 * kPageSize, AccessKind::write), outcome_ok(), "guest write");
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(bitmap.empty() ? 0 : bitmap[0], 1ull << 5, "bitmap word 0 after rewriting page 5");
}

// Host writes through the VMM mapping are not logged (KVM only sees guest writes).
KVMSIM_CASE(dirtylog, host_writes_not_logged) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB, Backing::anon_nohuge);
  c.add_slot(vm, make_region(0, 1 * GiB, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES));
  c.must({c.api().touch(mem, 64 * KiB), "touch"});
  std::vector<u64> bitmap;
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(static_cast<u64>(popcount(bitmap)), 0, "dirty bits after host writes");
}

KVMSIM_CASE(dirtylog, manual_clear_rearms_page, Need::guest_access, Need::manual_dirty_log) {
  const int vm = vm_with_logged_slot(c, true, true);
  const int vcpu = c.create_vcpu(vm);
  c.expect_ok(c.clear_dirty_log(vm, 0, 0, kPages, all_ones()));
  c.expect_outcome(c.api().access(vcpu, 1 * GiB + 3 * kPageSize, AccessKind::write), outcome_ok(), "guest write");
  std::vector<u64> bitmap;
  c.expect_ok(c.get_dirty_log(vm, 0, bitmap));
  c.expect_eq(bitmap.empty() ? 0 : bitmap[0], 1ull << 3, "bitmap word 0");
}

KVMSIM_CASE(dirtylog, ring_acq_rel, Need::dirty_log_ring) {
  if (c.check_extension(c.api().kvm_fd(), KVM_CAP_DIRTY_LOG_RING_ACQ_REL).r.ret <= 0)
    c.skip("needs KVM_CAP_DIRTY_LOG_RING_ACQ_REL");
  const int vm = c.create_vm();
  c.expect_err(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 100), EINVAL);
  c.expect_ok(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 4096));
  c.expect_err(c.enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, 4096), EINVAL);  // a ring is already set
}
