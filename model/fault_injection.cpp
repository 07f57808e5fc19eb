#include "model/fault_injection.h"

#include "model/splitmix64.h"

namespace kvmsim::model {

const char* fault_site_name(FaultSite s) {
  switch (s) {
    case FaultSite::pre_fault_signal: return "pre_fault_signal";
    case FaultSite::pre_fault_invalid_slot: return "pre_fault_invalid_slot";
    case FaultSite::alloc: return "alloc";
    case FaultSite::fault_retry: return "fault_retry";
  }
  return "?";
}

std::optional<FaultSite> fault_site_for(const std::string& site, const std::string& kind) {
  if (site == "pre_fault" && kind == "eintr") return FaultSite::pre_fault_signal;
  // The same signal_pending() check, named for any populate loop (KVM_MAP_MEMORY: -ERESTARTSYS).
  if (site == "signal" && kind == "pending") return FaultSite::pre_fault_signal;
  if (site == "pre_fault" && kind == "eagain") return FaultSite::pre_fault_invalid_slot;
  if (site == "alloc" && kind == "enomem") return FaultSite::alloc;
  if (site == "fault" && kind == "retry") return FaultSite::fault_retry;
  return std::nullopt;
}

FaultInjector::FaultInjector(u64 seed) {
  for (std::size_t i = 0; i < kFaultSites; i++) state_[i].rng = seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
}

void FaultInjector::arm(const FaultRule& rule) {
  if (rule.count == 0) return;
  state_[idx(rule.site)].rules.push_back(Armed{rule.after, rule.count});
}

void FaultInjector::set_rate(FaultSite site, unsigned per_mille) { state_[idx(site)].per_mille = per_mille; }

bool FaultInjector::should_fail(FaultSite site) {
  SiteState& s = state_[idx(site)];
  s.consulted++;
  bool fail = false;
  // Every armed rule counts this consultation; the first one due fires.
  for (auto& r : s.rules) {
    if (r.pass) {
      r.pass--;
    } else if (r.fail && !fail) {
      r.fail--;
      fail = true;
    }
  }
  std::erase_if(s.rules, [](const Armed& r) { return r.pass == 0 && r.fail == 0; });
  if (!fail && s.per_mille) {
    fail = splitmix64(&s.rng) % 1000 < s.per_mille;
  }
  if (fail) s.fired++;
  return fail;
}

}  // namespace kvmsim::model
