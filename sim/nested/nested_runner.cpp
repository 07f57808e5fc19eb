#include "sim/nested/nested_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/json/json.h"
#include "sim/replay_json.h"

extern char** environ;

namespace kvmsim::nested {

namespace fs = std::filesystem;

// The flavours are the profiles that name an oracle kernel (Profile::oracle_kernel), in profile order.
const std::vector<std::string>& flavours() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& p : model::builtin_profiles())
      if (!p.oracle_kernel.empty()) n.push_back(p.name);
    return n;
  }();
  return names;
}

bool is_flavour(const std::string& profile_name) {
  const auto& f = flavours();
  return std::find(f.begin(), f.end(), profile_name) != f.end();
}

std::string kernel_flavour(const std::string& profile_name) {
  const model::Profile* p = model::find_profile(profile_name);
  return p ? p->oracle_kernel : "";
}

std::string kvm_module_params(const model::Profile& profile) {
  // nx_huge_pages takes "force" (cannot be turned off later) or a bool; the oracle's AMD vCPU defaults to N.
  // eager_page_split is kept Y on the shadow profile: the shadow MMU ignores it (the profile says false
  // because nothing splits there).
  bool eager = profile.eager_page_split || !profile.tdp;
  return std::string("nx_huge_pages=") + (profile.nx_huge_pages ? "force" : "N") +
         " eager_page_split=" + (eager ? "Y" : "N");
}

std::string kvm_amd_module_params(const model::Profile& profile) { return profile.tdp ? "npt=1" : "npt=0"; }

std::string BootRun::versions() const {
  return "kernel " + kernel_package + "; " + busybox + "; " + qemu;
}

std::string BootRun::json() const {
  char times[160];
  std::snprintf(times, sizeof times, "\"boot_seconds\":%.2f,\"insmod_seconds\":%.2f,\"wall_seconds\":%.2f",
                boot_seconds, insmod_seconds, wall_seconds);
  std::string out = "{\"profile\":" + json_quote(profile) + ",\"ok\":" + (ok ? "true" : "false") +
                    ",\"failure\":" + json_quote(failure) + ",\"kernel_package\":" + json_quote(kernel_package) +
                    ",\"kernel_release\":" + json_quote(kernel_release) + ",\"busybox\":" + json_quote(busybox) +
                    ",\"qemu\":" + json_quote(qemu) + ",\"kvm_params\":" + json_quote(kvm_params) +
                    ",\"kvm_amd_params\":" + json_quote(kvm_amd_params) + ",\"guest\":{";
  for (std::size_t i = 0; i < guest.size(); i++)
    out += (i ? "," : "") + json_quote(guest[i].first) + ":" + json_quote(guest[i].second);
  out += "}," + std::string(times) + ",\"traces\":[";
  for (std::size_t i = 0; i < traces.size(); i++) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f", traces[i].seconds);
    out += std::string(i ? "," : "") + "{\"file\":" + json_quote(traces[i].file) +
           ",\"exit\":" + std::to_string(traces[i].exit_code) + ",\"seconds\":" + secs + "}";
  }
  return out + "]}";
}

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail_lines(const std::string& s, int n) {
  std::size_t p = s.size();
  if (p && s[p - 1] == '\n') --p;
  while (p > 0 && n > 0) {
    p = s.rfind('\n', p - 1);
    if (p == std::string::npos) return s;
    --n;
  }
  return s.substr(p + (n == 0 ? 1 : 0));
}

std::string default_run_script() {
  if (const char* env = std::getenv("KVMSIM_NESTED_RUN"); env && *env) return env;
  return std::string(KVMSIM_SOURCE_DIR) + "/scripts/nested/run.sh";
}

std::string default_build_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("build") : exe.parent_path().string();
}

// Runs argv with stdout and stderr redirected to files; returns the exit status (-1: could not start).
// While it runs, `progress` hears `doing` about every 0.2 s (a boot takes minutes and prints nothing).
int spawn_to_files(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
                   const ProgressFn& progress, const std::string& doing, std::string* why) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    *why = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, progress ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    if (r == 0) {
      report_progress(progress, doing);
      ::usleep(200 * 1000);
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  *why = argv[0] + " killed by signal " + std::to_string(WTERMSIG(status));
  return -1;
}

}  // namespace

bool parse_boot_report(const std::string& json, const std::vector<std::string>& traces, BootRun* out,
                       std::string* error) {
  auto v = parse_json(json, error);
  if (!v) {
    *error = "nested report is not JSON (" + *error + ")";
    return false;
  }
  out->kernel_package = v->str("kernel_package");
  out->kernel_release = v->str("kernel_release");
  out->busybox = v->str("busybox");
  out->qemu = v->str("qemu");
  out->kvm_params = v->str("kvm_params");
  out->kvm_amd_params = v->str("kvm_amd_params");
  out->boot_seconds = v->num("boot_seconds");
  out->insmod_seconds = v->num("insmod_seconds");
  out->wall_seconds = v->num("wall_seconds");
  if (const JsonValue* g = v->get("guest"); g && g->kind == JsonValue::Kind::object)
    for (const auto& [k, val] : g->members) out->guest.emplace_back(k, val.text);
  if (const JsonValue* c = v->get("conformance"); c && c->kind == JsonValue::Kind::object) {
    out->conformance_exit = static_cast<int>(c->integer("exit", -1));
    out->conformance_seconds = c->num("seconds");
    if (const JsonValue* cases = c->get("cases"); cases && cases->kind == JsonValue::Kind::array)
      out->conformance = *cases;
  }
  const JsonValue* ts = v->get("traces");
  if (!ts || ts->kind != JsonValue::Kind::array || ts->items.size() != traces.size()) {
    *error = "nested report covers " + std::to_string(ts ? ts->items.size() : 0) + " traces, " +
             std::to_string(traces.size()) + " were requested";
    return false;
  }
  out->traces.clear();
  for (std::size_t i = 0; i < traces.size(); i++) {
    const JsonValue& t = ts->items[i];
    TraceRun tr;
    tr.file = traces[i];
    tr.exit_code = static_cast<int>(t.integer("exit", -1));
    tr.seconds = t.num("seconds");
    tr.stderr_text = t.str("stderr");
    // "replay" is the guest kvmsim's whole `replay --format json` output: one report per trace.
    if (const JsonValue* rep = t.get("replay"); rep && rep->kind == JsonValue::Kind::object) {
      const JsonValue* reports = rep->get("reports");
      if (reports && reports->kind == JsonValue::Kind::array && reports->items.size() == 1) {
        std::string why;
        tr.report = replay_report_from_json(reports->items[0], traces[i], &why);
        if (!tr.report) {
          *error = traces[i] + ": " + why;
          return false;
        }
        tr.report->backend = "nested";
      }
    }
    out->traces.push_back(std::move(tr));
  }
  out->ok = true;
  return true;
}

namespace {

// One run.sh invocation as `profile` with `extra` arguments before the traces.
BootRun boot(const std::vector<std::string>& traces, const model::Profile& profile,
             const std::vector<std::string>& extra, const RunOptions& options) {
  BootRun run;
  run.profile = profile.name;
  if (!is_flavour(profile.name)) {
    run.failure = "profile " + profile.name + " is not a nested oracle flavour";
    return run;
  }
  const std::string script = options.run_script.empty() ? default_run_script() : options.run_script;
  const std::string build = options.build_dir.empty() ? default_build_dir() : options.build_dir;
  std::error_code ec;
  fs::create_directories(fs::path(build) / "nested", ec);
  // Per profile and process: boots of one flavour as two profiles, or two kvmsim runs at once (ctest), must
  // not share files. They are removed after a clean run and kept for inspection otherwise.
  const std::string stem = profile.name + "-" + std::to_string(::getpid());
  const std::string out_path = (fs::path(build) / "nested" / (stem + "-report.json")).string();
  const std::string err_path = (fs::path(build) / "nested" / (stem + "-run.log")).string();
  std::vector<std::string> argv = {script, "--flavour", kernel_flavour(profile.name), "--profile", profile.name,
                                   "--build-dir", build, "--timeout", std::to_string(options.timeout_s),
                                   "--trace-timeout", std::to_string(options.trace_timeout_s),
                                   "--kvm-params", kvm_module_params(profile),
                                   "--kvm-amd-params", kvm_amd_module_params(profile)};
  if (options.update) argv.push_back("--update");
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(argv.end(), traces.begin(), traces.end());
  std::string why;
  const std::string what = traces.empty() ? std::string("conformance suite") : std::to_string(traces.size()) + " traces";
  int rc = spawn_to_files(argv, out_path, err_path, options.progress,
                          "nested " + profile.name + ": booting the guest, running " + what, &why);
  // run.sh: 0 all passed, 1 a trace failed in the guest (the report is complete), 2 usage, 3 boot/module/report.
  if (rc != 0 && rc != 1) {
    run.failure = (rc < 0 ? why : script + " exited " + std::to_string(rc)) + " (log " + err_path + ")\n" +
                  tail_lines(slurp(err_path), 60);
    return run;
  }
  if (!parse_boot_report(slurp(out_path), traces, &run, &why)) {
    run.failure = why + " (report " + out_path + ", log " + err_path + ")\n" + tail_lines(slurp(err_path), 40);
    run.ok = false;
    return run;
  }
  fs::remove(out_path, ec);
  fs::remove(err_path, ec);
  return run;
}

}  // namespace

BootRun run_nested_replay(const std::vector<std::string>& traces, const model::Profile& profile,
                          const RunOptions& options) {
  return boot(traces, profile, {}, options);
}

BootRun run_nested_conformance(const model::Profile& profile, const std::string& args, const RunOptions& options) {
  BootRun run = boot({}, profile, {"--conformance", args}, options);
  if (run.ok && !run.conformance) {
    run.ok = false;
    run.failure = "the guest reported no conformance cases";
  }
  return run;
}

}  // namespace kvmsim::nested
