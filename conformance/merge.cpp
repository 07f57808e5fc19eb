#include "conformance/merge.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace kvmsim::conf {

namespace {

std::vector<std::string> strings(const JsonValue* v) {
  std::vector<std::string> out;
  if (v && v->kind == JsonValue::Kind::array)
    for (const JsonValue& s : v->items) out.push_back(s.text);
  return out;
}

}  // namespace

std::optional<RunReport> report_from_json(const JsonValue& v, std::string* error) {
  const JsonValue* backends = v.get("backends");
  const JsonValue* cases = v.get("cases");
  if (!backends || backends->kind != JsonValue::Kind::array || !cases || cases->kind != JsonValue::Kind::array) {
    *error = "not a conformance report (\"backends\" and \"cases\" arrays missing)";
    return std::nullopt;
  }
  RunReport r;
  r.backends = strings(backends);
  for (const JsonValue& c : cases->items) {
    CaseResult res;
    res.backend = c.str("backend");
    res.group = c.str("group");
    res.name = c.str("name");
    const std::string status = c.str("status");
    if (status == "PASSED") res.status = Status::passed;
    else if (status == "FAILED") res.status = Status::failed;
    else if (status == "SKIPPED") res.status = Status::skipped;
    else {
      *error = "case " + res.id() + ": unknown status '" + status + "'";
      return std::nullopt;
    }
    res.reason = c.str("reason");
    res.unobservable = strings(c.get("unobservable"));
    res.failures = strings(c.get("failures"));
    r.results.push_back(std::move(res));
  }
  return r;
}

RunReport merge_reports(const std::vector<RunReport>& shards) {
  RunReport m;
  std::map<std::string, std::size_t> order;  // case id -> registry position
  for (const Case& c : all_cases()) order.emplace(c.id(), order.size());
  std::set<std::pair<std::string, std::string>> seen;  // (backend, id)
  for (const RunReport& s : shards) {
    for (const std::string& b : s.backends)
      if (std::find(m.backends.begin(), m.backends.end(), b) == m.backends.end()) m.backends.push_back(b);
    for (const CaseResult& r : s.results)
      if (seen.emplace(r.backend, r.id()).second) m.results.push_back(r);
  }
  auto backend_pos = [&](const std::string& b) {
    return std::find(m.backends.begin(), m.backends.end(), b) - m.backends.begin();
  };
  auto case_pos = [&](const CaseResult& r) {
    auto it = order.find(r.id());
    return it == order.end() ? order.size() : it->second;
  };
  std::stable_sort(m.results.begin(), m.results.end(), [&](const CaseResult& a, const CaseResult& b) {
    return std::pair(backend_pos(a.backend), case_pos(a)) < std::pair(backend_pos(b.backend), case_pos(b));
  });
  return m;
}

}  // namespace kvmsim::conf
