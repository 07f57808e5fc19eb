// `kvmsim import syzkaller PROG`: a syzkaller program (its text format, prog/encoding.go upstream) to a
// v1 trace. The subset it reads is the KVM memory path of syzkaller's descriptions (sys/linux/dev_kvm*.txt):
// `openat$kvm` (the predefined `kvm`), `ioctl$KVM_*` (KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_CHECK_EXTENSION[_VM],
// KVM_SET_USER_MEMORY_REGION and KVM_PRE_FAULT_MEMORY from their struct literals, KVM_GET_DIRTY_LOG, every other
// KVM ioctl as a recorded-only `ioctl(...)` statement), `mmap` and `memfd_create`. Other calls become comments
// `# FILE:LINE: why: call`.
// Values: resources `rN` become handles (sim/import/handles.h: `vm`, `vcpu0`, `memfd1`); addresses become
// expressions of `data`, the part of the data area syzkaller's executor maps before the program runs, or of a
// mapping the program made (`mem1+0x1000`); `AUTO` is resolved where the description defines it (a `len` field,
// the ioctl number from the call's name) and otherwise makes the call a comment.
// Results: a syzkaller program asserts none, so no statement carries one (the trace header says so): replay
// records what the backend answered and `kvmsim replay --update` writes it in.
// Errors: a line that is not a syzkaller call (unbalanced braces or quotes, a truncated call, binary junk) is an
// ImportError `FILE:LINE:COL: message`, since a broken line may have defined a resource later calls use.
// Invariants: the output parses (checked); same program -> byte-identical trace; never a crash on any input.
#pragma once

#include <string>
#include <variant>

#include "sim/import/result.h"

namespace kvmsim::importer {

std::variant<ImportResult, ImportError> import_syzkaller(const std::string& text, const std::string& file = "prog");

}  // namespace kvmsim::importer
