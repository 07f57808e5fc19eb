// KVM ioctl request numbers by name, for the recorded-only statement `ioctl(FD, REQUEST, ...)`
// (traces/FORMAT.md "Recorded-only ioctls"): every x86 KVM ioctl of include/uapi/linux/kvm.h, so a
// recording, an strace import and an exported C program all spell a request the same way.
// Invariant: a name maps to one number; a number to its first name (the table's order).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sim/trace/constants.h"

namespace kvmsim::trace {

const std::vector<Constant>& kvm_ioctl_requests();
std::optional<u64> ioctl_request_value(std::string_view name);
const char* ioctl_request_name(u64 request);  // nullptr if unknown

// Whether a recorded ioctl can be put to a kernel again from its trace statement: not KVM_RUN (it runs a
// guest whose memory contents the trace does not hold), nor the ioctls whose argument carries user pointers
// into the recording process (kvm_one_reg.addr, kvm_device_attr.addr, the MSR filter's bitmaps, SEV/TDX
// command buffers, Xen's shared_info hva): the kernel would read or write through them.
bool ioctl_replayable(u64 request);

// _IOC_SIZE / _IOC_DIR of a request (asm-generic/ioctl.h): the argument size it declares, and whether
// the kernel reads (write) / writes back (read) the argument.
inline u64 ioctl_size(u64 request) { return (request >> 16) & 0x3fff; }
inline bool ioctl_writes_arg(u64 request) { return (request >> 30) & 2; }   // _IOC_READ
inline bool ioctl_reads_arg(u64 request) { return (request >> 30) & 1; }    // _IOC_WRITE

}  // namespace kvmsim::trace
