#include "sim/trace/lexer.h"

namespace kvmsim::trace {

namespace {
bool is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
}  // namespace

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

LexResult lex_line(std::string_view line) {
  LexResult r;
  lex_line(line, &r);
  return r;
}

void lex_line(std::string_view line, LexResult* out) {
  LexResult& r = *out;
  r.tokens.clear();
  r.code_end = 0;
  r.error_col.reset();
  std::size_t i = 0, n = line.size();
  while (i < n) {
    char c = line[i];
    if (is_blank(c)) {
      i++;
      continue;
    }
    if (c == '#') break;
    std::size_t start = i;
    if (is_ident_start(c)) {
      while (i < n && is_ident_char(line[i])) i++;
      r.tokens.push_back({Token::Kind::ident, line.substr(start, i - start), start});
    } else if (is_digit(c)) {
      while (i < n && is_ident_char(line[i])) i++;
      r.tokens.push_back({Token::Kind::number, line.substr(start, i - start), start});
    } else if ((c == '=' && i + 1 < n && line[i + 1] == '>') || (c == '<' && i + 1 < n && line[i + 1] == '<')) {
      i += 2;
      r.tokens.push_back({Token::Kind::punct, line.substr(start, 2), start});
    } else if (std::string_view("(){}[],=+-|*").find(c) != std::string_view::npos) {
      i++;
      r.tokens.push_back({Token::Kind::punct, line.substr(start, 1), start});
    } else {
      r.error_col = i;
      break;
    }
    r.code_end = i;
  }
  r.tokens.push_back({Token::Kind::end, std::string_view(), r.code_end});
}

NumberResult parse_number(std::string_view s) {
  NumberResult r;
  unsigned shift = 0;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: break;
    }
    if (shift) s.remove_suffix(1);
  }
  unsigned base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) {
    r.error = "malformed number";
    return r;
  }
  std::uint64_t v = 0;
  bool prev_digit = false;
  for (std::size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '_') {
      // `_` separates digits: it needs a digit on both sides.
      if (!prev_digit || i + 1 == s.size()) {
        r.error = "malformed number ('_' must separate digits)";
        return r;
      }
      prev_digit = false;
      continue;
    }
    int d = base == 16 ? hex_digit(c) : (is_digit(c) ? c - '0' : -1);
    if (d < 0) {
      r.error = std::string("malformed number (unexpected '") + c + "')";
      return r;
    }
    if (v > (UINT64_MAX - static_cast<unsigned>(d)) / base) {
      r.error = "number out of range";
      return r;
    }
    v = v * base + static_cast<unsigned>(d);
    prev_digit = true;
  }
  if (shift && v > (UINT64_MAX >> shift)) {
    r.error = "number out of range";
    return r;
  }
  r.value = v << shift;
  return r;
}

}  // namespace kvmsim::trace
