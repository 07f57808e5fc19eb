// `kvmsim record [-o FILE] [--profile P] [--raw LOG] [--note TEXT]... -- COMMAND [ARGS...]`: runs a dynamically
// linked VMM under the LD_PRELOAD recorder (sim/record/preload.c, libkvmsim_record.so next to this binary or
// $KVMSIM_RECORD_LIB), then turns its raw event log into a v1 trace (sim/import/rawlog.h).
// The command runs as it would without kvmsim: same arguments, environment plus LD_PRELOAD and two
// KVMSIM_RECORD_* variables, same stdin/stdout/stderr; its exit status is reported on stderr.
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

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
  std::string text;
  const bool have = read_text_file(raw, &text);
  if (args.raw.empty()) ::unlink(raw.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && text.empty()) return kExitUsage;  // exec failed
  if (!have) {
    err << "record: cannot read the raw log " << raw << "\n";
    return kExitUsage;
  }
  std::string cmdline;
  for (const auto& a : args.command) cmdline += (cmdline.empty() ? "" : " ") + a;
  importer::RawlogOptions opt;
  opt.file = "raw log";  // comments cite `raw log:LINE` (the log itself is kept only with --raw)
  opt.profile = args.profile;
  opt.header.push_back("recorded by kvmsim record: " + cmdline);
  for (const auto& n : args.notes) opt.header.push_back(n);
  const importer::RawlogResult r = importer::convert_rawlog(text, opt);
  if (!write_text_output(args.out, r.trace, out, err)) return kExitUsage;
  err << "record: " << args.command[0] << " "
      << (WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                            : "was killed by signal " + std::to_string(WTERMSIG(status)))
      << "; " << r.statements << " statements (" << r.kvm_ioctls << " KVM ioctls, " << r.memslot_ops
      << " memslot operations, " << r.kvm_runs << " KVM_RUN), " << r.comments << " comments\n";
  if (!r.opened_kvm) {
    err << "record: " << args.command[0] << " never opened /dev/kvm: the trace holds no KVM call\n";
    return kExitNothingRan;
  }
  return kExitOk;
}

}  // namespace kvmsim
