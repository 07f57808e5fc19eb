#include "sim/replay_call.h"

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>

#include "model/core_assert.h"
#include "sim/trace/eval.h"
#include "sim/trace/printer.h"

namespace kvmsim::replay_op {

using trace::Field;
using trace::FieldKind;
using trace::FieldSpec;
using trace::Result;

namespace {

const Field* find_field(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

// Bit ranges are name-free (the parser checked), so they evaluate without handles.
trace::BitRanges ranges_of(const trace::Value& v) {
  trace::BitRanges r;
  for (const auto& range : v.ranges) {
    u64 lo = trace::evaluate(range.lo).value;
    r.emplace_back(lo, range.hi ? trace::evaluate(*range.hi).value : lo);
  }
  return trace::normalize_ranges(std::move(r));
}

// Member widths are 1, 2, 4 or 8 bytes; storing through the member's own type keeps this
// independent of the host's byte order.
template <class T>
void store_as(unsigned char* at, u64 v) {
  const T narrowed = static_cast<T>(v);
  std::memcpy(at, &narrowed, sizeof narrowed);
}
void store(unsigned char* at, std::size_t width, u64 v) {
  switch (width) {
    case 1: return store_as<u8>(at, v);
    case 2: return store_as<std::uint16_t>(at, v);
    case 4: return store_as<u32>(at, v);
    case 8: return store_as<u64>(at, v);
  }
  KVMSIM_ASSERT_CTX(false, "field width " + std::to_string(width));
}
template <class T>
u64 load_as(const unsigned char* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}
u64 load(const unsigned char* at, std::size_t width) {
  switch (width) {
    case 1: return load_as<u8>(at);
    case 2: return load_as<std::uint16_t>(at);
    case 4: return load_as<u32>(at);
    case 8: return load_as<u64>(at);
  }
  KVMSIM_ASSERT_CTX(false, "field width " + std::to_string(width));
  return 0;
}

std::string ret_text(const Ret& r) {
  if (r.sig == SIGBUS) return "SIGBUS";
  KVMSIM_ASSERT_CTX(r.sig == 0, "signal " + std::to_string(r.sig));
  if (!r.is_ok()) return "-1 " + trace::format_errno(r.err);
  return std::to_string(r.ret);
}

}  // namespace

u64 Call::keyword(std::string_view name, u64 fallback) const {
  const Field* f = find_field(st.keywords, name);
  return f ? eval(f->value.expr) : fallback;
}

void Call::decode(std::size_t i, void* dst, std::size_t size) const {
  const trace::ParamSpec& p = spec.params.at(i);
  KVMSIM_ASSERT_CTX(p.kind == trace::ParamKind::record && p.record_size == size,
                    std::string(spec.callee) + ": argument " + std::to_string(i) + " is not a " + std::string(p.name));
  auto* bytes = static_cast<unsigned char*>(dst);
  const std::vector<Field>& fields = st.args.at(i).fields;
  std::size_t next = 0;  // fields are usually written in the schema's order: the next one is tried first
  for (const FieldSpec& fs : p.fields) {
    const Field* f = next < fields.size() && fields[next].name == fs.name ? &fields[next] : find_field(fields, fs.name);
    if (f) next = static_cast<std::size_t>(f - fields.data()) + 1;
    if (!f || fs.size == 0) continue;  // absent: 0; size 0: not stored in the struct (a bitmap)
    KVMSIM_ASSERT_CTX(fs.offset + fs.size * std::max(1u, fs.max_items) <= size, "field " + std::string(fs.name));
    if (fs.kind == FieldKind::list) {
      for (std::size_t k = 0; k < f->value.list.size(); k++)
        store(bytes + fs.offset + k * fs.size, fs.size, eval(f->value.list[k]));
    } else {
      store(bytes + fs.offset, fs.size, eval(f->value.expr));
    }
  }
}

trace::BitRanges Call::record_ranges(std::size_t i, std::string_view name) const {
  const Field* f = find_field(st.args.at(i).fields, name);
  return f ? ranges_of(f->value) : trace::BitRanges{};
}

std::vector<OutField> Call::read_fields(const std::vector<FieldSpec>& specs, const void* src, std::size_t size) {
  std::vector<OutField> out;
  const auto* bytes = static_cast<const unsigned char*>(src);
  for (const FieldSpec& fs : specs) {
    KVMSIM_ASSERT_CTX(fs.size && fs.kind == FieldKind::expr && fs.offset + fs.size <= size,
                      "out-field " + std::string(fs.name) + " is not a struct member");
    out.push_back(OutField{fs.name, load(bytes + fs.offset, fs.size)});
  }
  return out;
}

bool fields_match(const Call& c, const std::vector<Field>& expected, const std::vector<OutField>& actual) {
  bool equal = true;
  for (const Field& f : expected) {
    const OutField* a = nullptr;
    for (const auto& o : actual)
      if (o.name == f.name) a = &o;
    KVMSIM_ASSERT_CTX(a, "no actual value for field " + f.name);
    if (const u64* v = std::get_if<u64>(&a->value))
      equal &= c.eval(f.value.expr) == *v;
    else
      equal &= ranges_of(f.value) == std::get<trace::BitRanges>(a->value);
  }
  return equal;
}

std::string format_fields(const std::vector<OutField>& fields) {
  std::string out = "{";
  for (std::size_t i = 0; i < fields.size(); i++) {
    const auto& v = fields[i].value;
    out += (i ? ", " : "") + std::string(fields[i].name) + "=" +
           (std::holds_alternative<u64>(v) ? trace::format_size(std::get<u64>(v))
                                           : trace::format_ranges(std::get<trace::BitRanges>(v)));
  }
  return out + "}";
}

std::string expected_text(const trace::Statement& st) {
  // The common results (`= VALUE`, `= -1 ERRNO`) without building "= ..." first: every call asks this.
  if (st.out.empty() && st.result.kind == Result::Kind::value) return trace::print_expr(st.result.value);
  if (st.out.empty() && st.result.kind == Result::Kind::error) return "-1 " + st.result.errno_name;
  std::string r = trace::print_result(st);
  return r.rfind("= ", 0) == 0 ? r.substr(2) : r;
}

StatementResult compare_call(const Call& c, const Returned& got) {
  const trace::Statement& st = c.st;
  StatementResult r;
  r.actual = ret_text(got.ret);
  r.ret = got.ret;
  if (st.bind) {  // a binding expects success; what it binds is the engine's business
    r.expected = "success";
    r.status = got.ret.is_ok() ? StepStatus::matched : StepStatus::mismatch;
    return r;
  }
  if (got.show_out) {
    r.actual += " => " + format_fields(got.out);
    for (const OutField& f : got.out)
      if (const u64* v = std::get_if<u64>(&f.value)) r.written_back.emplace_back(std::string(f.name), *v);
  }
  r.expected = expected_text(st);
  const Result& e = st.result;
  bool equal = fields_match(c, st.out, got.out);
  switch (e.kind) {
    // A value asserted where the model answers unspecified is a mismatch, never a match by luck.
    case Result::Kind::value:
      equal &= got.ret.is_ok() && !got.ret.unspecified && static_cast<u64>(got.ret.ret) == c.eval(e.value);
      break;
    case Result::Kind::unspecified: equal &= got.ret.is_ok() && got.ret.unspecified; break;
    case Result::Kind::error: equal &= !got.ret.is_ok() && got.ret.err == e.err; break;
    case Result::Kind::sigbus: equal &= got.ret.sig == SIGBUS; break;
    default: break;
  }
  const bool expects = e.kind != Result::Kind::none || !st.out.empty();
  r.status = !expects ? StepStatus::unchecked : equal ? StepStatus::matched : StepStatus::mismatch;
  if (r.status != StepStatus::matched) r.rewrite = "= " + r.actual;
  return r;
}

}  // namespace kvmsim::replay_op
