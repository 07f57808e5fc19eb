// KvmApi: everything a trace or a conformance case can do to a KVM host, as one interface.
// The model (model::Kvm) and the real /dev/kvm backend (sim/kvm) both implement it, so a trace
// or conformance case runs unchanged on either. Conventions, shared by every implementation:
//  * fds are small integers as the process sees them; kvm_fd() is the open /dev/kvm.
//  * every call returns what the syscall returns: Ret{value} or Ret{-1, errno}. In/out structs
//    are written back exactly when the kernel writes them back (pre-fault: always).
//  * host addresses are the VMM's virtual addresses returned by mmap(); the model simulates a
//    deterministic address space, the real backend uses real ones.
//  * stats()/mapping() return std::nullopt when the backend cannot observe that at all
//    (mapping() on real KVM); a caller must then report "unobservable", never a pass.
// Invariant: an implementation never reports an unobservable value as a value (std::nullopt).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/profiles/profile.h"
#include "model/types.h"
#include "model/uapi.h"

namespace kvmsim {

class KvmApi {
 public:
  virtual ~KvmApi() = default;

  virtual std::string backend_name() const = 0;
  // The semantics this backend answers with (for real KVM: the profile that matches the host).
  virtual const model::Profile& profile() const = 0;

  // ---- host memory of the VMM process ----
  // Anonymous/shmem/hugetlb mapping; ret = host address aligned to `align`.
  virtual Ret mmap(u64 size, Backing backing, u64 align) = 0;
  // The same with the VMM's prot, MAP_* flags and MAP_FIXED address. A backend that cannot place
  // mappings answers ENOSYS for anything but the default placement.
  virtual Ret mmap_placed(u64 size, Backing backing, u64 align, const MmapPlacement& placement) {
    return placement.is_default() ? mmap(size, backing, align) : Ret::fail(38 /* ENOSYS */);
  }
  // mmap of a file descriptor (guest_memfd, memfd); ret = host address.
  virtual Ret mmap_fd(int fd, u64 size, u64 offset, int prot, int flags) = 0;
  virtual Ret munmap(u64 addr, u64 size) = 0;
  virtual Ret madvise(u64 addr, u64 size, int advice) = 0;
  virtual Ret mprotect(u64 addr, u64 size, int prot) = 0;
  // The VMM writes [addr, addr+size) itself (traces/FORMAT.md `touch`).
  virtual Ret touch(u64 addr, u64 size) = 0;
  // A plain memfd of `size` bytes (not a guest_memfd), memfd_create(2) `flags` (MFD_*); ret = fd.
  virtual Ret memfd_create(u64 size, u64 flags) = 0;
  // Long-term GUP pins of [addr, addr+size) (traces/FORMAT.md `pin`/`unpin`; VFIO takes them through a
  // device). std::nullopt: this backend cannot take one (its diagnostic may say why); the statement is
  // then unobservable, never a pass.
  virtual std::optional<Ret> pin(u64 addr, u64 size) {
    (void)addr, (void)size;
    return std::nullopt;
  }
  virtual std::optional<Ret> unpin(u64 addr, u64 size) {
    (void)addr, (void)size;
    return std::nullopt;
  }
  // The VMM stores (poke) or loads (peek: ret = the value, as i64) the little-endian u64 at host
  // address `addr` (docs/semantics/memory-contents.md): Ret::signal(SIGBUS) where the kernel
  // raises SIGBUS (a guest_memfd page the host may not access, beyond EOF), -1 EFAULT where the
  // access would be SIGSEGV (unmapped, protection). touch() answers the same way.
  virtual Ret poke(u64 addr, u64 value) = 0;
  virtual Ret peek(u64 addr) = 0;

  // ---- /dev/kvm, VM and vCPU ioctls ----
  virtual int kvm_fd() const = 0;
  virtual Ret ioctl_create_vm(int fd, u64 type) = 0;
  virtual Ret ioctl_check_extension(int fd, u64 cap) = 0;
  virtual Ret ioctl_create_vcpu(int fd, u64 vcpu_id) = 0;
  virtual Ret ioctl_set_user_memory_region(int fd, const uapi::kvm_userspace_memory_region& r) = 0;
  // The v1 ioctl with the private-fd v5 proposal's extended struct: a kernel without KVM_MEM_PRIVATE
  // copies only the leading kvm_userspace_memory_region, so that is the default.
  virtual Ret ioctl_set_user_memory_region_ext(int fd, const uapi::kvm_userspace_memory_region_ext& r) {
    return ioctl_set_user_memory_region(
        fd, uapi::kvm_userspace_memory_region{r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr});
  }
  virtual Ret ioctl_set_user_memory_region2(int fd, const uapi::kvm_userspace_memory_region2& r) = 0;
  virtual Ret ioctl_create_guest_memfd(int fd, const uapi::kvm_create_guest_memfd& g) = 0;
  virtual Ret ioctl_set_memory_attributes(int fd, const uapi::kvm_memory_attributes& a) = 0;
  virtual Ret ioctl_pre_fault_memory(int fd, uapi::kvm_pre_fault_memory& inout) = 0;
  // Proposed guest_memfd KVM_SET_MEMORY_ATTRIBUTES2 (in-place conversion series); *written_back says
  // whether the kernel copied the struct (error_offset) back, which it does only on late errors.
  virtual Ret ioctl_set_memory_attributes2(int fd, uapi::kvm_memory_attributes2& inout, bool* written_back) = 0;
  // Proposed VM ioctl KVM_GUEST_MEMFD_POPULATE (RFC 2024-10), issued by process `process` (1: the VMM that
  // created the VM; another number: a second process holding the VM fd, traces/FORMAT.md `process=`).
  virtual Ret ioctl_guest_memfd_populate(int fd, const uapi::kvm_guest_memfd_populate& p, u32 process) = 0;
  // Proposed KVM_MAP_MEMORY (RFC v1); written back on every return.
  virtual Ret ioctl_map_memory(int fd, uapi::kvm_memory_mapping& inout) = 0;
  // bitmap is resized to ceil(npages/64) words of the slot and filled on success.
  virtual Ret ioctl_get_dirty_log(int fd, u32 slot, std::vector<u64>& bitmap) = 0;
  virtual Ret ioctl_clear_dirty_log(int fd, u32 slot, u64 first_page, u32 num_pages,
                                    const std::vector<u64>& bitmap) = 0;
  virtual Ret ioctl_enable_cap(int fd, const uapi::kvm_enable_cap& cap) = 0;

  // ---- file calls (guest_memfd and friends) ----
  virtual Ret fallocate(int fd, int mode, u64 offset, u64 len) = 0;
  virtual Ret ftruncate(int fd, u64 len) = 0;
  virtual Ret read(int fd, u64 len) = 0;
  virtual Ret write(int fd, u64 len) = 0;
  virtual Ret pread(int fd, u64 len, u64 offset) = 0;
  // pwrite(2) of `len` bytes whose buffer is the u64 `value` repeated (little-endian).
  virtual Ret pwrite(int fd, u64 offset, u64 len, u64 value) = 0;
  virtual Ret fstat(int fd, FileStat& out) = 0;
  virtual Ret close(int fd) = 0;

  // ---- guest behaviour: vCPU `vcpu_fd` performs one access, KVM_RUN reports the outcome ----
  // A plain read/exec touches one byte; a plain write stores the byte 0 (the guest agent's
  // `mov byte [rdi], 0`).
  virtual AccessOutcome access(int vcpu_fd, u64 gpa, AccessKind kind) = 0;
  // A u64 guest access (read or write only): a write stores `value`, a read reports what it
  // loaded in AccessOutcome::value (docs/semantics/memory-contents.md §5).
  virtual AccessOutcome access_value(int vcpu_fd, u64 gpa, AccessKind kind, u64 value) = 0;
  // access() (with_value false) or access_value() by a vCPU in System Management Mode: through address
  // space 1's memslots and the SMM roots (docs/semantics/smm.md). nullopt: this backend cannot put the vCPU
  // in SMM (why: diagnostic()), and the statement is unobservable.
  virtual std::optional<AccessOutcome> access_smm(int vcpu_fd, u64 gpa, AccessKind kind, bool with_value, u64 value) {
    (void)vcpu_fd, (void)gpa, (void)kind, (void)with_value, (void)value;
    return std::nullopt;
  }

  // ---- observation ----
  virtual std::optional<Stats> stats(int vm_fd) = 0;
  virtual std::optional<Mapping> mapping(int vm_fd, u64 gpa) = 0;
  // The leaf of the SMM root (address space 1) at gpa; nullopt as for access_smm().
  virtual std::optional<Mapping> mapping_smm(int vm_fd, u64 gpa) {
    (void)vm_fd, (void)gpa;
    return std::nullopt;
  }
  // Every TDP leaf of the VM's address space 0 (what mapping() looks up) as maximal runs
  // (model/mmu/leaf_runs.h); nullopt when the backend cannot observe page tables.
  virtual std::optional<std::vector<LeafRun>> leaf_runs(int vm_fd) {
    (void)vm_fd;
    return std::nullopt;
  }

  // ---- fault injection (trace `inject(SITE, KIND, after=N, count=C)`, model/fault_injection.h) ----
  // Arms a deterministic fault; false = this backend cannot inject (the real kernel): the replay
  // engine then reports the statement as unobservable, never as a divergence.
  virtual bool inject_fault(const std::string& site, const std::string& kind, u64 after, u64 count) {
    (void)site, (void)kind, (void)after, (void)count;
    return false;
  }

  // Why the last call failed in a way the kernel would not explain by itself (a safety cap, a
  // missing host resource); empty text when there is nothing to add. Reading it clears it.
  struct Diagnostic {
    std::string text;
    // The backend refused the request, or the host lacked a resource the model assumes (huge
    // pages): the kernel never answered it, so nothing after it can be compared with the model.
    bool host_limit = false;
  };
  virtual Diagnostic take_diagnostic() { return {}; }

  // ---- recorded-only statements (trace `ioctl(FD, REQUEST, ...)`, traces/FORMAT.md) ----
  // An ioctl the model does not model, put to the kernel as recorded: `bytes` is the argument buffer
  // (passed by pointer, written back in place) or, when empty, `arg` is passed as the integer argument.
  // nullopt: this backend cannot issue it (the model): the statement is unobservable, never a pass.
  virtual std::optional<Ret> raw_ioctl(int fd, u64 request, u64 arg, std::vector<unsigned char>* bytes) {
    (void)fd, (void)request, (void)arg, (void)bytes;
    return std::nullopt;
  }
};

}  // namespace kvmsim
