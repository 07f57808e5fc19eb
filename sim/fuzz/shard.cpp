#include "sim/fuzz/shard.h"

#include <charconv>

namespace kvmsim::fuzz {

namespace {

constexpr std::uint64_t kMaxItems = 1000000;

std::optional<std::uint64_t> decimal(const std::string& s) {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<Shard> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto i = decimal(text.substr(0, slash)), n = decimal(text.substr(slash + 1));
  if (!i || !n || *n == 0 || *n > kMaxItems || *i >= *n) return std::nullopt;
  return Shard{static_cast<std::size_t>(*i), static_cast<std::size_t>(*n)};
}

std::optional<std::vector<std::string>> parse_seed_range(const std::string& text) {
  const auto dash = text.find('-');
  if (dash == std::string::npos) return std::nullopt;
  auto first = decimal(text.substr(0, dash)), last = decimal(text.substr(dash + 1));
  if (!first || !last || *first > *last || *last - *first >= kMaxItems) return std::nullopt;
  std::vector<std::string> seeds;
  for (std::uint64_t s = *first;; s++) {
    seeds.push_back(std::to_string(s));
    if (s == *last) break;
  }
  return seeds;
}

}  // namespace kvmsim::fuzz
