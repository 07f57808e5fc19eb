#include "sim/trace/eval.h"

namespace kvmsim::trace {

namespace {
__extension__ typedef __int128 i128;
const i128 kMax = static_cast<i128>(UINT64_MAX);
}  // namespace

EvalResult evaluate(const Expr& e, const NameResolver& resolve) {
  EvalResult r;
  u64 acc = 0;
  i128 group = 0;
  for (std::size_t i = 0; i < e.terms.size(); i++) {
    const Term& t = e.terms[i];
    u64 v = t.kind == Term::Kind::name ? (resolve ? resolve(t.spelling) : 0) : t.value;
    i128 tv = t.neg ? -static_cast<i128>(v) : static_cast<i128>(v);
    char op = i == 0 ? '|' : e.ops[i - 1];
    if (op == '|') {
      acc |= static_cast<u64>(group);
      group = tv;
    } else {
      group = op == '+' ? group + tv : group - tv;
    }
    // |group| <= 2 * kMax after one step, so i128 never overflows; clamp to keep it so.
    if (group > kMax || group < -kMax) {
      r.overflow = true;
      group = static_cast<i128>(static_cast<u64>(group));
    }
  }
  acc |= static_cast<u64>(group);
  r.value = acc;
  return r;
}

EvalResult evaluate(const Expr& e) { return evaluate(e, nullptr); }

}  // namespace kvmsim::trace
