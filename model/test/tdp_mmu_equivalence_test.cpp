// Compact page tables (TdpMmu, the default) against the per-SPTE reference (TdpMmuRef, or
// PageTableImpl::reference through a Kvm): generated operation sequences must give identical
// results, stats and leaves. Two levels: raw page-table operations on a TdpMmu and a TdpMmuRef,
// and whole ioctl sequences on two model::Kvm (one per implementation). Generators cluster gfns
// on table boundaries so the uniform-table paths (materialise, compress, bulk ranges) meet each
// other.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cerrno>
#include <sstream>
#include <string>
#include <vector>

#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "model/mmu/tdp_mmu.h"
#include "model/mmu/tdp_mmu_ref.h"
#include "model/uapi.h"

using namespace kvmsim;
using namespace kvmsim::model;

namespace {

constexpr u64 k2M = 512, k1G = 512 * 512;  // in gfns
constexpr u64 kSpace = 2 * k1G;            // generated gfns stay below 2 GiB

// A gfn near the interesting places: 1G / 2M / 4K boundaries, or anywhere.
rc::Gen<u64> gen_gfn() {
  return rc::gen::apply(
      [](u64 g1, u64 m2, u64 k4) { return g1 * k1G + m2 * k2M + k4; }, rc::gen::inRange<u64>(0, 2),
      rc::gen::oneOf(rc::gen::element<u64>(0, 1, 2, 510, 511), rc::gen::inRange<u64>(0, 512)),
      rc::gen::oneOf(rc::gen::element<u64>(0, 1, 255, 511), rc::gen::inRange<u64>(0, 512)));
}

// [start, end) with end > start, both near boundaries; sometimes very large.
rc::Gen<std::pair<u64, u64>> gen_range() {
  return rc::gen::apply(
      [](u64 a, u64 len) { return std::make_pair(a, std::min(kSpace, a + len)); }, gen_gfn(),
      rc::gen::oneOf(rc::gen::element<u64>(1, k2M, k2M + 1, 3 * k2M, k1G, kSpace),
                     rc::gen::inRange<u64>(1, 4 * k2M)));
}

rc::Gen<SpteAttrs> gen_attrs() {
  return rc::gen::apply(
      [](bool w, bool x, bool p, bool a, bool d) { return SpteAttrs{w, x, p, a, d && w}; },
      rc::gen::arbitrary<bool>(), rc::gen::weightedElement<bool>({{4, true}, {1, false}}),
      rc::gen::weightedElement<bool>({{1, true}, {4, false}}), rc::gen::arbitrary<bool>(),
      rc::gen::arbitrary<bool>());
}

struct Leaf {
  u64 gfn;
  int level;
  SpteAttrs attrs;
  bool operator==(const Leaf&) const = default;
};

std::vector<Leaf> leaves(const PageTable& m) {
  std::vector<Leaf> out;
  m.for_each_leaf(0, m.max_gfn_exclusive(), [&](u64 gfn, int level, const SpteAttrs& a) {
    out.push_back(Leaf{gfn, level, a});
  });
  return out;
}

// The same leaves through for_each_leaf_run (a uniform table is one call in the compact tree).
std::vector<Leaf> leaves_from_runs(const PageTable& m, u64 start, u64 end) {
  std::vector<Leaf> out;
  m.for_each_leaf_run(start, end, [&](u64 gfn, u64 count, int level, const SpteAttrs& a) {
    for (u64 i = 0; i < count; ++i) out.push_back(Leaf{gfn + i * pages_per_hpage(level), level, a});
  });
  return out;
}

std::vector<Leaf> leaves_in(const PageTable& m, u64 start, u64 end) {
  std::vector<Leaf> out;
  m.for_each_leaf(start, end, [&](u64 gfn, int level, const SpteAttrs& a) { out.push_back(Leaf{gfn, level, a}); });
  return out;
}

std::string describe(const std::vector<Leaf>& a, const std::vector<Leaf>& b) {
  std::ostringstream os;
  os << a.size() << " vs " << b.size() << " leaves";
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (!(a[i] == b[i])) {
      os << "; first difference at #" << i << ": gfn " << a[i].gfn << " level " << a[i].level << " vs gfn "
         << b[i].gfn << " level " << b[i].level;
      break;
    }
  return os.str();
}

void expect_same(const PageTable& fast, const PageTable& ref, const std::string& after) {
  fast.check_invariants();
  ref.check_invariants();
  for (int l = 1; l <= 3; ++l) RC_ASSERT(fast.pages(l) == ref.pages(l));
  RC_ASSERT(fast.nx_lpage_splits() == ref.nx_lpage_splits());
  const auto a = leaves(fast), b = leaves(ref);
  if (a != b) RC_FAIL("after " + after + ": " + describe(a, b));
  // Leaf runs expand to exactly the leaves, on the whole tree and on a range cutting through tables.
  const u64 cut_start = k2M + 5, cut_end = k1G + 3 * k2M + 7;
  if (leaves_from_runs(fast, 0, fast.max_gfn_exclusive()) != b)
    RC_FAIL("after " + after + ": for_each_leaf_run differs from for_each_leaf");
  if (leaves_from_runs(fast, cut_start, cut_end) != leaves_in(ref, cut_start, cut_end))
    RC_FAIL("after " + after + ": for_each_leaf_run on a cut range differs");
  if (leaves_from_runs(ref, cut_start, cut_end) != leaves_in(ref, cut_start, cut_end))
    RC_FAIL("after " + after + ": the default for_each_leaf_run differs");
}

// A deterministic, gfn-dependent max level for recovery (as lpage_info would give).
int max_level_of(u64 gfn, int level, u64 salt) {
  const u64 h = (gfn / pages_per_hpage(level) + salt) % 5;
  return h == 0 ? 1 : (h == 1 ? 2 : 3);
}

}  // namespace

// Raw page-table operations: every result, stat and leaf identical after every step.
static void page_table_ops_match() {
  const int root = *rc::gen::element(4, 5);
  const int max_huge = *rc::gen::element(2, 3);
  bool nx = *rc::gen::arbitrary<bool>();
  TdpMmu fast(root, max_huge, nx);
  TdpMmuRef ref(root, max_huge, nx);
  RC_ASSERT(fast.impl() == PageTableImpl::compact);
  RC_ASSERT(ref.impl() == PageTableImpl::reference);
  const int steps = *rc::gen::inRange(1, 40);
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 14);
    std::string what = "op " + std::to_string(op);
    switch (op) {
      case 0:
      case 1: {  // map (a fault, with NX information as hugepage_adjust gives it)
        const u64 gfn = *gen_gfn();
        const int req = *rc::gen::inRange(1, max_huge + 1);
        MapFaultInfo f;
        f.req_level = req;
        f.huge_page_disallowed = nx && *rc::gen::arbitrary<bool>();
        f.prefetch = *rc::gen::arbitrary<bool>();
        const int goal = f.huge_page_disallowed ? 1 : req;
        const SpteAttrs a = *gen_attrs();
        const MapResult r1 = fast.map(gfn, goal, a, f), r2 = ref.map(gfn, goal, a, f);
        RC_ASSERT(r1.level == r2.level);
        RC_ASSERT(r1.spurious == r2.spurious);
        break;
      }
      case 2:
      case 3: {  // bulk map of a level-aligned range
        const int level = *rc::gen::inRange(1, max_huge + 1);
        const u64 step_g = pages_per_hpage(level);
        auto [s, e] = *gen_range();
        s = gfn_round_for_level(s, level);
        e = std::max(s + step_g, gfn_round_for_level(e + step_g - 1, level));
        MapFaultInfo f;
        f.req_level = level;
        f.prefetch = *rc::gen::arbitrary<bool>();
        const SpteAttrs a = *gen_attrs();
        RC_ASSERT(fast.map_range(s, e, level, a, f) == ref.map_range(s, e, level, a, f));
        break;
      }
      case 4: {
        auto [s, e] = *gen_range();
        RC_ASSERT(fast.zap_gfn_range(s, e) == ref.zap_gfn_range(s, e));
        break;
      }
      case 5: {
        if (*rc::gen::inRange(0, 4) == 0) {  // toggling the mitigation zaps all roots
          nx = !nx;
          fast.set_nx_huge_pages(nx);
          ref.set_nx_huge_pages(nx);
        }
        fast.zap_all();
        ref.zap_all();
        break;
      }
      case 6: {
        auto [s, e] = *gen_range();
        const int target = *rc::gen::inRange(1, 3);
        RC_ASSERT(fast.split_huge_pages(s, e, target) == ref.split_huge_pages(s, e, target));
        break;
      }
      case 7: {
        auto [s, e] = *gen_range();
        RC_ASSERT(fast.write_protect_range(s, e) == ref.write_protect_range(s, e));
        break;
      }
      case 8: {
        auto [s, e] = *gen_range();
        RC_ASSERT(fast.clear_dirty(s, e) == ref.clear_dirty(s, e));
        break;
      }
      case 9: {
        const u64 gfn = *gen_gfn();
        const bool write = *rc::gen::arbitrary<bool>();
        RC_ASSERT(fast.mark_accessed(gfn, write) == ref.mark_accessed(gfn, write));
        break;
      }
      case 10:
      case 11: {
        auto [s, e] = *gen_range();
        const u64 salt = *rc::gen::inRange<u64>(0, 5);
        auto ml = [salt](u64 gfn, int level) { return max_level_of(gfn, level, salt); };
        if (op == 10)
          RC_ASSERT(fast.recover_huge_pages(s, e, ml) == ref.recover_huge_pages(s, e, ml));
        else
          RC_ASSERT(fast.zap_collapsible(s, e, ml) == ref.zap_collapsible(s, e, ml));
        break;
      }
      case 12: {
        const u64 max = *rc::gen::inRange<u64>(0, 4);
        const u64 dl = *rc::gen::inRange<u64>(0, 3);
        auto pred = [dl](u64 gfn) { return dl && (gfn / k2M) % dl == 0; };
        RC_ASSERT(fast.nx_recover(max, pred) == ref.nx_recover(max, pred));
        break;
      }
      case 13: {
        for (int i = 0; i < 8; ++i) {
          const u64 gfn = *gen_gfn();
          RC_ASSERT(fast.lookup(gfn) == ref.lookup(gfn));
        }
        break;
      }
    }
    RC_ASSERT(fast.pages(1) == ref.pages(1));
    RC_ASSERT(fast.pages(2) == ref.pages(2));
    RC_ASSERT(fast.pages(3) == ref.pages(3));
    RC_ASSERT(fast.nx_lpage_splits() == ref.nx_lpage_splits());
    if (step + 1 == steps || step % 8 == 7) expect_same(fast, ref, what);
  }
  // The compact tree never holds more than the kernel's tables for the same leaves.
  RC_ASSERT(fast.kernel_pt_bytes() <= ref.kernel_pt_bytes() + 4096);
}

// Uniform storage is what makes large ranges cheap: 1 GiB of 4K leaves mapped in bulk is one
// level-2 table of uniform entries, and any one-page change materialises one table only.
TEST(TdpMmuEquivalence, UniformRangeIsCompactAndMaterialisesOnChange) {
  TdpMmu m(4, 3, false);
  MapFaultInfo f;
  f.prefetch = true;
  const SpteAttrs rw{true, true, false, false, true};
  EXPECT_EQ(m.map_range(0, k1G, 1, rw, f), k1G);
  EXPECT_EQ(m.pages(1), k1G);
  const u64 compact = m.pt_bytes();
  EXPECT_LT(compact, 16u * 1024);  // root, one 1G table, one 2M table: no 4K tables
  EXPECT_EQ(m.kernel_pt_bytes(), (3 + 512) * 4096u);
  m.check_invariants();
  // Re-mapping the same range is spurious everywhere and changes nothing.
  EXPECT_EQ(m.map_range(0, k1G, 1, rw, f), 0u);
  EXPECT_EQ(m.pt_bytes(), compact);
  // A write-protect of one page materialises exactly one 4K table.
  EXPECT_EQ(m.write_protect_range(k2M + 7, k2M + 8), 1u);
  EXPECT_GT(m.pt_bytes(), compact);
  EXPECT_FALSE(m.lookup(k2M + 7).writable);
  EXPECT_TRUE(m.lookup(k2M + 8).writable);
  m.check_invariants();
  // Making it uniform again through the fault path folds it back.
  MapFaultInfo fault;
  EXPECT_FALSE(m.map(k2M + 7, 1, rw, fault).spurious);
  EXPECT_LE(m.pt_bytes(), compact + 4096);  // the 2M table keeps its child-pointer array
  m.check_invariants();
}

namespace {

// Whole-model operation sequences through model::Kvm: regions, pre-fault, guest accesses,
// dirty logging, attributes. Both Kvm objects get the same calls; every return value, every
// access outcome, stats and mappings of probed gpas must agree.
struct Pair {
  Kvm fast{default_profile(), PageTableImpl::compact};
  Kvm ref{default_profile(), PageTableImpl::reference};
};

template <class F>
auto both(Pair& p, F&& f) {
  auto a = f(p.fast);
  auto b = f(p.ref);
  RC_ASSERT(a == b);
  return a;
}

}  // namespace

static void kvm_operation_sequences_match() {
  Pair p;
  const u64 type = *rc::gen::element<u64>(u64{uapi::KVM_X86_DEFAULT_VM}, u64{uapi::KVM_X86_SW_PROTECTED_VM});
  const Ret vm = both(p, [&](Kvm& k) { return k.ioctl_create_vm(k.kvm_fd(), type); });
  RC_PRE(vm.is_ok());
  const int vm_fd = static_cast<int>(vm.ret);
  const Ret vcpu = both(p, [&](Kvm& k) { return k.ioctl_create_vcpu(vm_fd, 0); });
  RC_ASSERT(vcpu.is_ok());
  const int vcpu_fd = static_cast<int>(vcpu.ret);
  constexpr u64 kRam = 8ull << 20;  // per slot
  const Backing backing = *rc::gen::element(Backing::anon, Backing::anon_nohuge, Backing::thp, Backing::hugetlb_2m);
  const Ret host = both(p, [&](Kvm& k) { return k.mmap(2 * kRam, backing, 2ull << 20); });
  RC_ASSERT(host.is_ok());
  int gmem_fd = -1;
  if (type == uapi::KVM_X86_SW_PROTECTED_VM) {
    uapi::kvm_create_guest_memfd g{};
    g.size = 2 * kRam;
    const Ret r = both(p, [&](Kvm& k) { return k.ioctl_create_guest_memfd(vm_fd, g); });
    RC_ASSERT(r.is_ok());
    gmem_fd = static_cast<int>(r.ret);
  }
  auto set_slot = [&](u32 slot, u64 flags, u64 size) {
    uapi::kvm_userspace_memory_region2 r{};
    r.slot = slot;
    r.flags = flags | (gmem_fd >= 0 ? uapi::KVM_MEM_GUEST_MEMFD : 0);
    r.guest_phys_addr = slot * kRam;
    r.memory_size = size;
    r.userspace_addr = static_cast<u64>(host.ret) + slot * kRam;
    r.guest_memfd = gmem_fd >= 0 ? static_cast<u32>(gmem_fd) : 0;
    r.guest_memfd_offset = slot * kRam;
    both(p, [&](Kvm& k) { return k.ioctl_set_user_memory_region2(vm_fd, r); });
  };
  set_slot(0, 0, kRam);
  set_slot(1, 0, kRam);
  const auto gen_gpa = rc::gen::apply([](u64 m, u64 k) { return m * (2ull << 20) + k * 4096; },
                                      rc::gen::inRange<u64>(0, 2 * kRam / (2ull << 20) + 1),
                                      rc::gen::oneOf(rc::gen::element<u64>(0, 1, 511), rc::gen::inRange<u64>(0, 512)));
  const int steps = *rc::gen::inRange(1, 40);
  for (int step = 0; step < steps; ++step) {
    switch (*rc::gen::inRange(0, 7)) {
      case 0: {  // pre-fault a range
        const u64 gpa = *gen_gpa;
        uapi::kvm_pre_fault_memory pf{};
        pf.gpa = gpa;
        pf.size = *rc::gen::element<u64>(4096, 2ull << 20, 4ull << 20, 2 * kRam);
        uapi::kvm_pre_fault_memory pf2 = pf;
        const Ret a = p.fast.ioctl_pre_fault_memory(vcpu_fd, pf);
        const Ret b = p.ref.ioctl_pre_fault_memory(vcpu_fd, pf2);
        RC_ASSERT(a == b);
        RC_ASSERT(pf.gpa == pf2.gpa);
        RC_ASSERT(pf.size == pf2.size);
        break;
      }
      case 1:
      case 2: {  // guest access
        const u64 gpa = *gen_gpa;
        const AccessKind kind = *rc::gen::element(AccessKind::read, AccessKind::write, AccessKind::exec);
        const AccessOutcome a = p.fast.access(vcpu_fd, gpa, kind), b = p.ref.access(vcpu_fd, gpa, kind);
        RC_ASSERT(a == b);
        break;
      }
      case 3: {  // dirty logging on/off (eager split, recovery)
        const u32 slot = *rc::gen::inRange<u32>(0, 2);
        set_slot(slot, *rc::gen::arbitrary<bool>() ? uapi::KVM_MEM_LOG_DIRTY_PAGES : 0, kRam);
        break;
      }
      case 4: {  // dirty log read (write-protects / clears D)
        const u32 slot = *rc::gen::inRange<u32>(0, 2);
        std::vector<u64> b1, b2;
        const Ret a = p.fast.ioctl_get_dirty_log(vm_fd, slot, b1), b = p.ref.ioctl_get_dirty_log(vm_fd, slot, b2);
        RC_ASSERT(a == b);
        RC_ASSERT(b1 == b2);
        break;
      }
      case 5: {  // attribute conversion of a 4K..4M range
        const u64 gpa = *gen_gpa;
        const u64 size = *rc::gen::element<u64>(4096, 2ull << 20, 4ull << 20);
        uapi::kvm_memory_attributes at{gpa, size,
                                       *rc::gen::arbitrary<bool>() ? uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, 0};
        both(p, [&](Kvm& k) { return k.ioctl_set_memory_attributes(vm_fd, at); });
        break;
      }
      case 6: {  // delete and re-create a slot (zaps its range)
        const u32 slot = *rc::gen::inRange<u32>(0, 2);
        set_slot(slot, 0, 0);
        set_slot(slot, 0, kRam);
        break;
      }
    }
    RC_ASSERT(p.fast.stats(vm_fd) == p.ref.stats(vm_fd));
  }
  for (u64 gpa = 0; gpa < 2 * kRam; gpa += 4096 * 37)
    RC_ASSERT(p.fast.mapping(vm_fd, gpa) == p.ref.mapping(vm_fd, gpa));
}

namespace {

// Runs a property with a fixed seed (deterministic unit tests) and `cases` generated cases.
void check_property(void (*prop)(), const char* id, int cases) {
  rc::detail::TestParams params;
  params.seed = 20261121;
  params.maxSuccess = cases;
  rc::detail::TestMetadata meta;
  meta.id = id;
  const auto result = rc::detail::checkTestable(prop, meta, params);
  std::ostringstream ss;
  rc::detail::printResultMessage(result, ss);
  EXPECT_TRUE(result.is<rc::detail::SuccessResult>()) << ss.str();
}

}  // namespace

TEST(TdpMmuEquivalence, CompactMatchesReference) {
  check_property(&page_table_ops_match, "TdpMmuEquivalence/CompactMatchesReference", 1000);
}

TEST(TdpMmuEquivalence, KvmOperationSequencesMatch) {
  check_property(&kvm_operation_sequences_match, "TdpMmuEquivalence/KvmOperationSequencesMatch", 1000);
}

namespace {

// One VM with a vCPU and one slot of `slot_bytes` at `gpa` backed by `backing` (hva aligned to
// 1 GiB, so the slot's alignment is the gpa's).
struct PrefaultVm {
  explicit PrefaultVm(PageTableImpl impl) : kvm(default_profile(), impl) {}
  Kvm kvm;
  int vm_fd = -1, vcpu_fd = -1;
  bool setup(Backing backing, u64 gpa, u64 slot_bytes, u64 hva_offset) {
    vm_fd = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), uapi::KVM_X86_DEFAULT_VM).ret);
    vcpu_fd = static_cast<int>(kvm.ioctl_create_vcpu(vm_fd, 0).ret);
    const Ret host = kvm.mmap(slot_bytes + hva_offset, backing, 1ull << 30);
    if (!host.is_ok()) return false;
    uapi::kvm_userspace_memory_region r{0, 0, gpa, slot_bytes, static_cast<u64>(host.ret) + hva_offset};
    return kvm.ioctl_set_user_memory_region(vm_fd, r).is_ok();
  }
  Ret prefault(u64 gpa, u64 size, uapi::kvm_pre_fault_memory* out) {
    out->gpa = gpa;
    out->size = size;
    return kvm.ioctl_pre_fault_memory(vcpu_fd, *out);
  }
};

}  // namespace

// The bulk pre-fault path against the per-page loop (which model-ref keeps), on backings whose
// pages map at 4K, 2M and 1G, with slots aligned and misaligned, ranges starting and ending
// mid-page, and ranges running past the slot (ENOENT after partial progress).
TEST(TdpMmuEquivalence, BulkPrefaultMatchesPerPageLoop) {
  constexpr u64 kM = 1ull << 20, kG = 1ull << 30;
  struct Case {
    Backing backing;
    u64 gpa, slot_bytes, hva_offset, pf_off, pf_size;
  };
  const Case cases[] = {
      {Backing::anon_nohuge, 0, 64 * kM, 0, 0, 64 * kM},
      {Backing::anon_nohuge, 4 * kG, 64 * kM, 0, 12 * 1024, 80 * kM},  // runs past the slot
      {Backing::hugetlb_2m, 0, 64 * kM, 0, 0, 64 * kM},
      {Backing::hugetlb_2m, 1 * kM, 64 * kM, 0, 5 * 4096, 30 * kM},  // gpa/hva misaligned by 1M
      {Backing::hugetlb_2m, 2 * kM, 64 * kM, 2 * kM, 4096, 63 * kM},
      {Backing::hugetlb_1g, 0, 2 * kG, 0, 0, 2 * kG},
      {Backing::hugetlb_1g, 2 * kM, 2 * kG, 2 * kM, 7 * 4096, 3 * kG},  // 1G split to 2M at the edges
      {Backing::thp, 0, 64 * kM, 0, 0, 64 * kM},                         // not bulk: per page on both
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(backing_name(c.backing)) + " gpa " + std::to_string(c.gpa));
    PrefaultVm fast(PageTableImpl::compact), ref(PageTableImpl::reference);
    ASSERT_TRUE(fast.setup(c.backing, c.gpa, c.slot_bytes, c.hva_offset));
    ASSERT_TRUE(ref.setup(c.backing, c.gpa, c.slot_bytes, c.hva_offset));
    uapi::kvm_pre_fault_memory a{}, b{};
    EXPECT_EQ(fast.prefault(c.gpa + c.pf_off, c.pf_size, &a), ref.prefault(c.gpa + c.pf_off, c.pf_size, &b));
    EXPECT_EQ(a.gpa, b.gpa);
    EXPECT_EQ(a.size, b.size);
    // A second pass is spurious everywhere: same answers again.
    EXPECT_EQ(fast.prefault(c.gpa, c.slot_bytes, &a), ref.prefault(c.gpa, c.slot_bytes, &b));
    EXPECT_EQ(a.size, b.size);
    EXPECT_EQ(fast.kvm.stats(fast.vm_fd), ref.kvm.stats(ref.vm_fd));
    for (u64 off = 0; off < c.slot_bytes; off += 4096 * 257)
      ASSERT_EQ(fast.kvm.mapping(fast.vm_fd, c.gpa + off), ref.kvm.mapping(ref.vm_fd, c.gpa + off)) << off;
  }
}

// A 1 TiB slot of 4K host pages pre-faults in bulk: 2^28 leaves, page tables in O(runs).
TEST(TdpMmuEquivalence, TerabytePrefaultAt4K) {
  PrefaultVm vm(PageTableImpl::compact);
  ASSERT_TRUE(vm.setup(Backing::anon_nohuge, 0, 1ull << 40, 0));
  uapi::kvm_pre_fault_memory p{};
  EXPECT_EQ(vm.prefault(0, 1ull << 40, &p), Ret::ok());
  EXPECT_EQ(p.size, 0u);
  EXPECT_EQ(p.gpa, 1ull << 40);
  const Stats st = *vm.kvm.stats(vm.vm_fd);
  EXPECT_EQ(st.at("pages_4k"), 1ull << 28);
  EXPECT_EQ(st.at("pages_2m"), 0u);
  EXPECT_EQ(vm.kvm.mapping(vm.vm_fd, (1ull << 40) - 4096)->level, 1);
}

// 5-level paging (profile linux-6.18-la57): guest physical addresses at and above 64 TiB are
// accepted and mapped under a 5-level root, identically on both page-table implementations;
// the 4-level linux-6.18 refuses the same slot.
TEST(TdpMmuEquivalence, La57ProfileMapsAbove64TiB) {
  const Profile& la57 = *find_profile("linux-6.18-la57");
  EXPECT_EQ(la57.root_level, 5);
  constexpr u64 kGpa = 1ull << 46, kSize = 1ull << 30;
  auto run = [&](const Profile& prof, PageTableImpl impl, Stats* st) {
    Kvm kvm(prof, impl);
    const int vm_fd = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), uapi::KVM_X86_DEFAULT_VM).ret);
    const int vcpu_fd = static_cast<int>(kvm.ioctl_create_vcpu(vm_fd, 0).ret);
    const Ret host = kvm.mmap(kSize, Backing::hugetlb_2m, 1ull << 30);
    const uapi::kvm_userspace_memory_region r{0, 0, kGpa, kSize, static_cast<u64>(host.ret)};
    const Ret slot = kvm.ioctl_set_user_memory_region(vm_fd, r);
    if (!slot.is_ok()) return slot;
    uapi::kvm_pre_fault_memory p{kGpa, kSize, 0, {}};
    const Ret pf = kvm.ioctl_pre_fault_memory(vcpu_fd, p);
    *st = *kvm.stats(vm_fd);
    EXPECT_EQ(kvm.vm(vm_fd)->mmu().page_table(0).root_level(), 5);
    EXPECT_EQ(kvm.mapping(vm_fd, kGpa + kSize - 4096)->level, 2);
    return pf;
  };
  Stats fast, ref, none;
  EXPECT_EQ(run(la57, PageTableImpl::compact, &fast), Ret::ok());
  EXPECT_EQ(run(la57, PageTableImpl::reference, &ref), Ret::ok());
  EXPECT_EQ(fast, ref);
  EXPECT_EQ(fast.at("pages_2m"), kSize >> 21);
  EXPECT_EQ(run(default_profile(), PageTableImpl::compact, &none), Ret::fail(EINVAL));
}

// Host pages written by the VMM map writable, unwritten ones read-only: a slot whose pages
// alternate cuts the bulk runs at every page, and each page must still get its own answer.
TEST(TdpMmuEquivalence, BulkPrefaultFollowsHostWrittenPages) {
  constexpr u64 kSize = 4ull << 20;
  Stats st[2];
  std::vector<Mapping> maps[2];
  for (int side = 0; side < 2; ++side) {
    PrefaultVm v(side ? PageTableImpl::reference : PageTableImpl::compact);
    ASSERT_TRUE(v.setup(Backing::anon_nohuge, 0, kSize, 0));
    const u64 hva = v.kvm.vm(v.vm_fd)->slots(0).by_gfn(0)->userspace_addr;
    for (u64 off = 0; off < kSize; off += 2 * 4096) ASSERT_TRUE(v.kvm.touch(hva + off, 4096).is_ok());
    ASSERT_TRUE(v.kvm.touch(hva + kSize / 2, kSize / 4).is_ok());  // and one long written run
    uapi::kvm_pre_fault_memory p{};
    EXPECT_EQ(v.prefault(0, kSize, &p), Ret::ok());
    st[side] = *v.kvm.stats(v.vm_fd);
    for (u64 off = 0; off < kSize; off += 4096) maps[side].push_back(*v.kvm.mapping(v.vm_fd, off));
  }
  EXPECT_EQ(st[0], st[1]);
  EXPECT_EQ(maps[0], maps[1]);
  EXPECT_TRUE(maps[0][0].writable);
  EXPECT_FALSE(maps[0][1].writable);
}

// Pre-fault of dirty-logged slots: the bulk path (one 4K map_range plus one dirty-bitmap range)
// against the per-page loop of the reference, over random backings, slot placements, host pages
// written by the VMM (writable leaves mark dirty, read-only ones do not), dirty logging turned on
// before or after parts were mapped, and random pre-fault ranges. Results, written-back structs,
// stats, leaves and the dirty bitmap must agree.
static void dirty_logged_prefault_matches_per_page_loop() {
  constexpr u64 kM = 1ull << 20;
  const Backing backing = *rc::gen::element(Backing::anon_nohuge, Backing::hugetlb_2m, Backing::hugetlb_1g);
  const u64 slot_bytes = *rc::gen::element<u64>(2 * kM, 8 * kM, 64 * kM);
  const u64 gpa = *rc::gen::element<u64>(0, 1 * kM, 2 * kM, 1ull << 30);
  const u64 hva_offset = *rc::gen::element<u64>(0, 2 * kM);
  const auto gen_off = rc::gen::apply([](u64 m, u64 k) { return m * (2 * kM) + k * 4096; },
                                      rc::gen::inRange<u64>(0, slot_bytes / (2 * kM) + 1),
                                      rc::gen::oneOf(rc::gen::element<u64>(0, 1, 511), rc::gen::inRange<u64>(0, 512)));
  PrefaultVm fast(PageTableImpl::compact), ref(PageTableImpl::reference);
  RC_ASSERT(fast.setup(backing, gpa, slot_bytes, hva_offset));
  RC_ASSERT(ref.setup(backing, gpa, slot_bytes, hva_offset));
  PrefaultVm* sides[2] = {&fast, &ref};
  auto set_logging = [&](bool on) {
    for (PrefaultVm* v : sides) {
      const u64 hva = v->kvm.vm(v->vm_fd)->slots(0).by_gfn(gpa >> 12)->userspace_addr;
      const uapi::kvm_userspace_memory_region r{0, on ? uapi::KVM_MEM_LOG_DIRTY_PAGES : 0u, gpa, slot_bytes, hva};
      RC_ASSERT(v->kvm.ioctl_set_user_memory_region(v->vm_fd, r).is_ok());
    }
  };
  const int steps = *rc::gen::inRange(1, 12);
  for (int step = 0; step < steps; ++step) {
    switch (*rc::gen::inRange(0, 5)) {
      case 0:
      case 1: {  // pre-fault a range (may start before or run past the slot)
        const u64 start = gpa + *gen_off - *rc::gen::element<u64>(0, 0, 4096);
        const u64 size = *rc::gen::element<u64>(4096, 2 * kM, slot_bytes, slot_bytes + 2 * kM);
        uapi::kvm_pre_fault_memory a{}, b{};
        RC_ASSERT(fast.prefault(start, size, &a) == ref.prefault(start, size, &b));
        RC_ASSERT(a.gpa == b.gpa);
        RC_ASSERT(a.size == b.size);
        break;
      }
      case 2: {  // the VMM writes host pages: their leaves map writable (and mark dirty)
        const u64 off = *gen_off % slot_bytes;
        const u64 len = std::min(slot_bytes - off, *rc::gen::element<u64>(4096, 5 * 4096, 2 * kM));
        for (PrefaultVm* v : sides) {
          const u64 hva = v->kvm.vm(v->vm_fd)->slots(0).by_gfn(gpa >> 12)->userspace_addr;
          RC_ASSERT(v->kvm.touch(hva + off, len).is_ok());
        }
        break;
      }
      case 3:  // dirty logging on or off (eager split / recovery of what is mapped)
        set_logging(*rc::gen::element(true, true, false));
        break;
      case 4: {  // KVM_GET_DIRTY_LOG: bitmaps equal, and the reported pages are write-protected
        std::vector<u64> b1, b2;
        RC_ASSERT(fast.kvm.ioctl_get_dirty_log(fast.vm_fd, 0, b1) == ref.kvm.ioctl_get_dirty_log(ref.vm_fd, 0, b2));
        RC_ASSERT(b1 == b2);
        break;
      }
    }
    RC_ASSERT(fast.kvm.stats(fast.vm_fd) == ref.kvm.stats(ref.vm_fd));
  }
  std::vector<u64> b1, b2;
  RC_ASSERT(fast.kvm.ioctl_get_dirty_log(fast.vm_fd, 0, b1) == ref.kvm.ioctl_get_dirty_log(ref.vm_fd, 0, b2));
  RC_ASSERT(b1 == b2);
  for (u64 off = 0; off < slot_bytes; off += 4096 * 7)
    RC_ASSERT(fast.kvm.mapping(fast.vm_fd, gpa + off) == ref.kvm.mapping(ref.vm_fd, gpa + off));
}

TEST(TdpMmuEquivalence, DirtyLoggedPrefaultMatchesPerPageLoop) {
  check_property(&dirty_logged_prefault_matches_per_page_loop, "TdpMmuEquivalence/DirtyLoggedPrefault", 300);
}

// A 1 TiB dirty-logged slot pre-faults in bulk: 2^28 4K leaves; pages the VMM had written map
// writable and read back dirty, the others map read-only and stay clean.
TEST(TdpMmuEquivalence, TerabyteDirtyLoggedPrefault) {
  constexpr u64 kTiB = 1ull << 40;
  PrefaultVm vm(PageTableImpl::compact);
  ASSERT_TRUE(vm.setup(Backing::anon_nohuge, 0, kTiB, 0));
  const u64 hva = vm.kvm.vm(vm.vm_fd)->slots(0).by_gfn(0)->userspace_addr;
  ASSERT_TRUE(vm.kvm.touch(hva + (1ull << 30), 3 * 4096).is_ok());
  const uapi::kvm_userspace_memory_region r{0, uapi::KVM_MEM_LOG_DIRTY_PAGES, 0, kTiB, hva};
  ASSERT_TRUE(vm.kvm.ioctl_set_user_memory_region(vm.vm_fd, r).is_ok());
  uapi::kvm_pre_fault_memory p{};
  EXPECT_EQ(vm.prefault(0, kTiB, &p), Ret::ok());
  EXPECT_EQ(p.size, 0u);
  const Stats st = *vm.kvm.stats(vm.vm_fd);
  EXPECT_EQ(st.at("pages_4k"), 1ull << 28);
  EXPECT_TRUE(vm.kvm.mapping(vm.vm_fd, 1ull << 30)->writable);
  EXPECT_FALSE(vm.kvm.mapping(vm.vm_fd, 0)->writable);
  std::vector<u64> bitmap;
  ASSERT_TRUE(vm.kvm.ioctl_get_dirty_log(vm.vm_fd, 0, bitmap).is_ok());
  const u64 word = (1ull << 18) / 64;  // gfn of 1 GiB
  EXPECT_EQ(bitmap[word], 0b111u);
  EXPECT_EQ(bitmap[word - 1], 0u);
  EXPECT_EQ(bitmap[0], 0u);
}
