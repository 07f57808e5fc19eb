#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "model/interval_map.h"
#include "model/attributes/memory_attributes.h"

#include <sstream>

namespace kvmsim::model {
namespace {

TEST(IntervalMap, AssignMergesAdjacentEqualRuns) {
  IntervalMap<u64> m;
  m.assign(0, 10, 8);
  m.assign(10, 20, 8);
  EXPECT_EQ(m.run_count(), 1u);
  m.assign(5, 7, 1);
  EXPECT_EQ(m.run_count(), 3u);
  m.assign(5, 7, 8);
  EXPECT_EQ(m.run_count(), 1u);
  m.erase(0, 20);
  EXPECT_TRUE(m.empty());
}

TEST(IntervalMap, UniformSeesAbsenceAndSingleRun) {
  IntervalMap<u64> m;
  std::optional<u64> v;
  EXPECT_TRUE(m.uniform(0, 100, &v));
  EXPECT_FALSE(v.has_value());
  m.assign(10, 20, 3);
  EXPECT_FALSE(m.uniform(0, 11));
  EXPECT_TRUE(m.uniform(10, 20, &v));
  EXPECT_EQ(v, 3u);
  EXPECT_FALSE(m.uniform(15, 21));
  EXPECT_TRUE(m.uniform(20, 30));
}

// The attribute map against a naive per-gfn reference on small ranges.
void attributes_match_reference() {
  MemoryAttributes attrs;
  std::map<u64, u64> ref;
  const int ops = *rc::gen::inRange(1, 40);
  for (int i = 0; i < ops; ++i) {
    const u64 start = *rc::gen::inRange<u64>(0, 64);
    const u64 len = *rc::gen::inRange<u64>(1, 32);
    const u64 value = *rc::gen::element<u64>(0, 8, 16, 24);
    attrs.set(start, start + len, value);
    for (u64 g = start; g < start + len; ++g) {
      if (value) ref[g] = value;
      else ref.erase(g);
    }
  }
  for (u64 g = 0; g < 100; ++g) RC_ASSERT(attrs.get(g) == (ref.count(g) ? ref[g] : 0));
  for (int q = 0; q < 20; ++q) {
    const u64 s = *rc::gen::inRange<u64>(0, 100);
    const u64 e = s + *rc::gen::inRange<u64>(1, 30);
    const u64 first = ref.count(s) ? ref[s] : 0;
    bool same = true;
    for (u64 g = s; g < e; ++g) same = same && (ref.count(g) ? ref[g] : 0) == first;
    u64 got = ~0ull;
    RC_ASSERT(attrs.uniform(s, e, &got) == same);
    if (same) RC_ASSERT(got == first);
  }
  // Maximal runs: no two adjacent runs with the same value.
  u64 runs = 0;
  u64 prev_end = ~0ull, prev_val = 0;
  for (const auto& [g, v] : ref) {
    if (!(g == prev_end && v == prev_val)) ++runs;
    prev_end = g + 1;
    prev_val = v;
  }
  RC_ASSERT(attrs.run_count() == runs);
}

TEST(MemoryAttributesProperty, MatchesPerGfnReference) {
  // A fixed seed keeps the unit tests deterministic.
  rc::detail::TestParams params;
  params.seed = 20261121;
  params.maxSuccess = 300;
  rc::detail::TestMetadata meta;
  meta.id = "MemoryAttributesProperty/MatchesPerGfnReference";
  const auto result = rc::detail::checkTestable(&attributes_match_reference, meta, params);
  std::ostringstream ss;
  rc::detail::printResultMessage(result, ss);
  EXPECT_TRUE(result.is<rc::detail::SuccessResult>()) << ss.str();
}

TEST(MemoryAttributes, TerabyteRangeIsOneRun) {
  MemoryAttributes a;
  a.set(0, (1ull << 40) >> 12, 8);
  EXPECT_EQ(a.run_count(), 1u);
  EXPECT_TRUE(a.range_has(0, (1ull << 40) >> 12, 8));
  a.set(512, 1024, 0);
  EXPECT_EQ(a.run_count(), 2u);
  EXPECT_TRUE(a.uniform(512, 1024));
  EXPECT_FALSE(a.uniform(511, 1024));
}

}  // namespace
}  // namespace kvmsim::model
