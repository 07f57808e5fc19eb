#include "model/vm/kvm.h"

#include <algorithm>
#include <cerrno>
#include <limits>

#include "model/core_assert.h"
#include "model/mmu/leaf_runs.h"

namespace kvmsim::model {

using namespace uapi;

Kvm::Kvm(const Profile& profile, PageTableImpl pt_impl) : profile_(profile), pt_impl_(pt_impl), host_(profile) {
  kvm_fd_ = alloc_fd(FdEntry{FdKind::system});
}

Kvm::FdEntry* Kvm::entry(int fd) {
  auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : &it->second;
}

int Kvm::alloc_fd(FdEntry e) {
  int fd = 3;  // 0-2 are stdio
  for (const auto& [n, unused] : fds_) {
    if (n != fd) break;
    ++fd;
  }
  fds_.emplace(fd, std::move(e));
  return fd;
}

const Vm* Kvm::vm(int fd) const {
  auto it = fds_.find(fd);
  return it != fds_.end() && it->second.kind == FdKind::vm ? it->second.vm.get() : nullptr;
}

Vm* Kvm::vm(int fd) {
  auto it = fds_.find(fd);
  return it != fds_.end() && it->second.kind == FdKind::vm ? it->second.vm.get() : nullptr;
}

// ---- host memory ----

void Kvm::forward(const std::vector<HostRange>& invalidated) {
  if (invalidated.empty()) return;
  for (const auto& weak : vms_)
    if (auto v = weak.lock()) v->mmu().host_invalidated(invalidated);
}

Ret Kvm::finish(const HostChange& c) {
  forward(c.invalidated);
  return c.ret;
}

Ret Kvm::mmap(u64 size, Backing backing, u64 align) { return finish(host_.mmap(size, backing, align)); }
Ret Kvm::mmap_placed(u64 size, Backing backing, u64 align, const MmapPlacement& placement) {
  return finish(host_.mmap(size, backing, align, placement));
}

Ret Kvm::mmap_fd(int fd, u64 size, u64 offset, int prot, int flags) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  MappedFile file;
  if (e->kind == FdKind::gmem) {
    const GuestMemfd* g = e->vm->gmem(e->file_id);
    KVMSIM_ASSERT(g, "open gmem fd %d without file", fd);
    file = MappedFile{MappedFile::Kind::guest_memfd, g->file_id(), g->size(), g->flags()};
  } else if (e->kind == FdKind::memfd) {
    if (e->memfd->inaccessible) return Ret::fail(EPERM);  // v5 01/13 shmem_mmap(): F_SEAL_INACCESSIBLE
    file = MappedFile{MappedFile::Kind::memfd, e->memfd->file_id, e->memfd->size, 0};
  } else {
    // /dev/kvm and VM fds have no mmap; the vCPU kvm_run mapping is not modelled.
    return Ret::fail(ENODEV);
  }
  return finish(host_.mmap_file(file, size, offset, prot, flags));
}

void Kvm::maybe_release_gmem(u64 file_id) {
  auto it = mapped_gmem_.find(file_id);
  if (it == mapped_gmem_.end() || host_.file_mapped(file_id)) return;
  std::shared_ptr<Vm> v = it->second;
  mapped_gmem_.erase(it);
  v->gmem_release(file_id);
}

Ret Kvm::munmap(u64 addr, u64 size) {
  Ret r = finish(host_.munmap(addr, size));
  std::vector<u64> ids;
  for (const auto& [id, v] : mapped_gmem_) ids.push_back(id);
  for (u64 id : ids) maybe_release_gmem(id);
  return r;
}

Ret Kvm::madvise(u64 addr, u64 size, int advice) { return finish(host_.madvise(addr, size, advice)); }
Ret Kvm::mprotect(u64 addr, u64 size, int prot) { return finish(host_.mprotect(addr, size, prot)); }
Ret Kvm::touch(u64 addr, u64 size) { return finish(host_.touch(addr, size)); }
Ret Kvm::poke(u64 addr, u64 value) { return finish(host_.vmm_store(addr, value)); }
Ret Kvm::peek(u64 addr) { return finish(host_.vmm_load(addr)); }

std::optional<Ret> Kvm::pin(u64 addr, u64 size) { return finish(host_.pin(addr, size)); }
std::optional<Ret> Kvm::unpin(u64 addr, u64 size) { return host_.unpin(addr, size); }

Ret Kvm::memfd_create(u64 size, u64 flags) {
  // memfd_create(2) then ftruncate(size). Flag 0x8 is MFD_INACCESSIBLE on the private-fd v5 profile
  // (MFD_NOEXEC_SEAL upstream, which nothing here observes); hugetlbfs and exec flags are not
  // modelled, so they are refused rather than answered wrongly (docs/semantics/host-memory.md).
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_INACCESSIBLE)) return Ret::fail(EINVAL);
  if (static_cast<i64>(size) < 0) return Ret::fail(EINVAL);
  const bool inaccessible = profile_.has_private_fd_memslot && (flags & MFD_INACCESSIBLE);
  // v5 01/13 shmem_setattr(): an inaccessible file grows only to a page multiple.
  if (inaccessible && (size & (kPageSize - 1))) return Ret::fail(EINVAL);
  FdEntry e{FdKind::memfd};
  e.memfd = std::make_shared<Memfd>();
  e.memfd->file_id = next_file_id_++;
  e.memfd->size = size;
  e.memfd->inaccessible = inaccessible;
  e.file_id = e.memfd->file_id;
  return Ret::ok(alloc_fd(std::move(e)));
}

// ---- ioctls ----

Ret Kvm::vm_ioctl_target(int fd, Vm** out) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  switch (e->kind) {
    case FdKind::system: return Ret::fail(EINVAL);  // kvm_arch_dev_ioctl default
    case FdKind::vcpu: return Ret::fail(EINVAL);    // kvm_arch_vcpu_ioctl default
    case FdKind::gmem:
    case FdKind::memfd: return Ret::fail(ENOTTY);   // no ioctl op
    case FdKind::vm: *out = e->vm.get(); return Ret::ok();
  }
  return Ret::fail(EBADF);
}

Ret Kvm::ioctl_create_vm(int fd, u64 type) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  if (e->kind == FdKind::vcpu) return Ret::fail(EINVAL);
  if (e->kind != FdKind::system) return Ret::fail(ENOTTY);
  if (type >= 32 || !(profile_.vm_types & (1ull << type))) return Ret::fail(EINVAL);
  auto v = std::make_shared<Vm>(profile_, host_, type, pt_impl_);
  // Host invalidations caused by KVM's own GUP reach every VM, like any MMU notifier event.
  v->mmu().set_host_notifier([this](const std::vector<HostRange>& r) { forward(r); });
  v->set_fault_injector(&faults_);
  vms_.push_back(v);
  FdEntry ve{FdKind::vm};
  ve.vm = std::move(v);
  return Ret::ok(alloc_fd(std::move(ve)));
}

Ret Kvm::ioctl_check_extension(int fd, u64 cap) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  switch (e->kind) {
    case FdKind::system:
      return Ret::ok(cap > 0xffffffffull ? 0 : static_cast<i64>(profile_.cap(static_cast<u32>(cap), false, false)));
    case FdKind::vm: return e->vm->check_extension(cap);
    case FdKind::vcpu: return Ret::fail(EINVAL);
    default: return Ret::fail(ENOTTY);
  }
}

Ret Kvm::ioctl_create_vcpu(int fd, u64 vcpu_id) {
  Vm* v = nullptr;
  if (Ret r = vm_ioctl_target(fd, &v); !r.is_ok()) return r;
  if (Ret r = v->create_vcpu(vcpu_id); !r.is_ok()) return r;
  FdEntry e{FdKind::vcpu};
  e.vm = entry(fd)->vm;
  e.vcpu_id = static_cast<u32>(vcpu_id);
  return Ret::ok(alloc_fd(std::move(e)));
}

GmemRef Kvm::resolve_gmem(u32 fd) {
  FdEntry* e = fd > static_cast<u32>(std::numeric_limits<int>::max()) ? nullptr : entry(static_cast<int>(fd));
  if (!e) return GmemRef{GmemRef::Kind::bad_fd};
  if (e->kind != FdKind::gmem) return GmemRef{GmemRef::Kind::not_gmem};
  return GmemRef{GmemRef::Kind::gmem, e->vm.get(), e->file_id};
}

Ret Kvm::ioctl_set_user_memory_region(int fd, const kvm_userspace_memory_region& r) {
  kvm_userspace_memory_region_ext ext{};
  ext.slot = r.slot;
  ext.flags = r.flags;
  ext.guest_phys_addr = r.guest_phys_addr;
  ext.memory_size = r.memory_size;
  ext.userspace_addr = r.userspace_addr;
  return ioctl_set_user_memory_region_ext(fd, ext);
}

Ret Kvm::ioctl_set_user_memory_region_ext(int fd, const kvm_userspace_memory_region_ext& r) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  kvm_userspace_memory_region2 r2{};
  r2.slot = r.slot;
  r2.flags = r.flags;
  r2.guest_phys_addr = r.guest_phys_addr;
  r2.memory_size = r.memory_size;
  r2.userspace_addr = r.userspace_addr;
  // v5 06/13: the tail is copied only when KVM_MEM_PRIVATE is set (and the kernel knows the flag).
  PrivateFdRef pf;
  if (profile_.has_private_fd_memslot && (r.flags & KVM_MEM_PRIVATE)) {
    pf.offset = r.private_offset;
    if (FdEntry* e = entry(static_cast<int>(r.private_fd))) {
      pf.kind = e->kind == FdKind::memfd ? PrivateFdRef::Kind::memfd : PrivateFdRef::Kind::not_shmem;
      if (e->kind == FdKind::memfd) pf.file = e->memfd;
    }
  }
  Ret ret = v->set_user_memory_region(r2, false, GmemRef{}, pf);
  collect_kernel_bugs(*v);
  return ret;
}

void Kvm::collect_kernel_bugs(Vm& v) {
  std::string s = v.take_kernel_bug();
  if (s.empty()) return;
  if (!kernel_bug_.empty()) kernel_bug_ += '\n';
  kernel_bug_ += s;
}

void Kvm::notify_private_fd(u64 file_id, u64 start, u64 end) {
  if (!profile_.has_private_fd_memslot || start >= end) return;
  for (const auto& weak : vms_)
    if (auto v = weak.lock()) {
      v->private_fd_notify(file_id, start, end);
      collect_kernel_bugs(*v);
    }
}

Ret Kvm::ioctl_set_user_memory_region2(int fd, const kvm_userspace_memory_region2& r) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  if (!profile_.has_region2) return Ret::fail(ENOTTY);
  // The fd is resolved only when the GUEST_MEMFD flag asks for a binding.
  const GmemRef ref = (r.flags & KVM_MEM_GUEST_MEMFD) ? resolve_gmem(r.guest_memfd) : GmemRef{};
  return v->set_user_memory_region(r, true, ref);
}

Ret Kvm::ioctl_create_guest_memfd(int fd, const kvm_create_guest_memfd& g) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  if (!profile_.has_guest_memfd) return Ret::fail(ENOTTY);
  if (profile_.gmem_needs_private_mem && !v->has_private_mem()) return Ret::fail(EINVAL);
  const u64 id = next_file_id_;
  Ret r = v->create_guest_memfd(g, id);
  if (!r.is_ok()) return r;
  ++next_file_id_;
  FdEntry e{FdKind::gmem};
  e.vm = entry(fd)->vm;
  e.file_id = id;
  return Ret::ok(alloc_fd(std::move(e)));
}

Ret Kvm::ioctl_set_memory_attributes(int fd, const kvm_memory_attributes& a) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  if (!profile_.has_memory_attributes) return Ret::fail(ENOTTY);
  return v->set_memory_attributes(a);
}

// A guest_memfd ioctl: only the in-place conversion series gives guest_memfd an ioctl op
// (kvm_gmem_ioctl, ENOTTY while gmem_in_place_conversion is off); everywhere else the fd has none. On
// the other fds 0xd2 with this size is unknown: ENOTTY on a VM (no VM ioctl for it in v8), EINVAL on
// /dev/kvm and a vCPU (the arch defaults).
Ret Kvm::ioctl_set_memory_attributes2(int fd, kvm_memory_attributes2& inout, bool* written_back) {
  *written_back = false;
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  switch (e->kind) {
    case FdKind::system:
    case FdKind::vcpu: return Ret::fail(EINVAL);
    case FdKind::vm:
    case FdKind::memfd: return Ret::fail(ENOTTY);
    case FdKind::gmem: break;
  }
  if (!profile_.gmem_conversion.enabled) return Ret::fail(ENOTTY);
  std::vector<HostRange> invalidated;
  Ret r = e->vm->gmem_set_attributes(e->file_id, inout, written_back, &invalidated);
  forward(invalidated);
  return r;
}

// kvm_vm_ioctl(): upstream refuses every VM ioctl from a process other than the VM's creator
// (`kvm->mm != current->mm`: EIO) before looking at the number; the RFC's [PATCH 3/4] moves that check after
// KVM_GUEST_MEMFD_POPULATE. Without the RFC the number is unknown (kvm_arch_vm_ioctl: ENOTTY).
Ret Kvm::ioctl_guest_memfd_populate(int fd, const kvm_guest_memfd_populate& p, u32 process) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  const bool other_mm = process != 1;
  if (other_mm && !(profile_.has_gmem_populate && profile_.gmem_populate_other_mm)) return Ret::fail(EIO);
  if (!profile_.has_gmem_populate) return Ret::fail(ENOTTY);
  std::vector<HostRange> invalidated;
  Ret r = v->gmem_populate(p, &invalidated, &kernel_bug_);
  forward(invalidated);
  return r;
}

Ret Kvm::vcpu_ioctl_target(int fd, FdEntry** out) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  switch (e->kind) {
    case FdKind::system: return Ret::fail(EINVAL);
    case FdKind::vm:
    case FdKind::gmem:
    case FdKind::memfd: return Ret::fail(ENOTTY);
    case FdKind::vcpu: break;
  }
  *out = e;
  return Ret::ok();
}

Ret Kvm::ioctl_pre_fault_memory(int fd, kvm_pre_fault_memory& inout) {
  FdEntry* e = nullptr;
  if (Ret x = vcpu_ioctl_target(fd, &e); !x.is_ok()) return x;
  if (!profile_.has_pre_fault) return Ret::fail(EINVAL);  // unknown vCPU ioctl
  return e->vm->pre_fault_memory(e->vcpu_id, inout);
}

Ret Kvm::ioctl_map_memory(int fd, kvm_memory_mapping& inout) {
  FdEntry* e = nullptr;
  if (Ret x = vcpu_ioctl_target(fd, &e); !x.is_ok()) return x;
  if (!profile_.has_map_memory) return Ret::fail(EINVAL);  // unknown vCPU ioctl
  return e->vm->map_memory(e->vcpu_id, inout, &kernel_bug_);
}

Ret Kvm::ioctl_get_dirty_log(int fd, u32 slot, std::vector<u64>& bitmap) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  return v->get_dirty_log(slot, bitmap);
}

Ret Kvm::ioctl_clear_dirty_log(int fd, u32 slot, u64 first_page, u32 num_pages, const std::vector<u64>& bitmap) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  return v->clear_dirty_log(slot, first_page, num_pages, bitmap);
}

Ret Kvm::ioctl_enable_cap(int fd, const kvm_enable_cap& cap) {
  Vm* v = nullptr;
  if (Ret x = vm_ioctl_target(fd, &v); !x.is_ok()) return x;
  return v->enable_cap(cap);
}

// ---- file calls ----

Ret Kvm::fallocate(int fd, int mode, u64 offset, u64 len) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  const bool regular = e->kind == FdKind::gmem || e->kind == FdKind::memfd;
  if (Ret r = check_vfs_fallocate(mode, offset, len, regular); !r.is_ok()) return r;
  if (e->kind == FdKind::gmem) {
    Ret r = e->vm->gmem_fallocate(e->file_id, mode, offset, len);
    // Host mappings of the punched pages (MMAP guest_memfd) go away too.
    if (r.is_ok() && (mode & FALLOC_FL_PUNCH_HOLE)) forward(host_.punch_file(e->file_id, offset, len));
    return r;
  }
  // shmem_fallocate.
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return Ret::fail(EOPNOTSUPP);
  Memfd& m = *e->memfd;
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    // v5 01/13: an inaccessible file punches whole pages only.
    if (m.inaccessible && ((offset | len) & (kPageSize - 1))) return Ret::fail(EINVAL);
    // Only whole pages inside the range are unmapped.
    const u64 s = (offset + kPageSize - 1) & ~(kPageSize - 1), en = (offset + len) & ~(kPageSize - 1);
    if (s < en) {
      forward(host_.punch_file(m.file_id, s, en - s));
      remove_memfd_pages(m, s >> 12, en >> 12);
    }
    return Ret::ok();
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE)) m.size = std::max(m.size, offset + len);
  const u64 first = offset >> 12, last = (offset + len + kPageSize - 1) >> 12;
  m.allocated.assign(first, last, true);
  notify_private_fd(m.file_id, first, last);  // v5 03/13: notify_fallocate() over the whole range
  return Ret::ok();
}

Ret Kvm::ftruncate(int fd, u64 len) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  if (static_cast<i64>(len) < 0) return Ret::fail(EINVAL);
  // /dev/kvm and anon-inode fds are not regular files; guest_memfd's setattr refuses any size.
  if (e->kind != FdKind::memfd) return Ret::fail(EINVAL);
  Memfd& m = *e->memfd;
  // v5 01/13 shmem_setattr(): an inaccessible file is sized once, from 0, to a page multiple.
  if (m.inaccessible && m.size != 0) return Ret::fail(EPERM);
  if (m.inaccessible && (len & (kPageSize - 1))) return Ret::fail(EINVAL);
  if (len < m.size) {
    const u64 s = (len + kPageSize - 1) & ~(kPageSize - 1);
    forward(host_.punch_file(m.file_id, s, std::numeric_limits<u64>::max() - s));
    remove_memfd_pages(m, s >> 12, std::numeric_limits<u64>::max() >> 12);
    // shmem_setattr zeroes the tail of the last partial page.
    host_.contents().zero(m.file_id, len, s);
  }
  m.size = len;
  host_.set_file_size(m.file_id, m.size);
  return Ret::ok();
}

void Kvm::remove_memfd_pages(Memfd& m, u64 first, u64 last) {
  // shmem_undo_range(): notify_invalidate_page() for each page present, then drop it.
  std::vector<std::pair<u64, u64>> present;
  m.allocated.for_each_run(first, last, [&](u64 s, u64 e, bool) { present.emplace_back(s, e); });
  m.allocated.erase(first, last);
  for (auto [s, e] : present) notify_private_fd(m.file_id, s, e);
}

Ret Kvm::read(int fd, u64 len) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  if (e->kind != FdKind::memfd) return Ret::fail(EINVAL);  // no read op: FMODE_CAN_READ clear
  Memfd& m = *e->memfd;
  if (m.inaccessible && m.pos < m.size) return Ret::fail(EPERM);  // v5 01/13 shmem_file_read_iter()
  const u64 n = m.pos >= m.size ? 0 : std::min(len, m.size - m.pos);
  m.pos += n;
  return Ret::ok(static_cast<i64>(n));
}

Ret Kvm::write(int fd, u64 len) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  if (e->kind == FdKind::gmem && profile_.gmem_write_flag) {
    // "populate via write()" (v7, gmem_write.cpp) at the file position; the buffer is zero-filled.
    if (e->gmem_pos + len < e->gmem_pos) return Ret::fail(EINVAL);  // rw_verify_area()
    const Ret r = e->vm->gmem_write(e->file_id, e->gmem_pos, len, 0);
    collect_kernel_bugs(*e->vm);
    if (r.is_ok()) e->gmem_pos += static_cast<u64>(r.ret);
    return r;
  }
  if (e->kind != FdKind::memfd) return Ret::fail(EINVAL);
  Memfd& m = *e->memfd;
  if (m.inaccessible) return Ret::fail(EPERM);  // v5 01/13 shmem_write_begin()
  if (len) m.allocated.assign(m.pos >> 12, (m.pos + len + kPageSize - 1) >> 12, true);
  // The buffer is zero-filled: the written range reads 0.
  host_.contents().zero(m.file_id, m.pos, m.pos + len);
  m.pos += len;
  m.size = std::max(m.size, m.pos);
  host_.set_file_size(m.file_id, m.size);
  return Ret::ok(static_cast<i64>(len));
}

Ret Kvm::pread(int fd, u64 len, u64 offset) {
  if (static_cast<i64>(offset) < 0) return Ret::fail(EINVAL);  // checked before the fd
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  switch (e->kind) {
    case FdKind::system: return Ret::fail(EINVAL);  // char device: seekable, but no read op
    case FdKind::vm:
    case FdKind::vcpu:
    case FdKind::gmem: return Ret::fail(ESPIPE);    // anon-inode files lack FMODE_PREAD
    case FdKind::memfd: break;
  }
  const Memfd& m = *e->memfd;
  if (m.inaccessible && offset < m.size) return Ret::fail(EPERM);  // v5 01/13 shmem_file_read_iter()
  return Ret::ok(static_cast<i64>(offset >= m.size ? 0 : std::min(len, m.size - offset)));
}

Ret Kvm::pwrite(int fd, u64 offset, u64 len, u64 value) {
  if (static_cast<i64>(offset) < 0) return Ret::fail(EINVAL);  // ksys_pwrite64, before the fd
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  switch (e->kind) {
    case FdKind::system: return Ret::fail(EINVAL);  // char device without a write op
    case FdKind::vm:
    case FdKind::vcpu: return Ret::fail(ESPIPE);    // anon-inode files lack FMODE_PWRITE
    case FdKind::gmem:
      if (!profile_.gmem_write_flag) return Ret::fail(ESPIPE);  // no FMODE_PWRITE, no write op
      break;
    case FdKind::memfd: break;
  }
  if (offset + len < offset) return Ret::fail(EINVAL);  // rw_verify_area(): the end overflows loff_t
  if (e->kind == FdKind::gmem) {
    // "populate via write()" (v7): FMODE_PWRITE and a write_iter on every guest_memfd (gmem_write.cpp).
    const Ret r = e->vm->gmem_write(e->file_id, offset, len, value);
    collect_kernel_bugs(*e->vm);
    return r;
  }
  Memfd& m = *e->memfd;
  // shmem_file_write_iter: the data lands in the page cache, the file grows to cover it.
  host_.contents().fill(m.file_id, offset, len, value);
  if (len) m.size = std::max(m.size, offset + len);
  host_.set_file_size(m.file_id, m.size);
  return Ret::ok(static_cast<i64>(len));
}

Ret Kvm::fstat(int fd, FileStat& out) {
  FdEntry* e = entry(fd);
  if (!e) return Ret::fail(EBADF);
  // Every file here reports the page size as st_blksize; only memfd and guest_memfd have a size.
  out = FileStat{0, kPageSize};
  if (e->kind == FdKind::memfd) out.size = e->memfd->size;
  if (e->kind == FdKind::gmem) {
    const GuestMemfd* g = e->vm->gmem(e->file_id);
    KVMSIM_ASSERT(g, "open gmem fd %d without file", fd);
    out.size = g->size();  // __kvm_gmem_create: i_size_write(inode, size)
  }
  return Ret::ok();
}

Ret Kvm::close(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Ret::fail(EBADF);
  FdEntry e = std::move(it->second);
  fds_.erase(it);
  if (e.kind == FdKind::gmem) {
    // The file lives on while mmapped; its last reference releases it (kvm_gmem_release).
    if (host_.file_mapped(e.file_id)) mapped_gmem_.emplace(e.file_id, e.vm);
    else e.vm->gmem_release(e.file_id);
  }
  return Ret::ok();
}

// ---- guest and observation ----

AccessOutcome Kvm::access(int vcpu_fd, u64 gpa, AccessKind kind) {
  FdEntry* e = entry(vcpu_fd);
  if (!e) return AccessOutcome{AccessOutcome::Kind::error, EBADF};
  if (e->kind == FdKind::system || e->kind == FdKind::vm || e->kind == FdKind::gmem || e->kind == FdKind::memfd)
    return AccessOutcome{AccessOutcome::Kind::error, e->kind == FdKind::system ? EINVAL : ENOTTY};
  const AccessOutcome o = e->vm->access(e->vcpu_id, gpa, kind);
  collect_kernel_bugs(*e->vm);
  return o;
}

AccessOutcome Kvm::access_value(int vcpu_fd, u64 gpa, AccessKind kind, u64 value) {
  FdEntry* e = entry(vcpu_fd);
  if (!e) return AccessOutcome{AccessOutcome::Kind::error, EBADF};
  if (e->kind == FdKind::system || e->kind == FdKind::vm || e->kind == FdKind::gmem || e->kind == FdKind::memfd)
    return AccessOutcome{AccessOutcome::Kind::error, e->kind == FdKind::system ? EINVAL : ENOTTY};
  return e->vm->access_value(e->vcpu_id, gpa, kind, value);
}

// SMM (docs/semantics/smm.md §2): address space 1. A VM with one address space has no SMM; which
// answer KVM_SMI would give there is not modelled, so nothing is answered (§4).
std::optional<AccessOutcome> Kvm::access_smm(int vcpu_fd, u64 gpa, AccessKind kind, bool with_value, u64 value) {
  FdEntry* e = entry(vcpu_fd);
  if (!e) return AccessOutcome{AccessOutcome::Kind::error, EBADF};
  if (e->kind == FdKind::system || e->kind == FdKind::vm || e->kind == FdKind::gmem || e->kind == FdKind::memfd)
    return AccessOutcome{AccessOutcome::Kind::error, e->kind == FdKind::system ? EINVAL : ENOTTY};
  if (e->vm->mmu().nr_address_spaces() < 2) return std::nullopt;
  const AccessOutcome o = with_value ? e->vm->access_value(e->vcpu_id, gpa, kind, value, 1)
                                     : e->vm->access(e->vcpu_id, gpa, kind, 1);
  collect_kernel_bugs(*e->vm);
  return o;
}

std::optional<Mapping> Kvm::mapping_smm(int vm_fd, u64 gpa) {
  const Vm* v = vm(vm_fd);
  if (!v || v->mmu().nr_address_spaces() < 2) return std::nullopt;
  return v->mmu().mapping(gpa, 1);
}

std::optional<Stats> Kvm::stats(int vm_fd) {
  const Vm* v = vm(vm_fd);
  if (!v) return std::nullopt;
  return v->mmu().stats();
}

std::optional<Mapping> Kvm::mapping(int vm_fd, u64 gpa) {
  const Vm* v = vm(vm_fd);
  if (!v) return std::nullopt;
  return v->mmu().mapping(gpa);
}

std::optional<std::vector<LeafRun>> Kvm::leaf_runs(int vm_fd) {
  const Vm* v = vm(vm_fd);
  if (!v) return std::nullopt;
  return model::leaf_runs(v->mmu().page_table(0));
}

bool Kvm::inject_fault(const std::string& site, const std::string& kind, u64 after, u64 count) {
  auto s = fault_site_for(site, kind);
  if (!s) return false;
  faults_.arm(FaultRule{*s, after, count});
  return true;
}

}  // namespace kvmsim::model
