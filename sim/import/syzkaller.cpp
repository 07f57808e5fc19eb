#include "sim/import/syzkaller.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <sstream>
#include <vector>

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
namespace b = trace::build;

// One argument value of a syzkaller call (prog/encoding.go's text forms).
struct Val {
  enum class Kind { integer, automatic, resource, pointer, vma, group, union_, string, nil };
  Kind kind = Kind::integer;
  u64 value = 0;             // integer; pointer / vma address
  u64 size = 0;              // vma size
  bool auto_address = false;  // `&AUTO`
  std::string name;          // resource `r3`, union `@name`
  std::vector<Val> items;    // group items; the pointer's or union's value (0 or 1 item)
};

struct Call {
  int line = 0;
  std::string result;  // `r3` of `r3 = ...`, or empty
  std::string name;    // `ioctl$KVM_CREATE_VM`
  std::vector<Val> args;
  std::string props;   // `async, rerun: 32`
  std::string text;    // the line, for comments
};

struct Line {
  std::string comment;  // a `#` line of the program, kept in the trace
  std::optional<Call> call;
};

constexpr int kMaxDepth = 64;  // nesting a program really has is < 10; deeper input is not a program

// Reads one line of a program; the first error wins.
class LineParser {
 public:
  LineParser(const std::string& text, int line, const std::string& file) : s_(text), line_(line), file_(file) {}

  std::optional<ImportError> parse(Call* c) {
    c->line = line_;
    c->text = s_;
    skip_ws();
    std::string first = ident();
    skip_ws();
    if (!first.empty() && peek() == '=' && is_resource(first)) {
      c->result = first;
      pos_++;
      skip_ws();
      first = ident();
    }
    if (first.empty()) return error("expected a call");
    c->name = first;
    if (peek() != '(') return error("expected '(' after '" + first + "'");
    pos_++;
    skip_ws();
    if (peek() != ')') {
      for (;;) {
        Val v;
        if (!value(&v, 0)) return err_;
        c->args.push_back(std::move(v));
        skip_ws();
        if (peek() == ',') {
          pos_++;
          skip_ws();
          continue;
        }
        if (peek() == ')') break;
        return error(at_end() ? "unexpected end of line: missing ')'" : "expected ',' or ')', got " + shown(peek()));
      }
    }
    pos_++;
    skip_ws();
    if (peek() == '(') {
      const auto close = s_.find(')', pos_);
      if (close == std::string::npos) return error("unexpected end of line: missing ')' after call properties");
      c->props = s_.substr(pos_ + 1, close - pos_ - 1);
      pos_ = close + 1;
      skip_ws();
    }
    if (!at_end()) return error("unexpected text after the call");
    return std::nullopt;
  }

 private:
  static bool is_resource(const std::string& w) {
    auto digit = [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) != 0; };
    return w.size() > 1 && w[0] == 'r' && std::all_of(w.begin() + 1, w.end(), digit);
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r')) pos_++;
  }
  std::string ident() {
    const std::size_t start = pos_;
    auto word = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '$'; };
    while (!at_end() && word(s_[pos_])) pos_++;
    return s_.substr(start, pos_ - start);
  }
  std::optional<ImportError> error(const std::string& msg) {
    if (!err_) err_ = ImportError{file_, line_, static_cast<int>(pos_) + 1, msg};
    return err_;
  }
  bool fail(const std::string& msg) {
    error(msg);
    return false;
  }
  std::string shown(char ch) const {
    const auto u = static_cast<unsigned char>(ch);
    if (u >= 0x20 && u < 0x7f) return std::string("'") + ch + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", u);
    return buf;
  }

  bool number(u64* out) {
    const std::size_t start = pos_;
    int base = 10;
    if (peek() == '0' && pos_ + 1 < s_.size() && (s_[pos_ + 1] == 'x' || s_[pos_ + 1] == 'X')) base = 16, pos_ += 2;
    u64 v = 0;
    std::size_t digits = 0;
    for (; !at_end(); pos_++, digits++) {
      const int ch = std::tolower(static_cast<unsigned char>(s_[pos_]));
      const int d = std::isdigit(ch) ? ch - '0' : (base == 16 && ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
      if (d < 0) break;
      if (v > (~0ull - static_cast<u64>(d)) / static_cast<u64>(base)) {
        pos_ = start;
        return fail("number out of range");
      }
      v = v * static_cast<u64>(base) + static_cast<u64>(d);
    }
    if (digits == 0) {
      pos_ = start;
      return fail("expected a number");
    }
    *out = v;
    return true;
  }

  // `'text\x00'` or `"hex"`, with an optional `/SIZE`.
  bool string(Val* v) {
    const char quote = s_[pos_++];
    v->kind = Val::Kind::string;
    for (;;) {
      if (at_end()) return fail("unexpected end of line: unterminated string");
      if (s_[pos_] == '\\' && quote == '\'') {
        pos_ += 2;
        continue;
      }
      if (s_[pos_++] == quote) break;
    }
    if (peek() == '/') {
      pos_++;
      u64 n;
      if (!number(&n)) return false;
    }
    return true;
  }

  bool value(Val* v, int depth) {
    if (depth > kMaxDepth) return fail("values nested deeper than " + std::to_string(kMaxDepth));
    skip_ws();
    if (at_end()) return fail("unexpected end of line: missing a value");
    const char ch = peek();
    if (std::isdigit(static_cast<unsigned char>(ch))) {
      v->kind = Val::Kind::integer;
      return number(&v->value);
    }
    if (ch == '\'' || ch == '"') return string(v);
    if (ch == '{' || ch == '[') {
      const char close = ch == '{' ? '}' : ']';
      v->kind = Val::Kind::group;
      pos_++;
      skip_ws();
      if (peek() == close) {
        pos_++;
        return true;
      }
      for (;;) {
        Val item;
        if (!value(&item, depth + 1)) return false;
        v->items.push_back(std::move(item));
        skip_ws();
        if (peek() == ',') {
          pos_++;
          continue;
        }
        if (peek() == close) {
          pos_++;
          return true;
        }
        if (at_end()) return fail(std::string("unexpected end of line: missing '") + close + "'");
        return fail("expected ',' or '" + std::string(1, close) + "', got " + shown(peek()));
      }
    }
    if (ch == '@') {
      pos_++;
      v->kind = Val::Kind::union_;
      v->name = ident();
      if (v->name.empty()) return fail("expected a union field name after '@'");
      if (peek() == '=') {
        pos_++;
        v->items.emplace_back();
        return value(&v->items.back(), depth + 1);
      }
      return true;
    }
    if (ch == '<') {  // `<r4=>0x0`: an out field that defines resource r4
      pos_++;
      const std::string r = ident();
      if (!is_resource(r) || s_.compare(pos_, 2, "=>") != 0) return fail("expected '<rN=>'");
      pos_ += 2;
      return value(v, depth + 1);
    }
    if (ch == '&') {
      pos_++;
      if (s_.compare(pos_, 4, "AUTO") == 0) {
        pos_ += 4;
        v->kind = Val::Kind::pointer;
        v->auto_address = true;
      } else {
        if (peek() != '(') return fail("expected '(' or AUTO after '&'");
        pos_++;
        if (!number(&v->value)) return false;
        v->kind = Val::Kind::pointer;
        if (peek() == '/') {
          pos_++;
          if (!number(&v->size)) return false;
          v->kind = Val::Kind::vma;
        }
        if (peek() != ')') return fail(at_end() ? "unexpected end of line: missing ')'" : "expected ')'");
        pos_++;
      }
      if (peek() == '=') {
        pos_++;
        Val target;
        if (!value(&target, depth + 1)) return false;
        if (v->kind == Val::Kind::vma && target.kind != Val::Kind::nil)
          return fail("a memory range's value must be nil");
        if (target.kind != Val::Kind::nil) v->items.push_back(std::move(target));
      }
      return true;
    }
    if (std::isalpha(static_cast<unsigned char>(ch)) || ch == '_') {
      const std::size_t start = pos_;
      const std::string w = ident();
      if (w == "AUTO") return v->kind = Val::Kind::automatic, true;
      if (w == "nil") return v->kind = Val::Kind::nil, true;
      if (is_resource(w)) {
        v->kind = Val::Kind::resource;
        v->name = w;
        return true;
      }
      if (w == "ANY" && peek() == '=') {  // a squashed value: its bytes, which no statement reads
        pos_++;
        return value(v, depth + 1);
      }
      pos_ = start;
      return fail("unknown value '" + w + "'");
    }
    return fail("unexpected character " + shown(ch));
  }

  const std::string& s_;
  int line_;
  const std::string& file_;
  std::size_t pos_ = 0;
  std::optional<ImportError> err_;
};

// Why a call cannot be a statement; the converter turns it into a comment.
struct Skip {
  std::string why;
};

class Converter {
 public:
  explicit Converter(std::string file) : file_(std::move(file)) {}

  // One mapping per cluster of the ranges the program names: `data`, `data2`, ...
  void data_area(u64 lo, u64 hi) {
    const std::string name = data_areas_++ ? "data" + std::to_string(data_areas_) : "data";
    out_ << "# " << name << ": the part of syzkaller's data area this program uses (its executor maps the area "
         << "before the program runs), from " << trace::print_expr(b::hex(lo)) << "\n";
    emit(b::call("mmap", {b::value(b::size(hi - lo)), b::word("anon")}, {}, name));
    handles_.map(lo, hi - lo, name);
  }
  // A program's own `# ...` line, kept as written.
  void comment_line(const std::string& text) { out_ << printable(text) << "\n"; }
  void call(const Call& c);
  ImportResult finish();

 private:
  void emit(const trace::Statement& s) {
    out_ << trace::print_statement(s) << "\n";
    result_.statements++;
  }
  void comment(const Call& c, const std::string& why) {
    out_ << "# " << file_ << ":" << c.line << ": " << why << ": " << printable(c.text) << "\n";
    result_.comments++;
  }
  std::variant<trace::Statement, Skip> convert(const Call& c);
  std::variant<trace::Statement, Skip> ioctl(const Call& c);
  std::variant<trace::Statement, Skip> mmap(const Call& c);
  static trace::Statement recorded_only(const trace::Expr& fd, u64 req, const Val& arg);

  // An fd argument: its handle, -1 (a resource syzkaller could not create), or why not.
  std::variant<trace::Expr, Skip> fd(const Val& v) const {
    if (v.kind == Val::Kind::resource) {
      if (auto h = handles_.fd(v.name)) return b::handle(*h);
      return Skip{"uses " + v.name + ", which no imported call created"};
    }
    if (v.kind == Val::Kind::integer && (v.value == ~0ull || v.value == 0xffffffffull)) return b::negative(1);
    return Skip{"an fd no call of the program created"};
  }
  // An integer argument; a resource or AUTO holds a value only the run knows.
  static std::optional<u64> integer(const Val& v) {
    if (v.kind == Val::Kind::integer) return v.value;
    return std::nullopt;
  }
  // A host address: `data+OFF`, `memN+OFF`, 0, or the raw number.
  trace::Expr address(u64 a) const {
    if (auto e = handles_.address(a)) return *e;
    return number_expr(a);
  }
  void bind(const Call& c, const std::string& handle, unsigned kind) {
    if (!c.result.empty()) handles_.bind(c.result, handle, kind);
  }
  // The kind of an fd argument fd() accepted: its handle's, or 0 for a raw number (-1).
  unsigned fd_kind(const Val& v) const { return v.kind == Val::Kind::resource ? handles_.kind(v.name) : 0; }

  std::string file_;
  std::ostringstream out_;
  ImportResult result_;
  Handles handles_;  // resource rN -> handle, mapped ranges
  int data_areas_ = 0;
};

// The KVM_CAP_ name of a capability number, else the number.
trace::Expr capability(u64 v) {
  for (const auto& c : trace::constants())
    if (c.value == v && std::string_view(c.name).rfind("KVM_CAP_", 0) == 0) return b::constant(c.name);
  return number_expr(v);
}

// The items of a struct argument `&(0x..)={a, b, ...}`; nullopt when the program passes no struct.
std::optional<std::vector<Val>> struct_items(const std::vector<Val>& args, std::size_t i) {
  if (args.size() <= i || args[i].kind != Val::Kind::pointer || args[i].items.empty() ||
      args[i].items[0].kind != Val::Kind::group)
    return std::nullopt;
  return args[i].items[0].items;
}

std::variant<trace::Statement, Skip> Converter::ioctl(const Call& c) {
  const std::string desc = c.name.substr(c.name.find('$') + 1);
  if (c.args.size() < 2) return Skip{"an ioctl without a request"};
  // The request: the number the program passes, or (AUTO) the one its description names.
  std::optional<u64> req = integer(c.args[1]);
  if (!req && c.args[1].kind == Val::Kind::automatic) {
    std::string base = desc;
    if (base.rfind("KVM_CAP_", 0) == 0) base = "KVM_ENABLE_CAP";       // ioctl$KVM_CAP_X: KVM_ENABLE_CAP of cap X
    if (base == "KVM_CHECK_EXTENSION_VM") base = "KVM_CHECK_EXTENSION";
    if (base.size() > 3 && base.compare(base.size() - 3, 3, "_vm") == 0) base.resize(base.size() - 3);
    req = trace::ioctl_request_value(base);
  }
  if (!req) return Skip{"a request kvmsim cannot resolve"};
  const char* name = trace::ioctl_request_name(*req);
  if (!name && ((*req >> 8) & 0xff) != 0xae) return Skip{"not a KVM ioctl"};
  const std::string request = name ? name : "";
  auto f = fd(c.args[0]);
  if (auto* s = std::get_if<Skip>(&f)) return *s;
  const trace::Expr fd_expr = std::get<trace::Expr>(f);
  const Val none;
  const Val& arg = c.args.size() > 2 ? c.args[2] : none;
  // A request its statement cannot take on this fd (KVM_CHECK_EXTENSION on a vCPU fd, KVM_CREATE_VM on a VM
  // fd), or one without a statement: recorded-only.
  if (!fits(fd_kind(c.args[0]), request)) return recorded_only(fd_expr, *req, arg);

  if (request == "KVM_CREATE_VM") {
    auto type = integer(arg);
    if (!type) return Skip{"a VM type only the run knows"};
    const std::optional<std::string> h = c.result.empty() ? std::nullopt : std::optional(handles_.new_vm());
    if (h) bind(c, *h, trace::kHandleVm);
    return b::call("KVM_CREATE_VM", {b::value(number_expr(*type))}, {}, h);
  }
  if (request == "KVM_CREATE_VCPU") {
    auto id = integer(arg);
    if (!id) return Skip{"a vCPU id only the run knows"};
    // On fd -1 the call fails: a binding would expect success, so the resource stays unbound.
    const bool can_bind = !c.result.empty() && c.args[0].kind == Val::Kind::resource;
    const std::optional<std::string> h = can_bind ? std::optional(handles_.new_vcpu(*id)) : std::nullopt;
    if (h) bind(c, *h, trace::kHandleVcpu);
    return b::call("KVM_CREATE_VCPU", {b::value(fd_expr), b::value(number_expr(*id))}, {}, h);
  }
  if (request == "KVM_CHECK_EXTENSION") {
    auto cap = integer(arg);
    if (!cap) return Skip{"a capability only the run knows"};
    return b::call("KVM_CHECK_EXTENSION", {b::value(fd_expr), b::value(capability(*cap))});
  }
  if (request == "KVM_SET_USER_MEMORY_REGION") {
    // kvm_userspace_memory_region {slot, flags, paddr, size len[addr], addr vma64}
    auto items = struct_items(c.args, 2);
    if (!items || items->size() != 5) return Skip{"its struct is not in the program"};
    const Val& addr = (*items)[4];
    auto slot = integer((*items)[0]), flags = integer((*items)[1]), gpa = integer((*items)[2]);
    std::optional<u64> size = integer((*items)[3]);
    if (!size && (*items)[3].kind == Val::Kind::automatic && addr.kind == Val::Kind::vma) size = addr.size;
    std::optional<trace::Expr> ua;
    if (addr.kind == Val::Kind::vma || addr.kind == Val::Kind::integer) ua = address(addr.value);
    if (!slot || !flags || !gpa || !size || !ua) return Skip{"a field only the run knows"};
    return b::call("KVM_SET_USER_MEMORY_REGION",
                   {b::value(fd_expr), b::record({b::field("slot", b::value(slot_expr(*slot))),
                                                  b::field("flags", b::value(b::flags(*flags, "KVM_MEM_"))),
                                                  b::field("guest_phys_addr", b::value(b::size(*gpa))),
                                                  b::field("memory_size", b::value(b::size(*size))),
                                                  b::field("userspace_addr", b::value(*ua))})});
  }
  if (request == "KVM_PRE_FAULT_MEMORY") {
    // kvm_pre_fault_memory {gpa, size, flags, padding[5]}: fields a program leaves out are 0.
    auto items = struct_items(c.args, 2);
    if (!items || items->size() < 2) return Skip{"its struct is not in the program"};
    std::vector<trace::Field> fields;
    const char* names[] = {"gpa", "size", "flags"};
    for (std::size_t i = 0; i < items->size() && i < 3; i++) {
      auto v = integer((*items)[i]);
      if (!v) return Skip{"a field only the run knows"};
      fields.push_back(b::field(names[i], b::value(i < 2 ? b::size(*v) : number_expr(*v))));
    }
    if (items->size() > 3) return Skip{"a padding kvmsim does not read"};
    return b::call("KVM_PRE_FAULT_MEMORY", {b::value(fd_expr), b::record(std::move(fields))});
  }
  if (request == "KVM_GET_DIRTY_LOG") {
    // kvm_dirty_log {slot, pad, bitmap vma64}: the bitmap is an out buffer the trace keeps itself.
    auto items = struct_items(c.args, 2);
    if (!items || items->empty()) return Skip{"its struct is not in the program"};
    auto slot = integer((*items)[0]);
    if (!slot) return Skip{"a slot only the run knows"};
    return b::call("KVM_GET_DIRTY_LOG", {b::value(fd_expr), b::record({b::field("slot", b::value(slot_expr(*slot)))})});
  }
  if (request == "KVM_ENABLE_CAP") {
    // kvm_enable_cap[CAP, ARGS] {cap const[CAP], flags, args}: ioctl$KVM_CAP_X names CAP, so its AUTO is X.
    auto items = struct_items(c.args, 2);
    if (!items || items->size() != 3) return Skip{"its struct is not in the program"};
    std::optional<u64> cap = integer((*items)[0]);
    if (!cap && (*items)[0].kind == Val::Kind::automatic) cap = trace::constant_value(desc);
    auto flags = integer((*items)[1]), arg0 = integer((*items)[2]);
    if (!cap || !flags || !arg0) return Skip{"a field only the run knows"};
    std::vector<trace::Field> fields = {b::field("cap", b::value(capability(*cap)))};
    if (*flags) fields.push_back(b::field("flags", b::value(number_expr(*flags))));
    fields.push_back(b::field("args", b::list({number_expr(*arg0)})));
    return b::call("KVM_ENABLE_CAP", {b::value(fd_expr), b::record(std::move(fields))});
  }
  for (const char* modelled : {"KVM_SET_USER_MEMORY_REGION2", "KVM_CREATE_GUEST_MEMFD", "KVM_SET_MEMORY_ATTRIBUTES",
                               "KVM_CLEAR_DIRTY_LOG"})
    if (request == modelled) return Skip{"a modelled ioctl whose struct kvmsim import syzkaller does not read yet"};
  return recorded_only(fd_expr, *req, arg);
}

// `ioctl(FD, REQUEST[, arg=N])`: an integer argument is kept; a struct's bytes are not encoded (a real kernel
// gets zeros).
trace::Statement Converter::recorded_only(const trace::Expr& fd, u64 req, const Val& arg) {
  std::vector<trace::Field> kw;
  if (trace::ioctl_size(req) == 0 && integer(arg).value_or(0) != 0)
    kw.push_back(b::field("arg", b::value(b::hex(*integer(arg)))));
  const char* name = trace::ioctl_request_name(req);
  return b::call("ioctl", {b::value(fd), b::value(name ? b::constant(name) : b::hex(req))}, std::move(kw));
}

std::variant<trace::Statement, Skip> Converter::mmap(const Call& c) {
  // mmap(addr vma, len, prot, flags, fd, offset)
  if (c.args.size() != 6) return Skip{"an mmap without its six arguments"};
  auto len = integer(c.args[1]), prot = integer(c.args[2]), flags = integer(c.args[3]), off = integer(c.args[5]);
  if (!len || !prot || !flags || !off) return Skip{"an argument only the run knows"};
  if (*len == 0) return Skip{"a zero-length mmap (it fails; a binding would expect success)"};
  const u64 fixed = *flags & (uapi::MAP_FIXED | uapi::MAP_FIXED_NOREPLACE);
  std::vector<trace::Field> kw;
  if (*prot != (uapi::PROT_READ | uapi::PROT_WRITE))
    kw.push_back(b::field("prot", b::value(*prot ? b::flags(*prot, "PROT_") : b::constant("PROT_NONE"))));
  trace::Value backing;
  if (*flags & uapi::MAP_ANONYMOUS) {
    auto word = anon_backing(*flags);
    if (!word) return Skip{"mmap flags the trace cannot state"};
    backing = b::word(*word);
    if (const u64 placed = *flags & (fixed | uapi::MAP_NORESERVE))
      kw.push_back(b::field("flags", b::value(b::flags(placed, "MAP_"))));
    if (fixed) {
      if (c.args[0].kind != Val::Kind::vma) return Skip{"a fixed mapping at an address only the run knows"};
      kw.push_back(b::field("addr", b::value(address(c.args[0].value))));
    }
  } else {
    if (c.args[4].kind != Val::Kind::resource) return Skip{"an mmap of an fd no call of the program created"};
    auto h = handles_.fd(c.args[4].name);
    if (!h || !fits(handles_.kind(c.args[4].name), "mmap", 1)) return Skip{"an mmap of an fd that is not a memfd"};
    if (fixed) return Skip{"a fixed mapping of an fd (the trace places fd mappings itself)"};
    backing = b::value(b::handle(*h));
    kw.insert(kw.begin(), b::field("offset", b::value(number_expr(*off))));
    kw.push_back(b::field("flags", b::value(b::constant((*flags & uapi::MAP_PRIVATE) ? "MAP_PRIVATE" : "MAP_SHARED"))));
  }
  const std::string name = handles_.fresh("mem");
  if (fixed) handles_.map(c.args[0].value, *len, name);
  return b::call("mmap", {b::value(b::size(*len)), backing}, std::move(kw), name);
}

std::variant<trace::Statement, Skip> Converter::convert(const Call& c) {
  if (c.props.find("fail_nth") != std::string::npos) return Skip{"fault injection (fail_nth) the trace cannot state"};
  if (c.name == "openat$kvm") {
    if (c.result.empty()) return Skip{"an /dev/kvm fd nothing uses"};
    handles_.bind(c.result, "kvm", trace::kHandleKvm);  // the predefined handle: no statement
    return Skip{};
  }
  if (c.name.rfind("ioctl$", 0) == 0) return ioctl(c);
  if (c.name == "mmap") return mmap(c);
  if (c.name == "mmap$KVM_VCPU") return Skip{"the vCPU's kvm_run mapping is not modelled"};
  if (c.name == "memfd_create") {
    const u64 known = 0x1 | 0x2 | 0x8;  // MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL
    auto flags = c.args.size() == 2 ? integer(c.args[1]) : std::nullopt;
    if (!flags) return Skip{"memfd flags only the run knows"};
    if (*flags & ~known) return Skip{"memfd flags the model does not model (hugetlbfs)"};
    const std::optional<std::string> h = c.result.empty() ? std::nullopt : std::optional(handles_.fresh("memfd"));
    if (h) bind(c, *h, trace::kHandleMemfd);
    std::vector<trace::Field> kw;
    if (*flags) kw.push_back(b::field("flags", b::value(number_expr(*flags))));
    return b::call("memfd_create", {b::value(b::decimal(0))}, std::move(kw), h);
  }
  if ((c.name == "close" || c.name == "ftruncate") && !c.args.empty() && c.args[0].kind == Val::Kind::resource) {
    auto f = fd(c.args[0]);
    if (auto* s = std::get_if<Skip>(&f)) return *s;
    if (std::get<trace::Expr>(f).terms[0].spelling == "kvm") return Skip{"closing /dev/kvm (the trace keeps it open)"};
    if (c.name == "close") {
      handles_.unbind(c.args[0].name);
      return b::call("close", {b::value(std::get<trace::Expr>(f))});
    }
    auto size = c.args.size() == 2 ? integer(c.args[1]) : std::nullopt;
    if (!size) return Skip{"a size only the run knows"};
    return b::call("ftruncate", {b::value(std::get<trace::Expr>(f)), b::value(b::size(*size))});
  }
  return Skip{"a call kvmsim import syzkaller does not read"};
}

void Converter::call(const Call& c) {
  auto r = convert(c);
  if (auto* s = std::get_if<Skip>(&r)) {
    if (!s->why.empty()) comment(c, s->why);
    return;
  }
  if (c.props.find("rerun") != std::string::npos) comment(c, "(" + c.props + "): the trace runs the call once");
  emit(std::get<trace::Statement>(r));
}

ImportResult Converter::finish() {
  ImportResult r = result_;
  r.trace = "kvmsim-trace 1\n# imported by kvmsim import syzkaller from " + printable(file_) +
            "\n# a syzkaller program asserts no results, so no statement carries one: replay records what the "
            "backend answered, `kvmsim replay --update` writes it in\n" +
            out_.str();
  auto parsed = trace::parse(r.trace, file_ + " (imported)");
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) KVMSIM_ASSERT_CTX(false, "import produced: " + e->str());
  return r;
}

// Every memory range a program names (`&(0xA/0xS)=nil`, mmap's address) lies in the data area.
void collect_ranges(const Val& v, std::vector<std::pair<u64, u64>>* out) {
  if (v.kind == Val::Kind::vma && v.size) out->emplace_back(v.value, v.value + std::min<u64>(v.size, ~0ull - v.value));
  for (const auto& i : v.items) collect_ranges(i, out);
}

}  // namespace

std::variant<ImportResult, ImportError> import_syzkaller(const std::string& text, const std::string& file) {
  std::vector<Line> lines;
  std::size_t start = 0;
  int n = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string raw = text.substr(start, end - start);
    start = end + 1;
    n++;
    const auto first = raw.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    Line l;
    if (raw[first] == '#') {
      l.comment = raw.substr(first);
    } else {
      Call c;
      if (auto e = LineParser(raw, n, file).parse(&c)) return *e;
      l.call = std::move(c);
    }
    lines.push_back(std::move(l));
  }
  std::vector<std::pair<u64, u64>> ranges;
  for (const auto& l : lines)
    if (l.call)
      for (const auto& a : l.call->args) collect_ranges(a, &ranges);
  std::sort(ranges.begin(), ranges.end());
  Converter conv(file);
  // Ranges closer than 2M share one mapping, whose start is 2M-aligned as syzkaller's data area is, so a
  // range keeps its offset within 2M (which decides mapping levels).
  constexpr u64 k2M = 2ull << 20, k4K = 4096;
  for (std::size_t i = 0; i < ranges.size();) {
    const u64 lo = ranges[i].first & ~(k2M - 1);
    u64 hi = ranges[i].second;
    for (i++; i < ranges.size() && ranges[i].first <= std::min<u64>(hi, ~0ull - k2M) + k2M; i++)
      hi = std::max<u64>(hi, ranges[i].second);
    if (hi <= ~0ull - k4K) conv.data_area(lo, (hi + k4K - 1) & ~(k4K - 1));
  }
  for (const auto& l : lines) {
    if (l.call) conv.call(*l.call);
    else conv.comment_line(l.comment);
  }
  return conv.finish();
}

}  // namespace kvmsim::importer
