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
#include "sim/trace/parser.h"

namespace kvmsim {

// `-` as a trace path: the trace is read from standard input and named `<stdin>` in FILE:LINE:COL.
inline constexpr const char* kStdinPath = "-";
inline constexpr const char* kStdinName = "<stdin>";

// Expands files and directories (recursively, *.trace) into a sorted list of files (`-` is kept as is).
// Returns false and writes a one-line error when a path does not exist.
bool expand_trace_paths(const std::vector<std::string>& paths, std::vector<std::string>* files,
                        std::string* error);

bool read_text_file(const std::string& path, std::string* text);
// `text` to `path`, or to `out` when path is empty; false (and `PATH: cannot write file` on err) on failure.
bool write_text_output(const std::string& path, const std::string& text, std::ostream& out, std::ostream& err);

// Reads and parses one trace (`-`: standard input); on failure prints `FILE: cannot read file` or
// `FILE:LINE:COL: message` to `err` and, when `error` is given, stores the same (line 0: no location).
std::optional<trace::Trace> load_trace(const std::string& file, std::ostream& err,
                                       trace::ParseError* error = nullptr);

// The JSON error object of docs/json.md: {"file", "line", "col", "message"}; an empty file and a zero
// line or col are null (an error that is not about a place in a file).
std::string error_json(const std::string& file, int line, int col, const std::string& message);
std::string error_json(const trace::ParseError& e);
// What a subcommand in JSON mode prints on stdout when it fails as a whole: {"schema": 1, "error": {...}}.
std::string error_document(const std::string& file, int line, int col, const std::string& message);

// Line number of the first line starting with `word` (a trace header directive), or 1.
int directive_line(const std::string& source, const std::string& word);

// The profile a trace runs as once its `host` header (traces/FORMAT.md) is applied: `base` itself when
// the trace has none, else a copy with the header's THP policies, kept alive in *owned. Returns nullptr
// and sets *error ("LINE: message") for a policy the model does not model (shmem THP).
const model::Profile* with_host_header(const model::Profile& base, const trace::Trace& t,
                                       std::vector<std::shared_ptr<model::Profile>>* owned, std::string* error);

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
