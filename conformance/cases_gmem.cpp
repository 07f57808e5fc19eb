// guest_memfd: create, file operations, mmap, binding to memslots, immutability, close
// (docs/semantics/guest-memfd.md, docs/semantics/memslots.md §3; docs/semantics/host-kvm-pvm.md §3; guest_memfd_test.c, set_memory_region_test.c).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

constexpr int kKeep = FALLOC_FL_KEEP_SIZE;
constexpr int kPunch = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;

// VM type whose guest_memfd slots are accepted: any VM from 6.18, else one with private memory.
u64 gmem_slot_vm_type(Check& c) {
  if (!c.profile().gmem_slot_needs_private_mem) return KVM_X86_DEFAULT_VM;
  if (!c.has(Need::sw_protected_vm)) c.skip("guest_memfd slots need a VM with private memory here");
  return KVM_X86_SW_PROTECTED_VM;
}

}  // namespace

// ---- create (docs/semantics/guest-memfd.md §1) ----

KVMSIM_CASE(gmem, create_on_kvm_fd, Need::guest_memfd) {
  c.expect_err(c.create_gmem_raw(c.api().kvm_fd(), 2 * MiB, 0), EINVAL);
}

KVMSIM_CASE(gmem, create_basic, Need::guest_memfd) {
  const int vm = c.create_vm();
  c.expect_ok(c.create_gmem_raw(vm, 2 * MiB, 0));
}

KVMSIM_CASE(gmem, create_size_invalid, Need::guest_memfd) {
  const int vm = c.create_vm();
  for (u64 size : std::initializer_list<u64>{0, 0x800, 0x1001, static_cast<u64>(-4096ll), 1ull << 63})
    c.expect_err(c.create_gmem_raw(vm, size, 0), EINVAL);
  for (u64 size = 1; size < 4096; size += 509) c.expect_err(c.create_gmem_raw(vm, size, 0), EINVAL);
}

// Files are sparse: huge sizes are fine until allocated.
KVMSIM_CASE(gmem, create_size_huge, Need::guest_memfd) {
  const int vm = c.create_vm();
  for (u64 size : {1ull << 46, 1ull << 62, (1ull << 63) - 4096}) c.expect_ok(c.create_gmem_raw(vm, size, 0));
}

KVMSIM_CASE(gmem, create_flags_unsupported, Need::guest_memfd) {
  const int vm = c.create_vm();
  const u64 supported = c.caps().gmem_flags_default_vm;
  for (int bit = 0; bit < 64; ++bit) {
    if (supported & (1ull << bit)) continue;
    c.expect_err(c.create_gmem_raw(vm, 2 * MiB, 1ull << bit), EINVAL);
  }
}

// Every combination of supported flags is accepted, including INIT_SHARED without MMAP.
KVMSIM_CASE(gmem, create_flags_supported, Need::guest_memfd) {
  const int vm = c.create_vm();
  const u64 supported = c.caps().gmem_flags_default_vm;
  for (u64 flags = 0; flags <= supported; ++flags)
    if ((flags & ~supported) == 0) c.expect_ok(c.create_gmem_raw(vm, 2 * MiB, flags));
}

KVMSIM_CASE(gmem, create_flags_private_vm, Need::guest_memfd, Need::sw_protected_vm) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 supported = c.caps().gmem_flags_private_vm;
  c.expect_eq(supported & GUEST_MEMFD_FLAG_INIT_SHARED, 0, "INIT_SHARED for a VM with private memory");
  c.expect_ok(c.create_gmem_raw(vm, 2 * MiB, 0));
  c.expect_err(c.create_gmem_raw(vm, 2 * MiB, GUEST_MEMFD_FLAG_INIT_SHARED), EINVAL);
}

KVMSIM_CASE(gmem, create_reserved_not_checked, Need::guest_memfd) {
  const int vm = c.create_vm();
  c.expect_ok(c.create_gmem_raw(vm, 2 * MiB, 0, 1, 0));
  c.expect_ok(c.create_gmem_raw(vm, 2 * MiB, 0, 0, 0xdead));
}

// ---- file operations (docs/semantics/guest-memfd.md §2) ----

KVMSIM_CASE(gmem, read_write_fail, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err({c.api().read(fd, 4096), "read"}, EINVAL);
  c.expect_err({c.api().write(fd, 4096), "write"}, EINVAL);
  c.expect_err({c.api().pread(fd, 4096, 0), "pread"}, ESPIPE);
}

KVMSIM_CASE(gmem, ftruncate_fails, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err(c.ftruncate(fd, 2 * MiB), EINVAL);
  c.expect_err(c.ftruncate(fd, 4 * MiB), EINVAL);
  c.expect_err(c.ftruncate(fd, 0), EINVAL);
}

KVMSIM_CASE(gmem, fallocate_mode_without_keep_size, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err(c.fallocate(fd, 0, 0, 4 * KiB), EOPNOTSUPP);
  c.expect_err(c.fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4 * KiB), EOPNOTSUPP);
}

KVMSIM_CASE(gmem, fallocate_unsupported_modes, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err(c.fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4 * KiB), EOPNOTSUPP);
  c.expect_err(c.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4 * KiB), EOPNOTSUPP);
}

KVMSIM_CASE(gmem, fallocate_allocate, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.expect_ok(c.fallocate(fd, kKeep, 0, 4 * MiB));
  c.expect_ok(c.fallocate(fd, kKeep, 2 * MiB, 4 * KiB));
}

KVMSIM_CASE(gmem, fallocate_allocate_unaligned, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.expect_err(c.fallocate(fd, kKeep, 1, 4 * KiB), EINVAL);
  c.expect_err(c.fallocate(fd, kKeep, 0, 4 * KiB + 1), EINVAL);
  c.expect_err(c.fallocate(fd, kKeep, 0x800, 0x800), EINVAL);
}

KVMSIM_CASE(gmem, fallocate_allocate_beyond_eof, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.expect_err(c.fallocate(fd, kKeep, 4 * MiB, 4 * KiB), EINVAL);
  c.expect_err(c.fallocate(fd, kKeep, 4 * MiB - 4 * KiB, 8 * KiB), EINVAL);
  c.expect_err(c.fallocate(fd, kKeep, 8 * MiB, 4 * KiB), EINVAL);
}

KVMSIM_CASE(gmem, fallocate_punch_hole, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.expect_ok(c.fallocate(fd, kKeep, 0, 4 * MiB));
  c.expect_ok(c.fallocate(fd, kPunch, 4 * KiB, 2 * MiB));
  c.expect_ok(c.fallocate(fd, kPunch, 0, 4 * MiB));  // punching holes twice is fine
  c.expect_ok(c.fallocate(fd, kKeep, 0, 4 * MiB));   // and the range can be allocated again
}

// Ten invalid (offset, len) pairs as in guest_memfd_test.c: unaligned or zero length.
KVMSIM_CASE(gmem, fallocate_punch_invalid, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 4 * MiB);
  const u64 page = 4 * KiB;
  const std::pair<u64, u64> bad[] = {{0, 1},          {0, page - 1},     {0, page + 1}, {1, 1},
                                     {1, page - 1},   {1, page},         {1, page + 1}, {page, 1},
                                     {page, page - 1}, {page, page + 1}};
  for (auto [off, len] : bad) c.expect_err(c.fallocate(fd, kPunch, off, len), EINVAL);
  c.expect_err(c.fallocate(fd, kPunch, 0, 0), EINVAL);
}

// Punch is not bounds-checked: at, after and across EOF it succeeds.
KVMSIM_CASE(gmem, fallocate_punch_beyond_eof, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.expect_ok(c.fallocate(fd, kPunch, 4 * MiB, 4 * KiB));
  c.expect_ok(c.fallocate(fd, kPunch, 4 * MiB - 4 * KiB, 8 * KiB));
  c.expect_ok(c.fallocate(fd, kPunch, 1 * GiB, 2 * MiB));
}

// ---- mmap (docs/semantics/guest-memfd.md §3) ----

KVMSIM_CASE(gmem, mmap_without_flag, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err(c.mmap_fd(fd, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED), ENODEV);
}

KVMSIM_CASE(gmem, mmap_private_mapping, Need::gmem_mmap) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP);
  c.expect_err(c.mmap_fd(fd, 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE), EINVAL);
}

KVMSIM_CASE(gmem, mmap_shared_mapping, Need::gmem_mmap) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP);
  c.expect_ok(c.mmap_fd(fd, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED));
  if (c.has(Need::gmem_init_shared)) {
    const int fd2 = c.create_gmem(vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    c.expect_ok(c.mmap_fd(fd2, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED));
  }
}

// ---- binding (docs/semantics/guest-memfd.md §4) ----

KVMSIM_CASE(gmem, bind_basic, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_ok(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd)));
}

KVMSIM_CASE(gmem, bind_v1_ioctl, Need::guest_memfd) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err(c.region(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd)), EINVAL);
}

KVMSIM_CASE(gmem, bind_bad_fd, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, -1)), EBADF);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.must(c.close(fd));
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd)), EBADF);
}

KVMSIM_CASE(gmem, bind_not_a_guest_memfd, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int memfd = static_cast<int>(c.must({c.api().memfd_create(2 * MiB, 0), "memfd_create"}));
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, memfd)), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, c.api().kvm_fd())), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, vm)), EINVAL);
}

KVMSIM_CASE(gmem, bind_other_vms_guest_memfd, Need::guest_memfd, Need::user_memory2) {
  const u64 type = gmem_slot_vm_type(c);
  const int vm = c.create_vm(type);
  const int other = c.create_vm(type);
  const u64 mem = c.mmap(2 * MiB);
  const int foreign = c.create_gmem(other, 2 * MiB);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, foreign)), EINVAL);
}

KVMSIM_CASE(gmem, bind_offset_invalid, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 4 * MiB);
  for (u64 off = 1; off < 4096; off += 455) c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, off)), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, 0x800)), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, static_cast<u64>(-4096ll))), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, 4 * MiB)), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, 3 * MiB)), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, 8 * MiB)), EINVAL);
  c.expect_ok(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, 2 * MiB)));
}

// Overlapping file ranges cannot be bound twice (errno depends on the kernel: EINVAL through
// v7.0, EEXIST after "Return -EEXIST for overlapping bindings"); disjoint ranges can.
KVMSIM_CASE(gmem, bind_overlapping_file_range, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(4 * MiB);
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, 0));
  c.expect_err(c.region2(vm, make_gmem_region(1, 1 * GiB, 2 * MiB, mem, fd, 1 * MiB)),
               c.profile().gmem_binding_overlap_errno);
  c.expect_err(c.region2(vm, make_gmem_region(1, 1 * GiB, 2 * MiB, mem, fd, 0)), c.profile().gmem_binding_overlap_errno);
  c.expect_ok(c.region2(vm, make_gmem_region(1, 1 * GiB, 2 * MiB, mem, fd, 2 * MiB)));
}

// Deleting a slot releases its file range.
KVMSIM_CASE(gmem, bind_after_delete_reuses_range, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  c.expect_ok(c.region2(vm, make_region(0, 0, 0, mem)));
  c.expect_ok(c.region2(vm, make_gmem_region(1, 1 * GiB, 2 * MiB, mem, fd)));
}

KVMSIM_CASE(gmem, bind_with_readonly_or_log_dirty, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err(c.region2(vm, make_region(0, 0, 2 * MiB, mem, KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY)), EINVAL);
  c.expect_err(c.region2(vm, make_region(0, 0, 2 * MiB, mem, KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES)), EINVAL);
  Region r = make_gmem_region(0, 0, 2 * MiB, mem, fd);
  r.flags |= KVM_MEM_READONLY;
  c.expect_err(c.region2(vm, r), EINVAL);
  r.flags = KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES;
  c.expect_err(c.region2(vm, r), EINVAL);
}

// userspace_addr is validated for guest_memfd slots too; 0 is fine.
KVMSIM_CASE(gmem, bind_uaddr_checks, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem + 1, fd)), EINVAL);
  c.expect_err(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, 0xffff888000000000ull, fd)), EINVAL);
  c.expect_ok(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, 0, fd)));
}

// A guest_memfd slot can only be deleted: every modification is EINVAL, even an identical one.
KVMSIM_CASE(gmem, slot_is_immutable, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  const Region r = make_gmem_region(0, 0, 2 * MiB, mem, fd);
  c.add_slot(vm, r);
  c.expect_err(c.region2(vm, r), EINVAL);  // identical re-set
  Region moved = r;
  moved.guest_phys_addr = 1 * GiB;
  c.expect_err(c.region2(vm, moved), EINVAL);
  Region dirty = r;
  dirty.flags |= KVM_MEM_LOG_DIRTY_PAGES;
  c.expect_err(c.region2(vm, dirty), EINVAL);
  c.expect_err(c.region2(vm, make_region(0, 0, 2 * MiB, mem)), EINVAL);  // dropping the flag
  c.expect_err(c.region(vm, make_region(0, 0, 2 * MiB, mem)), EINVAL);   // v1 re-set
  c.expect_err(c.region(vm, make_region(0, 0, 2 * MiB, mem, KVM_MEM_LOG_DIRTY_PAGES)), EINVAL);
  c.expect_ok(c.region2(vm, make_region(0, 0, 0, mem)));
}

// After close(), the fd cannot be bound again; existing slots can still be deleted.
KVMSIM_CASE(gmem, close_then_rebind_and_delete, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(4 * MiB);
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  c.expect_ok(c.close(fd));
  c.expect_err(c.region2(vm, make_gmem_region(1, 1 * GiB, 2 * MiB, mem, fd, 2 * MiB)), EBADF);
  c.expect_ok(c.region2(vm, make_region(0, 0, 0, mem)));
}

// Binding does not make the size mutable either.
KVMSIM_CASE(gmem, ftruncate_bound_file, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  c.expect_err(c.ftruncate(fd, 2 * MiB), EINVAL);
  c.expect_err(c.ftruncate(fd, 4 * MiB), EINVAL);
}

// Same file, several slots at disjoint offsets; the same GPA rules as any slot apply.
KVMSIM_CASE(gmem, bind_gpa_overlap_is_eexist, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(4 * MiB);
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd, 0));
  c.expect_err(c.region2(vm, make_gmem_region(1, 1 * MiB, 2 * MiB, mem, fd, 2 * MiB)), EEXIST);
}

// The default VM takes guest_memfd slots from 6.18 on; older kernels want private memory.
KVMSIM_CASE(gmem, bind_on_default_vm, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  const Ret want = c.profile().gmem_slot_needs_private_mem ? Ret::fail(EINVAL) : Ret::ok(0);
  c.expect_ret(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd)), want);
}

KVMSIM_CASE(gmem, bind_mmap_file_with_its_own_mapping, Need::gmem_mmap, Need::gmem_init_shared,
            Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const int fd = c.create_gmem(vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const u64 map = static_cast<u64>(c.must(c.mmap_fd(fd, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED)));
  c.expect_ok(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, map, fd)));
}

// Punching a hole in a bound file is allowed (it zaps the guest's mappings).
KVMSIM_CASE(gmem, punch_bound_range, Need::guest_memfd, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  c.expect_ok(c.fallocate(fd, kKeep, 0, 2 * MiB));
  c.expect_ok(c.fallocate(fd, kPunch, 0, 2 * MiB));
}

// The generic VFS check (len <= 0) comes before guest_memfd's own.
KVMSIM_CASE(gmem, fallocate_len_zero, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.expect_err(c.fallocate(fd, kKeep, 0, 0), EINVAL);
  c.expect_err(c.fallocate(fd, 0, 0, 0), EINVAL);
}

// KVM does not check that a gmem-only slot's uaddr is that file's own mapping.
KVMSIM_CASE(gmem, bind_uaddr_of_another_gmem_mapping, Need::gmem_mmap, Need::gmem_init_shared, Need::user_memory2) {
  const int vm = c.create_vm(gmem_slot_vm_type(c));
  const int fd = c.create_gmem(vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP);
  const int other = c.create_gmem(vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const u64 map = static_cast<u64>(c.must(c.mmap_fd(other, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED)));
  c.expect_ok(c.region2(vm, make_gmem_region(0, 0, 2 * MiB, map, fd)));
}
