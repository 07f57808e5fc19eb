// A test-only seam: substitute LpageRules (memslots/lpage_info.h) for every VM built from one
// Profile object. The fuzzer's self-test needs a model with a known bug on one side of a
// campaign; the campaign builds its backends from profiles, so the override is keyed by the
// Profile's address (a copy of a built-in profile, owned by the test) rather than carried as a
// profile field or a production switch. Production code never installs one: the Mmu looks the
// profile up once per VM and, finding nothing, uses KVM's rules.
// Invariants: at most one override per Profile object; an override lives exactly as long as its
// ScopedLpageRulesOverride (the profile and the rules must outlive it and every VM built under
// it). Not thread-safe to install while VMs are being created (tests install before running).
#pragma once

#include "model/memslots/lpage_info.h"
#include "model/profiles/profile.h"

namespace kvmsim::model {

class ScopedLpageRulesOverride {
 public:
  ScopedLpageRulesOverride(const Profile& profile, const LpageRules& rules);
  ~ScopedLpageRulesOverride();
  ScopedLpageRulesOverride(const ScopedLpageRulesOverride&) = delete;
  ScopedLpageRulesOverride& operator=(const ScopedLpageRulesOverride&) = delete;

 private:
  const Profile& profile_;
};

// The rules VMs of `profile` use: nullptr (KVM's) unless a test installed an override.
const LpageRules* lpage_rules_override(const Profile& profile);

}  // namespace kvmsim::model
