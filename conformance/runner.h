// The conformance runner: selects cases (group, glob filter), runs each on a fresh backend from a
// factory, and reports PASSED / FAILED / SKIPPED (+ reason) as text, TAP 13, JUnit XML or JSON.
// Invariants: every case gets its own backend instance (no state leaks between cases); a
// backend's capabilities are probed once, on a separate instance; a run in which no case passed
// is a failure (an all-skipped run must not look green). Output order is the registry order.
// Lock-step backends run case by case on fresh sessions (run_on_backend); batch backends run the whole
// selection at once (run_on_batch). `kvmsim conformance` (sim/cmd/conformance_cmd.cpp) drives it.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "conformance/case.h"
#include "sim/backend/backend.h"

namespace kvmsim::conf {

enum class Status { passed, failed, skipped };
const char* status_name(Status s);  // "PASSED", "FAILED", "SKIPPED"

struct CaseResult {
  std::string backend;
  std::string group;
  std::string name;
  Status status = Status::passed;
  std::string reason;                 // skipped: why; failed: first failure
  std::vector<std::string> failures;  // every recorded failure, "file:line: message"
  // Checks the backend could not observe (mapping levels on a real kernel): a PASSED case with these
  // passed only in what was observed, and says so in every report format.
  std::vector<std::string> unobservable;
  std::string id() const { return group + "/" + name; }
};

struct RunReport {
  std::vector<std::string> backends;  // in run order
  std::vector<CaseResult> results;
  int count(Status s) const;
  int count(const std::string& backend, Status s) const;
};

// Creates a fresh backend, or returns nullptr and sets *error.
using BackendFactory = std::function<std::unique_ptr<KvmApi>(std::string* error)>;

// Cases whose group equals `group` (empty: all) and whose "group/name" matches `glob` (empty: all).
std::vector<const Case*> select_cases(const std::string& group, const std::string& glob);

// Runs one case on a fresh backend from `factory`; the capabilities decide SKIPPED.
CaseResult run_case(const Case& c, const std::string& backend, const BackendFactory& factory,
                    const Capabilities& caps);

// Probes capabilities and runs `cases`, appending to `report`. The backend must be available (the
// caller asked Backend::unavailable() first); a session that cannot be opened fails every case.
void run_on_backend(const std::vector<const Case*>& cases, const std::string& backend, const BackendFactory& factory,
                    RunReport* report);

// Runs `cases` on a batch backend (one batch for the whole selection: `group`/`filter` are passed on so
// it runs no more than needed) and appends one result per case; a failed batch fails every case.
// One line about the batch (where it ran, or why it failed) goes to `diag`.
void run_on_batch(const std::vector<const Case*>& cases, Backend& backend, const model::Profile& profile,
                  const std::string& group, const std::string& filter, RunReport* report, std::ostream& diag);

void format_text(const RunReport& report, std::ostream& out);
void format_tap(const RunReport& report, std::ostream& out);
void format_junit(const RunReport& report, std::ostream& out);
void format_json(const RunReport& report, std::ostream& out);
// One line: "conformance: N cases, P passed, F failed, S skipped" (+ per backend when several).
std::string summary_line(const RunReport& report);

// 0 when nothing failed and at least one case passed on every backend, else 1.
int exit_code(const RunReport& report);

}  // namespace kvmsim::conf
