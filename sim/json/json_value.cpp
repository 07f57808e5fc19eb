#include "sim/json/json_value.h"

#include <cstdlib>

namespace kvmsim {

const JsonValue* JsonValue::get(std::string_view key) const {
  if (kind != Kind::object) return nullptr;
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

std::string JsonValue::str(std::string_view key, const std::string& fallback) const {
  const JsonValue* v = get(key);
  return v && v->kind == Kind::string ? v->text : fallback;
}

double JsonValue::num(std::string_view key, double fallback) const {
  const JsonValue* v = get(key);
  return v && v->kind == Kind::number ? v->number : fallback;
}

long long JsonValue::integer(std::string_view key, long long fallback) const {
  const JsonValue* v = get(key);
  return v && v->kind == Kind::number ? std::strtoll(v->text.c_str(), nullptr, 10) : fallback;
}

namespace {

// Recursive descent; depth is bounded so hostile input cannot overflow the stack.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool value(JsonValue* out, int depth) {
    if (depth > 64) return fail("nesting deeper than 64");
    ws();
    if (pos_ >= s_.size()) return fail("unexpected end");
    char c = s_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out->kind = JsonValue::Kind::string;
      return string(&out->text);
    }
    if (literal("true")) { out->kind = JsonValue::Kind::boolean; out->boolean = true; return true; }
    if (literal("false")) { out->kind = JsonValue::Kind::boolean; return true; }
    if (literal("null")) { out->kind = JsonValue::Kind::null; return true; }
    return number(out);
  }

  bool end() {
    ws();
    return pos_ == s_.size() || fail("trailing characters");
  }

  std::string error() const { return "offset " + std::to_string(err_pos_) + ": " + err_; }

 private:
  bool fail(const std::string& what) {
    if (err_.empty()) { err_ = what; err_pos_ = pos_; }
    return false;
  }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool literal(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  bool expect(char c) {
    ws();
    if (pos_ < s_.size() && s_[pos_] == c) { ++pos_; return true; }
    return fail(std::string("expected '") + c + "'");
  }
  bool object(JsonValue* out, int depth) {
    out->kind = JsonValue::Kind::object;
    ++pos_;
    ws();
    if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; return true; }
    for (;;) {
      ws();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a member name");
      if (!string(&key) || !expect(':')) return false;
      JsonValue v;
      if (!value(&v, depth + 1)) return false;
      out->members.push_back({std::move(key), std::move(v)});
      ws();
      if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
      return expect('}');
    }
  }
  bool array(JsonValue* out, int depth) {
    out->kind = JsonValue::Kind::array;
    ++pos_;
    ws();
    if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; return true; }
    for (;;) {
      JsonValue v;
      if (!value(&v, depth + 1)) return false;
      out->items.push_back(std::move(v));
      ws();
      if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
      return expect(']');
    }
  }
  static void utf8(unsigned cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xc0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xe0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *out += static_cast<char>(0xf0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  bool hex4(unsigned* cp) {
    if (pos_ + 4 > s_.size()) return fail("short \\u escape");
    *cp = 0;
    for (int i = 0; i < 4; i++) {
      char c = s_[pos_++];
      unsigned d = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : 16;
      if (d == 16) return fail("bad \\u escape");
      *cp = *cp * 16 + d;
    }
    return true;
  }
  bool string(std::string* out) {
    ++pos_;  // opening quote
    for (;;) {
      if (pos_ >= s_.size()) return fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') { *out += c; continue; }
      if (pos_ >= s_.size()) return fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          unsigned cp;
          if (!hex4(&cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            unsigned lo;
            if (!hex4(&lo)) return false;
            if (lo < 0xdc00 || lo >= 0xe000) return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          utf8(cp, out);
          break;
        }
        default: return fail("bad escape");
      }
    }
  }
  bool number(JsonValue* out) {
    std::size_t b = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      std::size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > d;
    };
    if (!digits()) return fail("expected a value");
    if (pos_ < s_.size() && s_[pos_] == '.') { ++pos_; if (!digits()) return fail("bad number"); }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return fail("bad number");
    }
    out->kind = JsonValue::Kind::number;
    out->text = std::string(s_.substr(b, pos_ - b));
    out->number = std::strtod(out->text.c_str(), nullptr);
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string err_;
  std::size_t err_pos_ = 0;
};

}  // namespace

std::optional<JsonValue> parse_json(std::string_view text, std::string* error) {
  Reader r(text);
  JsonValue v;
  if (!r.value(&v, 0) || !r.end()) {
    *error = r.error();
    return std::nullopt;
  }
  return v;
}

}  // namespace kvmsim
