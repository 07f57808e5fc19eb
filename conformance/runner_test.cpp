// Tests of the runner itself: selection, exit codes, and the four report formats, on synthetic
// reports (no backend), plus run_conformance's argument handling on the model backend.
#include <gtest/gtest.h>

#include <sstream>

#include "conformance/runner.h"
#include "sim/cmd/commands.h"

namespace kvmsim::conf {
namespace {

RunReport sample(bool with_failure) {
  RunReport r;
  r.backends = {"model"};
  r.results.push_back({"model", "memslot", "a", Status::passed, "", {}});
  r.results.push_back({"model", "gmem", "b", Status::skipped, "needs guest_memfd", {}});
  if (with_failure)
    r.results.push_back({"model", "gmem", "c<&>", Status::failed, "x.cpp:1: bad \"q\"", {"x.cpp:1: bad \"q\""}});
  return r;
}

TEST(ConformanceRunner, ExitCode) {
  EXPECT_EQ(exit_code(sample(false)), 0);
  EXPECT_EQ(exit_code(sample(true)), 1);
  RunReport only_skips;
  only_skips.backends = {"kvm"};
  only_skips.results.push_back({"kvm", "gmem", "b", Status::skipped, "needs guest_memfd", {}});
  EXPECT_EQ(exit_code(only_skips), 1) << "a run with no PASSED case must fail";
  EXPECT_NE(summary_line(only_skips).find("no case passed"), std::string::npos);
}

TEST(ConformanceRunner, Tap) {
  std::ostringstream out;
  format_tap(sample(true), out);
  const std::string s = out.str();
  EXPECT_EQ(s.rfind("TAP version 13\n1..3\n", 0), 0u) << s;
  EXPECT_NE(s.find("ok 1 - memslot/a\n"), std::string::npos) << s;
  EXPECT_NE(s.find("ok 2 - gmem/b # SKIP needs guest_memfd\n"), std::string::npos) << s;
  EXPECT_NE(s.find("not ok 3 - gmem/c<&>\n  ---\n"), std::string::npos) << s;
}

TEST(ConformanceRunner, JunitEscapesAndCounts) {
  std::ostringstream out;
  format_junit(sample(true), out);
  const std::string s = out.str();
  EXPECT_NE(s.find("<testsuite name=\"model\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\">"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("name=\"c&lt;&amp;&gt;\""), std::string::npos) << s;
  EXPECT_NE(s.find("<skipped message=\"needs guest_memfd\"/>"), std::string::npos) << s;
  EXPECT_NE(s.find("<failure message=\"x.cpp:1: bad &quot;q&quot;\">"), std::string::npos) << s;
}

TEST(ConformanceRunner, Json) {
  std::ostringstream out;
  format_json(sample(true), out);
  const std::string s = out.str();
  EXPECT_NE(s.find("\"schema\": 1"), std::string::npos);
  EXPECT_NE(s.find("\"status\": \"SKIPPED\", \"reason\": \"needs guest_memfd\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"reason\": \"x.cpp:1: bad \\\"q\\\"\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"summary\": {\"total\": 3, \"passed\": 1, \"failed\": 1, \"skipped\": 1}, \"exit_code\": 1"),
            std::string::npos)
      << s;
}

TEST(ConformanceRunner, TextSummary) {
  std::ostringstream out;
  format_text(sample(true), out);
  const std::string s = out.str();
  EXPECT_NE(s.find("PASSED memslot/a\n"), std::string::npos) << s;
  EXPECT_NE(s.find("SKIPPED gmem/b (needs guest_memfd)\n"), std::string::npos) << s;
  EXPECT_NE(s.find("FAILED gmem/c<&>\n    x.cpp:1: bad \"q\"\n"), std::string::npos) << s;
  EXPECT_NE(s.find("conformance: 3 cases, 1 passed, 1 failed, 1 skipped\n"), std::string::npos) << s;
}

TEST(ConformanceRunner, SelectionIsDeterministicAndGrouped) {
  const auto all = select_cases("", "");
  ASSERT_GE(all.size(), 120u);
  const auto& groups = group_names();
  size_t last_rank = 0;
  for (const Case* c : all) {
    const size_t rank = static_cast<size_t>(std::find(groups.begin(), groups.end(), c->group) - groups.begin());
    EXPECT_GE(rank, last_rank) << c->id();
    last_rank = rank;
  }
  const auto gmem = select_cases("gmem", "");
  ASSERT_FALSE(gmem.empty());
  for (const Case* c : gmem) EXPECT_EQ(c->group, "gmem");
  const auto glob = select_cases("", "memslot/overlap_*");
  ASSERT_EQ(glob.size(), 3u);
  EXPECT_EQ(glob[0]->id(), "memslot/overlap_identical");
}

TEST(ConformanceRunner, BadArguments) {
  std::ostringstream out, err;
  kvmsim::ConformanceArgs a;
  a.backend = "nope";
  EXPECT_EQ(kvmsim::run_conformance(a, out, err), 2);
  a = kvmsim::ConformanceArgs{};
  a.format = "xml";
  EXPECT_EQ(kvmsim::run_conformance(a, out, err), 2);
  a = kvmsim::ConformanceArgs{};
  a.group = "nogroup";
  EXPECT_EQ(kvmsim::run_conformance(a, out, err), 2);
  a = kvmsim::ConformanceArgs{};
  a.profile = "linux-0.1";
  EXPECT_EQ(kvmsim::run_conformance(a, out, err), 2);
}

TEST(ConformanceRunner, ListAndNoMatch) {
  std::ostringstream out, err;
  kvmsim::ConformanceArgs a;
  a.list = true;
  a.group = "dirtylog";
  EXPECT_EQ(kvmsim::run_conformance(a, out, err), 0);
  EXPECT_NE(out.str().find("dirtylog/ring_size_rules  needs: dirty_log_ring\n"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("memslot/"), std::string::npos);
  a = kvmsim::ConformanceArgs{};
  a.filter = "no/such*";
  EXPECT_EQ(kvmsim::run_conformance(a, out, err), 1);
}

// A real run of one group on the model: TAP output, exit code from the results.
TEST(ConformanceRunner, RunsVmGroupOnModel) {
  std::ostringstream out, err;
  kvmsim::ConformanceArgs a;
  a.group = "vm";
  a.format = "tap";
  const int rc = kvmsim::run_conformance(a, out, err);
  EXPECT_EQ(rc, 0) << out.str();
  EXPECT_EQ(out.str().rfind("TAP version 13\n", 0), 0u);
  EXPECT_NE(out.str().find("ok 1 - vm/create_default_vm\n"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace kvmsim::conf
