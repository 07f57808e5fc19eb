#include "sim/fuzz/known_open.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kvmsim::fuzz {

namespace {

// `[0-9, 17]` (the replay engine's bitmap syntax) as the set of its page indices; nullopt if it is
// not one. Bitmaps in fuzz cases are a few slots of a few MiB, so the set stays small.
std::optional<std::set<u64>> set_bits(const std::string& s) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return std::nullopt;
  std::set<u64> out;
  std::size_t i = 1;
  while (i < s.size() - 1) {
    std::size_t used = 0;
    u64 lo = 0, hi = 0;
    try {
      lo = std::stoull(s.substr(i), &used);
      i += used;
      hi = lo;
      if (s[i] == '-') {
        hi = std::stoull(s.substr(i + 1), &used);
        i += 1 + used;
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (hi < lo || hi - lo > (1u << 20)) return std::nullopt;
    for (u64 b = lo; b <= hi; ++b) out.insert(b);
    while (i < s.size() - 1 && (s[i] == ',' || s[i] == ' ')) i++;
  }
  return out;
}

}  // namespace

const std::vector<KnownOpen>& known_open_divergences() {
  static const std::vector<KnownOpen> k = {
      {"host_fault_around",
       "the host's fault-around (filemap_map_pages, 64 KiB) maps page-cache neighbours of a read fault in a "
       "shmem/memfd mapping, so the shadow MMU's PTE prefetch finds more present host pages than the model's "
       "host memory has: the kernel has more pages_4k, or logs fewer dirty pages (a prefetched page takes no "
       "fault once dirty logging is on) (KNOWN_DIFFERENCES.md, Open)"},
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
  const bool kvm_is_b = backend_b == "kvm";
  const std::string& model_side = kvm_is_b ? s.a : s.b;
  const std::string& kvm_side = kvm_is_b ? s.b : s.a;
  if (s.kind == "KVM_PRE_FAULT_MEMORY" && s.field == "result")
    return model_side == "-1 ENOSPC" && kvm_side == "-1 EOPNOTSUPP" ? &k[2] : nullptr;
  if (s.kind == "access exec" && s.field == "result")
    return model_side == "ok" && kvm_side == "-1 EIO" ? &k[1] : nullptr;
  // Stats signatures carry B-A: the kernel has strictly more 4K leaves.
  if (s.kind == "expect stats" && s.field == "pages_4k" && s.a == "B-A" && !s.b.empty())
    return (s.b[0] == '+') == kvm_is_b ? &k[0] : nullptr;
  // A prefetched page takes no fault after dirty logging is enabled: the kernel logs a strict subset.
  if (s.kind == "KVM_GET_DIRTY_LOG" && s.field == "bitmap") {
    auto kvm_bits = set_bits(kvm_side), model_bits = set_bits(model_side);
    if (kvm_bits && model_bits && kvm_bits->size() < model_bits->size() &&
        std::includes(model_bits->begin(), model_bits->end(), kvm_bits->begin(), kvm_bits->end()))
      return &k[0];
  }
  return nullptr;
}

}  // namespace kvmsim::fuzz
