// `kvmsim record`'s converter: the raw event log written by the LD_PRELOAD library (sim/record/preload.c)
// to a v1 trace with the kernel's answers, built with the AST builders (sim/trace/build.h), printed with the
// one printer (sim/trace/printer.h), named with the handles shared with `import strace` (handles.h).
//
// The raw log is text, one event per line: `CALL tid=T ret=R errno=E key=value...` (numbers hex, fd/tid/
// errno decimal; `in=`/`out=` the bytes an ioctl argument spanned before/after the call), after a first
// line `kvmsim-rawlog 1 pid=P`. Calls: open (of /dev/kvm), ioctl (on KVM's fds), mmap, munmap, madvise,
// mprotect, memfd_create, fallocate, ftruncate, close, and `exit` when the VMM exited.
//
// What becomes a statement: every ioctl (the modelled ones as their statements; every other one as the
// recorded-only `ioctl(FD, NAME, arg=, bytes=)`, KVM_RUN included), memfd/guest_memfd file calls, and the
// host calls on memory KVM was given: an mmap is kept when a memslot points into it, or it is the
// reservation such a mapping was MAP_FIXED into, or it is MAP_FIXED into a kept one; munmap/madvise/
// mprotect inside a kept mapping. Other host calls are counted in a header comment, never silently lost.
// A line that cannot be read (a VMM killed mid-write) becomes a `# FILE:LINE: why` comment.
// Invariant: the output parses (checked); same log -> byte-identical trace.
#pragma once

#include <string>
#include <vector>

namespace kvmsim::importer {

struct RawlogOptions {
  std::string file;                      // names the log in comments
  std::vector<std::string> header;       // extra header comment lines (without `# `)
  std::string profile;                   // `profile` header; empty: none
};

struct RawlogResult {
  std::string trace;
  std::size_t statements = 0, comments = 0;
  std::size_t kvm_ioctls = 0, memslot_ops = 0, kvm_runs = 0;
  std::size_t host_calls_left_out = 0;   // mmap & co. on memory KVM never got
  bool opened_kvm = false;
};

RawlogResult convert_rawlog(const std::string& text, const RawlogOptions& options);

// A recorded command writes one raw log per process (the command's, then one per forked child; preload.c):
// the trace is the one process that made KVM ioctls. A process that only opened and closed /dev/kvm (a
// probe, as stress-ng's parent does) made none. No process with ioctls: the command's own log (index 0).
// More than one: `error` names them (a trace holds one process; their logs have no common order).
struct ProcessChoice {
  std::size_t index = 0;
  std::string error;
};
ProcessChoice choose_kvm_process(const std::vector<RawlogResult>& logs, const std::vector<std::string>& names);

}  // namespace kvmsim::importer
