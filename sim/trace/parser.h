// Strict parser for trace format v1 (traces/FORMAT.md: the v1 contract and its extensions).
// Every statement is validated against the schema (schema.h): callee, arity, handle kinds,
// struct field names, binding rules, result kind and out-fields. The first problem found is
// returned as a ParseError with a 1-based line and byte column; nothing is thrown out of parse().
#pragma once

#include <functional>
#include <memory>
#include <optional>
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

// The whole text at once: a Trace with every statement and the source (for --update).
std::variant<Trace, ParseError> parse(std::string_view text, std::string file);

// The values the `host` header accepts (traces/FORMAT.md "Host header"), in the kernel's sysfs order.
const std::vector<std::string_view>& host_thp_words();
const std::vector<std::string_view>& host_shmem_thp_words();

// The same parser, one line at a time, for traces read as a stream (kvmsim replay): it keeps only
// the handle names bound so far, the profile and the last statement, so its memory does not grow
// with the trace. parse() is this loop; both report the same first error.
class StreamParser {
 public:
  explicit StreamParser(std::string file);
  ~StreamParser();
  StreamParser(StreamParser&&) noexcept;
  StreamParser& operator=(StreamParser&&) noexcept;

  enum class Fed { nothing, statement, error };
  // The next line, without its '\n'. `statement`: statement() holds it (line and text set);
  // `error`: error() holds the first problem; feeding on after an error is not supported.
  Fed feed(std::string_view line);
  // After the last line: the error of a text without a header.
  std::optional<ParseError> finish() const;

  Statement& statement();
  const ParseError& error() const;
  const std::string& file() const;
  int line() const;  // lines fed so far
  // True once the header (and the profile directive, if any) is behind: profile() is final.
  bool in_body() const;
  const std::optional<std::string>& profile() const;
  int profile_line() const;  // the profile directive's line (0: none)
  const std::optional<HostHeader>& host() const;  // the `host` directive, once in_body()

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Calls fn(line, ends_with_newline) for each '\n'-separated piece of text, the piece after the last
// '\n' included (possibly empty), until fn returns false. Joining the pieces with '\n' gives text.
void for_each_line(std::string_view text, const std::function<bool(std::string_view line, bool newline)>& fn);

}  // namespace kvmsim::trace
