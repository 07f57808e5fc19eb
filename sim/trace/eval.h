// Evaluating a trace expression with C's precedence (`*` > `+ -` > `<<` > `|`, parentheses first).
// Arithmetic is exact: every product, sum and difference must lie in [-(2^64-1), 2^64-1]; a negative
// value is taken as two's complement in u64 where `<<` or `|` needs bits. A shift must keep every bit
// (count < 64, nothing shifted out). Outside that: overflow.
// Names are resolved by the caller (handles at replay; the parser only evaluates name-free exprs).
#pragma once

#include <cstdint>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>

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

// How the caller resolves a handle name: a non-owning reference to a callable `u64(const std::string&)`,
// usually a lambda written at the call. Replay evaluates an expression per field of every statement, and a
// std::function there cost a constructor and an indirect call through its manager each time. The
// callable must outlive the evaluate() call it is passed to (a temporary lambda argument does).
class NameResolver {
 public:
  NameResolver() = default;
  NameResolver(std::nullptr_t) {}  // names evaluate as 0
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, NameResolver> &&
                                              std::is_invocable_r_v<u64, const F&, const std::string&>>>
  NameResolver(const F& f)
      : obj_(&f), call_([](const void* o, const std::string& n) -> u64 { return (*static_cast<const F*>(o))(n); }) {}
  explicit operator bool() const { return call_ != nullptr; }
  u64 operator()(const std::string& name) const { return call_(obj_, name); }

 private:
  const void* obj_ = nullptr;
  u64 (*call_)(const void*, const std::string&) = nullptr;
};
EvalResult evaluate(const Expr& e, const NameResolver& resolve);
// Name-free expressions (names evaluate as 0).
EvalResult evaluate(const Expr& e);

}  // namespace kvmsim::trace
