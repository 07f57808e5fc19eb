#include "model/mmu/invariants.h"

#include <string>

#include "model/mmu/mmu.h"
#include "model/mmu/spte.h"

namespace kvmsim::model {

using namespace uapi;

void check_invariants(const Mmu& mmu) {
  const MmuContext& ctx = mmu.context();
  for (u32 as = 0; as < mmu.nr_address_spaces(); ++as) {
    const PageTable& root = mmu.page_table(as);
    root.check_invariants();
    const MemslotSet& slots = ctx.slots[as];
    const Memslot* slot = nullptr;  // cache: leaves come in gfn order
    root.for_each_leaf(0, root.max_gfn_exclusive(), [&](u64 gfn, int level, const SpteAttrs& a) {
      const u64 end = gfn + pages_per_hpage(level);
      // Built only when an assertion fails (16M leaves must stay cheap).
      auto where = [&] { return "as " + std::to_string(as) + " leaf gfn " + hex(gfn) + " level " + level_name(level); };
      if (!slot || !slot->contains(gfn)) slot = slots.by_gfn(gfn);
      KVMSIM_ASSERT_CTX(slot != nullptr, where() + ": no memslot");
      KVMSIM_ASSERT_CTX(end <= slot->end_gfn(), where() + ": crosses the end of slot " + std::to_string(slot->id) +
                                                    " (end gfn " + hex(slot->end_gfn()) + ")");
      const u64 attrs = ctx.attributes.get(gfn);
      const bool priv = mmu.is_private_gfn(gfn);
      KVMSIM_ASSERT_CTX(a.is_private == priv, where() + ": private bit " + std::to_string(a.is_private) +
                                                  " but attributes " + hex(attrs));
      KVMSIM_ASSERT_CTX(!a.is_private || slot->gmem, where() + ": private leaf in non-guest_memfd slot " +
                                                         std::to_string(slot->id));
      if (level == 1) return;
      KVMSIM_ASSERT_CTX(!slot->lpage_info->disallowed(level, gfn),
                        where() + ": huge leaf where lpage_info disallows it in slot " + std::to_string(slot->id));
      if (ctx.has_private_mem)
        KVMSIM_ASSERT_CTX(ctx.attributes.uniform(gfn, end), where() + ": huge leaf across mixed attributes");
      KVMSIM_ASSERT_CTX(!a.is_private && !slot->gmem_only, where() + ": huge leaf backed by guest_memfd");
      const HostMemory::HostPeek p = ctx.host.peek(slot->hva_of(gfn));
      // Not for a private-fd v5 KVM_MEM_PRIVATE slot: that proposal's kvm_mmu_max_mapping_level() does not
      // consult the host level there (a modelled kernel bug, traces/proposals/private_fd/faults_and_notifier.trace).
      KVMSIM_ASSERT_CTX(slot->private_fd || p.level >= level, where() + ": above the host level " + std::to_string(p.level) + " (" +
                                              p.detail + ")");
      // With INITIALLY_SET huge leaves survive enabling dirty logging (CLEAR splits them lazily).
      const bool lazy = (ctx.manual_dirty_log_protect & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) &&
                        (ctx.manual_dirty_log_protect & KVM_DIRTY_LOG_INITIALLY_SET);
      KVMSIM_ASSERT_CTX(lazy || !(a.writable && (slot->flags & KVM_MEM_LOG_DIRTY_PAGES)),
                        where() + ": writable huge leaf in dirty-logged slot " + std::to_string(slot->id));
    });
  }
}

}  // namespace kvmsim::model
