#include "sim/trace/format.h"

#include <algorithm>
#include <cstdio>

#include "sim/trace/constants.h"

namespace kvmsim::trace {

namespace {
std::string hex(u64 v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

std::string format_data(u64 v) {
  if (v == 0) return "0";
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string format_size(u64 v) {
  if (v == 0) return "0";
  static constexpr struct {
    int shift;
    char suffix;
  } kUnits[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  std::vector<std::string> terms;
  u64 rest = v;
  for (const auto& unit : kUnits) {
    u64 n = rest >> unit.shift;
    if (n == 0) continue;
    terms.push_back(std::to_string(n) + unit.suffix);
    rest -= n << unit.shift;
    // Only the largest unit may carry a multiple >= 1024 (T has no bigger unit); lower units are < 1024.
  }
  if (rest) terms.push_back(std::to_string(rest));
  if (terms.size() > 3) return hex(v);
  std::string out;
  for (const auto& t : terms) out += (out.empty() ? "" : "+") + t;
  return out;
}

std::string format_errno(int err) {
  if (const char* n = errno_name(err)) return n;
  return std::to_string(err);
}

std::string format_flags(u64 v, std::string_view family_prefix) {
  if (v == 0) return "0";
  std::string out;
  u64 rest = v;
  for (const auto& c : flag_family(family_prefix)) {
    if ((rest & c.value) == 0) continue;
    out += (out.empty() ? "" : "|") + std::string(c.name);
    rest &= ~c.value;
  }
  if (rest) out += (out.empty() ? "" : "|") + hex(rest);
  return out;
}

BitRanges bitmap_to_ranges(const std::vector<u64>& words) {
  BitRanges out;
  for (u64 w = 0; w < words.size(); w++) {
    if (!words[w]) continue;
    for (int b = 0; b < 64; b++) {
      if (!(words[w] >> b & 1)) continue;
      u64 bit = w * 64 + static_cast<u64>(b);
      if (!out.empty() && out.back().second + 1 == bit)
        out.back().second = bit;
      else
        out.emplace_back(bit, bit);
    }
  }
  return out;
}

BitRanges normalize_ranges(BitRanges r) {
  std::sort(r.begin(), r.end());
  BitRanges out;
  for (const auto& [lo, hi] : r) {
    if (!out.empty() && lo <= out.back().second + 1)
      out.back().second = std::max(out.back().second, hi);
    else
      out.emplace_back(lo, hi);
  }
  return out;
}

std::string format_ranges(const BitRanges& r) {
  std::string out = "[";
  for (std::size_t i = 0; i < r.size(); i++) {
    if (i) out += ", ";
    out += std::to_string(r[i].first);
    if (r[i].second != r[i].first) out += "-" + std::to_string(r[i].second);
  }
  return out + "]";
}

}  // namespace kvmsim::trace
