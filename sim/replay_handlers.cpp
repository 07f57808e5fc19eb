// One handler per trace::Op (see sim/replay_call.h): each turns its statement into one backend call.
// They are registered in kHandlers below, indexed by the Op; a test checks that every schema row has one.
#include <algorithm>
#include <array>

#include "model/core_assert.h"
#include "sim/replay_call.h"
#include "sim/trace/printer.h"

namespace kvmsim::replay_op {

namespace {

using trace::Field;
using trace::Op;
using trace::Result;

Answer done(Ret ret) { return Returned{ret, {}, false}; }

// ---- host memory ----
Answer mmap(const Call& c) {
  const trace::Value& b = c.st.args.at(1);
  if (b.kind == trace::Value::Kind::word) {
    auto backing = backing_from_name(b.word);
    KVMSIM_ASSERT_CTX(backing, "backing " + b.word);
    const u64 align = c.keyword("align", backing_default_align(*backing));
    MmapPlacement placement;  // a VMM's prot, MAP_* flags and MAP_FIXED address (FORMAT.md)
    placement.prot = static_cast<int>(c.keyword("prot", placement.prot));
    placement.flags = static_cast<int>(c.keyword("flags", 0));
    placement.fixed = c.keyword("addr", 0);
    if (placement.is_default()) return done(c.api.mmap(c.arg(0), *backing, align));
    return done(c.api.mmap_placed(c.arg(0), *backing, align, placement));
  }
  return done(c.api.mmap_fd(c.fd(1), c.arg(0), c.keyword("offset", 0),
                            static_cast<int>(c.keyword("prot", uapi::PROT_READ | uapi::PROT_WRITE)),
                            static_cast<int>(c.keyword("flags", uapi::MAP_SHARED))));
}
Answer munmap(const Call& c) { return done(c.api.munmap(c.arg(0), c.arg(1))); }
Answer madvise(const Call& c) { return done(c.api.madvise(c.arg(0), c.arg(1), static_cast<int>(c.arg(2)))); }
Answer mprotect(const Call& c) { return done(c.api.mprotect(c.arg(0), c.arg(1), static_cast<int>(c.arg(2)))); }
Answer touch(const Call& c) { return done(c.api.touch(c.arg(0), c.arg(1))); }
Answer memfd_create(const Call& c) { return done(c.api.memfd_create(c.arg(0), c.keyword("flags", 0))); }
// A backend that cannot pin goes on unpinned: paired with one that did, the states part here for a reason
// that is not the kernel's (the backend's diagnostic says why).
Answer pinned(const Call& c, std::optional<Ret> ret) {
  if (ret) return done(*ret);
  StatementResult r;
  r.status = StepStatus::unobservable;
  r.host_limit = true;
  r.expected = expected_text(c.st);
  return r;
}
Answer pin(const Call& c) { return pinned(c, c.api.pin(c.arg(0), c.arg(1))); }
Answer unpin(const Call& c) { return pinned(c, c.api.unpin(c.arg(0), c.arg(1))); }
// ---- memory contents (docs/semantics/memory-contents.md) ----
Answer poke(const Call& c) { return done(c.api.poke(c.arg(0), c.arg(1))); }
// A loaded value reads best in hex: the engine compares, the actual text is rewritten.
Answer peek(const Call& c) {
  const Ret r = c.api.peek(c.arg(0));
  StatementResult res = compare_call(c, Returned{r, {}, false});
  if (r.is_ok()) {
    res.actual = r.unspecified ? "unspecified" : trace::format_data(static_cast<u64>(r.ret));
    if (res.rewrite) res.rewrite = "= " + res.actual;
  }
  return res;
}

// ---- KVM objects and ioctls ----
Answer create_vm(const Call& c) { return done(c.api.ioctl_create_vm(c.api.kvm_fd(), c.arg(0))); }
Answer create_vcpu(const Call& c) { return done(c.api.ioctl_create_vcpu(c.fd(0), c.arg(1))); }
Answer create_guest_memfd(const Call& c) {
  return done(c.api.ioctl_create_guest_memfd(c.fd(0), c.record<uapi::kvm_create_guest_memfd>(1)));
}
Answer check_extension(const Call& c) { return done(c.api.ioctl_check_extension(c.fd(0), c.arg(1))); }
// The record is struct kvm_userspace_memory_region_ext: private_offset/private_fd (private-fd v5)
// are zero unless the trace writes them, and a kernel without KVM_MEM_PRIVATE never reads them.
Answer set_user_memory_region(const Call& c) {
  const auto r = c.record<uapi::kvm_userspace_memory_region_ext>(1);
  if (!(r.flags & uapi::KVM_MEM_PRIVATE) && !r.private_fd && !r.private_offset)
    return done(c.api.ioctl_set_user_memory_region(
        c.fd(0), uapi::kvm_userspace_memory_region{r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr}));
  return done(c.api.ioctl_set_user_memory_region_ext(c.fd(0), r));
}
Answer set_user_memory_region2(const Call& c) {
  return done(c.api.ioctl_set_user_memory_region2(c.fd(0), c.record<uapi::kvm_userspace_memory_region2>(1)));
}
Answer set_memory_attributes(const Call& c) {
  return done(c.api.ioctl_set_memory_attributes(c.fd(0), c.record<uapi::kvm_memory_attributes>(1)));
}
// Written back only when the kernel copies the struct out (late errors: error_offset).
Answer set_memory_attributes2(const Call& c) {
  auto a = c.record<uapi::kvm_memory_attributes2>(1);
  bool written_back = false;
  Ret ret = c.api.ioctl_set_memory_attributes2(c.fd(0), a, &written_back);
  return Returned{ret, Call::read(c.spec.out, a), written_back};
}
Answer guest_memfd_populate(const Call& c) {
  return done(c.api.ioctl_guest_memfd_populate(c.fd(0), c.record<uapi::kvm_guest_memfd_populate>(1),
                                               static_cast<u32>(c.keyword("process", 1))));
}
// The kernel writes gpa/size back on every return (docs/semantics/pre-fault.md §1).
Answer pre_fault_memory(const Call& c) {
  auto p = c.record<uapi::kvm_pre_fault_memory>(1);
  Ret ret = c.api.ioctl_pre_fault_memory(c.fd(0), p);
  return Returned{ret, Call::read(c.spec.out, p), true};
}
// The RFC's KVM_MAP_MEMORY copies the struct back on every return, errors included (patch 2).
Answer map_memory(const Call& c) {
  auto m = c.record<uapi::kvm_memory_mapping>(1);
  Ret ret = c.api.ioctl_map_memory(c.fd(0), m);
  return Returned{ret, Call::read(c.spec.out, m), true};
}
// The bitmap is copied out only on success; a failed call is compared with an empty one.
Answer get_dirty_log(const Call& c) {
  const auto log = c.record<uapi::kvm_dirty_log>(1);
  std::vector<u64> bitmap;
  Ret ret = c.api.ioctl_get_dirty_log(c.fd(0), log.slot, bitmap);
  trace::BitRanges bits = ret.is_ok() ? trace::bitmap_to_ranges(bitmap) : trace::BitRanges{};
  return Returned{ret, {OutField{c.spec.out.at(0).name, bits}}, ret.is_ok()};
}
std::vector<u64> bitmap_of(const trace::BitRanges& ranges, u64 min_bits) {
  u64 bits = min_bits;
  for (const auto& r : ranges) bits = std::max(bits, r.second + 1);
  std::vector<u64> words((bits + 63) / 64, 0);
  for (const auto& [lo, hi] : ranges)
    for (u64 b = lo; b <= hi; b++) words[b / 64] |= 1ull << (b % 64);
  return words;
}
Answer clear_dirty_log(const Call& c) {
  const auto log = c.record<uapi::kvm_clear_dirty_log>(1);
  // Sized for num_pages bits, as the kernel reads it (capped like a memslot), and for every bit written.
  std::vector<u64> bitmap = bitmap_of(c.record_ranges(1, "bitmap"), std::min<u64>(log.num_pages, 1ull << 31));
  return done(c.api.ioctl_clear_dirty_log(c.fd(0), log.slot, log.first_page, log.num_pages, bitmap));
}
Answer enable_cap(const Call& c) { return done(c.api.ioctl_enable_cap(c.fd(0), c.record<uapi::kvm_enable_cap>(1))); }

// ---- file calls ----
Answer fallocate(const Call& c) {
  return done(c.api.fallocate(c.fd(0), static_cast<int>(c.arg(1)), c.arg(2), c.arg(3)));
}
Answer ftruncate(const Call& c) { return done(c.api.ftruncate(c.fd(0), c.arg(1))); }
Answer read(const Call& c) { return done(c.api.read(c.fd(0), c.arg(1))); }
Answer write(const Call& c) { return done(c.api.write(c.fd(0), c.arg(1))); }
Answer pread(const Call& c) { return done(c.api.pread(c.fd(0), c.arg(1), c.arg(2))); }
Answer close(const Call& c) { return done(c.api.close(c.fd(0))); }
Answer pwrite(const Call& c) { return done(c.api.pwrite(c.fd(0), c.arg(1), c.arg(2), c.keyword("value", 0))); }
// st_size and st_blksize are shown on success only (the kernel fills the buffer then).
Answer fstat(const Call& c) {
  FileStat st;
  const Ret ret = c.api.fstat(c.fd(0), st);
  return Returned{ret, {OutField{c.spec.out.at(0).name, st.size}, OutField{c.spec.out.at(1).name, st.blksize}},
                  ret.is_ok()};
}

// ---- guest behaviour: an access answers with an exit, not an int ----
std::string access_text(const AccessOutcome& o, bool with_value) {
  switch (o.kind) {
    case AccessOutcome::Kind::ok:
      if (with_value && o.unspecified) return "unspecified";
      return with_value ? "ok {value=" + trace::format_data(o.value) + "}" : "ok";
    case AccessOutcome::Kind::mmio: return "mmio";
    case AccessOutcome::Kind::memory_fault:
    case AccessOutcome::Kind::memory_error:
      return std::string(o.kind == AccessOutcome::Kind::memory_fault ? "memory_fault" : "memory_error") +
             " {flags=" + trace::format_flags(o.flags, "KVM_MEMORY_EXIT_FLAG_") + ", gpa=" + trace::format_size(o.gpa) +
             ", size=" + trace::format_size(o.size) + "}";
    case AccessOutcome::Kind::error: return "-1 " + trace::format_errno(o.err);
  }
  return "?";
}
bool access_matches(const Call& c, const AccessOutcome& o) {
  const Result& e = c.st.result;
  switch (e.kind) {
    case Result::Kind::ok:
      return o.kind == AccessOutcome::Kind::ok && (e.fields.empty() || !o.unspecified) &&
             fields_match(c, e.fields, {OutField{trace::access_ok_fields().at(0).name, o.value}});
    case Result::Kind::unspecified: return o.kind == AccessOutcome::Kind::ok && o.unspecified;
    case Result::Kind::mmio: return o.kind == AccessOutcome::Kind::mmio;
    case Result::Kind::error: return o.kind == AccessOutcome::Kind::error && o.err == e.err;
    case Result::Kind::memory_fault:
    case Result::Kind::memory_error: {
      const uapi::kvm_memory_fault f{o.flags, o.gpa, o.size};
      const auto want = e.kind == Result::Kind::memory_fault ? AccessOutcome::Kind::memory_fault
                                                             : AccessOutcome::Kind::memory_error;
      return o.kind == want && fields_match(c, e.fields, Call::read(trace::memory_fault_fields(), f));
    }
    case Result::Kind::none:
    case Result::Kind::sigbus:
    case Result::Kind::value: return false;
  }
  return false;
}
Answer access(const Call& c) {
  auto kind = access_kind_from_name(c.word(2));
  KVMSIM_ASSERT_CTX(kind, "access kind " + c.word(2));
  // A value access is a u64 load or store (`value=V`, `= ok {value=V}`); a plain one touches a byte.
  const bool stores =
      std::any_of(c.st.keywords.begin(), c.st.keywords.end(), [](const Field& f) { return f.name == "value"; });
  const bool loads = *kind == AccessKind::read && ((!c.st.result.fields.empty() && c.st.result.kind == Result::Kind::ok) ||
                                                   c.st.result.kind == Result::Kind::unspecified);
  std::optional<AccessOutcome> smm;
  if (c.keyword("smm", 0)) {
    // A vCPU in SMM (docs/semantics/smm.md): a backend that cannot enter SMM answers nothing.
    smm = c.api.access_smm(c.fd(0), c.arg(1), *kind, stores || loads, c.keyword("value", 0));
    if (!smm) {
      // The guest went on without the access: paired with a backend that made it, the states part here
      // for a reason that is not the kernel's (as for pin()).
      StatementResult r;
      r.status = StepStatus::unobservable;
      r.host_limit = true;
      r.expected = expected_text(c.st);
      return r;
    }
  }
  const AccessOutcome o = smm                ? *smm
                          : stores || loads ? c.api.access_value(c.fd(0), c.arg(1), *kind, c.keyword("value", 0))
                                            : c.api.access(c.fd(0), c.arg(1), *kind);
  StatementResult r;
  r.actual = access_text(o, loads);
  r.expected = expected_text(c.st);
  const bool expects = c.st.result.kind != Result::Kind::none;
  r.status = !expects ? StepStatus::unchecked : access_matches(c, o) ? StepStatus::matched : StepStatus::mismatch;
  if (r.status != StepStatus::matched) r.rewrite = "= " + r.actual;
  return r;
}

// ---- fault injection: only a backend that can inject observes it ----
Answer inject(const Call& c) {
  if (c.api.inject_fault(c.word(0), c.word(1), c.keyword("after", 0), c.keyword("count", 1))) return done(Ret::ok());
  StatementResult r;
  r.status = StepStatus::unobservable;
  // A backend that cannot inject (a real kernel) goes on unfaulted: paired with one that did, the two
  // states part here for a reason that is not the kernel's.
  r.host_limit = true;
  r.expected = expected_text(c.st);
  return r;
}

// ---- recorded-only: the kernel's answer to an ioctl the model does not model ----
// The argument is the recorded bytes (each item one byte; the rest of the request's size is zero).
// A backend that cannot issue it (the model) reports the statement unobservable: never a pass.
Answer raw_ioctl(const Call& c) {
  std::vector<unsigned char> bytes;
  for (const Field& f : c.st.keywords)
    if (f.name == "bytes")
      for (const trace::Expr& e : f.value.list) bytes.push_back(static_cast<unsigned char>(c.eval(e)));
  if (auto ret = c.api.raw_ioctl(c.fd(0), c.arg(1), c.keyword("arg", 0), &bytes)) return done(*ret);
  StatementResult r;
  r.status = StepStatus::unobservable;
  r.expected = expected_text(c.st);
  return r;
}

// ---- observations ----
// `expect stats(vm) k=v ...`: the counters the trace names, in its order (all of them when it names
// none); a counter the backend does not have is `absent`, and then no rewrite is offered.
Answer expect_stats(const Call& c) {
  StatementResult r;
  r.expected = trace::print_expect(c.st);
  auto stats = c.api.stats(c.fd(0));
  if (!stats) {
    r.status = StepStatus::unobservable;
    return r;
  }
  auto append = [&r](const std::string& name, const std::string& v) {
    r.actual += (r.actual.empty() ? "" : " ") + name + "=" + v;
  };
  if (c.st.expect.empty())
    for (const auto& [name, value] : *stats) append(name, std::to_string(value));
  bool all_present = true, equal = true;
  for (const Field& f : c.st.expect) {
    auto it = stats->find(f.name);
    all_present &= it != stats->end();
    equal &= it != stats->end() && it->second == c.eval(f.value.expr);
    append(f.name, it == stats->end() ? std::string("absent") : std::to_string(it->second));
  }
  r.status = c.st.expect.empty() ? StepStatus::unchecked : equal ? StepStatus::matched : StepStatus::mismatch;
  if (r.status != StepStatus::matched && all_present) r.rewrite = r.actual;
  return r;
}
// `expect mapping(vm, gpa) level=L writable=0|1 exec=0|1 private=0|1`: the level always, the flags the
// trace names (in the schema's order).
Answer expect_mapping(const Call& c) {
  StatementResult r;
  r.expected = trace::print_expect(c.st);
  auto m = c.keyword("smm", 0) ? c.api.mapping_smm(c.fd(0), c.arg(1)) : c.api.mapping(c.fd(0), c.arg(1));
  if (!m) {
    r.status = StepStatus::unobservable;
    return r;
  }
  const std::string level = level_name(m->level);
  r.actual = "level=" + level;
  auto key = [&c](std::string_view name) -> const Field* {
    for (const Field& f : c.st.expect)
      if (f.name == name) return &f;
    return nullptr;
  };
  bool equal = true;
  if (const Field* f = key("level")) equal &= f->value.word == level;
  const std::pair<const char*, bool> flags[] = {
      {"writable", m->writable}, {"exec", m->executable}, {"private", m->is_private}};
  for (const auto& [name, actual] : flags) {
    const Field* f = key(name);
    if (!f) continue;
    equal &= (c.eval(f->value.expr) != 0) == actual;
    r.actual += std::string(" ") + name + "=" + (actual ? "1" : "0");
  }
  r.status = c.st.expect.empty() ? StepStatus::unchecked : equal ? StepStatus::matched : StepStatus::mismatch;
  if (r.status != StepStatus::matched) r.rewrite = r.actual;
  return r;
}

struct Entry {
  Op op;
  Handler handler;
};
constexpr Entry kEntries[] = {
    {Op::mmap, mmap}, {Op::munmap, munmap}, {Op::madvise, madvise}, {Op::mprotect, mprotect},
    {Op::touch, touch}, {Op::memfd_create, memfd_create}, {Op::pin, pin}, {Op::unpin, unpin},
    {Op::create_vm, create_vm},
    {Op::create_vcpu, create_vcpu}, {Op::create_guest_memfd, create_guest_memfd},
    {Op::check_extension, check_extension}, {Op::set_user_memory_region, set_user_memory_region},
    {Op::set_user_memory_region2, set_user_memory_region2}, {Op::set_memory_attributes, set_memory_attributes},
    {Op::set_memory_attributes2, set_memory_attributes2}, {Op::guest_memfd_populate, guest_memfd_populate},
    {Op::pre_fault_memory, pre_fault_memory}, {Op::map_memory, map_memory}, {Op::get_dirty_log, get_dirty_log},
    {Op::clear_dirty_log, clear_dirty_log}, {Op::enable_cap, enable_cap}, {Op::fallocate, fallocate},
    {Op::ftruncate, ftruncate}, {Op::read, read}, {Op::write, write}, {Op::pread, pread}, {Op::close, close},
    {Op::access, access}, {Op::expect_stats, expect_stats}, {Op::expect_mapping, expect_mapping},
    {Op::inject, inject}, {Op::raw_ioctl, raw_ioctl}, {Op::poke, poke}, {Op::peek, peek}, {Op::pwrite, pwrite},
    {Op::fstat, fstat},
};

}  // namespace

Handler handler(trace::Op op) {
  static const auto table = [] {
    std::array<Handler, trace::kOpCount> t{};
    for (const Entry& e : kEntries) {
      KVMSIM_ASSERT_CTX(!t[static_cast<std::size_t>(e.op)], "two handlers for one Op");
      t[static_cast<std::size_t>(e.op)] = e.handler;
    }
    return t;
  }();
  return table.at(static_cast<std::size_t>(op));
}

}  // namespace kvmsim::replay_op
