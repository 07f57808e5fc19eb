// The nested TDP oracle as a kvmsim backend (docs/nested.md): one QEMU TCG boot of the pinned Debian 6.12
// kernel per call replays a batch of traces inside the guest against its real TDP MMU (`kvmsim replay
// --backend kvm --format json`), and the guest's per-trace ReplayReports come back to the host, where they
// can be shown as they are or paired with the model (diff_recorded in sim/differential.h).
// The boot itself is scripts/nested/run.sh, run as a subprocess: building an initramfs, unpacking
// packages and driving QEMU are shell work the script already does and tests on its own; this side only
// chooses the flavour and module parameters, and turns the script's JSON report back into reports.
// Invariants: a run either yields one result per requested trace, in request order, or ok=false with the
// reason and the guest console tail (a boot, module or report failure is never a skip); every report
// names the pinned package versions it ran on.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/profiles/profile.h"
#include "sim/json/json_value.h"
#include "sim/progress.h"
#include "sim/replay.h"

namespace kvmsim::nested {

// Profiles the oracle can boot as ("flavours" of the oracle, one boot each): linux-6.12, linux-6.12-swprot,
// linux-6.12-nx, linux-6.12-shadow, linux-6.12-no-eager-split.
const std::vector<std::string>& flavours();
bool is_flavour(const std::string& profile_name);
// The kernel flavour run.sh boots for a profile: "linux-6.12" (cloud image) or "linux-6.12-swprot"
// (generic image + rebuilt kvm); "" when the profile is not an oracle flavour.
std::string kernel_flavour(const std::string& profile_name);
// The insmod parameters that make the guest behave as `profile` says: kvm.ko's nx_huge_pages and
// eager_page_split ("nx_huge_pages=N eager_page_split=Y"), kvm-amd.ko's npt ("npt=1").
std::string kvm_module_params(const model::Profile& profile);
std::string kvm_amd_module_params(const model::Profile& profile);

struct RunOptions {
  std::string run_script;  // scripts/nested/run.sh; empty: $KVMSIM_NESTED_RUN, else the source tree's
  std::string build_dir;   // empty: the directory of the running kvmsim executable
  int timeout_s = 900;       // whole QEMU run
  int trace_timeout_s = 120;  // one trace inside the guest
  bool update = false;        // `replay --update` in the guest; run.sh writes the traces back
  ProgressFn progress;        // called about every 0.2 s while the guest runs (may be empty)
};

struct TraceRun {
  std::string file;       // host path, as requested
  int exit_code = -1;     // of the guest's kvmsim (143: killed by the per-trace timeout)
  double seconds = 0;     // in the guest, /proc/uptime resolution (10 ms)
  std::string stderr_text;
  std::optional<ReplayReport> report;  // backend "nested"; nullopt when the guest produced none
};

struct BootRun {
  std::string profile;  // = flavour
  bool ok = false;
  std::string failure;  // when !ok: why, with the script's diagnostics and the console tail
  std::string kernel_package, kernel_release, busybox, qemu, kvm_params, kvm_amd_params;
  std::vector<std::pair<std::string, std::string>> guest;  // module params, THP policy, hugetlb pools
  double boot_seconds = 0, insmod_seconds = 0, wall_seconds = 0;
  std::vector<TraceRun> traces;
  // Conformance mode (run_nested_conformance): one entry per case the guest ran, in its order:
  // {"id": "group/name", "exit": N, "report": <`kvmsim conformance --format json` output, or null>}.
  std::optional<JsonValue> conformance;
  int conformance_exit = -1;
  double conformance_seconds = 0;

  std::string versions() const;  // one line: kernel package, busybox, QEMU
  std::string json() const;      // without the per-trace reports (those go into the replay reports)
};

// Boots once as `profile` and replays `traces` (host paths) inside the guest.
BootRun run_nested_replay(const std::vector<std::string>& traces, const model::Profile& profile,
                          const RunOptions& options);

// Boots once as `profile` and runs the conformance cases in the guest, one `kvmsim conformance --backend kvm
// --format json --filter ID` per case (`args` selects them for --list, e.g. "--group prefault"; plain words
// only: the guest's shell splits it). ok=false when the boot fails or the guest reported no cases.
BootRun run_nested_conformance(const model::Profile& profile, const std::string& args, const RunOptions& options);

// Turns run.sh's report into `out` (files mapped back to `traces`, in order). False with *error when the
// report is malformed or does not cover every trace.
bool parse_boot_report(const std::string& json, const std::vector<std::string>& traces, BootRun* out,
                       std::string* error);

}  // namespace kvmsim::nested
