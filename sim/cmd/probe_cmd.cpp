// `kvmsim probe`: what this host's /dev/kvm answers, and the profile the kvm backend answers as.
#include <cstdio>
#include <map>

#include "model/profiles/profile.h"
#include "sim/cmd/commands.h"
#include "sim/json/json.h"
#include "sim/kvm/probe.h"

namespace kvmsim {

int run_probe(const ProbeArgs& args, std::ostream& out, std::ostream& err) {
  std::string error;
  kvm::HostProbe p = kvm::probe_host(&error, args.device);
  if (!error.empty()) {
    // The same one line as every subcommand whose backend cannot start; JSON keeps stdout a document.
    err << "kvmsim: backend kvm unavailable: " << error << "\n";
    if (args.format == "json")
      out << "{\"schema\": 1, \"unavailable\": {\"backend\": \"kvm\", \"reason\": " << json_quote(error) << "}}\n";
    return kExitNothingRan;
  }
  const kvm::ProfileMatch pm = kvm::match_profile(p);
  const std::string& match = pm.name;
  const model::Profile* profile = model::find_profile(match);
  std::vector<std::string> diffs;
  if (profile) diffs = kvm::cap_differences(p, *profile);
  auto json_str = [](const std::string& s) { return json_quote(s); };
  auto value_or_absent = [](const std::map<u32, u64>& m, u32 nr) {
    auto it = m.find(nr);
    return it == m.end() ? std::string("-") : std::to_string(it->second);
  };
  if (args.format == "json") {
    out << "{\"schema\": 1, \"release\": " << json_str(p.release) << ", \"module_params\": {";
    bool first = true;
    for (const auto& [k, v] : p.module_params) {
      out << (first ? "" : ", ") << json_str(k) << ": " << json_str(v);
      first = false;
    }
    out << "}, \"thp_enabled\": " << json_str(p.thp_enabled) << ", \"vm_types\": " << p.vm_types << ", \"caps\": [";
    first = true;
    for (const auto& [nr, name] : kvm::known_caps()) {
      out << (first ? "" : ", ") << "{\"cap\": " << json_str(name) << ", \"nr\": " << nr
          << ", \"system\": " << value_or_absent(p.caps, nr) << ", \"vm\": " << value_or_absent(p.vm_caps, nr) << "}";
      first = false;
    }
    out << "], \"matching_profile\": " << json_str(match) << ", \"exact_match\": " << (pm.mismatches.empty() ? "true" : "false")
        << ", \"fallback_note\": " << json_str(pm.note()) << ", \"cap_differences\": [";
    for (std::size_t i = 0; i < diffs.size(); i++) out << (i ? ", " : "") << json_str(diffs[i]);
    out << "]}\n";
  } else {
    out << "release          " << p.release << "\n";
    for (const auto& [k, v] : p.module_params) {
      std::string key = "kvm." + k;
      out << key << std::string(key.size() < 17 ? 17 - key.size() : 1, ' ') << v << "\n";
    }
    out << "thp enabled      " << p.thp_enabled << "\n";
    out << "vm types         0x" << std::hex << p.vm_types << std::dec << "\n";
    out << "capability                                nr      system          vm\n";
    for (const auto& [nr, name] : kvm::known_caps()) {
      char line[160];
      std::snprintf(line, sizeof line, "%-36s %7u %11s %11s\n", name, nr, value_or_absent(p.caps, nr).c_str(),
                    value_or_absent(p.vm_caps, nr).c_str());
      out << line;
    }
    out << "matching profile " << match << (pm.mismatches.empty() ? " (exact)" : " (closest)") << "\n";
    if (!pm.mismatches.empty()) out << "fallback         " << pm.note() << "\n";
    out << "cap differences  " << diffs.size() << "\n";
    for (const auto& d : diffs) out << "  " << d << "\n";
  }
  return kExitOk;
}

}  // namespace kvmsim
