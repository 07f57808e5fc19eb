// The per-VM Mmu (mmu.h): its roots, the NX state and the observations. The operations live in
// the files named in mmu.h, one per area of arch/x86/kvm/mmu/.
#include "model/mmu/mmu.h"

#include "model/core_assert.h"
#include "model/mmu/lpage_rules_override.h"
#include "model/mmu/page_table_factory.h"

namespace kvmsim::model {

using namespace uapi;

Mmu::Mmu(const MmuContext& ctx, u32 nr_address_spaces, PageTableImpl impl)
    : ctx_(ctx), lpage_rules_(lpage_rules_override(ctx.profile)) {
  for (u32 as = 0; as < nr_address_spaces; ++as)
    roots_.push_back(make_page_table(impl, ctx_.profile.root_level, ctx_.profile.max_huge_level, nx_huge_pages()));
}

void Mmu::disable_nx_huge_pages() {
  nx_disabled_ = true;
  for (auto& r : roots_) r->set_nx_huge_pages(nx_huge_pages());
}

bool Mmu::is_private_gfn(u64 gfn) const {
  if (!ctx_.has_private_mem) return false;
  if (gmem_is_private_) return gmem_is_private_(gfn);
  return ctx_.attributes.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE;
}

bool Mmu::manual_protect_initially_set() const {
  return (ctx_.manual_dirty_log_protect & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) &&
         (ctx_.manual_dirty_log_protect & KVM_DIRTY_LOG_INITIALLY_SET);
}

void Mmu::mark_dirty(const Memslot& slot, u64 gfn) {
  KVMSIM_ASSERT(slot.contains(gfn), "gfn %llx outside slot %u", (unsigned long long)gfn, slot.id);
  Memslot* s = ctx_.slots[slot.as_id].find(slot.id);
  KVMSIM_ASSERT(s == &slot, "slot %u is not this VM's", slot.id);
  if (!s->has_dirty_bitmap) return;
  const u64 rel = gfn - s->base_gfn;
  s->dirty_bitmap[rel / 64] |= 1ull << (rel % 64);
}

}  // namespace kvmsim::model
