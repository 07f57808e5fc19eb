#include "sim/kvm/user_access.h"

#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstring>

namespace kvmsim::kvm {

namespace {

thread_local sigjmp_buf* t_jump = nullptr;

void on_fault(int sig, siginfo_t*, void*) {
  if (t_jump) siglongjmp(*t_jump, sig);
  // Not ours: back to the default action, which re-raises on return.
  signal(sig, SIG_DFL);
}

// Runs `op` with SIGBUS/SIGSEGV caught; the signal number, or 0.
template <class Op>
int guarded(Op op) {
  struct sigaction sa {}, old_bus{}, old_segv{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigjmp_buf jb;
  volatile int sig = sigsetjmp(jb, 1);
  if (sig == 0) {
    t_jump = &jb;
    op();
  }
  t_jump = nullptr;
  sigaction(SIGBUS, &old_bus, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  return sig;
}

Ret outcome(int sig, i64 value = 0) {
  if (sig == SIGBUS) return Ret::signal(SIGBUS);
  if (sig == SIGSEGV) return Ret::fail(EFAULT);
  return Ret::ok(value);
}

}  // namespace

Ret guarded_store(u64 addr, u64 value) {
  return outcome(guarded([&] {
    // A plain 8-byte store (memcpy: addr may be unaligned).
    std::memcpy(reinterpret_cast<void*>(addr), &value, sizeof value);
    asm volatile("" ::: "memory");
  }));
}

Ret guarded_load(u64 addr) {
  volatile u64 v = 0;
  const int sig = guarded([&] {
    u64 tmp;
    std::memcpy(&tmp, reinterpret_cast<const void*>(addr), sizeof tmp);
    v = tmp;
  });
  return outcome(sig, static_cast<i64>(v));
}

Ret guarded_touch(u64 addr) {
  return outcome(guarded([&] { __atomic_fetch_or(reinterpret_cast<u8*>(addr), static_cast<u8>(0), __ATOMIC_RELAXED); }));
}

}  // namespace kvmsim::kvm
