#include "conformance/runner.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <sstream>

#include "sim/json/json.h"

namespace kvmsim::conf {

const char* status_name(Status s) {
  switch (s) {
    case Status::passed: return "PASSED";
    case Status::failed: return "FAILED";
    case Status::skipped: return "SKIPPED";
  }
  return "?";
}

int RunReport::count(Status s) const {
  int n = 0;
  for (const CaseResult& r : results) n += r.status == s;
  return n;
}

int RunReport::count(const std::string& backend, Status s) const {
  int n = 0;
  for (const CaseResult& r : results) n += r.backend == backend && r.status == s;
  return n;
}

std::vector<const Case*> select_cases(const std::string& group, const std::string& glob) {
  std::vector<const Case*> out;
  for (const Case& c : all_cases()) {
    if (!group.empty() && c.group != group) continue;
    if (!glob.empty() && fnmatch(glob.c_str(), c.id().c_str(), 0) != 0) continue;
    out.push_back(&c);
  }
  return out;
}

CaseResult run_case(const Case& c, const std::string& backend, const BackendFactory& factory,
                    const Capabilities& caps) {
  CaseResult result{backend, c.group, c.name, Status::passed, {}, {}};
  for (Need n : c.needs) {
    if (!caps.has(n)) {
      result.status = Status::skipped;
      result.reason = std::string("needs ") + need_name(n);
      return result;
    }
  }
  std::string error;
  std::unique_ptr<KvmApi> api = factory(&error);
  if (!api) {
    result.status = Status::failed;
    result.reason = "backend " + backend + " could not be created: " + error;
    result.failures.push_back(result.reason);
    return result;
  }
  Check check(*api, caps);
  try {
    c.fn(check);
  } catch (const CaseEnd& end) {
    if (end.kind == CaseEnd::Kind::skipped) {
      result.status = Status::skipped;
      result.reason = end.reason;
      return result;
    }
  } catch (const std::exception& e) {
    check.fail(std::string("exception: ") + e.what(), std::source_location::current());
  }
  result.failures = check.failures();
  result.unobservable = check.unobservable();
  if (!result.failures.empty()) {
    result.status = Status::failed;
    result.reason = result.failures.front();
  }
  return result;
}

void run_on_backend(const std::vector<const Case*>& cases, const std::string& backend, const BackendFactory& factory,
                    RunReport* report) {
  report->backends.push_back(backend);
  std::string error;
  std::unique_ptr<KvmApi> probe = factory(&error);
  if (!probe) {
    // The caller checked availability first (sim/backend: Backend::unavailable); a session that still
    // cannot be opened is a failure of that backend, reported once per case.
    for (const Case* c : cases) {
      CaseResult r{backend, c->group, c->name, Status::failed, "backend " + backend + ": " + error, {}};
      r.failures.push_back(r.reason);
      report->results.push_back(std::move(r));
    }
    return;
  }
  const Capabilities caps = probe_capabilities(*probe);
  probe.reset();
  for (const Case* c : cases) report->results.push_back(run_case(*c, backend, factory, caps));
}

// ---------------------------------------------------------------- formats

namespace {

std::string display_id(const RunReport& report, const CaseResult& r) {
  return report.backends.size() > 1 ? r.backend + "/" + r.id() : r.id();
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

// TAP descriptions and directives must stay on one line and must not contain '#'.
std::string tap_safe(const std::string& s) {
  std::string out;
  for (char ch : s) out += (ch == '\n' || ch == '#') ? ' ' : ch;
  return out;
}

}  // namespace

std::string summary_line(const RunReport& report) {
  std::ostringstream s;
  s << "conformance: " << report.results.size() << " cases, " << report.count(Status::passed) << " passed, "
    << report.count(Status::failed) << " failed, " << report.count(Status::skipped) << " skipped";
  if (report.backends.size() > 1) {
    s << " (";
    for (size_t i = 0; i < report.backends.size(); ++i) {
      const std::string& b = report.backends[i];
      s << (i ? "; " : "") << b << ": " << report.count(b, Status::passed) << " passed, "
        << report.count(b, Status::failed) << " failed, " << report.count(b, Status::skipped) << " skipped";
    }
    s << ")";
  }
  int partial = 0;
  for (const CaseResult& r : report.results) partial += r.status == Status::passed && !r.unobservable.empty();
  if (partial) s << "; " << partial << " passed with unobservable checks";
  if (report.count(Status::passed) == 0) s << " -- no case passed";
  return s.str();
}

void format_text(const RunReport& report, std::ostream& out) {
  for (const CaseResult& r : report.results) {
    out << status_name(r.status) << " " << display_id(report, r);
    if (r.status == Status::skipped) out << " (" << r.reason << ")";
    if (!r.unobservable.empty())
      out << " (" << r.unobservable.size() << " check" << (r.unobservable.size() == 1 ? "" : "s")
          << " unobservable on " << r.backend << ")";
    out << "\n";
    if (r.status == Status::failed)
      for (const std::string& f : r.failures) out << "    " << f << "\n";
  }
  out << summary_line(report) << "\n";
}

void format_tap(const RunReport& report, std::ostream& out) {
  out << "TAP version 13\n1.." << report.results.size() << "\n";
  int n = 0;
  for (const CaseResult& r : report.results) {
    ++n;
    const std::string id = tap_safe(display_id(report, r));
    switch (r.status) {
      case Status::passed:
        out << "ok " << n << " - " << id << "\n";
        for (const std::string& u : r.unobservable) out << "# unobservable: " << tap_safe(u) << "\n";
        break;
      case Status::skipped: out << "ok " << n << " - " << id << " # SKIP " << tap_safe(r.reason) << "\n"; break;
      case Status::failed:
        out << "not ok " << n << " - " << id << "\n  ---\n  failures:\n";
        for (const std::string& f : r.failures) out << "    - " << json_quote(f) << "\n";
        out << "  ...\n";
        break;
    }
  }
  out << "# " << summary_line(report) << "\n";
}

void format_junit(const RunReport& report, std::ostream& out) {
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"kvmsim-conformance\" tests=\"" << report.results.size() << "\" failures=\""
      << report.count(Status::failed) << "\" skipped=\"" << report.count(Status::skipped) << "\">\n";
  for (const std::string& b : report.backends) {
    int tests = 0;
    for (const CaseResult& r : report.results) tests += r.backend == b;
    out << "  <testsuite name=\"" << xml_escape(b) << "\" tests=\"" << tests << "\" failures=\""
        << report.count(b, Status::failed) << "\" errors=\"0\" skipped=\"" << report.count(b, Status::skipped)
        << "\">\n";
    for (const CaseResult& r : report.results) {
      if (r.backend != b) continue;
      out << "    <testcase classname=\"" << xml_escape(b + "." + r.group) << "\" name=\"" << xml_escape(r.name)
          << "\"";
      if (r.status == Status::passed && r.unobservable.empty()) {
        out << "/>\n";
        continue;
      }
      out << ">\n";
      if (r.status == Status::skipped) {
        out << "      <skipped message=\"" << xml_escape(r.reason) << "\"/>\n";
      } else if (r.status == Status::failed) {
        std::string text;
        for (const std::string& f : r.failures) text += f + "\n";
        out << "      <failure message=\"" << xml_escape(r.reason) << "\">" << xml_escape(text) << "</failure>\n";
      }
      if (!r.unobservable.empty()) {  // for every status, so `kvmsim merge` reads back what JSON holds
        std::string text;
        for (const std::string& u : r.unobservable) text += "unobservable: " + u + "\n";
        out << "      <system-out>" << xml_escape(text) << "</system-out>\n";
      }
      out << "    </testcase>\n";
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

void format_json(const RunReport& report, std::ostream& out) {
  out << "{\"schema\": 1, \"backends\": [";
  for (size_t i = 0; i < report.backends.size(); ++i) out << (i ? ", " : "") << json_quote(report.backends[i]);
  out << "], \"cases\": [";
  for (size_t i = 0; i < report.results.size(); ++i) {
    const CaseResult& r = report.results[i];
    out << (i ? ",\n  " : "\n  ") << "{\"backend\": " << json_quote(r.backend) << ", \"group\": " << json_quote(r.group)
        << ", \"name\": " << json_quote(r.name) << ", \"status\": " << json_quote(status_name(r.status));
    if (!r.reason.empty()) out << ", \"reason\": " << json_quote(r.reason);
    if (!r.unobservable.empty()) {
      out << ", \"unobservable\": [";
      for (size_t j = 0; j < r.unobservable.size(); ++j) out << (j ? ", " : "") << json_quote(r.unobservable[j]);
      out << "]";
    }
    if (!r.failures.empty()) {
      out << ", \"failures\": [";
      for (size_t j = 0; j < r.failures.size(); ++j) out << (j ? ", " : "") << json_quote(r.failures[j]);
      out << "]";
    }
    out << "}";
  }
  out << "\n], \"summary\": {\"total\": " << report.results.size() << ", \"passed\": " << report.count(Status::passed)
      << ", \"failed\": " << report.count(Status::failed) << ", \"skipped\": " << report.count(Status::skipped)
      << "}, \"exit_code\": " << exit_code(report) << "}\n";
}

int exit_code(const RunReport& report) {
  if (report.count(Status::failed) > 0 || report.count(Status::passed) == 0) return 1;
  // A backend on which every case skipped ran nothing: that must not look green either.
  for (const auto& b : report.backends)
    if (report.count(b, Status::passed) == 0) return 1;
  return 0;
}

// ---------------------------------------------------------------- batch backends

void run_on_batch(const std::vector<const Case*>& cases, Backend& backend, const model::Profile& profile,
                  const std::string& group, const std::string& filter, RunReport* report, std::ostream& diag) {
  report->backends.push_back(backend.name());
  std::vector<BatchCase> results;
  BatchRun run = backend.conformance_batch(profile, group, filter, &results);
  if (run.ok) diag << run.summary << "\n";
  else diag << "conformance: backend " << backend.name() << " (" << profile.name << ") failed: " << run.failure << "\n";
  for (const Case* c : cases) {
    CaseResult r{backend.name(), c->group, c->name, Status::failed, {}, {}};
    auto it = std::find_if(results.begin(), results.end(), [&](const BatchCase& b) { return b.id == c->id(); });
    if (!run.ok) {
      r.reason = "backend " + backend.name() + " did not run: " + run.failure.substr(0, run.failure.find('\n'));
    } else if (it == results.end()) {
      r.reason = "backend " + backend.name() + " did not run this case";
    } else {
      r.status = it->status == "PASSED" ? Status::passed : it->status == "SKIPPED" ? Status::skipped : Status::failed;
      r.reason = it->reason;
      r.failures = it->failures;
      r.unobservable = it->unobservable;
    }
    if (r.status == Status::failed && r.failures.empty()) r.failures.push_back(r.reason);
    report->results.push_back(std::move(r));
  }
}

}  // namespace kvmsim::conf
