// Inside the replay engine (sim/replay*.cpp only): what a statement handler sees and what it returns.
// A trace statement is executed in two halves. Its handler (sim/replay_handlers.cpp, one function per
// trace::Op, found through a table indexed by the Op) turns the statement into one backend call; the
// engine (sim/replay.cpp) does what every call shares: handles whose creation failed, bindings, comparing
// the return value and the out-fields with the trace, messages and --update rewrites. So adding a
// statement is one schema row (sim/trace/schema.cpp) plus one handler.
// Invariants: a handler names no uAPI struct field: records are decoded, and out-fields read back, from
// the schema's FieldSpec offsets; a handler never compares an integer result itself (it returns
// `Returned` and the engine compares), only observations (expect, access) answer the statement whole.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/vm/kvm_api.h"
#include "sim/replay.h"
#include "sim/trace/ast.h"
#include "sim/trace/format.h"
#include "sim/trace/schema.h"

namespace kvmsim::replay_op {

// One out-field the backend wrote back (or an observed value), named as in the schema.
struct OutField {
  std::string_view name;
  std::variant<u64, trace::BitRanges> value;  // an expression field / a `ranges` field
};

// What a call returned, for the engine to compare with the trace.
struct Returned {
  Ret ret;
  std::vector<OutField> out;  // every out-field of the schema row, compared with the trace's `=> {...}`
  bool show_out = false;      // the backend wrote them back: the actual text shows ` => {...}`
};

// The statement being run, with its arguments evaluated against the bound handles.
class Call {
 public:
  // Evaluates an expression against the bound handles: a function and its context (the engine), not a
  // std::function, as it runs for every value of every statement.
  struct Evaluator {
    u64 (*fn)(const void* context, const trace::Expr& e);
    const void* context;
  };
  Call(const trace::Statement& statement, const trace::StatementSpec& schema_row, KvmApi& backend, Evaluator eval)
      : st(statement), spec(schema_row), api(backend), eval_(eval) {}

  const trace::Statement& st;
  const trace::StatementSpec& spec;
  KvmApi& api;

  u64 eval(const trace::Expr& e) const { return eval_.fn(eval_.context, e); }
  u64 arg(std::size_t i) const { return eval(st.args.at(i).expr); }
  // An fd argument: the handle's value, or a raw number taken as a (possibly negative) int.
  int fd(std::size_t i) const { return static_cast<int>(static_cast<i64>(arg(i))); }
  const std::string& word(std::size_t i) const { return st.args.at(i).word; }
  u64 keyword(std::string_view name, u64 fallback) const;

  // Record argument `i` decoded into its uAPI struct: every field the trace writes is stored where
  // the schema places it (truncated to the member's width, as a C assignment would); the others are 0.
  template <class S>
  S record(std::size_t i) const {
    S s{};
    decode(i, &s, sizeof s);
    return s;
  }
  // The `ranges` field `name` of record argument `i` (a bitmap the uAPI passes by pointer); empty if absent.
  trace::BitRanges record_ranges(std::size_t i, std::string_view name) const;

  // The fields `specs` read back from a struct the backend filled (`s` is the struct they describe).
  template <class S>
  static std::vector<OutField> read(const std::vector<trace::FieldSpec>& specs, const S& s) {
    return read_fields(specs, &s, sizeof s);
  }

 private:
  void decode(std::size_t i, void* dst, std::size_t size) const;
  static std::vector<OutField> read_fields(const std::vector<trace::FieldSpec>& specs, const void* src,
                                           std::size_t size);
  Evaluator eval_;
};

// A handler either answers the statement itself (observations) or says what the backend returned.
using Answer = std::variant<StatementResult, Returned>;
using Handler = Answer (*)(const Call&);

// The handler of `op`; null only for an Op without one (a test checks every schema row has one).
Handler handler(trace::Op op);

// The engine's half of a call: its result compared with the trace (`= VALUE`, `= -1 ERRNO`,
// `=> {...}`), or with "success" for a binding.
StatementResult compare_call(const Call& c, const Returned& got);
// True when every field of `expected` equals the same-named one of `actual` (fields the trace
// does not write are not compared).
bool fields_match(const Call& c, const std::vector<trace::Field>& expected, const std::vector<OutField>& actual);
// `{name=value, ...}` in trace syntax (sizes as `3G+2M`, bitmaps as `[0-9, 17]`).
std::string format_fields(const std::vector<OutField>& fields);
// A call's expected text: its result part without the leading "= ".
std::string expected_text(const trace::Statement& st);

}  // namespace kvmsim::replay_op
