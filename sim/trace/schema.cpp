#include "sim/trace/schema.h"

#include <cstddef>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "model/uapi.h"

namespace kvmsim::trace {

namespace {

FieldSpec E(std::string_view n) { return FieldSpec{n, FieldKind::expr, 0, 0, {}}; }
FieldSpec R(std::string_view n) { return FieldSpec{n, FieldKind::ranges, 0, 0, {}}; }
FieldSpec F(std::string_view n) { return FieldSpec{n, FieldKind::flag, 0, 0, {}}; }

// Fields of uAPI struct S, named after and placed like member M: the name cannot drift from upstream's
// spelling, and replay fills S from these rows alone. A list's capacity is the member's array extent.
#define KVMSIM_AT(S, M) offsetof(uapi::S, M), sizeof(std::remove_extent_t<decltype(uapi::S::M)>)
#define SE(S, M) FieldSpec{#M, FieldKind::expr, 0, 0, {}, KVMSIM_AT(S, M)}
#define SH(S, M, kinds) FieldSpec{#M, FieldKind::handle, kinds, 0, {}, KVMSIM_AT(S, M)}
#define SL(S, M) FieldSpec{#M, FieldKind::list, 0, std::extent_v<decltype(uapi::S::M)>, {}, KVMSIM_AT(S, M)}
// A record parameter filling uAPI struct S (the parameter is named after the struct).
#define PS(S, ...) ParamSpec{#S, ParamKind::record, 0, {__VA_ARGS__}, {}, sizeof(uapi::S)}

ParamSpec PH(std::string_view n, unsigned kinds) { return ParamSpec{n, ParamKind::handle, kinds, {}, {}}; }
ParamSpec PE(std::string_view n) { return ParamSpec{n, ParamKind::expr, 0, {}, {}}; }
ParamSpec PW(std::string_view n, std::vector<std::string_view> w) { return ParamSpec{n, ParamKind::word, 0, {}, std::move(w)}; }

const std::vector<std::string_view> kBackings = {"anon", "anon_nohuge", "thp", "shmem", "hugetlb_2m", "hugetlb_1g"};
const std::vector<std::string_view> kAccess = {"read", "write", "exec"};
const std::vector<std::string_view> kLevels = {"4K", "2M", "1G", "none"};
const std::vector<std::string_view> kInjectSites = {"pre_fault", "alloc", "fault", "signal"};
const std::vector<std::string_view> kInjectKinds = {"eintr", "eagain", "enomem", "retry", "pending"};

// VM ioctls accept `vm`; a raw number or another fd kind is the caller's way to test EBADF/ENOTTY.
constexpr unsigned kVmLike = kHandleVm;

std::vector<StatementSpec> build() {
  std::vector<StatementSpec> s;
  auto add = [&](StatementSpec spec) { s.push_back(std::move(spec)); };
  const auto B = Binding::optional;

  // ---- host memory ----
  add({"mmap", Op::mmap, false,
       {PE("size"), ParamSpec{"backing", ParamKind::backing_or_fd, kHandleGmem | kHandleMemfd, {}, kBackings}},
       {E("align"), E("offset"), E("prot"), E("flags"), E("addr")}, B, kHandleMem});
  add({"munmap", Op::munmap, false, {PE("addr"), PE("size")}});
  add({"madvise", Op::madvise, false, {PE("addr"), PE("size"), PE("advice")}});
  add({"mprotect", Op::mprotect, false, {PE("addr"), PE("size"), PE("prot")}});
  add({"touch", Op::touch, false, {PE("addr"), PE("size")}, {}, Binding::forbidden, 0, ResultKind::host});
  // Memory contents [ext]: the VMM's own u64 stores and loads (docs/semantics/memory-contents.md).
  add({"poke", Op::poke, false, {PE("addr"), PE("value")}, {}, Binding::forbidden, 0, ResultKind::host});
  add({"peek", Op::peek, false, {PE("addr")}, {}, Binding::forbidden, 0, ResultKind::host});
  add({"memfd_create", Op::memfd_create, false, {PE("size")}, {E("flags")}, B, kHandleMemfd});
  // [ext] long-term GUP pins, as VFIO takes them (docs/semantics/gmem-conversion.md §3).
  add({"pin", Op::pin, false, {PE("addr"), PE("size")}});
  add({"unpin", Op::unpin, false, {PE("addr"), PE("size")}});

  // ---- KVM objects and ioctls ----
  add({"KVM_CREATE_VM", Op::create_vm, false, {PE("type")}, {}, B, kHandleVm});
  add({"KVM_CREATE_VCPU", Op::create_vcpu, false, {PH("vm", kVmLike), PE("vcpu_id")}, {}, B, kHandleVcpu});
  add({"KVM_CREATE_GUEST_MEMFD", Op::create_guest_memfd, false,
       {PH("vm", kVmLike | kHandleKvm),
        PS(kvm_create_guest_memfd, SE(kvm_create_guest_memfd, size), SE(kvm_create_guest_memfd, flags),
           SL(kvm_create_guest_memfd, reserved))},
       {}, B, kHandleGmem});
  add({"KVM_CHECK_EXTENSION", Op::check_extension, false, {PH("fd", kHandleKvm | kHandleVm), PE("cap")}});
  // The record fills the private-fd v5 proposal's kvm_userspace_memory_region_ext (named
  // kvm_userspace_memory_region, as upstream's); private_offset/private_fd only matter with KVM_MEM_PRIVATE.
  add({"KVM_SET_USER_MEMORY_REGION", Op::set_user_memory_region, false,
       {PH("vm", kVmLike),
        ParamSpec{"kvm_userspace_memory_region", ParamKind::record, 0,
                  {SE(kvm_userspace_memory_region_ext, slot), SE(kvm_userspace_memory_region_ext, flags),
                   SE(kvm_userspace_memory_region_ext, guest_phys_addr),
                   SE(kvm_userspace_memory_region_ext, memory_size),
                   SE(kvm_userspace_memory_region_ext, userspace_addr),
                   SE(kvm_userspace_memory_region_ext, private_offset),
                   SH(kvm_userspace_memory_region_ext, private_fd, kHandleFd)},
                  {}, sizeof(uapi::kvm_userspace_memory_region_ext)}}});
  add({"KVM_SET_USER_MEMORY_REGION2", Op::set_user_memory_region2, false,
       {PH("vm", kVmLike),
        PS(kvm_userspace_memory_region2, SE(kvm_userspace_memory_region2, slot),
           SE(kvm_userspace_memory_region2, flags), SE(kvm_userspace_memory_region2, guest_phys_addr),
           SE(kvm_userspace_memory_region2, memory_size), SE(kvm_userspace_memory_region2, userspace_addr),
           SE(kvm_userspace_memory_region2, guest_memfd_offset),
           SH(kvm_userspace_memory_region2, guest_memfd, kHandleFd), SE(kvm_userspace_memory_region2, pad1),
           SL(kvm_userspace_memory_region2, pad2))}});
  add({"KVM_SET_MEMORY_ATTRIBUTES", Op::set_memory_attributes, false,
       {PH("vm", kVmLike),
        PS(kvm_memory_attributes, SE(kvm_memory_attributes, address), SE(kvm_memory_attributes, size),
           SE(kvm_memory_attributes, attributes), SE(kvm_memory_attributes, flags))}});
  // Proposal: the guest_memfd ioctl of the in-place conversion series (docs/semantics/gmem-conversion.md);
  // answers ENOTTY unless the profile has it. The struct is copied back only on late errors (error_offset).
  add({"KVM_SET_MEMORY_ATTRIBUTES2", Op::set_memory_attributes2, false,
       {PH("gmem", kHandleFd),
        PS(kvm_memory_attributes2, SE(kvm_memory_attributes2, offset), SE(kvm_memory_attributes2, size),
           SE(kvm_memory_attributes2, attributes), SE(kvm_memory_attributes2, flags),
           SL(kvm_memory_attributes2, reserved))},
       {}, Binding::forbidden, 0, ResultKind::integer, {SE(kvm_memory_attributes2, error_offset)}});
  // Proposal: the Firecracker RFC's VM ioctl (docs/semantics/gmem-populate.md); `process=N` issues it from
  // another process holding the VM fd (1, the default, is the VMM that created the VM).
  add({"KVM_GUEST_MEMFD_POPULATE", Op::guest_memfd_populate, false,
       {PH("vm", kVmLike),
        PS(kvm_guest_memfd_populate, SE(kvm_guest_memfd_populate, gpa), SE(kvm_guest_memfd_populate, size),
           SE(kvm_guest_memfd_populate, from), SE(kvm_guest_memfd_populate, flags))},
       {E("process")}});
  add({"KVM_PRE_FAULT_MEMORY", Op::pre_fault_memory, false,
       {PH("vcpu", kHandleVcpu),
        PS(kvm_pre_fault_memory, SE(kvm_pre_fault_memory, gpa), SE(kvm_pre_fault_memory, size),
           SE(kvm_pre_fault_memory, flags), SL(kvm_pre_fault_memory, padding))},
       {}, Binding::forbidden, 0, ResultKind::integer, {SE(kvm_pre_fault_memory, gpa), SE(kvm_pre_fault_memory, size)}});
  // Proposal: KVM_MAP_MEMORY, RFC v1 (docs/semantics/proposals.md §1); answers EINVAL unless the
  // profile has it. The struct is copied back on every return.
  add({"KVM_MAP_MEMORY", Op::map_memory, false,
       {PH("vcpu", kHandleVcpu),
        PS(kvm_memory_mapping, SE(kvm_memory_mapping, base_gfn), SE(kvm_memory_mapping, nr_pages),
           SE(kvm_memory_mapping, flags), SE(kvm_memory_mapping, source))},
       {}, Binding::forbidden, 0, ResultKind::integer,
       {SE(kvm_memory_mapping, base_gfn), SE(kvm_memory_mapping, nr_pages), SE(kvm_memory_mapping, source)}});
  add({"KVM_GET_DIRTY_LOG", Op::get_dirty_log, false, {PH("vm", kVmLike), PS(kvm_dirty_log, SE(kvm_dirty_log, slot))},
       {}, Binding::forbidden, 0, ResultKind::integer, {R("bitmap")}});
  add({"KVM_CLEAR_DIRTY_LOG", Op::clear_dirty_log, false,
       {PH("vm", kVmLike),
        PS(kvm_clear_dirty_log, SE(kvm_clear_dirty_log, slot), SE(kvm_clear_dirty_log, first_page),
           SE(kvm_clear_dirty_log, num_pages), R("bitmap"))}});
  add({"KVM_ENABLE_CAP", Op::enable_cap, false,
       {PH("fd", kHandleKvm | kHandleVm | kHandleVcpu),
        PS(kvm_enable_cap, SE(kvm_enable_cap, cap), SE(kvm_enable_cap, flags), SL(kvm_enable_cap, args))}});

  // ---- file calls ----
  add({"fallocate", Op::fallocate, false, {PH("fd", kHandleFd), PE("mode"), PE("offset"), PE("len")}});
  add({"ftruncate", Op::ftruncate, false, {PH("fd", kHandleFd), PE("size")}});
  add({"read", Op::read, false, {PH("fd", kHandleFd), PE("size")}});
  add({"write", Op::write, false, {PH("fd", kHandleFd), PE("size")}});
  add({"pread", Op::pread, false, {PH("fd", kHandleFd), PE("size"), PE("offset")}});
  // [ext] the buffer is `value` (a u64) repeated; `fstat` shows st_size and st_blksize.
  add({"pwrite", Op::pwrite, false, {PH("fd", kHandleFd), PE("offset"), PE("size")}, {E("value")}});
  add({"fstat", Op::fstat, false, {PH("fd", kHandleFd)}, {}, Binding::forbidden, 0, ResultKind::integer,
       {E("size"), E("blksize")}});
  add({"close", Op::close, false, {PH("fd", kHandleFd)}});

  // ---- guest behaviour ----
  // [ext] `value=V` (write only): the guest stores the u64 V; `= ok {value=V}` (read): what it loads.
  // [ext] `smm=1`: the vCPU is in SMM, the access goes through address space 1 (docs/semantics/smm.md).
  add({"access", Op::access, false, {PH("vcpu", kHandleVcpu), PE("gpa"), PW("kind", kAccess)}, {E("value"), F("smm")},
       Binding::forbidden, 0, ResultKind::access});

  // ---- fault injection [ext]: the model arms a deterministic fault; other backends cannot ----
  add({"inject", Op::inject, false, {PW("site", kInjectSites), PW("kind", kInjectKinds)}, {E("after"), E("count")}});

  // ---- recorded-only [ext]: a KVM ioctl the model does not model, as the kernel answered it ----
  add({"ioctl", Op::raw_ioctl, false, {PH("fd", kHandleFd), PE("request")},
       {E("arg"), FieldSpec{"bytes", FieldKind::list, 0, kMaxIoctlBytes, {}}}});

  // ---- observations ----
  add({"stats", Op::expect_stats, true, {PH("vm", kVmLike)}, {}, Binding::forbidden, 0, ResultKind::none, {}, {},
       true});
  add({"mapping", Op::expect_mapping, true, {PH("vm", kVmLike), PE("gpa")}, {F("smm")}, Binding::forbidden, 0,
       ResultKind::none, {},
       {FieldSpec{"level", FieldKind::word, 0, 0, kLevels}, F("writable"), F("exec"), F("private")}});
  return s;
}

}  // namespace

const char* handle_kind_name(unsigned kind) {
  switch (kind) {
    case kHandleKvm: return "kvm";
    case kHandleVm: return "vm";
    case kHandleVcpu: return "vcpu";
    case kHandleGmem: return "guest_memfd";
    case kHandleMemfd: return "memfd";
    case kHandleMem: return "host address";
    default: return "handle";
  }
}

const std::vector<StatementSpec>& statement_specs() {
  static const std::vector<StatementSpec> specs = build();
  return specs;
}

const StatementSpec* find_statement(std::string_view callee, bool expect) {
  // One hash lookup per parsed statement instead of a scan of the table; the first row of a
  // callee wins, as in the table's order.
  using Index = std::unordered_map<std::string_view, const StatementSpec*>;
  static const std::pair<Index, Index> by_callee = [] {
    std::pair<Index, Index> idx;
    for (const auto& s : statement_specs()) (s.expect ? idx.second : idx.first).emplace(s.callee, &s);
    return idx;
  }();
  // A trace repeats its callees: the last row found is tried before the hash (per thread: the
  // fuzzers parse on several).
  thread_local const StatementSpec* last = nullptr;
  if (last && last->expect == expect && last->callee == callee) return last;
  const Index& idx = expect ? by_callee.second : by_callee.first;
  auto it = idx.find(callee);
  if (it == idx.end()) return nullptr;
  last = it->second;
  return last;
}

const FieldSpec& thread_keyword() {
  static const FieldSpec tid = E("tid");
  return tid;
}

const std::vector<std::string_view>& backing_words() { return kBackings; }
const std::vector<std::string_view>& access_words() { return kAccess; }
const std::vector<std::string_view>& inject_site_words() { return kInjectSites; }
const std::vector<std::string_view>& inject_kind_words() { return kInjectKinds; }
const std::vector<std::string_view>& level_words() { return kLevels; }

const std::vector<FieldSpec>& memory_fault_fields() {
  static const std::vector<FieldSpec> f = {SE(kvm_memory_fault, flags), SE(kvm_memory_fault, gpa),
                                           SE(kvm_memory_fault, size)};
  return f;
}

const std::vector<FieldSpec>& access_ok_fields() {
  static const std::vector<FieldSpec> f = {E("value")};
  return f;
}

}  // namespace kvmsim::trace

#undef PS
#undef SL
#undef SH
#undef SE
#undef KVMSIM_AT
