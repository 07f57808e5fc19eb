#include "sim/cli.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/explain.h"
#include "model/kvm.h"
#include "model/profile.h"
#include "model/uapi.h"
#include "sim/backends.h"
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

// Outcome of one trace file, folded into the process exit code.
enum class FileStatus { passed, mismatched, malformed, skipped };

FileStatus replay_one(const std::string& file, const ReplayArgs& args, std::ostream& out, std::ostream& err,
                      std::vector<std::string>* json_reports) {
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

  std::string profile_name = args.profile;
  if (profile_name.empty()) profile_name = t.profile.value_or(model::default_profile().name);
  const model::Profile* profile = model::find_profile(profile_name);
  if (!profile) {
    if (args.profile.empty())
      err << file << ":" << directive_line(t.source, "profile") << ": unknown profile '" << profile_name << "' (known: " << known_profiles()
          << ")\n";
    else
      err << "kvmsim: unknown profile '" << profile_name << "' (known: " << known_profiles() << ")\n";
    return FileStatus::malformed;
  }

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

int run_replay(const ReplayArgs& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> files;
  std::string error;
  if (!expand_trace_paths(args.files, &files, &error)) {
    err << "kvmsim: " << error << "\n";
    return kExitUsage;
  }
  const auto& names = backend_names();
  if (std::find(names.begin(), names.end(), args.backend) == names.end()) {
    err << "kvmsim: unknown backend '" << args.backend << "'\n";
    return kExitUsage;
  }
  if (files.empty()) {
    err << "kvmsim: no *.trace files found\n";
    return kExitNothingRan;
  }
  int passed = 0, mismatched = 0, malformed = 0, skipped = 0;
  std::vector<std::string> json_reports;
  for (const auto& f : files) {
    switch (replay_one(f, args, out, err, &json_reports)) {
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
  std::string profile_name = args.profile.empty() ? t.profile.value_or(model::default_profile().name) : args.profile;
  const model::Profile* profile = model::find_profile(profile_name);
  if (!profile) {
    err << args.file << ": unknown profile '" << profile_name << "' (known: " << known_profiles() << ")\n";
    return kExitUsage;
  }
  model::Kvm kvm(*profile);
  Replayer replayer(t, kvm, ReplayOptions{});
  std::string vm_name = args.vm;
  while (!replayer.done() && (args.at_line == 0 || replayer.next_line() <= args.at_line)) {
    const auto& st = t.statements[replayer.report().results.size()];
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
          << "}";
      first = false;
    }
    out << "]}\n";
    return kExitOk;
  }
  out << "profile " << p->name << ": " << p->description << "\n";
  out << "capability                                nr      system        vm  private-vm\n";
  for (const auto& [nr, a] : p->caps) {
    char line[160];
    std::snprintf(line, sizeof line, "%-36s %7u %11llu %9llu %11llu\n", cap_name(nr).c_str(), nr,
                  static_cast<unsigned long long>(a.system), static_cast<unsigned long long>(a.vm_shared),
                  static_cast<unsigned long long>(a.vm_private));
    out << line;
  }
  return kExitOk;
}

int run_profiles(std::ostream& out) {
  for (const auto& p : model::builtin_profiles()) out << p.name << "\t" << p.description << "\n";
  return kExitOk;
}

}  // namespace kvmsim
