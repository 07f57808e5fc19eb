// Progress on stderr (issue 16 §4): the reporter's timing rules on a fake clock, and the guarantee that
// matters most: a long run's stdout is byte-identical whether or not anyone listens to its progress.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/profiles/profile.h"
#include "sim/cmd/commands.h"
#include "sim/nested/nested_runner.h"
#include "sim/progress.h"

namespace kvmsim {
namespace {

TEST(Progress, SilentForTheFirstSecondThenOneUpdatingLineOnATerminal) {
  double now = 100;  // binary fractions only, so the arithmetic is exact
  std::ostringstream err;
  {
    Progress p(err, true, [&] { return now; });
    p.report("a");
    now += 0.5;
    p.report("b");
    EXPECT_EQ(err.str(), "");  // work that ends within a second prints nothing
    now += 0.75;
    p.report("c");
    EXPECT_EQ(err.str(), "\rc [1 s]\x1b[K");
    now += 0.125;
    p.report("d");  // rate-limited: 4 times a second at most
    now += 0.25;
    p.report("e");
    EXPECT_EQ(err.str(), "\rc [1 s]\x1b[K\re [2 s]\x1b[K");
    EXPECT_EQ(err.str().find('\n'), std::string::npos);  // never a newline on a terminal
  }
  EXPECT_EQ(err.str(), "\rc [1 s]\x1b[K\re [2 s]\x1b[K\r\x1b[K");  // the line is cleared at the end
  std::ostringstream err2;
  Progress q(err2, true, [&] { return now; });
  now += 2;
  q.report("f");
  q.report("");  // "done": cleared at once, not at destruction
  EXPECT_EQ(err2.str(), "\rf [2 s]\x1b[K\r\x1b[K");
}

TEST(Progress, PlainLinesEveryFiveSecondsOtherwise) {
  double now = 0;
  std::ostringstream err;
  {
    Progress p(err, false, [&] { return now; });
    for (int i = 0; i < 25; i++) {
      now = i * 0.5;
      p.report("step " + std::to_string(i));
    }
  }
  // 12 s of work: a line at 5 s and at 10 s, nothing else (no \r, no clearing).
  EXPECT_EQ(err.str(), "step 10 [5 s]\nstep 20 [10 s]\n");
}

TEST(Progress, StdoutIsIdenticalWithAndWithoutAListener) {
  std::vector<std::string> heard;
  auto run = [&](bool listen) {
    FuzzArgs a;
    a.backend = "model,model-ref";
    a.seed = "0x5eed";
    a.steps = 200;
    if (listen) a.progress = [&](const std::string& s) { heard.push_back(s); };
    std::ostringstream out, err;
    EXPECT_EQ(run_fuzz(a, out, err), kExitOk) << err.str();
    return out.str();
  };
  const std::string quiet = run(false);
  EXPECT_TRUE(heard.empty());
  EXPECT_EQ(run(true), quiet);
  ASSERT_FALSE(heard.empty());
  EXPECT_EQ(heard.front(), "fuzz: case 0, 0/200 steps");

  heard.clear();
  auto replay = [&](bool listen) {
    ReplayArgs a;
    a.files = {std::string(KVMSIM_SOURCE_DIR) + "/traces/tdp"};
    if (listen) a.progress = [&](const std::string& s) { heard.push_back(s); };
    std::ostringstream out, err;
    EXPECT_EQ(run_replay(a, out, err), kExitOk) << err.str();
    return out.str();
  };
  const std::string replay_quiet = replay(false);
  EXPECT_EQ(replay(true), replay_quiet);
  ASSERT_FALSE(heard.empty());
  EXPECT_EQ(heard.front().rfind("replay: 0/", 0), 0u) << heard.front();
}

// A stand-in for scripts/nested/run.sh: a guest that takes `seconds` to boot and then fails (exit 3).
std::filesystem::path slow_run_script(const std::string& seconds) {
  const auto script = std::filesystem::temp_directory_path() /
                      ("kvmsim-progress-fake-run-" + std::to_string(::getpid()) + ".sh");
  std::ofstream(script) << "#!/bin/sh\nsleep " << seconds << "\necho 'run.sh: no guest here' >&2\nexit 3\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  return script;
}

// Nested boots print nothing for minutes otherwise: the runner reports while it waits for the guest.
TEST(Progress, NestedBootReportsWhileTheGuestRuns) {
  const auto script = slow_run_script("0.5");
  std::vector<std::string> heard;
  nested::RunOptions o;
  o.run_script = script.string();
  o.progress = [&](const std::string& s) { heard.push_back(s); };
  nested::BootRun run = nested::run_nested_replay({std::string(KVMSIM_SOURCE_DIR) + "/traces/nested/caps_probe.trace"},
                                                  *model::find_profile("linux-6.12"), o);
  std::filesystem::remove(script);
  EXPECT_FALSE(run.ok);
  ASSERT_GE(heard.size(), 1u);
  EXPECT_EQ(heard.front(), "nested linux-6.12: booting the guest, running 1 traces");
}

// The binary: with stderr not a terminal, a plain line after 5 s; `--quiet` none; stdout the same either way.
TEST(Progress, QuietSilencesTheBinary) {
  const auto script = slow_run_script("5.5");
  auto run = [&](const std::string& quiet) {
    const std::string cmd = "KVMSIM_NESTED_RUN=" + script.string() + " " + KVMSIM_BINARY + quiet +
                            " replay --backend nested " + KVMSIM_SOURCE_DIR + "/traces/nested/caps_probe.trace 2>&1 >/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    std::string err;
    std::array<char, 4096> buf{};
    for (std::size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) err.append(buf.data(), n);
    pclose(p);
    return err;
  };
  const std::string loud = run(""), quiet = run(" --quiet");
  std::filesystem::remove(script);
  EXPECT_NE(loud.find("nested linux-6.12: booting the guest, running 1 traces [5 s]\n"), std::string::npos) << loud;
  EXPECT_EQ(quiet.find("booting the guest"), std::string::npos) << quiet;
  EXPECT_NE(quiet.find("no guest here"), std::string::npos) << quiet;  // diagnostics still there
}

}  // namespace
}  // namespace kvmsim
