// The nested TDP oracle (docs/nested.md): the traces/nested set is well formed and written for linux-6.12,
// the linux-6.12 profile still answers what the real 6.12 guest recorded in caps_probe.trace, and, when
// scripts/nested/setup.sh has cached the pinned kernel in this build directory, one real boot replays
// the probe on the guest (≈10-30 s). Without the cache that test skips and says why.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "sim/differential.h"
#include "sim/json/json_value.h"
#include "sim/nested/nested_runner.h"
#include "sim/replay.h"
#include "sim/replay_json.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

namespace fs = std::filesystem;

struct ShellResult {
  int code;
  std::string out;
};

ShellResult run_shell(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  EXPECT_NE(p, nullptr);
  if (!p) return ShellResult{-1, ""};
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return ShellResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const fs::path kNestedTraces = fs::path(KVMSIM_SOURCE_DIR) / "traces" / "nested";

TEST(NestedTraces, ParseAndTargetAnOracleFlavour) {
  int count = 0, swprot = 0;
  for (const auto& e : fs::directory_iterator(kNestedTraces)) {
    if (e.path().extension() != ".trace") continue;
    ++count;
    auto parsed = trace::parse(slurp(e.path()), e.path().string());
    auto* t = std::get_if<trace::Trace>(&parsed);
    ASSERT_NE(t, nullptr) << std::get<trace::ParseError>(parsed).str();
    ASSERT_TRUE(t->profile.has_value()) << e.path();
    EXPECT_TRUE(nested::is_flavour(*t->profile)) << e.path() << ": " << *t->profile;
    if (*t->profile == "linux-6.12-swprot") ++swprot;
  }
  EXPECT_GE(count, 15);  // issue 5: at least 15 golden traces paired with the oracle
  EXPECT_GE(swprot, 6);  // private memory: attributes, mixed regions, gmem 4K, EFAULT exit, partial progress
}

TEST(NestedRunner, FlavoursAndModuleParameters) {
  EXPECT_EQ(nested::kernel_flavour("linux-6.12"), "linux-6.12");
  EXPECT_EQ(nested::kernel_flavour("linux-6.12-swprot"), "linux-6.12-swprot");
  EXPECT_EQ(nested::kernel_flavour("linux-6.12-nx"), "linux-6.12");
  EXPECT_EQ(nested::kernel_flavour("linux-6.18"), "");
  EXPECT_FALSE(nested::is_flavour("linux-6.18-pvm"));
  for (const auto& f : nested::flavours()) ASSERT_NE(model::find_profile(f), nullptr) << f;
  EXPECT_EQ(nested::kvm_module_params(*model::find_profile("linux-6.12")), "nx_huge_pages=N eager_page_split=Y");
  EXPECT_EQ(nested::kvm_module_params(*model::find_profile("linux-6.12-nx")),
            "nx_huge_pages=force eager_page_split=Y");
  EXPECT_EQ(nested::kvm_amd_module_params(*model::find_profile("linux-6.12")), "npt=1");
  EXPECT_EQ(nested::kvm_amd_module_params(*model::find_profile("linux-6.12-shadow")), "npt=0");
}

TEST(NestedJson, ParsesValuesAndRejectsGarbage) {
  std::string error;
  auto v = parse_json(R"( {"a": [1, -2.5e1, true, null], "s": "x\"\n\u00e9", "o": {}} )", &error);
  ASSERT_TRUE(v) << error;
  ASSERT_EQ(v->get("a")->items.size(), 4u);
  EXPECT_EQ(v->get("a")->items[0].text, "1");
  EXPECT_EQ(v->get("a")->items[1].number, -25);
  EXPECT_TRUE(v->get("a")->items[2].boolean);
  EXPECT_EQ(v->str("s"), "x\"\n\xc3\xa9");
  EXPECT_EQ(v->get("missing"), nullptr);
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"\\q\"", "1 2", "tru"}) {
    EXPECT_FALSE(parse_json(bad, &error)) << bad;
    EXPECT_NE(error.find("offset"), std::string::npos) << bad;
  }
}

const char* kSmallTrace =
    "kvmsim-trace 1\n"
    "profile linux-6.12\n"
    "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
    "KVM_CHECK_EXTENSION(vm, KVM_CAP_PRE_FAULT_MEMORY) = 1\n"
    "KVM_CREATE_GUEST_MEMFD(vm, {size=2M}) = -1 ENOTTY\n";

trace::Trace small_trace() {
  auto parsed = trace::parse(kSmallTrace, "small.trace");
  return std::get<trace::Trace>(parsed);
}

ReplayReport model_report(const trace::Trace& t) {
  model::Kvm kvm(*model::find_profile("linux-6.12"));
  return replay(t, kvm, ReplayOptions{});
}

// The guest's report travels as ReplayReport::json(); reading it back must give the same statements.
TEST(NestedRunner, ReplayReportRoundTripsThroughJson) {
  trace::Trace t = small_trace();
  ReplayReport r = model_report(t);
  std::string error;
  auto v = parse_json(r.json(), &error);
  ASSERT_TRUE(v) << error;
  auto back = replay_report_from_json(*v, "host/small.trace", &error);
  ASSERT_TRUE(back) << error;
  ASSERT_EQ(back->results.size(), r.results.size());
  for (std::size_t i = 0; i < r.results.size(); i++) {
    EXPECT_EQ(back->results[i].line, r.results[i].line);
    EXPECT_EQ(back->results[i].actual, r.results[i].actual);
    EXPECT_EQ(back->results[i].status, r.results[i].status);
  }
  EXPECT_EQ(back->counts.matched, r.counts.matched);
  EXPECT_EQ(back->file, "host/small.trace");
}

TEST(DiffRecorded, SameAnswersAgreeOtherAnswersDiverge) {
  trace::Trace t = small_trace();
  ReplayReport a = model_report(t), b = model_report(t);
  b.backend = "nested";
  DiffReport same = diff_recorded(t, a, b);
  EXPECT_TRUE(same.ok()) << same.text();
  EXPECT_EQ(same.divergences, 0u);

  b.results[1].actual = "0";  // the oracle says the cap is absent
  b.results[1].status = StepStatus::mismatch;
  DiffReport d = diff_recorded(t, a, b);
  EXPECT_FALSE(d.ok());
  ASSERT_TRUE(d.first);
  EXPECT_EQ(d.first->line, 4);
  EXPECT_EQ(d.first->a_actual, "1");
  EXPECT_EQ(d.first->b_actual, "0");

  // A statement one side cannot observe is never a divergence.
  ReplayReport c = model_report(t);
  c.results[2].status = StepStatus::unobservable;
  c.results[2].actual = "whatever";
  EXPECT_EQ(diff_recorded(t, a, c).divergences, 0u);

  // A report cut short (the guest died mid-trace) diverges where it stops.
  ReplayReport cut = model_report(t);
  cut.results.resize(1);
  DiffReport dc = diff_recorded(t, a, cut);
  EXPECT_EQ(dc.divergences, 2u);
  ASSERT_TRUE(dc.first);
  EXPECT_EQ(dc.first->b_actual, "no result recorded");
}

TEST(NestedRunner, BootReportMapsTracesBackAndRefusesPartialReports) {
  trace::Trace t = small_trace();
  ReplayReport r = model_report(t);
  r.file = "/traces/000.trace";
  std::string report = R"({"schema": 1, "kernel_package": "linux-image-x=1", "busybox": "busybox-static=2",
    "qemu": "QEMU 7.2", "kvm_params": "nx_huge_pages=N", "guest": {"kvm.tdp_mmu": "Y"}, "boot_seconds": 3.5,
    "insmod_seconds": 0.6, "wall_seconds": 9.1, "traces": [{"file": "/x/small.trace", "exit": 0, "seconds": 0.12,
    "stderr": "", "replay": {"schema": 1, "reports": [)" +
                       r.json() + R"(], "passed": 1}}]})";
  nested::BootRun run;
  std::string error;
  ASSERT_TRUE(nested::parse_boot_report(report, {"traces/small.trace"}, &run, &error)) << error;
  ASSERT_EQ(run.traces.size(), 1u);
  ASSERT_TRUE(run.traces[0].report);
  EXPECT_EQ(run.traces[0].report->backend, "nested");
  EXPECT_EQ(run.traces[0].report->file, "traces/small.trace");
  EXPECT_EQ(run.boot_seconds, 3.5);
  EXPECT_NE(run.versions().find("linux-image-x=1"), std::string::npos);
  nested::BootRun two;
  EXPECT_FALSE(nested::parse_boot_report(report, {"a.trace", "b.trace"}, &two, &error));
  EXPECT_NE(error.find("covers 1 traces, 2 were requested"), std::string::npos) << error;
}

// A stand-in for run.sh whose guest never boots (exit 3 with the console tail), as a failing boot looks.
fs::path failing_run_script() {
  const fs::path script = fs::temp_directory_path() / ("kvmsim-nested-fake-run-" + std::to_string(::getpid()) + ".sh");
  std::ofstream o(script);
  o << "#!/bin/sh\necho 'run.sh: the guest never reached /init (no BEGIN marker)' >&2\n"
       "echo '---- console log tail' >&2\necho 'Kernel panic - not syncing' >&2\nexit 3\n";
  o.close();
  fs::permissions(script, fs::perms::owner_all);
  return script;
}

// A boot that fails is a test failure (exit 1) with the script's output, never a skip.
TEST(NestedCli, BootFailureIsAFailureWithTheLog) {
  const fs::path script = failing_run_script();
  ShellResult r = run_shell("KVMSIM_NESTED_RUN=" + script.string() + " " + KVMSIM_BINARY +
                            " replay --backend model,nested " + (kNestedTraces / "caps_probe.trace").string());
  ShellResult c = run_shell("KVMSIM_NESTED_RUN=" + script.string() + " " + KVMSIM_BINARY +
                            " conformance --backend model,nested --profile linux-6.12 --group vm");
  fs::remove(script);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("Kernel panic - not syncing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("Kernel panic - not syncing"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("FAILED nested/vm/"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("SKIPPED nested/"), std::string::npos) << c.out;
}

TEST(NestedCli, RefusesOtherProfilesAndOtherPairs) {
  ShellResult r = run_shell(std::string(KVMSIM_BINARY) + " replay --backend nested " + KVMSIM_SOURCE_DIR +
                            "/traces/tdp/level_backing_4k.trace");
  EXPECT_EQ(r.code, 77) << r.out;  // nothing ran
  EXPECT_NE(r.out.find("is not a nested oracle flavour"), std::string::npos) << r.out;
  EXPECT_EQ(run_shell(std::string(KVMSIM_BINARY) + " replay --backend nested,nosuch " +
                      (kNestedTraces / "caps_probe.trace").string())
                .code,
            2);
}

// The probes' results were recorded on the real 6.12 guests; the model must keep answering the same.
TEST(NestedTraces, Linux612ProfilesMatchTheRecordedProbes) {
  for (const char* probe : {"caps_probe.trace", "caps_probe_swprot.trace"}) {
    ShellResult r = run_shell(std::string(KVMSIM_BINARY) + " replay " + (kNestedTraces / probe).string());
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
  }
}

// NESTED_KERNEL_RELEASE from scripts/nested/versions.env.
std::string pinned_release() {
  std::ifstream in(fs::path(KVMSIM_SOURCE_DIR) / "scripts" / "nested" / "versions.env");
  std::string line;
  const std::string key = "NESTED_KERNEL_RELEASE=";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return line.substr(key.size());
  return "";
}

TEST(NestedOracle, ProbeReplaysOnTheRealKernel) {
  const fs::path build = fs::path(KVMSIM_BINARY).parent_path();
  const std::string release = pinned_release();
  ASSERT_FALSE(release.empty()) << "versions.env has no NESTED_KERNEL_RELEASE";
  const fs::path vmlinuz = build / "nested" / "cache" / ("kernel-" + release) / "boot" / ("vmlinuz-" + release);
  if (!fs::exists(vmlinuz))
    GTEST_SKIP() << "no cached kernel at " << vmlinuz << " (run scripts/nested/setup.sh --build-dir " << build
                 << ")";
  if (run_shell("command -v qemu-system-x86_64").code != 0) GTEST_SKIP() << "qemu-system-x86_64 not installed";

  // One real boot through the CLI: the probe paired with the model, no divergence.
  ShellResult r = run_shell(std::string(KVMSIM_BINARY) + " replay --backend model,nested " +
                            (kNestedTraces / "caps_probe.trace").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("kernel linux-image-" + release), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 divergent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replay: 1 passed, 0 failed"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace kvmsim
