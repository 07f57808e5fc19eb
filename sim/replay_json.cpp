#include "sim/replay_json.h"

#include "sim/json/json.h"

namespace kvmsim {

namespace {

bool status_from_name(const std::string& name, StepStatus* s) {
  for (StepStatus c : {StepStatus::matched, StepStatus::mismatch, StepStatus::unchecked, StepStatus::unobservable,
                       StepStatus::not_run}) {
    if (name == step_status_name(c)) {
      *s = c;
      return true;
    }
  }
  return false;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

}  // namespace

std::string ReplayReport::json() const {
  auto num = [](std::size_t v) { return std::to_string(v); };
  std::string out = "{";
  out += "\"file\":" + json_quote(file);
  out += ",\"backend\":" + json_quote(backend);
  out += ",\"trace_profile\":" + json_quote(trace_profile);
  out += ",\"backend_profile\":" + json_quote(backend_profile);
  out += ",\"ok\":" + std::string(ok() ? "true" : "false");
  out += ",\"counts\":{\"statements\":" + num(counts.statements) + ",\"checked\":" + num(counts.checked) +
         ",\"matched\":" + num(counts.matched) + ",\"mismatched\":" + num(counts.mismatched) +
         ",\"unchecked\":" + num(counts.unchecked) + ",\"unobservable\":" + num(counts.unobservable) +
         ",\"not_run\":" + num(counts.not_run) + "}";
  out += ",\"results\":[";
  for (std::size_t i = 0; i < results.size(); i++) {
    const auto& r = results[i];
    if (i) out += ",";
    out += "{\"line\":" + std::to_string(r.line) + ",\"statement\":" + json_quote(r.statement) +
           ",\"status\":" + json_quote(step_status_name(r.status)) + ",\"expected\":" + json_quote(r.expected) +
           ",\"actual\":" + json_quote(r.actual) + ",\"message\":" + json_quote(r.message) +
           (r.host_limit ? ",\"host_limit\":true" : "") +
           (r.kernel_bug.empty() ? std::string() : ",\"kernel_bug\":" + json_quote(r.kernel_bug)) +
           (r.rewrite ? ",\"rewrite\":" + json_quote(*r.rewrite) : std::string()) + "}";
  }
  return out + "]}\n";
}

std::optional<ReplayReport> replay_report_from_json(const JsonValue& v, const std::string& file, std::string* error) {
  if (v.kind != JsonValue::Kind::object) {
    *error = "replay report is not an object";
    return std::nullopt;
  }
  const std::string guest_file = v.str("file");
  ReplayReport r;
  r.file = file;
  r.backend = v.str("backend");
  r.trace_profile = v.str("trace_profile");
  r.backend_profile = v.str("backend_profile");
  const JsonValue* results = v.get("results");
  if (!results || results->kind != JsonValue::Kind::array) {
    *error = "replay report has no results";
    return std::nullopt;
  }
  for (const auto& item : results->items) {
    StatementResult s;
    s.line = static_cast<int>(item.integer("line"));
    s.statement = item.str("statement");
    s.expected = item.str("expected");
    s.actual = item.str("actual");
    s.message = replace_all(item.str("message"), guest_file, file);
    s.kernel_bug = replace_all(item.str("kernel_bug"), guest_file, file);
    if (const JsonValue* h = item.get("host_limit")) s.host_limit = h->kind == JsonValue::Kind::boolean && h->boolean;
    if (const JsonValue* w = item.get("rewrite"); w && w->kind == JsonValue::Kind::string) s.rewrite = w->text;
    if (!status_from_name(item.str("status"), &s.status)) {
      *error = "unknown statement status '" + item.str("status") + "'";
      return std::nullopt;
    }
    r.results.push_back(std::move(s));
  }
  // Counts are recomputed from the statements, so they cannot disagree with them.
  r.counts = ReplayCounts::of(r.results);
  return r;
}

}  // namespace kvmsim
