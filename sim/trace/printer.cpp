#include "sim/trace/printer.h"

namespace kvmsim::trace {

std::string print_expr(const Expr& e) {
  std::string out;
  for (std::size_t i = 0; i < e.terms.size(); i++) {
    if (i) out += e.ops[i - 1] == '<' ? std::string("<<") : std::string(1, e.ops[i - 1]);
    if (e.terms[i].neg) out += '-';
    if (e.terms[i].kind == Term::Kind::group) out += "(" + print_expr(e.terms[i].group.at(0)) + ")";
    else out += e.terms[i].spelling;
  }
  return out;
}

std::string print_fields(const std::vector<Field>& fields) {
  std::string out = "{";
  for (std::size_t i = 0; i < fields.size(); i++) {
    if (i) out += ", ";
    out += fields[i].name + "=" + print_value(fields[i].value);
  }
  return out + "}";
}

std::string print_value(const Value& v) {
  switch (v.kind) {
    case Value::Kind::expr: return print_expr(v.expr);
    case Value::Kind::word: return v.word;
    case Value::Kind::record: return print_fields(v.fields);
    case Value::Kind::list: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.list.size(); i++) out += (i ? ", " : "") + print_expr(v.list[i]);
      return out + "]";
    }
    case Value::Kind::ranges: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.ranges.size(); i++) {
        out += (i ? ", " : "") + print_expr(v.ranges[i].lo);
        if (v.ranges[i].hi) out += "-" + print_expr(*v.ranges[i].hi);
      }
      return out + "]";
    }
  }
  return "";
}

std::string print_call(const Statement& s) {
  std::string out;
  if (s.kind == Statement::Kind::expect) out += "expect ";
  if (s.bind) out += *s.bind + " = ";
  out += s.callee + "(";
  bool first = true;
  for (const auto& a : s.args) {
    out += (first ? "" : ", ") + print_value(a);
    first = false;
  }
  for (const auto& k : s.keywords) {
    out += (first ? "" : ", ") + k.name + "=" + print_value(k.value);
    first = false;
  }
  return out + ")";
}

std::string print_result(const Statement& s) {
  std::string out;
  const Result& r = s.result;
  switch (r.kind) {
    case Result::Kind::none: break;
    case Result::Kind::value: out = "= " + print_expr(r.value); break;
    case Result::Kind::error: out = "= -1 " + r.errno_name; break;
    case Result::Kind::ok: out = r.fields.empty() ? "= ok" : "= ok " + print_fields(r.fields); break;
    case Result::Kind::sigbus: out = "= SIGBUS"; break;
    case Result::Kind::unspecified: out = "= unspecified"; break;
    case Result::Kind::mmio: out = "= mmio"; break;
    case Result::Kind::memory_fault: out = "= memory_fault " + print_fields(r.fields); break;
    case Result::Kind::memory_error: out = "= memory_error " + print_fields(r.fields); break;
  }
  if (!s.out.empty()) out += (out.empty() ? "" : " ") + std::string("=> ") + print_fields(s.out);
  return out;
}

std::string print_expect(const Statement& s) {
  std::string out;
  for (const auto& f : s.expect) out += (out.empty() ? "" : " ") + f.name + "=" + print_value(f.value);
  return out;
}

std::string print_statement(const Statement& s) {
  std::string out = print_call(s);
  std::string tail = s.kind == Statement::Kind::expect ? print_expect(s) : print_result(s);
  if (!tail.empty()) out += " " + tail;
  return out;
}

std::string print_header(const Trace& t) {
  std::string out = "kvmsim-trace " + std::to_string(t.version) + "\n";
  if (t.profile) out += "profile " + *t.profile + "\n";
  if (t.host) {
    out += "host";
    if (!t.host->thp.empty()) out += " thp=" + t.host->thp;
    if (!t.host->shmem_thp.empty()) out += " shmem_thp=" + t.host->shmem_thp;
    out += "\n";
  }
  return out;
}

std::string print(const Trace& t) {
  std::string out = print_header(t);
  for (const auto& s : t.statements) out += print_statement(s) + "\n";
  return out;
}

}  // namespace kvmsim::trace
