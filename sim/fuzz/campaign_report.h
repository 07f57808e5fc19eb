// The JSON report of a fuzz run over one or more seeds (`kvmsim fuzz --format json`, docs/json.md
// "fuzz") and the merge of shard reports (`kvmsim merge`, docs/fuzz.md "Sharded campaigns").
// Invariants: the writer is deterministic (seeds in run order, no clock: the rate stays on stderr);
// merge() orders seeds canonically (numeric for decimal seeds, then by text) and keeps one finding
// per signature (the one of the earliest seed), so merging the shards of a run gives the report that
// merge() makes of the unsharded run, byte for byte.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/fuzz/campaign.h"
#include "sim/json/json_value.h"

namespace kvmsim::fuzz {

struct SeedOutcome {
  std::string seed;    // as given
  std::size_t cases = 0, steps = 0;
  std::string result;  // "clean", "finding", "failure" (the oracle did not run or report)
  std::string failure;  // the one-line reason of a "failure"
  bool operator==(const SeedOutcome&) const = default;
};

struct FindingRecord {
  std::string signature;  // Signature::str()
  std::string seed;
  std::size_t case_index = 0;
  int line = 0;             // in the original case
  std::size_t shrunk_statements = 0;
  std::string file;         // the written trace ("" without --out)
  bool operator==(const FindingRecord&) const = default;
};

struct CampaignReport {
  std::string backend;  // the pair, A,B
  std::string profile;  // the profiles, A,B
  std::size_t steps_per_seed = 0;
  bool faults = false;
  std::string shard;    // "I/N" of the run that wrote it; "" for an unsharded or merged report
  std::vector<SeedOutcome> seeds;
  std::vector<FindingRecord> findings;
  std::map<std::string, std::size_t> explained;  // known open divergences met, by name (summed)
  std::size_t failures() const;
  int exit_code() const;  // 1 when a finding or a failure, else 0
};

// Appends one seed's campaign: its outcome, its finding (if any), its explained counts.
void add_seed(CampaignReport& report, const Seed& seed, const CampaignResult& result);
void write_json(const CampaignReport& report, std::ostream& out);
// Reads what write_json wrote; nullopt with *error naming what is missing.
std::optional<CampaignReport> campaign_report_from_json(const JsonValue& v, std::string* error);
// One report from the shards' (same backend, profile, steps, faults; else nullopt with *error).
std::optional<CampaignReport> merge(const std::vector<CampaignReport>& shards, std::string* error);

}  // namespace kvmsim::fuzz
