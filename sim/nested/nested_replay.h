// `kvmsim replay --backend nested` and `--backend model,nested` (or nested,model): the replay subcommand
// for the nested TDP oracle. Traces are grouped by the profile they run as (--profile, else their header);
// each group that names an oracle flavour gets one boot (sim/nested/nested_runner.h), other traces are
// skipped with a line saying why. Paired runs replay each trace on the model with the same profile and
// compare with the guest's recorded results (diff_recorded: the same rules as lock-step pairs).
// Exit codes as run_replay (sim/main.cpp); a boot, module or report failure fails every trace of that
// boot (exit 1) and prints the console tail on `err`.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sim/cli.h"

namespace kvmsim::nested {

// True when --backend names the nested oracle (alone or in a pair).
bool uses_nested(const std::string& backend_spec);

// `files` are already expanded (expand_trace_paths).
int run_nested_replay_command(const ReplayArgs& args, const std::vector<std::string>& files, std::ostream& out,
                              std::ostream& err);

}  // namespace kvmsim::nested
