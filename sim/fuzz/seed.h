// Fuzz seeds and the one random source of a fuzz campaign. A seed is written as a decimal u64, as
// `0x` and up to 16 hex digits (the same u64: 0x10 is seed 16), or as 40 hex digits with or without
// `0x` (a git-hash-sized value, e.g. a commit id); every form prints back exactly as given, so a report's first line is the command that reproduces it. Every choice a campaign makes
// (swarm switches, weights, case lengths, arguments) is drawn from a Rng derived from the seed:
// no clock, no address, no unordered container ever feeds it, so one seed gives one byte stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvmsim::fuzz {

using u64 = std::uint64_t;
using u32 = std::uint32_t;

struct Seed {
  std::string text;  // as the user wrote it
  u64 words[3] = {0, 0, 0};  // 160 bits folded into 3 words (a u64 seed: words[0] only)
  bool wide = false;         // 40 hex digits: mixed into the streams, so it never equals a u64 seed
};

// nullopt when `text` is none of: a decimal u64, 0x + 1..16 hex digits, [0x +] exactly 40 hex digits.
std::optional<Seed> parse_seed(const std::string& text);
Seed seed_from_u64(u64 v);

// xoshiro256** seeded through splitmix64: small, fast, and its output is fixed by the algorithm
// (std::mt19937 would be too, but the std distributions are not, so we draw our own ranges).
class Rng {
 public:
  explicit Rng(u64 seed);
  Rng(const Seed& seed, u64 stream);  // independent stream `stream` of a seed
  // Replays a choice sequence instead of drawing: the n-th next() returns choices[n], 0 past the end.
  // The shrinker edits recorded sequences with RapidCheck (shorter, smaller = simpler choices: every
  // pool in the generator lists its simplest value first).
  static Rng replay(std::vector<u64> choices);
  bool replaying() const { return replaying_; }
  // Every value next() returned since record() was called.
  void record() { recording_ = true; }
  const std::vector<u64>& recorded() const { return recorded_; }
  u64 next();
  u64 below(u64 n);                      // uniform in [0, n), n > 0
  bool chance(unsigned percent) { return below(100) < percent; }
  // Index drawn with the given weights (at least one non-zero).
  std::size_t weighted(const std::vector<unsigned>& weights);
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  u64 s_[4] = {0, 0, 0, 0};
  bool replaying_ = false, recording_ = false;
  std::vector<u64> choices_;  // replay mode
  std::size_t pos_ = 0;
  std::vector<u64> recorded_;
};

}  // namespace kvmsim::fuzz
