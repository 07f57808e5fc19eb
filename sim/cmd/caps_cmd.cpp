// `kvmsim caps` and `kvmsim profiles`: what a profile answers, and which profiles exist.
#include <cstdio>

#include "model/profiles/profile.h"
#include "model/uapi.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/json/json.h"
#include "sim/trace/constants.h"

namespace kvmsim {

namespace {

// 236 is KVM_CAP_PRE_FAULT_MEMORY upstream and KVM_CAP_MAP_MEMORY in the RFC that came first: the
// profile's uAPI surface says which name it answers to.
std::string cap_name(u32 nr, const model::Profile& p) {
  if (nr == uapi::KVM_CAP_MAP_MEMORY && p.has_map_memory) return "KVM_CAP_MAP_MEMORY";
  if (p.gmem_conversion.enabled && nr == p.gmem_conversion.cap_nr) return "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES";
  for (const auto& c : trace::constants())
    if (std::string_view(c.name).starts_with("KVM_CAP_") && c.value == nr) return c.name;
  return "cap " + std::to_string(nr);
}

}  // namespace

int run_caps(const CapsArgs& args, std::ostream& out, std::ostream& err) {
  const std::string name = args.profile.empty() ? model::default_profile().name : args.profile;
  const model::Profile* p = model::find_profile(name);
  if (!p) {
    const std::string message = "unknown profile '" + name + "' (known: " + known_profile_names() + ")";
    err << "kvmsim: " << message << "\n";
    if (args.format == "json") out << error_document("", 0, 0, message);
    return kExitUsage;
  }
  // One row per capability the profile answers non-zero anywhere: system fd, shared VM, private VM.
  if (args.format == "json") {
    out << "{\"schema\": 1, \"profile\": \"" << p->name << "\", \"caps\": [";
    bool first = true;
    for (const auto& [nr, a] : p->caps) {
      out << (first ? "" : ", ") << "{\"cap\": \"" << cap_name(nr, *p) << "\", \"nr\": " << nr
          << ", \"system\": " << a.system << ", \"vm\": " << a.vm_shared << ", \"private_vm\": " << a.vm_private
          << ", \"host_dependent\": " << (p->host_dependent_caps.count(nr) ? "true" : "false") << "}";
      first = false;
    }
    out << "], \"caps_host\": " << json_quote(p->caps_host) << "}\n";
    return kExitOk;
  }
  out << "profile " << p->name << ": " << p->description << "\n";
  if (!p->caps_host.empty()) out << "measured on " << p->caps_host << " (host-dependent caps marked *)\n";
  out << "capability                                nr      system        vm  private-vm\n";
  for (const auto& [nr, a] : p->caps) {
    char line[160];
    std::snprintf(line, sizeof line, "%-36s %7u %11llu %9llu %11llu%s\n", cap_name(nr, *p).c_str(), nr,
                  static_cast<unsigned long long>(a.system), static_cast<unsigned long long>(a.vm_shared),
                  static_cast<unsigned long long>(a.vm_private), p->host_dependent_caps.count(nr) ? " *" : "");
    out << line;
  }
  return kExitOk;
}

int run_profiles_json(std::ostream& out) {
  out << "{\"schema\": 1, \"profiles\": [";
  bool first = true;
  for (const auto& p : model::builtin_profiles()) {
    out << (first ? "" : ", ") << "{\"name\": " << json_quote(p.name) << ", \"description\": " << json_quote(p.description)
        << ", \"thp\": " << json_quote(model::thp_policy_name(p.thp))
        << ", \"shmem_thp\": " << json_quote(model::shmem_thp_policy_name(p.shmem_thp));
    if (!p.source.empty()) out << ", \"source\": " << json_quote(p.source);
    out << "}";
    first = false;
  }
  out << "]}\n";
  return kExitOk;
}

int run_profiles(std::ostream& out) {
  for (const auto& p : model::builtin_profiles()) {
    out << p.name << "\t" << p.description;
    if (!p.source.empty()) out << " [source: " << p.source << "]";
    out << "\n";
  }
  return kExitOk;
}

}  // namespace kvmsim
