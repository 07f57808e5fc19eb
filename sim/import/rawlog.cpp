#include "sim/import/rawlog.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "model/core_assert.h"
#include "model/uapi.h"
#include "sim/import/handles.h"
#include "sim/trace/build.h"
#include "sim/trace/constants.h"
#include "sim/trace/ioctl_names.h"
#include "sim/trace/parser.h"
#include "sim/trace/printer.h"
#include "sim/trace/schema.h"

namespace kvmsim::importer {

namespace {

using u64 = std::uint64_t;
using u32 = std::uint32_t;
namespace b = trace::build;

struct Event {
  int line = 0;
  std::string call;
  std::map<std::string, std::string> kv;
  std::vector<unsigned char> in, out;
  bool ok = false;  // every field it needs was readable

  std::optional<u64> hex(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end() || it->second.empty()) return std::nullopt;
    char* end = nullptr;
    const u64 v = std::strtoull(it->second.c_str(), &end, 16);
    return *end ? std::nullopt : std::optional<u64>(v);
  }
  std::optional<long> dec(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end() || it->second.empty()) return std::nullopt;
    char* end = nullptr;
    const long v = std::strtol(it->second.c_str(), &end, 10);
    return *end ? std::nullopt : std::optional<long>(v);
  }
  long ret() const { return static_cast<long>(*hex("ret")); }
  bool failed() const { return ret() == -1; }
  int err() const { return static_cast<int>(dec("errno").value_or(0)); }
  int fd() const { return static_cast<int>(dec("fd").value_or(-1)); }
};

bool parse_bytes(const std::string& s, std::vector<unsigned char>* out) {
  if (s.size() % 2) return false;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    auto nib = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    const int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  return true;
}

Event parse_event(int line, const std::string& text) {
  Event e;
  e.line = line;
  std::istringstream ss(text);
  ss >> e.call;
  std::string tok;
  while (ss >> tok) {
    const auto eq = tok.find('=');
    if (eq == std::string::npos) return e;
    e.kv[tok.substr(0, eq)] = tok.substr(eq + 1);
  }
  if (e.call == "exit") {
    e.ok = true;
    return e;
  }
  if (!e.hex("ret") || !e.dec("tid") || !e.dec("errno")) return e;
  if (e.failed() && (e.err() < 1 || e.err() > 4095)) return e;  // a failure's errno is one (found by fuzzing)
  if (e.kv.count("in") && !parse_bytes(e.kv["in"], &e.in)) return e;
  if (e.kv.count("out") && !parse_bytes(e.kv["out"], &e.out)) return e;
  static const std::map<std::string, std::vector<std::string>> kNeeds = {
      {"open", {}},
      {"ioctl", {"fd", "req", "arg"}},
      {"mmap", {"addr", "len", "prot", "flags", "fd", "off"}},
      {"munmap", {"addr", "len"}},
      {"madvise", {"addr", "len", "advice"}},
      {"mprotect", {"addr", "len", "prot"}},
      {"memfd_create", {"flags"}},
      {"fallocate", {"fd", "mode", "off", "len"}},
      {"ftruncate", {"fd", "len"}},
      {"close", {"fd"}}};
  auto it = kNeeds.find(e.call);
  if (it == kNeeds.end()) return e;
  for (const auto& k : it->second)  // present, and a number in its base (fds are decimal)
    if (!(k == "fd" ? e.dec(k).has_value() : e.hex(k).has_value())) return e;
  e.ok = true;
  return e;
}

template <typename T>
T field_at(const std::vector<unsigned char>& bytes, std::size_t off) {
  T v{};
  if (off + sizeof v <= bytes.size()) std::memcpy(&v, bytes.data() + off, sizeof v);
  return v;
}

constexpr u64 kCreateVm = uapi::KVM_CREATE_VM, kCreateVcpu = uapi::KVM_CREATE_VCPU,
              kCheckExtension = uapi::KVM_CHECK_EXTENSION, kRun = uapi::KVM_RUN,
              kSetRegion = uapi::KVM_SET_USER_MEMORY_REGION, kSetRegion2 = uapi::KVM_SET_USER_MEMORY_REGION2,
              kCreateGmem = uapi::KVM_CREATE_GUEST_MEMFD, kGetStatsFd = uapi::KVM_GET_STATS_FD,
              kGetDirtyLog = uapi::KVM_GET_DIRTY_LOG, kEnableCap = uapi::KVM_ENABLE_CAP;

bool is_memslot_op(u64 req) { return req == kSetRegion || req == kSetRegion2; }

// Answers that are not KVM's decision but a fact of the recording's process or host, which a replay gets
// differently by design: the statement keeps no result (a comment before it keeps the value).
const char* unrepeatable_result(u64 req) {
  if (req == kGetStatsFd) return "an fd number of the recording process";
  static const u64 kGetTscKhz = *trace::ioctl_request_value("KVM_GET_TSC_KHZ");
  if (req == kGetTscKhz) return "the host's calibrated TSC frequency, which differs from boot to boot";
  return nullptr;
}

// The caps whose KVM_ENABLE_CAP the model models on a VM (model/vm/vm.cpp Vm::enable_cap); any other
// enable is a recorded-only ioctl, so the model never answers a cap it does not know.
bool modelled_enable_cap(u64 cap) {
  return cap == uapi::KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 || cap == uapi::KVM_CAP_DIRTY_LOG_RING ||
         cap == uapi::KVM_CAP_DIRTY_LOG_RING_ACQ_REL || cap == uapi::KVM_CAP_DISABLE_QUIRKS2 ||
         cap == uapi::KVM_CAP_VM_DISABLE_NX_HUGE_PAGES;
}

const char* constant_name(u64 v, std::string_view prefix) {
  for (const auto& c : trace::constants())
    if (c.value == v && std::string_view(c.name).substr(0, prefix.size()) == prefix) return c.name;
  return nullptr;
}

trace::Expr named_or_hex(u64 v, std::string_view prefix) {
  const char* n = constant_name(v, prefix);
  return n ? b::constant(n) : b::hex(v);
}

// Which mmap events to keep (see rawlog.h): memslots point into them, or they hold / sit in kept ones.
std::set<std::size_t> kept_mappings(const std::vector<Event>& events) {
  Handles ranges;  // only its mapping lookup: names stand for event indices here
  std::map<std::string, std::size_t> event_of;
  std::map<std::size_t, std::size_t> parent;
  std::set<std::size_t> keep;
  for (std::size_t i = 0; i < events.size(); i++) {
    const Event& e = events[i];
    if (!e.ok) continue;
    if (e.call == "mmap" && !e.failed()) {
      const u64 flags = *e.hex("flags");
      if (flags & (uapi::MAP_FIXED | uapi::MAP_FIXED_NOREPLACE))
        if (auto p = ranges.place(*e.hex("addr"))) parent[i] = event_of[p->name];
      const std::string name = ranges.fresh("mem");
      ranges.map(static_cast<u64>(e.ret()), *e.hex("len"), name);
      event_of[name] = i;
    } else if (e.call == "munmap" && !e.failed()) {
      ranges.unmap(*e.hex("addr"), *e.hex("len"));
    } else if (e.call == "ioctl" && is_memslot_op(*e.hex("req"))) {
      const u64 uaddr = field_at<u64>(e.in, 24), size = field_at<u64>(e.in, 16);
      if (size)
        if (auto p = ranges.place(uaddr)) keep.insert(event_of[p->name]);
    }
  }
  for (auto it = parent.rbegin(); it != parent.rend(); ++it)  // up: the reservations of kept RAM
    if (keep.count(it->first)) keep.insert(it->second);
  for (const auto& [child, par] : parent)  // down: what else was mapped into a kept reservation
    if (keep.count(par)) keep.insert(child);
  return keep;
}

class Converter {
 public:
  explicit Converter(const RawlogOptions& o) : opt_(o) {}
  RawlogResult run(const std::string& text);

 private:
  void comment(int line, const std::string& why) {
    body_ << "# " << opt_.file << ":" << line << ": " << why << "\n";
    r_.comments++;
  }
  // `with_result` false: the kernel's answer is an fd number of the recording process, which no replay can
  // expect back (the comment before the statement keeps it).
  void emit(trace::Statement st, const Event& e, bool with_result = true) {
    st.keywords.push_back(b::field("tid", b::value(b::decimal(static_cast<u64>(*e.dec("tid"))))));
    if (!st.bind && with_result) {
      if (e.failed()) {
        st.result.kind = trace::Result::Kind::error;
        const char* n = trace::errno_name(e.err());
        st.result.errno_name = n ? n : std::to_string(e.err());
        st.result.err = e.err();
      } else {
        st.result.kind = trace::Result::Kind::value;
        st.result.value = b::decimal(static_cast<u64>(e.ret()));
      }
    }
    body_ << trace::print_statement(st) << "\n";
    r_.statements++;
  }
  void ioctl(const Event& e);
  void mmap(const Event& e, bool kept);
  void range_call(const Event& e);
  void file_call(const Event& e);
  std::optional<std::string> handle(int fd) const { return names_.fd(std::to_string(fd)); }
  unsigned kind(int fd) const { return names_.kind(std::to_string(fd)); }
  void bind(long fd, const std::string& name, unsigned kind) { names_.bind(std::to_string(fd), name, kind); }

  const RawlogOptions& opt_;
  RawlogResult r_;
  Handles names_;
  std::ostringstream body_;
  std::map<u64, std::size_t> exits_;  // KVM_RUN exit reason -> count
};

void Converter::ioctl(const Event& e) {
  const u64 req = *e.hex("req"), arg = *e.hex("arg");
  auto fd = handle(e.fd());
  if (!fd) return comment(e.line, "ioctl on an fd the log never saw created");
  r_.kvm_ioctls++;
  const bool ok = !e.failed();
  const trace::Value f = b::value(b::handle(*fd));
  // A request its statement cannot take on this fd (KVM_CHECK_EXTENSION on a vCPU fd, KVM_CREATE_VM on a VM
  // fd), or one without a statement: recorded-only, below.
  const char* name = trace::ioctl_request_name(req);
  const bool fd_fits = name && fits(kind(e.fd()), name);
  if (fd_fits && req == kCreateVm) {
    auto st = b::call("KVM_CREATE_VM", {b::value(named_or_hex(arg, "KVM_X86_"))});
    if (ok) {
      st.bind = names_.new_vm();
      bind(e.ret(), *st.bind, trace::kHandleVm);
    }
    return emit(st, e);
  }
  if (fd_fits && req == kCreateVcpu) {
    auto st = b::call("KVM_CREATE_VCPU", {f, b::value(b::decimal(arg))});
    if (ok) {
      st.bind = names_.new_vcpu(arg);
      bind(e.ret(), *st.bind, trace::kHandleVcpu);
    }
    return emit(st, e);
  }
  if (fd_fits && req == kCreateGmem && e.in.size() >= 16) {
    auto st = b::call("KVM_CREATE_GUEST_MEMFD",
                      {f, b::record({b::field("size", b::value(b::size(field_at<u64>(e.in, 0)))),
                                     b::field("flags", b::value(b::flags(field_at<u64>(e.in, 8), "GUEST_MEMFD_FLAG_")))})});
    if (ok) {
      st.bind = names_.fresh("gmem");
      bind(e.ret(), *st.bind, trace::kHandleGmem);
    }
    return emit(st, e);
  }
  if (fd_fits && req == kCheckExtension) return emit(b::call("KVM_CHECK_EXTENSION", {f, b::value(named_or_hex(arg, "KVM_CAP_"))}), e);
  if (fd_fits && is_memslot_op(req) && e.in.size() >= 32) {
    r_.memslot_ops++;
    const u32 slot = field_at<u32>(e.in, 0);
    trace::Expr slot_expr = slot >= 0x10000 ? b::join(b::hex(slot & ~0xffffu), '|', b::decimal(slot & 0xffff))
                                            : b::decimal(slot);
    const u64 uaddr = field_at<u64>(e.in, 24);
    auto where = names_.address(uaddr);
    std::vector<trace::Field> rec = {
        b::field("slot", b::value(slot_expr)),
        b::field("flags", b::value(b::flags(field_at<u32>(e.in, 4), "KVM_MEM_"))),
        b::field("guest_phys_addr", b::value(b::size(field_at<u64>(e.in, 8)))),
        b::field("memory_size", b::value(b::size(field_at<u64>(e.in, 16)))),
        b::field("userspace_addr", b::value(where ? *where : b::hex(uaddr)))};
    if (req == kSetRegion2 && e.in.size() >= 48) {
      rec.push_back(b::field("guest_memfd_offset", b::value(b::size(field_at<u64>(e.in, 32)))));
      const u32 gfd = field_at<u32>(e.in, 40);
      auto g = handle(static_cast<int>(gfd));
      if (field_at<u32>(e.in, 4) & uapi::KVM_MEM_GUEST_MEMFD)
        rec.push_back(b::field("guest_memfd", b::value(g ? b::handle(*g) : b::decimal(gfd))));
    }
    return emit(b::call(req == kSetRegion2 ? "KVM_SET_USER_MEMORY_REGION2" : "KVM_SET_USER_MEMORY_REGION",
                        {f, b::record(std::move(rec))}),
                e);
  }
  if (fd_fits && req == kGetDirtyLog && e.in.size() >= 4)  // the bitmap is what the guest dirtied: not replayable
    return emit(b::call("KVM_GET_DIRTY_LOG", {f, b::record({b::field("slot", b::value(b::decimal(field_at<u32>(e.in, 0))))})}), e);
  if (fd_fits && req == kEnableCap && e.in.size() >= 8 && kind(e.fd()) == trace::kHandleVm && modelled_enable_cap(field_at<u32>(e.in, 0))) {
    std::vector<trace::Expr> args;
    for (std::size_t i = 0; i < 4; i++) args.push_back(b::hex(field_at<u64>(e.in, 8 + 8 * i)));
    while (!args.empty() && args.back().terms[0].value == 0) args.pop_back();
    std::vector<trace::Field> rec = {b::field("cap", b::value(named_or_hex(field_at<u32>(e.in, 0), "KVM_CAP_"))),
                                     b::field("flags", b::value(b::hex(field_at<u32>(e.in, 4))))};
    if (!args.empty()) rec.push_back(b::field("args", b::list(args)));
    return emit(b::call("KVM_ENABLE_CAP", {f, b::record(std::move(rec))}), e);
  }
  // Recorded-only: everything else, KVM_RUN, KVM_CLEAR_DIRTY_LOG's user bitmap pointer included.
  if (req == kRun) {
    r_.kvm_runs++;
    if (auto x = e.hex("exit")) exits_[*x]++;
  }
  std::vector<trace::Field> kw;
  if (trace::ioctl_size(req) == 0 && arg) kw.push_back(b::field("arg", b::value(b::hex(arg))));
  std::vector<unsigned char> bytes = e.in;
  while (!bytes.empty() && bytes.back() == 0) bytes.pop_back();  // FORMAT.md: trailing zeros are implied
  if (!bytes.empty()) {
    std::vector<trace::Expr> items;
    for (unsigned char c : bytes) items.push_back(b::hex(c));
    kw.push_back(b::field("bytes", b::list(std::move(items))));
  }
  const char* why = e.failed() ? nullptr : unrepeatable_result(req);
  if (why) comment(e.line, std::string(name) + " returned " + std::to_string(e.ret()) + ": " + why);
  emit(b::call("ioctl", {f, b::value(name ? b::constant(name) : b::hex(req))}, std::move(kw)), e, !why);
}

void Converter::mmap(const Event& e, bool kept) {
  const u64 len = *e.hex("len"), prot = *e.hex("prot"), flags = *e.hex("flags"), off = *e.hex("off");
  if (!kept) {
    if (!e.failed() && names_.place(static_cast<u64>(e.ret()))) names_.unmap(static_cast<u64>(e.ret()), len);
    r_.host_calls_left_out++;
    return;
  }
  const bool anon = flags & uapi::MAP_ANONYMOUS;
  std::vector<trace::Field> kw;
  trace::Expr backing;
  if (anon) {
    backing = b::handle(anon_backing_word(flags));
  } else {
    auto fdh = handle(e.fd());
    if (!fdh) return comment(e.line, "mmap of an fd the log never saw created");
    if (!fits(kind(e.fd()), "mmap", 1))
      return comment(e.line, "mmap of an fd that is not a memfd or guest_memfd (" + *fdh + ")");
    backing = b::handle(*fdh);
    kw.push_back(b::field("offset", b::value(b::size(off))));
  }
  if (prot != (uapi::PROT_READ | uapi::PROT_WRITE) || !anon)
    kw.push_back(b::field("prot", b::value(prot ? b::flags(prot, "PROT_") : b::constant("PROT_NONE"))));
  u64 shown = flags & (uapi::MAP_FIXED | uapi::MAP_NORESERVE | uapi::MAP_FIXED_NOREPLACE);
  if (!anon) shown |= flags & (uapi::MAP_SHARED | uapi::MAP_PRIVATE);
  if (shown) kw.push_back(b::field("flags", b::value(b::flags(shown, "MAP_"))));
  if (flags & (uapi::MAP_FIXED | uapi::MAP_FIXED_NOREPLACE)) {
    auto at = names_.address(*e.hex("addr"));
    if (!at) return comment(e.line, "MAP_FIXED outside every recorded mapping");
    kw.push_back(b::field("addr", b::value(*at)));
  } else if (!e.failed() && (static_cast<u64>(e.ret()) & ((2ull << 20) - 1))) {
    kw.push_back(b::field("align", b::word("4K")));  // placed off a 2M boundary: keeps the mapping levels
  }
  auto st = b::call("mmap", {b::value(b::size(len)), b::value(backing)}, std::move(kw));
  if (!e.failed()) {
    st.bind = names_.fresh("mem");
    names_.map(static_cast<u64>(e.ret()), len, *st.bind);
  }
  emit(st, e);
}

void Converter::range_call(const Event& e) {
  const u64 addr = *e.hex("addr"), len = *e.hex("len");
  auto at = names_.address(addr);
  if (!at) {
    r_.host_calls_left_out++;
    return;
  }
  std::vector<trace::Value> args = {b::value(*at), b::value(b::size(len))};
  if (e.call == "madvise") {
    const u64 advice = *e.hex("advice");
    const char* n = constant_name(advice, "MADV_");
    if (!n) return comment(e.line, "madvise advice the trace cannot state (" + std::to_string(advice) + ")");
    args.push_back(b::value(b::constant(n)));
  } else if (e.call == "mprotect") {
    const u64 prot = *e.hex("prot");
    args.push_back(b::value(prot ? b::flags(prot, "PROT_") : b::constant("PROT_NONE")));
  }
  if (e.call == "munmap" && !e.failed()) names_.unmap(addr, len);
  emit(b::call(e.call, std::move(args)), e);
}

void Converter::file_call(const Event& e) {
  if (e.call == "memfd_create") {
    auto st = b::call("memfd_create", {b::value(b::flags(*e.hex("flags"), "MFD_"))});
    if (e.failed()) return emit(st, e);
    st.bind = names_.fresh("memfd");
    bind(e.ret(), *st.bind, trace::kHandleMemfd);
    return emit(st, e);
  }
  auto fd = handle(e.fd());
  if (!fd) return comment(e.line, e.call + " on an fd the log never saw created");
  const trace::Value f = b::value(b::handle(*fd));
  if (e.call == "close") {
    if (!e.failed()) names_.unbind(std::to_string(e.fd()));
    if (*fd == "kvm") return comment(e.line, "closing /dev/kvm (the trace keeps it open)");
    return emit(b::call("close", {f}), e);
  }
  if (e.call == "ftruncate") return emit(b::call("ftruncate", {f, b::value(b::size(*e.hex("len")))}), e);
  emit(b::call("fallocate", {f, b::value(b::flags(*e.hex("mode"), "FALLOC_FL_")), b::value(b::size(*e.hex("off"))),
                             b::value(b::size(*e.hex("len")))}),
       e);
}

RawlogResult Converter::run(const std::string& text) {
  std::vector<Event> events;
  std::size_t start = 0;
  int n = 0;
  bool header = false;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    if (!complete) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++n;
    if (line.rfind("kvmsim-rawlog 1", 0) == 0) {
      header = true;
      continue;
    }
    Event e = complete ? parse_event(n, line) : Event{};
    e.line = n;
    events.push_back(std::move(e));
  }
  const auto keep = kept_mappings(events);
  for (std::size_t i = 0; i < events.size(); i++) {
    const Event& e = events[i];
    if (!e.ok) {
      comment(e.line, header ? "unreadable event (a VMM killed while it wrote?)" : "not a kvmsim raw log line");
      continue;
    }
    if (e.call == "exit") continue;
    if (e.call == "open") {
      if (!e.failed()) bind(e.ret(), "kvm", trace::kHandleKvm);  // the predefined handle
      r_.opened_kvm = true;
      continue;
    }
    if (e.call == "ioctl") ioctl(e);
    else if (e.call == "mmap") mmap(e, keep.count(i) > 0);
    else if (e.call == "munmap" || e.call == "madvise" || e.call == "mprotect") range_call(e);
    else file_call(e);
  }
  std::ostringstream out;
  out << "kvmsim-trace 1\n";
  for (const auto& h : opt_.header) out << "# " << h << "\n";
  out << "# " << r_.kvm_ioctls << " KVM ioctls (" << r_.memslot_ops << " memslot operations, " << r_.kvm_runs
      << " KVM_RUN), " << r_.host_calls_left_out << " host memory calls on memory KVM was never given left out\n";
  if (!exits_.empty()) {
    out << "# KVM_RUN exits (reason: count):";
    for (const auto& [reason, count] : exits_) out << " " << reason << ":" << count;
    out << "\n";
  }
  if (!opt_.profile.empty()) out << "profile " << opt_.profile << "\n";
  out << body_.str();
  r_.trace = out.str();
  auto parsed = trace::parse(r_.trace, opt_.file + " (recorded)");
  if (auto* err = std::get_if<trace::ParseError>(&parsed)) KVMSIM_ASSERT_CTX(false, "record produced: " + err->str());
  return r_;
}

}  // namespace

RawlogResult convert_rawlog(const std::string& text, const RawlogOptions& options) {
  return Converter(options).run(text);
}

ProcessChoice choose_kvm_process(const std::vector<RawlogResult>& logs, const std::vector<std::string>& names) {
  ProcessChoice c;
  std::vector<std::size_t> users;
  for (std::size_t i = 0; i < logs.size(); i++)
    if (logs[i].kvm_ioctls > 0) users.push_back(i);
  if (users.size() == 1) c.index = users[0];
  if (users.size() > 1) {
    c.error = std::to_string(users.size()) + " processes made KVM ioctls (";
    for (std::size_t i = 0; i < users.size(); i++) c.error += (i ? ", " : "") + names.at(users[i]);
    c.error += "); a trace holds one process: record a command that runs one";
  }
  return c;
}

}  // namespace kvmsim::importer
