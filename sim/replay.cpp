#include "sim/replay.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "model/core_assert.h"
#include "sim/trace/eval.h"
#include "sim/trace/format.h"
#include "sim/trace/printer.h"
#include "sim/trace/schema.h"


namespace kvmsim {

using trace::Expr;
using trace::Field;
using trace::Result;
using trace::Statement;
using trace::Value;

const char* step_status_name(StepStatus s) {
  switch (s) {
    case StepStatus::matched: return "matched";
    case StepStatus::mismatch: return "mismatch";
    case StepStatus::unchecked: return "unchecked";
    case StepStatus::unobservable: return "unobservable";
    case StepStatus::not_run: return "not_run";
  }
  return "?";
}

namespace {

std::string trimmed(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t");
  std::size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string ret_text(const Ret& r) {
  if (!r.is_ok()) return "-1 " + trace::format_errno(r.err);
  return std::to_string(r.ret);
}

const Field* find_field(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

// Expected text of a call statement: its result part without the leading "= ".
std::string expected_text(const Statement& st) {
  std::string r = trace::print_result(st);
  return r.rfind("= ", 0) == 0 ? r.substr(2) : r;
}

trace::BitRanges ranges_of(const Value& v) {
  trace::BitRanges r;
  for (const auto& range : v.ranges) {
    u64 lo = trace::evaluate(range.lo).value;
    r.emplace_back(lo, range.hi ? trace::evaluate(*range.hi).value : lo);
  }
  return trace::normalize_ranges(std::move(r));
}

std::vector<u64> bitmap_of(const trace::BitRanges& ranges, u64 min_bits) {
  u64 bits = min_bits;
  for (const auto& r : ranges) bits = std::max(bits, r.second + 1);
  std::vector<u64> words((bits + 63) / 64, 0);
  for (const auto& [lo, hi] : ranges)
    for (u64 b = lo; b <= hi; b++) words[b / 64] |= 1ull << (b % 64);
  return words;
}

std::string access_text(const AccessOutcome& o) {
  switch (o.kind) {
    case AccessOutcome::Kind::ok: return "ok";
    case AccessOutcome::Kind::mmio: return "mmio";
    case AccessOutcome::Kind::memory_fault:
      return "memory_fault {flags=" + trace::format_flags(o.flags, "KVM_MEMORY_EXIT_FLAG_") +
             ", gpa=" + trace::format_size(o.gpa) + ", size=" + trace::format_size(o.size) + "}";
    case AccessOutcome::Kind::error: return "-1 " + trace::format_errno(o.err);
  }
  return "?";
}

}  // namespace

Replayer::Replayer(const trace::Trace& trace, KvmApi& backend, ReplayOptions options)
    : trace_(trace), api_(backend), options_(options) {
  handles_["kvm"] = Handle{static_cast<u64>(static_cast<i64>(api_.kvm_fd())), 0};
}

u64 Replayer::eval(const Expr& e) const {
  return trace::evaluate(e, [this](const std::string& name) -> u64 {
           auto it = handles_.find(name);
           KVMSIM_ASSERT_CTX(it != handles_.end() && it->second.value, "unresolved handle " + name);
           return *it->second.value;
         }).value;
}

u64 Replayer::field(const std::vector<Field>& fields, std::string_view name) const {
  const Field* f = find_field(fields, name);
  return f ? eval(f->value.expr) : 0;
}

std::vector<u64> Replayer::list_field(const std::vector<Field>& fields, std::string_view name) const {
  std::vector<u64> out;
  if (const Field* f = find_field(fields, name))
    for (const auto& e : f->value.list) out.push_back(eval(e));
  return out;
}

// The first handle a statement uses whose creation failed, as "'name' (line N)".
std::optional<std::string> Replayer::failed_handle(const Statement& st) const {
  std::optional<std::string> found;
  auto check_expr = [&](const Expr& e) {
    for (const auto& t : e.terms) {
      if (found || t.kind != trace::Term::Kind::name) continue;
      auto it = handles_.find(t.spelling);
      if (it != handles_.end() && !it->second.value)
        found = "'" + t.spelling + "' (line " + std::to_string(it->second.line) + ")";
    }
  };
  std::vector<const Value*> values;
  for (const auto& a : st.args) values.push_back(&a);
  for (const auto& k : st.keywords) values.push_back(&k.value);
  for (std::size_t i = 0; i < values.size(); i++) {
    const Value& v = *values[i];
    check_expr(v.expr);
    for (const auto& e : v.list) check_expr(e);
    for (const auto& f : v.fields) values.push_back(&f.value);
  }
  return found;
}

StatementResult Replayer::step() {
  KVMSIM_ASSERT_CTX(!done(), "step() after the last statement");
  const Statement& st = trace_.statements[next_++];
  StatementResult r = run(st);
  r.line = st.line;
  r.statement = st.text.empty() ? trace::print_statement(st) : trimmed(st.text);
  auto where = trace_.file + ":" + std::to_string(st.line) + ": ";
  switch (r.status) {
    case StepStatus::mismatch: r.message = where + "expected " + r.expected + ", got " + r.actual; break;
    case StepStatus::unobservable:
      r.message = where + "unobservable: backend " + api_.backend_name() + " cannot observe " + st.callee;
      break;
    case StepStatus::not_run: r.message = where + "not run: " + r.message; break;
    default: break;
  }
  const KvmApi::Diagnostic diag = api_.take_diagnostic();
  if (!r.message.empty()) {
    // A backend's own explanation (e.g. the real backend refusing a request over its safety cap).
    if (!diag.text.empty()) r.message += " (" + api_.backend_name() + ": " + diag.text + ")";
    r.host_limit = r.host_limit || diag.host_limit;
    r.message += "\n    " + r.statement;
  }
  results_.push_back(r);
  return r;
}

StatementResult Replayer::run(const Statement& st) {
  StatementResult r;
  const trace::StatementSpec* spec = trace::find_statement(st.callee, st.kind == Statement::Kind::expect);
  KVMSIM_ASSERT_CTX(spec, "statement not in schema: " + st.callee);

  if (auto failed = failed_handle(st)) {
    r.status = StepStatus::not_run;
    r.message = "handle " + *failed + " failed to be created";
    if (st.bind) handles_[*st.bind] = Handle{std::nullopt, st.line};
    return r;
  }

  auto arg = [&](std::size_t i) { return eval(st.args.at(i).expr); };
  auto fd_arg = [&](std::size_t i) { return static_cast<int>(static_cast<i64>(arg(i))); };
  auto rec = [&](std::size_t i) -> const std::vector<Field>& { return st.args.at(i).fields; };
  auto kw = [&](std::string_view name, u64 dflt) {
    const Field* f = find_field(st.keywords, name);
    return f ? eval(f->value.expr) : dflt;
  };

  // ---- expectations ----
  if (spec->op == trace::Op::expect_stats) {
    auto stats = api_.stats(fd_arg(0));
    if (!stats) {
      r.status = StepStatus::unobservable;
      r.expected = trace::print_expect(st);
      return r;
    }
    bool all_present = true, equal = true;
    if (st.expect.empty()) {
      for (const auto& [name, value] : *stats) r.actual += (r.actual.empty() ? "" : " ") + name + "=" + std::to_string(value);
    }
    for (const auto& f : st.expect) {
      auto it = stats->find(f.name);
      std::string v = it == stats->end() ? std::string("absent") : std::to_string(it->second);
      if (it == stats->end()) all_present = false;
      if (it == stats->end() || it->second != eval(f.value.expr)) equal = false;
      r.actual += (r.actual.empty() ? "" : " ") + f.name + "=" + v;
    }
    r.expected = trace::print_expect(st);
    r.status = st.expect.empty() ? StepStatus::unchecked : equal ? StepStatus::matched : StepStatus::mismatch;
    if (r.status != StepStatus::matched && all_present) r.rewrite = r.actual;
    return r;
  }
  if (spec->op == trace::Op::expect_mapping) {
    auto m = api_.mapping(fd_arg(0), arg(1));
    r.expected = trace::print_expect(st);
    if (!m) {
      r.status = StepStatus::unobservable;
      return r;
    }
    bool equal = true;
    r.actual = std::string("level=") + level_name(m->level);
    if (const Field* f = find_field(st.expect, "level")) equal &= f->value.word == level_name(m->level);
    const std::pair<const char*, bool> flags[] = {
        {"writable", m->writable}, {"exec", m->executable}, {"private", m->is_private}};
    for (const auto& [name, actual] : flags) {
      const Field* f = find_field(st.expect, name);
      if (!f) continue;
      equal &= (eval(f->value.expr) != 0) == actual;
      r.actual += std::string(" ") + name + "=" + (actual ? "1" : "0");
    }
    r.status = st.expect.empty() ? StepStatus::unchecked : equal ? StepStatus::matched : StepStatus::mismatch;
    if (r.status != StepStatus::matched) r.rewrite = r.actual;
    return r;
  }

  // ---- guest access ----
  if (spec->op == trace::Op::access) {
    const std::string& kind_word = st.args.at(2).word;
    auto kind = access_kind_from_name(kind_word);
    KVMSIM_ASSERT_CTX(kind, "access kind " + kind_word);
    AccessOutcome o = api_.access(fd_arg(0), arg(1), *kind);
    r.actual = access_text(o);
    r.expected = expected_text(st);
    const Result& e = st.result;
    bool equal = false;
    switch (e.kind) {
      case Result::Kind::none: break;
      case Result::Kind::ok: equal = o.kind == AccessOutcome::Kind::ok; break;
      case Result::Kind::mmio: equal = o.kind == AccessOutcome::Kind::mmio; break;
      case Result::Kind::error: equal = o.kind == AccessOutcome::Kind::error && o.err == e.err; break;
      case Result::Kind::memory_fault:
        equal = o.kind == AccessOutcome::Kind::memory_fault;
        if (const Field* f = find_field(e.fields, "flags")) equal &= eval(f->value.expr) == o.flags;
        if (const Field* f = find_field(e.fields, "gpa")) equal &= eval(f->value.expr) == o.gpa;
        if (const Field* f = find_field(e.fields, "size")) equal &= eval(f->value.expr) == o.size;
        break;
      case Result::Kind::value: break;
    }
    r.status = e.kind == Result::Kind::none ? StepStatus::unchecked : equal ? StepStatus::matched : StepStatus::mismatch;
    if (r.status != StepStatus::matched) r.rewrite = "= " + r.actual;
    return r;
  }

  // ---- fault injection: only a backend that can inject observes it ----
  if (spec->op == trace::Op::inject) {
    const std::string& site = st.args.at(0).word;
    const std::string& kind = st.args.at(1).word;
    if (!api_.inject_fault(site, kind, kw("after", 0), kw("count", 1))) {
      r.status = StepStatus::unobservable;
      // A backend that cannot inject (a real kernel) goes on unfaulted: paired with one that did,
      // the two states part here for a reason that is not the kernel's.
      r.host_limit = true;
      r.expected = expected_text(st);
      return r;
    }
  }

  // ---- calls returning an int (and maybe out-fields) ----
  Ret ret;
  std::string out_text;  // ` => {...}` of what the backend wrote back
  bool out_equal = true;
  switch (spec->op) {
    case trace::Op::mmap: {
      const Value& b = st.args.at(1);
      if (b.kind == Value::Kind::word) {
        auto backing = backing_from_name(b.word);
        KVMSIM_ASSERT_CTX(backing, "backing " + b.word);
        ret = api_.mmap(arg(0), *backing, kw("align", backing_default_align(*backing)));
      } else {
        ret = api_.mmap_fd(fd_arg(1), arg(0), kw("offset", 0),
                           static_cast<int>(kw("prot", uapi::PROT_READ | uapi::PROT_WRITE)),
                           static_cast<int>(kw("flags", uapi::MAP_SHARED)));
      }
      break;
    }
    case trace::Op::munmap: ret = api_.munmap(arg(0), arg(1)); break;
    case trace::Op::madvise: ret = api_.madvise(arg(0), arg(1), static_cast<int>(arg(2))); break;
    case trace::Op::mprotect: ret = api_.mprotect(arg(0), arg(1), static_cast<int>(arg(2))); break;
    case trace::Op::touch: ret = api_.touch(arg(0), arg(1)); break;
    case trace::Op::memfd_create: ret = api_.memfd_create(arg(0)); break;
    case trace::Op::create_vm: ret = api_.ioctl_create_vm(api_.kvm_fd(), arg(0)); break;
    case trace::Op::create_vcpu: ret = api_.ioctl_create_vcpu(fd_arg(0), arg(1)); break;
    case trace::Op::create_guest_memfd: {
      uapi::kvm_create_guest_memfd g{};
      g.size = field(rec(1), "size");
      g.flags = field(rec(1), "flags");
      auto reserved = list_field(rec(1), "reserved");
      for (std::size_t i = 0; i < reserved.size(); i++) g.reserved[i] = reserved[i];
      ret = api_.ioctl_create_guest_memfd(fd_arg(0), g);
      break;
    }
    case trace::Op::check_extension: ret = api_.ioctl_check_extension(fd_arg(0), arg(1)); break;
    case trace::Op::set_user_memory_region: {
      uapi::kvm_userspace_memory_region m{};
      m.slot = static_cast<u32>(field(rec(1), "slot"));
      m.flags = static_cast<u32>(field(rec(1), "flags"));
      m.guest_phys_addr = field(rec(1), "guest_phys_addr");
      m.memory_size = field(rec(1), "memory_size");
      m.userspace_addr = field(rec(1), "userspace_addr");
      ret = api_.ioctl_set_user_memory_region(fd_arg(0), m);
      break;
    }
    case trace::Op::set_user_memory_region2: {
      uapi::kvm_userspace_memory_region2 m{};
      m.slot = static_cast<u32>(field(rec(1), "slot"));
      m.flags = static_cast<u32>(field(rec(1), "flags"));
      m.guest_phys_addr = field(rec(1), "guest_phys_addr");
      m.memory_size = field(rec(1), "memory_size");
      m.userspace_addr = field(rec(1), "userspace_addr");
      m.guest_memfd_offset = field(rec(1), "guest_memfd_offset");
      m.guest_memfd = static_cast<u32>(field(rec(1), "guest_memfd"));
      m.pad1 = static_cast<u32>(field(rec(1), "pad1"));
      auto pad2 = list_field(rec(1), "pad2");
      for (std::size_t i = 0; i < pad2.size(); i++) m.pad2[i] = pad2[i];
      ret = api_.ioctl_set_user_memory_region2(fd_arg(0), m);
      break;
    }
    case trace::Op::set_memory_attributes: {
      uapi::kvm_memory_attributes a{};
      a.address = field(rec(1), "address");
      a.size = field(rec(1), "size");
      a.attributes = field(rec(1), "attributes");
      a.flags = field(rec(1), "flags");
      ret = api_.ioctl_set_memory_attributes(fd_arg(0), a);
      break;
    }
    case trace::Op::pre_fault_memory: {
      uapi::kvm_pre_fault_memory p{};
      p.gpa = field(rec(1), "gpa");
      p.size = field(rec(1), "size");
      p.flags = field(rec(1), "flags");
      auto padding = list_field(rec(1), "padding");
      for (std::size_t i = 0; i < padding.size(); i++) p.padding[i] = padding[i];
      ret = api_.ioctl_pre_fault_memory(fd_arg(0), p);
      // The kernel writes gpa/size back on every return (kvm-semantics.md, pre-fault).
      out_text = " => {gpa=" + trace::format_size(p.gpa) + ", size=" + trace::format_size(p.size) + "}";
      if (const Field* f = find_field(st.out, "gpa")) out_equal &= eval(f->value.expr) == p.gpa;
      if (const Field* f = find_field(st.out, "size")) out_equal &= eval(f->value.expr) == p.size;
      break;
    }
    case trace::Op::get_dirty_log: {
      std::vector<u64> bitmap;
      ret = api_.ioctl_get_dirty_log(fd_arg(0), static_cast<u32>(field(rec(1), "slot")), bitmap);
      trace::BitRanges actual = ret.is_ok() ? trace::bitmap_to_ranges(bitmap) : trace::BitRanges{};
      if (ret.is_ok()) out_text = " => {bitmap=" + trace::format_ranges(actual) + "}";
      if (const Field* f = find_field(st.out, "bitmap")) out_equal &= ranges_of(f->value) == actual;
      break;
    }
    case trace::Op::clear_dirty_log: {
      const auto& f = rec(1);
      u64 num_pages = field(f, "num_pages");
      const Field* bm = find_field(f, "bitmap");
      trace::BitRanges ranges = bm ? ranges_of(bm->value) : trace::BitRanges{};
      // Size the buffer for num_pages bits (as the kernel reads it), capped like a memslot.
      std::vector<u64> bitmap = bitmap_of(ranges, std::min<u64>(num_pages, 1ull << 31));
      ret = api_.ioctl_clear_dirty_log(fd_arg(0), static_cast<u32>(field(f, "slot")), field(f, "first_page"),
                                       static_cast<u32>(num_pages), bitmap);
      break;
    }
    case trace::Op::enable_cap: {
      uapi::kvm_enable_cap c{};
      c.cap = static_cast<u32>(field(rec(1), "cap"));
      c.flags = static_cast<u32>(field(rec(1), "flags"));
      auto args = list_field(rec(1), "args");
      for (std::size_t i = 0; i < args.size(); i++) c.args[i] = args[i];
      ret = api_.ioctl_enable_cap(fd_arg(0), c);
      break;
    }
    case trace::Op::fallocate:
      ret = api_.fallocate(fd_arg(0), static_cast<int>(arg(1)), arg(2), arg(3));
      break;
    case trace::Op::ftruncate: ret = api_.ftruncate(fd_arg(0), arg(1)); break;
    case trace::Op::read: ret = api_.read(fd_arg(0), arg(1)); break;
    case trace::Op::write: ret = api_.write(fd_arg(0), arg(1)); break;
    case trace::Op::pread: ret = api_.pread(fd_arg(0), arg(1), arg(2)); break;
    case trace::Op::close: ret = api_.close(fd_arg(0)); break;
    case trace::Op::access:
    case trace::Op::inject: ret = Ret::ok(); break;  // armed above
    case trace::Op::expect_stats:
    case trace::Op::expect_mapping: KVMSIM_ASSERT_CTX(false, "handled above"); break;
  }

  r.actual = ret_text(ret) + out_text;
  if (st.bind) {
    handles_[*st.bind] = Handle{ret.is_ok() ? std::optional<u64>(static_cast<u64>(ret.ret)) : std::nullopt, st.line};
    r.expected = "success";
    r.actual = ret_text(ret);
    r.status = ret.is_ok() ? StepStatus::matched : StepStatus::mismatch;
    return r;
  }
  r.expected = expected_text(st);
  const Result& e = st.result;
  bool equal = out_equal;
  switch (e.kind) {
    case Result::Kind::value: equal &= ret.is_ok() && static_cast<u64>(ret.ret) == eval(e.value); break;
    case Result::Kind::error: equal &= !ret.is_ok() && ret.err == e.err; break;
    default: break;
  }
  bool expects = e.kind != Result::Kind::none || !st.out.empty();
  r.status = !expects ? StepStatus::unchecked : equal ? StepStatus::matched : StepStatus::mismatch;
  if (r.status != StepStatus::matched) r.rewrite = "= " + r.actual;
  return r;
}

ReplayReport Replayer::report() const {
  ReplayReport rep;
  rep.file = trace_.file;
  rep.backend = api_.backend_name();
  rep.trace_profile = trace_.profile.value_or("");
  rep.backend_profile = api_.profile().name;
  rep.results = results_;
  for (const auto& r : results_) {
    rep.counts.statements++;
    switch (r.status) {
      case StepStatus::matched: rep.counts.matched++; break;
      case StepStatus::mismatch: rep.counts.mismatched++; break;
      case StepStatus::unchecked: rep.counts.unchecked++; break;
      case StepStatus::unobservable: rep.counts.unobservable++; break;
      case StepStatus::not_run: rep.counts.not_run++; break;
    }
  }
  rep.counts.checked = rep.counts.matched + rep.counts.mismatched;
  if (options_.update) rep.updated_text = apply_rewrites(trace_, results_);
  return rep;
}

ReplayReport replay(const trace::Trace& trace, KvmApi& backend, const ReplayOptions& options) {
  Replayer r(trace, backend, options);
  while (!r.done()) r.step();
  return r.report();
}

std::string apply_rewrites(const trace::Trace& trace, const std::vector<StatementResult>& results) {
  std::map<int, const StatementResult*> by_line;
  for (const auto& r : results)
    if (r.rewrite) by_line[r.line] = &r;
  std::map<int, const Statement*> stmts;
  for (const auto& s : trace.statements) stmts[s.line] = &s;

  std::string out;
  const std::string& src = trace.source;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos <= src.size()) {
    std::size_t nl = src.find('\n', pos);
    std::string line = src.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    line_no++;
    auto it = by_line.find(line_no);
    if (it != by_line.end() && stmts.count(line_no)) {
      const Statement& st = *stmts[line_no];
      KVMSIM_ASSERT_CTX(st.text == line && st.result_begin <= st.result_end && st.result_end <= line.size(),
                    "source does not match the parsed statement at line " + std::to_string(line_no));
      bool insert = st.result_begin == st.result_end;
      line = line.substr(0, st.result_begin) + (insert ? " " : "") + *it->second->rewrite + line.substr(st.result_end);
    }
    out += line;
    if (nl == std::string::npos) break;
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

std::string ReplayReport::text() const {
  std::string out;
  for (const auto& r : results)
    if (!r.message.empty()) out += r.message + "\n";
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s: %zu statements, %zu checked: %zu matched, %zu mismatched; %zu unchecked, %zu unobservable, "
                "%zu not run (backend %s)\n",
                file.c_str(), counts.statements, counts.checked, counts.matched, counts.mismatched, counts.unchecked,
                counts.unobservable, counts.not_run, backend.c_str());
  return out + buf;
}

}  // namespace kvmsim
