#include "sim/cli.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <sstream>

#include "model/explain.h"
#include "model/kvm.h"
#include "model/profile.h"
#include "model/uapi.h"
#include "sim/backends.h"
#include "sim/differential.h"
#include "sim/json.h"
#include "sim/kvm/probe.h"
#include "sim/nested/nested_replay.h"
#include "sim/replay.h"
#include "sim/trace/constants.h"
#include "sim/trace/eval.h"
#include "sim/trace/parser.h"

namespace kvmsim {

namespace fs = std::filesystem;

bool expand_trace_paths(const std::vector<std::string>& paths, std::vector<std::string>* files,
                        std::string* error) {
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".trace") found.push_back(it->path().string());
      }
      // Directory iteration order is unspecified: sort so reports are deterministic.
      std::sort(found.begin(), found.end());
      files->insert(files->end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      files->push_back(p);
    } else {
      *error = p + ": no such file or directory";
      return false;
    }
  }
  return true;
}

namespace {

bool read_file(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return true;
}

// Line number of the first line starting with `word` (the trace header directives), or 1.
int directive_line(const std::string& source, const std::string& word) {
  std::istringstream in(source);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.rfind(word, 0) == 0) return n;
  return 1;
}

std::string cap_name(u32 nr) {
  for (const auto& c : trace::constants())
    if (std::string_view(c.name).starts_with("KVM_CAP_") && c.value == nr) return c.name;
  return "cap " + std::to_string(nr);
}

std::string known_profiles() {
  std::string s;
  for (const auto& p : model::builtin_profiles()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

// The profile a single-backend run of `t` uses: --profile, else the trace's `profile` header, else
// the default. Unknown names are reported with FILE:LINE of the header (or as a usage error).
const model::Profile* resolve_profile(const std::string& requested, const trace::Trace& t, std::ostream& err) {
  const std::string name = requested.empty() ? t.profile.value_or(model::default_profile().name) : requested;
  if (const model::Profile* p = model::find_profile(name)) return p;
  if (requested.empty())
    err << t.file << ":" << directive_line(t.source, "profile") << ": ";
  else
    err << "kvmsim: ";
  err << "unknown profile '" << name << "' (known: " << known_profiles() << ")\n";
  return nullptr;
}

// Outcome of one trace file, folded into the process exit code.
enum class FileStatus { passed, mismatched, malformed, skipped };

// The two backend names of a paired run (`A,B` or `both`), or nullopt for a single backend.
std::optional<std::pair<std::string, std::string>> backend_pair(const std::string& spec) {
  if (spec == "both") return std::make_pair(std::string("model"), std::string("kvm"));
  auto comma = spec.find(',');
  if (comma == std::string::npos) return std::nullopt;
  return std::make_pair(spec.substr(0, comma), spec.substr(comma + 1));
}

// The profile this host's /dev/kvm answers as, probed once per run ("" with *why set when the
// device cannot be opened).
struct HostProfile {
  bool probed = false;
  std::string name;
  std::string why;
};

const std::string& host_profile(HostProfile* h) {
  if (!h->probed) {
    h->probed = true;
    std::string error;
    kvm::HostProbe p = kvm::probe_host(&error);
    if (error.empty()) h->name = kvm::matching_profile(p);
    else h->why = error;
  }
  return h->name;
}

FileStatus replay_pair_one(const std::string& file, const trace::Trace& t, const ReplayArgs& args,
                           const std::pair<std::string, std::string>& names, HostProfile* host, std::ostream& out,
                           std::ostream& err, std::vector<std::string>* json_reports) {
  bool uses_kvm = names.first == "kvm" || names.second == "kvm";
  // The model side answers as --profile, else as the host (when paired with kvm), else as the trace says.
  std::string model_profile = args.profile;
  if (uses_kvm && host_profile(host).empty()) {
    out << "SKIP " << file << ": backend kvm unavailable: " << host->why << "\n";
    return args.require_kvm ? FileStatus::mismatched : FileStatus::skipped;
  }
  if (model_profile.empty()) model_profile = uses_kvm ? host->name : t.profile.value_or(model::default_profile().name);
  std::unique_ptr<KvmApi> backends[2];
  const std::string* side_names[2] = {&names.first, &names.second};
  for (int i = 0; i < 2; i++) {
    const std::string& pname = *side_names[i] == "kvm" ? host->name : model_profile;
    const model::Profile* profile = model::find_profile(pname);
    if (!profile) {
      err << "kvmsim: unknown profile '" << pname << "' (known: " << known_profiles() << ")\n";
      return FileStatus::malformed;
    }
    BackendOptions options;
    options.max_host_mem = args.max_host_mem;
    std::string why;
    backends[i] = make_backend(*side_names[i], *profile, options, &why);
    if (!backends[i]) {
      if (*side_names[i] != "kvm") {
        err << "kvmsim: " << why << "\n";
        return FileStatus::malformed;
      }
      out << "SKIP " << file << ": backend kvm unavailable: " << why << "\n";
      return args.require_kvm ? FileStatus::mismatched : FileStatus::skipped;
    }
  }
  DiffReport d = replay_pair(t, *backends[0], *backends[1]);
  if (args.format == "json") json_reports->push_back(d.json());
  else out << d.text(args.divergences_only);
  const bool pass = args.divergences_only ? d.divergences == 0 : d.ok();
  return pass ? FileStatus::passed : FileStatus::mismatched;
}

FileStatus replay_one(const std::string& file, const ReplayArgs& args, HostProfile* host, std::ostream& out,
                      std::ostream& err, std::vector<std::string>* json_reports) {
  std::string text;
  if (!read_file(file, &text)) {
    err << file << ": cannot read file\n";
    return FileStatus::malformed;
  }
  auto parsed = trace::parse(text, file);
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
    err << e->str() << "\n";
    return FileStatus::malformed;
  }
  const auto& t = std::get<trace::Trace>(parsed);
  if (auto names = backend_pair(args.backend)) return replay_pair_one(file, t, args, *names, host, out, err, json_reports);

  const model::Profile* profile = resolve_profile(args.profile, t, err);
  if (!profile) return FileStatus::malformed;

  BackendOptions options;
  options.max_host_mem = args.max_host_mem;
  std::string why;
  auto backend = make_backend(args.backend, *profile, options, &why);
  if (!backend) {
    out << "SKIP " << file << ": backend " << args.backend << " unavailable: " << why << "\n";
    return args.require_kvm ? FileStatus::mismatched : FileStatus::skipped;
  }

  ReplayOptions ropts;
  ropts.update = args.update;
  ReplayReport report = replay(t, *backend, ropts);

  if (args.format == "json") {
    json_reports->push_back(report.json());
  } else {
    out << (report.ok() ? "PASS " : "FAIL ") << file << " [" << backend->backend_name() << "/" << profile->name
        << "] " << report.counts.statements << " statements, " << report.counts.checked << " checked";
    if (report.counts.mismatched) out << ", " << report.counts.mismatched << " mismatched";
    if (report.counts.not_run) out << ", " << report.counts.not_run << " not run";
    if (report.counts.unobservable) out << ", " << report.counts.unobservable << " unobservable";
    out << "\n";
    for (const auto& r : report.results) {
      bool problem = r.status == StepStatus::mismatch || r.status == StepStatus::not_run ||
                     r.status == StepStatus::unobservable;
      if (problem) out << "  " << r.message << "\n";
      else if (args.verbose) out << "  " << file << ":" << r.line << ": " << step_status_name(r.status) << ": " << r.actual << "\n";
    }
  }
  if (args.update && report.updated_text != text) {
    std::ofstream o(file, std::ios::binary | std::ios::trunc);
    o << report.updated_text;
    if (!o) {
      err << file << ": cannot write updated trace\n";
      return FileStatus::malformed;
    }
  }
  return report.ok() ? FileStatus::passed : FileStatus::mismatched;
}

}  // namespace

// What --backend accepts, for usage errors.
constexpr const char* kKnownBackendSpecs = "model, model-ref, kvm, nested, A,B, both";

int run_replay(const ReplayArgs& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> files;
  std::string error;
  if (!expand_trace_paths(args.files, &files, &error)) {
    err << "kvmsim: " << error << "\n";
    return kExitUsage;
  }
  // The nested oracle boots once per flavour for all traces, so it cannot go through the per-file loop.
  if (nested::uses_nested(args.backend)) {
    if (files.empty()) {
      err << "kvmsim: no *.trace files found\n";
      return kExitNothingRan;
    }
    return nested::run_nested_replay_command(args, files, out, err);
  }
  const auto& known = backend_names();
  if (!backend_pair(args.backend) && std::find(known.begin(), known.end(), args.backend) == known.end()) {
    err << "kvmsim: unknown backend '" << args.backend << "' (known: " << kKnownBackendSpecs << ")\n";
    return kExitUsage;
  }
  if (files.empty()) {
    err << "kvmsim: no *.trace files found\n";
    return kExitNothingRan;
  }
  if (args.divergences_only && !backend_pair(args.backend)) {
    err << "kvmsim: --divergences-only needs a backend pair (A,B or both)\n";
    return kExitUsage;
  }
  if (auto names = backend_pair(args.backend)) {
    if (args.update) {
      err << "kvmsim: --update needs a single backend\n";
      return kExitUsage;
    }
    for (const auto* n : {&names->first, &names->second}) {
      if (std::find(backend_names().begin(), backend_names().end(), *n) == backend_names().end()) {
        err << "kvmsim: unknown backend '" << *n << "' (known: " << kKnownBackendSpecs << ")\n";
        return kExitUsage;
      }
    }
  }
  int passed = 0, mismatched = 0, malformed = 0, skipped = 0;
  std::vector<std::string> json_reports;
  HostProfile host;
  for (const auto& f : files) {
    switch (replay_one(f, args, &host, out, err, &json_reports)) {
      case FileStatus::passed: ++passed; break;
      case FileStatus::mismatched: ++mismatched; break;
      case FileStatus::malformed: ++malformed; break;
      case FileStatus::skipped: ++skipped; break;
    }
  }
  if (args.format == "json") {
    out << "{\"schema\": 1, \"reports\": [";
    for (size_t i = 0; i < json_reports.size(); ++i) out << (i ? ", " : "") << json_reports[i];
    out << "], \"passed\": " << passed << ", \"failed\": " << mismatched << ", \"malformed\": " << malformed
        << ", \"skipped\": " << skipped << "}\n";
  } else {
    out << "replay: " << passed << " passed, " << mismatched << " failed, " << malformed << " malformed, "
        << skipped << " skipped\n";
  }
  if (malformed) return kExitUsage;
  if (mismatched) return kExitMismatch;
  if (passed == 0) return kExitNothingRan;
  return kExitOk;
}

namespace {

// Parses a GPA written in trace syntax (`3G+2M`) with the trace grammar itself.
std::optional<u64> parse_gpa(const std::string& text, std::string* error) {
  auto parsed = trace::parse("kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nexpect mapping(vm, " + text + ")\n", "--gpa");
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
    *error = "--gpa '" + text + "': " + e->message;
    return std::nullopt;
  }
  const auto& st = std::get<trace::Trace>(parsed).statements.back();
  auto v = trace::evaluate(st.args.at(1).expr);
  if (v.overflow) {
    *error = "--gpa '" + text + "': out of range";
    return std::nullopt;
  }
  return v.value;
}

}  // namespace

int run_explain(const ExplainArgs& args, std::ostream& out, std::ostream& err) {
  std::string text, error;
  if (!read_file(args.file, &text)) {
    err << args.file << ": cannot read file\n";
    return kExitUsage;
  }
  auto gpa = parse_gpa(args.gpa, &error);
  if (!gpa) {
    err << "kvmsim: " << error << "\n";
    return kExitUsage;
  }
  auto parsed = trace::parse(text, args.file);
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
    err << e->str() << "\n";
    return kExitUsage;
  }
  const auto& t = std::get<trace::Trace>(parsed);
  const model::Profile* profile = resolve_profile(args.profile, t, err);
  if (!profile) return kExitUsage;
  model::Kvm kvm(*profile);
  Replayer replayer(t, kvm, ReplayOptions{});
  std::string vm_name = args.vm;
  for (const auto& st : t.statements) {
    if (args.at_line && st.line > args.at_line) break;
    if (args.vm.empty() && st.callee == "KVM_CREATE_VM" && st.bind) vm_name = *st.bind;
    replayer.step();
  }
  if (vm_name.empty()) {
    err << args.file << ": no VM was created" << (args.at_line ? " up to line " + std::to_string(args.at_line) : "")
        << "\n";
    return kExitUsage;
  }
  auto fd = replayer.handle(vm_name);
  if (!fd) {
    err << args.file << ": VM handle '" << vm_name << "' is not bound (or its creation failed)\n";
    return kExitUsage;
  }
  out << args.file << (args.at_line ? ":" + std::to_string(args.at_line) : std::string()) << ": vm " << vm_name
      << ", profile " << profile->name << "\n";
  out << model::explain(kvm, static_cast<int>(*fd), *gpa);
  return kExitOk;
}

int run_caps(const CapsArgs& args, std::ostream& out, std::ostream& err) {
  const model::Profile* p = model::find_profile(args.profile);
  if (!p) {
    err << "kvmsim: unknown profile '" << args.profile << "' (known: " << known_profiles() << ")\n";
    return kExitUsage;
  }
  // One row per capability the profile answers non-zero anywhere: system fd, shared VM, private VM.
  if (args.format == "json") {
    out << "{\"schema\": 1, \"profile\": \"" << p->name << "\", \"caps\": [";
    bool first = true;
    for (const auto& [nr, a] : p->caps) {
      out << (first ? "" : ", ") << "{\"cap\": \"" << cap_name(nr) << "\", \"nr\": " << nr
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
    std::snprintf(line, sizeof line, "%-36s %7u %11llu %9llu %11llu%s\n", cap_name(nr).c_str(), nr,
                  static_cast<unsigned long long>(a.system), static_cast<unsigned long long>(a.vm_shared),
                  static_cast<unsigned long long>(a.vm_private), p->host_dependent_caps.count(nr) ? " *" : "");
    out << line;
  }
  return kExitOk;
}

int run_profiles(std::ostream& out) {
  for (const auto& p : model::builtin_profiles()) out << p.name << "\t" << p.description << "\n";
  return kExitOk;
}

int run_probe(const ProbeArgs& args, std::ostream& out, std::ostream& err) {
  std::string error;
  kvm::HostProbe p = kvm::probe_host(&error, args.device);
  if (!error.empty()) {
    err << "kvmsim: probe: " << error << "\n";
    return kExitNothingRan;
  }
  std::string match = kvm::matching_profile(p);
  const model::Profile* profile = model::find_profile(match);
  std::vector<std::string> diffs;
  if (profile) diffs = kvm::cap_differences(p, *profile);
  auto json_str = [](const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') o += '\\';
      o += c;
    }
    return o + "\"";
  };
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
    out << "], \"matching_profile\": " << json_str(match) << ", \"cap_differences\": [";
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
    out << "matching profile " << match << "\n";
    out << "cap differences  " << diffs.size() << "\n";
    for (const auto& d : diffs) out << "  " << d << "\n";
  }
  return kExitOk;
}

}  // namespace kvmsim
