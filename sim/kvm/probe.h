// Host probe: what this machine's kernel and /dev/kvm answer, for choosing the profile the real
// backend answers as and for printing where the host differs from a profile. Reads uname, the
// kvm module parameters that change MMU behaviour, the THP policy, and KVM_CHECK_EXTENSION of
// every capability number (known_caps()), both on /dev/kvm and on a default VM.
// Invariant: probe_host() only reads; the VM it creates for VM-level answers is closed again.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/profiles/profile.h"
#include "model/types.h"

namespace kvmsim::kvm {

struct HostProbe {
  std::string release;                                // uname -r
  std::map<std::string, std::string> module_params;   // tdp_mmu, nx_huge_pages, eager_page_split (absent: unreadable)
  std::map<u32, u64> caps;                            // KVM_CHECK_EXTENSION on /dev/kvm
  std::map<u32, u64> vm_caps;                         // ... on a KVM_X86_DEFAULT_VM
  u64 vm_types = 0;                                   // KVM_CAP_VM_TYPES (1 = default VM only when absent)
  std::string thp_enabled;                            // the selected [policy] of transparent_hugepage/enabled
  bool tdp_mmu = false;                               // module_params["tdp_mmu"] == "Y"
};

// Every capability number the trace constants name (0..251 of Linux 7.3's kvm.h), with its name, by number.
const std::vector<std::pair<u32, const char*>>& known_caps();

// Probes the host; when `device` cannot be opened, fills what it can and sets *error.
HostProbe probe_host(std::string* error, const std::string& device = "/dev/kvm");

// The built-in profile a host answers as: the one whose semantic features (TDP MMU, pre-fault, memory
// attributes, VM types, REGION2, guest_memfd) match the probe, fewest cap differences first; ties go
// to the earlier profile. `mismatches` names every feature in which even the best one differs (an
// Intel EPT host, a kernel newer than every profile): the backend then answers as that fallback and
// says so (note()).
struct ProfileMatch {
  std::string name;
  std::vector<std::string> mismatches;
  std::size_t cap_differences = 0;
  std::string note() const;  // "" for an exact match
};
ProfileMatch match_profile(const HostProbe& probe);

// The built-in profile whose features (TDP MMU, pre-fault, memory attributes, VM types,
// REGION2, guest_memfd) match the probe best; ties go to the earlier profile. On this
// development machine: "linux-6.18-pvm".
std::string matching_profile(const HostProbe& probe);

// One line per capability where the probe's answer differs from profile.cap() (system and
// default-VM answers), e.g. "KVM_CAP_PRE_FAULT_MEMORY(236) on /dev/kvm: host 0, profile 1"; a cap in the
// profile's host_dependent_caps says so (the difference may be the host's, not the kernel's).
std::vector<std::string> cap_differences(const HostProbe& probe, const model::Profile& profile);

}  // namespace kvmsim::kvm
