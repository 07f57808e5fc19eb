// Evaluating a trace expression with C's precedence (`*` > `+ -` > `<<` > `|`, parentheses first).
// Arithmetic is exact: every product, sum and difference must lie in [-(2^64-1), 2^64-1]; a negative
// value is taken as two's complement in u64 where `<<` or `|` needs bits. A shift must keep every bit
// (count < 64, nothing shifted out). Outside that: overflow.
// Names are resolved by the caller (handles at replay; the parser only evaluates name-free exprs).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "sim/trace/ast.h"

namespace kvmsim::trace {

struct EvalResult {
  u64 value = 0;         // modulo 2^64 even on overflow
  bool overflow = false;
};

// The value of `e` if it is one term that needs no name and no parentheses (a literal or a constant,
// maybe negated: most expressions of a trace), without the evaluator; nullopt otherwise.
inline std::optional<u64> plain_value(const Expr& e) {
  if (e.terms.size() != 1) return std::nullopt;
  const Term& t = e.terms[0];
  if (t.kind != Term::Kind::number && t.kind != Term::Kind::constant) return std::nullopt;
  return t.neg ? 0 - t.value : t.value;  // two's complement; one term cannot overflow
}

using NameResolver = std::function<u64(const std::string&)>;
EvalResult evaluate(const Expr& e, const NameResolver& resolve);
// Name-free expressions (names evaluate as 0).
EvalResult evaluate(const Expr& e);

}  // namespace kvmsim::trace
