// `kvmsim import strace LOG`: strace output of a VMM to a v1 trace with the results strace saw.
// Accepts what strace prints by default (decoded KVM structs: KVM_SET_USER_MEMORY_REGION's fields,
// KVM_CHECK_EXTENSION's KVM_CAP_* names), `-X raw` (numbers only), `-f` (`[pid N] ` prefixes, and
// `<unfinished ...>` / `<... resumed>` pairs joined in the order the kernel returned them), `-ff -o`
// style leading pids, `-t`/`-tt` timestamps and `-y` fd annotations (`11<anon_inode:kvm-vcpu:0>`).
// Recommended: `strace -f -e trace=openat,ioctl,mmap,munmap,madvise,mprotect,memfd_create,fallocate,
// ftruncate,close -o LOG VMM ...` (docs/vmm-traces.md).
// fds become handles (`vm`, `vcpu0`, `memfd1`), addresses inside an mmap'd range become `memN+OFF`,
// KVM ioctls the model does not model become recorded-only `ioctl(...)` statements (their argument
// bytes are not in a log, so they carry the integer argument only), and every line that cannot be a
// statement (another syscall, an fd or address nobody mapped, a signal, a truncated or garbled line)
// becomes a comment naming its line number: an import never fails on its input.
// Invariant: the output parses (the importer checks it); same log -> byte-identical trace.
#pragma once

#include <string>

#include "sim/import/result.h"

namespace kvmsim::importer {

// `file` names the log in the header comment and in comments' line references.
ImportResult import_strace(const std::string& text, const std::string& file);

}  // namespace kvmsim::importer
