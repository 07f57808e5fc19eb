// Campaign sharding (docs/fuzz.md "Sharded campaigns"): a run over an ordered list of work items (the
// seeds of `kvmsim fuzz --seeds`, the selected cases of `kvmsim conformance`) is split into N shards;
// shard I runs the items whose 0-based position p in the list has p % N == I, GoogleTest's rule
// (GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX). Invariant: the N shards of a list are disjoint and their
// union is the list, whatever N, so merged shard reports equal the unsharded report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvmsim::fuzz {

struct Shard {
  std::size_t index = 0, total = 1;  // 0 <= index < total
  bool owns(std::size_t position) const { return position % total == index; }
  std::string str() const { return std::to_string(index) + "/" + std::to_string(total); }
};

// "I/N" with decimal 0 <= I < N, 1 <= N <= 1000000; nullopt otherwise.
std::optional<Shard> parse_shard(const std::string& text);

// `--seeds FIRST-LAST` (decimal u64, FIRST <= LAST, at most 1000000 seeds): the seeds as decimal texts,
// in order. nullopt otherwise.
std::optional<std::vector<std::string>> parse_seed_range(const std::string& text);

}  // namespace kvmsim::fuzz
