// The one exit-code table of the kvmsim command (README "Exit codes" is printed from it by
// `kvmsim --exit-codes`). Every subcommand returns one of these and nothing else.
#pragma once

#include <vector>

namespace kvmsim {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNothingRan = 77;

struct ExitCodeRow {
  int code;
  const char* meaning;
};

inline const std::vector<ExitCodeRow>& exit_code_table() {
  static const std::vector<ExitCodeRow> rows = {
      {kExitOk, "every expectation held"},
      {kExitMismatch,
       "a mismatch, a divergence between backends, two profiles that differ (compare), or a test failure (an oracle "
       "that did not boot or report; with --require-kvm, a backend that cannot run here)"},
      {kExitUsage, "usage error or malformed input (parse errors are printed as FILE:LINE:COL: message)"},
      {kExitNothingRan,
       "nothing could run: no trace found, every trace skipped, or a requested backend cannot run here (one line "
       "names it and why)"},
  };
  return rows;
}

}  // namespace kvmsim
