#include "sim/kvm/kvm_backend.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "model/mmu/spte.h"
#include "sim/kvm/binary_stats.h"
#include "sim/trace/ioctl_names.h"
#include "sim/kvm/user_access.h"

namespace kvmsim::kvm {

using namespace uapi;

namespace {
constexpr u32 kAsShift = 16;
u32 slot_id(u32 slot) { return slot & 0xffff; }
u32 slot_as(u32 slot) { return slot >> kAsShift; }

// Scratch buffer for calls whose size the kernel decides (reserved, never touched unless written).
struct Scratch {
  void* p = MAP_FAILED;
  u64 size = 0;
  explicit Scratch(u64 n) : size(n ? n : 1) {
    p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  ~Scratch() {
    if (p != MAP_FAILED) ::munmap(p, size);
  }
  bool ok() const { return p != MAP_FAILED; }
};
constexpr u64 kMaxScratch = 1ull << 30;
}  // namespace

KvmBackend::KvmBackend(int kvm_fd, const model::Profile& answers_as, const KvmBackendOptions& opts)
    : profile_(answers_as), opts_(opts), kvm_fd_(kvm_fd), mem_(opts.max_host_mem) {}

KvmBackend::~KvmBackend() {
  for (auto& [fd, v] : vcpus_) {
    if (v.run) ::munmap(v.run, v.run_size);
    ::close(fd);
  }
  vcpus_.clear();
  for (auto& [fd, vm] : vms_) ::close(fd);
  vms_.clear();  // agents unmap their memory and close their memfds
  closed_vms_.clear();
  for (int fd : files_) ::close(fd);
  if (kvm_fd_ >= 0) ::close(kvm_fd_);
}

std::unique_ptr<KvmApi> make_kvm_backend(const model::Profile& answers_as, const KvmBackendOptions& opts,
                                         std::string* error) {
  int fd = ::open(opts.device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = "cannot open " + opts.device + ": " + std::strerror(errno);
    return nullptr;
  }
  int api = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) {
    if (error) *error = opts.device + ": KVM_GET_API_VERSION returned " + std::to_string(api);
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<KvmBackend>(fd, answers_as, opts);
}

// ---------------------------------------------------------------- host memory

Ret KvmBackend::mmap(u64 size, Backing backing, u64 align) {
  Ret r = mem_.map(size, backing, align);
  diag_ = mem_.last_diagnostic();
  diag_host_limit_ = mem_.last_was_host_limit();
  return r;
}

Ret KvmBackend::mmap_placed(u64 size, Backing backing, u64 align, const MmapPlacement& placement) {
  if (placement.fixed)
    if (auto r = refuse_foreign_range("mmap(MAP_FIXED)", placement.fixed, size)) return *r;
  Ret r = mem_.map_placed(size, backing, align, placement);
  diag_ = mem_.last_diagnostic();
  diag_host_limit_ = mem_.last_was_host_limit();
  return r;
}

Ret KvmBackend::mmap_fd(int fd, u64 size, u64 offset, int prot, int flags) {
  auto g = gmem_flags_.find(fd);
  const bool sigbus = g != gmem_flags_.end() && !(g->second & GUEST_MEMFD_FLAG_INIT_SHARED);
  Ret r = mem_.map_fd(fd, size, offset, prot, flags, sigbus);
  diag_ = mem_.last_diagnostic();
  diag_host_limit_ = mem_.last_was_host_limit();
  return r;
}

std::optional<Ret> KvmBackend::refuse_foreign_range(const char* call, u64 addr, u64 size) {
  const auto foreign = mem_.foreign_mapping(addr, size);
  if (!foreign) return std::nullopt;
  diag_host_limit_ = true;
  diag_ = std::string(call) + ": refused: " + model::hex(*foreign) +
          " is memory of this process that the trace did not map (kvmsim's own); not passed to the kernel";
  return Ret::fail(EINVAL);
}

Ret KvmBackend::munmap(u64 addr, u64 size) {
  if (auto r = refuse_foreign_range("munmap", addr, size)) return *r;
  return mem_.unmap(addr, size);
}
Ret KvmBackend::madvise(u64 addr, u64 size, int advice) {
  if (auto r = refuse_foreign_range("madvise", addr, size)) return *r;
  return mem_.madvise(addr, size, advice);
}
Ret KvmBackend::mprotect(u64 addr, u64 size, int prot) {
  if (auto r = refuse_foreign_range("mprotect", addr, size)) return *r;
  return mem_.mprotect(addr, size, prot);
}

std::optional<Ret> KvmBackend::refuse_foreign_fd(const char* call, int fd) {
  if (files_.count(fd) || vms_.count(fd) || vcpus_.count(fd)) return std::nullopt;
  if (::fcntl(fd, F_GETFD) == -1) return std::nullopt;  // not open: the kernel answers (EBADF)
  diag_host_limit_ = true;
  diag_ = std::string(call) + ": refused: fd " + std::to_string(fd) +
          " is open in this process but was not created by the trace (kvmsim's own); not passed to the kernel";
  return Ret::fail(EBADF);
}

Ret KvmBackend::touch(u64 addr, u64 size) {
  Ret r = mem_.touch(addr, size);
  diag_ = mem_.last_diagnostic();
  return r;
}

std::optional<Ret> KvmBackend::refuse_user_access(const char* call, u64 addr, bool write) {
  if (addr + 8 < addr) return Ret::fail(EFAULT);
  for (u64 p : {addr, addr + 7}) {
    if (mem_.owns(p)) continue;
    // Not ours: unmapped (the kernel would SIGSEGV: EFAULT) or kvmsim's own memory (refused).
    unsigned char vec = 0;
    if (::mincore(reinterpret_cast<void*>(p & ~(kPageSize - 1)), kPageSize, &vec) != 0) return Ret::fail(EFAULT);
    diag_host_limit_ = true;
    diag_ = std::string(call) + ": refused: " + model::hex(p) + " is memory of this process the trace did not map";
    return Ret::fail(EFAULT);
  }
  if (!mem_.protection_allows(addr, 8, write)) return Ret::fail(EFAULT);  // SIGSEGV
  return std::nullopt;
}

Ret KvmBackend::poke(u64 addr, u64 value) {
  diag_.clear();
  if (auto r = refuse_user_access("poke", addr, true)) return *r;
  return guarded_store(addr, value);
}

Ret KvmBackend::peek(u64 addr) {
  diag_.clear();
  if (auto r = refuse_user_access("peek", addr, false)) return *r;
  return guarded_load(addr);
}

Ret KvmBackend::memfd_create(u64 size, u64 flags) {
  int fd = ::memfd_create("kvmsim-memfd", static_cast<unsigned>(flags) | MFD_CLOEXEC);
  if (fd < 0) return Ret::fail(errno);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int e = errno;
    ::close(fd);
    return Ret::fail(e);
  }
  files_.insert(fd);
  return Ret::ok(fd);
}

// ---------------------------------------------------------------- ioctls

std::shared_ptr<KvmBackend::Vm> KvmBackend::vm_of(int fd) const {
  auto it = vms_.find(fd);
  return it == vms_.end() ? nullptr : it->second;
}

Ret KvmBackend::ioctl_create_vm(int fd, u64 type) {
  Ret r = sys(::ioctl(fd, KVM_CREATE_VM, type));
  if (r.is_ok()) {
    auto vm = std::make_shared<Vm>();
    vm->fd = static_cast<int>(r.ret);
    vms_[vm->fd] = vm;
  }
  return r;
}

Ret KvmBackend::ioctl_check_extension(int fd, u64 cap) { return sys(::ioctl(fd, KVM_CHECK_EXTENSION, cap)); }

Ret KvmBackend::ioctl_create_vcpu(int fd, u64 vcpu_id) {
  Ret r = sys(::ioctl(fd, KVM_CREATE_VCPU, vcpu_id));
  if (!r.is_ok()) return r;
  Vcpu v;
  v.fd = static_cast<int>(r.ret);
  v.vm = vm_of(fd);
  long sz = ::ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (sz > 0) {
    void* m = ::mmap(nullptr, static_cast<size_t>(sz), PROT_READ | PROT_WRITE, MAP_SHARED, v.fd, 0);
    if (m != MAP_FAILED) {
      v.run = static_cast<x86::kvm_run*>(m);
      v.run_size = static_cast<u64>(sz);
    }
  }
  vcpus_[v.fd] = v;
  return r;
}

void KvmBackend::track_slot(Vm& vm, u32 slot, u64 gpa, u64 size, u32 flags, u64 uaddr) {
  if (size == 0)
    vm.slots.erase(slot);
  else
    vm.slots[slot] = Slot{gpa, size, uaddr, flags};
}

void KvmBackend::evict_agent_if_colliding(Vm& vm, u32 slot, u64 gpa, u64 size) {
  if (!vm.agent) return;
  const bool id_clash = slot_as(slot) == 0 && slot_id(slot) == vm.agent->slot();
  const bool range_clash = size != 0 && vm.agent->overlaps(gpa, size);
  if (!id_clash && !range_clash) return;
  vm.agent->remove_slot();
  vm.agent.reset();  // re-created elsewhere on the next access
}

std::optional<Ret> KvmBackend::refuse_oversized_slot(const Vm& vm, u32 slot, u64 size) {
  // Under shadow paging the kernel allocates an rmap of 8 bytes per 4K page for every slot (an
  // 8 TiB slot costs 16 GiB of kernel memory and tens of seconds); with the TDP MMU only the
  // lpage_info arrays (~4 bytes per 2M region). Requests the kernel rejects on size anyway
  // (unaligned, > 2^31-1 pages) pass through so the trace still sees the kernel's errno.
  const u64 npages = size / kPageSize;
  if (size == 0 || size % kPageSize || npages > KVM_MEM_MAX_NR_PAGES || vm.slots.count(slot)) return std::nullopt;
  auto metadata = [&](u64 pages) { return profile_.tdp ? pages / 512 * 8 : pages * 8; };
  u64 total = metadata(npages);
  for (const auto& [id, s] : vm.slots) total += metadata(s.size / kPageSize);
  if (total <= opts_.max_host_mem) return std::nullopt;
  diag_host_limit_ = true;
  diag_ = "refused: memslot " + std::to_string(slot) + " of " + std::to_string(size >> 20) +
          " MiB would make the kernel allocate about " + std::to_string(total >> 20) +
          " MiB of memslot metadata, over the host-memory cap of " + std::to_string(opts_.max_host_mem >> 20) +
          " MiB (--max-host-mem)";
  return Ret::fail(ENOMEM);
}

Ret KvmBackend::ioctl_set_user_memory_region(int fd, const kvm_userspace_memory_region& r) {
  auto vm = vm_of(fd);
  if (vm) {
    if (auto refused = refuse_oversized_slot(*vm, r.slot, r.memory_size)) return *refused;
    evict_agent_if_colliding(*vm, r.slot, r.guest_phys_addr, r.memory_size);
  }
  Ret ret = sys(::ioctl(fd, KVM_SET_USER_MEMORY_REGION, &r));
  if (ret.is_ok() && vm) track_slot(*vm, r.slot, r.guest_phys_addr, r.memory_size, r.flags, r.userspace_addr);
  return ret;
}

Ret KvmBackend::ioctl_set_user_memory_region2(int fd, const kvm_userspace_memory_region2& r) {
  auto vm = vm_of(fd);
  if (vm) {
    if (auto refused = refuse_oversized_slot(*vm, r.slot, r.memory_size)) return *refused;
    evict_agent_if_colliding(*vm, r.slot, r.guest_phys_addr, r.memory_size);
  }
  kvm_userspace_memory_region2 copy = r;
  Ret ret = sys(::ioctl(fd, KVM_SET_USER_MEMORY_REGION2, &copy));
  if (ret.is_ok() && vm) track_slot(*vm, r.slot, r.guest_phys_addr, r.memory_size, r.flags, r.userspace_addr);
  return ret;
}

Ret KvmBackend::ioctl_create_guest_memfd(int fd, const kvm_create_guest_memfd& g) {
  kvm_create_guest_memfd copy = g;
  Ret r = sys(::ioctl(fd, KVM_CREATE_GUEST_MEMFD, &copy));
  if (r.is_ok()) {
    files_.insert(static_cast<int>(r.ret));
    gmem_flags_[static_cast<int>(r.ret)] = g.flags;
  }
  return r;
}

Ret KvmBackend::ioctl_set_memory_attributes(int fd, const kvm_memory_attributes& a) {
  kvm_memory_attributes copy = a;
  return sys(::ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES, &copy));
}

Ret KvmBackend::ioctl_pre_fault_memory(int fd, kvm_pre_fault_memory& inout) {
  return sys(::ioctl(fd, KVM_PRE_FAULT_MEMORY, &inout));
}

// The RFC was never merged: a real kernel answers EINVAL (unknown vCPU ioctl), as profiles without it do.
Ret KvmBackend::ioctl_map_memory(int fd, kvm_memory_mapping& inout) {
  return sys(::ioctl(fd, KVM_MAP_MEMORY, &inout));
}

// Not in any kernel we run: guest_memfd has no ioctl op (ENOTTY). A kernel with the series copies the
// struct back only on the errors __kvm_gmem_set_attributes() reports (EAGAIN, ENOMEM, EOPNOTSUPP).
Ret KvmBackend::ioctl_set_memory_attributes2(int fd, kvm_memory_attributes2& inout, bool* written_back) {
  Ret r = sys(::ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &inout));
  *written_back = !r.is_ok() && (r.err == EAGAIN || r.err == ENOMEM || r.err == EOPNOTSUPP);
  return r;
}

// Never merged: a real kernel answers ENOTTY from the VMM. From a second process (a forked child holding the
// same VM fd, as the RFC's Firecracker use has it) upstream's kvm_vm_ioctl() answers EIO first.
Ret KvmBackend::ioctl_guest_memfd_populate(int fd, const kvm_guest_memfd_populate& p, u32 process) {
  if (process == 1) return sys(::ioctl(fd, KVM_GUEST_MEMFD_POPULATE, &p));
  const pid_t child = ::fork();
  if (child < 0) return Ret::fail(errno);
  if (child == 0) {
    kvm_guest_memfd_populate copy = p;
    const int r = ::ioctl(fd, KVM_GUEST_MEMFD_POPULATE, &copy);
    ::_exit(r < 0 ? (errno & 0xff) : 0);
  }
  int status = 0;
  if (::waitpid(child, &status, 0) < 0 || !WIFEXITED(status)) return Ret::fail(ECHILD);
  return WEXITSTATUS(status) ? Ret::fail(WEXITSTATUS(status)) : Ret::ok();
}

// A long-term pin (FOLL_LONGTERM) is taken by drivers: VFIO needs an assigned device, io_uring's fixed buffers
// refuse guest_memfd mappings, CONFIG_GUP_TEST's debugfs file is not in distribution kernels. None is driven here.
std::optional<Ret> KvmBackend::pin(u64, u64) {
  diag_ = "pin/unpin: a long-term GUP pin needs a device (VFIO) or a debug kernel (CONFIG_GUP_TEST); not taken here";
  return std::nullopt;
}
std::optional<Ret> KvmBackend::unpin(u64 addr, u64 size) { return pin(addr, size); }

Ret KvmBackend::ioctl_get_dirty_log(int fd, u32 slot, std::vector<u64>& bitmap) {
  u64 npages = 0;
  if (auto vm = vm_of(fd)) {
    if (auto it = vm->slots.find(slot); it != vm->slots.end()) npages = it->second.size / kPageSize;
    if (vm->agent && slot == vm->agent->slot()) npages = GuestAgent::kSize / kPageSize;
  }
  kvm_dirty_log log{};
  log.slot = slot;
  if (npages) {
    bitmap.assign((npages + 63) / 64, 0);
    log.dirty_bitmap = reinterpret_cast<u64>(bitmap.data());
    return sys(::ioctl(fd, KVM_GET_DIRTY_LOG, &log));
  }
  // Unknown slot: still ask the kernel (its errno is the answer), with room for the largest slot.
  Scratch scratch((KVM_MEM_MAX_NR_PAGES + 63) / 64 * 8);
  if (!scratch.ok()) return Ret::fail(ENOMEM);
  log.dirty_bitmap = reinterpret_cast<u64>(scratch.p);
  Ret r = sys(::ioctl(fd, KVM_GET_DIRTY_LOG, &log));
  if (r.is_ok()) bitmap.clear();
  return r;
}

Ret KvmBackend::ioctl_clear_dirty_log(int fd, u32 slot, u64 first_page, u32 num_pages,
                                      const std::vector<u64>& bitmap) {
  // The kernel reads ALIGN(num_pages, 64) / 8 bytes: pad the caller's words with zeros.
  std::vector<u64> buf(std::max<size_t>(bitmap.size(), (u64{num_pages} + 63) / 64) + 1, 0);
  std::copy(bitmap.begin(), bitmap.end(), buf.begin());
  kvm_clear_dirty_log c{};
  c.slot = slot;
  c.num_pages = num_pages;
  c.first_page = first_page;
  c.dirty_bitmap = reinterpret_cast<u64>(buf.data());
  return sys(::ioctl(fd, KVM_CLEAR_DIRTY_LOG, &c));
}

Ret KvmBackend::ioctl_enable_cap(int fd, const kvm_enable_cap& cap) {
  kvm_enable_cap copy = cap;
  return sys(::ioctl(fd, KVM_ENABLE_CAP, &copy));
}

// ---------------------------------------------------------------- recorded-only ioctls

// Put to the kernel as recorded, except what cannot be replayed from a trace (trace::ioctl_replayable:
// KVM_RUN, and arguments holding the recording process's pointers; QEMU, for one, asks KVM_GET_DEVICE_ATTR
// on /dev/kvm for the supported XCR0s, which would make the kernel write through a stale pointer).
std::optional<Ret> KvmBackend::raw_ioctl(int fd, u64 request, u64 arg, std::vector<unsigned char>* bytes) {
  if (!trace::ioctl_replayable(request)) return std::nullopt;
  const u64 size = trace::ioctl_size(request);
  if (size == 0 && bytes->empty()) return sys(::ioctl(fd, static_cast<unsigned long>(request), arg));
  // Variable-length arguments (kvm_msrs, kvm_cpuid2, kvm_irq_routing) run past the declared size by a
  // count inside them: zero padding keeps the kernel's reads and write-backs inside this buffer.
  std::vector<unsigned char> buf(std::max<u64>(size, bytes->size()) + (256u << 10), 0);
  std::copy(bytes->begin(), bytes->end(), buf.begin());
  Ret r = sys(::ioctl(fd, static_cast<unsigned long>(request), buf.data()));
  bytes->assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(std::max<u64>(size, bytes->size())));
  return r;
}

// ---------------------------------------------------------------- file calls

Ret KvmBackend::fallocate(int fd, int mode, u64 offset, u64 len) {
  if (auto r = refuse_foreign_fd("fallocate", fd)) return *r;
  return sys(::fallocate(fd, mode, static_cast<off_t>(offset), static_cast<off_t>(len)));
}

Ret KvmBackend::ftruncate(int fd, u64 len) {
  if (auto r = refuse_foreign_fd("ftruncate", fd)) return *r;
  return sys(::ftruncate(fd, static_cast<off_t>(len)));
}

Ret KvmBackend::read(int fd, u64 len) {
  if (auto r = refuse_foreign_fd("read", fd)) return *r;
  if (len > kMaxScratch) return Ret::fail(ENOMEM);
  Scratch s(len);
  if (!s.ok()) return Ret::fail(ENOMEM);
  return sys(::read(fd, s.p, len));
}

Ret KvmBackend::write(int fd, u64 len) {
  if (auto r = refuse_foreign_fd("write", fd)) return *r;
  if (len > kMaxScratch) return Ret::fail(ENOMEM);
  Scratch s(len);
  if (!s.ok()) return Ret::fail(ENOMEM);
  return sys(::write(fd, s.p, len));
}

Ret KvmBackend::pwrite(int fd, u64 offset, u64 len, u64 value) {
  if (auto r = refuse_foreign_fd("pwrite", fd)) return *r;
  if (len > kMaxScratch) return Ret::fail(ENOMEM);
  Scratch s(len);
  if (!s.ok()) return Ret::fail(ENOMEM);
  auto* p = static_cast<u8*>(s.p);
  for (u64 i = 0; i < len; i++) p[i] = static_cast<u8>(value >> (8 * (i % 8)));
  return sys(::pwrite(fd, s.p, len, static_cast<off_t>(offset)));
}

Ret KvmBackend::fstat(int fd, FileStat& out) {
  if (auto r = refuse_foreign_fd("fstat", fd)) return *r;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Ret::fail(errno);
  out = FileStat{static_cast<u64>(st.st_size), static_cast<u64>(st.st_blksize)};
  return Ret::ok();
}

Ret KvmBackend::pread(int fd, u64 len, u64 offset) {
  if (auto r = refuse_foreign_fd("pread", fd)) return *r;
  if (len > kMaxScratch) return Ret::fail(ENOMEM);
  Scratch s(len);
  if (!s.ok()) return Ret::fail(ENOMEM);
  return sys(::pread(fd, s.p, len, static_cast<off_t>(offset)));
}

Ret KvmBackend::close(int fd) {
  if (auto r = refuse_foreign_fd("close", fd)) return *r;  // e.g. /dev/kvm, stdio, report files
  Ret r = sys(::close(fd));
  if (!r.is_ok()) return r;
  files_.erase(fd);
  gmem_flags_.erase(fd);
  if (auto it = vcpus_.find(fd); it != vcpus_.end()) {
    if (it->second.run) ::munmap(it->second.run, it->second.run_size);
    vcpus_.erase(it);
  }
  if (auto it = vms_.find(fd); it != vms_.end()) {
    closed_vms_.push_back(it->second);  // vCPUs may still run it; fd numbers get reused
    vms_.erase(it);
  }
  return r;
}

// ---------------------------------------------------------------- guest accesses

std::optional<AgentPlacement> KvmBackend::agent_placement(int vm_fd) const {
  auto vm = vm_of(vm_fd);
  if (!vm || !vm->agent) return std::nullopt;
  return AgentPlacement{vm->agent->slot(), vm->agent->gpa()};
}

bool KvmBackend::ensure_agent(Vm& vm, u64 avoid_gpa) {
  if (vm.agent) return true;
  AgentPlacement where;
  // Slot id: the highest user slot id the trace does not use in address space 0.
  bool found = false;
  for (u32 id = KVM_USER_MEM_SLOTS; id-- > 0;) {
    if (!vm.slots.count(id)) {
      where.slot = id;
      found = true;
      break;
    }
  }
  if (!found) {
    diag_host_limit_ = true;
    diag_ = "access: every memslot id is in use by the trace; no room for the guest agent";
    return false;
  }
  // GPA range: the highest kSize-aligned range below 2^46 that no trace slot overlaps. A profile with
  // a smaller guest physical space (linux-6.12: the nested oracle's qemu64 vCPU has MAXPHYADDR 40)
  // lowers the start, else KVM rejects the agent's slot.
  found = false;
  const u64 gpa_top = (profile_.max_gfn + 1) << 12;
  const u64 first = gpa_top >= GuestAgent::kDefaultGpa + GuestAgent::kSize
                        ? GuestAgent::kDefaultGpa
                        : (gpa_top & ~(GuestAgent::kSize - 1)) - GuestAgent::kSize;
  for (u64 gpa = first;; gpa -= GuestAgent::kSize) {
    bool clash = avoid_gpa >= gpa && avoid_gpa < gpa + GuestAgent::kSize;
    for (const auto& [id, s] : vm.slots)
      if (gpa < s.gpa + s.size && s.gpa < gpa + GuestAgent::kSize) clash = true;
    if (!clash) {
      where.gpa = gpa;
      found = true;
      break;
    }
    if (gpa == 0) break;
  }
  if (!found) {
    diag_host_limit_ = true;
    diag_ = "access: no free guest-physical range below 2^46 for the guest agent";
    return false;
  }
  std::string err;
  vm.agent = GuestAgent::create(vm.fd, where, &err);
  if (!vm.agent) {
    diag_ = err;
    return false;
  }
  vm.agent_generation = next_agent_generation_++;
  return true;
}

bool KvmBackend::ensure_vcpu_ready(Vcpu& v) {
  if (!v.run) {
    diag_ = "access: the vCPU's kvm_run page is not mapped";
    return false;
  }
  if (!v.cpuid_set) {
    if (supported_cpuid_.empty()) {
      for (u32 n = 64; n <= 4096; n *= 2) {
        std::vector<u8> blob(sizeof(x86::kvm_cpuid2_header) + n * sizeof(x86::kvm_cpuid_entry2), 0);
        reinterpret_cast<x86::kvm_cpuid2_header*>(blob.data())->nent = n;
        if (::ioctl(kvm_fd_, x86::KVM_GET_SUPPORTED_CPUID, blob.data()) == 0) {
          supported_cpuid_ = std::move(blob);
          break;
        }
        if (errno != E2BIG) break;
      }
      if (supported_cpuid_.empty()) {
        diag_ = std::string("KVM_GET_SUPPORTED_CPUID: ") + std::strerror(errno);
        return false;
      }
    }
    std::vector<u8> blob = supported_cpuid_;  // the kernel may not modify it, but keep ours pristine
    if (::ioctl(v.fd, x86::KVM_SET_CPUID2, blob.data()) != 0) {
      diag_ = std::string("KVM_SET_CPUID2: ") + std::strerror(errno);
      return false;
    }
    v.cpuid_set = true;
  }
  if (v.setup_generation != v.vm->agent_generation) {
    if (!v.vm->agent->setup_vcpu(v.fd, &diag_)) return false;
    v.setup_generation = v.vm->agent_generation;
  }
  return true;
}

const KvmBackend::Slot* KvmBackend::slot_at(const Vm& vm, u64 gpa) {
  for (const auto& [id, s] : vm.slots)
    if (slot_as(id) == 0 && gpa >= s.gpa && gpa < s.gpa + s.size) return &s;
  return nullptr;
}

std::optional<u64> KvmBackend::write_hits_own_memory(const Vm& vm, u64 gpa) const {
  const Slot* s = slot_at(vm, gpa);
  if (!s) return std::nullopt;
  const u64 hva = (s->uaddr + (gpa - s->gpa)) & ~(kPageSize - 1);
  if (mem_.owns(hva)) return std::nullopt;
  // mincore() fails with ENOMEM exactly when the page is not mapped in this process: then the
  // kernel answers the fault itself (EFAULT) and nothing of ours is at risk.
  unsigned char vec = 0;
  if (::mincore(reinterpret_cast<void*>(hva), kPageSize, &vec) != 0) return std::nullopt;
  return hva;
}

u64 KvmBackend::exec_stub_hva(const Vm& vm, u64 gpa) const {
  const Slot* s = slot_at(vm, gpa);
  if (!s || (s->flags & KVM_MEM_GUEST_MEMFD)) return 0;  // guest_memfd: the guest may not read uaddr at all
  const u64 hva = s->uaddr + (gpa - s->gpa);
  return mem_.host_writable(hva, 1) ? hva : 0;
}

AccessOutcome KvmBackend::access_value(int vcpu_fd, u64 gpa, AccessKind kind, u64 value) {
  return run_access(vcpu_fd, gpa, kind, &value);
}

AccessOutcome KvmBackend::access(int vcpu_fd, u64 gpa, AccessKind kind) { return run_access(vcpu_fd, gpa, kind, nullptr); }

AccessOutcome KvmBackend::run_access(int vcpu_fd, u64 gpa, AccessKind kind, const u64* value) {
  diag_.clear();
  diag_host_limit_ = false;
  auto fail = [&](int err) {
    AccessOutcome o;
    o.kind = AccessOutcome::Kind::error;
    o.err = err;
    return o;
  };
  auto it = vcpus_.find(vcpu_fd);
  if (it == vcpus_.end() || !it->second.vm) {
    diag_ = "access: not a vCPU fd created through this backend";
    return fail(EBADF);
  }
  Vcpu& v = it->second;
  Vm& vm = *v.vm;
  // A slot may point anywhere (traces probe the kernel's checks, the fuzz shrinker simplifies
  // addresses): a guest store through it must never land in kvmsim's own memory.
  // The agent reaches a gpa through one 2M window: a u64 may not straddle two.
  if (value && ((gpa & ((2ull << 20) - 1)) > (2ull << 20) - 8)) {
    diag_host_limit_ = true;
    diag_ = "access: a u64 access straddling a 2M boundary is beyond the guest agent";
    return fail(EINVAL);
  }
  if (kind == AccessKind::write) {
    auto hva = write_hits_own_memory(vm, gpa);
    if (!hva && value) hva = write_hits_own_memory(vm, gpa + 7);
    if (hva) {
      diag_host_limit_ = true;
      diag_ = "access: refused: a guest write to gpa " + model::hex(gpa) + " would store to hva " + model::hex(*hva) +
              ", memory of this process that the trace did not map";
      return fail(EFAULT);
    }
  }
  evict_agent_if_colliding(vm, ~0u, gpa, 1);  // the target must not be agent memory
  if (!ensure_agent(vm, gpa)) return fail(ENOSPC);
  if (!ensure_vcpu_ready(v)) return fail(EIO);
  const u64 stub = kind == AccessKind::exec ? exec_stub_hva(vm, gpa) : 0;
  const GuestAgent::Value wide{value ? *value : 0};
  AccessOutcome o = vm.agent->run(v.fd, v.run, gpa, kind, stub, &diag_, value ? &wide : nullptr);
  if (o.kind == AccessOutcome::Kind::error) v.setup_generation = 0;  // re-load sregs next time
  return o;
}

// ---------------------------------------------------------------- observation

std::optional<Stats> KvmBackend::stats(int vm_fd) {
  if (auto vm = vm_of(vm_fd); vm && vm->agent) vm->agent->drop_host_ptes();
  int sfd = ::ioctl(vm_fd, KVM_GET_STATS_FD, 0);
  if (sfd < 0) {
    diag_ = std::string("KVM_GET_STATS_FD: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string err;
  auto s = read_binary_stats(sfd, &err);
  ::close(sfd);
  if (!s) diag_ = err;
  return s;
}

}  // namespace kvmsim::kvm
