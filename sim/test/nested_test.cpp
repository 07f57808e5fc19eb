// The nested TDP oracle (docs/nested.md): the traces/nested set is well formed and written for linux-6.12,
// the linux-6.12 profile still answers what the real 6.12 guest recorded in caps_probe.trace, and, when
// scripts/nested/setup.sh has cached the pinned kernel in this build directory, one real boot replays
// the probe on the guest (≈10-30 s). Without the cache that test skips and says why.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

TEST(NestedTraces, ParseAndTargetLinux612) {
  int count = 0;
  for (const auto& e : fs::directory_iterator(kNestedTraces)) {
    if (e.path().extension() != ".trace") continue;
    ++count;
    auto parsed = trace::parse(slurp(e.path()), e.path().string());
    auto* t = std::get_if<trace::Trace>(&parsed);
    ASSERT_NE(t, nullptr) << std::get<trace::ParseError>(parsed).str();
    EXPECT_EQ(t->profile, "linux-6.12") << e.path();
  }
  EXPECT_GE(count, 6);  // the probe and the five nested-tdp.md pre-fault rows
}

// The probe's results were recorded on the real 6.12 guest; the model must keep answering the same.
TEST(NestedTraces, Linux612ProfileMatchesTheRecordedProbe) {
  ShellResult r = run_shell(std::string(KVMSIM_BINARY) + " replay " + (kNestedTraces / "caps_probe.trace").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
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

  // A copy of the probe: run.sh reads traces by path and the test must not depend on --update.
  const fs::path tmp = fs::temp_directory_path() / "kvmsim-nested-test.trace";
  fs::copy_file(kNestedTraces / "caps_probe.trace", tmp, fs::copy_options::overwrite_existing);
  ShellResult r = run_shell((fs::path(KVMSIM_SOURCE_DIR) / "scripts" / "nested" / "run.sh").string() + " --timeout 120" +
                    " --build-dir " + build.string() + " " + tmp.string());
  fs::remove(tmp);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"kernel_release\": \"" + release + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"kvm.tdp_mmu\": \"Y\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"passed\": 1, \"failed\": 0"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace kvmsim
