#include "sim/fuzz/known_open.h"

#include <string>
#include <vector>

namespace kvmsim::fuzz {

const std::vector<KnownOpen>& known_open_divergences() {
  static const std::vector<KnownOpen> k = {
      {"kvm_exec_stub",
       "a backend artifact: an exec access the model completes fails with -1 EIO on the kvm backend when it could "
       "not write its `ret` stub through the slot's hva (guest_memfd slot, unmapped hva) (docs/fuzz.md)"},
      {"kvm_agent_memslot",
       "a backend artifact: the kvm backend's guest agent adds its own memslot at the first access, which ends "
       "the pvm kernel's ENOSPC-before-the-first-memslot answer to KVM_PRE_FAULT_MEMORY (docs/fuzz.md)"},
  };
  return k;
}

const KnownOpen* explain_divergence(const Signature& s, const Backend& a, const model::Profile& pa, const Backend& b,
                                    const model::Profile& pb) {
  // Only a side that runs the kvm backend's guest agent against a shadow-paging kernel, paired with
  // one that does not, shows these.
  const bool model_vs_shadow_kvm =
      (!a.runs_guest_agent() && b.runs_guest_agent() && !pb.tdp) || (a.runs_guest_agent() && !b.runs_guest_agent() && !pa.tdp);
  if (!model_vs_shadow_kvm) return nullptr;
  const auto& k = known_open_divergences();
  const bool kvm_is_b = b.runs_guest_agent();
  const std::string& model_side = kvm_is_b ? s.a : s.b;
  const std::string& kvm_side = kvm_is_b ? s.b : s.a;
  if (s.kind == "KVM_PRE_FAULT_MEMORY" && s.field == "result")
    return model_side == "-1 ENOSPC" && kvm_side == "-1 EOPNOTSUPP" ? &k[1] : nullptr;
  if (s.kind == "access exec" && s.field == "result")
    return model_side == "ok" && kvm_side == "-1 EIO" ? &k[0] : nullptr;
  return nullptr;
}

}  // namespace kvmsim::fuzz
