// Campaign sharding and report merging (sim/fuzz/shard.h, sim/fuzz/campaign_report.h,
// conformance/merge.h, `kvmsim merge`): the partition is disjoint and complete, merged shards equal
// the unsharded run (with real findings: a planted model bug), reports read back what was written.
// The CLI run over two GNU parallel workers is scripts/shard-test.sh.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "conformance/junit_read.h"
#include "conformance/merge.h"
#include "model/mmu/lpage_rules_override.h"
#include "model/profiles/profile.h"
#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/fuzz/campaign_report.h"
#include "sim/fuzz/shard.h"
#include "sim/trace/schema.h"

namespace kvmsim::fuzz {
namespace {

TEST(Shard, ParsesOnlyValidShards) {
  EXPECT_EQ(parse_shard("0/1")->str(), "0/1");
  EXPECT_EQ(parse_shard("3/4")->index, 3u);
  for (const char* bad : {"", "1", "1/1", "2/1", "0/0", "-1/2", "a/2", "0/2x", "0/", "/2", "0/1000001"})
    EXPECT_FALSE(parse_shard(bad)) << bad;
}

TEST(Shard, ShardsAreDisjointAndCoverEveryPosition) {
  for (std::size_t n = 1; n <= 5; n++) {
    for (std::size_t p = 0; p < 23; p++) {
      int owners = 0;
      for (std::size_t i = 0; i < n; i++) owners += Shard{i, n}.owns(p);
      EXPECT_EQ(owners, 1) << "position " << p << " of " << n << " shards";
    }
  }
}

TEST(Shard, SeedRanges) {
  EXPECT_EQ(*parse_seed_range("7-9"), (std::vector<std::string>{"7", "8", "9"}));
  EXPECT_EQ(*parse_seed_range("18446744073709551615-18446744073709551615"),
            std::vector<std::string>{"18446744073709551615"});
  for (const char* bad : {"", "5", "9-7", "1-", "-3", "0x1-0x3", "1-1000001"}) EXPECT_FALSE(parse_seed_range(bad)) << bad;
}

model::Profile planted_profile() {
  model::Profile p = *model::find_profile("linux-6.18");
  p.name = "linux-6.18-planted";
  return p;
}

// As sim/test/fuzz_test.cpp's planted bug: lpage_info's slot-tail rule off by one on side B only.
struct OffByOneTail : model::LpageRules {
  u64 tail_gfn(u64 base_gfn, u64 npages) const override { return base_gfn + npages - 1; }
};

std::unique_ptr<Backend> model_backend() {
  return std::move(make_backends(std::get<BackendSpec>(parse_backend_spec("model", 1)), BackendOptions{}).front());
}

std::string json_of(const CampaignReport& r) {
  std::ostringstream out;
  write_json(r, out);
  return out.str();
}

TEST(ShardMerge, ShardedPlantedCampaignHasTheUnshardedFindings) {
  const model::Profile planted = planted_profile();
  const OffByOneTail off_by_one;
  const model::ScopedLpageRulesOverride plant(planted, off_by_one);
  auto backend = model_backend();
  const std::vector<std::string> seeds = *parse_seed_range("1-8");
  auto run = [&](const Shard& shard) {
    CampaignReport r;
    r.backend = "model,model";
    r.steps_per_seed = 2000;
    for (std::size_t i = 0; i < seeds.size(); i++) {
      if (!shard.owns(i)) continue;
      CampaignOptions o;
      o.seed = *parse_seed(seeds[i]);
      o.steps = r.steps_per_seed;
      o.side_a = o.side_b = backend.get();
      o.profile_a = model::find_profile("linux-6.18");
      o.profile_b = &planted;
      o.check_invariants = false;  // the planted side breaks them (see fuzz_test.cpp)
      o.shrink = false;
      o.reruns = 1;
      add_seed(r, o.seed, run_campaign(o));
    }
    return r;
  };
  const CampaignReport full = run(Shard{0, 1});
  std::string error;
  const auto merged_full = merge({full}, &error);
  const auto merged_shards = merge({run(Shard{1, 2}), run(Shard{0, 2})}, &error);  // any order
  ASSERT_TRUE(merged_full && merged_shards) << error;
  // Not vacuous: several seeds find the planted bug; the merge keeps one finding per signature.
  ASSERT_GE(full.findings.size(), 2u) << json_of(full);
  std::set<std::string> signatures;
  for (const auto& f : full.findings) signatures.insert(f.signature);
  EXPECT_EQ(merged_full->findings.size(), signatures.size()) << json_of(*merged_full);
  EXPECT_EQ(json_of(*merged_full), json_of(*merged_shards));
  EXPECT_EQ(merged_shards->exit_code(), 1);
  // The reader gives back what the writer wrote.
  auto v = parse_json(json_of(full), &error);
  ASSERT_TRUE(v) << error;
  auto back = campaign_report_from_json(*v, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(json_of(*back), json_of(full));
}

TEST(ShardMerge, DifferentCampaignsDoNotMerge) {
  CampaignReport a, b;
  a.backend = "model,model-ref";
  b.backend = "model,model";
  std::string error;
  EXPECT_FALSE(merge({a, b}, &error));
  EXPECT_NE(error.find("different campaigns"), std::string::npos) << error;
}

TEST(ShardMerge, ConformanceShardsMergeToTheUnshardedReport) {
  conf::RunReport full;
  full.backends = {"model", "model-ref"};
  const auto cases = conf::select_cases("", "");
  ASSERT_GT(cases.size(), 10u);
  for (const std::string& b : full.backends)
    for (std::size_t i = 0; i < cases.size(); i++) {
      conf::CaseResult r{b, cases[i]->group, cases[i]->name, conf::Status::passed, {}, {}};
      if (i % 7 == 3) r.status = conf::Status::skipped, r.reason = "needs \"x\"";
      if (b == "model-ref" && i == 5) r.status = conf::Status::failed, r.reason = "f", r.failures = {"a.cpp:1: f"};
      if (i % 5 == 1) r.unobservable = {"level"};
      full.results.push_back(r);
    }
  auto text = [](const conf::RunReport& r) {
    std::ostringstream out;
    conf::format_json(r, out);
    return out.str();
  };
  // Shards as `kvmsim conformance --shard I/3` makes them: each backend runs the shard's cases.
  std::vector<conf::RunReport> shards;
  for (std::size_t s = 0; s < 3; s++) {
    conf::RunReport shard;
    shard.backends = full.backends;
    for (const auto& r : full.results) {
      const auto pos = std::find_if(cases.begin(), cases.end(), [&](const conf::Case* c) { return c->id() == r.id(); });
      if (Shard{s, 3}.owns(static_cast<std::size_t>(pos - cases.begin()))) shard.results.push_back(r);
    }
    std::string error;
    auto v = parse_json(text(shard), &error);
    ASSERT_TRUE(v) << error;
    auto back = conf::report_from_json(*v, &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(text(*back), text(shard));
    // The JUnit form of a shard reads back to the same report (`kvmsim merge` takes either).
    std::ostringstream junit;
    conf::format_junit(shard, junit);
    auto from_junit = conf::report_from_junit(junit.str(), &error);
    ASSERT_TRUE(from_junit) << error << "\n" << junit.str();
    EXPECT_EQ(text(*from_junit), text(shard));
    shards.push_back(s == 1 ? *from_junit : *back);
  }
  std::swap(shards[0], shards[2]);  // the order of the files does not matter
  EXPECT_EQ(text(conf::merge_reports(shards)), text(full));
  EXPECT_EQ(conf::exit_code(conf::merge_reports(shards)), 1);
}

TEST(ShardMerge, MergeCommandTakesJunitShards) {
  const std::string dir = ::testing::TempDir();
  conf::RunReport a, b;
  a.backends = b.backends = {"model"};
  a.results = {{"model", "memslot", "x<&>\"'", conf::Status::failed, "why & how", {"a.cpp:1: m < n", "b.cpp:2: k"}, {}}};
  b.results = {{"model", "gmem", "y", conf::Status::skipped, "needs \"cap\"", {}, {}},
               {"model", "gmem", "z", conf::Status::passed, "", {}, {"level at 0x1000"}}};
  auto write = [&](const std::string& name, const conf::RunReport& r) {
    std::ofstream f(dir + name);
    conf::format_junit(r, f);
  };
  write("a.xml", a);
  std::ofstream(dir + "b.json") << [&] { std::ostringstream o; conf::format_json(b, o); return o.str(); }();
  std::ostringstream out, err;
  EXPECT_EQ(run_merge({{dir + "a.xml", dir + "b.json"}, "junit"}, out, err), kExitMismatch) << err.str();
  std::ostringstream expect;
  conf::format_junit(conf::merge_reports({a, b}), expect);
  EXPECT_EQ(out.str(), expect.str());
  EXPECT_NE(out.str().find("<failure message=\"why &amp; how\">a.cpp:1: m &lt; n\nb.cpp:2: k\n</failure>"),
            std::string::npos) << out.str();
  // Malformed JUnit is a usage error naming the file, never a partial report.
  for (const char* bad : {"<testsuites>\n  <testsuite name=\"model\">\n", "<testsuites><testsuite name=\"m\">"
                          "<testcase classname=\"other.g\" name=\"n\"/></testsuite></testsuites>",
                          "<testsuites><foo/></testsuites>", "<testsuites a=\"&bogus;\"></testsuites>", "<"}) {
    std::ofstream(dir + "bad.xml") << bad;
    std::ostringstream o, e;
    EXPECT_EQ(run_merge({{dir + "bad.xml"}}, o, e), kExitUsage) << bad;
    EXPECT_NE(e.str().find(dir + "bad.xml: not a kvmsim conformance JUnit report"), std::string::npos) << e.str();
    EXPECT_EQ(o.str(), "");
  }
}

TEST(ShardMerge, MergeCommandRejectsMixedAndBadInput) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "fuzz.json") << "{\"schema\": 1, \"report\": \"fuzz\", \"seeds\": [], \"findings\": []}\n";
  std::ofstream(dir + "conf.json") << "{\"schema\": 1, \"backends\": [], \"cases\": []}\n";
  std::ofstream(dir + "bad.json") << "{\"schema\": 1,";
  std::ostringstream out, err;
  EXPECT_EQ(run_merge({{dir + "fuzz.json", dir + "conf.json"}}, out, err), kExitUsage);
  EXPECT_EQ(run_merge({{dir + "bad.json"}}, out, err), kExitUsage);
  EXPECT_NE(err.str().find(dir + "bad.json: not a JSON report"), std::string::npos) << err.str();
  EXPECT_EQ(run_merge({{dir + "missing.json"}}, out, err), kExitUsage);
  std::ostringstream clean;
  EXPECT_EQ(run_merge({{dir + "fuzz.json", dir + "fuzz.json"}}, clean, err), kExitOk);
  EXPECT_NE(clean.str().find("\"exit_code\": 0"), std::string::npos) << clean.str();
}

// The libFuzzer dictionary (sim/fuzz/targets/trace.dict) names every statement of the schema.
TEST(LibFuzzerDictionary, HasEveryStatementCallee) {
  std::ifstream in(std::string(KVMSIM_SOURCE_DIR) + "/sim/fuzz/targets/trace.dict");
  std::stringstream dict;
  dict << in.rdbuf();
  ASSERT_FALSE(dict.str().empty());
  for (const auto& spec : trace::statement_specs())
    EXPECT_NE(dict.str().find("\"" + std::string(spec.callee) + "\""), std::string::npos) << spec.callee;
}

}  // namespace
}  // namespace kvmsim::fuzz
