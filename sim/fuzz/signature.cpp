#include "sim/fuzz/signature.h"

#include <string>
#include <vector>

namespace kvmsim::fuzz {

namespace {

// Splits an actual text into items: `0 => {gpa=3G, size=0}` -> [result=0, gpa=3G, size=0];
// `pages_4k=1 pages_2m=0` -> [pages_4k=1, pages_2m=0]; `-1 EINVAL` -> [result=-1 EINVAL].
std::vector<std::pair<std::string, std::string>> items(const std::string& actual) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string head = actual, rest;
  if (auto arrow = actual.find(" => {"); arrow != std::string::npos) {
    head = actual.substr(0, arrow);
    rest = actual.substr(arrow + 5);
    if (!rest.empty() && rest.back() == '}') rest.pop_back();
  }
  // key=value lists (stats, mapping) have no separate result part.
  const bool keyed = head.find('=') != std::string::npos && head.find('{') == std::string::npos;
  if (!keyed) {
    out.emplace_back("result", head);
  } else {
    rest = head + (rest.empty() ? "" : " " + rest);
  }
  // Items are separated by ", " inside records and " " in key lists; bitmaps hold ", " inside [].
  std::size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == ',')) i++;
    std::size_t j = i;
    int depth = 0;
    while (j < rest.size() && (depth > 0 || (rest[j] != ' ' && rest[j] != ','))) {
      if (rest[j] == '[' || rest[j] == '{') depth++;
      if (rest[j] == ']' || rest[j] == '}') depth--;
      j++;
    }
    if (j > i) {
      std::string item = rest.substr(i, j - i);
      auto eq = item.find('=');
      if (eq == std::string::npos) out.emplace_back("?", item);
      else out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    i = j;
  }
  return out;
}

bool is_number(const std::string& s) {
  return !s.empty() && s.size() < 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::string statement_kind(const std::string& statement) {
  std::string s = statement;
  if (s.rfind("expect ", 0) == 0) {
    auto paren = s.find('(');
    return s.substr(0, paren);
  }
  auto paren = s.find('(');
  std::string head = s.substr(0, paren);
  if (auto eq = head.find('='); eq != std::string::npos) head = head.substr(eq + 1);
  while (!head.empty() && head.front() == ' ') head.erase(head.begin());
  while (!head.empty() && head.back() == ' ') head.pop_back();
  return head;
}

Signature signature_of(const Divergence& d) {
  Signature s;
  s.kind = statement_kind(d.statement);
  // A guest access's kind is part of what it is: `access exec`, `access write`.
  if (s.kind == "access") {
    const auto close = d.statement.rfind(')');
    const auto comma = d.statement.rfind(',', close);
    if (close != std::string::npos && comma != std::string::npos) {
      std::string word = d.statement.substr(comma + 1, close - comma - 1);
      while (!word.empty() && word.front() == ' ') word.erase(word.begin());
      s.kind += " " + word;
    }
  }
  auto a = items(d.a_actual), b = items(d.b_actual);
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); i++) {
    const std::string ka = i < a.size() ? a[i].first : b[i].first;
    const std::string va = i < a.size() ? a[i].second : "absent";
    const std::string vb = i < b.size() ? b[i].second : "absent";
    if (i < a.size() && i < b.size() && a[i].first != b[i].first) {
      s.field = a[i].first + "/" + b[i].first;
      s.a = a[i].second;
      s.b = b[i].second;
      return s;
    }
    if (va != vb) {
      s.field = ka;
      s.a = va;
      s.b = vb;
      // A counter's absolute values depend on every earlier access; how far the two sides are apart
      // is what identifies the bug, and it survives dropping unrelated accesses.
      if (s.kind == "expect stats" && is_number(va) && is_number(vb)) {
        const long long delta = std::stoll(vb) - std::stoll(va);
        s.a = "B-A";
        s.b = (delta > 0 ? "+" : "") + std::to_string(delta);
      }
      return s;
    }
  }
  // Same items but different text (cannot happen for well-formed actuals): the whole text.
  s.field = "actual";
  s.a = d.a_actual;
  s.b = d.b_actual;
  return s;
}

std::string Signature::str() const { return kind + ": " + field + " A=" + a + " B=" + b; }

}  // namespace kvmsim::fuzz
