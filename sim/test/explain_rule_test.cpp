// `explain` names the rule that decided a level (model/vm/explain.h Explanation::decided_by): the
// host's THP rule of the profile, the hardware limit, and on the RFC profile KVM_MAP_MEMORY's own rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "sim/cmd/commands.h"
#include "sim/json/json_value.h"

namespace kvmsim {
namespace {

struct Explained {
  int code;
  std::string out, err;
};

Explained explain(const std::string& backing, const std::string& gpa, const std::string& profile,
                  const std::string& format = "text", const std::string& more = "") {
  char tmpl[] = "/tmp/kvmsim-explain-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string file = dir + "/t.trace";
  std::ofstream(file) << "kvmsim-trace 1\nmem = mmap(2G, " << backing
                      << ", align=1G)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\nvcpu = KVM_CREATE_VCPU(vm, 0)\n"
                         "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=1G, memory_size=2G, "
                         "userspace_addr=mem}) = 0\n"
                      << more;
  ExplainArgs a;
  a.file = file;
  a.gpa = gpa;
  a.profile = profile;
  a.format = format;
  std::ostringstream out, err;
  const int code = run_explain(a, out, err);
  std::filesystem::remove_all(dir);
  return {code, out.str(), err.str()};
}

TEST(ExplainRule, HostThpRuleOfTheProfile) {
  const Explained r = explain("thp", "1G", "linux-7.3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("decided by: host_level - "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("profile linux-7.3: THP always, huge zero page on"), std::string::npos) << r.out;
}

TEST(ExplainRule, HardwareLimit) {
  const Explained r = explain("hugetlb_1g", "1G", "linux-7.3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("decided by: hardware - profile linux-7.3: hardware huge pages up to 1G"), std::string::npos)
      << r.out;
}

TEST(ExplainRule, MapMemoryRequestRuleOnTheRfcProfileInJson) {
  const Explained r = explain("anon_nohuge", "1G", "rfc-map-memory-v1", "json");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string error;
  auto j = parse_json(r.out, &error);
  ASSERT_TRUE(j) << error << r.out;
  const JsonValue* d = j->get("decision");
  ASSERT_TRUE(d && d->get("decided_by")) << r.out;
  EXPECT_EQ(d->get("decided_by")->str("rule"), "host_level");
  EXPECT_EQ(d->get("decided_by")->str("level"), "4K");
  bool request = false;
  for (const JsonValue& f : j->get("factors")->items) request |= f.str("rule") == "request";
  EXPECT_TRUE(request) << r.out;
  // A 4K leaf mapped by a one-page KVM_MAP_MEMORY where a read fault would map 2M: the verdict names the rule.
  const Explained leaf = explain("thp", "1G", "rfc-map-memory-v1", "text", "KVM_MAP_MEMORY(vcpu, {base_gfn=0x40000, nr_pages=1}) = 0\n");
  EXPECT_NE(leaf.out.find("leaf is 4K but a read fault now would map 2M: it was mapped under other conditions (a "
                          "KVM_MAP_MEMORY request (rule request)"),
            std::string::npos)
      << leaf.out;
  // A profile without KVM_MAP_MEMORY has no such factor.
  EXPECT_EQ(explain("anon_nohuge", "1G", "linux-7.3").out.find("    request:"), std::string::npos);
}

}  // namespace
}  // namespace kvmsim
