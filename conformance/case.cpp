#include "conformance/case.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "model/core_assert.h"

namespace kvmsim::conf {

using namespace uapi;

namespace {


std::string where(const std::source_location& loc) {
  std::string file = loc.file_name();
  auto slash = file.rfind("conformance/");
  if (slash != std::string::npos) file = file.substr(slash);
  return file + ":" + std::to_string(loc.line());
}

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

bool& registry_sorted() {
  static bool sorted = false;
  return sorted;
}

std::string region_str(const char* ioctl, const Region& r, bool v2) {
  std::ostringstream s;
  s << ioctl << "(slot=" << hex(r.slot) << ", flags=" << hex(r.flags) << ", guest_phys_addr=" << hex(r.guest_phys_addr)
    << ", memory_size=" << hex(r.memory_size) << ", userspace_addr=" << hex(r.userspace_addr);
  if (v2 && (r.flags & KVM_MEM_GUEST_MEMFD))
    s << ", guest_memfd=" << static_cast<int>(r.guest_memfd) << ", guest_memfd_offset=" << hex(r.guest_memfd_offset);
  s << ")";
  return s.str();
}

}  // namespace

const char* need_name(Need n) {
  switch (n) {
    case Need::user_memory2: return "user_memory2";
    case Need::readonly_mem: return "readonly_mem";
    case Need::guest_memfd: return "guest_memfd";
    case Need::gmem_mmap: return "gmem_mmap";
    case Need::gmem_init_shared: return "gmem_init_shared";
    case Need::memory_attributes: return "memory_attributes";
    case Need::no_memory_attributes: return "!memory_attributes";
    case Need::pre_fault: return "pre_fault";
    case Need::no_pre_fault: return "!pre_fault";
    case Need::sw_protected_vm: return "sw_protected_vm";
    case Need::smm_address_space: return "smm_address_space";
    case Need::manual_dirty_log: return "manual_dirty_log";
    case Need::dirty_log_ring: return "dirty_log_ring";
    case Need::tdp: return "tdp";
    case Need::one_g_pages: return "1g_pages";
    case Need::hugetlb: return "hugetlb";
    case Need::hugetlb_1g: return "hugetlb_1g";
    case Need::stats: return "stats";
    case Need::mapping: return "mapping";
    case Need::guest_access: return "guest_access";
  }
  return "?";
}

bool Capabilities::has(Need n) const { return std::find(have.begin(), have.end(), n) != have.end(); }

Capabilities probe_capabilities(KvmApi& api) {
  Capabilities caps;
  std::vector<Need>& have = caps.have;
  const int kvm = api.kvm_fd();
  auto sys = [&](u32 cap) -> u64 {
    Ret r = api.ioctl_check_extension(kvm, cap);
    return r.is_ok() && r.ret > 0 ? static_cast<u64>(r.ret) : 0;
  };
  if (sys(KVM_CAP_USER_MEMORY2)) have.push_back(Need::user_memory2);
  if (sys(KVM_CAP_READONLY_MEM)) have.push_back(Need::readonly_mem);
  if (sys(KVM_CAP_GUEST_MEMFD)) have.push_back(Need::guest_memfd);
  have.push_back(sys(KVM_CAP_MEMORY_ATTRIBUTES) ? Need::memory_attributes : Need::no_memory_attributes);
  const bool pre_fault = sys(KVM_CAP_PRE_FAULT_MEMORY) != 0;
  have.push_back(pre_fault ? Need::pre_fault : Need::no_pre_fault);
  // Upstream answers KVM_CAP_PRE_FAULT_MEMORY with tdp_enabled: the one uAPI-visible TDP bit.
  if (pre_fault) have.push_back(Need::tdp);
  if (pre_fault && api.profile().max_huge_level >= 3) have.push_back(Need::one_g_pages);
  caps.vm_types = sys(KVM_CAP_VM_TYPES);
  if (caps.vm_types & (1ull << KVM_X86_SW_PROTECTED_VM)) have.push_back(Need::sw_protected_vm);
  caps.nr_memslots = sys(KVM_CAP_NR_MEMSLOTS);
  caps.manual_protect_mask = sys(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
  if (caps.manual_protect_mask) have.push_back(Need::manual_dirty_log);
  caps.dirty_ring_max_bytes = sys(KVM_CAP_DIRTY_LOG_RING);
  if (caps.dirty_ring_max_bytes) have.push_back(Need::dirty_log_ring);

  Ret vm = api.ioctl_create_vm(kvm, KVM_X86_DEFAULT_VM);
  if (vm.is_ok()) {
    const int fd = static_cast<int>(vm.ret);
    auto vmcap = [&](u32 cap) -> u64 {
      Ret r = api.ioctl_check_extension(fd, cap);
      return r.is_ok() && r.ret > 0 ? static_cast<u64>(r.ret) : 0;
    };
    u64 nr_as = vmcap(KVM_CAP_MULTI_ADDRESS_SPACE);
    caps.nr_as_default_vm = nr_as ? nr_as : 1;
    if (nr_as >= 2) have.push_back(Need::smm_address_space);
    caps.gmem_flags_default_vm = vmcap(KVM_CAP_GUEST_MEMFD_FLAGS);
    if (caps.gmem_flags_default_vm & GUEST_MEMFD_FLAG_MMAP) have.push_back(Need::gmem_mmap);
    if (caps.gmem_flags_default_vm & GUEST_MEMFD_FLAG_INIT_SHARED) have.push_back(Need::gmem_init_shared);
    if (api.stats(fd).has_value()) have.push_back(Need::stats);
    if (api.mapping(fd, 0).has_value()) have.push_back(Need::mapping);
    // Guest accesses: a backend that cannot run guest code answers something other than ok.
    Ret vcpu = api.ioctl_create_vcpu(fd, 0);
    Ret mem = api.mmap(2ull << 20, Backing::anon, 0);
    if (vcpu.is_ok() && mem.is_ok()) {
      Region r{};
      r.slot = 0;
      r.guest_phys_addr = 1ull << 30;
      r.memory_size = 2ull << 20;
      r.userspace_addr = static_cast<u64>(mem.ret);
      kvm_userspace_memory_region v1{r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr};
      if (api.ioctl_set_user_memory_region(fd, v1).is_ok() &&
          api.access(static_cast<int>(vcpu.ret), 1ull << 30, AccessKind::write).kind == AccessOutcome::Kind::ok)
        have.push_back(Need::guest_access);
    }
    if (mem.is_ok()) api.munmap(static_cast<u64>(mem.ret), 2ull << 20);
    if (vcpu.is_ok()) api.close(static_cast<int>(vcpu.ret));
    api.close(fd);
  }
  if (caps.vm_types & (1ull << KVM_X86_SW_PROTECTED_VM)) {
    Ret pvm = api.ioctl_create_vm(kvm, KVM_X86_SW_PROTECTED_VM);
    if (pvm.is_ok()) {
      Ret r = api.ioctl_check_extension(static_cast<int>(pvm.ret), KVM_CAP_GUEST_MEMFD_FLAGS);
      caps.gmem_flags_private_vm = r.is_ok() && r.ret > 0 ? static_cast<u64>(r.ret) : 0;
      api.close(static_cast<int>(pvm.ret));
    }
  }
  Ret h2 = api.mmap(2ull << 20, Backing::hugetlb_2m, 2ull << 20);
  if (h2.is_ok()) {
    have.push_back(Need::hugetlb);
    api.munmap(static_cast<u64>(h2.ret), 2ull << 20);
  }
  Ret h1 = api.mmap(1ull << 30, Backing::hugetlb_1g, 1ull << 30);
  if (h1.is_ok()) {
    have.push_back(Need::hugetlb_1g);
    api.munmap(static_cast<u64>(h1.ret), 1ull << 30);
  }
  std::sort(have.begin(), have.end());
  have.erase(std::unique(have.begin(), have.end()), have.end());
  return caps;
}

// ---------------------------------------------------------------- formatting

std::string hex(u64 v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string errno_name(int err) {
  switch (err) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EHWPOISON: return "EHWPOISON";
    default: return "errno " + std::to_string(err);
  }
}

std::string ret_str(const Ret& r) {
  if (r.sig == SIGBUS) return "SIGBUS";
  if (r.err != 0) return std::to_string(r.ret) + " " + errno_name(r.err);
  return std::to_string(r.ret);
}

std::string outcome_str(const AccessOutcome& o) {
  switch (o.kind) {
    case AccessOutcome::Kind::ok: return o.value ? "ok {value=" + hex(o.value) + "}" : "ok";
    case AccessOutcome::Kind::mmio: return "mmio";
    case AccessOutcome::Kind::memory_fault:
      return "memory_fault {flags=" + hex(o.flags) + ", gpa=" + hex(o.gpa) + ", size=" + hex(o.size) + "}";
    case AccessOutcome::Kind::memory_error:
      return "memory_error {flags=" + hex(o.flags) + ", gpa=" + hex(o.gpa) + ", size=" + hex(o.size) + "}";
    case AccessOutcome::Kind::error: return "-1 " + errno_name(o.err);
  }
  return "?";
}

AccessOutcome outcome_ok() { return AccessOutcome{}; }
AccessOutcome outcome_mmio() {
  AccessOutcome o;
  o.kind = AccessOutcome::Kind::mmio;
  return o;
}
AccessOutcome outcome_error(int err) {
  AccessOutcome o;
  o.kind = AccessOutcome::Kind::error;
  o.err = err;
  return o;
}
AccessOutcome outcome_memory_fault(u64 flags, u64 gpa, u64 size) {
  AccessOutcome o;
  o.kind = AccessOutcome::Kind::memory_fault;
  o.err = EFAULT;  // KVM_RUN fails with EFAULT and exit_reason MEMORY_FAULT
  o.flags = flags;
  o.gpa = gpa;
  o.size = size;
  return o;
}

// ---------------------------------------------------------------- raw layer

Call Check::create_vm_raw(u64 type) {
  return {api_.ioctl_create_vm(api_.kvm_fd(), type), "KVM_CREATE_VM(" + std::to_string(type) + ")"};
}

Call Check::check_extension(int fd, u32 cap) {
  return {api_.ioctl_check_extension(fd, cap),
          "KVM_CHECK_EXTENSION(fd " + std::to_string(fd) + ", cap " + std::to_string(cap) + ")"};
}

Call Check::region(int vm, const Region& r) {
  kvm_userspace_memory_region v1{r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr};
  return {api_.ioctl_set_user_memory_region(vm, v1), region_str("KVM_SET_USER_MEMORY_REGION", r, false)};
}

Call Check::region2(int vm, const Region& r) {
  return {api_.ioctl_set_user_memory_region2(vm, r), region_str("KVM_SET_USER_MEMORY_REGION2", r, true)};
}

Call Check::create_gmem_raw(int vm, u64 size, u64 flags, u64 reserved0, u64 reserved5) {
  kvm_create_guest_memfd g{};
  g.size = size;
  g.flags = flags;
  g.reserved[0] = reserved0;
  g.reserved[5] = reserved5;
  return {api_.ioctl_create_guest_memfd(vm, g),
          "KVM_CREATE_GUEST_MEMFD(fd " + std::to_string(vm) + ", {size=" + hex(size) + ", flags=" + hex(flags) + "})"};
}

Call Check::set_attributes(int vm, u64 address, u64 size, u64 attributes, u64 flags) {
  kvm_memory_attributes a{address, size, attributes, flags};
  return {api_.ioctl_set_memory_attributes(vm, a), "KVM_SET_MEMORY_ATTRIBUTES({address=" + hex(address) + ", size=" +
                                                       hex(size) + ", attributes=" + hex(attributes) +
                                                       ", flags=" + hex(flags) + "})"};
}

Call Check::pre_fault(int vcpu, kvm_pre_fault_memory& inout) {
  std::string what = "KVM_PRE_FAULT_MEMORY({gpa=" + hex(inout.gpa) + ", size=" + hex(inout.size) +
                     (inout.flags ? ", flags=" + hex(inout.flags) : std::string()) + "})";
  return {api_.ioctl_pre_fault_memory(vcpu, inout), what};
}

Call Check::get_dirty_log(int vm, u32 slot, std::vector<u64>& bitmap) {
  return {api_.ioctl_get_dirty_log(vm, slot, bitmap), "KVM_GET_DIRTY_LOG({slot=" + hex(slot) + "})"};
}

Call Check::clear_dirty_log(int vm, u32 slot, u64 first_page, u32 num_pages, const std::vector<u64>& bitmap) {
  return {api_.ioctl_clear_dirty_log(vm, slot, first_page, num_pages, bitmap),
          "KVM_CLEAR_DIRTY_LOG({slot=" + hex(slot) + ", first_page=" + std::to_string(first_page) +
              ", num_pages=" + std::to_string(num_pages) + "})"};
}

Call Check::enable_cap(int fd, u32 cap, u64 arg0, u32 flags) {
  kvm_enable_cap e{};
  e.cap = cap;
  e.flags = flags;
  e.args[0] = arg0;
  return {api_.ioctl_enable_cap(fd, e), "KVM_ENABLE_CAP({cap=" + std::to_string(cap) + ", flags=" + hex(flags) +
                                            ", args=[" + hex(arg0) + "]})"};
}

Call Check::fallocate(int fd, int mode, u64 offset, u64 len) {
  return {api_.fallocate(fd, mode, offset, len),
          "fallocate(" + std::to_string(fd) + ", " + hex(static_cast<u64>(mode)) + ", " + hex(offset) + ", " + hex(len) + ")"};
}

Call Check::ftruncate(int fd, u64 len) {
  return {api_.ftruncate(fd, len), "ftruncate(" + std::to_string(fd) + ", " + hex(len) + ")"};
}

Call Check::mmap_fd(int fd, u64 size, int prot, int flags) {
  return {api_.mmap_fd(fd, size, 0, prot, flags), "mmap(fd " + std::to_string(fd) + ", size " + hex(size) +
                                                      ", prot " + std::to_string(prot) + ", flags " +
                                                      std::to_string(flags) + ")"};
}

Call Check::close(int fd) { return {api_.close(fd), "close(" + std::to_string(fd) + ")"}; }

Call Check::poke(u64 addr, u64 value) { return {api_.poke(addr, value), "poke(" + hex(addr) + ", " + hex(value) + ")"}; }
Call Check::peek(u64 addr) { return {api_.peek(addr), "peek(" + hex(addr) + ")"}; }
Call Check::pwrite(int fd, u64 offset, u64 len, u64 value) {
  return {api_.pwrite(fd, offset, len, value),
          "pwrite(" + std::to_string(fd) + ", " + hex(offset) + ", " + hex(len) + ", value=" + hex(value) + ")"};
}
Call Check::fstat(int fd, FileStat& out) { return {api_.fstat(fd, out), "fstat(" + std::to_string(fd) + ")"}; }

// ---------------------------------------------------------------- checked layer

void Check::fail(const std::string& message, std::source_location loc) {
  failures_.push_back(where(loc) + ": " + message);
}

void Check::fail_now(const std::string& message, std::source_location loc) {
  fail(message, loc);
  throw CaseEnd{CaseEnd::Kind::failed, failures_.back()};
}

void Check::skip(const std::string& reason) { throw CaseEnd{CaseEnd::Kind::skipped, reason}; }

i64 Check::must(const Call& call, std::source_location loc) {
  if (!call.r.is_ok()) fail_now("set-up call " + call.what + " failed: " + ret_str(call.r), loc);
  return call.r.ret;
}

int Check::create_vm(u64 type, std::source_location loc) { return static_cast<int>(must(create_vm_raw(type), loc)); }

int Check::create_vcpu(int vm, u64 id, std::source_location loc) {
  Call c{api_.ioctl_create_vcpu(vm, id), "KVM_CREATE_VCPU(" + std::to_string(id) + ")"};
  return static_cast<int>(must(c, loc));
}

Check::VmVcpu Check::create_vm_with_vcpu(u64 type, std::source_location loc) {
  VmVcpu v;
  v.vm = create_vm(type, loc);
  v.vcpu = create_vcpu(v.vm, 0, loc);
  return v;
}

u64 Check::mmap(u64 size, Backing backing, u64 align, std::source_location loc) {
  if (align == 0) align = backing_default_align(backing);
  Call c{api_.mmap(size, backing, align),
         std::string("mmap(") + hex(size) + ", " + backing_name(backing) + ", align=" + hex(align) + ")"};
  return static_cast<u64>(must(c, loc));
}

int Check::create_gmem(int vm, u64 size, u64 flags, std::source_location loc) {
  return static_cast<int>(must(create_gmem_raw(vm, size, flags), loc));
}

void Check::add_slot(int vm, const Region& r, std::source_location loc) {
  must((r.flags & KVM_MEM_GUEST_MEMFD) ? region2(vm, r) : region(vm, r), loc);
}

Stats Check::stats(int vm, std::source_location loc) {
  std::optional<Stats> s = api_.stats(vm);
  if (!s) fail_now("stats() not observable (the case should need Need::stats)", loc);
  return *s;
}

// ---------------------------------------------------------------- expectations

bool Check::expect_ret(const Call& call, Ret expected, std::source_location loc) {
  if (call.r == expected) return true;
  fail(call.what + ": expected " + ret_str(expected) + ", got " + ret_str(call.r), loc);
  return false;
}

bool Check::expect_ok(const Call& call, std::source_location loc) {
  if (call.r.is_ok()) return true;
  fail(call.what + ": expected success, got " + ret_str(call.r), loc);
  return false;
}

bool Check::expect_err(const Call& call, int err, std::source_location loc) {
  return expect_ret(call, Ret::fail(err), loc);
}

bool Check::expect_eq(u64 actual, u64 expected, const std::string& what, std::source_location loc) {
  if (actual == expected) return true;
  fail(what + ": expected " + hex(expected) + " (" + std::to_string(expected) + "), got " + hex(actual) + " (" +
           std::to_string(actual) + ")",
       loc);
  return false;
}

bool Check::expect_true(bool cond, const std::string& what, std::source_location loc) {
  if (!cond) fail("expected " + what, loc);
  return cond;
}

bool Check::expect_outcome(const AccessOutcome& actual, const AccessOutcome& expected, const std::string& what,
                           std::source_location loc) {
  if (actual == expected) return true;
  fail(what + ": expected " + outcome_str(expected) + ", got " + outcome_str(actual), loc);
  return false;
}

bool Check::expect_peek(u64 addr, u64 expected, std::source_location loc) {
  const Call got = peek(addr);
  if (got.r.is_ok() && static_cast<u64>(got.r.ret) == expected) return true;
  fail(got.what + ": expected " + hex(expected) + ", got " +
           (got.r.is_ok() ? hex(static_cast<u64>(got.r.ret)) : ret_str(got.r)), loc);
  return false;
}

bool Check::expect_guest_load(int vcpu, u64 gpa, u64 expected, std::source_location loc) {
  AccessOutcome want;
  want.value = expected;
  return expect_outcome(api_.access_value(vcpu, gpa, AccessKind::read, 0), want, "guest load at " + hex(gpa), loc);
}

bool Check::expect_guest_store(int vcpu, u64 gpa, u64 value, std::source_location loc) {
  return expect_outcome(api_.access_value(vcpu, gpa, AccessKind::write, value), AccessOutcome{},
                        "guest store of " + hex(value) + " at " + hex(gpa), loc);
}

bool Check::expect_stats_delta(const Stats& before, const Stats& after, const Stats& expected,
                               std::source_location loc) {
  bool ok = true;
  for (const auto& [name, want] : expected) {
    auto b = before.find(name);
    auto a = after.find(name);
    if (a == after.end() || b == before.end()) {
      fail("stat " + name + " missing", loc);
      ok = false;
      continue;
    }
    const i64 delta = static_cast<i64>(a->second) - static_cast<i64>(b->second);
    if (delta != static_cast<i64>(want)) {
      fail("stat " + name + " changed by " + std::to_string(delta) + ", expected " +
               std::to_string(static_cast<i64>(want)) + " (before " + std::to_string(b->second) + ", after " +
               std::to_string(a->second) + ")",
           loc);
      ok = false;
    }
  }
  return ok;
}

bool Check::expect_level(int vm, u64 gpa, int level, std::source_location loc) {
  std::optional<Mapping> m = api_.mapping(vm, gpa);
  if (!m) {
    unobservable_.push_back(std::string(loc.file_name()).substr(std::string(loc.file_name()).rfind('/') + 1) + ":" +
                            std::to_string(loc.line()) + ": mapping(" + hex(gpa) + ") level");
    return false;
  }
  if (m->level == level) return true;
  fail("mapping(" + hex(gpa) + "): expected level " + level_name(level) + ", got " + level_name(m->level), loc);
  return false;
}

// ---------------------------------------------------------------- registry

const std::vector<std::string>& group_names() {
  static const std::vector<std::string> groups = {"vm",       "memslot",  "gmem",     "attributes",
                                                  "prefault", "hugepage", "dirtylog", "access", "content"};
  return groups;
}

bool register_case(Case c) {
  const auto& g = group_names();
  KVMSIM_ASSERT_CTX(std::find(g.begin(), g.end(), c.group) != g.end(), "unknown group " + c.group);
  for (const Case& other : registry())
    KVMSIM_ASSERT_CTX(other.id() != c.id(), "duplicate case " + c.id());
  registry().push_back(std::move(c));
  registry_sorted() = false;
  return true;
}

const std::vector<Case>& all_cases() {
  if (!registry_sorted()) {
    const auto& g = group_names();
    auto rank = [&](const Case& c) { return std::find(g.begin(), g.end(), c.group) - g.begin(); };
    std::stable_sort(registry().begin(), registry().end(), [&](const Case& a, const Case& b) {
      if (rank(a) != rank(b)) return rank(a) < rank(b);
      const int f = std::string(a.file).compare(b.file);
      if (f != 0) return f < 0;
      return a.line < b.line;
    });
    registry_sorted() = true;
  }
  return registry();
}

}  // namespace kvmsim::conf
