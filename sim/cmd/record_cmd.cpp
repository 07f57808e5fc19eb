// `kvmsim record [-o FILE] [--profile P] [--raw LOG] [--note TEXT]... -- COMMAND [ARGS...]`: runs a dynamically
// linked VMM under the LD_PRELOAD recorder (sim/record/preload.c, libkvmsim_record.so next to this binary or
// $KVMSIM_RECORD_LIB), then turns its raw event log into a v1 trace (sim/import/rawlog.h).
// The command runs as it would without kvmsim: same arguments, environment plus LD_PRELOAD and two
// KVMSIM_RECORD_* variables, same stdin/stdout/stderr; its exit status is reported on stderr.
// Each process writes its own log (RAW, and RAW.PID for a forked child); the trace is the one process that
// made KVM ioctls (importer::choose_kvm_process).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <vector>

#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/import/rawlog.h"

namespace kvmsim {

namespace {

std::string recorder_library() {
  if (const char* env = std::getenv("KVMSIM_RECORD_LIB")) return env;
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string dir(self, static_cast<std::size_t>(n));
  return dir.substr(0, dir.rfind('/') + 1) + "libkvmsim_record.so";
}

// The logs of forked children: RAW.PID next to RAW, in pid order.
std::vector<std::string> child_logs(const std::string& raw) {
  namespace fs = std::filesystem;
  const fs::path p(raw);
  const std::string prefix = p.filename().string() + ".";
  std::vector<std::pair<long, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(p.parent_path().empty() ? "." : p.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
    found.emplace_back(std::stol(pid), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

}  // namespace

int run_record(const RecordArgs& args, std::ostream& out, std::ostream& err) {
  const std::string lib = recorder_library();
  if (lib.empty() || ::access(lib.c_str(), R_OK) != 0) {
    err << "record: the recorder library " << (lib.empty() ? "libkvmsim_record.so" : lib)
        << " is missing (build target kvmsim_record, or set KVMSIM_RECORD_LIB)\n";
    return kExitUsage;
  }
  std::string raw = args.raw;
  if (raw.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/kvmsim-record-XXXXXX";
    const int fd = ::mkstemp(templ.data());
    if (fd < 0) {
      err << "record: cannot create a temporary raw log in " << templ << "\n";
      return kExitUsage;
    }
    ::close(fd);
    raw = templ;
  } else {
    std::ofstream(raw, std::ios::trunc);  // the library appends
    for (const auto& old : child_logs(raw)) ::unlink(old.c_str());  // a previous run's children
  }
  const pid_t child = ::fork();
  if (child < 0) {
    err << "record: fork: " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  if (child == 0) {
    const char* old = std::getenv("LD_PRELOAD");
    const std::string preload = old && *old ? lib + ":" + old : lib;
    ::setenv("LD_PRELOAD", preload.c_str(), 1);
    ::setenv("KVMSIM_RECORD_LOG", raw.c_str(), 1);
    ::setenv("KVMSIM_RECORD_PID", std::to_string(::getpid()).c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : args.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "record: cannot run %s: %s\n", argv[0], std::strerror(errno));
    std::_Exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::vector<std::string> paths = {raw}, texts(1);
  for (auto& c : child_logs(raw)) paths.push_back(std::move(c));
  texts.resize(paths.size());
  bool have = true;
  for (std::size_t i = 0; i < paths.size(); i++) have = read_text_file(paths[i], &texts[i]) && have;
  if (args.raw.empty())
    for (const auto& p : paths) ::unlink(p.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && texts[0].empty()) return kExitUsage;  // exec failed
  if (!have) {
    err << "record: cannot read the raw logs " << raw << "[.PID]\n";
    return kExitUsage;
  }
  std::string cmdline;
  for (const auto& a : args.command) cmdline += (cmdline.empty() ? "" : " ") + a;
  importer::RawlogOptions opt;
  opt.file = "raw log";  // comments cite `raw log:LINE` (the log itself is kept only with --raw)
  opt.profile = args.profile;
  opt.header.push_back("recorded by kvmsim record: " + cmdline);
  for (const auto& n : args.notes) opt.header.push_back(n);
  std::vector<importer::RawlogResult> all;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < paths.size(); i++) {
    all.push_back(importer::convert_rawlog(texts[i], opt));
    names.push_back(i ? "forked process " + paths[i].substr(raw.size() + 1) : "the command's process");
  }
  const importer::ProcessChoice choice = importer::choose_kvm_process(all, names);
  if (!choice.error.empty()) {
    err << "record: " << choice.error << "\n";
    return kExitUsage;
  }
  if (choice.index > 0) {  // the header says whose calls these are; the comment lines cite that process's log
    const std::string pid = paths[choice.index].substr(raw.size() + 1);
    opt.header.push_back("KVM calls made by process " + pid + ", forked by the command (raw log ." + pid + ")");
    all[choice.index] = importer::convert_rawlog(texts[choice.index], opt);
  }
  const importer::RawlogResult& r = all[choice.index];
  if (!write_text_output(args.out, r.trace, out, err)) return kExitUsage;
  err << "record: " << args.command[0] << " "
      << (WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                            : "was killed by signal " + std::to_string(WTERMSIG(status)))
      << "; " << r.statements << " statements (" << r.kvm_ioctls << " KVM ioctls, " << r.memslot_ops
      << " memslot operations, " << r.kvm_runs << " KVM_RUN), " << r.comments << " comments\n";
  bool opened = false;
  for (const auto& l : all) opened = opened || l.opened_kvm;
  if (!opened) {
    err << "record: " << args.command[0] << " never opened /dev/kvm: the trace holds no KVM call\n";
    return kExitNothingRan;
  }
  return kExitOk;
}

}  // namespace kvmsim
