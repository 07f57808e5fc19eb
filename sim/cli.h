// The kvmsim subcommands as functions over streams, so tests can run them without a process.
// Each returns the process exit code (see the constants below, documented in README.md).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "model/types.h"

namespace kvmsim {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNothingRan = 77;

struct ReplayArgs {
  std::vector<std::string> files;
  std::string backend = "model";
  std::string profile;  // empty: the trace's `profile` header, else the default profile
  bool update = false;
  std::string format = "text";
  bool require_kvm = false;
  u64 max_host_mem = 2ull << 30;
  bool verbose = false;
  // Pairs only: a trace passes when the two backends agree on every statement both ran, whatever
  // its own expectations say (traces written for another profile than the host's).
  bool divergences_only = false;
};

struct CapsArgs {
  std::string profile = "linux-6.18";
  std::string format = "text";
};

struct ExplainArgs {
  std::string file;
  std::string gpa;      // an expression in trace syntax: 3G+2M
  int at_line = 0;      // replay statements on lines <= at_line (0: the whole trace)
  std::string vm;       // VM handle name (default: the last VM the replayed part created)
  std::string profile;  // as for replay
};

struct ProbeArgs {
  std::string format = "text";
  std::string device = "/dev/kvm";
};

// kvmsim fuzz (sim/fuzz/fuzz_cli.cpp, docs/fuzz.md).
struct FuzzArgs {
  std::string seed;              // decimal u64 or 40 hex digits; empty: drawn at random and printed
  u64 steps = 1000;
  std::string backend = "model,kvm";  // any pair A,B that make_backend accepts
  std::string profile;           // the model side's profile (default: the host's when paired with kvm)
  double time_budget = 0;        // seconds, 0 = none
  std::string out = "fuzz-out";  // where a shrunk divergence is written
  std::string emit_trace;        // write every case with the observed results of side A
  bool faults = false;
  bool no_shrink = false;
  bool strict = false;
  bool no_invariants = false;
  u64 max_host_mem = 2ull << 30;
};

int run_replay(const ReplayArgs& args, std::ostream& out, std::ostream& err);
int run_explain(const ExplainArgs& args, std::ostream& out, std::ostream& err);
int run_caps(const CapsArgs& args, std::ostream& out, std::ostream& err);
int run_profiles(std::ostream& out);
// Prints the seed first, then a deterministic report (one line per case; on a divergence the
// shrunk trace and the replay command), then the rate on `err`. Exit: 0 no divergence, 1
// divergence (trace written), 2 usage, 77 a backend is unavailable.
int run_fuzz(const FuzzArgs& args, std::ostream& out, std::ostream& err);
// Prints what this host's /dev/kvm answers (release, MMU module params, THP policy, VM types, every
// cap on /dev/kvm and on a default VM), the matching profile and the caps where they differ.
// Returns kExitNothingRan with a one-line reason on `err` when the device cannot be opened.
int run_probe(const ProbeArgs& args, std::ostream& out, std::ostream& err);

// Expands files and directories (recursively, *.trace) into a sorted list of files.
// Returns false and writes a one-line error when a path does not exist.
bool expand_trace_paths(const std::vector<std::string>& paths, std::vector<std::string>* files,
                        std::string* error);

}  // namespace kvmsim
