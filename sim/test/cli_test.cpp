// End-to-end tests of the kvmsim binary: exit codes are part of the API (README "Exit codes").
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "model/profiles/profile.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/json/json_value.h"

namespace {

namespace fs = std::filesystem;

struct Run {
  int code;
  std::string out;  // stdout and stderr together
};

Run run(const std::string& args) {
  std::string cmd = std::string(KVMSIM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return Run{WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kvmsim-cli-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const char* kGood =
    "kvmsim-trace 1\n"
    "profile linux-6.18\n"
    "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
    "KVM_SET_USER_MEMORY_REGION(vm, {slot=5, memory_size=0}) = -1 EINVAL  # never existed\n";

TEST(Cli, VersionAndHelpExitZero) {
  auto v = run("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("kvmsim "), std::string::npos);
  EXPECT_EQ(run("--help").code, 0);
  EXPECT_EQ(run("replay --help").code, 0);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").code, kvmsim::kExitUsage);
  EXPECT_EQ(run("frobnicate").code, kvmsim::kExitUsage);
  EXPECT_EQ(run("replay").code, kvmsim::kExitUsage);
  EXPECT_EQ(run("replay --format xml x.trace").code, kvmsim::kExitUsage);
  EXPECT_EQ(run("replay /nonexistent/file.trace").code, kvmsim::kExitUsage);
  EXPECT_EQ(run("caps --profile linux-0.1").code, kvmsim::kExitUsage);
  TempDir d;
  EXPECT_EQ(run("replay --backend nosuch " + d.write("g.trace", kGood)).code, kvmsim::kExitUsage);
  // Issue 16: a FIFO or a device is refused by its kind in one line, without opening it (no hang).
  const std::string fifo = d.path() + "/pipe.trace";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto f = run("replay " + fifo);
  EXPECT_EQ(f.code, kvmsim::kExitUsage) << f.out;
  EXPECT_NE(f.out.find(fifo + ": not a regular file or directory (a FIFO)"), std::string::npos) << f.out;
  auto dev = run("replay /dev/null");
  EXPECT_EQ(dev.code, kvmsim::kExitUsage) << dev.out;
  EXPECT_NE(dev.out.find("/dev/null: not a regular file or directory (a character device)"), std::string::npos)
      << dev.out;
  // Issue 16: an unknown backend in a fuzz pair is a usage error (2), not "cannot run here" (77).
  auto fuzz = run("fuzz --seed 1 --steps 10 --backend model,foo");
  EXPECT_EQ(fuzz.code, kvmsim::kExitUsage) << fuzz.out;
  EXPECT_NE(fuzz.out.find("unknown backend 'foo'"), std::string::npos) << fuzz.out;
  EXPECT_EQ(run("fuzz --seed 0x5eed79fb4fb9 --steps 10 --backend model,model").code, 0);
}

TEST(Cli, PassingTraceExitsZeroWithOneLineSummary) {
  TempDir d;
  auto r = run("replay " + d.write("g.trace", kGood));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("PASS "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 passed, 0 failed"), std::string::npos) << r.out;
}

TEST(Cli, MismatchExitsOneAndNamesFileAndLine) {
  TempDir d;
  std::string bad = kGood;
  bad.replace(bad.find("-1 EINVAL"), 9, "0");
  auto file = d.write("m.trace", bad);
  auto r = run("replay " + file);
  EXPECT_EQ(r.code, kvmsim::kExitMismatch) << r.out;
  EXPECT_NE(r.out.find(file + ":4: expected 0, got -1 EINVAL"), std::string::npos) << r.out;
}

TEST(Cli, DivergencesOnlyPassesAPairThatAgreesOnAFailingTrace) {
  TempDir d;
  std::string bad = kGood;
  bad.replace(bad.find("-1 EINVAL"), 9, "0");
  auto file = d.write("m.trace", bad);
  auto strict = run("replay --backend model,model " + file);
  EXPECT_EQ(strict.code, kvmsim::kExitMismatch) << strict.out;
  auto agree = run("replay --backend model,model --divergences-only " + file);
  EXPECT_EQ(agree.code, 0) << agree.out;
  EXPECT_NE(agree.out.find("AGREE " + file), std::string::npos) << agree.out;
  EXPECT_EQ(run("replay --divergences-only " + file).code, kvmsim::kExitUsage);
}

TEST(Cli, MalformedInputExitsTwoWithFileLineCol) {
  TempDir d;
  struct Case {
    const char* name;
    const char* text;
    const char* where;
  } cases[] = {
      {"a.trace", "kvmsim-trace 1\nvm = KVM_CREATE_VM(NOT_A_CONSTANT)\n", "a.trace:2:"},
      {"b.trace", "kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nKVM_CREATE_GUEST_MEMFD(vm, {size=18446744073709551616})\n",
       "b.trace:3:"},
      {"c.trace", "kvmsim-trace 1\nKVM_CHECK_EXTENSION(nobody, 1) = 0\n", "c.trace:2:"},
      {"d.trace", "kvmsim-trace 2\n", "d.trace:1:"},
      {"e.trace", "kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nKVM_SET_USER_MEMORY_REGION(vm, {slot=1, bogus=2})\n",
       "e.trace:3:"},
      {"f.trace", "\x01\x02\xff\xfe binary\n", "f.trace:1:"},
  };
  for (const auto& c : cases) {
    auto r = run("replay " + d.write(c.name, c.text));
    EXPECT_EQ(r.code, kvmsim::kExitUsage) << c.name << ": " << r.out;
    EXPECT_NE(r.out.find(c.where), std::string::npos) << c.name << ": " << r.out;
  }
  auto r = run("replay " + d.write("p.trace", "kvmsim-trace 1\nprofile linux-0.1\n"));
  EXPECT_EQ(r.code, kvmsim::kExitUsage);
  EXPECT_NE(r.out.find("p.trace:2: unknown profile 'linux-0.1'"), std::string::npos) << r.out;
}

TEST(Cli, NothingToRunExits77) {
  TempDir d;
  fs::create_directory(d.path() + "/empty");
  EXPECT_EQ(run("replay " + d.path() + "/empty").code, kvmsim::kExitNothingRan);
}

TEST(Cli, UpdateWritesActualResultsKeepingComments) {
  TempDir d;
  auto file = d.write("u.trace",
                      "kvmsim-trace 1\n# keep me\nvm = KVM_CREATE_VM(0)\nKVM_CHECK_EXTENSION(vm, "
                      "KVM_CAP_NR_MEMSLOTS)   # and me\n");
  EXPECT_EQ(run("replay --update " + file).code, 0);
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("# keep me\n"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("KVM_CAP_NR_MEMSLOTS) = 32764"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("# and me"), std::string::npos) << ss.str();
}

// Streamed replay: a parse error found after statements already ran still makes the trace
// malformed (exit 2, no PASS/FAIL line) and --update leaves it untouched, without a stray copy.
TEST(Cli, StreamedUpdateLeavesAMalformedTraceAlone) {
  TempDir d;
  const std::string text = "kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nKVM_CHECK_EXTENSION(vm, KVM_CAP_NR_MEMSLOTS)\nmunmap(0, 4Q)\n";
  auto file = d.write("m.trace", text);
  auto r = run("replay --update " + file);
  EXPECT_EQ(r.code, kvmsim::kExitUsage) << r.out;
  EXPECT_NE(r.out.find("m.trace:4:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), text);
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()), 1);
}

// -v lists every statement under the head line, in trace order, problems included.
TEST(Cli, VerboseListsEveryStatementInOrder) {
  TempDir d;
  auto file = d.write("v.trace",
                      "kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nKVM_CHECK_EXTENSION(vm, KVM_CAP_NR_MEMSLOTS) = 1\n"
                      "KVM_CHECK_EXTENSION(vm, KVM_CAP_NR_MEMSLOTS)\n");
  auto r = run("replay -v " + file);
  EXPECT_EQ(r.code, kvmsim::kExitMismatch) << r.out;
  const auto head = r.out.find("FAIL "), l2 = r.out.find("v.trace:2: matched"),
             l3 = r.out.find("v.trace:3: expected 1, got 32764"), l4 = r.out.find("v.trace:4: unchecked: 32764");
  ASSERT_NE(head, std::string::npos) << r.out;
  ASSERT_NE(l2, std::string::npos) << r.out;
  ASSERT_NE(l3, std::string::npos) << r.out;
  ASSERT_NE(l4, std::string::npos) << r.out;
  EXPECT_LT(head, l2);
  EXPECT_LT(l2, l3);
  EXPECT_LT(l3, l4);
}

TEST(Cli, CapsAndProfiles) {
  auto r = run("caps --profile linux-6.18-pvm");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("KVM_CAP_NR_MEMSLOTS"), std::string::npos) << r.out;
  auto p = run("profiles");
  EXPECT_EQ(p.code, 0);
  EXPECT_NE(p.out.find("linux-6.1\t"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("rfc-map-memory-v1\t"), std::string::npos) << p.out;
  // Cap 236 is KVM_CAP_MAP_MEMORY on the RFC's profile, KVM_CAP_PRE_FAULT_MEMORY upstream.
  auto rfc = run("caps --profile rfc-map-memory-v1");
  EXPECT_NE(rfc.out.find("KVM_CAP_MAP_MEMORY "), std::string::npos) << rfc.out;
  EXPECT_EQ(rfc.out.find("KVM_CAP_PRE_FAULT_MEMORY"), std::string::npos) << rfc.out;
  EXPECT_NE(run("caps").out.find("KVM_CAP_PRE_FAULT_MEMORY"), std::string::npos);
}

// Every bundled golden trace holds on the model, and the report is byte-identical across runs.
TEST(GoldenTraces, AllHoldOnTheModelDeterministically) {
  // --quiet: the progress line is timed (after 5 s), so a slow build (sanitizers, load) would print it.
  auto a = run(std::string("--quiet replay ") + KVMSIM_SOURCE_DIR + "/traces");
  EXPECT_EQ(a.code, 0) << a.out;
  auto b = run(std::string("--quiet replay ") + KVMSIM_SOURCE_DIR + "/traces");
  EXPECT_EQ(a.out, b.out);
}

}  // namespace

namespace {

TEST(Cli, ExplainNamesTheRuleThatLimitedTheLevel) {
  auto r = run(std::string("explain ") + KVMSIM_SOURCE_DIR + "/traces/tdp/slot_alignment_head.trace --gpa 1G+4K");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("leaf: 4K"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("slot base gfn 0x40001 not 2M aligned"), std::string::npos) << r.out;
  auto huge = run(std::string("explain ") + KVMSIM_SOURCE_DIR + "/traces/tdp/slot_alignment_head.trace --gpa 1G+2M");
  EXPECT_NE(huge.out.find("leaf: 2M"), std::string::npos) << huge.out;
  // Before the pre-fault (line 10 creates the slot) nothing is mapped yet.
  auto early = run(std::string("explain ") + KVMSIM_SOURCE_DIR +
                   "/traces/tdp/slot_alignment_head.trace --gpa 1G+2M --at 10");
  EXPECT_EQ(early.code, 0) << early.out;
  EXPECT_EQ(early.out.find("leaf: 2M"), std::string::npos) << early.out;
  EXPECT_EQ(run("explain /nonexistent.trace --gpa 0").code, kvmsim::kExitUsage);
  EXPECT_EQ(run(std::string("explain ") + KVMSIM_SOURCE_DIR + "/traces/tdp/slot_alignment_head.trace --gpa NOPE").code,
            kvmsim::kExitUsage);
}

// Issue 16 item 3: `profiles --format json` parses and names every built-in profile.
TEST(Cli, ProfilesJsonParses) {
  auto r = run("profiles --format json 2>/dev/null");
  EXPECT_EQ(r.code, 0) << r.out;
  std::string error;
  auto v = kvmsim::parse_json(r.out, &error);
  ASSERT_TRUE(v) << error << "\n" << r.out;
  const kvmsim::JsonValue* list = v->get("profiles");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->items.size(), kvmsim::model::builtin_profiles().size());
  EXPECT_FALSE(list->items.at(0).str("name").empty());
}

// Issue 16: explain said "pfn from guest_memfd ... would map 4K" for a private gfn whose slot has no
// guest_memfd, where the trace itself asserts EFAULT and a memory-fault exit. The siblings: the slot's
// guest_memfd closed, the slot deleted.
TEST(Cli, ExplainPrivateMemoryThatCannotBeMapped) {
  auto r = run(std::string("explain ") + KVMSIM_SOURCE_DIR +
               "/traces/tdp/prefault_private_no_gmem_efault.trace --gpa 4M --at 20");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("would map"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("pfn from guest_memfd"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verdict: no leaf; a fault now is a memory-fault exit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("slot has no guest_memfd"), std::string::npos) << r.out;
  // The shared half of the same slot still maps.
  auto shared = run(std::string("explain ") + KVMSIM_SOURCE_DIR +
                    "/traces/tdp/prefault_private_no_gmem_efault.trace --gpa 2M --at 20");
  EXPECT_NE(shared.out.find("leaf is 2M"), std::string::npos) << shared.out;

  TempDir d;
  const std::string file = d.write("closed.trace",
                                   "kvmsim-trace 1\n"
                                   "profile linux-6.18\n"
                                   "mem = mmap(4M, thp)\n"
                                   "vm = KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)\n"
                                   "vcpu = KVM_CREATE_VCPU(vm, 0)\n"
                                   "gmem = KVM_CREATE_GUEST_MEMFD(vm, {size=4M})\n"
                                   "KVM_SET_USER_MEMORY_REGION2(vm, {slot=1, flags=KVM_MEM_GUEST_MEMFD, guest_phys_addr=0, "
                                   "memory_size=4M, userspace_addr=mem, guest_memfd=gmem, guest_memfd_offset=0}) = 0\n"
                                   "KVM_SET_MEMORY_ATTRIBUTES(vm, {address=0, size=4M, "
                                   "attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE}) = 0\n"
                                   "close(gmem) = 0\n"
                                   "KVM_SET_USER_MEMORY_REGION(vm, {slot=1, memory_size=0}) = 0\n");
  auto open = run("explain " + file + " --gpa 2M --at 8");
  EXPECT_NE(open.out.find("would map 4K"), std::string::npos) << "bound and open: guest_memfd maps 4K\n" << open.out;
  auto closed = run("explain " + file + " --gpa 2M --at 9");
  EXPECT_NE(closed.out.find("memory-fault exit"), std::string::npos) << closed.out;
  EXPECT_NE(closed.out.find("guest_memfd was closed"), std::string::npos) << closed.out;
  EXPECT_EQ(closed.out.find("would map"), std::string::npos) << closed.out;
  // --format json (docs/json.md): parses with the JSON room's reader and says the same.
  for (const std::string& at : {std::string("8"), std::string("9")}) {
    auto j = run("explain " + file + " --gpa 2M --at " + at + " --format json 2>/dev/null");
    EXPECT_EQ(j.code, 0) << j.out;
    std::string error;
    auto v = kvmsim::parse_json(j.out, &error);
    ASSERT_TRUE(v) << error << "\n" << j.out;
    EXPECT_EQ(v->str("outcome"), at == "8" ? "map" : "memory_fault") << j.out;
    EXPECT_EQ(v->str("gpa"), "0x200000");
    ASSERT_TRUE(v->get("decision"));
    EXPECT_EQ(v->get("decision")->kind == kvmsim::JsonValue::Kind::null, at == "9") << j.out;
  }
  auto deleted = run("explain " + file + " --gpa 2M");
  EXPECT_NE(deleted.out.find("memslot: none"), std::string::npos) << deleted.out;
  EXPECT_NE(deleted.out.find("no memslot: a private access is a memory fault"), std::string::npos) << deleted.out;
}

}  // namespace

namespace {

// `replay --backend kvm --update` records the kernel's own answers into a trace (issue: golden traces
// can be regenerated from a kernel); the recorded trace then holds on the kernel and on the model.
TEST(Cli, UpdateRecordsTheKernelsAnswers) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/kvm: cannot record from a kernel";
  TempDir d;
  auto file = d.write("rec.trace",
                      "kvmsim-trace 1\n"
                      "profile linux-6.18-pvm\n"
                      "mem = mmap(2M, anon_nohuge)\n"
                      "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
                      "vcpu = KVM_CREATE_VCPU(vm, 0)\n"
                      "KVM_CHECK_EXTENSION(vm, KVM_CAP_PRE_FAULT_MEMORY)\n"
                      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=0x100001, memory_size=4K, "
                      "userspace_addr=mem})\n"
                      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=1M, memory_size=2M, userspace_addr=mem})\n"
                      "access(vcpu, 1M+4K, write)\n"
                      "access(vcpu, 8M, read)\n"
                      "expect stats(vm) pages_4k=99 pages_2m=99\n");
  // The deliberately wrong stats expectation is a mismatch (exit 1) that --update then rewrites.
  auto rec = run("replay --backend kvm --update " + file);
  ASSERT_EQ(rec.code, kvmsim::kExitMismatch) << rec.out;
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  EXPECT_NE(text.find("KVM_CAP_PRE_FAULT_MEMORY) = 0"), std::string::npos) << text;
  EXPECT_NE(text.find("userspace_addr=mem}) = -1 EINVAL"), std::string::npos) << text;
  EXPECT_NE(text.find("access(vcpu, 1M+4K, write) = ok"), std::string::npos) << text;
  EXPECT_NE(text.find("access(vcpu, 8M, read) = mmio"), std::string::npos) << text;
  EXPECT_NE(text.find("pages_4k=1 pages_2m=0"), std::string::npos) << text;
  auto again = run("replay --backend kvm " + file);
  EXPECT_EQ(again.code, 0) << again.out;
  auto both = run("replay --backend both " + file);
  EXPECT_EQ(both.code, 0) << both.out;
}

}  // namespace

namespace {

// A backend that cannot start is the same one line and the same exit code in every subcommand (77, or
// 1 with --require-kvm), with no per-trace or per-case lines. A device path that cannot exist makes
// this hold on every host, with or without /dev/kvm.
TEST(Cli, UnavailableBackendIsOneLineEverywhere) {
  TempDir d;
  const std::string trace = d.write("g.trace", kGood);
  const std::string dev = " --kvm-device /nonexistent/kvm";
  const std::string line = "kvmsim: backend kvm unavailable: cannot open /nonexistent/kvm: No such file or directory\n";
  const std::vector<std::string> commands = {
      "replay --backend kvm " + trace + dev,
      "replay --backend both " + trace + dev,
      "conformance --backend kvm" + dev,
      "conformance --backend both --group vm" + dev,
      "fuzz --seed 1 --steps 100 --backend model,kvm" + dev,
      "probe --device /nonexistent/kvm",
  };
  for (const auto& c : commands) {
    auto r = run(c);
    const bool model_too = c.find("conformance --backend both") != std::string::npos;
    EXPECT_EQ(r.code, kvmsim::kExitNothingRan) << c << "\n" << r.out;
    EXPECT_NE(r.out.find(line), std::string::npos) << c << "\n" << r.out;
    EXPECT_EQ(r.out.find(line), r.out.rfind(line)) << "said once: " << c;
    EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << c << "\n" << r.out;
    EXPECT_EQ(r.out.find("SKIP kvm"), std::string::npos) << c << "\n" << r.out;
    EXPECT_EQ(r.out.find("SKIPPED kvm"), std::string::npos) << c << "\n" << r.out;
    // The model side of `conformance --backend both` still runs and passes.
    if (model_too) {
      EXPECT_NE(r.out.find("conformance: "), std::string::npos) << r.out;
    }
    if (c.rfind("probe", 0) != 0) {
      auto req = run(c + " --require-kvm");
      EXPECT_EQ(req.code, kvmsim::kExitMismatch) << c << " --require-kvm\n" << req.out;
      EXPECT_NE(req.out.find(line), std::string::npos) << req.out;
    }
  }
  // JSON stays one document on stdout.
  std::ostringstream out, err;
  kvmsim::ProbeArgs pa;
  pa.format = "json";
  pa.device = "/nonexistent/kvm";
  EXPECT_EQ(kvmsim::run_probe(pa, out, err), kvmsim::kExitNothingRan);
  EXPECT_EQ(out.str(),
            "{\"schema\": 1, \"unavailable\": {\"backend\": \"kvm\", \"reason\": \"cannot open /nonexistent/kvm: No such "
            "file or directory\"}}\n");
  EXPECT_EQ(err.str(), line);
}

// A batch failure of a whole conformance run on a model that fails: a real failure beats exit 77.
TEST(Cli, UnavailableBackendDoesNotHideFailures) {
  auto r = run("conformance --backend both --group vm --profile linux-0.1 --kvm-device /nonexistent/kvm");
  EXPECT_EQ(r.code, kvmsim::kExitUsage) << r.out;
}

// `replay -` reads the trace from stdin and names it <stdin> in FILE:LINE:COL (issue 16: "traces cannot be
// read from stdin"); `--update` cannot write back there.
TEST(Cli, ReplayReadsStdin) {
  TempDir d;
  const std::string good = d.write("good.trace", kGood);
  const std::string bad = d.write("bad.trace", "kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\ntouch(1<2, 0)\n");
  auto ok = run("replay - < " + good);
  EXPECT_EQ(ok.code, kvmsim::kExitOk) << ok.out;
  EXPECT_NE(ok.out.find("PASS <stdin> ["), std::string::npos) << ok.out;
  auto err = run("replay - < " + bad);
  EXPECT_EQ(err.code, kvmsim::kExitUsage) << err.out;
  EXPECT_NE(err.out.find("<stdin>:3:8: unexpected character '<'"), std::string::npos) << err.out;
  auto update = run("replay --update - < " + good);
  EXPECT_EQ(update.code, kvmsim::kExitUsage) << update.out;
  EXPECT_NE(update.out.find("--update cannot write results back to standard input"), std::string::npos) << update.out;
}

// A host header that the parser refuses is FILE:LINE:COL and exit 2; one the model cannot replay (shmem THP)
// is FILE:LINE and exit 2, never silently ignored.
TEST(Cli, BadHostHeadersAreUsageErrors) {
  TempDir d;
  auto bad = run("replay " + d.write("h.trace", "kvmsim-trace 1\nprofile linux-6.18\nhost thp=sometimes\n"));
  EXPECT_EQ(bad.code, kvmsim::kExitUsage) << bad.out;
  EXPECT_NE(bad.out.find("h.trace:3:10: expected thp (one of always, madvise, never), got 'sometimes'"),
            std::string::npos)
      << bad.out;
  auto shmem = run("replay " + d.write("s.trace", "kvmsim-trace 1\nhost shmem_thp=force\n"));
  EXPECT_EQ(shmem.code, kvmsim::kExitUsage) << shmem.out;
  EXPECT_NE(shmem.out.find("s.trace:2: host shmem_thp=force: the model maps shmem and memfd at 4K only"),
            std::string::npos)
      << shmem.out;
}

// The host header changes what the model does: the same statements map 2M under the profile's `always` and
// 4K under `host thp=never` (traces/host/ hold the recorded versions).
TEST(Cli, HostHeaderOverridesTheProfilesThpPolicy) {
  TempDir d;
  const std::string body =
      "m = mmap(2M, anon)\ntouch(m, 2M) = 0\nvm = KVM_CREATE_VM(0)\nvcpu = KVM_CREATE_VCPU(vm, 0)\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=1G, memory_size=2M, userspace_addr=m}) = 0\n"
      "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=1G, size=2M}) = 0\n";
  auto always = run("replay " + d.write("a.trace", "kvmsim-trace 1\nprofile linux-6.18\n" + body +
                                                     "expect mapping(vm, 1G) level=2M\n"));
  EXPECT_EQ(always.code, kvmsim::kExitOk) << always.out;
  auto never = run("replay " + d.write("n.trace", "kvmsim-trace 1\nprofile linux-6.18\nhost thp=never\n" + body +
                                                    "expect mapping(vm, 1G) level=4K\n"));
  EXPECT_EQ(never.code, kvmsim::kExitOk) << never.out;
}

}  // namespace
