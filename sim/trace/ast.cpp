#include "sim/trace/ast.h"

namespace kvmsim::trace {

bool Expr::has_names() const {
  for (const auto& t : terms)
    if (t.kind == Term::Kind::name) return true;
  return false;
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
  return version == o.version && profile == o.profile && statements == o.statements;
}

}  // namespace kvmsim::trace
