// `kvmsim export --c`: a trace as a standalone C11 program in the style of a KVM selftest, for a
// kernel developer who is handed a divergence and wants it on their own host without kvmsim. The
// program includes only libc and kernel uAPI headers (it carries its own copies of the structs newer
// than the build host's headers), replays the statements on /dev/kvm, checks every expectation the
// trace writes and prints TAP (one test per statement). Exit status: 0 every check held, 1 a check
// failed, 4 (kselftest's KSFT_SKIP) with one line when /dev/kvm or a capability the trace relies on
// is missing.
// What a real kernel cannot show is a TAP skip with its reason, never a pass: guest accesses (they
// need guest code), `expect` (mapping levels, stats), `inject`, and the recorded-only ioctls that
// `kvm` replay does not issue either (KVM_RUN, arguments holding user pointers).
// Invariant: the output is a pure function of the trace (byte-identical for the same input).
#pragma once

#include <string>

#include "sim/trace/ast.h"

namespace kvmsim::exporter {

std::string export_c(const trace::Trace& trace);

}  // namespace kvmsim::exporter
