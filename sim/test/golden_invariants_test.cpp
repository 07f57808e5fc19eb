// Every golden trace leaves the model's invariants intact (model/vm/vm.h check_invariants), checked after
// the whole replay as trace_replay_fuzzer does on its seeds. Regression: the private-fd v5 trace maps 2M
// over 4K host pages by design (the proposal's kernel bug) and tripped the host-level invariant.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "model/profiles/profile.h"
#include "model/vm/kvm.h"
#include "model/vm/vm.h"
#include "sim/replay.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

TEST(GoldenTraces, LeaveTheModelsInvariantsIntact) {
  int traces = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(KVMSIM_SOURCE_DIR) + "/traces")) {
    if (e.path().extension() != ".trace") continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    auto parsed = trace::parse(ss.str(), e.path().string());
    ASSERT_TRUE(std::holds_alternative<trace::Trace>(parsed)) << e.path();
    const trace::Trace& t = std::get<trace::Trace>(parsed);
    const model::Profile* profile = t.profile ? model::find_profile(*t.profile) : &model::default_profile();
    ASSERT_NE(profile, nullptr) << e.path();
    model::Kvm kvm(*profile);
    (void)replay(t, kvm, {});
    SCOPED_TRACE(e.path().string());
    for (int fd = 0; fd < 64; fd++)  // an abort with context on a broken invariant fails the test binary
      if (const model::Vm* vm = kvm.vm(fd)) model::check_invariants(*vm);
    traces++;
  }
  EXPECT_GT(traces, 100);
}

}  // namespace
}  // namespace kvmsim
