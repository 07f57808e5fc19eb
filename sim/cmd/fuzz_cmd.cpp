// `kvmsim fuzz`: option handling around fuzz::run_campaign (two lock-step sides) and
// fuzz::run_batch_campaign (a lock-step side and a batch side such as the nested oracle).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <variant>

#include "model/profiles/profile.h"
#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/fuzz/campaign.h"
#include "sim/fuzz/campaign_report.h"
#include "sim/fuzz/shard.h"
#include "sim/fuzz/nested_campaign.h"
#include "sim/json/json.h"

namespace kvmsim {

namespace {

namespace fs = std::filesystem;

// --emit-trace DIR: one replayable trace per case, DIR/case-NNNN.trace (zero-padded so a sorted
// listing, which is what `kvmsim replay DIR` runs, is case order). Files of that pattern left by an
// earlier run are removed first, so DIR holds exactly this run's cases; nothing else in DIR is touched.
// Returns what went wrong, or "".
std::string prepare_emit_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    return "--emit-trace " + dir + ": not a directory (it takes a directory: one trace per case)";
  fs::create_directories(dir, ec);
  if (ec) return "--emit-trace " + dir + ": " + ec.message();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("case-", 0) == 0 && e.path().extension() == ".trace") fs::remove(e.path(), ec);
  }
  return "";
}

std::string emitted_name(std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "case-%04zu.trace", index);
  return name;
}

// The seeds this run covers: --seeds FIRST-LAST (only those --shard I/N owns), else --seed (drawn at
// random when absent). nullopt after a usage error, described in *error.
std::optional<std::vector<fuzz::Seed>> seeds_of(const FuzzArgs& args, std::string* error) {
  std::vector<std::string> texts;
  if (!args.seeds.empty()) {
    if (!args.seed.empty()) {
      *error = std::string("--seed and --seeds exclude each other");
      return std::nullopt;
    }
    auto range = fuzz::parse_seed_range(args.seeds);
    if (!range) {
      *error = std::string("bad --seeds '" + args.seeds + "' (FIRST-LAST, decimal u64s, at most 1000000 seeds)");
      return std::nullopt;
    }
    fuzz::Shard shard;
    if (!args.shard.empty()) {
      auto sh = fuzz::parse_shard(args.shard);
      if (!sh) {
        *error = std::string("bad --shard '" + args.shard + "' (I/N with 0 <= I < N)");
        return std::nullopt;
      }
      shard = *sh;
    }
    for (std::size_t i = 0; i < range->size(); i++)
      if (shard.owns(i)) texts.push_back((*range)[i]);
  } else if (!args.shard.empty()) {
    *error = std::string("--shard splits a seed range: it needs --seeds FIRST-LAST");
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
      *error = std::string("bad --seed '" + t + "' (a decimal u64, 0x and up to 16 hex digits, or 40 hex digits)");
      return std::nullopt;
    }
    seeds.push_back(*seed);
  }
  return seeds;
}

}  // namespace

int run_fuzz(const FuzzArgs& args, std::ostream& out, std::ostream& err) {
  const bool json = args.format == "json";
  // A usage error: its line on stderr and, in JSON mode, the error document on stdout.
  auto fail = [&](const std::string& message) {
    err << "kvmsim fuzz: " << message << "\n";
    if (json) out << error_document("", 0, 0, message);
    return kExitUsage;
  };
  auto spec = parse_backend_spec(args.backend, 2);
  if (auto* e = std::get_if<std::string>(&spec)) return fail(*e);
  const BackendSpec& s = std::get<BackendSpec>(spec);
  if (!s.paired()) return fail("--backend needs a pair A,B (e.g. model,kvm)");
  BackendOptions options;
  options.max_host_mem = args.max_host_mem;
  options.kvm_device = args.kvm_device;
  options.progress = args.progress;
  auto sides = make_backends(s, options);
  const bool batch = !sides[1]->lockstep();
  if (!sides[0]->lockstep())
    return fail("side A must be a lock-step backend (model, model-ref, kvm); a batch backend such as " +
                sides[0]->name() + " fuzzes as side B (e.g. model," + sides[0]->name() + ")");
  if (args.faults) {
    // Only the model arms faults; a kernel cannot be made to fail deterministically at a chosen step, so
    // injected faults would show up as divergences by construction.
    for (const auto& side : sides) {
      if (side->runs_guest_agent())
        return fail("--faults needs two backends that honour inject statements (e.g. model,model); " + side->name() +
                    " runs a real kernel, which cannot fail on demand");
    }
  }
  std::string seeds_error;
  const auto seeds = seeds_of(args, &seeds_error);
  if (!seeds) return fail(seeds_error);
  if (!args.emit_trace.empty() && seeds->size() > 1)
    return fail("--emit-trace takes one --seed (its case files are named by case, not by seed)");
  if (!args.emit_trace.empty())
    if (std::string why = prepare_emit_dir(args.emit_trace); !why.empty()) return fail(why);
  // The first seed before anything runs, so that it is known even if the run never ends; in JSON mode on
  // stderr (stdout is one document).
  if (!seeds->empty()) {
    (json ? err : out) << "seed " << seeds->front().text << "\n";
    (json ? err : out).flush();
  }
  if (!check_backends(sides, !args.profile.empty(), err).empty()) {
    if (json) out << "{\"schema\": 1, \"unavailable\": true}\n";
    return unavailable_exit(args.require_kvm);
  }

  // Profiles: exactly as `replay --backend A,B` (resolve_profiles); a batch side may refuse one.
  std::string error;
  auto profiles = resolve_profiles(sides, args.profile, std::nullopt, &error);
  if (!profiles) return fail(error);
  for (std::size_t i = 0; i < 2; i++) {
    if (std::string why = sides[i]->refuses_profile(*profiles->profiles[i]); !why.empty())
      return fail(sides[i]->name() + ": " + why);
  }
  fuzz::CampaignReport report;
  report.backend = args.backend;
  report.profile = profiles->profiles[0]->name + "," + profiles->profiles[1]->name;
  report.steps_per_seed = args.steps;
  report.faults = args.faults;
  report.shard = args.shard;
  for (std::size_t i = 0; i < seeds->size(); i++) {
    const fuzz::Seed& seed = (*seeds)[i];
    if (i > 0) (json ? err : out) << "seed " << seed.text << "\n";
    fuzz::CampaignOptions o;
    o.seed = seed;
    o.steps = args.steps;
    o.time_budget_s = args.time_budget;
    o.faults = args.faults;
    o.shrink = !args.no_shrink;
    o.strict = args.strict;
    o.check_invariants = !args.no_invariants;
    o.out_dir = args.out;
    o.progress = args.progress;
    o.side_a = sides[0].get();
    o.side_b = sides[1].get();
    o.profile_a = profiles->profiles[0];
    o.profile_b = profiles->profiles[1];
    if (!args.profile.empty()) o.replay_hint = args.backend + " --profile " + args.profile;
    if (batch) o.shrink_budget_s = 300;  // one boot per round: rounds cost seconds, not milliseconds
    const auto wall_start = std::chrono::steady_clock::now();
    fuzz::CampaignResult r = batch ? fuzz::run_batch_campaign(o) : fuzz::run_campaign(o);
    report_progress(args.progress, "");  // done: the rate line below starts on a clean line
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
