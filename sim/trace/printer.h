// Canonical text of a trace: header, profile, then one statement per line, in the spelling
// kept by the AST (`3G+2M` stays `3G+2M`). Comments and blank lines are not part of the AST,
// so they are not printed. Round trip: parse(print(t)) == t and print(parse(print(t))) == print(t).
#pragma once

#include <string>

#include "sim/trace/ast.h"

namespace kvmsim::trace {

std::string print(const Trace& t);
std::string print_statement(const Statement& s);  // one line, no newline
std::string print_call(const Statement& s);       // `[NAME = ]CALLEE(args)` / `expect CALLEE(args)`
std::string print_result(const Statement& s);     // `= RESULT => {OUT}` (without a leading space); "" if none
std::string print_expect(const Statement& s);     // `key=value key=value`
std::string print_expr(const Expr& e);
std::string print_value(const Value& v);
std::string print_fields(const std::vector<Field>& f);  // `{a=1, b=2}`

}  // namespace kvmsim::trace
