// KvmBackend: KvmApi on the real /dev/kvm. Every method issues the real syscall and returns
// exactly what it returned (Ret{value} or Ret{-1, errno}); in/out structs are written back as the
// kernel wrote them. Besides the syscalls themselves the backend keeps only bookkeeping needed to
// be safe and observable:
//  * host memory: HostMemory (backings, alignment, the max_host_mem cap, unmap at destruction);
//  * every fd it created (VMs, vCPUs + their kvm_run mappings, guest_memfds, memfds), closed at
//    destruction (close() through the API forgets the fd);
//  * per VM, the memslots that succeeded (id incl. as_id -> gpa/size/flags/uaddr): sizes the
//    dirty bitmap, finds host addresses for exec stubs, and keeps the guest agent out of the way;
//  * per VM, the lazily created GuestAgent (guest_agent.h) that performs access().
// Agent vs. trace: the agent's slot id and GPA range are chosen among those the trace is not
// using. If the trace later names the agent's slot id (as_id 0) or a range/GPA overlapping the
// agent, the agent's slot is deleted first (a real slot deletion, with KVM's usual zap) and the
// agent is re-created elsewhere on the next access; with no free slot id, access() fails with
// ENOSPC and last_diagnostic() says why. stats() excludes the agent's leaves (drop_host_ptes).
// The agent's own memory does not count toward max_host_mem.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/vm/kvm_api.h"
#include "sim/kvm/guest_agent.h"
#include "sim/kvm/host_memory.h"

namespace kvmsim::kvm {

struct KvmBackendOptions {
  std::string device = "/dev/kvm";
  u64 max_host_mem = 2ull << 30;
};

class KvmBackend final : public KvmApi {
 public:
  // Takes ownership of the open device fd.
  KvmBackend(int kvm_fd, const model::Profile& answers_as, const KvmBackendOptions& opts);
  ~KvmBackend() override;
  KvmBackend(const KvmBackend&) = delete;
  KvmBackend& operator=(const KvmBackend&) = delete;

  std::string backend_name() const override { return "kvm"; }
  const model::Profile& profile() const override { return profile_; }

  Ret mmap(u64 size, Backing backing, u64 align) override;
  Ret mmap_placed(u64 size, Backing backing, u64 align, const MmapPlacement& placement) override;
  Ret mmap_fd(int fd, u64 size, u64 offset, int prot, int flags) override;
  Ret munmap(u64 addr, u64 size) override;
  Ret madvise(u64 addr, u64 size, int advice) override;
  Ret mprotect(u64 addr, u64 size, int prot) override;
  Ret touch(u64 addr, u64 size) override;
  Ret memfd_create(u64 size, u64 flags) override;
  Ret poke(u64 addr, u64 value) override;
  Ret peek(u64 addr) override;

  int kvm_fd() const override { return kvm_fd_; }
  std::optional<Ret> raw_ioctl(int fd, u64 request, u64 arg, std::vector<unsigned char>* bytes) override;
  Ret ioctl_create_vm(int fd, u64 type) override;
  Ret ioctl_check_extension(int fd, u64 cap) override;
  Ret ioctl_create_vcpu(int fd, u64 vcpu_id) override;
  Ret ioctl_set_user_memory_region(int fd, const uapi::kvm_userspace_memory_region& r) override;
  Ret ioctl_set_user_memory_region2(int fd, const uapi::kvm_userspace_memory_region2& r) override;
  Ret ioctl_create_guest_memfd(int fd, const uapi::kvm_create_guest_memfd& g) override;
  Ret ioctl_set_memory_attributes(int fd, const uapi::kvm_memory_attributes& a) override;
  Ret ioctl_pre_fault_memory(int fd, uapi::kvm_pre_fault_memory& inout) override;
  Ret ioctl_map_memory(int fd, uapi::kvm_memory_mapping& inout) override;
  Ret ioctl_set_memory_attributes2(int fd, uapi::kvm_memory_attributes2& inout, bool* written_back) override;
  Ret ioctl_guest_memfd_populate(int fd, const uapi::kvm_guest_memfd_populate& p, u32 process) override;
  std::optional<Ret> pin(u64 addr, u64 size) override;
  std::optional<Ret> unpin(u64 addr, u64 size) override;
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
  AccessOutcome access_value(int vcpu_fd, u64 gpa, AccessKind kind, u64 value) override;
  // The guest agent has no SMM handler (docs/semantics/smm.md §4): unobservable, with the reason.
  std::optional<AccessOutcome> access_smm(int, u64, AccessKind, bool, u64) override {
    diag_ = "the guest agent cannot enter SMM (it has no KVM_SMI path and no handler at SMBASE+0x8000)";
    return std::nullopt;
  }

  std::optional<Stats> stats(int vm_fd) override;
  std::optional<Mapping> mapping(int, u64) override { return std::nullopt; }

  // Why the last failing call failed, when errno alone is not enough (hugetlb without reserved
  // pages, the host memory cap, agent errors). Cleared at the start of such calls.
  const std::string& last_diagnostic() const { return diag_; }
  Diagnostic take_diagnostic() override {
    return Diagnostic{std::exchange(diag_, std::string()), std::exchange(diag_host_limit_, false)};
  }
  // Where the agent of `vm_fd` lives (nullopt: not created yet).
  std::optional<AgentPlacement> agent_placement(int vm_fd) const;

 private:
  struct Slot {
    u64 gpa = 0, size = 0, uaddr = 0;
    u32 flags = 0;
  };
  struct Vm {
    int fd = -1;
    std::map<u32, Slot> slots;  // by slot id incl. as_id << 16
    std::unique_ptr<GuestAgent> agent;
    u64 agent_generation = 0;
  };
  struct Vcpu {
    int fd = -1;
    std::shared_ptr<Vm> vm;
    x86::kvm_run* run = nullptr;
    u64 run_size = 0;
    bool cpuid_set = false;
    u64 setup_generation = 0;  // agent generation the sregs point at (0: none)
  };

  std::shared_ptr<Vm> vm_of(int fd) const;
  void track_slot(Vm& vm, u32 slot, u64 gpa, u64 size, u32 flags, u64 uaddr);
  // Moves the agent out of the way of a trace memslot call (slot id / range) or access (gpa).
  void evict_agent_if_colliding(Vm& vm, u32 slot, u64 gpa, u64 size);
  // Safety: refuses a memslot create whose kernel-side metadata would exceed the host-memory cap.
  std::optional<Ret> refuse_oversized_slot(const Vm& vm, u32 slot, u64 size);
  bool ensure_agent(Vm& vm, u64 avoid_gpa);  // placement avoids trace slots and avoid_gpa
  bool ensure_vcpu_ready(Vcpu& v);
  // The address-space-0 slot covering gpa (nullptr: none).
  static const Slot* slot_at(const Vm& vm, u64 gpa);
  u64 exec_stub_hva(const Vm& vm, u64 gpa) const;
  // The hva a guest write to gpa would store to when it is memory of this process that the
  // backend did not map for the trace (its heap, stack, code): nullopt when the write is safe.
  std::optional<u64> write_hits_own_memory(const Vm& vm, u64 gpa) const;
  // Safety: host-memory and file calls on what belongs to kvmsim rather than to the trace are
  // refused as host limits (KvmApi::Diagnostic) instead of being passed to the kernel.
  std::optional<Ret> refuse_foreign_range(const char* call, u64 addr, u64 size);
  std::optional<Ret> refuse_foreign_fd(const char* call, int fd);
  // poke/peek: the u64 at addr is memory the trace mapped with a protection allowing the access,
  // else the answer (EFAULT for SIGSEGV, or a refusal of kvmsim's own memory).
  // access()/access_value(): `value` null for a plain access.
  AccessOutcome run_access(int vcpu_fd, u64 gpa, AccessKind kind, const u64* value);
  std::optional<Ret> refuse_user_access(const char* call, u64 addr, bool write);
  Ret sys(long r) { return r < 0 ? Ret::fail(errno) : Ret::ok(r); }

  model::Profile profile_;
  KvmBackendOptions opts_;
  int kvm_fd_;
  HostMemory mem_;
  std::string diag_;
  bool diag_host_limit_ = false;  // diag_ explains a host-limit refusal (see KvmApi::Diagnostic)
  std::set<int> files_;  // guest_memfds and memfds we created
  std::map<int, u64> gmem_flags_;
  std::map<int, std::shared_ptr<Vm>> vms_;
  std::vector<std::shared_ptr<Vm>> closed_vms_;  // fd closed; agent memory kept until destruction
  std::map<int, Vcpu> vcpus_;
  std::vector<u8> supported_cpuid_;  // kvm_cpuid2 blob, fetched once
  u64 next_agent_generation_ = 1;
};

// Opens opts.device; nullptr and a one-line *error when it cannot be opened.
std::unique_ptr<KvmApi> make_kvm_backend(const model::Profile& answers_as, const KvmBackendOptions& opts,
                                         std::string* error);

}  // namespace kvmsim::kvm
