#include "model/mmu/invariants.h"

#include <string>

#include "model/mmu/spte.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

void check_invariants(const Vm& vm) {
  for (u32 as = 0; as < vm.nr_address_spaces(); ++as) {
    const PageTable& mmu = vm.mmu(as);
    mmu.check_invariants();
    const MemslotSet& slots = vm.slots(as);
    const Memslot* slot = nullptr;  // cache: leaves come in gfn order
    mmu.for_each_leaf(0, mmu.max_gfn_exclusive(), [&](u64 gfn, int level, const SpteAttrs& a) {
      const u64 end = gfn + pages_per_hpage(level);
      // Built only when an assertion fails (16M leaves must stay cheap).
      auto where = [&] { return "as " + std::to_string(as) + " leaf gfn " + hex(gfn) + " level " + level_name(level); };
      if (!slot || !slot->contains(gfn)) slot = slots.by_gfn(gfn);
      KVMSIM_ASSERT_CTX(slot != nullptr, where() + ": no memslot");
      KVMSIM_ASSERT_CTX(end <= slot->end_gfn(), where() + ": crosses the end of slot " + std::to_string(slot->id) +
                                                    " (end gfn " + hex(slot->end_gfn()) + ")");
      const u64 attrs = vm.attributes().get(gfn);
      const bool priv = vm.has_private_mem() && (attrs & KVM_MEMORY_ATTRIBUTE_PRIVATE);
      KVMSIM_ASSERT_CTX(a.is_private == priv, where() + ": private bit " + std::to_string(a.is_private) +
                                                  " but attributes " + hex(attrs));
      KVMSIM_ASSERT_CTX(!a.is_private || slot->gmem, where() + ": private leaf in non-guest_memfd slot " +
                                                         std::to_string(slot->id));
      if (level == 1) return;
      KVMSIM_ASSERT_CTX(!slot->lpage_info->disallowed(level, gfn),
                        where() + ": huge leaf where lpage_info disallows it in slot " + std::to_string(slot->id));
      if (vm.has_private_mem())
        KVMSIM_ASSERT_CTX(vm.attributes().uniform(gfn, end), where() + ": huge leaf across mixed attributes");
      KVMSIM_ASSERT_CTX(!a.is_private && !slot->gmem_only, where() + ": huge leaf backed by guest_memfd");
      const HostMemory::HostPeek p = vm.host().peek(slot->hva_of(gfn));
      KVMSIM_ASSERT_CTX(p.level >= level, where() + ": above the host level " + std::to_string(p.level) + " (" +
                                              p.detail + ")");
      // With INITIALLY_SET huge leaves survive enabling dirty logging (CLEAR splits them lazily).
      const bool lazy = (vm.manual_dirty_log_protect() & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) &&
                        (vm.manual_dirty_log_protect() & KVM_DIRTY_LOG_INITIALLY_SET);
      KVMSIM_ASSERT_CTX(lazy || !(a.writable && (slot->flags & KVM_MEM_LOG_DIRTY_PAGES)),
                        where() + ": writable huge leaf in dirty-logged slot " + std::to_string(slot->id));
    });
  }
}

}  // namespace kvmsim::model
