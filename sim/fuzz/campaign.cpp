#include "sim/fuzz/campaign.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <variant>

#include "model/core_assert.h"
#include "model/vm/vm.h"
#include "model/vm/kvm.h"
#include "sim/differential.h"
#include "sim/fuzz/generator.h"
#include "sim/fuzz/known_open.h"
#include "sim/fuzz/shrinker.h"
#include "sim/replay.h"
#include "sim/trace/parser.h"

namespace kvmsim::fuzz {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr int kMaxCheckedFd = 64;  // a generated case opens far fewer fds
// Choice-level shrinking is broad but blunt: cap it, the trace-level pass finishes the job.
constexpr std::size_t kMaxChoiceCandidates = 1000;

GenOptions gen_options(const CampaignOptions& o) {
  GenOptions g;
  g.profile = o.profile_a ? o.profile_a->name : "";
  g.faults = o.faults;
  g.prefault_hangs_after_zap_all = o.profile_a && o.profile_a->prefault_hangs_after_zap_all;
  g.map_memory = o.profile_a && o.profile_a->has_map_memory;
  g.gmem_conversion = o.profile_a && o.profile_a->gmem_conversion.enabled;
  g.gmem_write_flag = o.profile_a ? o.profile_a->gmem_write_flag : 0;
  return g;
}

struct PairRun {
  std::optional<DiffReport> report;  // nullopt: parse error or backend unavailable
  std::string error;
  bool no_session = false;  // a side could not open a session although it was available
  std::optional<trace::Trace> trace;
};

PairRun run_pair(const CampaignOptions& o, const std::string& text) {
  PairRun out;
  auto parsed = trace::parse(text, "fuzz.trace");
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
    out.error = e->str();
    return out;
  }
  out.trace = std::move(std::get<trace::Trace>(parsed));
  std::string why;
  auto a = o.side_a->open(*o.profile_a, &why);
  if (!a) {
    out.no_session = true;
    out.error = o.side_a->name() + ": " + why;
    return out;
  }
  auto b = o.side_b->open(*o.profile_b, &why);
  if (!b) {
    out.no_session = true;
    out.error = o.side_b->name() + ": " + why;
    return out;
  }
  // The model's own invariants after every statement (model/invariants.h: aborts with the values on
  // a violation; the seed printed first reproduces it).
  std::function<void(const StatementResult&)> check;
  if (o.check_invariants) {
    check = [&](const StatementResult&) {
      for (KvmApi* side : {a.get(), b.get()})
        if (auto* m = dynamic_cast<model::Kvm*>(side))
          for (int fd = 0; fd < kMaxCheckedFd; fd++)
            if (const model::Vm* vm = m->vm(fd)) model::check_invariants(*vm);
    };
  }
  out.report = replay_pair(*out.trace, *a, *b, check);
  return out;
}

std::string seed_file_part(const Seed& s) { return s.text.size() > 16 ? s.text.substr(0, 16) : s.text; }

constexpr std::size_t kMinCase = 30, kMaxCase = 80;

}  // namespace

CampaignResult run_campaign(const CampaignOptions& o) {
  CampaignResult res;
  const std::string pair = o.side_a->name() + "," + o.side_b->name();
  // The seed line is the command's, printed before the campaign starts (sim/cmd/fuzz_cmd.cpp).
  res.report = "options: steps=" + std::to_string(o.steps) + " backend=" + pair + " profiles=" +
                o.profile_a->name + "," + o.profile_b->name + " faults=" + (o.faults ? "on" : "off") + "\n";
  const GenOptions g = gen_options(o);
  Rng lengths(o.seed, 0);  // case lengths: stream 0, so the split of --steps into cases is fixed too
  const auto start = Clock::now();
  for (std::size_t index = 0; res.steps < o.steps; index++) {
    if (o.time_budget_s > 0 && since(start) >= o.time_budget_s) {
      res.budget_hit = true;
      break;
    }
    const std::size_t len = next_case_length(lengths, res.steps, o.steps);
    report_progress(o.progress, "fuzz: case " + std::to_string(index) + ", " + std::to_string(res.steps) + "/" +
                                    std::to_string(o.steps) + " steps");
    Rng rng(o.seed, index + 1);
    rng.record();  // the choice sequence RapidCheck shrinks on a divergence
    Swarm swarm = draw_swarm(rng, g);
    const std::string text = generate_case(rng, len, swarm, g);
    // If the model aborts on a broken invariant, this file is the case that did it.
    if (!o.out_dir.empty()) {
      std::filesystem::create_directories(o.out_dir);
      std::ofstream(std::filesystem::path(o.out_dir) / "last-case.trace", std::ios::binary) << text;
    }
    const auto case_start = Clock::now();
    PairRun run = run_pair(o, text);
    res.seconds += since(case_start);
    if (run.no_session) {
      res.failure = "could not open a session: " + run.error;
      break;
    }
    // A generated case that does not parse is a generator bug, never a finding.
    KVMSIM_ASSERT_CTX(run.report.has_value(), "generated case does not parse: " + run.error + "\n" + text);
    res.cases++;
    res.steps += len;
    const DiffReport& d = *run.report;
    res.emitted.push_back({index, insert_after_header(apply_rewrites(*run.trace, d.a.results),
                                              "# case " + std::to_string(index) + " of kvmsim fuzz --seed " +
                                                  o.seed.text + " (" + swarm.describe() + ")\n")});
    res.report += "case " + std::to_string(index) + ": " + std::to_string(len) + " statements, " +
                  std::to_string(d.divergences) + " divergent; swarm " + swarm.describe() + "\n";
    if (!d.first) continue;
    if (!o.strict) {
      const Signature sig = signature_of(*d.first);
      if (const KnownOpen* k = explain_divergence(sig, *o.side_a, *o.profile_a, *o.side_b, *o.profile_b)) {
        // Later statements of this case may be echoes of it: the case ends here, the campaign goes on.
        res.explained[k->name]++;
        res.report += "  explained: " + k->name + " at line " + std::to_string(d.first->line) + " (" + sig.str() + ")\n";
        continue;
      }
    }

    FoundDivergence f;
    f.case_index = index;
    f.signature = signature_of(*d.first);
    f.line = d.first->line;
    f.original = text;
    f.original_statements = count_statements(text);
    res.report += "divergence: line " + std::to_string(f.line) + ": " + d.first->statement + "\n  " + o.side_a->name() +
                  " " + d.first->a_actual + ", " + o.side_b->name() + " " + d.first->b_actual + "\n  signature: " +
                  f.signature.str() + "\n";
    std::string minimal = text;
    // Shrinking and re-runs chase the divergence only: a candidate that trips an invariant must not
    // abort the campaign and lose the finding.
    CampaignOptions quiet = o;
    quiet.check_invariants = false;
    if (o.shrink) {
      std::size_t tried = 0;
      auto keeps_bug = [&](const std::string& candidate) {
        report_progress(o.progress, "fuzz: shrinking the divergence of case " + std::to_string(index) + ", " +
                                        std::to_string(++tried) + " candidates tried");
        PairRun r = run_pair(quiet, candidate);
        return r.report && r.report->first && signature_of(*r.report->first) == f.signature;
      };
      const auto shrink_start = Clock::now();
      // Stage 1 (RapidCheck; a quarter of the time budget, at most kMaxChoiceCandidates): shrink the case's choice sequence, regenerating the
      // trace from each candidate; it can turn a statement into a simpler one, not only drop it.
      auto regenerate = [&](const std::vector<u64>& c) {
        Rng r = Rng::replay(c);
        Swarm sw = draw_swarm(r, g);
        return generate_case(r, len, sw, g);
      };
      auto stop_choices = [&] { return o.shrink_budget_s > 0 && since(shrink_start) >= o.shrink_budget_s / 4; };
      ShrinkStats cst;
      const std::size_t choice_budget = o.shrink_max_candidates ? o.shrink_max_candidates / 2 : kMaxChoiceCandidates;
      const std::vector<u64> small =
          shrink_choices(rng.recorded(), [&](const std::vector<u64>& c) { return keeps_bug(regenerate(c)); },
                         choice_budget, stop_choices, &cst);
      std::string from = text;
      int start_line = f.line;
      if (cst.accepted) {
        from = regenerate(small);
        PairRun r = run_pair(quiet, from);
        KVMSIM_ASSERT_CTX(r.report && r.report->first, "accepted choice candidate no longer diverges");
        start_line = r.report->first->line;
      }
      // Stage 2: the trace-level passes (shrinker.h) on the regenerated text.
      auto stop = [&] { return o.shrink_budget_s > 0 && since(shrink_start) >= o.shrink_budget_s; };
      ShrinkStats st;
      minimal = shrink_trace(from, start_line, keeps_bug,
                             o.shrink_max_candidates ? o.shrink_max_candidates - cst.candidates : 0, stop, &st);
      f.shrink_candidates = cst.candidates + st.candidates;
      res.report += "shrunk: " + std::to_string(f.original_statements) + " -> " +
                    std::to_string(count_statements(minimal)) + " statements (choices: " +
                    std::to_string(rng.recorded().size()) + " -> " + std::to_string(small.size()) + ", " +
                    std::to_string(cst.candidates) + " candidates, " + std::to_string(cst.accepted) + " accepted" +
                    (cst.budget_exhausted ? " (capped)" : "") + "; trace: " + std::to_string(st.candidates) +
                    " candidates, " + std::to_string(st.accepted) + " accepted" +
                    (st.budget_exhausted ? " (budget exhausted)" : "") + ")\n";
    }
    // Re-run: how reliably does the minimal case reproduce (a real kernel can be flaky)?
    f.reruns = o.reruns;
    PairRun last;
    for (int i = 0; i < o.reruns; i++) {
      PairRun r = run_pair(quiet, minimal);
      if (r.report && r.report->first && signature_of(*r.report->first) == f.signature) {
        f.reproduced++;
        last = std::move(r);
      }
    }
    if (!last.report) last = run_pair(quiet, minimal);
    // Expected results: side B's answers (the kernel's, for model,kvm).
    record_finding(o, index, last.report ? apply_rewrites(*last.trace, last.report->b.results) : minimal, std::move(f),
                   res);
    break;
  }
  finish_report(res);
  return res;
}

std::size_t next_case_length(Rng& lengths, std::size_t done, std::size_t steps) {
  return std::min<std::size_t>(kMinCase + lengths.below(kMaxCase - kMinCase + 1), steps - done);
}

void record_finding(const CampaignOptions& o, std::size_t case_index, const std::string& expected, FoundDivergence f,
                    CampaignResult& res) {
  const std::string pair = o.side_a->name() + "," + o.side_b->name();
  const std::string comment = "# found by kvmsim fuzz --seed " + o.seed.text + " --backend " + pair + " (case " +
                              std::to_string(case_index) + ")\n# signature: " + f.signature.str() +
                              "\n# expected results are " + o.side_b->name() + "'s answers\n";
  f.shrunk = insert_after_header(expected, comment);
  f.shrunk_statements = count_statements(f.shrunk);
  res.report += "reproduced " + std::to_string(f.reproduced) + "/" + std::to_string(f.reruns) + "\n";
  if (!o.out_dir.empty()) {
    std::filesystem::create_directories(o.out_dir);
    f.file = (std::filesystem::path(o.out_dir) /
              ("fuzz-" + seed_file_part(o.seed) + "-case" + std::to_string(case_index) + ".trace"))
                 .string();
    std::ofstream(f.file, std::ios::binary) << f.shrunk;
    f.replay_command = "kvmsim replay --backend " + (o.replay_hint.empty() ? pair : o.replay_hint) + " " + f.file;
    res.report += "written: " + f.file + "\nreplay: " + f.replay_command + "\n";
  }
  res.report += "--- minimal trace ---\n" + f.shrunk;
  res.found = std::move(f);
}

std::string insert_after_header(const std::string& text, const std::string& comment) {
  std::size_t pos = 0;
  for (int i = 0; i < 2 && pos < text.size(); i++) {
    std::size_t nl = text.find('\n', pos);
    std::string l = text.substr(pos, nl - pos);
    if (l.rfind("kvmsim-trace", 0) != 0 && l.rfind("profile ", 0) != 0) break;
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return text.substr(0, pos) + comment + text.substr(pos);
}

void finish_report(CampaignResult& res) {
  for (const auto& [name, n] : res.explained) res.report += "explained: " + name + " x" + std::to_string(n) + "\n";
  if (!res.found && res.failure.empty())
    res.report += std::string("result: no unexplained divergence in ") + std::to_string(res.cases) + " cases, " +
                  std::to_string(res.steps) + " statements" + (res.budget_hit ? " (time budget reached)" : "") + "\n";
}

}  // namespace kvmsim::fuzz
