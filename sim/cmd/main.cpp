// kvmsim command line: the one place that parses options. Each subcommand's arguments go into its
// struct (sim/cmd/args.h) and its function (sim/cmd/commands.h) does the rest. Exit codes are the one
// table in sim/cmd/exit_codes.h (`kvmsim --exit-codes` prints it). Results go to stdout, diagnostics
// to stderr.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/version.h"

int main(int argc, char** argv) {
  using namespace kvmsim;
  CLI::App app{"kvmsim: deterministic simulator of the KVM memory uAPI and TDP MMU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_string());
  std::string exit_codes = "Exit codes:\n";
  for (const auto& row : kvmsim::exit_code_table())
    exit_codes += "  " + std::to_string(row.code) + "\t" + row.meaning + "\n";
  app.footer(exit_codes);
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "No progress lines on stderr (long runs otherwise report there after a second)");
  const std::string backends = "Backend: one of " + backend_kind_list() + ", or a pair A,B (both = model,kvm)";

  ReplayArgs replay;
  auto* rp = app.add_subcommand("replay", "Replay traces and check their expected results");
  rp->add_option("files", replay.files, "Trace files or directories (searched recursively for *.trace)")
      ->required();
  rp->add_option("--backend", replay.backend, backends)->capture_default_str();
  rp->add_option("--profile", replay.profile, "Profile for the model (default: the trace's header)");
  rp->add_flag("--update", replay.update, "Write actual results into the trace files");
  rp->add_option("--format", replay.format, "Report format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  rp->add_flag("--require-kvm", replay.require_kvm, "A backend that cannot run here fails (exit 1) instead of exit 77");
  rp->add_option("--max-host-mem", replay.max_host_mem, "Host memory cap of the kvm backend, bytes")
      ->capture_default_str();
  rp->add_option("--kvm-device", replay.kvm_device, "Device of the kvm backend")->capture_default_str();
  rp->add_flag("-v,--verbose", replay.verbose, "Print every statement's result");
  rp->add_flag("--divergences-only", replay.divergences_only,
               "With a pair: fail only where the two backends disagree, not on the traces' own expectations");

  CapsArgs caps;
  auto* cp = app.add_subcommand("caps", "Print the capabilities a profile answers");
  cp->add_option("--profile", caps.profile, "Profile name (default: the default profile)");
  cp->add_option("--format", caps.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  ProbeArgs probe;
  auto* pr = app.add_subcommand("probe", "Print what this host's /dev/kvm answers and its matching profile");
  pr->add_option("--format", probe.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  pr->add_option("--device", probe.device, "KVM device")->capture_default_str();

  auto* pp = app.add_subcommand("profiles", "List the built-in profiles");
  std::string profiles_format = "text";
  pp->add_option("--format", profiles_format, "Output format (json: docs/json.md)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  ExplainArgs explain;
  auto* ep = app.add_subcommand("explain", "Replay a trace on the model and explain the leaf covering a GPA");
  ep->add_option("file", explain.file, "Trace file")->required();
  ep->add_option("--gpa", explain.gpa, "Guest physical address (trace syntax, e.g. 3G+2M)")->required();
  ep->add_option("--at", explain.at_line, "Replay only the statements up to this line");
  ep->add_option("--vm", explain.vm, "VM handle (default: the last VM created)");
  ep->add_option("--profile", explain.profile, "Profile (default: the trace's header)");
  ep->add_option("--format", explain.format, "Output format (json: docs/json.md)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  MapArgs map;
  auto* mp = app.add_subcommand("map", "Draw the guest physical address space of a trace's VMs (docs/map.md)");
  mp->add_option("file", map.file, "Trace file")->required();
  mp->add_option("-o,--output", map.out, "Output FILE.svg or FILE.html (json: default stdout)");
  mp->add_option("--at", map.at_line, "Replay only the statements up to this line");
  mp->add_option("--vm", map.vm, "Only this VM handle (default: every VM)");
  mp->add_option("--profile", map.profile, "Profile (default: the trace's header)");
  mp->add_flag("--timeline", map.timeline, "Mapping levels after every statement instead of one snapshot");
  mp->add_option("--format", map.format, "svg, html or json (default: from the -o extension)")
      ->check(CLI::IsMember({"svg", "html", "json"}));
  CompareArgs compare;
  auto* cmp = app.add_subcommand("compare", "Run traces on the model under two profiles and report, statement by "
                                            "statement, where they differ (exit 0 agree, 1 differ)");
  cmp->add_option("files", compare.files, "Trace files or directories (searched recursively for *.trace)")
      ->required();
  cmp->add_option("--profiles", compare.profiles, "Two profiles A,B")->required();
  cmp->add_option("--format", compare.format, "Report format (json: docs/json.md)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  ConformanceArgs conformance;
  auto* conf_cmd = app.add_subcommand("conformance", "Run the conformance suite on one or more backends");
  conf_cmd->add_option("--backend", conformance.backend, "One of " + backend_kind_list() + ", both (= model,kvm), or a comma list")->capture_default_str();
  conf_cmd->add_option("--profile", conformance.profile, "Profile the model answers as (default: matches the run)");
  conf_cmd->add_option("--group", conformance.group, "Only this group (vm, memslot, gmem, attributes, prefault, "
                                                     "hugepage, dirtylog, access)");
  conf_cmd->add_option("--filter", conformance.filter, "Glob over group/name");
  conf_cmd->add_flag("--list", conformance.list, "List the selected cases and exit");
  conf_cmd->add_option("--format", conformance.format, "Report format")
      ->check(CLI::IsMember({"text", "tap", "junit", "json"}))
      ->capture_default_str();
  conf_cmd->add_option("--shard", conformance.shard,
                       "I/N: run only the selected cases at positions p with p % N == I (default: "
                       "GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS when both are set)");
  conf_cmd->add_flag("--require-kvm", conformance.require_kvm, "A backend that cannot run here fails (exit 1) instead of exit 77");
  conf_cmd->add_option("--kvm-device", conformance.kvm_device, "Device of the kvm backend")->capture_default_str();
  conf_cmd->add_option("--max-host-mem", conformance.max_host_mem, "Host memory cap of the kvm backend, bytes")
      ->capture_default_str();

  FuzzArgs fuzz;
  auto* fz = app.add_subcommand("fuzz", "Differential fuzzing of two backends with shrinking (docs/fuzz.md)");
  fz->add_option("--seed", fuzz.seed, "Seed: decimal u64, 0x hex (up to 16 digits) or 40 hex digits (default: random, printed first)");
  fz->add_option("--seeds", fuzz.seeds, "Seed range FIRST-LAST (decimal): one campaign per seed (instead of --seed)");
  fz->add_option("--shard", fuzz.shard, "I/N: run only the seeds of --seeds at positions p with p % N == I");
  fz->add_option("--format", fuzz.format, "Report format (json: docs/json.md, input of `kvmsim merge`)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  fz->add_option("--steps", fuzz.steps, "Generated statements in total (per seed)")->capture_default_str();
  fz->add_option("--backend", fuzz.backend, "Backend pair A,B of " + backend_kind_list())->capture_default_str();
  fz->add_option("--profile", fuzz.profile, "Profile both sides answer as (default: a real host's, else the default)");
  fz->add_flag("--require-kvm", fuzz.require_kvm, "A backend that cannot run here fails (exit 1) instead of exit 77");
  fz->add_option("--time-budget", fuzz.time_budget, "Stop starting new cases after this many seconds");
  fz->add_option("--out", fuzz.out, "Directory for the shrunk trace of a divergence and last-case.trace (default: "
                                    "nothing is written)");
  fz->add_option("--emit-trace", fuzz.emit_trace, "Directory: every generated case with side A's results, "
                                                  "one replayable DIR/case-NNNN.trace each");
  fz->add_flag("--faults", fuzz.faults, "Generate inject statements (backends that honour them only)");
  fz->add_flag("--no-shrink", fuzz.no_shrink, "Report a divergence without shrinking it");
  fz->add_flag("--strict", fuzz.strict, "Known open divergences (KNOWN_DIFFERENCES.md) are findings too");
  fz->add_flag("--no-invariants", fuzz.no_invariants, "Do not check the model's invariants after every statement");
  fz->add_option("--kvm-device", fuzz.kvm_device, "Device of the kvm backend")->capture_default_str();
  fz->add_option("--max-host-mem", fuzz.max_host_mem, "Host memory cap of the kvm backend, bytes")
      ->capture_default_str();

  ExportArgs export_args;
  auto* xp = app.add_subcommand("export", "Write a trace as a standalone C reproducer (docs/vmm-traces.md)");
  bool export_c = false;
  xp->add_flag("--c", export_c, "A C11 program replaying the trace on /dev/kvm with TAP output")->required();
  xp->add_option("file", export_args.file, "Trace file")->required();
  xp->add_option("-o,--output", export_args.out, "Write to FILE instead of stdout");

  ImportArgs import_args;
  auto* ip = app.add_subcommand("import", "Convert a VMM's strace log, kvmsim record's raw log or a syzkaller program to a v1 trace (docs/vmm-traces.md)");
  ip->add_option("format", import_args.format, "Input format")->required()->check(CLI::IsMember({"strace", "rawlog", "syzkaller"}));
  ip->add_option("file", import_args.file, "Log file or syzkaller program")->required();
  ip->add_option("-o,--output", import_args.out, "Write to FILE instead of stdout");

  RecordArgs record;
  auto* rc = app.add_subcommand("record", "Run a VMM under the LD_PRELOAD recorder and write its KVM calls as a v1 trace");
  rc->add_option("-o,--output", record.out, "Write to FILE instead of stdout");
  rc->add_option("--profile", record.profile, "The trace's profile header");
  rc->add_option("--raw", record.raw, "Keep the raw event log in FILE");
  rc->add_option("--note", record.notes, "A header comment line (repeatable)")->allow_extra_args(false);
  rc->add_option("command", record.command, "-- COMMAND [ARGS...]")->required();

  MergeArgs merge;
  auto* mg = app.add_subcommand("merge", "Merge the reports of a sharded fuzz or conformance run (docs/fuzz.md)");
  mg->add_option("reports", merge.files, "Reports: JSON (kvmsim fuzz/conformance --format json) or JUnit (conformance --format junit)")->required();
  mg->add_option("--format", merge.format, "Output format (junit and text: conformance reports only)")
      ->check(CLI::IsMember({"json", "junit", "text"}))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: exit 0
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes (100+) are not our contract: every usage error is 2.
    app.exit(e);
    return kExitUsage;
  }

  // Progress goes to stderr: one updating line on a terminal, a line every 5 s otherwise (sim/progress.h).
  std::optional<Progress> progress;
  if (!quiet) {
    progress.emplace(std::cerr, ::isatty(STDERR_FILENO) != 0);
    replay.progress = conformance.progress = fuzz.progress = progress->fn();
    // Text replay on a terminal already prints a line per trace as it goes: a per-trace status line would
    // only fight with them (nested boots still report).
    replay.trace_progress = !(replay.format == "text" && ::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO));
  }
  if (*rp) return run_replay(replay, std::cout, std::cerr);
  if (*cp) return run_caps(caps, std::cout, std::cerr);
  if (*pp) return profiles_format == "json" ? run_profiles_json(std::cout) : run_profiles(std::cout);
  if (*ep) return run_explain(explain, std::cout, std::cerr);
  if (*mp) return run_map(map, std::cout, std::cerr);
  if (*cmp) return run_compare(compare, std::cout, std::cerr);
  if (*conf_cmd) {
    // GoogleTest's sharding variables, as the kvmsim_conformance binary honours them (--shard wins).
    const char* index = std::getenv("GTEST_SHARD_INDEX");
    const char* total = std::getenv("GTEST_TOTAL_SHARDS");
    if (conformance.shard.empty() && index && total) conformance.shard = std::string(index) + "/" + total;
    return run_conformance(conformance, std::cout, std::cerr);
  }
  if (*mg) return run_merge(merge, std::cout, std::cerr);
  if (*fz) return run_fuzz(fuzz, std::cout, std::cerr);
  if (*pr) return run_probe(probe, std::cout, std::cerr);
  if (*ip) return run_import(import_args, std::cout, std::cerr);
  if (*xp) return run_export_c(export_args, std::cout, std::cerr);
  if (*rc) return run_record(record, std::cout, std::cerr);
  return kExitUsage;
}
