#include "sim/fuzz/nested_campaign.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "model/core_assert.h"
#include "model/vm/kvm.h"
#include "sim/differential.h"
#include "sim/fuzz/generator.h"
#include "sim/fuzz/known_open.h"
#include "sim/fuzz/shrinker.h"
#include "sim/trace/parser.h"

namespace kvmsim::fuzz {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr std::size_t kMaxCandidatesPerRound = 48;   // one boot runs them all

std::optional<trace::Trace> parse_case(const std::string& text) {
  auto parsed = trace::parse(text, "fuzz.trace");
  if (std::holds_alternative<trace::ParseError>(parsed)) return std::nullopt;
  return std::get<trace::Trace>(std::move(parsed));
}

// One batch: every text replayed in one boot and on the model, paired. nullopt entries: the case
// did not parse (a shrink candidate that dropped a binding still in use).
struct Batch {
  std::vector<std::optional<DiffReport>> diffs;
  std::vector<std::optional<trace::Trace>> traces;
  std::vector<bool> hung;  // the guest's per-trace timeout killed it: the kernel never answered
  std::string failure;     // the boot failed: why, with the console tail
};

Batch run_batch(const CampaignOptions& o, const std::vector<std::string>& texts, const model::Profile& profile,
                const std::string& dir, const std::string& tag) {
  Batch b;
  std::vector<std::string> files;
  std::vector<std::size_t> index;  // files[i] is texts[index[i]]
  fs::create_directories(dir);
  for (std::size_t i = 0; i < texts.size(); i++) {
    b.traces.push_back(parse_case(texts[i]));
    if (!b.traces.back()) continue;
    files.push_back((fs::path(dir) / (tag + "-" + std::to_string(i) + ".trace")).string());
    std::ofstream(files.back(), std::ios::binary) << texts[i];
    index.push_back(i);
  }
  b.diffs.resize(texts.size());
  b.hung.resize(texts.size());
  if (files.empty()) return b;
  std::vector<const trace::Trace*> batch;
  for (std::size_t i : index) batch.push_back(&*b.traces[i]);
  // The batch side reads the files: name each parsed case after the file it was written to.
  for (std::size_t k = 0; k < index.size(); k++) b.traces[index[k]]->file = files[k];
  std::vector<BatchReplay> results;
  BatchRun run = o.side_b->replay_batch(batch, profile, BatchOptions{false, o.batch_item_timeout_s}, &results);
  if (!run.ok) {
    b.failure = run.failure;
    return b;
  }
  for (std::size_t k = 0; k < files.size(); k++) {
    const std::size_t i = index[k];
    const trace::Trace& t = *b.traces[i];
    if (k < results.size() && results[k].timed_out) {
      b.hung[i] = true;
      continue;
    }
    if (k >= results.size() || !results[k].report) {
      b.failure = "the oracle reported nothing for " + files[k] + (k < results.size() ? ": " + results[k].failure : "");
      return b;
    }
    std::string why;
    std::unique_ptr<KvmApi> a = o.side_a->open(profile, &why);
    KVMSIM_ASSERT_CTX(a != nullptr, "side A of a batch campaign cannot open a session: " + why);
    ReplayReport mr = replay(t, *a, ReplayOptions{});
    b.diffs[i] = diff_recorded(t, mr, *results[k].report);
  }
  return b;
}

// The statement lines of a case (not the header, comments or blank lines), by index into `lines`.
std::vector<std::size_t> statement_lines(const std::vector<std::string>& lines) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < lines.size(); i++) {
    const std::string& l = lines[i];
    if (l.empty() || l[0] == '#' || l.rfind("kvmsim-trace", 0) == 0 || l.rfind("profile ", 0) == 0) continue;
    out.push_back(i);
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

bool same_bug(const std::optional<DiffReport>& d, const Signature& sig) {
  return d && d->first && signature_of(*d->first) == sig;
}

}  // namespace

CampaignResult run_batch_campaign(const CampaignOptions& o) {
  CampaignResult res;
  const model::Profile& profile = *o.profile_a;
  const std::string pair = o.side_a->name() + "," + o.side_b->name();
  // The seed line is the command's, printed before the campaign starts (sim/cmd/fuzz_cmd.cpp).
  res.report = "options: steps=" + std::to_string(o.steps) + " backend=" + pair + " profiles=" + profile.name + "," +
                profile.name + " faults=off (one boot per batch)\n";
  const std::string dir = o.out_dir.empty() ? (fs::temp_directory_path() / "kvmsim-fuzz-nested").string() : o.out_dir;
  GenOptions g;
  g.profile = profile.name;
  g.prefault_hangs_after_zap_all = profile.prefault_hangs_after_zap_all;

  // Generate every case first: the same split of --steps into cases as run_campaign.
  Rng lengths(o.seed, 0);
  std::vector<std::string> cases;
  std::vector<std::string> swarms;
  for (std::size_t steps = 0, index = 0; steps < o.steps; index++) {
    const std::size_t len = next_case_length(lengths, steps, o.steps);
    Rng rng(o.seed, index + 1);
    Swarm swarm = draw_swarm(rng, g);
    cases.push_back(generate_case(rng, len, swarm, g));
    swarms.push_back(swarm.describe());
    steps += len;
  }
  const auto start = Clock::now();
  Batch batch = run_batch(o, cases, profile, dir, "case");
  res.seconds = since(start);
  if (!batch.failure.empty()) {
    res.failure = batch.failure;
    res.report += "nested oracle failed: " + batch.failure + "\n";
    return res;
  }
  for (std::size_t index = 0; index < cases.size(); index++) {
    if (batch.hung[index]) {
      // 6.12.117 never returns from KVM_PRE_FAULT_MEMORY on a vCPU whose root a zap-all made obsolete
      // (Profile::prefault_hangs_after_zap_all): a known kernel bug when the profile says so.
      res.cases++;
      if (!profile.prefault_hangs_after_zap_all) {
        res.failure = "case " + std::to_string(index) + " hung in the kernel (killed by the guest's per-trace timeout): " +
                      (fs::path(dir) / ("case-" + std::to_string(index) + ".trace")).string();
        res.report += res.failure + "\n";
        return res;
      }
      res.explained["kernel_prefault_hang_after_zap_all"]++;
      res.report += "case " + std::to_string(index) + ": hung in the kernel; explained: kernel_prefault_hang_after_zap_all\n";
      continue;
    }
    const std::optional<DiffReport>& d = batch.diffs[index];
    KVMSIM_ASSERT_CTX(d.has_value(), "generated case does not parse:\n" + cases[index]);
    res.cases++;
    res.steps += count_statements(cases[index]);
    res.emitted.push_back({index, insert_after_header(apply_rewrites(*batch.traces[index], d->a.results),
                                              "# case " + std::to_string(index) + " of kvmsim fuzz --seed " +
                                                  o.seed.text + " (" + swarms[index] + ")\n")});
    res.report += "case " + std::to_string(index) + ": " + std::to_string(count_statements(cases[index])) +
                  " statements, " + std::to_string(d->divergences) + " divergent; swarm " + swarms[index] + "\n";
    if (!d->first) continue;
    const Signature sig = signature_of(*d->first);
    if (!o.strict) {
      if (const KnownOpen* k = explain_divergence(sig, *o.side_a, profile, *o.side_b, profile)) {
        res.explained[k->name]++;
        res.report += "  explained: " + k->name + " at line " + std::to_string(d->first->line) + "\n";
        continue;
      }
    }
    FoundDivergence f;
    f.case_index = index;
    f.signature = sig;
    f.line = d->first->line;
    f.original = cases[index];
    f.original_statements = count_statements(f.original);
    res.report += "divergence: line " + std::to_string(f.line) + ": " + d->first->statement + "\n  " + o.side_a->name() +
                  " " + d->first->a_actual + ", " + o.side_b->name() + " " + d->first->b_actual + "\n  signature: " +
                  sig.str() + "\n";

    // Shrink: drop what follows the diverging line (it cannot change that line), then rounds of
    // single-statement drops, one boot per round.
    std::vector<std::string> lines = split_lines(f.original);
    {
      std::vector<std::string> kept;
      for (std::size_t i = 0; i < lines.size(); i++)
        if (static_cast<int>(i) + 1 <= f.line) kept.push_back(lines[i]);
      lines = kept;
    }
    int rounds = 0;
    const auto shrink_start = Clock::now();
    for (bool progress = o.shrink; progress;) {
      progress = false;
      if (o.shrink_budget_s > 0 && since(shrink_start) >= o.shrink_budget_s) break;
      std::vector<std::size_t> stmts = statement_lines(lines);
      if (!stmts.empty() && stmts.back() + 1 == lines.size()) stmts.pop_back();  // the diverging statement stays
      // Candidates drop a run of k statements, for k = n/2, n/4, ..., 1 (delta debugging): one boot
      // tries them all, and the accepted candidate is the one dropping the most.
      std::vector<std::string> candidates;
      std::vector<std::vector<std::size_t>> dropped;
      for (std::size_t k = std::max<std::size_t>(1, stmts.size() / 2); k >= 1 && candidates.size() < kMaxCandidatesPerRound;
           k /= 2) {
        for (std::size_t from = 0; from < stmts.size() && candidates.size() < kMaxCandidatesPerRound; from += k) {
          std::vector<std::size_t> drop(stmts.begin() + static_cast<std::ptrdiff_t>(from),
                                        stmts.begin() + static_cast<std::ptrdiff_t>(std::min(stmts.size(), from + k)));
          std::vector<std::string> kept;
          for (std::size_t i = 0; i < lines.size(); i++)
            if (!std::binary_search(drop.begin(), drop.end(), i)) kept.push_back(lines[i]);
          candidates.push_back(join_lines(kept));
          dropped.push_back(std::move(drop));
        }
        if (k == 1) break;
      }
      if (candidates.empty()) break;
      Batch round = run_batch(o, candidates, profile, dir, "shrink" + std::to_string(rounds));
      rounds++;
      f.shrink_candidates += candidates.size();
      if (!round.failure.empty()) {
        res.report += "shrink round " + std::to_string(rounds) + ": oracle failed, shrinking stops: " +
                      round.failure.substr(0, round.failure.find('\n')) + "\n";
        break;
      }
      std::size_t best = candidates.size();
      for (std::size_t c = 0; c < candidates.size(); c++)
        if (same_bug(round.diffs[c], sig) && (best == candidates.size() || dropped[c].size() > dropped[best].size()))
          best = c;
      if (best < candidates.size()) {
        lines = split_lines(candidates[best]);
        // The diverging line moved up: everything after it goes again.
        const int line = round.diffs[best]->first->line;
        if (static_cast<std::size_t>(line) < lines.size()) lines.resize(static_cast<std::size_t>(line));
        progress = true;
      }
    }
    const std::string minimal = join_lines(lines);
    res.report += "shrunk: " + std::to_string(f.original_statements) + " -> " + std::to_string(count_statements(minimal)) +
                  " statements (" + std::to_string(rounds) + " rounds, " + std::to_string(f.shrink_candidates) +
                  " candidates, one boot each round)\n";
    // Re-run the minimal case 5 times in one boot; its expected results are the oracle's answers.
    f.reruns = o.reruns;
    Batch again = run_batch(o, std::vector<std::string>(static_cast<std::size_t>(std::max(1, o.reruns)), minimal),
                            profile, dir, "rerun");
    std::string expected = minimal;
    for (std::size_t i = 0; i < again.diffs.size(); i++) {
      if (!same_bug(again.diffs[i], sig)) continue;
      f.reproduced++;
      expected = apply_rewrites(*again.traces[i], again.diffs[i]->b.results);
    }
    if (!again.failure.empty()) res.report += "re-run: oracle failed: " + again.failure.substr(0, again.failure.find('\n')) + "\n";
    record_finding(o, index, expected, std::move(f), res);
    break;
  }
  finish_report(res);
  return res;
}

}  // namespace kvmsim::fuzz
