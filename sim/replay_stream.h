// A trace read as a stream (kvmsim replay): the input is read in blocks and parsed line by line
// (trace::StreamParser), and each statement is handed out as soon as its line is parsed, so a
// replay's memory does not depend on the trace's length. With copy_to(), every line read is
// written out again, a statement's line with its new result part when set_rewrite() is given
// (--update without holding the source: the caller renames the copy over the file).
// Invariants: lines are the '\n'-separated pieces of the input, the piece after the last '\n'
// included, exactly as trace::parse() splits a text; the copy is byte-identical to the input
// except for rewritten result spans.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/trace/parser.h"

namespace kvmsim {

class TraceStream {
 public:
  // `in` stays the caller's (not closed); it is read to its end.
  TraceStream(std::FILE* in, std::string file);

  // The next statement, or nullptr at the end of the input or at the first parse or read error
  // (error()). The header and profile directive are behind once it returns a statement or the end.
  trace::Statement* next();
  const std::optional<trace::ParseError>& error() const { return error_; }
  const trace::StreamParser& parser() const { return parser_; }
  std::uint64_t bytes_read() const { return bytes_; }

  // --update: write every line read from now on to `out`.
  void copy_to(std::FILE* out) { copy_ = out; }
  // The result part the current statement's line gets in the copy (see splice_result, sim/replay.h).
  void set_rewrite(std::string result) { rewritten_ = std::move(result); }
  // Whether the copy differs from the input (some rewrite changed a line), and whether writing it failed.
  bool changed() const { return changed_; }
  bool write_failed() const { return write_failed_; }

 private:
  bool next_line(std::string_view* line, bool* newline);
  void flush_pending();
  void write(std::string_view s);

  std::FILE* in_;
  trace::StreamParser parser_;
  std::optional<trace::ParseError> error_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;  // unread bytes of buf_
  bool eof_ = false, done_ = false;
  std::uint64_t bytes_ = 0;
  std::FILE* copy_ = nullptr;
  bool pending_ = false, pending_newline_ = false;  // the current statement's line is not written yet
  std::optional<std::string> rewritten_;
  bool changed_ = false, write_failed_ = false;
};

}  // namespace kvmsim
