#include "sim/trace/build.h"

#include <cstdio>

#include "model/core_assert.h"
#include "sim/trace/constants.h"
#include "sim/trace/format.h"
#include "sim/trace/lexer.h"

namespace kvmsim::trace::build {

namespace {

Term number_term(std::string spelling) {
  NumberResult n = parse_number(spelling);
  KVMSIM_ASSERT_CTX(n.error.empty(), "number spelling " + spelling);
  Term t;
  t.kind = Term::Kind::number;
  t.value = n.value;
  t.spelling = std::move(spelling);
  return t;
}

// A number or a constant, as the formatter spelled it.
Term formatted_term(std::string spelling) {
  if (auto c = constant_value(spelling)) {
    Term t;
    t.kind = Term::Kind::constant;
    t.value = *c;
    t.spelling = std::move(spelling);
    return t;
  }
  return number_term(std::move(spelling));
}

// The formatter's text split at `op`: its pieces are single terms by construction (format.h).
Expr split(const std::string& text, char op) {
  Expr e;
  std::size_t begin = 0;
  for (;;) {
    std::size_t end = text.find(op, begin);
    e.terms.push_back(formatted_term(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin)));
    if (end == std::string::npos) return e;
    e.ops.push_back(op);
    begin = end + 1;
  }
}

}  // namespace

Expr decimal(u64 v) { return Expr{{number_term(std::to_string(v))}, {}}; }

Expr hex(u64 v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return Expr{{number_term(buf)}, {}};
}

Expr size(u64 v) { return split(format_size(v), '+'); }

Expr flags(u64 v, std::string_view family) { return split(format_flags(v, family), '|'); }

Expr constant(std::string_view name) {
  auto c = constant_value(name);
  KVMSIM_ASSERT_CTX(c, "unknown constant " + std::string(name));
  Term t;
  t.kind = Term::Kind::constant;
  t.value = *c;
  t.spelling = std::string(name);
  return Expr{{t}, {}};
}

Expr handle(const std::string& name) {
  Term t;
  t.kind = Term::Kind::name;
  t.spelling = name;
  return Expr{{t}, {}};
}

Expr negative(u64 v) {
  Expr e = decimal(v);
  e.terms[0].neg = true;
  return e;
}

Expr join(Expr a, char op, const Expr& b) {
  for (std::size_t i = 0; i < b.terms.size(); i++) {
    a.ops.push_back(i ? b.ops[i - 1] : op);
    a.terms.push_back(b.terms[i]);
  }
  return a;
}

Value value(Expr e) {
  Value v;
  v.expr = std::move(e);
  return v;
}

Value word(std::string w) {
  Value v;
  v.kind = Value::Kind::word;
  v.word = std::move(w);
  return v;
}

Value list(std::vector<Expr> items) {
  Value v;
  v.kind = Value::Kind::list;
  v.list = std::move(items);
  return v;
}

Value ranges(std::vector<Range> r) {
  Value v;
  v.kind = Value::Kind::ranges;
  v.ranges = std::move(r);
  return v;
}

Value record(std::vector<Field> fields) {
  Value v;
  v.kind = Value::Kind::record;
  v.fields = std::move(fields);
  return v;
}

Range range(u64 lo, std::optional<u64> hi) {
  Range r;
  r.lo = decimal(lo);
  if (hi) r.hi = decimal(*hi);
  return r;
}

Field field(std::string name, Value v) { return Field{std::move(name), std::move(v)}; }

Statement call(std::string callee, std::vector<Value> args, std::vector<Field> keywords,
               std::optional<std::string> bind) {
  Statement s;
  s.bind = std::move(bind);
  s.callee = std::move(callee);
  s.args = std::move(args);
  s.keywords = std::move(keywords);
  return s;
}

Statement expect(std::string callee, std::vector<Value> args, std::vector<Field> keys) {
  Statement s;
  s.kind = Statement::Kind::expect;
  s.callee = std::move(callee);
  s.args = std::move(args);
  s.expect = std::move(keys);
  return s;
}

}  // namespace kvmsim::trace::build
