#include "sim/kvm/probe.h"

// uapi.h before the libc headers: <fcntl.h> defines FALLOC_FL_* as macros.
#include "model/uapi.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "sim/trace/constants.h"

namespace kvmsim::kvm {

using namespace uapi;

const std::vector<std::pair<u32, const char*>>& known_caps() {
  // Every KVM_CAP_* number the trace constants name (all of Linux 7.3's include/uapi/linux/kvm.h plus the
  // proposal's), once each under its first name, in number order: a probe asks the host all of them.
  static const std::vector<std::pair<u32, const char*>> caps = [] {
    std::map<u32, const char*> by_nr;
    for (const auto& c : trace::constants())
      if (std::string_view(c.name).starts_with("KVM_CAP_") && c.value <= 0xffffffffull)
        by_nr.emplace(static_cast<u32>(c.value), c.name);
    return std::vector<std::pair<u32, const char*>>(by_nr.begin(), by_nr.end());
  }();
  return caps;
}

namespace {

std::string first_line(const std::string& path, bool* ok) {
  std::ifstream f(path);
  std::string line;
  *ok = static_cast<bool>(std::getline(f, line));
  return line;
}

// "always [madvise] never" -> "madvise"
std::string bracketed(const std::string& s) {
  auto a = s.find('['), b = s.find(']');
  if (a == std::string::npos || b == std::string::npos || b < a) return s;
  return s.substr(a + 1, b - a - 1);
}

u64 check(int fd, u32 cap) {
  int r = ::ioctl(fd, KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : static_cast<u64>(r);
}

}  // namespace

HostProbe probe_host(std::string* error, const std::string& device) {
  HostProbe p;
  struct utsname u {};
  if (::uname(&u) == 0) p.release = u.release;
  for (const char* name : {"tdp_mmu", "nx_huge_pages", "eager_page_split"}) {
    bool ok = false;
    std::string v = first_line(std::string("/sys/module/kvm/parameters/") + name, &ok);
    if (ok) p.module_params[name] = v;
  }
  p.tdp_mmu = p.module_params.count("tdp_mmu") && p.module_params["tdp_mmu"] == "Y";
  bool ok = false;
  std::string thp = first_line("/sys/kernel/mm/transparent_hugepage/enabled", &ok);
  if (ok) p.thp_enabled = bracketed(thp);

  int kvm = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    if (error) *error = "cannot open " + device + ": " + std::strerror(errno);
    return p;
  }
  for (const auto& [nr, name] : known_caps()) p.caps[nr] = check(kvm, nr);
  p.vm_types = p.caps[KVM_CAP_VM_TYPES] ? p.caps[KVM_CAP_VM_TYPES] : 1u << KVM_X86_DEFAULT_VM;
  int vm = ::ioctl(kvm, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
  if (vm >= 0) {
    for (const auto& [nr, name] : known_caps()) p.vm_caps[nr] = check(vm, nr);
    ::close(vm);
  } else if (error) {
    *error = std::string("KVM_CREATE_VM: ") + std::strerror(errno);
  }
  ::close(kvm);
  return p;
}

ProfileMatch match_profile(const HostProbe& probe) {
  auto cap = [&](u32 nr) {
    auto it = probe.caps.find(nr);
    return it == probe.caps.end() ? 0 : it->second;
  };
  ProfileMatch best;
  size_t best_caps = ~size_t{0};
  bool have = false;
  for (const auto& prof : model::builtin_profiles()) {
    // The features that decide which semantics apply; each one that differs is named in the note.
    std::vector<std::string> off;
    auto feature = [&](bool profile_has, bool host_has, const char* what) {
      if (profile_has != host_has)
        off.push_back(std::string(what) + (host_has ? " (host has it, profile not)" : " (profile has it, host not)"));
    };
    if (probe.module_params.count("tdp_mmu")) feature(prof.tdp, probe.tdp_mmu, "TDP MMU");
    feature(prof.has_pre_fault, cap(KVM_CAP_PRE_FAULT_MEMORY) != 0, "KVM_PRE_FAULT_MEMORY");
    feature(prof.has_memory_attributes, cap(KVM_CAP_MEMORY_ATTRIBUTES) != 0, "memory attributes");
    if (prof.vm_types != probe.vm_types)
      off.push_back("VM types 0x" + std::to_string(probe.vm_types) + " on the host, " +
                    std::to_string(prof.vm_types) + " in the profile");
    feature(prof.has_region2, cap(KVM_CAP_USER_MEMORY2) != 0, "KVM_SET_USER_MEMORY_REGION2");
    feature(prof.has_guest_memfd, cap(KVM_CAP_GUEST_MEMFD) != 0, "guest_memfd");
    const size_t ncaps = cap_differences(probe, prof).size();
    if (!have || off.size() < best.mismatches.size() || (off.size() == best.mismatches.size() && ncaps < best_caps)) {
      best = ProfileMatch{prof.name, std::move(off), ncaps};
      best_caps = ncaps;
      have = true;
    }
  }
  if (!have) best.name = model::default_profile().name;
  return best;
}

std::string matching_profile(const HostProbe& probe) { return match_profile(probe).name; }

std::string ProfileMatch::note() const {
  if (mismatches.empty()) return "";
  std::string s = "no built-in profile matches this host; answering as " + name + ", the closest, which differs in ";
  for (std::size_t i = 0; i < mismatches.size(); i++) s += (i ? ", " : "") + mismatches[i];
  return s;
}

std::vector<std::string> cap_differences(const HostProbe& probe, const model::Profile& profile) {
  std::vector<std::string> out;
  auto compare = [&](const std::map<u32, u64>& answers, bool on_vm, const char* where) {
    for (const auto& [nr, name] : known_caps()) {
      auto it = answers.find(nr);
      if (it == answers.end()) continue;
      const u64 want = profile.cap(nr, on_vm, false);
      if (it->second != want)
        out.push_back(std::string(name) + "(" + std::to_string(nr) + ") on " + where + ": host " +
                      std::to_string(it->second) + ", profile " + profile.name + " " + std::to_string(want) +
                      (profile.host_dependent_caps.count(nr) ? " (host-dependent: the profile's value is its "
                                                               "measured host's, " + profile.caps_host + ")"
                                                             : ""));
    }
  };
  compare(probe.caps, false, "/dev/kvm");
  compare(probe.vm_caps, true, "default VM");
  return out;
}

}  // namespace kvmsim::kvm
