#include "conformance/junit_read.h"

#include <map>
#include <utility>
#include <vector>

namespace kvmsim::conf {

namespace {

// One XML token of the subset format_junit writes: a start tag (with attributes, maybe self-closing),
// an end tag, or character data between tags. Prolog, comments and whitespace-only text are skipped.
struct Token {
  enum Kind { start, end, text } kind;
  std::string name;                           // tag name
  std::map<std::string, std::string> attrs;   // start tags
  bool self_closing = false;
  std::string data;                           // text, unescaped
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  // false at the end of input or on an error (error() non-empty).
  bool next(Token* t) {
    for (;;) {
      if (pos_ >= s_.size()) return false;
      if (s_.compare(pos_, 4, "<!--") == 0) {
        if (!skip_past("-->")) return false;
        continue;
      }
      if (s_.compare(pos_, 2, "<?") == 0) {
        if (!skip_past("?>")) return false;
        continue;
      }
      if (s_[pos_] == '<') return tag(t);
      const std::size_t lt = s_.find('<', pos_);
      const std::string_view raw = s_.substr(pos_, lt == std::string_view::npos ? s_.npos : lt - pos_);
      const std::size_t at = pos_;
      pos_ += raw.size();
      if (raw.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
      *t = Token{Token::text, "", {}, false, ""};
      return unescape(raw, at, &t->data);
    }
  }
  const std::string& error() const { return error_; }

 private:
  bool fail(std::size_t at, const std::string& what) {
    error_ = "byte " + std::to_string(at) + ": " + what;
    return false;
  }
  bool skip_past(std::string_view end) {
    const std::size_t e = s_.find(end, pos_);
    if (e == std::string_view::npos) return fail(pos_, "unterminated '" + std::string(s_.substr(pos_, 4)) + "'");
    pos_ = e + end.size();
    return true;
  }
  static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == ':' || c == '.';
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) pos_++;
  }
  std::string name() {
    const std::size_t b = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_])) pos_++;
    return std::string(s_.substr(b, pos_ - b));
  }
  bool tag(Token* t) {
    const std::size_t at = pos_++;
    *t = Token{Token::start, "", {}, false, ""};
    if (pos_ < s_.size() && s_[pos_] == '/') {
      pos_++;
      t->kind = Token::end;
    }
    t->name = name();
    if (t->name.empty()) return fail(at, "a tag without a name");
    for (;;) {
      skip_space();
      if (pos_ >= s_.size()) return fail(at, "unterminated <" + t->name + ">");
      if (s_[pos_] == '>') {
        pos_++;
        return true;
      }
      if (t->kind == Token::start && s_.compare(pos_, 2, "/>") == 0) {
        pos_ += 2;
        t->self_closing = true;
        return true;
      }
      if (t->kind == Token::end) return fail(pos_, "junk in </" + t->name + ">");
      const std::size_t a = pos_;
      std::string key = name();
      if (key.empty() || pos_ + 1 >= s_.size() || s_[pos_] != '=' || (s_[pos_ + 1] != '"' && s_[pos_ + 1] != '\''))
        return fail(a, "a malformed attribute in <" + t->name + ">");
      const char q = s_[pos_ + 1];
      const std::size_t vb = pos_ + 2, ve = s_.find(q, vb);
      if (ve == std::string_view::npos) return fail(a, "an unterminated attribute value");
      std::string value;
      if (!unescape(s_.substr(vb, ve - vb), vb, &value)) return false;
      if (!t->attrs.emplace(std::move(key), std::move(value)).second) return fail(a, "a repeated attribute");
      pos_ = ve + 1;
    }
  }
  // The five predefined entities and numeric references (ASCII only: format_junit writes no other).
  bool unescape(std::string_view raw, std::size_t at, std::string* out) {
    static const std::pair<std::string_view, char> kEntities[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    for (std::size_t i = 0; i < raw.size(); i++) {
      if (raw[i] != '&') {
        *out += raw[i];
        continue;
      }
      const std::size_t semi = raw.find(';', i);
      if (semi == std::string_view::npos || semi - i > 8) return fail(at + i, "a malformed '&' entity");
      const std::string_view ent = raw.substr(i + 1, semi - i - 1);
      bool ok = false;
      for (const auto& [n, c] : kEntities)
        if (ent == n) *out += c, ok = true;
      if (!ok && ent.size() >= 2 && ent[0] == '#') {
        unsigned v = 0;
        const bool hex = ent[1] == 'x';
        ok = ent.size() > (hex ? 2u : 1u);
        for (char c : ent.substr(hex ? 2 : 1)) {
          int d = (c >= '0' && c <= '9') ? c - '0' : hex && (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
          if (d < 0) ok = false;
          else v = v * (hex ? 16 : 10) + unsigned(d);
        }
        ok = ok && v > 0 && v < 0x80;
        if (ok) *out += char(v);
      }
      if (!ok) return fail(at + i, "an unknown entity '&" + std::string(ent) + ";'");
      i = semi;
    }
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

std::vector<std::string> lines(const std::string& text, std::string_view strip_prefix) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b < text.size()) {
    std::size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    std::string line = text.substr(b, e - b);
    if (line.compare(0, strip_prefix.size(), strip_prefix) == 0) line.erase(0, strip_prefix.size());
    out.push_back(std::move(line));
    b = e + 1;
  }
  return out;
}

}  // namespace

std::optional<RunReport> report_from_junit(std::string_view xml, std::string* error) {
  Reader rd(xml);
  RunReport r;
  std::vector<std::string> open;  // element stack
  std::string suite;              // the enclosing <testsuite>'s backend
  CaseResult* cur = nullptr;      // the open <testcase>
  std::string text;               // character data of the innermost open element
  bool saw_root = false;
  auto bad = [&](const std::string& what) {
    *error = "not a kvmsim conformance JUnit report: " + what;
    return std::nullopt;
  };
  Token t;
  while (rd.next(&t)) {
    if (t.kind == Token::text) {
      text += t.data;
      continue;
    }
    if (t.kind == Token::start) {
      const std::string parent = open.empty() ? "" : open.back();
      text.clear();
      if (t.name == "testsuites" && parent.empty() && !saw_root) {
        saw_root = true;
      } else if (t.name == "testsuite" && parent == "testsuites") {
        suite = t.attrs["name"];
        if (suite.empty()) return bad("a <testsuite> without a name");
        r.backends.push_back(suite);
      } else if (t.name == "testcase" && parent == "testsuite") {
        const std::string& cls = t.attrs["classname"];
        if (cls.compare(0, suite.size() + 1, suite + ".") != 0 || !t.attrs.count("name"))
          return bad("testcase classname '" + cls + "' is not '" + suite + ".GROUP'");
        r.results.push_back(CaseResult{suite, cls.substr(suite.size() + 1), t.attrs["name"], Status::passed, "", {}, {}});
        cur = &r.results.back();
      } else if (t.name == "skipped" && parent == "testcase" && cur->status == Status::passed) {
        cur->status = Status::skipped;
        cur->reason = t.attrs["message"];
      } else if (t.name == "failure" && parent == "testcase" && cur->status == Status::passed) {
        cur->status = Status::failed;
        cur->reason = t.attrs["message"];
      } else if (t.name == "system-out" && parent == "testcase") {
      } else {
        return bad("unexpected <" + t.name + ">" + (parent.empty() ? "" : " in <" + parent + ">"));
      }
      if (!t.self_closing) open.push_back(t.name);
      continue;
    }
    if (open.empty() || open.back() != t.name) return bad("unbalanced </" + t.name + ">");
    if (t.name == "failure") cur->failures = lines(text, "");
    if (t.name == "system-out") cur->unobservable = lines(text, "unobservable: ");
    if (t.name == "testcase") cur = nullptr;
    text.clear();
    open.pop_back();
  }
  if (!rd.error().empty()) return bad(rd.error());
  if (!saw_root || !open.empty()) return bad(saw_root ? "truncated (<" + open.back() + "> not closed)" : "no <testsuites>");
  return r;
}

}  // namespace kvmsim::conf
