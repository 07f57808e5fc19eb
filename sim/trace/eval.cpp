#include "sim/trace/eval.h"

namespace kvmsim::trace {

namespace {

__extension__ typedef __int128 i128;
const i128 kMax = static_cast<i128>(UINT64_MAX);

// Precedence climbing over the flat term/op list, C's levels: `*` > `+ -` > `<<` > `|`. Values are
// exact in [-(2^64-1), 2^64-1]; a value outside that range sets `overflow` and is wrapped to u64 so the
// arithmetic in i128 never overflows itself.
class Evaluator {
 public:
  Evaluator(const Expr& e, const NameResolver& resolve) : e_(e), resolve_(resolve) {}

  EvalResult run() {
    EvalResult r;
    r.value = as_u64(level_or());
    r.overflow = overflow_;
    return r;
  }

 private:
  static u64 as_u64(i128 v) { return static_cast<u64>(v); }  // a negative value: two's complement
  char op() const { return next_ > 0 && next_ - 1 < e_.ops.size() ? e_.ops[next_ - 1] : 0; }
  i128 check(i128 v) {
    if (v > kMax || v < -kMax) {
      overflow_ = true;
      return static_cast<i128>(as_u64(v));
    }
    return v;
  }
  i128 term() {
    const Term& t = e_.terms[next_++];
    i128 v;
    if (t.kind == Term::Kind::group) {
      EvalResult g = evaluate(t.group.at(0), resolve_);
      overflow_ |= g.overflow;
      v = static_cast<i128>(g.value);
    } else {
      v = static_cast<i128>(t.kind == Term::Kind::name ? (resolve_ ? resolve_(t.spelling) : 0) : t.value);
    }
    return t.neg ? -v : v;
  }
  // `op()` is the operator after the last term read (0 at the end).
  i128 level_mul() {
    i128 v = term();
    while (op() == '*') {
      i128 w = term();
      const i128 a = v < 0 ? -v : v, b = w < 0 ? -w : w;
      if (a && b > kMax / a) {
        overflow_ = true;
        v = static_cast<i128>(as_u64(v) * as_u64(w));
      } else {
        v = v * w;
      }
    }
    return v;
  }
  i128 level_add() {
    i128 v = level_mul();
    for (char o = op(); o == '+' || o == '-'; o = op()) {
      i128 w = level_mul();
      v = check(o == '+' ? v + w : v - w);
    }
    return v;
  }
  i128 level_shift() {
    i128 v = level_add();
    while (op() == '<') {
      const u64 left = as_u64(v);
      const i128 s = level_add();
      if (s < 0 || s >= 64 || (s && (left >> (64 - s)) != 0)) {
        overflow_ = true;  // bits shifted out of 64, or a negative or too large shift count
        v = s < 0 || s >= 64 ? 0 : static_cast<i128>(left << s);
      } else {
        v = static_cast<i128>(left << s);
      }
    }
    return v;
  }
  i128 level_or() {
    u64 v = as_u64(level_shift());
    while (op() == '|') v |= as_u64(level_shift());
    return static_cast<i128>(v);
  }

  const Expr& e_;
  const NameResolver& resolve_;
  std::size_t next_ = 0;  // index of the next term; the operator before it is ops[next_ - 1]
  bool overflow_ = false;
};

}  // namespace

EvalResult evaluate(const Expr& e, const NameResolver& resolve) {
  if (auto v = plain_value(e)) return EvalResult{*v, false};
  return Evaluator(e, resolve).run();
}

EvalResult evaluate(const Expr& e) { return evaluate(e, nullptr); }

}  // namespace kvmsim::trace
