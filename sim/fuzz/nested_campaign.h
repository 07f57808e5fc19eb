// Fuzzing against the nested TDP oracle (`kvmsim fuzz --backend model,nested`). A VM boundary cannot
// step in lock-step, so the campaign works in batches: it generates every case first (generation
// depends on the seed only, never on answers), replays the whole batch in one boot of the oracle
// (Backend::replay_batch), replays each case on the model as the same profile, and pairs the two
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

namespace kvmsim::fuzz {

// options.side_a must be lock-step and options.side_b a batch backend, both answering as
// *options.profile_a. A batch failure (the oracle did not boot or report) sets CampaignResult::failure.
CampaignResult run_batch_campaign(const CampaignOptions& options);

}  // namespace kvmsim::fuzz
