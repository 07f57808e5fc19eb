// FaultInjector: deterministic fault injection for the model, per call site. The model consults it
// at the places where the kernel can fail for reasons a single-threaded trace never shows:
//  * pre_fault_signal: top of each KVM_PRE_FAULT_MEMORY loop iteration (signal_pending -> EINTR;
//    progress already made is kept and the ioctl returns 0 with gpa/size written back);
//  * pre_fault_invalid_slot: the pre-fault's slot is being deleted/moved (KVM_MEMSLOT_INVALID;
//    a prefetch fault answers -EAGAIN instead of retrying);
//  * alloc: an allocation fails (-ENOMEM): the MMU memory caches topped up at the start of every
//    page fault, and the memslot metadata of a CREATE/MOVE;
//  * fault_retry: a racing MMU-notifier invalidation makes a fault RET_PF_RETRY (the caller faults
//    again: invisible to the VMM, which is exactly what is checked).
// Two ways to fire: rules armed by a trace (`inject(SITE, KIND, after=N, count=C)`: let N
// consultations pass, then fail the next C), and a seeded random rate per site (fuzzing). Both are
// pure functions of their inputs: no clock, no global state; each site has its own stream, so
// adding a consultation at one site never shifts another site's faults.
// Invariant: with nothing armed and all rates zero, should_fail() is always false.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "model/types.h"

namespace kvmsim::model {

enum class FaultSite { pre_fault_signal, pre_fault_invalid_slot, alloc, fault_retry };
constexpr std::size_t kFaultSites = 4;
const char* fault_site_name(FaultSite s);

struct FaultRule {
  FaultSite site = FaultSite::pre_fault_signal;
  u64 after = 0;  // consultations that pass before the first failure
  u64 count = 1;  // failures, then the rule is spent
};

// The rule a trace `inject(SITE, KIND, ...)` asks for: (pre_fault, eintr) and (signal, pending)
// -> pre_fault_signal (also consulted at the top of each KVM_MAP_MEMORY iteration),
// (pre_fault, eagain) -> pre_fault_invalid_slot, (alloc, enomem) -> alloc, (fault, retry) ->
// fault_retry. nullopt for any other pair.
std::optional<FaultSite> fault_site_for(const std::string& site, const std::string& kind);

class FaultInjector {
 public:
  explicit FaultInjector(u64 seed = 0);

  void arm(const FaultRule& rule);
  // Random firing with probability per_mille/1000 at each consultation of `site` (0: off).
  void set_rate(FaultSite site, unsigned per_mille);
  // Consulted by the model at the call site; true = fail here.
  bool should_fail(FaultSite site);

  u64 consulted(FaultSite site) const { return state_[idx(site)].consulted; }
  // Some rule is armed or some rate is non-zero: consultations must happen one by one.
  bool active() const {
    for (const auto& s : state_)
      if (!s.rules.empty() || s.per_mille) return true;
    return false;
  }
  u64 fired(FaultSite site) const { return state_[idx(site)].fired; }

 private:
  static std::size_t idx(FaultSite s) { return static_cast<std::size_t>(s); }
  struct Armed {
    u64 pass = 0;  // consultations still to let through
    u64 fail = 0;  // failures still to inject
  };
  struct SiteState {
    std::vector<Armed> rules;  // in arming order; spent rules are removed
    unsigned per_mille = 0;
    u64 rng = 0;               // splitmix64 state of this site's stream
    u64 consulted = 0, fired = 0;
  };
  std::array<SiteState, kFaultSites> state_;
};

}  // namespace kvmsim::model
