// Splits one trace line into tokens. Lexical rules (traces/FORMAT.md): `#` starts a comment,
// identifiers are [A-Za-z_][A-Za-z0-9_]*, numbers start with a digit and run over
// [0-9A-Za-z_] (their validity is checked by parse_number), punctuation is ( ) { } [ ] , = => + - | and (extension) * <<.
// Invariant: tokens are in order, `col` is the 0-based byte offset of the token in the line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmsim::trace {

struct Token {
  enum class Kind { ident, number, punct, end };
  Kind kind = Kind::end;
  std::string_view text;
  std::size_t col = 0;  // byte offset in the line
  // Punctuation is one or two characters, so comparing those is the whole comparison (the parser
  // asks this several times per token).
  bool is(std::string_view p) const {
    return kind == Kind::punct && text.size() == p.size() && text[0] == p[0] && (p.size() == 1 || text[1] == p[1]);
  }
};

struct LexResult {
  std::vector<Token> tokens;  // ends with one Kind::end token at code_end
  std::size_t code_end = 0;   // end of the code part: before trailing blanks and the comment
  std::optional<std::size_t> error_col;  // an unexpected character
};

LexResult lex_line(std::string_view line);
// The same into `out`, reusing its token storage (the streaming parser lexes every line into one).
void lex_line(std::string_view line, LexResult* out);
// The value of a hex digit (either case), or -1.
int hex_digit(char c);

// A number literal: decimal or 0x hex, `_` between digits, optional K/M/G/T suffix (powers of
// 1024). Returns the value, or an error message ("number out of range", "malformed number ...").
struct NumberResult {
  std::uint64_t value = 0;
  std::string error;
};
NumberResult parse_number(std::string_view spelling);

}  // namespace kvmsim::trace
