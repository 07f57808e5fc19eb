/* kvmsim record's LD_PRELOAD library (libkvmsim_record.so): writes a raw event log of the KVM calls a
 * dynamically linked VMM makes, for `kvmsim record` to turn into a v1 trace (sim/record/rawlog.h has the
 * log's format and the converter). Plain C, no kvmsim code: it is loaded into the VMM.
 *
 * Interposed: open/openat (and their LFS/fortify names) of /dev/kvm; ioctl on the fds KVM gave out
 * (/dev/kvm, VM, vCPU, guest_memfd, device and stats fds); mmap/munmap/madvise/mprotect (all of them: which
 * ranges KVM was given is only known later, so the converter keeps the ones memslots point into);
 * memfd_create; fallocate/ftruncate/close on those fds and on memfds.
 *
 * Invariants (recording never changes what the VMM sees):
 * - every call goes to the next definition (RTLD_NEXT) with its arguments unchanged; its return value and
 *   errno come back unchanged (errno is saved right after the call and restored before returning);
 * - argument bytes are read with process_vm_readv, so a bad pointer the VMM passes gives it the kernel's
 *   EFAULT as before instead of a crash in the recorder;
 * - the log lives in memory and is appended to the file (KVMSIM_RECORD_LOG) only when it grows past 256 KiB
 *   and at exit (exit() or _exit()/_Exit()), with an fd opened and closed for that write alone: no fd stays
 *   open in the VMM;
 * - one global sequence per process: an event is appended under one mutex after the call returned, so the log
 *   is in the order the calls returned to their threads; no lock is held across a call (KVM_RUN blocks);
 * - one log per process: the process whose pid is KVMSIM_RECORD_PID writes KVMSIM_RECORD_LOG, and every
 *   process it forks (and they fork) goes on recording into KVMSIM_RECORD_LOG.PID from an empty buffer (the
 *   parent's unwritten events stay the parent's), so a VMM that does its KVM work in a forked worker
 *   (stress-ng) is recorded and no event is written twice; a program exec'd by any of them is not recorded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum fd_kind { FD_NONE, FD_KVM, FD_VM, FD_VCPU, FD_GMEM, FD_OTHER_KVM, FD_MEMFD };
#define MAX_FDS 65536
#define FLUSH_AT (256u << 10)
#define MAX_ARG_BYTES 65536u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int recording;                 /* set by the constructor in the recorded process, kept across fork */
static char base_path[4096];          /* KVMSIM_RECORD_LOG */
static char log_path[4128];           /* this process's log: base_path, or base_path.PID in a forked child */
static pid_t owner;                   /* the pid that owns buf and log_path (a vfork child is not it) */
static volatile long lock_holder;     /* tid holding `lock`, 0 if none: _exit in a signal handler checks it */
static unsigned char kinds[MAX_FDS];  /* fd -> enum fd_kind */
static uintptr_t run_page[MAX_FDS];   /* vCPU fd -> its mmap'd struct kvm_run, for KVM_RUN's exit reason */
static char* buf;
static size_t buf_len, buf_cap;

static long tid(void) { return syscall(SYS_gettid); }

static void lock_log(void) {
  pthread_mutex_lock(&lock);
  lock_holder = tid();
}
static void unlock_log(void) {
  lock_holder = 0;
  pthread_mutex_unlock(&lock);
}

static void flush_locked(void) {
  if (!buf_len) return;
  /* Raw syscalls: the interposed open/close must not see the recorder's own file. */
  long fd = syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    size_t off = 0;
    while (off < buf_len) {
      long n = syscall(SYS_write, fd, buf + off, buf_len - off);
      if (n <= 0) break;
      off += (size_t)n;
    }
    syscall(SYS_close, fd);
  }
  buf_len = 0;
}

static void append_locked(const char* s, size_t n) {
  if (buf_len + n > buf_cap) {
    size_t cap = buf_cap ? buf_cap : FLUSH_AT * 2;
    while (cap < buf_len + n) cap *= 2;
    char* nb = realloc(buf, cap);
    if (!nb) return; /* out of memory: the event is lost, the VMM goes on */
    buf = nb;
    buf_cap = cap;
  }
  memcpy(buf + buf_len, s, n);
  buf_len += n;
}

static void appendf_locked(const char* fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) append_locked(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void append_hex_locked(const char* key, const unsigned char* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char chunk[1024];
  size_t k = (size_t)snprintf(chunk, sizeof chunk, " %s=", key);
  for (size_t i = 0; i < n; i++) {
    if (k + 2 > sizeof chunk) {
      append_locked(chunk, k);
      k = 0;
    }
    chunk[k++] = digits[p[i] >> 4];
    chunk[k++] = digits[p[i] & 15];
  }
  append_locked(chunk, k);
}

/* Every event line starts `CALL tid=T ret=R errno=E`; the caller appends its own fields and the newline. */
static void begin_locked(const char* call, long ret, int err) {
  appendf_locked("%s tid=%ld ret=%lx errno=%d", call, tid(), (unsigned long)ret, ret == -1 ? err : 0);
}

static void end_locked(void) {
  append_locked("\n", 1);
  if (buf_len >= FLUSH_AT) flush_locked();
}

/* fork: the lock is taken across it, so the child's copy of the buffer is whole; the child drops the
 * parent's unwritten events (the parent writes them) and starts its own log, base_path.PID. */
static void before_fork(void) {
  if (recording) lock_log();
}
static void after_fork_parent(void) {
  if (recording) unlock_log();
}
static void after_fork_child(void) {
  if (!recording) return;
  const long parent = (long)owner;
  owner = getpid();
  buf_len = 0;
  snprintf(log_path, sizeof log_path, "%s.%ld", base_path, (long)owner);
  appendf_locked("kvmsim-rawlog 1 pid=%ld ppid=%ld\n", (long)owner, parent);
  unlock_log();
}

__attribute__((constructor)) static void init(void) {
  const char* path = getenv("KVMSIM_RECORD_LOG");
  const char* pid = getenv("KVMSIM_RECORD_PID");
  if (!path || !pid || strtol(pid, NULL, 10) != (long)getpid() || strlen(path) >= sizeof base_path) return;
  strcpy(base_path, path);
  strcpy(log_path, path);
  owner = getpid();
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  lock_log();
  appendf_locked("kvmsim-rawlog 1 pid=%ld\n", (long)owner);
  unlock_log();
  recording = 1;
}

/* The last events and `exit`, at exit() (destructor) or _exit()/_Exit() (stress-ng's workers end so). Only the
 * owner writes: a vfork child shares the parent's buffer and must not write it. If this thread already holds
 * the lock (_exit from a signal handler that interrupted an append), the buffer is written as it is; a cut
 * line is read back as a comment by the converter. */
static void write_at_exit(void) {
  if (!recording || getpid() != owner) return;
  const int mine = lock_holder == tid();
  if (!mine) lock_log();
  appendf_locked("exit tid=%ld\n", tid());
  flush_locked();
  recording = 0;
  if (!mine) unlock_log();
}

__attribute__((destructor)) static void fini(void) { write_at_exit(); }

void _exit(int status) {
  write_at_exit();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}
void _Exit(int status) { _exit(status); }

#define REAL(name) \
  static __typeof__(name)* real_##name; \
  if (!real_##name) real_##name = (__typeof__(name)*)dlsym(RTLD_NEXT, #name)

static int kind_of(int fd) { return fd >= 0 && fd < MAX_FDS ? kinds[fd] : FD_NONE; }
static void set_kind(long fd, int kind) {
  if (fd >= 0 && fd < MAX_FDS) {
    kinds[fd] = (unsigned char)kind;
    run_page[fd] = 0;
  }
}

/* ---- open / openat of /dev/kvm ---- */

static int is_dev_kvm(const char* path) { return path && strcmp(path, "/dev/kvm") == 0; }

static int after_open(const char* path, int ret, int err) {
  if (recording && is_dev_kvm(path)) {
    lock_log();
    set_kind(ret, FD_KVM);
    begin_locked("open", ret, err);
    end_locked();
    unlock_log();
  }
  errno = err;
  return ret;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_LIKE(name)                                              \
  int name(const char* path, int flags, ...) {                       \
    va_list ap;                                                      \
    va_start(ap, flags);                                             \
    mode_t mode = mode_arg(flags, ap);                               \
    va_end(ap);                                                      \
    REAL(name);                                                      \
    int ret = real_##name(path, flags, mode);                        \
    return after_open(path, ret, errno);                             \
  }
#define OPENAT_LIKE(name)                                            \
  int name(int dirfd, const char* path, int flags, ...) {            \
    va_list ap;                                                      \
    va_start(ap, flags);                                             \
    mode_t mode = mode_arg(flags, ap);                               \
    va_end(ap);                                                      \
    REAL(name);                                                      \
    int ret = real_##name(dirfd, path, flags, mode);                 \
    return after_open(path, ret, errno);                             \
  }
OPEN_LIKE(open)
OPEN_LIKE(open64)
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

/* _FORTIFY_SOURCE's checked forms (Debian builds VMMs with it). */
int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);
int __open_2(const char* path, int flags) {
  REAL(__open_2);
  int ret = real___open_2(path, flags);
  return after_open(path, ret, errno);
}
int __open64_2(const char* path, int flags) {
  REAL(__open64_2);
  int ret = real___open64_2(path, flags);
  return after_open(path, ret, errno);
}
int __openat_2(int dirfd, const char* path, int flags) {
  REAL(__openat_2);
  int ret = real___openat_2(dirfd, path, flags);
  return after_open(path, ret, errno);
}
int __openat64_2(int dirfd, const char* path, int flags) {
  REAL(__openat64_2);
  int ret = real___openat64_2(dirfd, path, flags);
  return after_open(path, ret, errno);
}

/* ---- ioctl ---- */

/* The bytes an ioctl's argument spans: _IOC_SIZE, plus the entries of the variable-length structs QEMU and
 * other VMMs pass (a count in the header says how many follow). Numbers from include/uapi/linux/kvm.h. */
static size_t arg_span(unsigned long req, const unsigned char* head, size_t have) {
  size_t size = (req >> 16) & 0x3fff;
  uint32_t n = 0;
  if (have >= 4) memcpy(&n, head, 4);
  switch (req) {
    case 0x4008ae90: /* KVM_SET_CPUID2 */
    case 0xc008ae91: /* KVM_GET_CPUID2 */
    case 0xc008ae05: /* KVM_GET_SUPPORTED_CPUID */
    case 0xc008ae09: /* KVM_GET_EMULATED_CPUID */
    case 0xc008aec1: /* KVM_GET_SUPPORTED_HV_CPUID */
      return 8 + (size_t)n * 40;
    case 0x4008ae89: /* KVM_SET_MSRS */
    case 0xc008ae88: /* KVM_GET_MSRS */
      return 8 + (size_t)n * 16;
    case 0xc004ae02: /* KVM_GET_MSR_INDEX_LIST */
    case 0xc004ae0a: /* KVM_GET_MSR_FEATURE_INDEX_LIST */
      return 4 + (size_t)n * 4;
    case 0x4008ae6a: /* KVM_SET_GSI_ROUTING */
      return 8 + (size_t)n * 48;
    case 0x4004ae8b: /* KVM_SET_SIGNAL_MASK */
      return 4 + (size_t)n;
    default:
      return size;
  }
}

/* Copies up to `n` bytes of the VMM's memory without trusting the pointer. */
static size_t read_user(unsigned long addr, unsigned char* out, size_t n) {
  if (!addr || !n) return 0;
  struct iovec local = {out, n}, remote = {(void*)addr, n};
  ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  return got > 0 ? (size_t)got : 0;
}

static size_t read_arg(unsigned long req, unsigned long arg, unsigned char* out) {
  size_t head = (req >> 16) & 0x3fff;
  if (!head) return 0;
  size_t got = read_user(arg, out, head < MAX_ARG_BYTES ? head : MAX_ARG_BYTES);
  size_t span = arg_span(req, out, got);
  if (span > MAX_ARG_BYTES) span = MAX_ARG_BYTES;
  if (span > got && got == head) got += read_user(arg + got, out + got, span - got);
  return got;
}

int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  unsigned long arg = va_arg(ap, unsigned long);
  va_end(ap);
  REAL(ioctl);
  const int kind = recording ? kind_of(fd) : FD_NONE;
  if (kind == FD_NONE || kind == FD_MEMFD) return real_ioctl(fd, req, arg);
  const unsigned dir = (unsigned)(req >> 30);
  /* Heap, not stack or TLS: a VMM may call ioctl on a small coroutine stack. */
  unsigned char* in = ((req >> 16) & 0x3fff) ? malloc(2 * MAX_ARG_BYTES) : NULL;
  unsigned char* out = in ? in + MAX_ARG_BYTES : NULL;
  size_t n_in = (in && (dir & 1)) ? read_arg(req, arg, in) : 0;
  int ret = real_ioctl(fd, req, arg);
  int err = errno;
  size_t n_out = (out && (dir & 2)) ? read_arg(req, arg, out) : 0;
  lock_log();
  if (ret >= 0) {
    if (req == 0xae01) set_kind(ret, FD_VM);                 /* KVM_CREATE_VM */
    else if (req == 0xae41) set_kind(ret, FD_VCPU);          /* KVM_CREATE_VCPU */
    else if (req == 0xc040aed4) set_kind(ret, FD_GMEM);      /* KVM_CREATE_GUEST_MEMFD */
    else if (req == 0xaece) set_kind(ret, FD_OTHER_KVM);     /* KVM_GET_STATS_FD */
    else if (req == 0xc00caee0 && n_out >= 8) {              /* KVM_CREATE_DEVICE: the fd is in the struct */
      uint32_t dfd;
      memcpy(&dfd, out + 4, 4);
      set_kind((long)dfd, FD_OTHER_KVM);
    }
  }
  begin_locked("ioctl", ret, err);
  appendf_locked(" fd=%d req=%lx arg=%lx", fd, req, arg);
  if (n_in) append_hex_locked("in", in, n_in);
  if (n_out) append_hex_locked("out", out, n_out);
  if (req == 0xae80 && fd < MAX_FDS && run_page[fd]) { /* KVM_RUN: exit_reason is the u32 at offset 8 */
    uint32_t reason;
    memcpy(&reason, (const void*)(run_page[fd] + 8), 4);
    appendf_locked(" exit=%x", reason);
  }
  end_locked();
  unlock_log();
  free(in);
  errno = err;
  return ret;
}

/* ---- memory ---- */

static void* after_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off, void* ret, int err) {
  if (recording) {
    lock_log();
    if (ret != MAP_FAILED && off == 0 && kind_of(fd) == FD_VCPU) run_page[fd] = (uintptr_t)ret;
    begin_locked("mmap", ret == MAP_FAILED ? -1 : (long)ret, err);
    appendf_locked(" addr=%lx len=%lx prot=%x flags=%x fd=%d fdkind=%d off=%lx", (unsigned long)addr,
                   (unsigned long)len, prot, flags, fd, kind_of(fd), (unsigned long)off);
    end_locked();
    unlock_log();
  }
  errno = err;
  return ret;
}

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  REAL(mmap);
  void* ret = real_mmap(addr, len, prot, flags, fd, off);
  return after_mmap(addr, len, prot, flags, fd, off, ret, errno);
}
void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  REAL(mmap64);
  void* ret = real_mmap64(addr, len, prot, flags, fd, off);
  return after_mmap(addr, len, prot, flags, fd, off, ret, errno);
}

static int after_range(const char* call, void* addr, size_t len, int has_third, int third, int ret, int err) {
  if (recording) {
    lock_log();
    begin_locked(call, ret, err);
    appendf_locked(" addr=%lx len=%lx", (unsigned long)addr, (unsigned long)len);
    if (has_third) appendf_locked(" %s=%x", call[1] == 'a' ? "advice" : "prot", third);
    end_locked();
    unlock_log();
  }
  errno = err;
  return ret;
}

int munmap(void* addr, size_t len) {
  REAL(munmap);
  int ret = real_munmap(addr, len);
  return after_range("munmap", addr, len, 0, 0, ret, errno);
}
int madvise(void* addr, size_t len, int advice) {
  REAL(madvise);
  int ret = real_madvise(addr, len, advice);
  return after_range("madvise", addr, len, 1, advice, ret, errno);
}
int mprotect(void* addr, size_t len, int prot) {
  REAL(mprotect);
  int ret = real_mprotect(addr, len, prot);
  return after_range("mprotect", addr, len, 1, prot, ret, errno);
}

/* ---- file calls on KVM's and memfd fds ---- */

int memfd_create(const char* name, unsigned int flags) {
  REAL(memfd_create);
  int ret = real_memfd_create(name, flags);
  int err = errno;
  if (recording) {
    lock_log();
    if (ret >= 0) set_kind(ret, FD_MEMFD);
    begin_locked("memfd_create", ret, err);
    appendf_locked(" flags=%x", flags);
    end_locked();
    unlock_log();
  }
  errno = err;
  return ret;
}

static void fd_event(const char* call, int fd, long ret, int err, const char* fields) {
  lock_log();
  begin_locked(call, ret, err);
  appendf_locked(" fd=%d%s", fd, fields);
  end_locked();
  unlock_log();
}

#define FALLOCATE_LIKE(name)                                                                     \
  int name(int fd, int mode, off_t off, off_t len) {                                             \
    REAL(name);                                                                                  \
    int ret = real_##name(fd, mode, off, len);                                                   \
    int err = errno;                                                                             \
    if (recording && kind_of(fd) != FD_NONE) {                                                   \
      char f[96];                                                                                \
      snprintf(f, sizeof f, " mode=%x off=%lx len=%lx", (unsigned)mode, (unsigned long)off,      \
               (unsigned long)len);                                                              \
      fd_event("fallocate", fd, ret, err, f);                                                    \
    }                                                                                            \
    errno = err;                                                                                 \
    return ret;                                                                                  \
  }
FALLOCATE_LIKE(fallocate)
FALLOCATE_LIKE(fallocate64)

#define FTRUNCATE_LIKE(name)                                                                     \
  int name(int fd, off_t len) {                                                                  \
    REAL(name);                                                                                  \
    int ret = real_##name(fd, len);                                                              \
    int err = errno;                                                                             \
    if (recording && kind_of(fd) != FD_NONE) {                                                   \
      char f[48];                                                                                \
      snprintf(f, sizeof f, " len=%lx", (unsigned long)len);                                     \
      fd_event("ftruncate", fd, ret, err, f);                                                    \
    }                                                                                            \
    errno = err;                                                                                 \
    return ret;                                                                                  \
  }
FTRUNCATE_LIKE(ftruncate)
FTRUNCATE_LIKE(ftruncate64)

int close(int fd) {
  REAL(close);
  const int kind = recording ? kind_of(fd) : FD_NONE;
  int ret = real_close(fd);
  int err = errno;
  if (kind != FD_NONE) {
    lock_log();
    if (ret == 0) set_kind(fd, FD_NONE);
    begin_locked("close", ret, err);
    appendf_locked(" fd=%d", fd);
    end_locked();
    unlock_log();
  }
  errno = err;
  return ret;
}
