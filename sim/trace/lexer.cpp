#include "sim/trace/lexer.h"

#include <array>

namespace kvmsim::trace {

namespace {
constexpr bool is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
// What a byte starts, as a table: the lexer asks this of almost every byte of a trace.
enum Class : unsigned char { kOther, kBlank, kIdent, kDigit, kPunct, kComment };
constexpr auto kClass = [] {
  std::array<Class, 256> t{};
  for (int i = 0; i < 256; i++) {
    const char c = static_cast<char>(i);
    if (is_ident_start(c)) t[i] = kIdent;
    else if (is_digit(c)) t[i] = kDigit;
    else if (c == ' ' || c == '\t' || c == '\r') t[i] = kBlank;
    else if (c == '#') t[i] = kComment;
    else if (c == '(' || c == ')' || c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == '=' ||
             c == '+' || c == '-' || c == '|' || c == '*')
      t[i] = kPunct;
  }
  return t;
}();
Class class_of(char c) { return kClass[static_cast<unsigned char>(c)]; }
// [A-Za-z0-9_]: the rest of an identifier or number.
constexpr auto kIdentChar = [] {
  std::array<bool, 256> t{};
  for (int i = 0; i < 256; i++) t[i] = kClass[i] == kIdent || kClass[i] == kDigit;
  return t;
}();
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
  r.error_col.reset();
  // Pointers rather than indices, and one table lookup per byte of a name or number: this loop sees
  // every byte of a trace.
  const char* const begin = line.data();
  const char* const end = begin + line.size();
  const char* p = begin;
  std::size_t code_end = 0;
  while (p < end) {
    const char c = *p;
    const char* const start = p;
    Token::Kind kind;
    switch (class_of(c)) {
      case kBlank: p++; continue;
      case kComment: p = end; continue;
      case kIdent:
      case kDigit:
        kind = class_of(c) == kIdent ? Token::Kind::ident : Token::Kind::number;
        for (p++; p < end && kIdentChar[static_cast<unsigned char>(*p)];) p++;
        break;
      case kPunct:
        kind = Token::Kind::punct;
        p += c == '=' && p + 1 < end && p[1] == '>' ? 2 : 1;
        break;
      case kOther:
      default:
        if (c == '<' && p + 1 < end && p[1] == '<') {
          kind = Token::Kind::punct;
          p += 2;
          break;
        }
        r.error_col = static_cast<std::size_t>(p - begin);
        p = end;
        continue;
    }
    r.tokens.push_back({kind, std::string_view(start, static_cast<std::size_t>(p - start)),
                        static_cast<std::size_t>(start - begin)});
    code_end = static_cast<std::size_t>(p - begin);
  }
  r.code_end = code_end;
  r.tokens.push_back({Token::Kind::end, std::string_view(), code_end});
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
    // Checked arithmetic instead of a division per digit (every line has a few numbers).
    if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, static_cast<unsigned>(d), &v)) {
      r.error = "number out of range";
      return r;
    }
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
