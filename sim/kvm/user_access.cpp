#include "sim/kvm/user_access.h"

#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <atomic>

namespace kvmsim::kvm {

namespace {

thread_local sigjmp_buf* t_jump = nullptr;
thread_local volatile int t_sig = 0;

void on_fault(int sig, siginfo_t*, void*) {
  if (t_jump) {
    t_sig = sig;
    siglongjmp(*t_jump, 1);
  }
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
  t_sig = 0;
  // sigsetjmp only in a condition: the contexts where its value is defined.
  if (sigsetjmp(jb, 1) == 0) {
    t_jump = &jb;
    // The access must not move above the line that arms the handler (measured: at -O2 it did).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    op();
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  const int sig = t_sig;
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
    // One 8-byte store; x86 allows it unaligned.
    *reinterpret_cast<volatile u64*>(addr) = value;
  }));
}

Ret guarded_load(u64 addr) {
  volatile u64 v = 0;
  const int sig = guarded([&] {
    v = *reinterpret_cast<const volatile u64*>(addr);
  });
  return outcome(sig, static_cast<i64>(v));
}

Ret guarded_touch(u64 addr) {
  // A locked OR of 0: a write access that changes nothing. Written as asm because clang drops an atomic
  // OR of 0 whose result is unused, even through a volatile pointer (so the page was never
  // write-faulted; found by the clang sanitizer build running UserAccess). The simulator is x86-only.
  return outcome(guarded([&] {
    asm volatile("lock orb $0, %0" : "+m"(*reinterpret_cast<u8*>(addr)) : : "memory");
  }));
}

}  // namespace kvmsim::kvm
