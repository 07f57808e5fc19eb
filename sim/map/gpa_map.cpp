#include "sim/map/gpa_map.h"

#include <algorithm>

#include "model/interval_map.h"
#include "model/uapi.h"
#include "model/vm/explain.h"

namespace kvmsim {

using model::Memslot;

namespace {

u64 pow2_align(u64 v) { return v ? std::min<u64>(v & (~v + 1), 1ull << 30) : 1ull << 30; }

bool same_key(const MapRun& a, const MapRun& b) {
  return a.state == b.state && a.level == b.level && a.is_private == b.is_private && a.zapped_line == b.zapped_line;
}

void push_run(std::vector<MapRun>& runs, MapRun r) {
  if (!runs.empty() && runs.back().end == r.start && same_key(runs.back(), r)) {
    runs.back().end = r.end;
    runs.back().leaves += r.leaves;
    return;
  }
  runs.push_back(std::move(r));
}

// The explain verdict for a run's first page, and the rule that decides the level there.
void explain_run(const model::Vm& vm, MapRun& r) {
  const model::Explanation e = model::explain_gpa(vm, r.start);
  r.verdict = e.summary;
  if (e.outcome == "mmio") {
    r.rule = "no_memslot";
  } else if (e.outcome != "map") {
    r.rule = "guest_memfd";
  } else if (e.leaf.level && e.leaf.level != e.decision.goal_level) {
    r.rule = "mapped_under_other_conditions";
  } else {
    int lowest = 4;
    for (const model::LevelLimit& l : e.decision.limits)
      if (l.level < lowest) {
        lowest = l.level;
        r.rule = l.rule;
      }
  }
}

std::string host_backing(const model::Vm& vm, const Memslot& s) {
  std::string b;
  if (const model::HostRegion* r = vm.mmu().context().host.region_at(s.userspace_addr))
    b = backing_name(r->backing);
  if (s.gmem) b += std::string(b.empty() ? "" : " + ") + "guest_memfd";
  return b.empty() ? "none" : b;
}

}  // namespace

const char* run_state_name(MapRun::State s) {
  switch (s) {
    case MapRun::State::mapped: return "mapped";
    case MapRun::State::never_mapped: return "never_mapped";
    case MapRun::State::zapped: return "zapped";
  }
  return "?";
}

std::string size_text(u64 bytes) {
  static const char* units[] = {"", "K", "M", "G", "T", "P", "E"};
  int u = 0;
  u64 v = bytes;
  while (v >= 1024 && v % 1024 == 0 && u < 6) {
    v /= 1024;
    ++u;
  }
  if (v < 1024 || u == 6) return std::to_string(v) + units[u];
  // Not a whole number of the largest unit: one decimal of it.
  double d = static_cast<double>(bytes);
  u = 0;
  while (d >= 1024 && u < 6) {
    d /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%s", d, units[u]);
  return buf;
}

GpaMap build_gpa_map(const model::Vm& vm, const VmHistory& history, int at_line) {
  GpaMap m;
  m.vm = history.name;
  m.profile = vm.profile().name;
  m.at_line = at_line;
  level_bytes(vm, m.bytes);

  for (u32 as = 0; as < vm.mmu().nr_address_spaces(); ++as) {
    // The last statement that zapped each gfn of this address space.
    model::IntervalMap<int> zapped;
    for (const ZapRecord& z : history.zaps)
      if (z.all) zapped.assign(0, UINT64_MAX, z.line);
      else if (z.as_id == as) zapped.assign(z.start, z.end, z.line);

    std::vector<const Memslot*> slots = vm.slots(as).by_id();
    std::sort(slots.begin(), slots.end(), [](const Memslot* a, const Memslot* b) { return a->base_gfn < b->base_gfn; });
    const model::PageTable& root = vm.mmu().page_table(as);
    for (const Memslot* s : slots) {
      MapSlot ms;
      ms.as_id = static_cast<u16>(as);
      ms.id = s->id;
      ms.gpa = s->base_gfn << 12;
      ms.size = s->npages << 12;
      ms.hva = s->userspace_addr;
      ms.flags = s->flags;
      ms.backing = host_backing(vm, *s);
      ms.gpa_align = pow2_align(ms.gpa);
      ms.hva_align = pow2_align(ms.hva);
      ms.congruent_2m = (ms.gpa ^ ms.hva) % level_size(2) == 0;
      ms.congruent_1g = (ms.gpa ^ ms.hva) % level_size(3) == 0;

      // Gaps between leaves: cut where the gfn attribute or the zapping statement changes.
      auto gap = [&](u64 a, u64 b) {
        for (u64 g = a; g < b;) {
          const u64 n = std::min(vm.attributes().run_end(g, b), zapped.uniform_end(g, b));
          MapRun r;
          r.start = g << 12;
          r.end = n << 12;
          r.zapped_line = zapped.get(g).value_or(0);
          r.state = r.zapped_line ? MapRun::State::zapped : MapRun::State::never_mapped;
          r.is_private = vm.has_private_mem() && (vm.attributes().get(g) & uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE);
          push_run(ms.runs, std::move(r));
          g = n;
        }
      };
      u64 cursor = s->base_gfn;
      root.for_each_leaf_run(s->base_gfn, s->end_gfn(), [&](u64 gfn, u64 count, int level, const model::SpteAttrs& a) {
        const u64 lo = std::max(gfn, s->base_gfn);
        const u64 hi = std::min(gfn + count * model::pages_per_hpage(level), s->end_gfn());
        if (lo > cursor) gap(cursor, lo);
        MapRun r;
        r.start = lo << 12;
        r.end = hi << 12;
        r.state = MapRun::State::mapped;
        r.level = level;
        r.is_private = a.is_private;
        r.leaves = count;
        push_run(ms.runs, std::move(r));
        cursor = hi;
      });
      if (cursor < s->end_gfn()) gap(cursor, s->end_gfn());
      if (as == 0)
        for (MapRun& r : ms.runs) explain_run(vm, r);
      m.slots.push_back(std::move(ms));
    }
  }
  return m;
}

}  // namespace kvmsim
