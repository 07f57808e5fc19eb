// The kvmsim subcommands as functions over streams, so tests can run them without a process. One
// file per subcommand in this folder; each returns an exit code from exit_codes.h. Results go to
// `out`, diagnostics to `err`.
#pragma once

#include <ostream>

#include "sim/cmd/args.h"
#include "sim/cmd/exit_codes.h"

namespace kvmsim {

int run_replay(const ReplayArgs& args, std::ostream& out, std::ostream& err);
int run_explain(const ExplainArgs& args, std::ostream& out, std::ostream& err);
// Draws the trace's VMs (or their timeline) into args.out; docs/map.md.
int run_map(const MapArgs& args, std::ostream& out, std::ostream& err);
int run_caps(const CapsArgs& args, std::ostream& out, std::ostream& err);
int run_profiles(std::ostream& out);
// `profiles --format json` (docs/json.md): {"schema": 1, "profiles": [{"name", "description", "thp", "shmem_thp"}]}.
int run_profiles_json(std::ostream& out);
// Prints the seed first, then a deterministic report (one line per case; on a divergence the
// shrunk trace and the replay command), then the rate on `err`.
int run_fuzz(const FuzzArgs& args, std::ostream& out, std::ostream& err);
// Prints what this host's /dev/kvm answers and the profile it matches (or falls back to, and why).
int run_probe(const ProbeArgs& args, std::ostream& out, std::ostream& err);
// Exit 0 when the two profiles agree on every trace, 1 when they differ, 2 on bad input.
int run_compare(const CompareArgs& args, std::ostream& out, std::ostream& err);
int run_conformance(const ConformanceArgs& args, std::ostream& out, std::ostream& err);
// `export --c`: the C program on `out` (or args.out); a trace that does not parse: its error, exit 2.
// `import strace`: the v1 trace on `out` (or args.out), a count line on `err`.
int run_import(const ImportArgs& args, std::ostream& out, std::ostream& err);
int run_export_c(const ExportArgs& args, std::ostream& out, std::ostream& err);
// `record`: runs the command under the LD_PRELOAD recorder, the trace on `out` (or args.out); exit 77 when the
// command never opened /dev/kvm, 2 when it could not be run or recorded.
int run_record(const RecordArgs& args, std::ostream& out, std::ostream& err);
// Merges shard reports (JSON) into one report of the same schema on `out`: counts summed, fuzz findings
// de-duplicated by signature. Exit 1 when the merged report has a failure or finding, 2 on bad input.
int run_merge(const MergeArgs& args, std::ostream& out, std::ostream& err);

}  // namespace kvmsim
