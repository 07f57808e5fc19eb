// The per-VM Mmu (mmu.h): its roots, the NX state and the observations. The operations live in
// the files named in mmu.h, one per area of arch/x86/kvm/mmu/.
#include "model/mmu/mmu.h"

#include <algorithm>

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

void Mmu::mark_dirty_range(const Memslot& slot, u64 start, u64 end) {
  KVMSIM_ASSERT(start <= end && slot.contains(start) && (start == end || slot.contains(end - 1)),
                "gfns [%llx, %llx) outside slot %u", (unsigned long long)start, (unsigned long long)end, slot.id);
  Memslot* s = ctx_.slots[slot.as_id].find(slot.id);
  KVMSIM_ASSERT(s == &slot, "slot %u is not this VM's", slot.id);
  if (!s->has_dirty_bitmap) return;
  // Whole words at once: the same bits mark_dirty() sets one by one.
  for (u64 rel = start - s->base_gfn, last = end - s->base_gfn; rel < last;) {
    const u64 bit = rel % 64, n = std::min<u64>(64 - bit, last - rel);
    s->dirty_bitmap[rel / 64] |= (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit;
    rel += n;
  }
}

}  // namespace kvmsim::model
