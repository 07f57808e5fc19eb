#include "model/mmu/lpage_rules_override.h"

#include <map>

#include "model/core_assert.h"

namespace kvmsim::model {

namespace {
// Empty in every production run; a map lookup per VM creation when a test fills it.
std::map<const Profile*, const LpageRules*>& overrides() {
  static std::map<const Profile*, const LpageRules*> m;
  return m;
}
}  // namespace

ScopedLpageRulesOverride::ScopedLpageRulesOverride(const Profile& profile, const LpageRules& rules)
    : profile_(profile) {
  const bool inserted = overrides().emplace(&profile, &rules).second;
  KVMSIM_ASSERT_CTX(inserted, "a second LpageRules override for profile " + profile.name);
}

ScopedLpageRulesOverride::~ScopedLpageRulesOverride() { overrides().erase(&profile_); }

const LpageRules* lpage_rules_override(const Profile& profile) {
  auto& m = overrides();
  if (m.empty()) return nullptr;
  auto it = m.find(&profile);
  return it == m.end() ? nullptr : it->second;
}

}  // namespace kvmsim::model
