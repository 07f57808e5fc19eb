// Kvm: the simulated VMM process as KVM sees it. It owns the process's fd table (lowest free
// fd first, starting at 3; /dev/kvm is opened at construction and is the first fd), the
// simulated host address space, and the VMs; every KvmApi call is dispatched by fd kind
// (system / VM / vCPU / guest_memfd / memfd) with the kernel's dispatch errnos:
// closed or unknown fd -> EBADF; a VM or vCPU ioctl on /dev/kvm -> EINVAL (x86
// kvm_arch_dev_ioctl); a non-VM ioctl on a VM fd -> ENOTTY; a non-vCPU ioctl on a vCPU fd ->
// EINVAL; any KVM ioctl on a guest_memfd or memfd -> ENOTTY.
// Lifetimes follow the kernel's references: a VM lives while its VM fd, a vCPU fd or a
// guest_memfd of it is open; a guest_memfd file lives while its fd is open or it is mmapped.
// Host memory changes are forwarded to every live VM as MMU-notifier invalidations.
// Invariant: every open fd has exactly one kind; a Vm stays where it was built (its Mmu and
// notifier point into it).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/host/host_memory.h"
#include "model/vm/kvm_api.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

class Kvm : public KvmApi {
 public:
  // `pt_impl`: page-table storage of every VM (PageTableImpl::reference = backend "model-ref").
  explicit Kvm(const Profile& profile, PageTableImpl pt_impl = PageTableImpl::compact);
  // VMs hold a notifier pointing back at this Kvm: it must stay where it was built.
  Kvm(const Kvm&) = delete;
  Kvm& operator=(const Kvm&) = delete;

  std::string backend_name() const override { return pt_impl_ == PageTableImpl::reference ? "model-ref" : "model"; }
  const Profile& profile() const override { return profile_; }

  Ret mmap(u64 size, Backing backing, u64 align) override;
  Ret mmap_placed(u64 size, Backing backing, u64 align, const MmapPlacement& placement) override;
  Ret mmap_fd(int fd, u64 size, u64 offset, int prot, int flags) override;
  Ret munmap(u64 addr, u64 size) override;
  Ret madvise(u64 addr, u64 size, int advice) override;
  Ret mprotect(u64 addr, u64 size, int prot) override;
  Ret touch(u64 addr, u64 size) override;
  Ret memfd_create(u64 size, u64 flags) override;
  std::optional<Ret> pin(u64 addr, u64 size) override;
  std::optional<Ret> unpin(u64 addr, u64 size) override;
  Ret poke(u64 addr, u64 value) override;
  Ret peek(u64 addr) override;

  int kvm_fd() const override { return kvm_fd_; }
  Ret ioctl_create_vm(int fd, u64 type) override;
  Ret ioctl_check_extension(int fd, u64 cap) override;
  Ret ioctl_create_vcpu(int fd, u64 vcpu_id) override;
  Ret ioctl_set_user_memory_region(int fd, const uapi::kvm_userspace_memory_region& r) override;
  Ret ioctl_set_user_memory_region_ext(int fd, const uapi::kvm_userspace_memory_region_ext& r) override;
  Ret ioctl_set_user_memory_region2(int fd, const uapi::kvm_userspace_memory_region2& r) override;
  Ret ioctl_create_guest_memfd(int fd, const uapi::kvm_create_guest_memfd& g) override;
  Ret ioctl_set_memory_attributes(int fd, const uapi::kvm_memory_attributes& a) override;
  Ret ioctl_pre_fault_memory(int fd, uapi::kvm_pre_fault_memory& inout) override;
  Ret ioctl_map_memory(int fd, uapi::kvm_memory_mapping& inout) override;
  Ret ioctl_set_memory_attributes2(int fd, uapi::kvm_memory_attributes2& inout, bool* written_back) override;
  Ret ioctl_guest_memfd_populate(int fd, const uapi::kvm_guest_memfd_populate& p, u32 process) override;
  // A bug of a modelled proposal that the last call reached ("kernel-bug: ..."), like a splat.
  Diagnostic take_diagnostic() override {
    Diagnostic d{std::move(kernel_bug_), false};
    kernel_bug_.clear();
    return d;
  }
  Ret ioctl_get_dirty_log(int fd, u32 slot, std::vector<u64>& bitmap) override;
  Ret ioctl_clear_dirty_log(int fd, u32 slot, u64 first_page, u32 num_pages,
                            const std::vector<u64>& bitmap) override;
  Ret ioctl_enable_cap(int fd, const uapi::kvm_enable_cap& cap) override;

  Ret fallocate(int fd, int mode, u64 offset, u64 len) override;
  Ret ftruncate(int fd, u64 len) override;
  Ret read(int fd, u64 len) override;
  Ret write(int fd, u64 len) override;
  Ret pread(int fd, u64 len, u64 offset) override;
  Ret pwrite(int fd, u64 offset, u64 len, u64 value) override;
  Ret fstat(int fd, FileStat& out) override;
  Ret close(int fd) override;

  AccessOutcome access(int vcpu_fd, u64 gpa, AccessKind kind) override;
  std::optional<AccessOutcome> access_smm(int vcpu_fd, u64 gpa, AccessKind kind, bool with_value, u64 value) override;
  std::optional<Mapping> mapping_smm(int vm_fd, u64 gpa) override;
  AccessOutcome access_value(int vcpu_fd, u64 gpa, AccessKind kind, u64 value) override;
  std::optional<Stats> stats(int vm_fd) override;
  std::optional<Mapping> mapping(int vm_fd, u64 gpa) override;
  std::optional<std::vector<LeafRun>> leaf_runs(int vm_fd) override;
  bool inject_fault(const std::string& site, const std::string& kind, u64 after, u64 count) override;

  // ---- introspection for the MMU, the trace engine and tests ----
  const Vm* vm(int fd) const;  // the VM of a VM fd, else nullptr
  Vm* vm(int fd);
  HostMemory& host() { return host_; }
  // The process-wide fault injector every VM consults (fault_injection.h); seeded rates for fuzzing.
  FaultInjector& faults() { return faults_; }
  const HostMemory& host() const { return host_; }

 private:
  enum class FdKind { system, vm, vcpu, gmem, memfd };
  struct FdEntry {
    FdKind kind = FdKind::system;
    std::shared_ptr<Vm> vm;  // vm, vcpu, gmem
    u32 vcpu_id = 0;
    u64 file_id = 0;                 // gmem, memfd
    std::shared_ptr<Memfd> memfd;
    u64 gmem_pos = 0;  // gmem: the file position write(2) advances ("populate via write()")
  };

  std::string kernel_bug_;
  FdEntry* entry(int fd);
  int alloc_fd(FdEntry e);
  // Resolves the fd of a VM ioctl: the VM, or the dispatch errno.
  // Resolves the fd of a vCPU ioctl: the entry, or the dispatch errno (EBADF; EINVAL on /dev/kvm,
  // ENOTTY on other fds).
  Ret vcpu_ioctl_target(int fd, FdEntry** out);
  Ret vm_ioctl_target(int fd, Vm** vm);
  GmemRef resolve_gmem(u32 fd);
  void forward(const std::vector<HostRange>& invalidated);
  Ret finish(const HostChange& c);
  void maybe_release_gmem(u64 file_id);
  // private-fd v5: pages [first, last) of a memfd leave its page cache (hole punch, truncate).
  void remove_memfd_pages(Memfd& m, u64 first, u64 last);
  // private-fd v5: every VM's memfile notifier for pages [start, end) of memfd `file_id`.
  void notify_private_fd(u64 file_id, u64 start, u64 end);
  void collect_kernel_bugs(Vm& v);

  const Profile& profile_;
  PageTableImpl pt_impl_;
  HostMemory host_;
  int kvm_fd_ = -1;
  std::map<int, FdEntry> fds_;
  std::vector<std::weak_ptr<Vm>> vms_;  // creation order: notifier delivery is deterministic
  // guest_memfd files whose fd is closed but that are still mmapped (the VMA holds the file).
  std::map<u64, std::shared_ptr<Vm>> mapped_gmem_;
  u64 next_file_id_ = 1;
  FaultInjector faults_;
};

}  // namespace kvmsim::model
