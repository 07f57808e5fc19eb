// Fuzzing against the nested TDP oracle (`kvmsim fuzz --backend model,nested`). A VM boundary cannot
// step in lock-step, so the campaign works in batches: it generates every case first (generation
// depends on the seed only, never on answers), replays the whole batch in one boot of the oracle
// (nested::run_nested_replay), replays each case on the model as the same profile, and pairs the two
// with diff_recorded (the comparison rules of `replay --backend model,nested`). The first unexplained
// divergence is shrunk in rounds: statements after the diverging line are dropped (they cannot change
// it), then each round tries dropping runs of n/2, n/4, ..., 1 statements (delta debugging), runs
// all candidates in one boot, and keeps the one dropping the most whose divergence has the same
// signature; the minimal case is re-run 5 times in the last boot. Cost: one boot (10-40 s on 2
// cores) per batch and per shrink round; the shrink budget is 5 minutes.
// Determinism: the generated cases, the report and the written trace depend on the seed and the
// kernel's answers only; the time budget stops between boots.
#pragma once

#include "sim/fuzz/campaign.h"
#include "sim/nested/nested_runner.h"

namespace kvmsim::fuzz {

// options.backend_a must be "model" and options.backend_b "nested", both answering as
// *options.profile_a (a nested flavour). A boot failure sets CampaignResult::failure.
CampaignResult run_nested_campaign(const CampaignOptions& options, const nested::RunOptions& run_options);

}  // namespace kvmsim::fuzz
