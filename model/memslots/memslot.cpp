#include "model/memslots/memslot.h"

#include "model/core_assert.h"

namespace kvmsim::model {

const Memslot* MemslotSet::find(u16 id) const { return id < by_id_.size() ? by_id_[id].get() : nullptr; }

Memslot* MemslotSet::find(u16 id) { return id < by_id_.size() ? by_id_[id].get() : nullptr; }

std::vector<const Memslot*> MemslotSet::by_id() const {
  std::vector<const Memslot*> out;
  out.reserve(size_);
  for (const auto& s : by_id_)
    if (s) out.push_back(s.get());
  return out;
}

const Memslot* MemslotSet::by_gfn(u64 gfn) const {
  auto it = by_gfn_.upper_bound(gfn);
  if (it == by_gfn_.begin()) return nullptr;
  --it;
  const Memslot* s = find(it->second);
  return s && s->contains(gfn) ? s : nullptr;
}

std::vector<const Memslot*> MemslotSet::overlapping(u64 start, u64 end) const {
  std::vector<const Memslot*> out;
  if (start >= end) return out;
  auto it = by_gfn_.upper_bound(start);
  if (it != by_gfn_.begin()) {
    auto prev = std::prev(it);
    const Memslot* s = find(prev->second);
    if (s->end_gfn() > start) out.push_back(s);
  }
  for (; it != by_gfn_.end() && it->first < end; ++it) out.push_back(find(it->second));
  return out;
}

bool MemslotSet::overlaps(u64 start, u64 end, std::optional<u16> except) const {
  // overlapping() without building the vector: this runs on every slot create/move.
  if (start >= end) return false;
  auto it = by_gfn_.upper_bound(start);
  if (it != by_gfn_.begin()) {
    auto prev = std::prev(it);
    if ((!except || prev->second != *except) && find(prev->second)->end_gfn() > start) return true;
  }
  for (; it != by_gfn_.end() && it->first < end; ++it)
    if (!except || it->second != *except) return true;
  return false;
}

void MemslotSet::insert(Memslot slot) {
  KVMSIM_ASSERT(!find(slot.id), "duplicate slot id %u", slot.id);
  KVMSIM_ASSERT(slot.npages > 0 && !overlaps(slot.base_gfn, slot.end_gfn(), std::nullopt),
                "slot %u [%llx,%llx) overlaps", slot.id, (unsigned long long)slot.base_gfn,
                (unsigned long long)slot.end_gfn());
  by_gfn_.emplace(slot.base_gfn, slot.id);
  const u16 id = slot.id;
  if (id >= by_id_.size()) by_id_.resize(id + 1u);
  by_id_[id] = std::make_unique<Memslot>(std::move(slot));
  ++size_;
}

Memslot MemslotSet::erase(u16 id) {
  KVMSIM_ASSERT(find(id), "erase of missing slot %u", id);
  Memslot s = std::move(*by_id_[id]);
  by_id_[id].reset();
  --size_;
  by_gfn_.erase(s.base_gfn);
  return s;
}

}  // namespace kvmsim::model
