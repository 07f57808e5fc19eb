// The one backend seam. Every backend kind — the model, the model on the reference page tables, this
// host's /dev/kvm, the nested TDP oracle, any future remote host — is a `Backend`, and replay,
// conformance and fuzz talk to backends only through it. `--backend` is parsed once, here
// (parse_backend_spec), into the sides of a run; no subcommand compares backend names.
// Two ways to run, one interface:
//  * lock-step (model, model-ref, kvm): open() hands out a fresh KvmApi session, so two backends can
//    step one trace statement by statement (replay_pair) and conformance cases can drive one directly;
//  * batch (nested): a whole set of traces or cases runs at once somewhere else (one boot) and the
//    results come back as recorded reports (replay_batch, conformance_batch); open() is nullptr.
// A lock-step backend gets replay_batch for free (each trace on a fresh session).
// Profiles are resolved behind the seam: a real host answers as the profile that matches it
// (host_profile(), with a note when no built-in profile matches exactly); the others answer as the
// run asks, and may refuse a profile they cannot be (the nested oracle boots only its flavours).
// Invariants: unavailable() is the only "cannot run here" answer and is a single line; a backend that
// is available never turns "cannot start" into per-trace or per-case failures.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/vm/kvm_api.h"
#include "model/profiles/profile.h"
#include "sim/progress.h"
#include "sim/replay.h"
#include "sim/trace/ast.h"

namespace kvmsim {

struct BackendOptions {
  std::string kvm_device = "/dev/kvm";
  u64 max_host_mem = 2ull << 30;
  ProgressFn progress;  // long batches (nested boots) report here while they run (sim/progress.h); may be empty
};

struct BatchOptions {
  bool update = false;     // the backend writes its answers back into the trace files (replay --update)
  int item_timeout_s = 0;  // one trace inside the batch (0: the backend's default)
};

// One trace's outcome on a batch: its report, or why there is none (the backend's own failure).
struct BatchReplay {
  std::optional<ReplayReport> report;
  std::string failure;  // when !report: one line, e.g. "the guest's kvmsim exited 143 (per-trace timeout)"
  bool timed_out = false;  // the per-trace timeout ended it: the kernel never answered
};

// One conformance case as a batch backend ran it.
struct BatchCase {
  std::string id;      // group/name
  std::string status;  // PASSED, FAILED, SKIPPED
  std::string reason;
  std::vector<std::string> failures;
  std::vector<std::string> unobservable;  // checks it could not observe
};

// The result of a whole batch: ok=false when the batch itself failed (boot, module, report), with
// the reason; `summary` is one human line about where it ran (versions, timings), or empty.
struct BatchRun {
  bool ok = true;
  std::string failure;
  std::string summary;
  std::string json;  // the batch's own description for JSON reports ("" = none)
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const std::string& name() const = 0;
  // "" when it can run here; else one line naming why not ("cannot open /dev/kvm: No such file or
  // directory"). Checked once per run, before anything runs.
  virtual std::string unavailable() = 0;
  // The profile a real host answers as (nullptr: this backend answers as the run's profile).
  virtual const model::Profile* host_profile() { return nullptr; }
  // Why host_profile() is only the closest match ("" when it matches exactly, or there is no host).
  virtual std::string host_profile_note() { return ""; }
  // "" when it can answer as `profile`; else why not (the trace is skipped on it with that reason).
  virtual std::string refuses_profile(const model::Profile& profile) const {
    (void)profile;
    return "";
  }
  // It runs the kvm backend's guest agent against a real kernel (kvm here, or inside the nested
  // oracle's guest): the agent's known artifacts (sim/fuzz/known_open.h) apply to it.
  virtual bool runs_guest_agent() const { return false; }

  // ---- lock-step ----
  // A fresh session answering as `profile`; nullptr (and *error) for batch backends or on failure.
  virtual std::unique_ptr<KvmApi> open(const model::Profile& profile, std::string* error) {
    (void)profile;
    *error = "backend " + name() + " has no lock-step sessions";
    return nullptr;
  }
  bool lockstep() const { return lockstep_; }

  // ---- batch ----
  // Replays `traces` (all answering as `profile`), one result per trace, in order.
  virtual BatchRun replay_batch(const std::vector<const trace::Trace*>& traces, const model::Profile& profile,
                                const BatchOptions& options, std::vector<BatchReplay>* results);
  // Runs the selected conformance cases (`group`, `filter` as `kvmsim conformance` takes them); only
  // batch backends implement it (lock-step backends are driven case by case through open()).
  virtual BatchRun conformance_batch(const model::Profile& profile, const std::string& group,
                                     const std::string& filter, std::vector<BatchCase>* results);

 protected:
  explicit Backend(bool lockstep) : lockstep_(lockstep) {}

 private:
  bool lockstep_;
};

// ---- the registry: which kinds exist, and the spelling of --backend ----

struct BackendKind {
  const char* name;
  const char* help;  // one line for --help and docs
  bool lockstep;
  std::unique_ptr<Backend> (*make)(const BackendOptions& options);
};
const std::vector<BackendKind>& backend_kinds();
// "model, model-ref, kvm, nested" for messages.
std::string backend_kind_list();

// --backend parsed: the side names, in order ("both" = model,kvm). `max_sides` bounds them (2 for
// replay and fuzz; conformance takes a list).
struct BackendSpec {
  std::vector<std::string> sides;
  bool paired() const { return sides.size() == 2; }
};
// BackendSpec, or a one-line usage error.
std::variant<BackendSpec, std::string> parse_backend_spec(const std::string& text, std::size_t max_sides);

// Creates the backends of a spec (one object per side, created once per run).
std::vector<std::unique_ptr<Backend>> make_backends(const BackendSpec& spec, const BackendOptions& options);

// A fresh lock-step session of kind `name` (tests and benchmarks). nullptr + *error when the kind is
// unknown, batch-only or unavailable here.
std::unique_ptr<KvmApi> open_backend(const std::string& name, const model::Profile& profile,
                                     const BackendOptions& options, std::string* error);

// The profile every side of a run answers as, for one trace: `requested` (--profile) when given;
// else a real host's probed profile when a side has one (every side answers as it); else the trace's
// header, else the default. nullopt with *error for an unknown name.
struct SideProfiles {
  std::vector<const model::Profile*> profiles;  // one per side
};
std::optional<SideProfiles> resolve_profiles(const std::vector<std::unique_ptr<Backend>>& sides,
                                             const std::string& requested, const std::optional<std::string>& header,
                                             std::string* error);

}  // namespace kvmsim
