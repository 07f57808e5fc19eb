// Merging the reports of a sharded conformance run (`kvmsim conformance --shard I/N --format json`,
// docs/fuzz.md "Sharded campaigns"; `kvmsim merge`). The reader of format_json's output sits here too.
// Invariants: merge_reports() puts backends in first-seen order and each backend's results in registry
// order (unknown ids last, as read), one result per (backend, case): merging the shards of a run gives
// the unsharded run's report, so every format (json, junit, text) prints the same.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conformance/runner.h"
#include "sim/json/json_value.h"

namespace kvmsim::conf {

// Reads what format_json wrote; nullopt with *error naming what is wrong.
std::optional<RunReport> report_from_json(const JsonValue& v, std::string* error);
RunReport merge_reports(const std::vector<RunReport>& shards);

}  // namespace kvmsim::conf
