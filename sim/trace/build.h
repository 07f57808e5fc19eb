// Building trace statements in code (the fuzz generator, tests): small constructors for the syntax
// tree of sim/trace/ast.h whose spellings are the ones the formatter writes (`3G+2M`, `KVM_MEM_A|0x80`),
// so a statement built here and printed with sim/trace/printer.h reads like one a person wrote, and
// parsing that text gives the same tree back.
// Invariants: every Term carries the value the parser would give it (names: 0, resolved at replay);
// constant names are checked against the constants table (an unknown one is a programming error).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/trace/ast.h"

namespace kvmsim::trace::build {

Expr decimal(u64 v);                          // `17`
Expr hex(u64 v);                              // `0x800`
Expr size(u64 v);                             // format_size's spelling: `3G+2M+4K`, `0`, `0x1234567001`
Expr flags(u64 v, std::string_view family);   // format_flags's spelling: `KVM_MEM_LOG_DIRTY_PAGES|0x80`
Expr constant(std::string_view name);         // `KVM_X86_DEFAULT_VM`
Expr handle(const std::string& name);         // `vm`
Expr negative(u64 v);                         // `-1` (a raw fd that is no handle)
Expr join(Expr a, char op, const Expr& b);    // `a+b`, `a|b`

Value value(Expr e);
Value word(std::string w);
Value list(std::vector<Expr> items);
Value ranges(std::vector<Range> r);
Value record(std::vector<Field> fields);
Range range(u64 lo, std::optional<u64> hi = std::nullopt);  // decimal bounds: `3`, `0-511`
Field field(std::string name, Value v);

// `[BIND = ]CALLEE(args, keywords)` with no result written.
Statement call(std::string callee, std::vector<Value> args, std::vector<Field> keywords = {},
               std::optional<std::string> bind = std::nullopt);
// `expect CALLEE(args) key=value ...`
Statement expect(std::string callee, std::vector<Value> args, std::vector<Field> keys = {});

}  // namespace kvmsim::trace::build
