#include "sim/fuzz/known_open.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kvmsim::fuzz {

namespace {

// `[0-9, 17]` -> {[0,9], [17,17]}; nullopt if it is not a range list.
std::optional<std::vector<std::pair<u64, u64>>> ranges(const std::string& s) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return std::nullopt;
  std::vector<std::pair<u64, u64>> out;
  std::size_t i = 1;
  while (i < s.size() - 1) {
    std::size_t used = 0;
    const u64 lo = std::stoull(s.substr(i), &used);
    i += used;
    u64 hi = lo;
    if (s[i] == '-') {
      hi = std::stoull(s.substr(i + 1), &used);
      i += 1 + used;
    }
    out.emplace_back(lo, hi);
    while (i < s.size() - 1 && (s[i] == ',' || s[i] == ' ')) i++;
  }
  return out;
}

// Every bit of `small` is in `big` (both sorted, merged range lists, as the replay engine prints them).
bool subset(const std::vector<std::pair<u64, u64>>& small, const std::vector<std::pair<u64, u64>>& big) {
  for (const auto& [lo, hi] : small) {
    bool covered = false;
    for (const auto& [blo, bhi] : big) covered |= blo <= lo && hi <= bhi;
    if (!covered) return false;
  }
  return true;
}

}  // namespace

const std::vector<KnownOpen>& known_open_divergences() {
  static const std::vector<KnownOpen> k = {
      {"shadow_pte_prefetch",
       "the shadow MMU's direct_pte_prefetch maps up to 8 neighbouring host-present 4K pages on a fault; the "
       "model does not prefetch, so the kernel has more pages_4k, or logs fewer dirty pages (a prefetched page "
       "takes no fault after dirty logging is enabled) (KNOWN_DIFFERENCES.md, Open)"},
      {"shadow_drop_leaf_on_dirty_write",
       "a write fault in a huge mapping of a dirty-logged slot: the TDP MMU splits in place, the shadow MMU drops "
       "the leaf and maps the faulting 4K page; later faults in the range log more dirty pages on the kernel "
       "(KNOWN_DIFFERENCES.md, Open)"},
      {"kvm_exec_stub",
       "a backend artifact: an exec access the model completes fails with -1 EIO on the kvm backend when it could "
       "not write its `ret` stub through the slot's hva (guest_memfd slot, unmapped hva) (docs/fuzz.md)"},
      {"kvm_agent_memslot",
       "a backend artifact: the kvm backend's guest agent adds its own memslot at the first access, which ends "
       "the pvm kernel's ENOSPC-before-the-first-memslot answer to KVM_PRE_FAULT_MEMORY (docs/fuzz.md)"},
  };
  return k;
}

const KnownOpen* explain_divergence(const Signature& s, const std::string& backend_a, const model::Profile& pa,
                                    const std::string& backend_b, const model::Profile& pb) {
  // Only a model paired with this host's shadow-paging kernel shows these.
  const bool model_vs_shadow_kvm =
      (backend_a == "model" && backend_b == "kvm" && !pb.tdp) || (backend_a == "kvm" && backend_b == "model" && !pa.tdp);
  if (!model_vs_shadow_kvm) return nullptr;
  const auto& k = known_open_divergences();
  if (s.kind == "KVM_PRE_FAULT_MEMORY" && s.field == "result") {
    const std::string& model_side = backend_b == "kvm" ? s.a : s.b;
    const std::string& kvm_side = backend_b == "kvm" ? s.b : s.a;
    if (model_side == "-1 ENOSPC" && kvm_side == "-1 EOPNOTSUPP") return &k[3];
    return nullptr;
  }
  // After the shadow MMU dropped a huge leaf on a dirty-logged write, later faults in its range map
  // writable 4K pages and log them; the model split in place and those pages are already mapped.
  // Narrow: the kernel logged strictly more pages than the model, never fewer or others.
  // Prefetch, the other way round: a page the kernel prefetched is already mapped when the guest
  // touches it after dirty logging was enabled, so it takes no fault and is not logged; the model
  // faults and logs it (seeds 148 and 191). Narrow: strictly more on the model, never others.
  if (s.kind == "KVM_GET_DIRTY_LOG" && s.field == "bitmap") {
    auto model_bits = ranges(backend_b == "kvm" ? s.a : s.b), kvm_bits = ranges(backend_b == "kvm" ? s.b : s.a);
    if (!model_bits || !kvm_bits) return nullptr;
    if (subset(*model_bits, *kvm_bits)) return &k[1];
    if (subset(*kvm_bits, *model_bits)) return &k[0];
    return nullptr;
  }
  if (s.kind == "access exec" && s.field == "result") {
    const std::string& model_side = backend_b == "kvm" ? s.a : s.b;
    const std::string& kvm_side = backend_b == "kvm" ? s.b : s.a;
    return model_side == "ok" && kvm_side == "-1 EIO" ? &k[2] : nullptr;
  }
  if (s.kind != "expect stats") return nullptr;
  const bool kvm_is_b = backend_b == "kvm";
  // s.b is "+N"/"-N" = B - A; "kvm more than model" is positive when kvm is B.
  if (s.a != "B-A" || s.b.empty()) return nullptr;
  const bool b_more = s.b[0] == '+';
  const bool kvm_more = kvm_is_b ? b_more : !b_more;
  const long long n = std::stoll(s.b[0] == '+' ? s.b.substr(1) : s.b);
  const long long mag = n < 0 ? -n : n;
  // Prefetch: kvm has 1..7 more 4K leaves per fault (several faults add up before an observation).
  if (s.field == "pages_4k" && kvm_more) return &k[0];
  // Drop instead of split: the model has ~511 more 4K leaves per split huge page (fewer with
  // prefetch), or the model kept a 2M leaf the kernel dropped.
  if (s.field == "pages_4k" && !kvm_more && mag >= 256) return &k[1];
  return nullptr;
}

}  // namespace kvmsim::fuzz
