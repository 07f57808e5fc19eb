// libFuzzer target: replay of every input that parses (sim/replay.h) on the model (model::Kvm, the
// trace's `profile` header or the default profile), checking the model's invariants
// (model/vm/vm.h check_invariants) after the run. Mismatches against the trace's expectations are values; only
// a crash, a sanitizer report or a broken invariant (an abort with context) is a finding. No
// /dev/kvm: the model is pure. Built with -DKVMSIM_LIBFUZZER=ON; docs/fuzz.md.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "model/profiles/profile.h"
#include "model/vm/kvm.h"
#include "model/vm/vm.h"
#include "sim/replay.h"
#include "sim/trace/parser.h"

namespace {
constexpr int kMaxCheckedFd = 64;  // fds a small trace can open (as sim/fuzz/campaign.cpp checks)
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kvmsim;
  auto parsed = trace::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.trace");
  auto* t = std::get_if<trace::Trace>(&parsed);
  if (!t) return 0;
  const model::Profile* profile = t->profile ? model::find_profile(*t->profile) : &model::default_profile();
  if (!profile) return 0;  // an unknown profile is a usage error of `kvmsim replay`, not a model input
  model::Kvm kvm(*profile);
  (void)replay(*t, kvm, {});
  for (int fd = 0; fd < kMaxCheckedFd; fd++)
    if (const model::Vm* vm = kvm.vm(fd)) model::check_invariants(*vm);
  return 0;
}
