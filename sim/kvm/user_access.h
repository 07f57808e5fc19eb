// Fault-safe loads and stores of the VMM's own memory for the real backend (trace `poke`, `peek`,
// `touch` on memory the kernel may refuse: a guest_memfd page that is not shared, a file page beyond
// EOF). The access runs with SIGBUS and SIGSEGV handlers installed for its duration; a signal
// siglongjmps back and is reported as a result (Ret::signal(SIGBUS), or -1 EFAULT for SIGSEGV),
// never a crash. The previous handlers are restored afterwards (sanitizers install their own).
// Invariant: the caller only passes addresses of mappings the trace made (KvmBackend checks).
#pragma once

#include "model/types.h"

namespace kvmsim::kvm {

// Stores the little-endian u64 `value` at addr.
Ret guarded_store(u64 addr, u64 value);
// Loads the u64 at addr: ret = the value (as i64).
Ret guarded_load(u64 addr);
// One write fault that keeps the byte at addr (an atomic OR of 0).
Ret guarded_touch(u64 addr);

}  // namespace kvmsim::kvm
