// kvmsim compare (sim/compare/compare.h, sim/cmd/compare_cmd.cpp): agreement, difference,
// translation between KVM_PRE_FAULT_MEMORY and KVM_MAP_MEMORY, and bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "sim/cmd/commands.h"
#include "sim/compare/compare.h"
#include "sim/compare/translations.h"
#include "sim/json/json_value.h"
#include "sim/trace/eval.h"

namespace kvmsim {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out, err;
};

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kvmsim-compare-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string p = dir_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  Result compare(const std::string& profiles, const std::vector<std::string>& files, const std::string& format = "text") {
    CompareArgs a;
    a.profiles = profiles;
    a.files = files;
    a.format = format;
    std::ostringstream out, err;
    const int code = run_compare(a, out, err);
    return {code, out.str(), err.str()};
  }
  std::string dir_;
};

const char* kSetup =
    "kvmsim-trace 1\n"
    "mem = mmap(8M, thp)\n"
    "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
    "vcpu = KVM_CREATE_VCPU(vm, 0)\n"
    "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=1G, memory_size=8M, userspace_addr=mem}) = 0\n";

TEST_F(CompareTest, SameProfileAgrees) {
  const std::string f = write("a.trace", std::string(kSetup) + "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=1G, size=4K})\n");
  const Result r = compare("linux-7.3,linux-7.3", {f});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("AGREE (linux-7.3 vs linux-7.3: 5 statements, 0 differ, 0 translated)"), std::string::npos) << r.out;
}

TEST_F(CompareTest, ProfilesThatAgreeOnATraceExitZero) {
  // A 4K-only anon mapping: both kernels pre-fault one 4K page, identically.
  const std::string f = write("a.trace",
                              "kvmsim-trace 1\nmem = mmap(2M, anon_nohuge)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
                              "vcpu = KVM_CREATE_VCPU(vm, 0)\n"
                              "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=1G, memory_size=2M, "
                              "userspace_addr=mem}) = 0\nKVM_PRE_FAULT_MEMORY(vcpu, {gpa=1G, size=4K})\n");
  const Result r = compare("linux-7.3,linux-6.18", {f});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
}

// The RFC's level comes from the request (4K for one page); pre-fault maps the 2M huge zero page,
// beyond the requested range. The KVM_PRE_FAULT_MEMORY the RFC profile lacks runs translated.
TEST_F(CompareTest, TranslatesAndReportsLeavesBeyondTheRange) {
  const std::string f = write("a.trace", std::string(kSetup) + "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=1G, size=4K})\n");
  const Result r = compare("linux-7.3,rfc-map-memory-v1", {f});
  EXPECT_EQ(r.code, kExitMismatch) << r.out << r.err;
  EXPECT_NE(r.out.find("rfc-map-memory-v1 has no KVM_PRE_FAULT_MEMORY; ran KVM_MAP_MEMORY(vcpu, {base_gfn=0x40000, "
                       "nr_pages=1})"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("mapped beyond the requested range (vm)\n    linux-7.3: [1G+4K, 1G+2M) 2M r-x shared\n"
                       "    rfc-map-memory-v1: none"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("installed (vm)\n    linux-7.3: [1G, 1G+2M) 2M r-x shared\n    rfc-map-memory-v1: [1G, "
                       "1G+4K) 4K r-x shared"),
            std::string::npos)
      << r.out;
  // Written-back fields are compared in the original's names: both wrote back {gpa=1G+4K, size=0}.
  EXPECT_EQ(r.out.find("  result\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("DIFFER (linux-7.3 vs rfc-map-memory-v1: 5 statements, 1 differ, 1 translated)"),
            std::string::npos);
}

TEST_F(CompareTest, ErrnoDifferenceAndDroppedIntentAreReported) {
  const std::string f = write("a.trace", std::string(kSetup) +
                                             "KVM_MAP_MEMORY(vcpu, {base_gfn=0x40800, nr_pages=1})\n"
                                             "KVM_MAP_MEMORY(vcpu, {base_gfn=0x40400, nr_pages=1, source=0x10000})\n");
  const Result r = compare("linux-7.3,rfc-map-memory-v1", {f});
  EXPECT_EQ(r.code, kExitMismatch) << r.out << r.err;
  EXPECT_NE(r.out.find("result\n    linux-7.3: -1 ENOENT => {base_gfn=0x40800, nr_pages=1, source=0}\n"
                       "    rfc-map-memory-v1: -1 EFAULT => {base_gfn=0x40800, nr_pages=1, source=0}"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("note: source=64K has no KVM_PRE_FAULT_MEMORY equivalent: dropped"), std::string::npos) << r.out;
}

TEST_F(CompareTest, JsonIsOneDocumentWithTheRows) {
  const std::string f = write("a.trace", std::string(kSetup) + "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=1G, size=4K})\n");
  const Result r = compare("linux-7.3,rfc-map-memory-v1", {f}, "json");
  EXPECT_EQ(r.code, kExitMismatch);
  std::string error;
  auto j = parse_json(r.out, &error);
  ASSERT_TRUE(j) << error << r.out;
  EXPECT_EQ(j->get("agree")->boolean, false);
  const JsonValue& t = j->get("traces")->items.at(0);
  EXPECT_EQ(t.integer("translated"), 1);
  const JsonValue& row = t.get("rows")->items.at(0);
  EXPECT_EQ(row.integer("line"), 6);
  EXPECT_EQ(row.get("sides")->items.at(1).str("translated"), "KVM_MAP_MEMORY(vcpu, {base_gfn=0x40000, nr_pages=1})");
  // Deterministic: the same run prints the same bytes.
  EXPECT_EQ(compare("linux-7.3,rfc-map-memory-v1", {f}, "json").out, r.out);
}

TEST_F(CompareTest, TranslationRowsComeFromProfileData) {
  const model::Profile* linux = model::find_profile("linux-7.3");
  const model::Profile* rfc = model::find_profile("rfc-map-memory-v1");
  ASSERT_TRUE(linux && rfc);
  EXPECT_EQ(compare::translation_for("KVM_PRE_FAULT_MEMORY", *linux), nullptr);
  EXPECT_EQ(compare::translation_for("KVM_MAP_MEMORY", *rfc), nullptr);
  ASSERT_NE(compare::translation_for("KVM_MAP_MEMORY", *linux), nullptr);
  ASSERT_NE(compare::translation_for("KVM_PRE_FAULT_MEMORY", *rfc), nullptr);
  std::vector<std::string> notes;
  const auto fields = compare::translation_for("KVM_MAP_MEMORY", *linux)
                          ->rewrite({{"base_gfn", 0x40001}, {"nr_pages", 512}, {"flags", 1}}, &notes);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "gpa");
  EXPECT_EQ(trace::evaluate(fields[0].value.expr).value, 0x40001ull << 12);  // spelled 1G+4K
  EXPECT_EQ(trace::evaluate(fields[1].value.expr).value, 2ull << 20);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("KVM_MEMORY_MAPPING_FLAG_WRITE"), std::string::npos);
}

TEST_F(CompareTest, BadInputIsExitTwo) {
  const std::string good = write("a.trace", std::string(kSetup));
  Result r = compare("linux-7.3,no-such-profile", {good});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("unknown profile 'no-such-profile'"), std::string::npos) << r.err;
  r = compare("linux-7.3", {good});
  EXPECT_EQ(r.code, kExitUsage);
  const std::string bad = write("bad.trace", "kvmsim-trace 1\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\nKVM_BOGUS(vm)\n");
  r = compare("linux-7.3,rfc-map-memory-v1", {good, bad});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(r.out.empty()) << r.out;  // nothing ran
  EXPECT_NE(r.err.find(bad + ":3:1: "), std::string::npos) << r.err;
  r = compare("linux-7.3,rfc-map-memory-v1", {dir_ + "/missing.trace"});
  EXPECT_EQ(r.code, kExitUsage);
}

}  // namespace
}  // namespace kvmsim
