// The JSON form of a ReplayReport: written by ReplayReport::json() (declared in sim/replay.h) and read
// back by replay_report_from_json, both in sim/replay_json.cpp so the two cannot drift apart. The nested
// oracle is its reader: the guest kvmsim prints `replay --format json` and the host rebuilds the reports.
// Invariants: keys are written in a fixed order and read by name; a report the reader accepts has every
// statement result the writer wrote, in order; counts are recomputed from the results, never trusted.
#pragma once

#include <optional>
#include <string>

#include "sim/json/json_value.h"
#include "sim/replay.h"

namespace kvmsim {

// A ReplayReport from ReplayReport::json() output; `file` replaces the writer's file name everywhere
// (the guest's path of a trace is not the host's). nullopt with *error when `v` is not such a report.
std::optional<ReplayReport> replay_report_from_json(const JsonValue& v, const std::string& file, std::string* error);

}  // namespace kvmsim
