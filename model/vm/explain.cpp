#include "model/vm/explain.h"

#include <algorithm>

#include "model/vm/kvm.h"
#include "model/mmu/spte.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

namespace {

std::string range_text(u64 start, u64 size) { return "[" + hex(start) + ", " + hex(start + size) + ")"; }

}  // namespace

std::string memslot_flags_text(u32 f) {
  std::string s;
  auto add = [&](u32 bit, const char* name) {
    if (f & bit) s += (s.empty() ? "" : "|") + std::string(name);
  };
  add(KVM_MEM_LOG_DIRTY_PAGES, "KVM_MEM_LOG_DIRTY_PAGES");
  add(KVM_MEM_READONLY, "KVM_MEM_READONLY");
  add(KVM_MEM_GUEST_MEMFD, "KVM_MEM_GUEST_MEMFD");
  return s.empty() ? "0" : s;
}

namespace {

}  // namespace

Explanation explain_gpa(const Vm& vm, u64 gpa) {
  Explanation e;
  e.gpa = gpa;
  const u64 gfn = gpa >> 12;
  e.attributes = vm.attributes().get(gfn);
  e.is_private = vm.has_private_mem() && (e.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
  e.leaf = vm.mmu().mapping(gpa);
  const Memslot* slot = vm.slots(0).by_gfn(gfn);
  if (!slot) {
    e.outcome = e.is_private ? "memory_fault" : "mmio";
    e.summary = e.is_private ? "no memslot: a private access is a memory fault (EFAULT)"
                             : "no memslot: accesses exit to userspace as MMIO";
    return e;
  }
  e.has_slot = true;
  e.slot_id = slot->id;
  e.slot_gpa = slot->base_gfn << 12;
  e.slot_size = slot->npages << 12;
  e.slot_hva = slot->userspace_addr;
  e.slot_flags = slot->flags;

  // kvm_mmu_faultin_pfn_gmem (model/kvm_mmu_fault.cpp): a gfn served by guest_memfd in a slot with no
  // guest_memfd bound, or whose file was closed, has no pfn: the fault is a memory-fault exit (EFAULT),
  // so no level decision applies and no leaf can be made.
  const bool gmem_backed = e.is_private || slot->gmem_only;
  if (gmem_backed && (!slot->gmem || !slot->gmem->file_open)) {
    e.outcome = "memory_fault";
    const std::string why = !slot->gmem ? "slot has no guest_memfd (no KVM_MEM_GUEST_MEMFD)"
                                        : "the slot's guest_memfd was closed";
    e.factors.push_back({"guest_memfd", 0, std::string(e.is_private ? "private gfn" : "GMEM_ONLY slot") + ", " + why +
                                               ": no pfn -> memory fault exit (EFAULT)"});
    e.summary = std::string(e.leaf.level ? "leaf is " + std::string(level_name(e.leaf.level)) + ", but a" : "no leaf; a") +
                " fault now is a memory-fault exit (KVM_EXIT_MEMORY_FAULT" + (e.is_private ? ", flags PRIVATE" : "") +
                "; pre-fault: EFAULT): " + why;
    return e;
  }

  PageFault f;
  f.gpa = gpa;
  f.is_private = e.is_private;
  const HugepageAdjustInput in = vm.mmu().adjust_input(*slot, gfn, f, true);
  e.decision = hugepage_adjust(in);

  // Every factor, whether or not it limits (hugepage_adjust stops at the first 4K verdict).
  const int max = vm.profile().max_huge_level;
  e.factors.push_back({"profile", max, "hardware huge pages up to " + std::string(level_name(max))});
  if (in.gmem_backed)
    e.factors.push_back({"guest_memfd", 1,
                         std::string(e.is_private ? "private gfn" : "GMEM_ONLY slot") +
                             ": pfn from guest_memfd, folio order 0 -> 4K"});
  else
    e.factors.push_back({"guest_memfd", 3, "shared fault: pfn from the host mapping of the hva"});
  const bool logged = slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
  e.factors.push_back({"dirty_logging", logged ? 1 : 3,
                       logged ? "slot has KVM_MEM_LOG_DIRTY_PAGES: every fault maps 4K" : "not dirty-logged"});
  for (int level = max; level >= 2; --level) {
    const u64 region = gfn_round_for_level(gfn, level) << 12;
    const auto reasons = slot->lpage_info->reasons(level, gfn);
    if (reasons.empty())
      e.factors.push_back({"lpage_info", 3,
                           std::string(level_name(level)) + " region " + range_text(region, level_size(level)) +
                               ": aligned inside the slot, hva congruent, attributes uniform"});
    for (const LpageReason& r : reasons) e.factors.push_back({lpage_rule_name(r.rule), level - 1, r.detail});
  }
  if (slot->private_fd) {
    // private-fd v5 09/13: the level ignores the host; say what the host has (docs/semantics/proposals.md §2).
    const HostMemory::HostPeek p = vm.mmu().context().host.peek(slot->hva_of(gfn));
    e.factors.push_back({"host_level", 3,
                         "not consulted for a KVM_MEM_PRIVATE slot ([PATCH v5 09/13] kvm_mmu_max_mapping_level()); "
                         "hva " + hex(slot->hva_of(gfn)) + ": " + p.detail});
  } else if (!in.gmem_backed) {
    const HostMemory::HostPeek p = vm.mmu().context().host.peek(slot->hva_of(gfn));
    e.factors.push_back({"host_level", std::max(1, p.level), "hva " + hex(slot->hva_of(gfn)) + ": " + p.detail});
  }
  e.factors.push_back({"nx_huge_pages", 3,
                       vm.mmu().nx_huge_pages() ? "mitigation on: huge leaves are not executable; an exec fault maps 4K"
                                          : (vm.profile().nx_huge_pages ? "mitigation disabled for this VM"
                                                                        : "mitigation off (profile)")});

  if (vm.profile().has_map_memory)
    e.factors.push_back({"request", 3,
                         "not for a read fault; KVM_MAP_MEMORY ([RFC PATCH 6/8] kvm_arch_vcpu_map_memory()) caps the "
                         "level by its request: 1G if base_gfn is 1G aligned and nr_pages >= 262144, 2M if 2M "
                         "aligned and nr_pages >= 512, else 4K"});

  const int now = e.decision.goal_level;
  e.decided_by = LevelLimit{"hardware", max,
                            "profile " + vm.profile().name + ": hardware huge pages up to " + level_name(max)};
  for (const LevelLimit& l : e.decision.limits)
    if (l.level == now) {
      e.decided_by = l;
      if (l.rule == "host_level")
        e.decided_by.detail += std::string("; profile ") + vm.profile().name + ": THP " +
                               (vm.profile().thp == ThpPolicy::always    ? "always"
                                : vm.profile().thp == ThpPolicy::madvise ? "madvise"
                                                                         : "never") +
                               ", huge zero page " + (vm.profile().huge_zero_page ? "on" : "off");
      break;
    }
  if (!e.leaf.level)
    e.summary = std::string("no leaf; a read fault now would map ") + level_name(now);
  else if (e.leaf.level == now)
    e.summary = std::string("leaf is ") + level_name(e.leaf.level) + ", as a read fault now would map it";
  else if (e.leaf.level < now)
    e.summary = std::string("leaf is ") + level_name(e.leaf.level) + " but a read fault now would map " +
                level_name(now) + ": it was mapped under other conditions (" +
                (vm.profile().has_map_memory ? "a KVM_MAP_MEMORY request (rule request), " : "") +
                "dirty logging, an NX exec split, an earlier host or attribute state) and is rebuilt only by a " +
                "fault, recovery or a zap";
  else
    e.summary = std::string("leaf is ") + level_name(e.leaf.level) + " although a read fault now would map " +
                level_name(now) + ": it predates the change that limits the level (e.g. dirty logging with " +
                "KVM_DIRTY_LOG_INITIALLY_SET, which splits lazily)";
  return e;
}

std::string render(const Explanation& e) {
  std::string out = "gpa " + hex(e.gpa) + " (gfn " + hex(e.gpa >> 12) + ")\n";
  if (e.has_slot)
    out += "  memslot " + std::to_string(e.slot_id) + ": gpa " + range_text(e.slot_gpa, e.slot_size) + " hva " +
           hex(e.slot_hva) + " flags " + memslot_flags_text(e.slot_flags) + "\n";
  else
    out += "  memslot: none\n";
  out += "  attributes " + hex(e.attributes) + (e.is_private ? " (PRIVATE)" : "") + "\n";
  if (e.leaf.level)
    out += std::string("  leaf: ") + level_name(e.leaf.level) + " " + range_text(e.leaf.gpa, level_size(e.leaf.level)) +
           " writable=" + std::to_string(e.leaf.writable) + " exec=" + std::to_string(e.leaf.executable) +
           " private=" + std::to_string(e.leaf.is_private) + " accessed=" + std::to_string(e.leaf.accessed) +
           " dirty=" + std::to_string(e.leaf.dirty) + "\n";
  else
    out += "  leaf: none\n";
  if (e.has_slot && e.outcome != "map") {
    out += "  factors:\n";
    for (const LevelFactor& f : e.factors) out += "    " + f.rule + ": no mapping - " + f.detail + "\n";
    out += "  decision for a read fault now: memory fault exit (EFAULT), no leaf\n";
  } else if (e.has_slot) {
    out += "  factors:\n";
    for (const LevelFactor& f : e.factors)
      out += "    " + f.rule + ": " + (f.cap >= 3 ? std::string("no limit") : "at most " + std::string(level_name(f.cap))) +
             " - " + f.detail + "\n";
    out += std::string("  decision for a read fault now: ") + level_name(e.decision.goal_level) + "\n";
    for (const LevelLimit& l : e.decision.limits)
      out += "    applied " + l.rule + " -> " + level_name(l.level) + ": " + l.detail + "\n";
    out += "  decided by: " + e.decided_by.rule + " - " + e.decided_by.detail + "\n";
  }
  out += "  verdict: " + e.summary + "\n";
  return out;
}

std::string explain(const Kvm& kvm, int vm_fd, u64 gpa) {
  const Vm* vm = kvm.vm(vm_fd);
  if (!vm) return "fd " + std::to_string(vm_fd) + " is not a VM\n";
  return render(explain_gpa(*vm, gpa));
}

}  // namespace kvmsim::model
