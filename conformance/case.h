// Conformance cases: each case is written once against kvmsim::KvmApi and runs unchanged on
// every backend (the model, the real /dev/kvm). A case declares the capabilities it needs; the
// runner computes a backend's capabilities from KVM_CHECK_EXTENSION answers and from what the
// backend can observe (stats()/mapping() returning nullopt = cannot observe), never from build
// flags or version numbers, and skips the case naming the first missing capability.
// Expected results are chosen inside a case from those capabilities and from profile()
// behaviour switches (never from a profile's name).
//
// Two call layers, as in KVM selftests (__vm_ioctl vs vm_ioctl): the raw layer returns a Call
// (the Ret plus a printable description of what was called) and never judges; expect_*() record
// failures with file:line and both values, and the case goes on. The checked layer (must(),
// create_vm(), ...) is for set-up: a failure ends the case, naming the call.
// Registration: KVMSIM_CASE(group, name, needs...) at namespace scope; the registry order is
// (group order, source file, line), which is deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "model/vm/kvm_api.h"

namespace kvmsim::conf {

// Capabilities a case may need. Names (need_name) are what SKIPPED reasons print.
enum class Need {
  user_memory2,        // KVM_CAP_USER_MEMORY2
  readonly_mem,        // KVM_CAP_READONLY_MEM
  guest_memfd,         // KVM_CAP_GUEST_MEMFD
  gmem_mmap,           // GUEST_MEMFD_FLAG_MMAP in KVM_CAP_GUEST_MEMFD_FLAGS (default VM)
  gmem_init_shared,    // GUEST_MEMFD_FLAG_INIT_SHARED in KVM_CAP_GUEST_MEMFD_FLAGS (default VM)
  memory_attributes,   // KVM_CAP_MEMORY_ATTRIBUTES (system) != 0
  no_memory_attributes,
  pre_fault,           // KVM_CAP_PRE_FAULT_MEMORY
  no_pre_fault,
  sw_protected_vm,     // KVM_X86_SW_PROTECTED_VM in KVM_CAP_VM_TYPES
  smm_address_space,   // KVM_CAP_MULTI_ADDRESS_SPACE >= 2
  manual_dirty_log,    // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
  dirty_log_ring,      // KVM_CAP_DIRTY_LOG_RING
  tdp,                 // TDP MMU: KVM_CAP_PRE_FAULT_MEMORY is tdp_enabled upstream
  one_g_pages,         // the MMU may map 1G leaves (profile max_huge_level)
  hugetlb,             // the backend can mmap hugetlbfs 2M memory
  hugetlb_1g,          // the backend can mmap hugetlbfs 1G memory
  stats,               // stats(vm) observable
  mapping,             // mapping(vm, gpa) observable
  guest_access,        // the backend can make a vCPU access guest memory
};
const char* need_name(Need n);

// What a backend was measured to support, plus the raw answers cases derive expectations from.
struct Capabilities {
  std::vector<Need> have;  // sorted, unique
  u64 vm_types = 0;                 // KVM_CAP_VM_TYPES (0 => only the default VM)
  u64 nr_memslots = 0;              // KVM_CAP_NR_MEMSLOTS
  u64 nr_as_default_vm = 1;         // KVM_CAP_MULTI_ADDRESS_SPACE on a default VM (0 => 1)
  u64 gmem_flags_default_vm = 0;    // KVM_CAP_GUEST_MEMFD_FLAGS on a default VM
  u64 gmem_flags_private_vm = 0;    // ... on a SW_PROTECTED VM (0 when unavailable)
  u64 manual_protect_mask = 0;      // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
  u64 dirty_ring_max_bytes = 0;     // KVM_CAP_DIRTY_LOG_RING
  bool has(Need n) const;
};

// Probes `api` (a fresh backend the probe may dirty) for its capabilities.
Capabilities probe_capabilities(KvmApi& api);

// A description of a call plus what it returned.
struct Call {
  Ret r;
  std::string what;
};

// Thrown by the checked layer / skip(): ends the current case (runner catches it).
struct CaseEnd {
  enum class Kind { failed, skipped } kind;
  std::string reason;
};

using Region = uapi::kvm_userspace_memory_region2;

// A region with the v1 fields set (and, for guest_memfd slots, the binding).
inline Region make_region(u32 slot, u64 gpa, u64 size, u64 uaddr, u32 flags = 0) {
  Region r{};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = uaddr;
  return r;
}
inline Region make_gmem_region(u32 slot, u64 gpa, u64 size, u64 uaddr, int gmem_fd, u64 offset = 0) {
  Region r = make_region(slot, gpa, size, uaddr, uapi::KVM_MEM_GUEST_MEMFD);
  r.guest_memfd = static_cast<u32>(gmem_fd);
  r.guest_memfd_offset = offset;
  return r;
}

constexpr u64 KiB = 1ull << 10;
constexpr u64 MiB = 1ull << 20;
constexpr u64 GiB = 1ull << 30;

class Check {
 public:
  Check(KvmApi& api, const Capabilities& caps) : api_(api), caps_(caps) {}

  KvmApi& api() { return api_; }
  const Capabilities& caps() const { return caps_; }
  const model::Profile& profile() const { return api_.profile(); }
  bool has(Need n) const { return caps_.has(n); }
  const std::vector<std::string>& failures() const { return failures_; }

  // ---- raw layer: never judges ----
  Call create_vm_raw(u64 type);
  Call check_extension(int fd, u32 cap);
  Call region(int vm, const Region& r);   // KVM_SET_USER_MEMORY_REGION (v1: first 32 bytes)
  Call region2(int vm, const Region& r);  // KVM_SET_USER_MEMORY_REGION2
  Call create_gmem_raw(int vm, u64 size, u64 flags, u64 reserved0 = 0, u64 reserved5 = 0);
  Call set_attributes(int vm, u64 address, u64 size, u64 attributes, u64 flags = 0);
  // Pre-fault; `inout` receives the written-back gpa/size.
  Call pre_fault(int vcpu, uapi::kvm_pre_fault_memory& inout);
  Call get_dirty_log(int vm, u32 slot, std::vector<u64>& bitmap);
  Call clear_dirty_log(int vm, u32 slot, u64 first_page, u32 num_pages, const std::vector<u64>& bitmap);
  Call enable_cap(int fd, u32 cap, u64 arg0, u32 flags = 0);
  Call fallocate(int fd, int mode, u64 offset, u64 len);
  Call ftruncate(int fd, u64 len);
  Call mmap_fd(int fd, u64 size, int prot, int flags);
  Call close(int fd);
  // Memory contents (docs/semantics/memory-contents.md): the VMM's u64 store/load (peek: ret = the
  // value; SIGBUS as Ret::signal), pwrite of `value` repeated, fstat.
  Call poke(u64 addr, u64 value);
  Call peek(u64 addr);
  Call pwrite(int fd, u64 offset, u64 len, u64 value);
  Call fstat(int fd, FileStat& out);

  // ---- checked layer: set-up that must succeed, or the case fails naming the call ----
  i64 must(const Call& call, std::source_location loc = std::source_location::current());
  int create_vm(u64 type = uapi::KVM_X86_DEFAULT_VM,
                std::source_location loc = std::source_location::current());
  int create_vcpu(int vm, u64 id = 0, std::source_location loc = std::source_location::current());
  // A VM with vCPU 0: the set-up of every case that faults.
  struct VmVcpu {
    int vm;
    int vcpu;
  };
  VmVcpu create_vm_with_vcpu(u64 type = uapi::KVM_X86_DEFAULT_VM,
                             std::source_location loc = std::source_location::current());
  u64 mmap(u64 size, Backing backing = Backing::anon, u64 align = 0,
           std::source_location loc = std::source_location::current());
  int create_gmem(int vm, u64 size, u64 flags = 0,
                  std::source_location loc = std::source_location::current());
  // v1 when the region fits it (no GUEST_MEMFD flag), else v2.
  void add_slot(int vm, const Region& r, std::source_location loc = std::source_location::current());
  Stats stats(int vm, std::source_location loc = std::source_location::current());
  // Ends the case as SKIPPED (a capability only discoverable by trying, e.g. hugetlb pages).
  [[noreturn]] void skip(const std::string& reason);
  [[noreturn]] void fail_now(const std::string& message,
                             std::source_location loc = std::source_location::current());

  // ---- expectations: record a failure and continue ----
  bool expect_ok(const Call& call, std::source_location loc = std::source_location::current());
  bool expect_err(const Call& call, int err, std::source_location loc = std::source_location::current());
  // Same as above, with the expected Ret given as a value (errno 0 = success with that value).
  bool expect_ret(const Call& call, Ret expected,
                  std::source_location loc = std::source_location::current());
  bool expect_eq(u64 actual, u64 expected, const std::string& what,
                 std::source_location loc = std::source_location::current());
  bool expect_true(bool cond, const std::string& what,
                   std::source_location loc = std::source_location::current());
  bool expect_outcome(const AccessOutcome& actual, const AccessOutcome& expected, const std::string& what,
                      std::source_location loc = std::source_location::current());
  // The VMM loads `expected` at addr (peek), or the guest's u64 load at gpa completes with it.
  bool expect_peek(u64 addr, u64 expected, std::source_location loc = std::source_location::current());
  bool expect_guest_load(int vcpu, u64 gpa, u64 expected, std::source_location loc = std::source_location::current());
  // The guest's u64 store of `value` at gpa completes.
  bool expect_guest_store(int vcpu, u64 gpa, u64 value, std::source_location loc = std::source_location::current());
  // Compares named stat deltas (after - before) with `expected`; other counters are ignored.
  bool expect_stats_delta(const Stats& before, const Stats& after, const Stats& expected,
                          std::source_location loc = std::source_location::current());
  // mapping(vm, gpa) level (0 = none). A backend that cannot observe mappings (a real kernel) records
  // the check as unobservable: it is reported with the case, never counted as held.
  bool expect_level(int vm, u64 gpa, int level, std::source_location loc = std::source_location::current());

  void fail(const std::string& message, std::source_location loc);
  // Checks this backend could not observe, "file:line: what" each.
  const std::vector<std::string>& unobservable() const { return unobservable_; }

 private:
  KvmApi& api_;
  const Capabilities& caps_;
  std::vector<std::string> failures_;
  std::vector<std::string> unobservable_;
};

// Formatting helpers shared by cases and the runner.
std::string errno_name(int err);
std::string ret_str(const Ret& r);
std::string outcome_str(const AccessOutcome& o);
std::string hex(u64 v);

AccessOutcome outcome_ok();
AccessOutcome outcome_mmio();
AccessOutcome outcome_error(int err);
AccessOutcome outcome_memory_fault(u64 flags, u64 gpa, u64 size);

using CaseFn = void (*)(Check&);

struct Case {
  std::string group;
  std::string name;
  std::vector<Need> needs;
  const char* file;
  int line;
  CaseFn fn;
  std::string id() const { return group + "/" + name; }
};

// Groups in report order; a case in an unknown group is a programming error (asserts).
const std::vector<std::string>& group_names();
bool register_case(Case c);
// All registered cases in deterministic order (group order, file, line).
const std::vector<Case>& all_cases();

}  // namespace kvmsim::conf

#define KVMSIM_CASE(group, name, ...)                                                             \
  static void kvmsim_case_##group##_##name(::kvmsim::conf::Check& c);                             \
  [[maybe_unused]] static const bool kvmsim_case_reg_##group##_##name = ::kvmsim::conf::register_case( \
      ::kvmsim::conf::Case{#group, #name, {__VA_ARGS__}, __FILE__, __LINE__, &kvmsim_case_##group##_##name}); \
  static void kvmsim_case_##group##_##name([[maybe_unused]] ::kvmsim::conf::Check& c)
