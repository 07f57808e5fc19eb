// The arguments of every kvmsim subcommand, as plain structs: sim/cmd/main.cpp fills them from the
// command line (the one place that parses options) and tests fill them directly.
#pragma once

#include <string>
#include <vector>

#include "model/types.h"
#include "sim/progress.h"

namespace kvmsim {

struct ReplayArgs {
  std::vector<std::string> files;
  std::string backend = "model";
  std::string profile;  // empty: the trace's `profile` header, else the default profile
  bool update = false;
  std::string format = "text";
  bool require_kvm = false;  // a backend that cannot run here is a failure (exit 1), not exit 77
  u64 max_host_mem = 2ull << 30;
  std::string kvm_device = "/dev/kvm";
  bool verbose = false;
  // Pairs only: a trace passes when the two backends agree on every statement both ran, whatever
  // its own expectations say (traces written for another profile than the host's).
  bool divergences_only = false;
  ProgressFn progress;  // long runs report on stderr through this (empty: --quiet, tests)
  bool trace_progress = true;  // also report trace by trace (not when the text report streams to the same terminal)
};

struct CapsArgs {
  std::string profile;  // empty: the default profile
  std::string format = "text";
};

struct ExplainArgs {
  std::string file;
  std::string gpa;      // an expression in trace syntax: 3G+2M
  int at_line = 0;      // replay statements on lines <= at_line (0: the whole trace)
  std::string vm;       // VM handle name (default: the last VM the replayed part created)
  std::string profile;  // as for replay
  std::string format = "text";  // text | json (docs/json.md)
};

// kvmsim map (sim/cmd/map_cmd.cpp, docs/map.md).
struct MapArgs {
  std::string file;
  std::string out;       // -o: FILE.svg or FILE.html (json: optional, default stdout)
  int at_line = 0;       // replay statements on lines <= at_line (0: the whole trace)
  std::string vm;        // only this VM handle (default: every VM)
  std::string profile;   // as for replay
  bool timeline = false;
  std::string format;    // svg | html | json; empty: from the extension of `out`
};

// kvmsim compare (sim/cmd/compare_cmd.cpp, sim/compare/compare.h).
struct CompareArgs {
  std::string profiles;  // "A,B"
  std::vector<std::string> files;
  std::string format = "text";  // text | json (docs/json.md)
};

struct ProbeArgs {
  std::string format = "text";
  std::string device = "/dev/kvm";
};

// kvmsim fuzz (sim/cmd/fuzz_cmd.cpp, docs/fuzz.md).
struct FuzzArgs {
  std::string seed;              // decimal u64, 0x hex, or 40 hex digits; empty: drawn at random and printed
  std::string seeds;             // FIRST-LAST: one campaign per seed of the range (instead of --seed)
  std::string shard;             // I/N: only the seeds of the range shard I owns (sim/fuzz/shard.h)
  std::string format = "text";   // text | json (sim/fuzz/campaign_report.h)
  u64 steps = 1000;
  std::string backend = "model,kvm";  // a pair A,B of backend kinds (sim/backend/backend.h)
  std::string profile;           // the profile both sides answer as (default: a real host's, else the default)
  double time_budget = 0;        // seconds, 0 = none
  std::string out;               // where a shrunk divergence (and last-case.trace) is written; empty: nowhere
  std::string emit_trace;        // a directory: one trace per case with the observed results of side A
  bool faults = false;
  bool no_shrink = false;
  bool strict = false;
  bool no_invariants = false;
  bool require_kvm = false;
  u64 max_host_mem = 2ull << 30;
  std::string kvm_device = "/dev/kvm";
  ProgressFn progress;           // cases and shrinking, nested boots (empty: --quiet, tests)
};

struct ConformanceArgs {
  std::string backend = "model";  // a backend kind, "both", or a comma list ("model,kvm")
  std::string profile;  // empty: a real host's profile when one takes part, else the default
  std::string group;    // empty: every group
  std::string filter;   // glob over "group/name"; empty: everything
  bool list = false;    // print the selected case ids (with needs) and exit 0
  std::string format = "text";  // text | tap | junit | json
  std::string shard;            // I/N: only the selected cases shard I owns (sim/fuzz/shard.h); "" all
  bool require_kvm = false;     // a backend that cannot run here fails instead of exit 77
  u64 max_host_mem = 2ull << 30;
  std::string kvm_device = "/dev/kvm";
  ProgressFn progress;          // nested boots (empty: --quiet, tests)
};

// `kvmsim export --c TRACE`: the trace as a standalone C program (sim/export/c_repro.h).
struct ExportArgs {
  std::string file;
  std::string out;  // -o FILE; empty: stdout
};

// `kvmsim import strace|syzkaller FILE [-o OUT]` (sim/import/).
struct ImportArgs {
  std::string format;  // strace, syzkaller
  std::string file;
  std::string out;  // empty: stdout
};

// `kvmsim record [-o OUT] [--profile P] [--raw LOG] [--note TEXT]... -- COMMAND [ARGS...]` (sim/cmd/record_cmd.cpp).
struct RecordArgs {
  std::vector<std::string> command;
  std::string out;      // empty: stdout
  std::string profile;  // the trace's `profile` header; empty: none
  std::string raw;      // keep the raw event log here; empty: a temporary file, removed
  std::vector<std::string> notes;  // extra header comment lines
};

// kvmsim merge (sim/cmd/merge_cmd.cpp): JSON reports of shards of one run, all fuzz or all conformance.
struct MergeArgs {
  std::vector<std::string> files;
  std::string format = "json";  // json; conformance reports also junit | text
};

}  // namespace kvmsim
