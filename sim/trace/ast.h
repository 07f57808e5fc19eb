// The syntax tree of a kvmsim trace (traces/FORMAT.md: v1 plus its extensions).
// A parsed trace keeps every expression's spelling (terms and operators) so the printer can
// reproduce `3G+2M` rather than a number, and every statement keeps its line number, its
// original text and the byte span of its result part so `replay --update` can rewrite only that.
// Invariants: statements appear in file order; every Term of kind `name` refers to a handle
// bound by an earlier statement (or the predefined `kvm`); constant terms carry their value.
// Equality (`operator==`) is structural: locations, original text and source are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvmsim::trace {

using u64 = std::uint64_t;

struct Expr;

// One operand of an expression: a number literal, an uAPI constant, a handle name, or (extension)
// a parenthesized expression.
struct Term {
  enum class Kind { number, constant, name, group };
  Kind kind = Kind::number;
  bool neg = false;       // unary minus (extension): two's complement in u64
  std::string spelling;   // as written, without the unary minus: `4K`, `0x1_000`, `KVM_MEM_READONLY`, `mem`
  u64 value = 0;          // number / constant value; 0 for names (resolved at replay) and groups
  std::vector<Expr> group;  // group: exactly one expression, the one inside the parentheses
  bool operator==(const Term&) const;
};

// term (op term)*, op in {'*', '+', '-', '<' (spelled `<<`), '|'}, with C's precedence: `*` binds
// tightest, then `+ -`, then `<<`, then `|` (extension: `*`, `<<`; v1 has `+` and `|`).
struct Expr {
  std::vector<Term> terms;
  std::vector<char> ops;  // ops.size() == terms.size() - 1
  bool has_names() const;
  // Every handle name the expression uses, parentheses included, in order.
  std::vector<std::string> names() const;
  bool operator==(const Expr&) const = default;
};

// One element of a bitmap range list: `17` or `0-9`.
struct Range {
  Expr lo;
  std::optional<Expr> hi;
  bool operator==(const Range&) const = default;
};

struct Field;

// An argument, struct field value, result field or expectation value.
struct Value {
  enum class Kind { expr, word, list, ranges, record };
  Kind kind = Kind::expr;
  Expr expr;                  // expr
  std::string word;           // word: `thp`, `write`, `4K` (mapping level), `none`
  std::vector<Expr> list;     // list: `[a, b]`
  std::vector<Range> ranges;  // ranges: `[0-9, 17]`
  std::vector<Field> fields;  // record: `{slot=0, ...}`
  bool operator==(const Value&) const;
};

struct Field {
  std::string name;
  Value value;
  bool operator==(const Field&) const;
};

// What a statement says it must return.
struct Result {
  // unspecified: `= unspecified`, a load of bytes a proposal leaves open (docs/semantics/memory-contents.md §6).
  enum class Kind { none, value, error, ok, mmio, memory_fault, memory_error, sigbus, unspecified };
  Kind kind = Kind::none;
  Expr value;                 // value: `= 0`, `= 3`
  std::string errno_name;     // error: `EINVAL` (or a decimal number for an errno without a name)
  int err = 0;                // error: the errno value
  std::vector<Field> fields;  // memory_fault {flags=, gpa=, size=}; ok {value=} after a guest read
  bool operator==(const Result&) const = default;
};

struct Statement {
  enum class Kind { call, expect };
  Kind kind = Kind::call;
  std::optional<std::string> bind;  // `NAME = ...`
  std::string callee;               // `KVM_SET_USER_MEMORY_REGION`, `mmap`; expect: `stats`, `mapping`
  std::vector<Value> args;          // positional arguments
  std::vector<Field> keywords;      // trailing `key=value` arguments inside the parentheses (mmap)
  Result result;                    // call: `= ...`
  std::vector<Field> out;           // call: `=> {...}`
  std::vector<Field> expect;        // expect: `key=value ...` after the call

  // ---- location (ignored by ==) ----
  int line = 0;
  std::string text;  // the original line, without its newline
  // Byte offsets into `text` of the part --update rewrites: for a call, from the result's `=`
  // to the end of the out-fields; for an expect, the key=value list. Empty span (begin == end)
  // = nothing written yet; the new part is inserted there.
  std::size_t result_begin = 0, result_end = 0;

  bool operator==(const Statement& o) const;
};

// `host thp=WORD shmem_thp=WORD` (extension): the host kernel's THP policies for this trace, overriding
// the profile's defaults. The words are checked by the parser against host_thp_words() and
// host_shmem_thp_words() (parser.h); an empty word was not given.
struct HostHeader {
  std::string thp;        // /sys/kernel/mm/transparent_hugepage/enabled
  std::string shmem_thp;  // /sys/kernel/mm/transparent_hugepage/shmem_enabled
  int line = 0;
  bool operator==(const HostHeader& o) const { return thp == o.thp && shmem_thp == o.shmem_thp; }
};

struct Trace {
  std::string file;
  int version = 1;
  std::optional<std::string> profile;
  std::optional<HostHeader> host;
  std::vector<Statement> statements;
  std::string source;  // the whole original text (for --update); ignored by ==
  bool operator==(const Trace& o) const;
};

}  // namespace kvmsim::trace
