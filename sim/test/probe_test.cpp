// Host probe on this machine: it must identify the kvm_pvm host as linux-6.18-pvm.
#include "sim/kvm/probe.h"

#include <gtest/gtest.h>

#include "model/uapi.h"

namespace kvmsim::kvm {
namespace {

using namespace uapi;

HostProbe probe_or_skip(bool* skip) {
  std::string err;
  HostProbe p = probe_host(&err);
  *skip = p.caps.empty();
  if (*skip) std::fprintf(stderr, "no /dev/kvm: %s\n", err.c_str());
  return p;
}

TEST(ProbeTest, ReadsHostFacts) {
  bool skip = false;
  HostProbe p = probe_or_skip(&skip);
  if (skip) GTEST_SKIP() << "no /dev/kvm";
  EXPECT_FALSE(p.release.empty());
  EXPECT_EQ(p.caps.size(), known_caps().size());
  EXPECT_EQ(p.caps[KVM_CAP_USER_MEMORY], 1u);
  EXPECT_EQ(p.caps[KVM_CAP_NR_MEMSLOTS], KVM_USER_MEM_SLOTS);
  EXPECT_NE(p.vm_types & 1u, 0u);
  EXPECT_FALSE(p.thp_enabled.empty());
  EXPECT_EQ(p.thp_enabled.find('['), std::string::npos);
}

TEST(ProbeTest, ThisHostIsPvm) {
  bool skip = false;
  HostProbe p = probe_or_skip(&skip);
  if (skip) GTEST_SKIP() << "no /dev/kvm";
  if (p.release.find("fc") == std::string::npos || p.tdp_mmu)
    GTEST_SKIP() << "not the kvm_pvm development host (" << p.release << ")";
  EXPECT_EQ(p.module_params["tdp_mmu"], "N");
  EXPECT_EQ(p.caps[KVM_CAP_PRE_FAULT_MEMORY], 0u);
  EXPECT_EQ(p.caps[KVM_CAP_MEMORY_ATTRIBUTES], 0u);
  EXPECT_EQ(p.vm_types, 1u);
  EXPECT_EQ(matching_profile(p), "linux-6.18-pvm");
  auto diffs = cap_differences(p, *model::find_profile("linux-6.18-pvm"));
  for (const auto& d : diffs) std::printf("  differs: %s\n", d.c_str());
  // Against upstream 6.18 the probe must report at least pre-fault and memory attributes.
  auto up = cap_differences(p, *model::find_profile("linux-6.18"));
  bool prefault = false, attrs = false;
  for (const auto& d : up) {
    prefault |= d.find("KVM_CAP_PRE_FAULT_MEMORY") == 0;
    attrs |= d.find("KVM_CAP_MEMORY_ATTRIBUTES") == 0;
  }
  EXPECT_TRUE(prefault && attrs);
}

TEST(ProbeTest, MatchingUsesFeaturesNotNames) {
  // Synthetic probes: an upstream TDP host with everything, and a 6.1 host.
  HostProbe up;
  up.module_params["tdp_mmu"] = "Y";
  up.tdp_mmu = true;
  for (const auto& [nr, name] : known_caps()) up.caps[nr] = model::find_profile("linux-6.18")->cap(nr, false, false);
  up.vm_types = 3;
  EXPECT_EQ(matching_profile(up), "linux-6.18");
  HostProbe old;
  old.module_params["tdp_mmu"] = "Y";
  old.tdp_mmu = true;
  old.caps[KVM_CAP_USER_MEMORY] = 1;
  old.vm_types = 1;
  EXPECT_EQ(matching_profile(old), "linux-6.1");
  EXPECT_TRUE(cap_differences(up, *model::find_profile("linux-6.18")).empty());
}

}  // namespace
}  // namespace kvmsim::kvm
