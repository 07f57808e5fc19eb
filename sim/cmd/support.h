// What several subcommands share: finding and loading trace files, and the one rule for backends
// that cannot run here (one line each, exit 77, or 1 with --require-kvm).
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/backend/backend.h"
#include "sim/trace/ast.h"

namespace kvmsim {

// Expands files and directories (recursively, *.trace) into a sorted list of files.
// Returns false and writes a one-line error when a path does not exist.
bool expand_trace_paths(const std::vector<std::string>& paths, std::vector<std::string>* files,
                        std::string* error);

bool read_text_file(const std::string& path, std::string* text);

// Reads and parses one trace; on failure prints `FILE: cannot read file` or `FILE:LINE:COL: message`.
std::optional<trace::Trace> load_trace(const std::string& file, std::ostream& err);

// Line number of the first line starting with `word` (a trace header directive), or 1.
int directive_line(const std::string& source, const std::string& word);

// "linux-7.3, linux-6.18, ..." for messages.
std::string known_profile_names();

// The profile a model run of `t` answers as: `flag` (--profile) if given, else the trace's header,
// else the default. nullptr after a one-line error naming the known profiles.
const model::Profile* trace_profile(const std::string& flag, const trace::Trace& t, std::ostream& err);

// Asks every side whether it can run here. For each that cannot, writes one line to `err`:
// `kvmsim: backend kvm unavailable: cannot open /dev/kvm: No such file or directory`. Returns the
// unavailable sides' "name: reason" texts (empty: all can run). Unless `profile_given` (--profile
// overrides the probe), also prints the note of a host that only approximately matches a profile.
std::vector<std::string> check_backends(const std::vector<std::unique_ptr<Backend>>& sides, bool profile_given,
                                        std::ostream& err);

// The exit code of a run in which `unavailable` sides could not run: 1 with --require-kvm, else 77.
int unavailable_exit(bool require);

}  // namespace kvmsim
