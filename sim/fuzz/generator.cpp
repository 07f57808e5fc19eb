#include "sim/fuzz/generator.h"

#include <algorithm>
#include <map>
#include <optional>

#include "model/core_assert.h"
#include "sim/trace/build.h"
#include "sim/trace/printer.h"

namespace kvmsim::fuzz {

namespace {

constexpr u64 K = 1ull << 10, M = 1ull << 20, G = 1ull << 30;

const char* const kOpNames[kOpKinds] = {
    "slot_create", "slot_delete", "slot_move", "slot_flags", "slot_gmem_bind", "gmem_create", "gmem_fallocate",
    "gmem_close", "attributes", "pre_fault", "access", "dirty_get", "dirty_clear", "dirty_enable", "host_madvise",
    "host_munmap", "host_touch", "observe_stats", "observe_mapping", "host_content", "inject",
};

namespace b = trace::build;
using trace::Expr;
using trace::Statement;

// Sizes and addresses are spelled as the formatter does (`3G+2M`): a generated case reads like a
// hand-written trace.
Expr sz(u64 v) { return b::size(v); }
trace::Value val(Expr e) { return b::value(std::move(e)); }

struct HostMap {
  std::string name;
  u64 size = 0;
  bool thp = false;  // 2M-aligned by the mmap (its backing's page size)
};
struct Slot {
  u64 gpa = 0, size = 0;
  u32 flags = 0;
  std::string map;  // host mapping name
  u64 hva_off = 0;
  std::string gmem;  // "" unless bound to a guest_memfd
  u64 gmem_off = 0;
};
struct Gmem {
  std::string name;
  u64 size = 0;
  bool open = true;
  std::string map;  // the VMM's MAP_SHARED mapping of it ("" if none; GenOptions gmem_conversion/gmem_write_flag)
};

// The generator's predicted state. Predictions may be wrong (a call the generator thought valid can
// fail); they only steer arguments, the backends decide.
class CaseGen {
 public:
  CaseGen(Rng& rng, const Swarm& swarm, const GenOptions& o) : rng_(rng), swarm_(swarm), opt_(o) {}

  // Exactly `length` generated statements after the preamble (an operation whose preconditions
  // do not hold in the predicted state emits nothing and another is drawn).
  trace::Trace run(std::size_t length) {
    if (!opt_.profile.empty()) trace_.profile = opt_.profile;
    preamble();
    const std::size_t base = emitted_;
    limit_ = base + length;
    for (std::size_t tries = 0; emitted_ - base < length && tries < 50 * length + 100; tries++) step();
    // A replayed (shrunk) choice sequence may stall an operation mix; a seeded one never does.
    KVMSIM_ASSERT_CTX(rng_.replaying() || emitted_ - base == length, "generator stalled: " + swarm_.describe());
    return std::move(trace_);
  }

 private:
  void emit(Statement st) {
    trace_.statements.push_back(std::move(st));
    emitted_++;
  }
  bool invalid() { return rng_.chance(opt_.invalid_percent); }

  void preamble() {
    static const std::vector<std::string> backings = {"thp", "anon", "anon_nohuge", "shmem"};
    const std::string b0 = rng_.pick(backings);
    maps_.push_back({"m0", rng_.chance(50) ? 8 * M : 4 * M, b0 == "thp"});
    emit(b::call("mmap", {val(sz(maps_[0].size)), b::word(b0)}, {}, "m0"));
    const std::string b1 = rng_.pick(backings);
    // restriction shmem_whole_2m: a shmem mapping with a 4K tail gets fewer fault-around neighbours on
    // this host than the 64 KiB window the model maps (open finding, docs/fuzz.md).
    const std::vector<u64> m1_sizes = b1 == "shmem" ? std::vector<u64>{2 * M, 4 * M, 4 * M}
                                                    : std::vector<u64>{2 * M, 4 * M, 4 * M + 4 * K};
    maps_.push_back({"m1", rng_.pick(m1_sizes), b1 == "thp"});
    emit(b::call("mmap", {val(sz(maps_[1].size)), b::word(b1)}, {}, "m1"));
    if (opt_.include_1g && rng_.chance(25)) {
      const bool thp = rng_.chance(50);
      maps_.push_back({"big", G + 2 * M, thp});
      emit(b::call("mmap", {val(sz(G + 2 * M)), b::word(thp ? "thp" : "anon_nohuge")}, {}, "big"));
    }
    emit(b::call("KVM_CREATE_VM", {val(b::constant(opt_.gmem_conversion ? "KVM_X86_SW_PROTECTED_VM" : "KVM_X86_DEFAULT_VM"))},
                 {}, "vm"));
    emit(b::call("KVM_CREATE_VCPU", {val(b::handle("vm")), val(b::decimal(0))}, {}, "vcpu"));
  }

  // ---- argument pools biased to collide ----
  u64 hot_gpa() {
    static const std::vector<u64> bases = {0, 2 * M, 4 * M, G - 2 * M, G, G + 2 * M, 2 * G - 2 * M, 2 * G, 3 * G,
                                           4 * G - 2 * M, 4 * G};
    static const std::vector<u64> offs = {0, 0, 0, 4 * K, 2 * M - 4 * K, M};
    if (!slots_.empty() && rng_.chance(40)) {  // slot edges
      auto it = slots_.begin();
      std::advance(it, static_cast<long>(rng_.below(slots_.size())));
      const Slot& s = it->second;
      switch (rng_.below(4)) {
        case 0: return s.gpa;
        case 1: return s.gpa + s.size;
        case 2: return s.gpa + s.size - std::min<u64>(s.size, 4 * K);
        default: return s.gpa >= 4 * K ? s.gpa - 4 * K : 0;
      }
    }
    return rng_.pick(bases) + rng_.pick(offs);
  }
  u64 hot_size(u64 max) {
    static const std::vector<u64> sizes = {4 * K, 8 * K, M, 2 * M - 4 * K, 2 * M, 2 * M + 4 * K, 4 * M - 4 * K, 4 * M,
                                           G - 4 * K, G, G + 4 * K};
    for (int tries = 0; tries < 8; tries++) {
      u64 s = rng_.pick(sizes);
      if (s <= max) return s;
    }
    return 4 * K;
  }
  // A host range [map+off, +size) inside one mapping (restriction host_range_inside_mappings).
  bool host_range(u64 size, std::string* map, u64* off) {
    std::vector<std::size_t> fit;
    for (std::size_t i = 0; i < maps_.size(); i++)
      if (maps_[i].size >= size) fit.push_back(i);
    if (fit.empty()) return false;
    for (int tries = 0; tries < 8; tries++) {
      const HostMap& m = maps_[rng_.pick(fit)];
      static const std::vector<u64> offs = {0, 0, 4 * K, M, 2 * M, 2 * M - 4 * K};
      u64 o = rng_.pick(offs);
      if (o + size > m.size) o = 0;
      if (in_hole(m.name, o, size)) continue;  // restriction holes_stay_unused
      *map = m.name;
      *off = o;
      return true;
    }
    return false;
  }
  bool in_hole(const std::string& map, u64 off, u64 size) const {
    for (const auto& h : holes_)
      if (h.map == map && off < h.off + h.size && h.off < off + size) return true;
    return false;
  }
  // A gpa the guest may touch: inside a predicted slot whose host range is intact, or (before any
  // munmap) anywhere in the hot set. nullopt: nothing safe.
  std::optional<u64> guest_gpa(bool* in_intact_slot, Expr* hva_expr = nullptr) {
    std::vector<u32> intact;
    for (const auto& [id, s] : slots_)
      if (!in_hole(s.map, s.hva_off, s.size)) intact.push_back(id);
    *in_intact_slot = false;
    if (!intact.empty() && (holes_.empty() ? rng_.chance(80) : true)) {
      const Slot& s = slots_[rng_.pick(intact)];
      static const std::vector<u64> offs = {0, 4 * K, M, 2 * M, 2 * M - 4 * K, 4 * M - 4 * K};
      u64 o = rng_.pick(offs);
      *in_intact_slot = s.gmem.empty();
      const u64 delta = o < s.size ? o : s.size - 4 * K;
      if (hva_expr) *hva_expr = hva(s.map, s.hva_off + delta);
      return s.gpa + delta;
    }
    if (!holes_.empty()) return std::nullopt;
    return hot_gpa() & ~(4 * K - 1);
  }
  Expr hva(const std::string& map, u64 off) { return off ? b::join(b::handle(map), '+', sz(off)) : b::handle(map); }
  bool overlaps(u64 gpa, u64 size, std::optional<u32> except) const {
    for (const auto& [id, s] : slots_)
      if ((!except || id != *except) && gpa < s.gpa + s.size && s.gpa < gpa + size) return true;
    return false;
  }
  std::optional<u32> existing_slot() {
    if (slots_.empty()) return std::nullopt;
    auto it = slots_.begin();
    std::advance(it, static_cast<long>(rng_.below(slots_.size())));
    return it->first;
  }
  u32 slot_id() {
    if (auto s = existing_slot(); s && rng_.chance(30)) return *s;
    return static_cast<u32>(rng_.below(6));
  }
  bool gmem_closed(const std::string& name) const {
    for (const auto& g : gmems_)
      if (g.name == name) return !g.open;
    return false;
  }
  std::vector<std::size_t> open_gmems() const {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < gmems_.size(); i++)
      if (gmems_[i].open) v.push_back(i);
    return v;
  }

  // `guest_memfd` is a handle name, or `-1` (a raw fd that is no guest_memfd, made invalid on purpose).
  Statement region_stmt(bool v2, u32 slot, u32 flags, u64 gpa, u64 size, Expr uaddr, const std::string& gmem = "",
                        u64 gmem_off = 0) {
    std::vector<trace::Field> f = {b::field("slot", val(b::decimal(slot)))};
    if (flags) f.push_back(b::field("flags", val(b::flags(flags, "KVM_MEM_"))));
    f.push_back(b::field("guest_phys_addr", val(sz(gpa))));
    f.push_back(b::field("memory_size", val(sz(size))));
    f.push_back(b::field("userspace_addr", val(std::move(uaddr))));
    if (!gmem.empty()) {
      f.push_back(b::field("guest_memfd", val(gmem == "-1" ? b::negative(1) : b::handle(gmem))));
      if (gmem_off) f.push_back(b::field("guest_memfd_offset", val(sz(gmem_off))));
    }
    return vm_call(v2 ? "KVM_SET_USER_MEMORY_REGION2" : "KVM_SET_USER_MEMORY_REGION", b::record(std::move(f)));
  }
  // CALLEE(vm, {record})
  static Statement vm_call(const char* callee, trace::Value record) {
    return b::call(callee, {val(b::handle("vm")), std::move(record)});
  }

  // ---- operations ----
  void slot_create() {
    const bool v2 = rng_.chance(30);
    u32 id = slot_id();
    u64 size = hot_size(G + 2 * M);
    std::string map;
    u64 off = 0;
    if (!host_range(size, &map, &off)) return;
    u64 gpa = hot_gpa() & ~(4 * K - 1);
    for (int t = 0; t < 4 && overlaps(gpa, size, std::nullopt) && !rng_.chance(15); t++) gpa = hot_gpa();
    u32 flags = rng_.chance(25) ? 1u /*LOG_DIRTY*/ : rng_.chance(10) ? 2u /*READONLY*/ : 0u;
    Expr uaddr = hva(map, off);
    if (invalid()) {
      switch (rng_.below(5)) {
        case 0: size += 0x800; break;
        case 1: gpa += 0x800; break;
        case 2: uaddr = b::join(std::move(uaddr), '+', b::hex(0x800)); break;
        case 3: flags |= 1u << 7; break;
        default: id = rng_.chance(50) ? 0x10000 | id : 32767; break;  // as_id 1 / beyond KVM_USER_MEM_SLOTS
      }
      emit(region_stmt(v2, id, flags, gpa, size, std::move(uaddr)));
      return;
    }
    emit(region_stmt(v2, id, flags, gpa, size, std::move(uaddr)));
    if (!slots_.count(id) && !overlaps(gpa, size, std::nullopt)) {
      slots_[id] = Slot{gpa, size, flags, map, off, "", 0};
      had_slot_ = true;
    }
  }
  void slot_delete() {
    auto id = existing_slot();
    if (!id) return;
    emit(vm_call(rng_.chance(30) ? "KVM_SET_USER_MEMORY_REGION2" : "KVM_SET_USER_MEMORY_REGION",
                 b::record({b::field("slot", val(b::decimal(*id))), b::field("memory_size", val(b::decimal(0)))})));
    slots_.erase(*id);
    zapped_all_ = true;
  }
  void slot_move() {
    auto id = existing_slot();
    if (!id) return;
    Slot s = slots_[*id];
    if (gmem_closed(s.gmem)) return;  // restriction closed_fds_unused
    u64 gpa = hot_gpa() & ~(4 * K - 1);
    if (invalid()) gpa |= 0x800;
    emit(region_stmt(!s.gmem.empty(), *id, s.flags | (s.gmem.empty() ? 0u : 4u), gpa, s.size, hva(s.map, s.hva_off),
                     s.gmem, s.gmem_off));
    zapped_all_ = true;
    if (!(gpa & 0xfff) && s.gmem.empty() && !overlaps(gpa, s.size, *id)) slots_[*id].gpa = gpa;
  }
  void slot_flags() {
    auto id = existing_slot();
    if (!id) return;
    Slot s = slots_[*id];
    if (gmem_closed(s.gmem)) return;  // restriction closed_fds_unused
    u32 flags = s.flags ^ 1u;  // toggle LOG_DIRTY
    if (invalid()) flags ^= 2u;  // READONLY cannot change: EINVAL
    emit(region_stmt(!s.gmem.empty(), *id, flags | (s.gmem.empty() ? 0u : 4u), s.gpa, s.size, hva(s.map, s.hva_off),
                     s.gmem, s.gmem_off));
    if (s.gmem.empty() && !((flags ^ s.flags) & 2u)) slots_[*id].flags = flags;
  }
  void slot_gmem_bind() {
    auto open = open_gmems();
    if (open.empty()) return;
    const Gmem& g = gmems_[rng_.pick(open)];
    u32 id = slot_id();
    u64 size = hot_size(std::min<u64>(g.size, 4 * M));
    std::string map;
    u64 off = 0;
    if (!host_range(size, &map, &off)) return;
    static const std::vector<u64> goffs = {0, 0, 2 * M, M, 4 * K};
    u64 goff = rng_.pick(goffs);  // overlapping offsets on purpose
    u64 gpa = hot_gpa() & ~(4 * K - 1);
    for (int t = 0; t < 4 && overlaps(gpa, size, std::nullopt); t++) gpa = hot_gpa() & ~(4 * K - 1);
    u32 flags = 4u;  // KVM_MEM_GUEST_MEMFD
    std::string gname = g.name;
    if (invalid()) {
      switch (rng_.below(3)) {
        case 0: goff += 0x800; break;
        case 1: flags |= 1u; break;  // LOG_DIRTY on a gmem slot
        default: gname = "-1"; break;
      }
    }
    emit(region_stmt(true, id, flags, gpa, size, hva(map, off), gname, goff));
    if (gname == g.name && flags == 4u && !slots_.count(id) && !overlaps(gpa, size, std::nullopt) &&
        goff + size <= g.size)
    {
      slots_[id] = Slot{gpa, size, 0, map, off, g.name, goff};
      had_slot_ = true;
    }
  }
  void gmem_create() {
    static const std::vector<u64> sizes = {2 * M, 4 * M, 8 * M};
    if (invalid()) {
      if (rng_.chance(50))
        emit(vm_call("KVM_CREATE_GUEST_MEMFD", b::record({b::field("size", val(sz(2 * M + 0x800)))})));
      else
        emit(vm_call("KVM_CREATE_GUEST_MEMFD",
                     b::record({b::field("size", val(sz(2 * M))), b::field("flags", val(b::hex(0x80)))})));
      return;
    }
    if (gmems_.size() >= 4) return;
    Gmem g{"g" + std::to_string(gmems_.size()), rng_.pick(sizes), true, ""};
    const bool shared = opt_.gmem_conversion || opt_.gmem_write_flag;
    if (shared && emitted_ + 2 > limit_) return;  // no room for the mmap that follows
    std::vector<trace::Field> f = {b::field("size", val(sz(g.size)))};
    // A proposal's files are shared and mmapped, so host and guest contents meet (and convert).
    if (shared) {
      Expr flags = b::join(b::constant("GUEST_MEMFD_FLAG_MMAP"), '|', b::constant("GUEST_MEMFD_FLAG_INIT_SHARED"));
      if (opt_.gmem_write_flag) flags = b::join(std::move(flags), '|', b::hex(opt_.gmem_write_flag));
      f.push_back(b::field("flags", val(std::move(flags))));
    }
    Statement st = vm_call("KVM_CREATE_GUEST_MEMFD", b::record(std::move(f)));
    st.bind = g.name;
    emit(std::move(st));
    if (shared) {
      g.map = g.name + "m";
      emit(b::call("mmap", {val(sz(g.size)), val(b::handle(g.name))}, {}, g.map));
    }
    gmems_.push_back(g);
  }
  void gmem_fallocate() {
    auto open = open_gmems();
    if (open.empty()) return;
    const Gmem& g = gmems_[rng_.pick(open)];
    const bool punch = rng_.chance(50);
    u64 off = rng_.pick(std::vector<u64>{0, 4 * K, M, 2 * M, g.size - 2 * M});
    u64 len = hot_size(g.size);
    if (invalid()) off += 0x800;
    Expr mode = b::constant("FALLOC_FL_KEEP_SIZE");
    if (punch) mode = b::join(std::move(mode), '|', b::constant("FALLOC_FL_PUNCH_HOLE"));
    emit(b::call("fallocate", {val(b::handle(g.name)), val(std::move(mode)), val(sz(off)), val(sz(len))}));
  }
  void gmem_close() {
    auto open = open_gmems();
    if (open.empty()) return;
    Gmem& g = gmems_[rng_.pick(open)];
    emit(b::call("close", {val(b::handle(g.name))}));
    g.open = false;  // restriction closed_fds_unused
  }
  void attributes() {
    if (opt_.gmem_conversion) return convert();
    u64 gpa = hot_gpa() & ~(4 * K - 1);
    u64 size = hot_size(4 * M);
    if (invalid()) size += 0x800;
    Expr attributes = rng_.chance(50) ? b::constant("KVM_MEMORY_ATTRIBUTE_PRIVATE") : b::decimal(0);
    emit(vm_call("KVM_SET_MEMORY_ATTRIBUTES", b::record({b::field("address", val(sz(gpa))),
                                                          b::field("size", val(sz(size))),
                                                          b::field("attributes", val(std::move(attributes)))})));
  }
  // KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (in-place conversion): a page-aligned range of the file
  // (invalid: an unaligned size, or one past the end), to private or shared.
  void convert() {
    auto open = open_gmems();
    if (open.empty()) return;
    const Gmem& g = gmems_[rng_.pick(open)];
    u64 off = rng_.pick(std::vector<u64>{0, 0, 4 * K, M, g.size - 2 * M});
    u64 size = std::min(hot_size(g.size), g.size - off);
    if (invalid()) size += rng_.chance(50) ? 0x800 : g.size;
    Expr attributes = rng_.chance(50) ? b::constant("KVM_MEMORY_ATTRIBUTE_PRIVATE") : b::decimal(0);
    emit(b::call("KVM_SET_MEMORY_ATTRIBUTES2",
                 {val(b::handle(g.name)), b::record({b::field("offset", val(sz(off))), b::field("size", val(sz(size))),
                                                     b::field("attributes", val(std::move(attributes)))})}));
  }
  void pre_fault() {
    if (!had_slot_) return;  // restriction no_guest_entry_before_first_slot
    if (opt_.prefault_hangs_after_zap_all && zapped_all_) return;  // restriction no_prefault_after_zap_all
    bool unused;
    auto where = guest_gpa(&unused);
    if (!where) return;
    u64 gpa = *where;
    u64 size = hot_size(4 * M);
    bool bad_flags = false;
    if (invalid()) {
      switch (rng_.below(3)) {
        case 0: gpa |= 0x800; break;
        case 1: bad_flags = true; break;
        default: size = 0; break;
      }
    }
    if (opt_.map_memory && rng_.chance(80)) return map_memory(gpa, size);
    std::vector<trace::Field> f = {b::field("gpa", val(sz(gpa))), b::field("size", val(sz(size)))};
    if (bad_flags) f.push_back(b::field("flags", val(b::decimal(1))));
    emit(b::call("KVM_PRE_FAULT_MEMORY", {val(b::handle("vcpu")), b::record(std::move(f))}));
    touched_.push_back(gpa & ~(4 * K - 1));
  }
  // The proposed KVM_MAP_MEMORY (RFC v1) over the same hot range: access flags (a WRITE breaks CoW), and
  // the generic part's invalid cases (an unknown flag, PRIVATE, an unaligned source, nr_pages 0 or wrapping).
  void map_memory(u64 gpa, u64 size) {
    u64 base_gfn = gpa >> 12, nr_pages = std::max<u64>(size >> 12, 1), source = 0;
    u64 flags = rng_.below(8);  // WRITE|EXEC|USER
    if (invalid()) {
      switch (rng_.below(5)) {
        case 0: flags |= 1u << 4; break;  // unknown bit
        case 1: flags |= 1u << 3; break;  // PRIVATE
        case 2: source = rng_.chance(50) ? 0x800 : 0x10000; break;
        case 3: nr_pages = 0; break;
        default: nr_pages = 0 - base_gfn; break;  // base_gfn + nr_pages wraps to 0
      }
    }
    std::vector<trace::Field> f = {b::field("base_gfn", val(b::hex(base_gfn))),
                                   b::field("nr_pages", val(b::decimal(nr_pages)))};
    if (flags) f.push_back(b::field("flags", val(b::flags(flags, "KVM_MEMORY_MAPPING_FLAG_"))));
    if (source) f.push_back(b::field("source", val(b::hex(source))));
    emit(b::call("KVM_MAP_MEMORY", {val(b::handle("vcpu")), b::record(std::move(f))}));
    touched_.push_back(gpa & ~(4 * K - 1));
  }
  void access() {
    if (!had_slot_) return;  // restriction no_guest_entry_before_first_slot
    bool stub_possible = false;
    Expr page_hva;
    auto where = guest_gpa(&stub_possible, &page_hva);
    if (!where) return;
    const u64 gpa = *where;
    static const std::vector<std::string> kinds = {"read", "write", "write", "exec"};
    std::string kind = rng_.pick(kinds);
    if (kind == "write" && munmapped_) kind = "read";  // restriction no_write_after_munmap
    if (kind == "exec" && !stub_possible) kind = "read";  // restriction exec_needs_stub
    if (kind == "exec" && emitted_ + 2 > limit_) kind = "read";  // no room for the touch
    // restriction exec_after_touch: the VMM writes the code before the guest runs it (the kvm
    // backend writes its `ret` stub through the hva, which makes the host page present and writable).
    if (kind == "exec") emit(b::call("touch", {val(std::move(page_hva)), val(sz(4 * K))}));
    // Memory contents (docs/semantics/memory-contents.md §5): a u64 store of a drawn value, or a u64
    // load whose value a differential run compares (`{value=0}` is a placeholder, like observe_stats').
    // 8-aligned inside the page: the real backend's agent reaches one 2M window per access.
    if (kind != "exec" && rng_.chance(40)) {
      const u64 at = gpa + 8 * rng_.below(512);
      if (kind == "write") {
        emit(b::call("access", {val(b::handle("vcpu")), val(sz(at)), b::word(kind)},
                     {b::field("value", val(b::hex(data_value())))}));
      } else {
        Statement st = b::call("access", {val(b::handle("vcpu")), val(sz(at)), b::word(kind)});
        st.result.kind = trace::Result::Kind::ok;
        st.result.fields = {b::field("value", val(b::decimal(0)))};
        emit(std::move(st));
      }
      touched_.push_back(gpa);
      return;
    }
    emit(b::call("access", {val(b::handle("vcpu")), val(sz(gpa)), b::word(kind)}));
    touched_.push_back(gpa);
  }
  // Values with a zero byte, a high bit and distinct bytes, so a byte-order or offset slip shows.
  u64 data_value() {
    static const std::vector<u64> kValues = {1, 0xff, 0x8000000000000000ull, 0x1122334455667788ull,
                                             0xdeadbeef00c0ffeeull};
    return rng_.chance(50) ? rng_.pick(kValues) : rng_.next();
  }
  // The VMM's own u64 store or load (poke/peek) somewhere in one of its mappings, 8-aligned.
  void host_content() {
    if ((opt_.gmem_conversion || opt_.gmem_write_flag) && rng_.chance(50)) return gmem_content();
    std::string map;
    u64 off = 0;
    if (!host_range(4 * K, &map, &off)) return;
    off += 8 * rng_.below(512);
    if (rng_.chance(50)) emit(b::call("poke", {val(hva(map, off)), val(b::hex(data_value()))}));
    else emit(b::call("peek", {val(hva(map, off))}));
  }
  // Contents of a proposal's guest_memfd: the VMM's poke/peek through its mapping (SIGBUS on a private page),
  // or, with write(), a pwrite of whole pages (invalid: unaligned, or past the end).
  void gmem_content() {
    auto open = open_gmems();
    if (open.empty()) return;
    const Gmem& g = gmems_[rng_.pick(open)];
    const u64 page = rng_.pick(std::vector<u64>{0, 4 * K, M, g.size - 4 * K});
    if (opt_.gmem_write_flag && rng_.chance(40)) {
      u64 size = rng_.pick(std::vector<u64>{4 * K, 8 * K, M});
      u64 off = page;
      if (invalid()) {
        if (rng_.chance(50)) off += 8;
        else size += g.size;
      }
      emit(b::call("pwrite", {val(b::handle(g.name)), val(sz(off)), val(sz(size))},
                   {b::field("value", val(b::hex(data_value())))}));
      return;
    }
    const u64 off = page + 8 * rng_.below(512);
    if (rng_.chance(50)) emit(b::call("poke", {val(hva(g.map, off)), val(b::hex(data_value()))}));
    else emit(b::call("peek", {val(hva(g.map, off))}));
  }
  u32 dirty_slot() {
    if (invalid()) return rng_.chance(50) ? 7 : 0x10000;
    if (auto id = existing_slot()) return *id;
    return 0;
  }
  void dirty_get() {
    emit(vm_call("KVM_GET_DIRTY_LOG", b::record({b::field("slot", val(b::decimal(dirty_slot())))})));
  }
  void dirty_clear() {
    u32 slot = dirty_slot();
    u64 npages = slots_.count(slot) ? slots_[slot].size / (4 * K) : 512;
    u64 first = rng_.chance(70) ? 0 : 64 * rng_.below(std::max<u64>(1, npages / 64));
    u64 num = rng_.chance(50) ? npages - std::min(first, npages) : 64;
    if (invalid()) first += 1;
    std::vector<trace::Range> bitmap;
    if (num != 0) bitmap = {b::range(0, std::min<u64>(num, 1024) - 1)};
    if (rng_.chance(30) && num > 3) bitmap = {b::range(3)};
    emit(vm_call("KVM_CLEAR_DIRTY_LOG",
                 b::record({b::field("slot", val(b::decimal(slot))), b::field("first_page", val(b::decimal(first))),
                            b::field("num_pages", val(b::decimal(num))),
                            b::field("bitmap", b::ranges(std::move(bitmap)))})));
  }
  // restriction manual_protect_before_slots: the cap is enabled before any memslot, as VMMs do. Later
  // the kernel accepts a change too, and dropping INITIALLY_SET then leaves writable huge leaves in a
  // dirty-logged slot, which model/invariants.cpp rejects (open finding: the checker is too strict).
  void dirty_enable() {
    if (had_slot_) return;
    Expr arg = b::constant("KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE");
    if (!rng_.chance(50)) arg = b::join(std::move(arg), '|', b::constant("KVM_DIRTY_LOG_INITIALLY_SET"));
    if (invalid()) arg = b::decimal(4);
    emit(vm_call("KVM_ENABLE_CAP", b::record({b::field("cap", val(b::constant("KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"))),
                                              b::field("args", b::list({std::move(arg)}))})));
  }
  void host_madvise() {
    u64 len = hot_size(4 * M);
    std::string map;
    u64 off = 0;
    if (!host_range(len, &map, &off)) return;
    // restriction madvise_dontneed_only: MADV_(NO)HUGEPAGE on part of a mapping zaps KVM's mappings
    // on this kernel for shmem (and anon with HUGEPAGE), which the model does not (docs/fuzz.md).
    emit(b::call("madvise", {val(hva(map, off)), val(sz(len)), val(b::constant("MADV_DONTNEED"))}));
  }
  // restriction munmap_2m_granular: only whole 2M-aligned chunks of 2M-aligned (thp) mappings. On
  // this host a munmap invalidates KVM's mappings of the whole 2M region around the range (a 4K
  // munmap zaps a mapped neighbour page; MADV_DONTNEED does not), which the model does not do
  // (open finding, docs/fuzz.md).
  void host_munmap() {
    std::vector<std::size_t> thp;
    for (std::size_t i = 0; i < maps_.size(); i++)
      if (maps_[i].thp) thp.push_back(i);
    if (thp.empty()) return;
    const HostMap& m = maps_[rng_.pick(thp)];
    const u64 len = 2 * M;
    const u64 off = 2 * M * rng_.below(m.size / (2 * M));
    if (in_hole(m.name, off, len)) return;
    const std::string map = m.name;
    emit(b::call("munmap", {val(hva(map, off)), val(sz(len))}));
    munmapped_ = true;
    holes_.push_back(Hole{map, off, len});
  }
  void host_touch() {
    u64 len = hot_size(4 * M);
    std::string map;
    u64 off = 0;
    if (!host_range(len, &map, &off) || munmapped_) return;
    emit(b::call("touch", {val(hva(map, off)), val(sz(len))}));
  }
  // The expected values are placeholders: a differential run compares the two backends' counters.
  void observe_stats() {
    emit(b::expect("stats", {val(b::handle("vm"))},
                   {b::field("pages_4k", val(b::decimal(0))), b::field("pages_2m", val(b::decimal(0))),
                    b::field("pages_1g", val(b::decimal(0)))}));
  }
  // Mostly where the guest has been: that is where a level decision shows.
  void observe_mapping() {
    const u64 gpa = !touched_.empty() && rng_.chance(75) ? rng_.pick(touched_) : hot_gpa() & ~(4 * K - 1);
    emit(b::expect("mapping", {val(b::handle("vm")), val(sz(gpa))}));
  }
  void inject() {
    auto inj = [](const char* site, const char* kind, const char* key, u64 n) {
      return b::call("inject", {b::word(site), b::word(kind)}, {b::field(key, val(b::decimal(n)))});
    };
    switch (rng_.below(4)) {
      case 0: emit(inj("pre_fault", "eintr", "after", rng_.below(4))); break;
      case 1: emit(inj("pre_fault", "eagain", "after", rng_.below(3))); break;
      case 2: emit(inj("alloc", "enomem", "after", rng_.below(3))); break;
      default: emit(inj("fault", "retry", "count", 1 + rng_.below(3))); break;
    }
  }

  void step() {
    switch (static_cast<OpKind>(rng_.weighted(swarm_.weights))) {
      case OpKind::slot_create: return slot_create();
      case OpKind::slot_delete: return slot_delete();
      case OpKind::slot_move: return slot_move();
      case OpKind::slot_flags: return slot_flags();
      case OpKind::slot_gmem_bind: return slot_gmem_bind();
      case OpKind::gmem_create: return gmem_create();
      case OpKind::gmem_fallocate: return gmem_fallocate();
      case OpKind::gmem_close: return gmem_close();
      case OpKind::attributes: return attributes();
      case OpKind::pre_fault: return pre_fault();
      case OpKind::access: return access();
      case OpKind::dirty_get: return dirty_get();
      case OpKind::dirty_clear: return dirty_clear();
      case OpKind::dirty_enable: return dirty_enable();
      case OpKind::host_madvise: return host_madvise();
      case OpKind::host_munmap: return host_munmap();
      case OpKind::host_touch: return host_touch();
      case OpKind::observe_stats: return observe_stats();
      case OpKind::observe_mapping: return observe_mapping();
      case OpKind::host_content: return host_content();
      case OpKind::inject: return inject();
    }
  }

  Rng& rng_;
  const Swarm& swarm_;
  const GenOptions& opt_;
  trace::Trace trace_;
  std::vector<HostMap> maps_;
  std::map<u32, Slot> slots_;  // ordered: iteration reaches the output
  std::vector<Gmem> gmems_;
  bool munmapped_ = false;
  bool had_slot_ = false;  // a slot creation predicted to succeed has been emitted
  bool zapped_all_ = false;  // a slot delete or move has been emitted (a zap of all roots)
  struct Hole {
    std::string map;
    u64 off = 0, size = 0;
  };
  std::vector<Hole> holes_;  // munmapped host ranges, never referenced again
  std::size_t emitted_ = 0, limit_ = 0;
  std::vector<u64> touched_;  // gpas accessed or pre-faulted, in order
};

}  // namespace

const char* op_kind_name(OpKind k) { return kOpNames[static_cast<std::size_t>(k)]; }

std::string Swarm::describe() const {
  std::string s;
  for (std::size_t i = 0; i < kOpKinds; i++)
    if (weights[i]) s += (s.empty() ? "" : " ") + std::string(kOpNames[i]) + "=" + std::to_string(weights[i]);
  return s;
}

Swarm draw_swarm(Rng& rng, const GenOptions& options) {
  Swarm s;
  const std::size_t n = options.faults ? kOpKinds : kOpKinds - 1;
  for (;;) {
    std::size_t on = 0;
    for (std::size_t i = 0; i < n; i++) {
      s.weights[i] = rng.chance(75) ? static_cast<unsigned>(1 + rng.below(9)) : 0;
      on += s.weights[i] != 0;
    }
    // Nothing happens without a memslot: creation is never switched off.
    if (!s.weights[static_cast<std::size_t>(OpKind::slot_create)]) s.weights[0] = 1 + static_cast<unsigned>(rng.below(9));
    if (on >= 3) return s;
  }
}

trace::Trace generate_trace(Rng& rng, std::size_t length, const Swarm& swarm, const GenOptions& options) {
  return CaseGen(rng, swarm, options).run(length);
}

std::string generate_case(Rng& rng, std::size_t length, const Swarm& swarm, const GenOptions& options) {
  return case_text(generate_trace(rng, length, swarm, options));
}

std::string case_text(const trace::Trace& t) {
  std::string out = trace::print_header(t) + "# generated by kvmsim fuzz\n";
  for (const auto& s : t.statements) out += trace::print_statement(s) + "\n";
  return out;
}

}  // namespace kvmsim::fuzz
