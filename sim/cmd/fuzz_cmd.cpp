// `kvmsim fuzz`: option handling around fuzz::run_campaign (two lock-step sides) and
// fuzz::run_batch_campaign (a lock-step side and a batch side such as the nested oracle).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <variant>

#include "model/profiles/profile.h"
#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/fuzz/campaign.h"
#include "sim/fuzz/campaign_report.h"
#include "sim/fuzz/shard.h"
#include "sim/fuzz/nested_campaign.h"

namespace kvmsim {

namespace {

namespace fs = std::filesystem;

// --emit-trace DIR: one replayable trace per case, DIR/case-NNNN.trace (zero-padded so a sorted
// listing, which is what `kvmsim replay DIR` runs, is case order). Files of that pattern left by an
// earlier run are removed first, so DIR holds exactly this run's cases; nothing else in DIR is touched.
bool prepare_emit_dir(const std::string& dir, std::ostream& err) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    err << "kvmsim fuzz: --emit-trace " << dir << ": not a directory (it takes a directory: one trace per case)\n";
    return false;
  }
  fs::create_directories(dir, ec);
  if (ec) {
    err << "kvmsim fuzz: --emit-trace " << dir << ": " << ec.message() << "\n";
    return false;
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("case-", 0) == 0 && e.path().extension() == ".trace") fs::remove(e.path(), ec);
  }
  return true;
}

std::string emitted_name(std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "case-%04zu.trace", index);
  return name;
}

// The seeds this run covers: --seeds FIRST-LAST (only those --shard I/N owns), else --seed (drawn at
// random when absent). nullopt after a usage error on `err`.
std::optional<std::vector<fuzz::Seed>> seeds_of(const FuzzArgs& args, std::ostream& err) {
  std::vector<std::string> texts;
  if (!args.seeds.empty()) {
    if (!args.seed.empty()) {
      err << "kvmsim fuzz: --seed and --seeds exclude each other\n";
      return std::nullopt;
    }
    auto range = fuzz::parse_seed_range(args.seeds);
    if (!range) {
      err << "kvmsim fuzz: bad --seeds '" << args.seeds << "' (FIRST-LAST, decimal u64s, at most 1000000 seeds)\n";
      return std::nullopt;
    }
    fuzz::Shard shard;
    if (!args.shard.empty()) {
      auto sh = fuzz::parse_shard(args.shard);
      if (!sh) {
        err << "kvmsim fuzz: bad --shard '" << args.shard << "' (I/N with 0 <= I < N)\n";
        return std::nullopt;
      }
      shard = *sh;
    }
    for (std::size_t i = 0; i < range->size(); i++)
      if (shard.owns(i)) texts.push_back((*range)[i]);
  } else if (!args.shard.empty()) {
    err << "kvmsim fuzz: --shard splits a seed range: it needs --seeds FIRST-LAST\n";
    return std::nullopt;
  } else if (args.seed.empty()) {
    // Only the choice of seed is random; everything after it is derived from the seed.
    std::random_device rd;
    texts.push_back(std::to_string((static_cast<fuzz::u64>(rd()) << 32) | rd()));
  } else {
    texts.push_back(args.seed);
  }
  std::vector<fuzz::Seed> seeds;
  for (const std::string& t : texts) {
    auto seed = fuzz::parse_seed(t);
    if (!seed) {
      err << "kvmsim fuzz: bad --seed '" << t << "' (a decimal u64, 0x and up to 16 hex digits, or 40 hex digits)\n";
      return std::nullopt;
    }
    seeds.push_back(*seed);
  }
  return seeds;
}

}  // namespace

int run_fuzz(const FuzzArgs& args, std::ostream& out, std::ostream& err) {
  auto spec = parse_backend_spec(args.backend, 2);
  if (auto* e = std::get_if<std::string>(&spec)) {
    err << "kvmsim fuzz: " << *e << "\n";
    return kExitUsage;
  }
  const BackendSpec& s = std::get<BackendSpec>(spec);
  if (!s.paired()) {
    err << "kvmsim fuzz: --backend needs a pair A,B (e.g. model,kvm)\n";
    return kExitUsage;
  }
  BackendOptions options;
  options.max_host_mem = args.max_host_mem;
  options.kvm_device = args.kvm_device;
  auto sides = make_backends(s, options);
  const bool batch = !sides[1]->lockstep();
  if (!sides[0]->lockstep()) {
    err << "kvmsim fuzz: side A must be a lock-step backend (model, model-ref, kvm); a batch backend such as "
        << sides[0]->name() << " fuzzes as side B (e.g. model," << sides[0]->name() << ")\n";
    return kExitUsage;
  }
  if (args.faults) {
    // Only the model arms faults; a kernel cannot be made to fail deterministically at a chosen step, so
    // injected faults would show up as divergences by construction.
    for (const auto& side : sides) {
      if (side->runs_guest_agent()) {
        err << "kvmsim fuzz: --faults needs two backends that honour inject statements (e.g. model,model); "
            << side->name() << " runs a real kernel, which cannot fail on demand\n";
        return kExitUsage;
      }
    }
  }
  const auto seeds = seeds_of(args, err);
  if (!seeds) return kExitUsage;
  if (!args.emit_trace.empty() && seeds->size() > 1) {
    err << "kvmsim fuzz: --emit-trace takes one --seed (its case files are named by case, not by seed)\n";
    return kExitUsage;
  }
  if (!args.emit_trace.empty() && !prepare_emit_dir(args.emit_trace, err)) return kExitUsage;
  const bool json = args.format == "json";
  if (!json && !seeds->empty()) {
    out << "seed " << seeds->front().text << "\n";
    out.flush();
  }
  if (!check_backends(sides, !args.profile.empty(), err).empty()) return unavailable_exit(args.require_kvm);

  // Profiles: exactly as `replay --backend A,B` (resolve_profiles); a batch side may refuse one.
  std::string error;
  auto profiles = resolve_profiles(sides, args.profile, std::nullopt, &error);
  if (!profiles) {
    err << "kvmsim fuzz: " << error << "\n";
    return kExitUsage;
  }
  for (std::size_t i = 0; i < 2; i++) {
    if (std::string why = sides[i]->refuses_profile(*profiles->profiles[i]); !why.empty()) {
      err << "kvmsim fuzz: " << sides[i]->name() << ": " << why << "\n";
      return kExitUsage;
    }
  }
  fuzz::CampaignReport report;
  report.backend = args.backend;
  report.profile = profiles->profiles[0]->name + "," + profiles->profiles[1]->name;
  report.steps_per_seed = args.steps;
  report.faults = args.faults;
  report.shard = args.shard;
  for (std::size_t i = 0; i < seeds->size(); i++) {
    const fuzz::Seed& seed = (*seeds)[i];
    if (!json && i > 0) out << "seed " << seed.text << "\n";
    fuzz::CampaignOptions o;
    o.seed = seed;
    o.steps = args.steps;
    o.time_budget_s = args.time_budget;
    o.faults = args.faults;
    o.shrink = !args.no_shrink;
    o.strict = args.strict;
    o.check_invariants = !args.no_invariants;
    o.out_dir = args.out;
    o.side_a = sides[0].get();
    o.side_b = sides[1].get();
    o.profile_a = profiles->profiles[0];
    o.profile_b = profiles->profiles[1];
    if (!args.profile.empty()) o.replay_hint = args.backend + " --profile " + args.profile;
    if (batch) o.shrink_budget_s = 300;  // one boot per round: rounds cost seconds, not milliseconds
    const auto wall_start = std::chrono::steady_clock::now();
    fuzz::CampaignResult r = batch ? fuzz::run_batch_campaign(o) : fuzz::run_campaign(o);
    if (!json) out << r.report;
    if (!args.emit_trace.empty())
      for (const auto& c : r.emitted)
        std::ofstream(fs::path(args.emit_trace) / emitted_name(c.index), std::ios::binary) << c.trace;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    // Steps/s counts replaying only (the backends' speed); wall time adds generation, invariant checks,
    // shrinking and writing, which is what a user waits for.
    char rate[200];
    std::snprintf(rate, sizeof rate, "rate: %s %.1f steps/s (%zu steps in %.2f s replaying; %.2f s wall)\n",
                  args.backend.c_str(), r.rate(), r.steps, r.seconds, wall);
    err << rate;
    if (!r.failure.empty()) err << "kvmsim fuzz: " << r.failure << "\n";
    fuzz::add_seed(report, seed, r);
  }
  if (json) fuzz::write_json(report, out);
  // An oracle that does not report is a failure, never a skip.
  return report.exit_code() ? kExitMismatch : kExitOk;
}

}  // namespace kvmsim
