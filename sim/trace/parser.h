// Strict parser for trace format v1 (traces/FORMAT.md: the v1 contract and its extensions).
// Every statement is validated against the schema (schema.h): callee, arity, handle kinds,
// struct field names, binding rules, result kind and out-fields. The first problem found is
// returned as a ParseError with a 1-based line and byte column; nothing is thrown out of parse().
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/trace/ast.h"

namespace kvmsim::trace {

struct ParseError {
  std::string file;
  int line = 0;
  int col = 0;
  std::string message;
  std::string str() const;  // "FILE:LINE:COL: message"
};

std::variant<Trace, ParseError> parse(std::string_view text, std::string file);

// The values the `host` header accepts (traces/FORMAT.md "Host header"), in the kernel's sysfs order.
const std::vector<std::string_view>& host_thp_words();
const std::vector<std::string_view>& host_shmem_thp_words();

}  // namespace kvmsim::trace
