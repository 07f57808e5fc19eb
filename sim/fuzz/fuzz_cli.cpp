// `kvmsim fuzz`: option handling around fuzz::run_campaign (campaign.h).
#include <cstdio>
#include <fstream>
#include <random>

#include "model/profiles/profile.h"
#include "sim/cli.h"
#include "sim/fuzz/campaign.h"
#include "sim/fuzz/nested_campaign.h"
#include "sim/nested/nested_runner.h"
#include "sim/kvm/probe.h"

namespace kvmsim {

int run_fuzz(const FuzzArgs& args, std::ostream& out, std::ostream& err) {
  auto comma = args.backend.find(',');
  if (comma == std::string::npos) {
    err << "kvmsim fuzz: --backend needs a pair A,B (e.g. model,kvm)\n";
    return kExitUsage;
  }
  fuzz::CampaignOptions o;
  o.backend_a = args.backend.substr(0, comma);
  o.backend_b = args.backend.substr(comma + 1);
  const bool uses_kvm = o.backend_a == "kvm" || o.backend_b == "kvm";
  const bool uses_nested = o.backend_a == "nested" || o.backend_b == "nested";
  if (uses_nested && (o.backend_a != "model" || o.backend_b != "nested")) {
    err << "kvmsim fuzz: the nested oracle pairs only as model,nested\n";
    return kExitUsage;
  }
  if (args.faults && uses_nested) {
    err << "kvmsim fuzz: --faults needs two backends that honour inject statements (e.g. model,model); "
           "the nested oracle's kernel cannot fail on demand\n";
    return kExitUsage;
  }
  if (args.faults && uses_kvm) {
    // The kernel cannot be made to fail deterministically at a chosen step, so injected faults would
    // show up as divergences by construction.
    err << "kvmsim fuzz: --faults needs two backends that honour inject statements (e.g. model,model); "
           "the kvm backend answers inject as unsupported\n";
    return kExitUsage;
  }
  std::string seed_text = args.seed;
  if (seed_text.empty()) {
    // Only the choice of seed is random; everything after it is derived from the seed.
    std::random_device rd;
    seed_text = std::to_string((static_cast<fuzz::u64>(rd()) << 32) | rd());
  }
  auto seed = fuzz::parse_seed(seed_text);
  if (!seed) {
    err << "kvmsim fuzz: bad --seed '" << seed_text << "' (a decimal u64 or 40 hex digits)\n";
    return kExitUsage;
  }
  o.seed = *seed;
  o.steps = args.steps;
  o.time_budget_s = args.time_budget;
  o.faults = args.faults;
  o.shrink = !args.no_shrink;
  o.strict = args.strict;
  o.check_invariants = !args.no_invariants;
  o.out_dir = args.out;
  o.backend_options.max_host_mem = args.max_host_mem;

  // Profiles: exactly as `replay --backend A,B`: the kvm side answers as the probed host profile,
  // the model side as --profile, else as the host when paired with kvm, else the default profile.
  std::string host;
  if (uses_kvm) {
    std::string why;
    kvm::HostProbe p = kvm::probe_host(&why);
    if (!why.empty()) {
      out << "seed " << seed->text << "\n";
      out << "SKIP fuzz: backend kvm unavailable: " << why << "\n";
      return kExitNothingRan;
    }
    host = kvm::matching_profile(p);
  }
  // The nested oracle boots as the model's profile: --profile must name one of its flavours.
  const std::string model_name = !args.profile.empty() ? args.profile
                                 : uses_kvm             ? host
                                 : uses_nested          ? nested::flavours().front()
                                                        : model::default_profile().name;
  if (uses_nested && !nested::is_flavour(model_name)) {
    err << "kvmsim fuzz: profile '" << model_name << "' is not a nested oracle flavour\n";
    return kExitUsage;
  }
  const model::Profile* pm = model::find_profile(model_name);
  const model::Profile* ph = uses_kvm ? model::find_profile(host) : pm;
  if (!pm || !ph) {
    err << "kvmsim fuzz: unknown profile '" << (pm ? host : model_name) << "'\n";
    return kExitUsage;
  }
  o.profile_a = o.backend_a == "kvm" ? ph : pm;
  o.profile_b = o.backend_b == "kvm" ? ph : pm;
  if (!args.profile.empty()) o.replay_hint = args.backend + " --profile " + args.profile;

  out << "seed " << seed->text << "\n";
  out.flush();
  if (uses_nested) o.profile_b = o.profile_a;
  if (uses_nested) o.shrink_budget_s = 300;  // one boot per round: rounds cost seconds, not milliseconds
  nested::RunOptions ro;
  ro.trace_timeout_s = 15;  // a generated case takes well under a second in the guest; a hang costs this
  fuzz::CampaignResult r = uses_nested ? fuzz::run_nested_campaign(o, ro) : fuzz::run_campaign(o);
  out << r.report;
  if (!args.emit_trace.empty()) std::ofstream(args.emit_trace, std::ios::binary) << r.emitted;
  char rate[160];
  std::snprintf(rate, sizeof rate, "rate: %s %.1f steps/s (%zu steps in %.2f s)\n", args.backend.c_str(), r.rate(),
                r.steps, r.seconds);
  err << rate;
  if (!r.unavailable.empty()) return kExitNothingRan;
  if (!r.failure.empty()) {
    err << "kvmsim fuzz: " << r.failure << "\n";
    return kExitMismatch;  // an oracle that does not report is a failure, never a skip
  }
  return r.found ? kExitMismatch : kExitOk;
}

}  // namespace kvmsim
