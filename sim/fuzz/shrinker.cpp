#include "sim/fuzz/shrinker.h"

#include <rapidcheck.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <sstream>
#include <vector>

namespace kvmsim::fuzz {

namespace {

using u64 = std::uint64_t;

bool is_header(const std::string& l) { return l.rfind("kvmsim-trace", 0) == 0 || l.rfind("profile ", 0) == 0; }
bool is_statement(const std::string& l) {
  std::size_t i = l.find_first_not_of(" \t\r");
  return i != std::string::npos && l[i] != '#' && !is_header(l);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

std::string join(const std::vector<std::string>& header, const std::vector<std::string>& body) {
  std::string s;
  for (const auto& l : header) s += l + "\n";
  for (const auto& l : body) s += l + "\n";
  return s;
}

// Spans [begin, end) of number-like expression terms in the argument part of a call statement
// (between its first '(' and the matching ')'), e.g. `2M`, `0x800`, `1G+4K` is two terms.
std::vector<std::pair<std::size_t, std::size_t>> number_spans(const std::string& l) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t open = l.find('(');
  if (open == std::string::npos || l.rfind("expect", 0) == 0) return out;
  int depth = 0;
  std::size_t close = std::string::npos;
  for (std::size_t i = open; i < l.size(); i++) {
    if (l[i] == '(') depth++;
    if (l[i] == ')' && --depth == 0) {
      close = i;
      break;
    }
  }
  if (close == std::string::npos) return out;
  for (std::size_t i = open + 1; i < close;) {
    const bool starts = (l[i] >= '0' && l[i] <= '9') &&
                        !(std::isalnum(static_cast<unsigned char>(l[i - 1])) || l[i - 1] == '_');
    if (!starts) {
      i++;
      continue;
    }
    std::size_t j = i;
    while (j < close && (std::isalnum(static_cast<unsigned char>(l[j])) || l[j] == '_')) j++;
    out.emplace_back(i, j);
    i = j;
  }
  return out;
}

// The value of one number term (`0x1_000`, `2M`, `17`), nullopt if it is not a plain number.
std::optional<u64> term_value(const std::string& t) {
  u64 v = 0;
  std::size_t i = 0;
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    i = 2;
  }
  for (; i < t.size(); i++) {
    const char c = t[i];
    if (c == '_') continue;
    int d = c >= '0' && c <= '9' ? c - '0' : base == 16 && std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(c) - 'a' + 10 : -1;
    if (d < 0) break;
    if (v > (UINT64_MAX - static_cast<u64>(d)) / static_cast<u64>(base)) return std::nullopt;
    v = v * static_cast<u64>(base) + static_cast<u64>(d);
  }
  if (i == t.size()) return v;
  if (i + 1 != t.size()) return std::nullopt;
  const int shift = t[i] == 'K' ? 10 : t[i] == 'M' ? 20 : t[i] == 'G' ? 30 : t[i] == 'T' ? 40 : -1;
  if (shift < 0 || (v >> (64 - shift))) return std::nullopt;
  return v << shift;
}

struct Shrinker {
  const std::function<bool(const std::string&)>& keeps_bug;
  std::size_t budget;
  const std::function<bool()>& should_stop;
  ShrinkStats* stats;
  std::vector<std::string> header, body;

  bool out_of_budget() {
    if ((budget && stats->candidates >= budget) || should_stop()) {
      stats->budget_exhausted = true;
      return true;
    }
    return false;
  }
  bool try_body(const std::vector<std::string>& candidate) {
    if (out_of_budget()) return false;
    stats->candidates++;
    if (!keeps_bug(join(header, candidate))) return false;
    stats->accepted++;
    body = candidate;
    return true;
  }

  bool drop_tail() {
    bool changed = false;
    // Halve the tail while it still reproduces.
    for (std::size_t cut = body.size() / 2; cut > 0 && body.size() > 1; cut = std::min(cut, body.size() / 2)) {
      std::vector<std::string> c(body.begin(), body.end() - static_cast<long>(cut));
      if (try_body(c)) changed = true;
      else cut /= 2;
      if (stats->budget_exhausted) break;
    }
    return changed;
  }
  // The generator writes the code an exec access runs (restriction exec_after_touch): a touch
  // right before an exec access belongs to it and is dropped only together with it.
  static bool is_exec(const std::string& l) {
    return l.rfind("access(", 0) == 0 && l.find(", exec)") != std::string::npos;
  }
  bool drop_singles() {
    bool changed = false;
    for (std::size_t i = body.size(); i-- > 0;) {
      if (stats->budget_exhausted) break;
      if (body[i].rfind("touch(", 0) == 0 && i + 1 < body.size() && is_exec(body[i + 1])) continue;
      std::vector<std::string> c = body;
      const bool pair = is_exec(body[i]) && i > 0 && body[i - 1].rfind("touch(", 0) == 0;
      c.erase(c.begin() + static_cast<long>(pair ? i - 1 : i), c.begin() + static_cast<long>(i) + 1);
      if (try_body(c)) changed = true;
      if (pair && i > 0) i--;
    }
    return changed;
  }
  bool simplify_args() {
    static const char* const kSimple[] = {"0", "4K", "2M", "1G"};
    static const u64 kSimpleValue[] = {0, 4096, 2u << 20, 1u << 30};
    bool changed = false;
    for (std::size_t i = 0; i < body.size() && !stats->budget_exhausted; i++) {
      // The touch of an exec pair names the page the exec runs: keep the two consistent.
      if (body[i].rfind("touch(", 0) == 0 && i + 1 < body.size() && is_exec(body[i + 1])) continue;
      if (is_exec(body[i]) && i > 0 && body[i - 1].rfind("touch(", 0) == 0) continue;
      // Right to left so earlier spans stay valid after an edit.
      auto spans = number_spans(body[i]);
      for (std::size_t k = spans.size(); k-- > 0 && !stats->budget_exhausted;) {
        const auto [b, e] = spans[k];
        const std::string& l = body[i];
        // `term+X` -> `X`: drop a leading term with its operator.
        if (e < l.size() && l[e] == '+' && b > 0 && (l[b - 1] == '(' || l[b - 1] == ' ' || l[b - 1] == '=')) {
          std::vector<std::string> c = body;
          c[i] = l.substr(0, b) + l.substr(e + 1);
          if (try_body(c)) {
            changed = true;
            continue;
          }
        }
        // `X+term` -> `X`: drop the term with its operator.
        if (b > 0 && (l[b - 1] == '+' || l[b - 1] == '-')) {
          std::vector<std::string> c = body;
          c[i] = l.substr(0, b - 1) + l.substr(e);
          if (try_body(c)) {
            changed = true;
            continue;
          }
        }
        const std::string current = l.substr(b, e - b);
        const auto value = term_value(current);
        for (std::size_t v = 0; v < 4; v++) {
          const char* s = kSimple[v];
          // Only toward smaller values (simpler values come first: stop at the current one).
          if (current == s || !value || kSimpleValue[v] >= *value) break;
          std::vector<std::string> c = body;
          c[i] = l.substr(0, b) + s + l.substr(e);
          if (try_body(c)) {
            changed = true;
            break;
          }
        }
      }
    }
    return changed;
  }
};

}  // namespace

std::size_t count_statements(const std::string& text) {
  std::size_t n = 0;
  for (const auto& l : split_lines(text)) n += is_statement(l);
  return n;
}

std::string shrink_trace(const std::string& text, int diverging_line, const std::function<bool(const std::string&)>& keeps_bug,
                         std::size_t budget, const std::function<bool()>& should_stop, ShrinkStats* stats) {
  ShrinkStats local;
  if (!stats) stats = &local;
  Shrinker s{keeps_bug, budget, should_stop, stats, {}, {}};
  auto lines = split_lines(text);
  std::vector<std::string> after;
  for (std::size_t i = 0; i < lines.size(); i++) {
    if (is_header(lines[i])) s.header.push_back(lines[i]);
    else if (!is_statement(lines[i])) continue;
    else if (diverging_line <= 0 || static_cast<int>(i) + 1 <= diverging_line) s.body.push_back(lines[i]);
    else after.push_back(lines[i]);
  }
  // Pass 1a: everything after the diverging statement, if the prefix alone still reproduces.
  if (!after.empty()) {
    std::vector<std::string> prefix = s.body;
    s.body.insert(s.body.end(), after.begin(), after.end());
    s.try_body(prefix);
  }
  for (bool changed = true; changed && !stats->budget_exhausted;) {
    changed = s.drop_tail();
    changed |= s.drop_singles();
    changed |= s.simplify_args();
  }
  return join(s.header, s.body);
}

std::vector<std::uint64_t> shrink_choices(std::vector<std::uint64_t> choices,
                                          const std::function<bool(const std::vector<std::uint64_t>&)>& keeps_bug,
                                          std::size_t budget, const std::function<bool()>& should_stop,
                                          ShrinkStats* stats) {
  ShrinkStats local;
  if (!stats) stats = &local;
  auto out_of_budget = [&] {
    if ((budget && stats->candidates >= budget) || should_stop()) stats->budget_exhausted = true;
    return stats->budget_exhausted;
  };
  for (bool improved = true; improved && !out_of_budget();) {
    improved = false;
    // Each element straight to 0 (the simplest choice everywhere) or to half: a full towards()
    // sequence per element costs ~64 candidates for each of hundreds of choices.
    auto seq = rc::seq::concat(rc::shrink::eachElement(choices, [](std::uint64_t v) {
                                 return v == 0 ? rc::Seq<std::uint64_t>() : v == 1 ? rc::seq::just<std::uint64_t>(0)
                                                                          : rc::seq::just<std::uint64_t>(0, v / 2);
                               }),
                               rc::shrink::removeChunks(choices));
    while (auto candidate = seq.next()) {
      if (out_of_budget()) break;
      stats->candidates++;
      if (keeps_bug(*candidate)) {
        stats->accepted++;
        choices = std::move(*candidate);
        improved = true;
        break;
      }
    }
  }
  return choices;
}

}  // namespace kvmsim::fuzz
