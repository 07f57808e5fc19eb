#include "sim/trace/ast.h"

namespace kvmsim::trace {

bool Term::operator==(const Term& o) const {
  return kind == o.kind && neg == o.neg && spelling == o.spelling && value == o.value && group == o.group;
}

bool Expr::has_names() const {
  // Walked, not built from names(): the parser asks this of every expression it reads.
  for (const auto& t : terms) {
    if (t.kind == Term::Kind::name) return true;
    for (const auto& g : t.group)
      if (g.has_names()) return true;
  }
  return false;
}

std::vector<std::string> Expr::names() const {
  std::vector<std::string> out;
  for (const auto& t : terms) {
    if (t.kind == Term::Kind::name) out.push_back(t.spelling);
    for (const auto& g : t.group)
      for (auto& n : g.names()) out.push_back(std::move(n));
  }
  return out;
}

bool Value::operator==(const Value& o) const {
  return kind == o.kind && expr == o.expr && word == o.word && list == o.list && ranges == o.ranges &&
         fields == o.fields;
}

bool Field::operator==(const Field& o) const { return name == o.name && value == o.value; }

bool Statement::operator==(const Statement& o) const {
  return kind == o.kind && bind == o.bind && callee == o.callee && args == o.args && keywords == o.keywords &&
         result == o.result && out == o.out && expect == o.expect;
}

bool Trace::operator==(const Trace& o) const {
  return version == o.version && profile == o.profile && host == o.host && statements == o.statements;
}

}  // namespace kvmsim::trace
