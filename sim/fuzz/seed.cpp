#include "sim/fuzz/seed.h"

#include "model/core_assert.h"
#include "model/splitmix64.h"
#include "sim/trace/lexer.h"

namespace kvmsim::fuzz {

namespace {
u64 rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

std::optional<Seed> parse_seed(const std::string& text) {
  Seed s;
  s.text = text;
  const bool prefixed = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const std::string digits = prefixed ? text.substr(2) : text;
  if (digits.size() == 40) {
    for (std::size_t i = 0; i < 40; i++) {
      int d = trace::hex_digit(digits[i]);
      if (d < 0) return std::nullopt;
      // digits 0-15 -> words[0], 16-31 -> words[1], 32-39 -> words[2]
      s.words[i / 16] = (s.words[i / 16] << 4) | static_cast<u64>(d);
    }
    s.wide = true;
    return s;
  }
  if (prefixed) {
    // 0x hex names the same u64 as its decimal spelling (0x10 and 16 are one seed).
    if (digits.size() > 16) return std::nullopt;
    for (char c : digits) {
      int d = trace::hex_digit(c);
      if (d < 0) return std::nullopt;
      s.words[0] = (s.words[0] << 4) | static_cast<u64>(d);
    }
    return s;
  }
  if (text.empty() || text.size() > 20) return std::nullopt;
  u64 v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    u64 d = static_cast<u64>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  s.words[0] = v;
  return s;
}

Seed seed_from_u64(u64 v) {
  Seed s;
  s.text = std::to_string(v);
  s.words[0] = v;
  return s;
}

Rng::Rng(u64 seed) {
  u64 x = seed;
  for (auto& w : s_) w = splitmix64(&x);
}

Rng::Rng(const Seed& seed, u64 stream) {
  // A 40-hex seed differs from a decimal one with the same low word: the length is mixed in.
  u64 x = seed.words[0] ^ rotl(seed.words[1], 17) ^ rotl(seed.words[2], 41) ^
          (seed.wide ? 0xa5a5a5a5a5a5a5a5ull : 0) ^ (stream * 0xd1b54a32d192ed03ull);
  for (auto& w : s_) w = splitmix64(&x);
}

Rng Rng::replay(std::vector<u64> choices) {
  Rng r(0);
  r.replaying_ = true;
  r.choices_ = std::move(choices);
  return r;
}

u64 Rng::next() {
  if (replaying_) {
    const u64 v = pos_ < choices_.size() ? choices_[pos_] : 0;
    pos_++;
    if (recording_) recorded_.push_back(v);
    return v;
  }
  const u64 result = rotl(s_[1] * 5, 7) * 9;
  if (recording_) recorded_.push_back(result);
  const u64 t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

u64 Rng::below(u64 n) {
  KVMSIM_ASSERT_CTX(n > 0, "Rng::below(0)");
  // Rejection sampling: no modulo bias, still a fixed function of the stream.
  const u64 limit = UINT64_MAX - UINT64_MAX % n;
  u64 v;
  do v = next();
  while (v >= limit);
  return v % n;
}

std::size_t Rng::weighted(const std::vector<unsigned>& weights) {
  u64 total = 0;
  for (unsigned w : weights) total += w;
  KVMSIM_ASSERT_CTX(total > 0, "Rng::weighted: all weights zero");
  u64 r = below(total);
  for (std::size_t i = 0; i < weights.size(); i++) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return weights.size() - 1;
}

}  // namespace kvmsim::fuzz
