#include "conformance/runner.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <sstream>

#include "sim/backends.h"
#include "sim/json/json.h"
#include "sim/nested/nested_runner.h"

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
  if (!result.failures.empty()) {
    result.status = Status::failed;
    result.reason = result.failures.front();
  }
  return result;
}

void run_on_backend(const std::vector<const Case*>& cases, const std::string& backend, const BackendFactory& factory,
                    bool unavailable_fails, RunReport* report) {
  report->backends.push_back(backend);
  std::string error;
  std::unique_ptr<KvmApi> probe = factory(&error);
  if (!probe) {
    for (const Case* c : cases) {
      CaseResult r{backend, c->group, c->name, unavailable_fails ? Status::failed : Status::skipped,
                   "backend " + backend + " unavailable: " + error, {}};
      if (unavailable_fails) r.failures.push_back(r.reason);
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
  if (report.count(Status::passed) == 0) s << " -- no case passed";
  return s.str();
}

void format_text(const RunReport& report, std::ostream& out) {
  for (const CaseResult& r : report.results) {
    out << status_name(r.status) << " " << display_id(report, r);
    if (r.status == Status::skipped) out << " (" << r.reason << ")";
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
      case Status::passed: out << "ok " << n << " - " << id << "\n"; break;
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
      if (r.status == Status::passed) {
        out << "/>\n";
        continue;
      }
      out << ">\n";
      if (r.status == Status::skipped) {
        out << "      <skipped message=\"" << xml_escape(r.reason) << "\"/>\n";
      } else {
        std::string text;
        for (const std::string& f : r.failures) text += f + "\n";
        out << "      <failure message=\"" << xml_escape(r.reason) << "\">" << xml_escape(text) << "</failure>\n";
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

// ---------------------------------------------------------------- the nested oracle

namespace {

// The nested oracle cannot create a KvmApi on the host: one boot runs the suite inside the guest against
// its /dev/kvm (`kvmsim conformance --backend kvm --format json`), and the guest's results for the
// selected cases are reported as backend "nested". A failed boot fails every selected case.
void run_on_nested(const std::vector<const Case*>& cases, const model::Profile& profile, const std::string& group,
                   const std::string& filter, RunReport* report, std::ostream& diag) {
  report->backends.push_back("nested");
  // --group and --filter travel to the guest's `--list` (its /init splits them with globbing off); a
  // filter with blanks would not survive that split, so then the guest lists everything and the
  // selection below picks the cases.
  std::string guest_args = group.empty() ? "" : "--group " + group;
  if (!filter.empty() && filter.find_first_of(" \t\n") == std::string::npos)
    guest_args += (guest_args.empty() ? "" : " ") + std::string("--filter ") + filter;
  nested::RunOptions options;
  // Per case: a case that hangs in the kernel fails alone. fill_all_slots (32764 slots) takes ~25 s in
  // TCG when the machine is busy, so the bound is generous.
  options.trace_timeout_s = 120;
  options.timeout_s = 1500;
  nested::BootRun run = nested::run_nested_conformance(profile, guest_args, options);
  if (run.ok) {
    char line[200];
    std::snprintf(line, sizeof line, "; boot %.2f s, insmod %.2f s, %zu cases %.2f s, wall %.2f s", run.boot_seconds,
                  run.insmod_seconds, run.conformance->items.size(), run.conformance_seconds, run.wall_seconds);
    diag << "nested " << run.profile << ": " << run.versions() << "; kvm " << run.kvm_params << line << "\n";
  } else {
    diag << "conformance: nested oracle (" << profile.name << ") failed: " << run.failure << "\n";
  }
  for (const Case* c : cases) {
    CaseResult r{"nested", c->group, c->name, Status::failed, {}, {}};
    const nested::JsonValue* entry = nullptr;  // the guest's run of this case
    const nested::JsonValue* found = nullptr;  // its result in that run's report
    if (run.ok) {
      for (const auto& e : run.conformance->items)
        if (e.str("id") == c->id()) entry = &e;
      if (const nested::JsonValue* rep = entry ? entry->get("report") : nullptr)
        if (const nested::JsonValue* list = rep->get("cases"))
          for (const auto& item : list->items)
            if (item.str("backend") == "kvm" && item.str("group") == c->group && item.str("name") == c->name)
              found = &item;
    }
    if (!run.ok) {
      r.reason = "the nested oracle did not run: " + run.failure.substr(0, run.failure.find('\n'));
    } else if (!entry) {
      r.reason = "the nested guest did not run this case";
    } else if (!found) {
      const long long rc = entry->integer("exit", -1);
      r.reason = "no result from the nested guest (its kvmsim exited " + std::to_string(rc) +
                 (rc == 143 ? ", killed by the per-case timeout" : "") + ")";
    } else {
      const std::string st = found->str("status");
      r.status = st == "PASSED" ? Status::passed : st == "SKIPPED" ? Status::skipped : Status::failed;
      r.reason = found->str("reason");
      if (const nested::JsonValue* f = found->get("failures"))
        for (const auto& item : f->items) r.failures.push_back(item.text);
    }
    if (r.status == Status::failed && r.failures.empty()) r.failures.push_back(r.reason);
    report->results.push_back(std::move(r));
  }
}

}  // namespace

// ---------------------------------------------------------------- entry point

int run_conformance(const ConformanceArgs& args, std::ostream& out, std::ostream& err) {
  // Backends.
  std::vector<std::string> backends;
  if (args.backend == "both") {
    backends = {"model", "kvm"};
  } else {
    std::string item;
    std::istringstream in(args.backend);
    while (std::getline(in, item, ','))
      if (!item.empty()) backends.push_back(item);
  }
  if (backends.empty()) {
    err << "conformance: no backend given\n";
    return 2;
  }
  const auto& known = backend_names();
  const bool with_nested = std::find(backends.begin(), backends.end(), "nested") != backends.end();
  for (const std::string& b : backends) {
    if (b != "nested" && std::find(known.begin(), known.end(), b) == known.end()) {
      err << "conformance: unknown backend '" << b << "'\n";
      return 2;
    }
  }
  if (args.format != "text" && args.format != "tap" && args.format != "junit" && args.format != "json") {
    err << "conformance: unknown format '" << args.format << "' (text, tap, junit, json)\n";
    return 2;
  }
  if (!args.group.empty()) {
    const auto& g = group_names();
    if (std::find(g.begin(), g.end(), args.group) == g.end()) {
      err << "conformance: unknown group '" << args.group << "'\n";
      return 2;
    }
  }
  // The profile: the model answers as this machine's kernel when paired with it.
  std::string profile_name = args.profile;
  if (profile_name.empty()) {
    const bool with_kvm = std::find(backends.begin(), backends.end(), "kvm") != backends.end();
    profile_name = with_kvm ? "linux-6.18-pvm" : with_nested ? "linux-6.12" : model::default_profile().name;
  }
  if (with_nested && !nested::is_flavour(profile_name)) {
    err << "conformance: the nested oracle runs only as a 6.12 flavour profile, not '" << profile_name << "'\n";
    return 2;
  }
  const model::Profile* profile = model::find_profile(profile_name);
  if (!profile) {
    err << "conformance: unknown profile '" << profile_name << "'\n";
    return 2;
  }

  const std::vector<const Case*> cases = select_cases(args.group, args.filter);
  if (args.list) {
    for (const Case* c : cases) {
      out << c->id();
      if (!c->needs.empty()) {
        out << "  needs:";
        for (Need n : c->needs) out << " " << need_name(n);
      }
      out << "\n";
    }
    return 0;
  }
  if (cases.empty()) {
    err << "conformance: no case matches\n";
    return 1;
  }

  RunReport report;
  BackendOptions options;
  options.max_host_mem = args.max_host_mem;
  for (const std::string& b : backends) {
    if (b == "nested") {
      run_on_nested(cases, *profile, args.group, args.filter, &report, err);
      continue;
    }
    BackendFactory factory = [b, profile, options](std::string* error) {
      return make_backend(b, *profile, options, error);
    };
    run_on_backend(cases, b, factory, args.require_kvm && b == "kvm", &report);
  }
  if (args.format == "tap") {
    format_tap(report, out);
  } else if (args.format == "junit") {
    format_junit(report, out);
  } else if (args.format == "json") {
    format_json(report, out);
  } else {
    format_text(report, out);
  }
  if (args.format != "text") err << summary_line(report) << "\n";
  return exit_code(report);
}

}  // namespace kvmsim::conf
