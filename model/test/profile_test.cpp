#include <gtest/gtest.h>

#include <set>

#include "model/profiles/profile.h"
#include "model/uapi.h"

using namespace kvmsim;
using namespace kvmsim::uapi;

TEST(Profile, BuiltinNamesAreUniqueAndDefaultIsUpstream) {
  std::set<std::string> names;
  for (const auto& p : model::builtin_profiles()) EXPECT_TRUE(names.insert(p.name).second) << p.name;
  // The default is the newest kernel the nested TDP oracle confirms.
  EXPECT_EQ(model::default_profile().name, "linux-7.3");
  EXPECT_NE(model::find_profile("linux-6.18"), nullptr);
  EXPECT_NE(model::find_profile("linux-6.18-pvm"), nullptr);
  EXPECT_NE(model::find_profile("linux-6.1"), nullptr);
  EXPECT_EQ(model::find_profile("linux-9.99"), nullptr);
}

TEST(Profile, CapsDependOnHandleAndPrivateMemory) {
  const auto& p = *model::find_profile("linux-6.18");
  EXPECT_EQ(p.cap(KVM_CAP_NR_MEMSLOTS, false, false), 32764u);
  EXPECT_EQ(p.cap(KVM_CAP_MEMORY_ATTRIBUTES, false, false), KVM_MEMORY_ATTRIBUTE_PRIVATE);
  EXPECT_EQ(p.cap(KVM_CAP_MEMORY_ATTRIBUTES, true, false), 0u);
  EXPECT_EQ(p.cap(KVM_CAP_MEMORY_ATTRIBUTES, true, true), KVM_MEMORY_ATTRIBUTE_PRIVATE);
  EXPECT_EQ(p.cap(KVM_CAP_MULTI_ADDRESS_SPACE, true, true), 1u);
  EXPECT_EQ(p.cap(KVM_CAP_GUEST_MEMFD_FLAGS, true, false), 3u);
  EXPECT_EQ(p.cap(KVM_CAP_GUEST_MEMFD_FLAGS, true, true), 1u);
  EXPECT_EQ(p.cap(123456, false, false), 0u);
}

TEST(Profile, PvmMatchesMeasuredHost) {
  const auto* p = model::find_profile("linux-6.18-pvm");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->cap(KVM_CAP_PRE_FAULT_MEMORY, false, false), 0u);
  EXPECT_EQ(p->cap(KVM_CAP_MEMORY_ATTRIBUTES, false, false), 0u);
  EXPECT_EQ(p->cap(KVM_CAP_VM_TYPES, false, false), 1u);
  EXPECT_EQ(p->cap(KVM_CAP_MULTI_ADDRESS_SPACE, false, false), 0u);
  EXPECT_FALSE(p->tdp);
  EXPECT_FALSE(p->has_memory_attributes);
  EXPECT_EQ(p->nr_address_spaces, 1u);
}

TEST(Uapi, IoctlNumbersMatchKernel) {
  // Also pinned by static_asserts in uapi.h; repeated here so a test report shows them.
  EXPECT_EQ(KVM_SET_USER_MEMORY_REGION2, 0x40A0AE49u);
  EXPECT_EQ(KVM_PRE_FAULT_MEMORY, 0xC040AED5u);
  EXPECT_EQ(KVM_CREATE_GUEST_MEMFD, 0xC040AED4u);
}

namespace kvmsim {
namespace {

// One source of truth: the has_* switches and vm_types agree with the capability table of every
// built-in profile, so a profile cannot say one thing in `caps` and do another.
TEST(Profile, SwitchesAgreeWithTheirCapabilities) {
  using namespace uapi;
  for (const auto& p : model::builtin_profiles()) {
    SCOPED_TRACE(p.name);
    EXPECT_EQ(p.has_region2, p.cap(KVM_CAP_USER_MEMORY2, false, false) != 0);
    EXPECT_EQ(p.has_guest_memfd, p.cap(KVM_CAP_GUEST_MEMFD, false, false) != 0);
    EXPECT_EQ(p.has_memory_attributes, p.cap(KVM_CAP_MEMORY_ATTRIBUTES, false, false) != 0);
    // The pre-fault cap reads tdp_enabled: the ioctl exists on shadow paging too (and answers
    // EOPNOTSUPP). 236 is KVM_CAP_MAP_MEMORY in the RFC that preceded KVM_CAP_PRE_FAULT_MEMORY.
    if (!p.has_map_memory) {
      EXPECT_EQ(p.has_pre_fault && p.tdp, p.cap(KVM_CAP_PRE_FAULT_MEMORY, false, false) != 0);
    }
    const u64 types = p.cap(KVM_CAP_VM_TYPES, false, false);
    EXPECT_EQ(p.vm_types, types ? types : 1u << KVM_X86_DEFAULT_VM);
    // The guest_memfd flag tables are KVM_CAP_GUEST_MEMFD_FLAGS in another form; write() ("populate via
    // write()") exists exactly when some VM may create its flag.
    if (p.has_guest_memfd) {
      EXPECT_EQ(p.gmem_flags_shared_vm, p.cap(KVM_CAP_GUEST_MEMFD_FLAGS, true, false));
      // The private column is measured only where a VM with private memory can exist.
      if (p.vm_types & (1u << KVM_X86_SW_PROTECTED_VM)) {
        EXPECT_EQ(p.gmem_flags_private_vm, p.cap(KVM_CAP_GUEST_MEMFD_FLAGS, true, true));
      }
    }
    EXPECT_EQ(p.gmem_write_flag != 0, (p.gmem_flags_shared_vm & p.gmem_write_flag) != 0);
  }
}

}  // namespace
}  // namespace kvmsim
