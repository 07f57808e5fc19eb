#include "sim/trace/parser.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "sim/trace/constants.h"
#include "sim/trace/eval.h"
#include "sim/trace/lexer.h"
#include "sim/trace/schema.h"

namespace kvmsim::trace {

std::string ParseError::str() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + message;
}

namespace {

// Internal: the first error aborts the parse of the whole trace.
struct Failure {
  std::size_t col;  // 0-based
  std::string message;
};

std::string quote(std::string_view s) {
  // Keep messages one line and printable whatever the input bytes are.
  std::string out = "'";
  for (char c : s.substr(0, 64)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (s.size() > 64) out += "...";
  return out + "'";
}

template <typename T>
std::string join(const std::vector<T>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(i);
  return out;
}

std::string join_fields(const std::vector<FieldSpec>& fields) {
  std::vector<std::string_view> names;
  for (const auto& f : fields) names.push_back(f.name);
  return join(names);
}

bool contains(const std::vector<std::string_view>& words, std::string_view w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

std::string handle_kinds_text(unsigned kinds) {
  std::string out;
  for (unsigned bit = 1; bit <= kHandleMem; bit <<= 1)
    if (kinds & bit) out += (out.empty() ? "" : " or ") + std::string(handle_kind_name(bit));
  return out;
}

// Where a value is (`KVM_SET_USER_MEMORY_REGION.region.slot`) for error messages, as pieces joined
// only when an error is reported: a correct line builds no message strings, and a Ctx is a few
// views plus a pointer to the enclosing Ctx (which outlives it: both live on the parser's stack).
struct Ctx {
  std::string_view pre;         // before the enclosing context: "to open "
  const Ctx* outer = nullptr;   // the enclosing context, or none
  std::string_view part[3];     // after it
  Ctx() = default;
  Ctx(std::string_view a, std::string_view b = {}, std::string_view c = {}) : part{a, b, c} {}
  Ctx plus(std::string_view a, std::string_view b = {}) const {
    Ctx c(a, b);
    c.outer = this;
    return c;
  }
  Ctx prefixed(std::string_view p) const {
    Ctx c;
    c.pre = p;
    c.outer = this;
    return c;
  }
  std::string str() const {
    std::string out(pre);
    if (outer) out += outer->str();
    for (std::string_view p : part) out += p;
    return out;
  }
};

// Node storage reused line after line. A statement's argument and field vectors are refilled element by
// element: the element already there is reset in place (its strings and vectors keep their buffers), and
// the elements a shorter line does not need wait here for a longer one instead of being freed. The
// spares hold at most one line's worth of nodes.
struct Spares {
  std::vector<Value> values;
  std::vector<Field> fields;
};

// Element `i` (== v.size() or less) of `v`, to be reset and refilled by the caller.
template <class T>
T& slot(std::vector<T>& v, std::size_t i, std::vector<T>& spare) {
  if (i == v.size()) {
    if (spare.empty()) return v.emplace_back();
    v.push_back(std::move(spare.back()));
    spare.pop_back();
  }
  return v[i];
}

// Keeps the first `n` elements of `v`; the others go to `spare`.
template <class T>
void truncate(std::vector<T>& v, std::size_t n, std::vector<T>& spare) {
  while (v.size() > n) {
    spare.push_back(std::move(v.back()));
    v.pop_back();
  }
}

// Overwrites `s` with `v` in its own buffer. The parser sets a dozen strings per line; clear() and
// append() skip assign()'s check for a source inside the string itself.
void set_text(std::string& s, std::string_view v) {
  s.clear();
  s.append(v.data(), v.size());
}

void reset(Expr& e) {
  e.terms.clear();
  e.ops.clear();
}

// A fresh expression value; with `keep_fields` its record fields stay for record() to refill.
void reset(Value& v, Spares& sp, bool keep_fields = false) {
  v.kind = Value::Kind::expr;
  reset(v.expr);
  v.word.clear();
  v.list.clear();
  v.ranges.clear();
  if (!keep_fields) truncate(v.fields, 0, sp.fields);
}

// Makes `st` a fresh statement but keeps its nodes' buffers (see Spares); its argument and keyword
// vectors are refilled in place by the parser.
void reuse(Statement& st, Spares& sp) {
  st.kind = Statement::Kind::call;
  st.bind.reset();
  st.callee.clear();
  Result& r = st.result;
  r.kind = Result::Kind::none;
  reset(r.value);
  r.errno_name.clear();
  r.err = 0;
  truncate(r.fields, 0, sp.fields);
  truncate(st.out, 0, sp.fields);
  truncate(st.expect, 0, sp.fields);
  st.line = 0;
  st.text.clear();
  st.result_begin = st.result_end = 0;
}

using Names = std::map<std::string, unsigned, std::less<>>;

class LineParser {
 public:
  LineParser(const std::vector<Token>& toks, const Names& names, Spares& spares)
      : toks_(toks), names_(names), sp_(spares) {}

  // Parses the line into `st` (a fresh or reuse()d statement).
  void statement(Statement& st);

 private:
  const Token& peek(std::size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (t.kind != Token::Kind::end) {
      pos_++;
      prev_end_ = t.col + t.text.size();
    }
    return t;
  }
  [[noreturn]] void fail(const Token& at, std::string msg) const { throw Failure{at.col, std::move(msg)}; }
  std::string describe(const Token& t) const {
    return t.kind == Token::Kind::end ? std::string("end of line") : quote(t.text);
  }
  // `what()` makes the context of the message: only when there is an error to report.
  template <class MakeCtx>
  void expect_punct(std::string_view p, const MakeCtx& what) {
    if (!peek().is(p)) fail(peek(), "expected '" + std::string(p) + "' " + what().str() + ", got " + describe(peek()));
    next();
  }

  // The readers of a part fill an empty node in place (no node is built and then moved).
  void term(bool allow_names, Term& t);
  void expr(Expr& e, bool allow_names = true, bool allow_minus = true);
  void handle(unsigned kinds, const Ctx& what, Value& v);
  void field_value(const FieldSpec& spec, const Ctx& where, Value& v);
  // Fills `out` (refilled in place, see Spares) with `{name=value, ...}`.
  void record(const std::vector<FieldSpec>& specs, const Ctx& where, std::vector<Field>& out, bool any_key = false);
  // The next field of `fields` (the `n`-th), named `name`, its value reset. A line like the one before
  // has the same field here: the name is then left as it is.
  Field& field_slot(std::vector<Field>& fields, std::size_t n, std::string_view name) {
    Field& f = slot(fields, n, sp_.fields);
    if (f.name != name) set_text(f.name, name);
    reset(f.value, sp_);
    return f;
  }
  void word(const std::vector<std::string_view>& words, const Ctx& what, Value& v);
  void call_args(const StatementSpec& spec, Statement& st);
  void result(const StatementSpec& spec, Result& r);
  void expect_keys(const StatementSpec& spec, Statement& st);

  const std::vector<Token>& toks_;
  const Names& names_;
  Spares& sp_;
  std::size_t pos_ = 0;
  std::size_t prev_end_ = 0;
  bool read_access_ = false;  // the statement is `access(..., read)`: `= ok {value=...}` allowed
};

void LineParser::term(bool allow_names, Term& t) {
  if (peek().is("-")) {
    next();
    t.neg = true;
  }
  const Token& tok = peek();
  if (tok.is("(")) {
    // A parenthesized group (extension): any expression, binary minus included.
    next();
    t.kind = Term::Kind::group;
    expr(t.group.emplace_back(), allow_names, true);
    expect_punct(")", [&] { return Ctx{"to close the parenthesis"}; });
    return;
  }
  if (tok.kind == Token::Kind::number) {
    NumberResult n = parse_number(tok.text);
    if (!n.error.empty()) fail(tok, n.error + ": " + quote(tok.text));
    t.kind = Term::Kind::number;
    t.value = n.value;
  } else if (tok.kind == Token::Kind::ident) {
    std::string_view name = tok.text;
    // Bound names first: a handle name is never a constant's (feed() refuses that binding), and
    // handles are most of a trace's names.
    if (names_.find(name) != names_.end()) {
      if (!allow_names) fail(tok, "a handle cannot be used here: " + quote(name));
      t.kind = Term::Kind::name;
    } else if (auto c = constant_value(name)) {
      t.kind = Term::Kind::constant;
      t.value = *c;
    } else {
      fail(tok, "unknown constant or unbound name " + quote(name));
    }
  } else {
    fail(tok, "expected a number, constant or name, got " + describe(tok));
  }
  set_text(t.spelling, tok.text);
  next();
}

void LineParser::expr(Expr& e, bool allow_names, bool allow_minus) {
  const Token& start = peek();
  term(allow_names, e.terms.emplace_back());
  while (peek().is("+") || peek().is("|") || peek().is("*") || peek().is("<<") || (allow_minus && peek().is("-"))) {
    e.ops.push_back(next().text[0]);  // `<<` is stored as '<'
    term(allow_names, e.terms.emplace_back());
  }
  // One plain term cannot overflow (a number literal is range-checked, a negation fits).
  const bool plain = e.terms.size() == 1 && e.terms[0].kind != Term::Kind::group;
  if (!plain && !e.has_names() && evaluate(e).overflow) fail(start, "number out of range");
}

void LineParser::handle(unsigned kinds, const Ctx& what, Value& v) {
  const Token& start = peek();
  expr(v.expr);
  if (!v.expr.has_names()) return;  // a raw fd number: passed through unchanged
  const Term& t0 = v.expr.terms[0];
  if (v.expr.terms.size() != 1 || t0.neg || t0.kind != Term::Kind::name)
    fail(start, what.str() + " must be a " + handle_kinds_text(kinds) + " handle or a number");
  unsigned kind = names_.find(t0.spelling)->second;
  if (!(kind & kinds))
    fail(start, quote(t0.spelling) + " is a " + handle_kind_name(kind) + " handle; " + what.str() +
                    " must be a " + handle_kinds_text(kinds) + " handle or a number");
}

void LineParser::word(const std::vector<std::string_view>& words, const Ctx& what, Value& v) {
  const Token& t = peek();
  if ((t.kind != Token::Kind::ident && t.kind != Token::Kind::number) || !contains(words, t.text))
    fail(t, "expected " + what.str() + " (one of " + join(words) + "), got " + describe(t));
  v.kind = Value::Kind::word;
  set_text(v.word, t.text);
  next();
}

void LineParser::field_value(const FieldSpec& spec, const Ctx& where, Value& v) {
  const Ctx what = where.plus(".", spec.name);
  switch (spec.kind) {
    case FieldKind::expr:
      expr(v.expr);
      return;
    case FieldKind::handle:
      handle(spec.handles, what, v);
      return;
    case FieldKind::word:
      word(spec.words, what, v);
      return;
    case FieldKind::flag: {
      const Token& t = peek();
      if (!(t.kind == Token::Kind::number && (t.text == "0" || t.text == "1")))
        fail(t, what.str() + " must be 0 or 1, got " + describe(t));
      expr(v.expr, false);
      return;
    }
    case FieldKind::list: {
      v.kind = Value::Kind::list;
      expect_punct("[", [&] { return what.prefixed("to open "); });
      while (!peek().is("]")) {
        if (!v.list.empty()) expect_punct(",", [&] { return what.prefixed("between items of "); });
        if (v.list.size() == spec.max_items)
          fail(peek(), what.str() + " has at most " + std::to_string(spec.max_items) + " items");
        expr(v.list.emplace_back());
      }
      next();
      return;
    }
    case FieldKind::ranges: {
      v.kind = Value::Kind::ranges;
      expect_punct("[", [&] { return what.prefixed("to open "); });
      while (!peek().is("]")) {
        if (!v.ranges.empty()) expect_punct(",", [&] { return what.prefixed("between ranges of "); });
        const Token& start = peek();
        Range r;
        // `-` separates the bounds of a range, so bounds are sums without binary minus.
        expr(r.lo, false, false);
        if (peek().is("-")) {
          next();
          expr(r.hi.emplace(), false, false);
        }
        u64 lo = evaluate(r.lo).value, hi = r.hi ? evaluate(*r.hi).value : lo;
        if (hi < lo) fail(start, "empty range in " + what.str() + ": high bound below low bound");
        // Bits index pages of one memslot: at most KVM_MEM_MAX_NR_PAGES.
        if (hi >= (1ull << 31)) fail(start, "bit out of range in " + what.str() + " (max 2147483646)");
        v.ranges.push_back(std::move(r));
      }
      next();
      return;
    }
  }
}

void LineParser::record(const std::vector<FieldSpec>& specs, const Ctx& where, std::vector<Field>& out, bool any_key) {
  std::size_t n = 0;  // fields read so far: out[0, n)
  std::uint64_t seen = 0;  // schema rows read so far
  expect_punct("{", [&] { return where.prefixed("to open "); });
  while (!peek().is("}")) {
    if (n) expect_punct(",", [&] { return where.prefixed("between fields of "); });
    const Token& name = peek();
    if (name.kind != Token::Kind::ident) fail(name, "expected a field name in " + where.str() + ", got " + describe(name));
    // Fields are usually written in the schema's order: the n-th row is tried before the scan.
    auto it = n < specs.size() && specs[n].name == name.text
                  ? specs.begin() + static_cast<std::ptrdiff_t>(n)
                  : std::find_if(specs.begin(), specs.end(), [&](const FieldSpec& f) { return f.name == name.text; });
    if (it == specs.end() && !any_key)
      fail(name, "unknown field " + quote(name.text) + " in " + where.str() + "; valid fields: " + join_fields(specs));
    // A schema field seen before is a bit of `seen` (no record has 64 fields); a field outside the
    // schema (any_key) is compared by name.
    const auto row = static_cast<std::size_t>(it - specs.begin());
    bool duplicate = false;
    if (it != specs.end() && row < 64) {
      duplicate = seen >> row & 1;
      seen |= std::uint64_t{1} << row;
    } else {
      for (std::size_t k = 0; k < n; k++) duplicate |= out[k].name == name.text;
    }
    if (duplicate) fail(name, "duplicate field " + quote(name.text) + " in " + where.str());
    next();
    expect_punct("=", [&] { return Ctx{"after field name"}; });
    Field& f = field_slot(out, n++, name.text);
    if (it == specs.end()) field_value(FieldSpec{name.text}, where, f.value);
    else field_value(*it, where, f.value);
  }
  next();
  truncate(out, n, sp_.fields);
}

void LineParser::call_args(const StatementSpec& spec, Statement& st) {
  const std::string_view callee = spec.callee;
  expect_punct("(", [&] { return Ctx{"after '", callee, "'"}; });
  auto sig = [&] {
    std::vector<std::string_view> pnames;
    for (const auto& p : spec.params) pnames.push_back(p.name);
    return std::string(callee) + "(" + join(pnames) + ")";
  };
  // Argument i is refilled in place (see Spares); a record keeps its fields for record() to refill.
  auto arg = [&](std::size_t i, bool is_record = false) -> Value& {
    Value& v = slot(st.args, i, sp_.values);
    reset(v, sp_, is_record);
    return v;
  };
  for (std::size_t i = 0; i < spec.params.size(); i++) {
    const ParamSpec& p = spec.params[i];
    if (i > 0) {
      if (peek().is(")")) fail(peek(), "too few arguments: " + sig());
      expect_punct(",", [&] { return Ctx{"between arguments of ", callee}; });
    } else if (peek().is(")")) {
      fail(peek(), "too few arguments: " + sig());
    }
    switch (p.kind) {
      case ParamKind::handle: handle(p.handles, Ctx{callee, " ", p.name}, arg(i)); break;
      case ParamKind::expr: expr(arg(i).expr); break;
      case ParamKind::record: {
        Value& v = arg(i, true);
        v.kind = Value::Kind::record;
        record(p.fields, Ctx{p.name}, v.fields);
        break;
      }
      case ParamKind::word: word(p.words, Ctx{callee, " ", p.name}, arg(i)); break;
      case ParamKind::backing_or_fd:
        if (peek().kind == Token::Kind::ident && contains(p.words, peek().text))
          word(p.words, Ctx{"backing"}, arg(i));
        else
          handle(p.handles, Ctx{callee, " backing"}, arg(i));
        break;
    }
  }
  truncate(st.args, spec.params.size(), sp_.values);
  // Optional trailing key=value arguments (mmap's align=, offset=, prot=, flags=), refilled in place.
  std::size_t nk = 0;  // st.keywords[0, nk) read so far
  while (peek().is(",")) {
    next();
    const Token& name = peek();
    auto it = std::find_if(spec.keywords.begin(), spec.keywords.end(),
                           [&](const FieldSpec& f) { return f.name == name.text; });
    const bool tid = name.text == thread_keyword().name;  // every call takes tid= (the recording thread)
    if (name.kind != Token::Kind::ident || !peek(1).is("="))
      fail(name, "too many arguments: " + sig());
    if (it == spec.keywords.end() && !tid)
      fail(name, "unknown keyword " + quote(name.text) + " for " + std::string(callee) +
                     (spec.keywords.empty() ? "" : "; valid keywords: " + join_fields(spec.keywords)));
    for (std::size_t k = 0; k < nk; k++)
      if (st.keywords[k].name == name.text) fail(name, "duplicate keyword " + quote(name.text));
    if (spec.op == Op::access && name.text == "value" && !(st.args.size() > 2 && st.args[2].word == "write"))
      fail(name, "value= is only for a write access; a read states what it loads as = ok {value=...}");
    if (spec.op == Op::mmap && !tid) {
      // align=/addr= belong to anonymous backings, offset= to mmap of an fd; prot=/flags= to both.
      bool backing = st.args.size() > 1 && st.args[1].kind == Value::Kind::word;
      if (backing && name.text == "offset") fail(name, quote(name.text) + " is only for mmap of an fd");
      if (!backing && (name.text == "align" || name.text == "addr"))
        fail(name, quote(name.text) + " is only for mmap of a backing");
    }
    next();
    next();  // '='
    Field& f = field_slot(st.keywords, nk++, name.text);
    field_value(tid ? thread_keyword() : *it, Ctx{callee}, f.value);
  }
  truncate(st.keywords, nk, sp_.fields);
  expect_punct(")", [&] { return Ctx{"to close the arguments of ", callee}; });
}

void LineParser::result(const StatementSpec& spec, Result& r) {
  // `-1 ERRNO` (both integer and access results).
  if (peek().is("-") && peek(1).kind == Token::Kind::number && peek(1).text == "1" &&
      (peek(2).kind == Token::Kind::ident || peek(2).kind == Token::Kind::number)) {
    next();
    next();
    const Token& e = peek();
    r.kind = Result::Kind::error;
    if (e.kind == Token::Kind::ident) {
      auto v = errno_value(e.text);
      if (!v) fail(e, "unknown errno " + quote(e.text));
      r.err = *v;
    } else {
      NumberResult n = parse_number(e.text);
      if (!n.error.empty() || n.value == 0 || n.value > 4095) fail(e, "errno must be a name or 1..4095, got " + quote(e.text));
      r.err = static_cast<int>(n.value);
    }
    set_text(r.errno_name, e.text);
    next();
    return;
  }
  if (peek().is("-") && peek(1).kind == Token::Kind::number && peek(1).text == "1" &&
      (peek(2).kind == Token::Kind::end || peek(2).is("=>")))
    fail(peek(2), "expected an errno name after -1");
  if (spec.result == ResultKind::access) {
    const Token& t = peek();
    if (t.kind == Token::Kind::ident && (t.text == "ok" || t.text == "mmio")) {
      r.kind = t.text == "ok" ? Result::Kind::ok : Result::Kind::mmio;
      next();
      // `= ok {value=V}`: what a guest read loaded (docs/semantics/memory-contents.md §5).
      if (r.kind == Result::Kind::ok && peek().is("{")) {
        if (!read_access_) fail(peek(), "only a read access reports {value=...}; a write states its value as value=");
        record(access_ok_fields(), Ctx{"ok"}, r.fields);
      }
      return;
    }
    // `= unspecified`: the read completes, but what it loads is left open (memory-contents.md §6).
    if (t.kind == Token::Kind::ident && t.text == "unspecified") {
      if (!read_access_) fail(t, "only a read access loads an unspecified value");
      r.kind = Result::Kind::unspecified;
      next();
      return;
    }
    if (t.kind == Token::Kind::ident && (t.text == "memory_fault" || t.text == "memory_error")) {
      // memory_error: KVM_EXIT_MEMORY_ERROR of the private-fd v5 proposal (same fields).
      r.kind = t.text == "memory_fault" ? Result::Kind::memory_fault : Result::Kind::memory_error;
      const std::string name(t.text);
      next();
      record(memory_fault_fields(), Ctx{name}, r.fields);
      return;
    }
    fail(t, "expected ok, mmio, memory_fault {...}, memory_error {...} or -1 ERRNO, got " + describe(t));
  }
  if (spec.result == ResultKind::host && peek().kind == Token::Kind::ident && peek().text == "SIGBUS") {
    r.kind = Result::Kind::sigbus;
    next();
    return;
  }
  if (spec.result == ResultKind::host && peek().kind == Token::Kind::ident && peek().text == "unspecified") {
    if (spec.op != Op::peek) fail(peek(), "only peek loads an unspecified value");
    r.kind = Result::Kind::unspecified;
    next();
    return;
  }
  r.kind = Result::Kind::value;
  expr(r.value, false);
  return;
}

void LineParser::expect_keys(const StatementSpec& spec, Statement& st) {
  const Ctx where{"expect ", spec.callee};
  while (peek().kind != Token::Kind::end) {
    const Token& name = peek();
    if (name.kind != Token::Kind::ident) fail(name, "expected key=value in " + where.str() + ", got " + describe(name));
    if (st.expect.empty()) st.result_begin = name.col;
    auto it = std::find_if(spec.expect_keys.begin(), spec.expect_keys.end(),
                           [&](const FieldSpec& f) { return f.name == name.text; });
    if (it == spec.expect_keys.end() && !spec.any_key)
      fail(name, "unknown key " + quote(name.text) + " in " + where.str() + "; valid keys: " + join_fields(spec.expect_keys));
    for (const auto& f : st.expect)
      if (f.name == name.text) fail(name, "duplicate key " + quote(name.text) + " in " + where.str());
    next();
    expect_punct("=", [&] { return Ctx{"after '", name.text, "'"}; });
    Field& f = field_slot(st.expect, st.expect.size(), name.text);
    if (it == spec.expect_keys.end()) {
      expr(f.value.expr, false);
    } else {
      field_value(*it, where, f.value);
    }
    st.result_end = prev_end_;
  }
}

void LineParser::statement(Statement& st) {
  const Token& first = peek();
  if (first.kind != Token::Kind::ident) fail(first, "expected a statement, got " + describe(first));
  if (first.text == "expect" && peek(1).kind == Token::Kind::ident) {
    next();
    st.kind = Statement::Kind::expect;
    const Token& callee = peek();
    const StatementSpec* spec = find_statement(callee.text, true);
    if (!spec) fail(callee, "unknown expectation " + quote(callee.text) + " (expected stats or mapping)");
    set_text(st.callee, callee.text);
    next();
    call_args(*spec, st);
    st.result_begin = st.result_end = prev_end_;
    expect_keys(*spec, st);
    return;
  }
  if (peek(1).is("=")) {
    st.bind = std::string(first.text);
    next();
    next();
  }
  const Token& callee = peek();
  if (callee.kind != Token::Kind::ident) fail(callee, "expected a call, got " + describe(callee));
  const StatementSpec* spec = find_statement(callee.text, false);
  if (!spec) {
    // Name what is supported: a user who wrote KVM_RUN should learn `access(...)` exists without
    // opening traces/FORMAT.md.
    std::string known;
    for (const StatementSpec& s : statement_specs())
      if (!s.expect && (", " + known).find(", " + std::string(s.callee) + ",") == std::string::npos)
        known += std::string(s.callee) + ", ";
    fail(callee, "unknown statement " + quote(callee.text) + " (supported: " + known + "expect ...; traces/FORMAT.md)");
  }
  if (st.bind && spec->binding == Binding::forbidden)
    fail(first, std::string(spec->callee) + " does not create a handle; it cannot be bound to a name");
  if (!st.bind && spec->binding == Binding::required)
    fail(callee, std::string(spec->callee) + " must be bound to a name");
  set_text(st.callee, callee.text);
  next();
  call_args(*spec, st);
  read_access_ = spec->op == Op::access && st.args.size() > 2 && st.args[2].word == "read";
  st.result_begin = st.result_end = prev_end_;
  if (peek().is("=")) {
    if (st.bind)
      fail(peek(), "a binding statement takes no result; write a failing call without the binding");
    st.result_begin = peek().col;
    next();
    result(*spec, st.result);
    st.result_end = prev_end_;
  }
  if (peek().is("=>")) {
    if (spec->out.empty()) fail(peek(), std::string(spec->callee) + " has no out-fields");
    if (st.result.kind == Result::Kind::none) st.result_begin = peek().col;
    next();
    record(spec->out, Ctx{"out-fields of ", spec->callee}, st.out);
    st.result_end = prev_end_;
  }
  if (peek().kind != Token::Kind::end) fail(peek(), "unexpected " + describe(peek()) + " after the statement");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The code part of a line (before `#`), trimmed, and the offset where it starts.
std::string_view code_of(std::string_view line, std::size_t* start) {
  std::string_view code = line.substr(0, std::min(line.find('#'), line.size()));
  std::string_view t = trim(code);
  *start = t.empty() ? 0 : static_cast<std::size_t>(t.data() - line.data());
  return t;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// `host thp=WORD shmem_thp=WORD` after the header (and profile): fills trace.host or fails at a column.
std::optional<ParseError> host_header(std::size_t code_col, std::string_view code, const std::string& file,
                                      int line_no, Trace& trace) {
  auto error = [&](std::size_t col, std::string msg) {
    return ParseError{file, line_no, static_cast<int>(col) + 1, std::move(msg)};
  };
  HostHeader h;
  h.line = line_no;
  std::size_t i = 4;  // after "host"
  while (i < code.size()) {
    while (i < code.size() && (code[i] == ' ' || code[i] == '\t')) i++;
    if (i == code.size()) break;
    const std::size_t key_at = i;
    while (i < code.size() && code[i] != '=' && code[i] != ' ' && code[i] != '\t') i++;
    const std::string_view key = code.substr(key_at, i - key_at);
    if (key != "thp" && key != "shmem_thp")
      return error(code_col + key_at, "unknown host setting " + quote(key) + " (thp, shmem_thp)");
    if (i == code.size() || code[i] != '=') return error(code_col + i, "expected '=' after " + quote(key));
    const std::size_t value_at = ++i;
    while (i < code.size() && code[i] != ' ' && code[i] != '\t') i++;
    const std::string_view value = code.substr(value_at, i - value_at);
    const auto& words = key == "thp" ? host_thp_words() : host_shmem_thp_words();
    if (!contains(words, value))
      return error(code_col + value_at, "expected " + std::string(key) + " (one of " + join(words) + "), got " +
                                            (value.empty() ? std::string("nothing") : quote(value)));
    std::string& slot = key == "thp" ? h.thp : h.shmem_thp;
    if (!slot.empty()) return error(code_col + key_at, quote(key) + " is given twice");
    slot = std::string(value);
  }
  if (h.thp.empty() && h.shmem_thp.empty())
    return error(code_col + code.size(), "expected thp=... and/or shmem_thp=... after 'host'");
  trace.host = std::move(h);
  return std::nullopt;
}

// A header directive `word ...`, not a binding `word = ...`.
bool is_directive(std::string_view code, std::string_view word) {
  return !code.empty() && code[0] == word[0] && code.substr(0, word.size()) == word &&
         (code.size() == word.size() || code[word.size()] == ' ' || code[word.size()] == '\t') &&
         trim(code.substr(word.size())).substr(0, 1) != "=";
}

}  // namespace

const std::vector<std::string_view>& host_thp_words() {
  static const std::vector<std::string_view> w = {"always", "madvise", "never"};
  return w;
}

const std::vector<std::string_view>& host_shmem_thp_words() {
  static const std::vector<std::string_view> w = {"always", "within_size", "advise", "never", "deny", "force"};
  return w;
}

struct StreamParser::State {
  std::string file;
  Names names = {{"kvm", kHandleKvm}};
  std::map<std::string, int> bound_at;
  // header: expecting `kvmsim-trace 1`; profile: a profile or host directive may follow; host: the
  // profile was given, a host directive may follow; body: statements only.
  enum class Where { header, profile, host, body } where = Where::header;
  int line_no = 0;
  std::optional<std::string> profile;
  int profile_line = 0;
  std::optional<HostHeader> host;
  Statement statement;
  ParseError error;
  LexResult lex;  // reused line after line
  Spares spares;  // the statement's nodes not in use (reuse())
};

StreamParser::StreamParser(std::string file) : s_(std::make_unique<State>()) { s_->file = std::move(file); }
StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser&&) noexcept = default;
StreamParser& StreamParser::operator=(StreamParser&&) noexcept = default;

const std::string& StreamParser::file() const { return s_->file; }
int StreamParser::line() const { return s_->line_no; }
bool StreamParser::in_body() const { return s_->where == State::Where::body; }
const std::optional<std::string>& StreamParser::profile() const { return s_->profile; }
int StreamParser::profile_line() const { return s_->profile_line; }
const std::optional<HostHeader>& StreamParser::host() const { return s_->host; }
Statement& StreamParser::statement() { return s_->statement; }
const ParseError& StreamParser::error() const { return s_->error; }

StreamParser::Fed StreamParser::feed(std::string_view line) {
  State& s = *s_;
  const int line_no = ++s.line_no;
  auto error = [&](std::size_t col, std::string msg) {
    s.error = ParseError{s.file, line_no, static_cast<int>(col) + 1, std::move(msg)};
    return Fed::error;
  };
  std::size_t code_col = 0;
  std::string_view code = code_of(line, &code_col);
  if (code.empty()) return Fed::nothing;
  if (s.where == State::Where::header) {
    std::string_view word = code.substr(0, std::min(code.find_first_of(" \t"), code.size()));
    if (word != "kvmsim-trace") return error(code_col, "expected the header 'kvmsim-trace 1'");
    std::string_view ver = trim(code.substr(word.size()));
    std::size_t ver_col = code_col + static_cast<std::size_t>(code.size() - ver.size());
    NumberResult n = parse_number(ver);
    if (ver.empty() || !n.error.empty() || ver.find_first_of(" \t") != std::string_view::npos)
      return error(ver_col, "malformed trace version " + quote(ver));
    if (n.value != 1) return error(ver_col, "unsupported trace version " + std::string(ver));
    s.where = State::Where::profile;
    return Fed::nothing;
  }
  if (is_directive(code, "host")) {
    if (s.where == State::Where::body || s.host)
      return error(code_col, "the host directive must directly follow the header (and the profile directive)");
    Trace t;
    if (auto e = host_header(code_col, code, s.file, line_no, t)) {
      s.error = *e;
      return Fed::error;
    }
    s.host = std::move(t.host);
    s.where = State::Where::body;
    return Fed::nothing;
  }
  if (is_directive(code, "profile")) {
    if (s.where != State::Where::profile) return error(code_col, "the profile directive must directly follow the header");
    std::string_view name = trim(code.substr(7));
    std::size_t name_col = code_col + static_cast<std::size_t>(code.size() - name.size());
    if (name.empty()) return error(name_col, "expected a profile name after 'profile'");
    for (std::size_t i = 0; i < name.size(); i++)
      if (!is_name_char(name[i])) return error(name_col + i, "unexpected character in profile name " + quote(name));
    s.profile = std::string(name);
    s.profile_line = line_no;
    s.where = State::Where::host;
    return Fed::nothing;
  }
  s.where = State::Where::body;
  LexResult& lex = s.lex;
  lex_line(line, &lex);
  if (lex.error_col) return error(*lex.error_col, "unexpected character " + quote(line.substr(*lex.error_col, 1)));
  reuse(s.statement, s.spares);
  try {
    LineParser p(lex.tokens, s.names, s.spares);
    p.statement(s.statement);
  } catch (const Failure& f) {
    return error(f.col, f.message);
  }
  Statement& st = s.statement;
  st.line = line_no;
  set_text(st.text, line);
  if (st.bind) {
    const std::string& n = *st.bind;
    if (n == "kvm") return error(code_col, "cannot rebind the predefined handle 'kvm'");
    if (auto it = s.bound_at.find(n); it != s.bound_at.end())
      return error(code_col, "name " + quote(n) + " is already bound (line " + std::to_string(it->second) + ")");
    if (constant_value(n) || errno_value(n)) return error(code_col, quote(n) + " is a constant name; pick another handle name");
    if (contains(backing_words(), n) || n == "expect" || n == "profile" || n == "host")
      return error(code_col, quote(n) + " is a reserved word; pick another handle name");
    s.names[n] = find_statement(st.callee, false)->binds;
    s.bound_at[n] = line_no;
  }
  return Fed::statement;
}

std::optional<ParseError> StreamParser::finish() const {
  if (s_->where == State::Where::header)
    return ParseError{s_->file, s_->line_no, 1, "expected the header 'kvmsim-trace 1'"};
  return std::nullopt;
}

void for_each_line(std::string_view text, const std::function<bool(std::string_view line, bool newline)>& fn) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!fn(line, nl != std::string_view::npos) || nl == std::string_view::npos) return;
    pos = nl + 1;
  }
}

std::variant<Trace, ParseError> parse(std::string_view text, std::string file) {
  Trace trace;
  trace.file = file;
  trace.source = std::string(text);
  StreamParser p(std::move(file));
  bool failed = false;
  for_each_line(text, [&](std::string_view line, bool) {
    switch (p.feed(line)) {
      case StreamParser::Fed::nothing: return true;
      case StreamParser::Fed::statement: trace.statements.push_back(std::move(p.statement())); return true;
      case StreamParser::Fed::error: failed = true; return false;
    }
    return true;
  });
  if (failed) return p.error();
  if (auto e = p.finish()) return *e;
  trace.profile = p.profile();
  trace.host = p.host();
  return trace;
}

}  // namespace kvmsim::trace
