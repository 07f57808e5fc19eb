// kvmsim compare (sim/compare/compare.h, sim/cmd/compare_cmd.cpp): agreement, difference,
// translation (KVM_PRE_FAULT_MEMORY <-> KVM_MAP_MEMORY, upstream guest_memfd -> private-fd v5), and bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "sim/cmd/commands.h"
#include "sim/compare/compare.h"
#include "sim/compare/translations.h"
#include "sim/json/json_value.h"
#include "sim/trace/build.h"
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
  namespace b = trace::build;
  const trace::Statement pre_fault = b::call("KVM_PRE_FAULT_MEMORY", {b::value(b::handle("vcpu")), b::record({})});
  const trace::Statement map_memory = b::call("KVM_MAP_MEMORY", {b::value(b::handle("vcpu")), b::record({})});
  EXPECT_EQ(compare::translation_for(pre_fault, *linux), nullptr);
  EXPECT_EQ(compare::translation_for(map_memory, *rfc), nullptr);
  const compare::Translation* row = compare::translation_for(map_memory, *linux);
  ASSERT_NE(row, nullptr);
  ASSERT_NE(compare::translation_for(pre_fault, *rfc), nullptr);
  std::vector<std::string> notes;
  const compare::FieldValues record = {{"base_gfn", 0x40001}, {"nr_pages", 512}, {"flags", 1}};
  const compare::TranslationState state;
  const auto t = compare::translate(*row, {map_memory, record, *linux, state}, &notes);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->callee, "KVM_PRE_FAULT_MEMORY");
  const auto& fields = t->args.at(1).fields;
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "gpa");
  EXPECT_EQ(trace::evaluate(fields[0].value.expr).value, 0x40001ull << 12);  // spelled 1G+4K
  EXPECT_EQ(trace::evaluate(fields[1].value.expr).value, 2ull << 20);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("KVM_MEMORY_MAPPING_FLAG_WRITE"), std::string::npos);
}

// Upstream guest_memfd written the v5 way: the VM type, the file, the binding and the attribute each
// become what private-fd-v5 has, handle names intact; where the intents part, compare says so.
TEST_F(CompareTest, UpstreamPrivateMemoryRunsAsTheV5Form) {
  const std::string f = write("a.trace",
                              "kvmsim-trace 1\nshared = mmap(4M, thp)\nvm = KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)\n"
                              "vcpu = KVM_CREATE_VCPU(vm, 0)\ngmem = KVM_CREATE_GUEST_MEMFD(vm, {size=4M})\n"
                              "KVM_SET_USER_MEMORY_REGION2(vm, {slot=0, flags=KVM_MEM_GUEST_MEMFD, "
                              "guest_phys_addr=0, memory_size=2M, userspace_addr=shared, guest_memfd=gmem, "
                              "guest_memfd_offset=2M}) = 0\n"
                              "KVM_SET_USER_MEMORY_REGION2(vm, {slot=1, flags=KVM_MEM_GUEST_MEMFD|KVM_MEM_READONLY, "
                              "guest_phys_addr=1G, memory_size=2M, userspace_addr=shared+2M, guest_memfd=gmem, "
                              "guest_memfd_offset=0})\n"
                              "KVM_SET_MEMORY_ATTRIBUTES(vm, {address=4K, size=8K, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE})\n"
                              "KVM_SET_MEMORY_ATTRIBUTES(vm, {address=1M, size=2M, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE})\n"
                              "access(vcpu, 4K, read) = ok\n");
  const Result r = compare("linux-7.3-swprot,private-fd-v5", {f});
  EXPECT_EQ(r.code, kExitMismatch) << r.out << r.err;
  for (const char* want : {
           "private-fd-v5 has no KVM_X86_SW_PROTECTED_VM; ran vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n",
           "private-fd-v5 has no KVM_CREATE_GUEST_MEMFD; ran gmem = memfd_create(4M, flags=MFD_INACCESSIBLE)\n",
           "ran KVM_SET_USER_MEMORY_REGION(vm, {slot=0, flags=KVM_MEM_PRIVATE, guest_phys_addr=0, "
           "memory_size=2M, userspace_addr=shared, private_fd=gmem, private_offset=2M})\n",
           // Upstream refuses read-only guest_memfd slots (check_memory_region_flags()); v5 did not.
           "ran KVM_SET_USER_MEMORY_REGION(vm, {slot=1, flags=KVM_MEM_PRIVATE|KVM_MEM_READONLY, guest_phys_addr=1G, "
           "memory_size=2M, userspace_addr=shared+2M, private_fd=gmem, private_offset=0})\n  result\n"
           "    linux-7.3-swprot: -1 EINVAL\n    private-fd-v5: 0\n",
           // The slot's gfn 1 is page 1 of the slot's range of the file, which starts at 2M.
           "private-fd-v5 has no KVM_SET_MEMORY_ATTRIBUTES; ran fallocate(gmem, 0, 2M+4K, 8K)\n",
           // [1M, 3M) runs past the slot: no one file range holds it.
           "private-fd-v5 has no KVM_SET_MEMORY_ATTRIBUTES; not translated\n    note: not translated: [1M, +2M) is not "
           "inside one slot bound to a private file",
           // Private in both; only upstream can take a private fault on x86.
           "result\n    linux-7.3-swprot: ok\n    private-fd-v5: memory_error {flags=0, gpa=4K, size=4K}"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  EXPECT_NE(r.out.find("(linux-7.3-swprot vs private-fd-v5: 9 statements, 3 differ, 5 translated)"),
            std::string::npos)
      << r.out;
  const Result j = compare("linux-7.3-swprot,private-fd-v5", {f}, "json");
  std::string error;
  auto doc = parse_json(j.out, &error);
  ASSERT_TRUE(doc) << error << j.out;
  const JsonValue& rows = *doc->get("traces")->items.at(0).get("rows");
  EXPECT_EQ(rows.items.at(0).get("sides")->items.at(1).str("lacks"), "KVM_X86_SW_PROTECTED_VM");
  EXPECT_EQ(rows.items.at(0).get("sides")->items.at(0).get("lacks")->kind, JsonValue::Kind::null);
}

// A REGION2 without guest_memfd is the v1 call with the same fields: no note, the same answers.
TEST_F(CompareTest, PlainRegion2RunsAsRegionWhereItIsMissing) {
  const std::string f = write("a.trace",
                              "kvmsim-trace 1\nmem = mmap(4M, thp)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
                              "KVM_SET_USER_MEMORY_REGION2(vm, {slot=0, guest_phys_addr=1G, memory_size=4M, "
                              "userspace_addr=mem}) = 0\n");
  const Result r = compare("linux-7.3,linux-6.1", {f});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("linux-6.1 has no KVM_SET_USER_MEMORY_REGION2; ran KVM_SET_USER_MEMORY_REGION(vm, {slot=0, "
                       "guest_phys_addr=1G, memory_size=4M, userspace_addr=mem})\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("note:"), std::string::npos) << r.out;
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
