#include "model/vm/vm.h"

#include <algorithm>
#include <cerrno>

#include "model/core_assert.h"
#include "model/mmu/invariants.h"

namespace kvmsim::model {

using namespace uapi;

Vm::Vm(const Profile& profile, HostMemory& host, u64 type, PageTableImpl pt_impl)
    : profile_(profile),
      host_(host),
      type_(type),
      // docs/semantics/vm-and-caps.md §3: vendor code would set these for SNP/TDX; only DEFAULT and SW_PROTECTED exist here.
      has_private_mem_(type == KVM_X86_SW_PROTECTED_VM),
      pre_fault_allowed_(type == KVM_X86_DEFAULT_VM || type == KVM_X86_SW_PROTECTED_VM),
      nr_as_(has_private_mem_ ? 1 : std::max<u32>(1, profile.nr_address_spaces)),
      slots_(nr_as_),
      mmu_(MmuContext{profile_, host_, slots_, attributes_, has_private_mem_, pre_fault_allowed_, ever_had_memslot_,
                      manual_protect_},
           nr_as_, pt_impl) {
  // In-place conversion: PRIVATE comes from the guest_memfd (kvm_init_memory_attributes's static call).
  if (profile_.gmem_conversion.enabled) mmu_.set_gmem_is_private([this](u64 gfn) { return gmem_is_private(gfn); });
  // Only the populate RFC observes which folios are prepared (its EEXIST).
  if (profile_.has_gmem_populate)
    mmu_.set_gmem_faultin([this](const Memslot& s, u64 gfn) {
      gmem_.at(s.gmem->file_id).set_prepared((gfn - s.base_gfn) + (s.gmem->offset >> 12));
    });
}

void Vm::set_fault_injector(FaultInjector* f) {
  faults_ = f;
  mmu_.set_fault_injector(f);
}

const GuestMemfd* Vm::gmem(u64 file_id) const {
  auto it = gmem_.find(file_id);
  return it == gmem_.end() ? nullptr : &it->second;
}

Ret Vm::check_extension(u64 cap) const {
  if (cap > 0xffffffffull) return Ret::ok(0);
  return Ret::ok(static_cast<i64>(profile_.cap(static_cast<u32>(cap), true, has_private_mem_)));
}

Ret Vm::create_vcpu(u64 id) {
  if (id >= kMaxVcpuIds) return Ret::fail(EINVAL);
  if (vcpus_.size() >= kMaxVcpus) return Ret::fail(EINVAL);
  if (vcpus_.count(static_cast<u32>(id))) return Ret::fail(EEXIST);
  vcpus_.insert(static_cast<u32>(id));
  return Ret::ok();
}

Ret Vm::enable_cap(const kvm_enable_cap& cap) {
  const bool supported = profile_.cap(cap.cap, true, has_private_mem_) != 0;
  switch (cap.cap) {
    case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: {  // generic (kvm_main.c)
      if (!supported) return Ret::fail(EINVAL);
      u64 allowed = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
      if (cap.args[0] & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
        allowed = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
      if (cap.flags || (cap.args[0] & ~allowed)) return Ret::fail(EINVAL);
      manual_protect_ = cap.args[0];
      return Ret::ok();
    }
    case KVM_CAP_DIRTY_LOG_RING:
    case KVM_CAP_DIRTY_LOG_RING_ACQ_REL: {  // kvm_vm_ioctl_enable_dirty_log_ring
      if (!supported) return Ret::fail(EINVAL);
      const u64 size = cap.args[0];
      const u64 max = profile_.cap(cap.cap, true, has_private_mem_);
      constexpr u64 kRsvdEntries = 64;  // KVM_DIRTY_RING_RSVD_ENTRIES; no PML entries on AMD/PVM
      if (!size || (size & (size - 1))) return Ret::fail(EINVAL);
      if (size < kRsvdEntries * sizeof(kvm_dirty_gfn) || size < kPageSize) return Ret::fail(EINVAL);
      if (size > max) return Ret::fail(E2BIG);
      if (dirty_ring_size_) return Ret::fail(EINVAL);
      if (!vcpus_.empty()) return Ret::fail(EINVAL);
      dirty_ring_size_ = size;
      return Ret::ok();
    }
    default:
      break;
  }
  // x86 kvm_vm_ioctl_enable_cap: flags must be zero for every arch cap.
  if (cap.flags) return Ret::fail(EINVAL);
  switch (cap.cap) {
    case KVM_CAP_DISABLE_QUIRKS2: {
      const u64 quirks = profile_.cap(KVM_CAP_DISABLE_QUIRKS2, true, has_private_mem_);
      if (cap.args[0] & ~quirks) return Ret::fail(EINVAL);
      disabled_quirks_ |= cap.args[0];
      return Ret::ok();
    }
    case KVM_CAP_VM_DISABLE_NX_HUGE_PAGES:
      if (!supported || cap.args[0]) return Ret::fail(EINVAL);
      // The model runs as root (CAP_SYS_BOOT), so no EPERM.
      if (!vcpus_.empty()) return Ret::fail(EINVAL);
      // No vCPU yet, so nothing can be mapped: no zap needed when the mitigation changes.
      mmu_.disable_nx_huge_pages();
      return Ret::ok();
    default:
      return Ret::fail(EINVAL);
  }
}

bool Vm::slot_zap_all() const {
  if (profile_.zap_all_on_slot_change) return true;
  return profile_.slot_zap_all_quirk && type_ == KVM_X86_DEFAULT_VM &&
         !(disabled_quirks_ & KVM_X86_QUIRK_SLOT_ZAP_ALL);
}

void Vm::invalidate_slot(const Memslot& old) {
  if (slot_zap_all()) mmu_.zap_all();
  else mmu_.zap_gfn_range(old.as_id, old.base_gfn, old.end_gfn());
}

Ret Vm::set_memory_attributes(const kvm_memory_attributes& a) {
  const u64 supported = profile_.cap(KVM_CAP_MEMORY_ATTRIBUTES, true, has_private_mem_);
  if (Ret r = check_set_memory_attributes(a, supported); !r.is_ok()) return r;
  const u64 start = a.address >> 12, end = (a.address + a.size) >> 12;
  if (attributes_.range_has(start, end, a.attributes)) return Ret::ok();  // nothing changes
  // Pre-phase: zap the intersection with every memslot of every address space.
  for (u32 as = 0; as < nr_as_; ++as)
    for (const Memslot* s : slots_[as].overlapping(start, end))
      mmu_.zap_gfn_range(s->as_id, std::max(start, s->base_gfn), std::min(end, s->end_gfn()));
  attributes_.set(start, end, a.attributes);
  mmu_.post_set_memory_attributes(start, end);
  return Ret::ok();
}

Ret Vm::pre_fault_memory(u32 vcpu_id, kvm_pre_fault_memory& range) {
  KVMSIM_ASSERT(has_vcpu(vcpu_id), "vcpu %u", vcpu_id);
  // Generic part (kvm_vcpu_pre_fault_memory); the struct is written back by the caller.
  if (range.flags) return Ret::fail(EINVAL);
  if (((range.gpa | range.size) & (kPageSize - 1)) || range.gpa + range.size <= range.gpa)
    return Ret::fail(EINVAL);
  const u64 full_size = range.size;
  Ret r = Ret::ok();
  while (range.size) {
    // signal_pending() at the top of each iteration: EINTR, keeping the progress made so far.
    if (inject(FaultSite::pre_fault_signal)) {
      r = Ret::fail(EINTR);
      break;
    }
    // Runs of pages whose steps would all succeed alike are mapped at once (pre_fault.cpp).
    if (const u64 done = mmu_.pre_fault_bulk(range.gpa, range.size)) {
      range.size -= done;
      range.gpa += done;
      continue;
    }
    r = mmu_.pre_fault_step(range.gpa, range.size);
    // 0 (no progress) and EIO are WARNs in the kernel; like any error they stop the loop.
    if (!r.is_ok() || r.ret == 0) break;
    range.size -= static_cast<u64>(r.ret);
    range.gpa += static_cast<u64>(r.ret);
  }
  if (range.size != full_size) return Ret::ok();  // partial progress hides a later error
  return r.is_ok() ? Ret::ok() : r;
}

AccessOutcome Vm::access(u32 vcpu_id, u64 gpa, AccessKind kind, u16 as_id) {
  KVMSIM_ASSERT(has_vcpu(vcpu_id), "vcpu %u", vcpu_id);
  AccessOutcome o = mmu_.access(gpa, kind, as_id);
  // A plain write is the guest agent's `mov byte [gpa], 0` (docs/semantics/memory-contents.md §5).
  if (kind == AccessKind::write && o.kind == AccessOutcome::Kind::ok) {
    const HostMemory::Location l = guest_location(gpa, true, as_id);
    host_.contents().store(l.object, l.offset, 0, 1);
  }
  return o;
}

void check_invariants(const Vm& vm) { check_invariants(vm.mmu()); }

}  // namespace kvmsim::model
