// The conformance runner: selects cases (group, glob filter), runs each on a fresh backend from a
// factory, and reports PASSED / FAILED / SKIPPED (+ reason) as text, TAP 13, JUnit XML or JSON.
// Invariants: every case gets its own backend instance (no state leaks between cases); a
// backend's capabilities are probed once, on a separate instance; a run in which no case passed
// is a failure (an all-skipped run must not look green). Output order is the registry order.
// `kvmsim conformance` calls run_conformance(); the exit code is 0 (all passed, skips allowed if at
// least one passed), 1 (any failure, or nothing passed), 2 (bad arguments).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "conformance/case.h"

namespace kvmsim::conf {

struct ConformanceArgs {
  std::string backend = "model";  // "model", "kvm", "both", or a comma list ("model,kvm")
  std::string profile;  // empty: linux-6.18, or linux-6.18-pvm when the kvm backend takes part
  std::string group;    // empty: every group
  std::string filter;   // glob over "group/name"; empty: everything
  bool list = false;    // print the selected case ids (with needs) and exit 0
  std::string format = "text";  // text | tap | junit | json
  bool require_kvm = false;     // an unavailable kvm backend fails instead of skipping
  u64 max_host_mem = 2ull << 30;
};

enum class Status { passed, failed, skipped };
const char* status_name(Status s);  // "PASSED", "FAILED", "SKIPPED"

struct CaseResult {
  std::string backend;
  std::string group;
  std::string name;
  Status status = Status::passed;
  std::string reason;                 // skipped: why; failed: first failure
  std::vector<std::string> failures;  // every recorded failure, "file:line: message"
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

// Probes capabilities and runs `cases`, appending to `report`. If the backend cannot be created,
// every case is SKIPPED (or FAILED when `unavailable_fails`) with the factory's error.
void run_on_backend(const std::vector<const Case*>& cases, const std::string& backend, const BackendFactory& factory,
                    bool unavailable_fails, RunReport* report);

void format_text(const RunReport& report, std::ostream& out);
void format_tap(const RunReport& report, std::ostream& out);
void format_junit(const RunReport& report, std::ostream& out);
void format_json(const RunReport& report, std::ostream& out);
// One line: "conformance: N cases, P passed, F failed, S skipped" (+ per backend when several).
std::string summary_line(const RunReport& report);

// 0 when nothing failed and at least one case passed on every backend, else 1.
int exit_code(const RunReport& report);

int run_conformance(const ConformanceArgs& args, std::ostream& out, std::ostream& err);

}  // namespace kvmsim::conf
