// Memory contents (docs/semantics/memory-contents.md): the content checks of upstream
// tools/testing/selftests/kvm/guest_memfd_test.c (test_file_read_write's pwrite, test_file_size,
// test_create_guest_memfd_multiple, test_mmap_supported, test_fault_overflow, test_fault_private,
// test_guest_memfd_guest) and x86/private_mem_conversions_test.c (guest_test_explicit_conversion,
// guest_test_punch_hole), with the VMM's memset/memcmp sampled as u64 stores and loads and the
// guest's MAP_GPA_RANGE hypercalls issued by the VMM directly (KVM_SET_MEMORY_ATTRIBUTES, fallocate).
#include <cerrno>
#include <csignal>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

constexpr int kPunch = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
constexpr u64 kPage = 4 * KiB;
constexpr u64 kTotal = 4 * kPage;  // gmem_test()'s size: page_size * 4
constexpr u64 kAa = 0xaaaaaaaaaaaaaaaaull;
constexpr int kRw = PROT_READ | PROT_WRITE;

// memset(mem, byte, len) as u64 stores; stops at the first refused store, which it returns.
Ret fill(Check& c, u64 mem, u64 len, u64 pattern) {
  for (u64 off = 0; off < len; off += 8)
    if (Ret r = c.api().poke(mem + off, pattern); !r.is_ok()) return r;
  return Ret::ok();
}
// memcmp against a pattern, u64 by u64, each mismatch a failure of the case.
void check_fill(Check& c, u64 mem, u64 len, u64 pattern, std::source_location loc = std::source_location::current()) {
  for (u64 off = 0; off < len; off += 8)
    if (!c.expect_peek(mem + off, pattern, loc)) return;  // one failure tells the story
}

u64 map_gmem(Check& c, int fd, u64 size) { return static_cast<u64>(c.must(c.mmap_fd(fd, size, kRw, MAP_SHARED))); }

}  // namespace

// ---- guest_memfd_test.c ----

// test_file_read_write: pwrite on a guest_memfd fails (no write_iter, no FMODE_PWRITE).
KVMSIM_CASE(content, gmem_pwrite_fails, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, kTotal);
  c.expect_err(c.pwrite(fd, 0, 64, 0), ESPIPE);
}

// test_file_size and test_create_guest_memfd_multiple: st_size is the requested size, st_blksize the page.
KVMSIM_CASE(content, gmem_file_size, Need::guest_memfd) {
  const int vm = c.create_vm();
  const int fd1 = c.create_gmem(vm, kPage);
  const int fd2 = c.create_gmem(vm, 2 * kPage);
  FileStat st;
  if (c.expect_ok(c.fstat(fd1, st))) {
    c.expect_eq(st.size, kPage, "st_size of the first guest_memfd");
    c.expect_eq(st.blksize, kPage, "st_blksize");
  }
  if (c.expect_ok(c.fstat(fd2, st))) c.expect_eq(st.size, 2 * kPage, "st_size of the second guest_memfd");
  if (c.expect_ok(c.fstat(fd1, st))) c.expect_eq(st.size, kPage, "st_size of the first, again");
}

// test_mmap_supported: the host's data round-trips; a punched page reads 0, the others keep theirs.
KVMSIM_CASE(content, gmem_mmap_data_and_punch_hole, Need::guest_memfd, Need::gmem_mmap, Need::gmem_init_shared) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, kTotal, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const u64 mem = map_gmem(c, fd, kTotal);
  c.must({fill(c, mem, kTotal, kAa), "memset(mem, 0xaa, total_size)"});
  check_fill(c, mem, kTotal, kAa);
  c.must(c.fallocate(fd, kPunch, 0, kPage));
  check_fill(c, mem, kPage, 0);
  check_fill(c, mem + kPage, kTotal - kPage, kAa);
  c.must({fill(c, mem, kPage, kAa), "memset(mem, 0xaa, page_size)"});
  check_fill(c, mem, kTotal, kAa);
}

// test_fault_overflow: a mapping 4x the file: the store at EOF is the first SIGBUS, the file's own
// pages hold the data.
KVMSIM_CASE(content, gmem_fault_beyond_eof_sigbus, Need::guest_memfd, Need::gmem_mmap, Need::gmem_init_shared) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, kTotal, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const u64 mem = map_gmem(c, fd, 4 * kTotal);
  c.expect_ret({fill(c, mem, 4 * kTotal, kAa), "memset(mem, 0xaa, map_size)"}, Ret::signal(SIGBUS));
  c.expect_ret(c.peek(mem + kTotal), Ret::signal(SIGBUS));
  check_fill(c, mem, kTotal, kAa);
}

// test_fault_private: MMAP without INIT_SHARED: every page is private, the first host access SIGBUSes.
KVMSIM_CASE(content, gmem_fault_private_sigbus, Need::guest_memfd, Need::gmem_mmap) {
  const int vm = c.create_vm();
  const int fd = c.create_gmem(vm, kTotal, GUEST_MEMFD_FLAG_MMAP);
  const u64 mem = map_gmem(c, fd, kTotal);
  c.expect_ret(c.poke(mem, kAa), Ret::signal(SIGBUS));
  c.expect_ret(c.peek(mem), Ret::signal(SIGBUS));
  c.expect_ret(c.peek(mem + kTotal - 8), Ret::signal(SIGBUS));
}

// test_guest_memfd_guest: the host fills a shared guest_memfd page, the guest (through a GMEM_ONLY
// slot) reads it and overwrites it, the host sees the guest's data through a new mapping.
KVMSIM_CASE(content, gmem_guest_sees_host_data, Need::guest_access, Need::guest_memfd, Need::gmem_mmap,
            Need::gmem_init_shared) {
  const u64 gpa = 4 * GiB;
  auto g = c.create_vm_with_vcpu();
  const int fd = c.create_gmem(g.vm, kPage, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const u64 slot_mem = map_gmem(c, fd, kPage);
  c.add_slot(g.vm, make_gmem_region(1, gpa, kPage, slot_mem, fd));
  const u64 mem = map_gmem(c, fd, kPage);
  c.must({fill(c, mem, kPage, kAa), "memset(mem, 0xaa, size)"});
  c.must({c.api().munmap(mem, kPage), "munmap(mem, size)"});
  for (u64 off = 0; off < kPage; off += 8) {
    if (!c.expect_guest_load(g.vcpu, gpa + off, kAa)) break;
    if (!c.expect_guest_store(g.vcpu, gpa + off, ~0ull)) break;
  }
  const u64 again = map_gmem(c, fd, kPage);
  check_fill(c, again, kPage, ~0ull);
}

// ---- x86/private_mem_conversions_test.c (SW_PROTECTED VM) ----

namespace {

constexpr u64 kBaseGpa = 1ull << 32;            // BASE_DATA_GPA
constexpr u64 kDataSize = 2 * MiB + kPage;      // PER_CPU_DATA_SIZE
constexpr u64 kInit = 0xccccccccccccccccull, kP1 = 0x1111111111111111ull, kP2 = 0x2222222222222222ull,
              kP3 = 0x3333333333333333ull, kP4 = 0x4444444444444444ull;

struct Conversion {
  Check::VmVcpu g;
  u64 mem = 0;  // the shared backing of the slot
  int fd = -1;  // its guest_memfd
};

// One slot (BASE_DATA_SLOT) over [BASE_DATA_GPA, +4M) backed by anonymous memory and a guest_memfd.
Conversion conversion_vm(Check& c) {
  Conversion v;
  v.g = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  v.mem = c.mmap(4 * MiB);
  v.fd = c.create_gmem(v.g.vm, 4 * MiB);
  c.add_slot(v.g.vm, make_gmem_region(10, kBaseGpa, 4 * MiB, v.mem, v.fd));
  return v;
}
// guest_map_private()/guest_map_shared(): the attribute change, with the optional fallocate that the
// test's handle_exit_hypercall() does first (allocate for private, punch hole for shared).
void map_gpa(Check& c, const Conversion& v, u64 gpa, u64 size, bool shared, bool do_fallocate) {
  if (do_fallocate) c.must(c.fallocate(v.fd, shared ? kPunch : FALLOC_FL_KEEP_SIZE, gpa - kBaseGpa, size));
  c.must(c.set_attributes(v.g.vm, gpa, size, shared ? 0 : KVM_MEMORY_ATTRIBUTE_PRIVATE));
}
// The sampled u64s of [gpa, gpa+size): the first and the last of every page.
template <class F>
void each_sample(u64 gpa, u64 size, F f) {
  for (u64 p = gpa; p < gpa + size; p += kPage) {
    if (!f(p)) return;
    if (!f(p + kPage - 8)) return;
  }
}

// guest_test_explicit_conversion, for the test ranges of one page (the 2M ones only write the first page
// and skip to the shared conversion): private data is invisible to the host, shared data survives a
// round trip through private, the host's writes to shared memory reach the guest.
void explicit_conversion(Check& c, bool do_fallocate) {
  Conversion v = conversion_vm(c);
  const int vcpu = v.g.vcpu;
  each_sample(kBaseGpa, kDataSize, [&](u64 a) { return c.expect_guest_store(vcpu, a, kInit); });
  for (u64 offset : {u64{0}, kPage, 2 * MiB}) {
    const u64 gpa = kBaseGpa + offset, hva = v.mem + offset;
    each_sample(gpa, kPage, [&](u64 a) { return c.expect_guest_store(vcpu, a, kP1); });
    map_gpa(c, v, gpa, kPage, false, do_fallocate);
    each_sample(gpa, kPage, [&](u64 a) { return c.expect_guest_store(vcpu, a, kP2); });
    // guest_sync_private: the host sees the shared data (p1), never the private p2.
    each_sample(hva, kPage, [&](u64 a) { return c.expect_peek(a, kP1); });
    each_sample(gpa, kPage, [&](u64 a) { return c.expect_guest_load(vcpu, a, kP2); });
    if (offset) c.expect_guest_load(vcpu, gpa - 8, kInit);
    if (offset + kPage < kDataSize) c.expect_guest_load(vcpu, gpa + kPage, kInit);
    // Back to shared: the guest sees the shared page again (p1); p3 from the guest, p4 from the host.
    map_gpa(c, v, gpa, kPage, true, do_fallocate);
    each_sample(gpa, kPage, [&](u64 a) { return c.expect_guest_load(vcpu, a, kP1); });
    each_sample(gpa, kPage, [&](u64 a) { return c.expect_guest_store(vcpu, a, kP3); });
    each_sample(hva, kPage, [&](u64 a) { return c.expect_peek(a, kP3) && c.expect_ret(c.poke(a, kP4), Ret::ok()); });
    each_sample(gpa, kPage, [&](u64 a) { return c.expect_guest_load(vcpu, a, kP4); });
    each_sample(gpa, kPage, [&](u64 a) { return c.expect_guest_store(vcpu, a, kInit); });
    map_gpa(c, v, kBaseGpa, kDataSize, true, true);
  }
}

}  // namespace

KVMSIM_CASE(content, conversion_explicit, Need::guest_access, Need::sw_protected_vm, Need::memory_attributes,
            Need::guest_memfd) {
  explicit_conversion(c, false);
}

KVMSIM_CASE(content, conversion_explicit_fallocate, Need::guest_access, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_memfd) {
  explicit_conversion(c, true);
}

// Private data survives a round trip through shared unless the hole is punched (the folio stays in the
// guest_memfd; virt/kvm/guest_memfd.c kvm_gmem_get_pfn() zeroes only a folio that is not uptodate).
KVMSIM_CASE(content, conversion_private_data_kept_until_punched, Need::guest_access, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_memfd) {
  Conversion v = conversion_vm(c);
  map_gpa(c, v, kBaseGpa, kPage, false, false);
  c.expect_guest_store(v.g.vcpu, kBaseGpa, kP2);
  map_gpa(c, v, kBaseGpa, kPage, true, false);
  c.expect_guest_load(v.g.vcpu, kBaseGpa, 0);
  map_gpa(c, v, kBaseGpa, kPage, false, false);
  c.expect_guest_load(v.g.vcpu, kBaseGpa, kP2);
  map_gpa(c, v, kBaseGpa, kPage, true, true);
  map_gpa(c, v, kBaseGpa, kPage, false, false);
  c.expect_guest_load(v.g.vcpu, kBaseGpa, 0);
}

namespace {

// guest_test_punch_hole: with everything private, a punched range reads zeroes afterwards (freeing zaps
// the SPTEs, the next fault allocates a zeroed folio); the rest keeps its data.
void punch_hole(Check& c, bool precise) {
  Conversion v = conversion_vm(c);
  const int vcpu = v.g.vcpu;
  map_gpa(c, v, kBaseGpa, kDataSize, false, false);
  const std::pair<u64, u64> ranges[] = {{0, kPage}, {0, 2 * MiB}, {kPage, kPage}, {kPage, 2 * MiB}, {2 * MiB, kPage}};
  for (const auto& [offset, size] : ranges) {
    const u64 gpa = kBaseGpa + offset;
    c.must(c.fallocate(v.fd, kPunch, 0, kDataSize));
    const u64 from = precise ? gpa : kBaseGpa, len = precise ? size : kDataSize;
    each_sample(from, len, [&](u64 a) { return c.expect_guest_store(vcpu, a, kInit); });
    each_sample(from, len, [&](u64 a) { return c.expect_guest_load(vcpu, a, kInit); });
    c.must(c.fallocate(v.fd, kPunch, offset, size));
    each_sample(gpa, size, [&](u64 a) { return c.expect_guest_load(vcpu, a, 0); });
    if (!precise && offset + size < kDataSize) c.expect_guest_load(vcpu, gpa + size, kInit);
  }
}

}  // namespace

KVMSIM_CASE(content, punch_hole_zeroes_private, Need::guest_access, Need::sw_protected_vm, Need::memory_attributes,
            Need::guest_memfd) {
  punch_hole(c, false);
}

KVMSIM_CASE(content, punch_hole_zeroes_private_precise, Need::guest_access, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_memfd) {
  punch_hole(c, true);
}
