#include "sim/differential.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "model/core_assert.h"
#include "sim/json/json.h"

namespace kvmsim {

namespace {


// Drops the trailing newline ReplayReport::json() ends with, so it nests.
std::string nested(std::string json) {
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

void side_problems(const ReplayReport& r, const std::string& trace_profile, std::string* out) {
  std::string label = profile_label(trace_profile, r.backend_profile);
  for (const auto& s : r.results) {
    bool problem = s.status == StepStatus::mismatch || s.status == StepStatus::not_run;
    if (!problem) continue;
    *out += "  " + r.backend + ": " + (label.empty() ? "" : label + ": ") + s.message + "\n";
  }
}

// One statement's two results, as lock-step and recorded pairing both compare them: unobservable on
// either side is never a divergence; the first divergence is kept, later ones only counted; a host
// limit on either side stops the comparison (see differential.h).
void compare_statement(const StatementResult& x, const StatementResult& y, const std::string& a_name,
                       const std::string& b_name, DiffReport* d) {
  if (d->stopped) return;
  if (x.host_limit || y.host_limit) {
    const StatementResult& refused = x.host_limit ? x : y;
    d->stopped = DiffReport::HostLimitStop{x.line, x.statement, x.host_limit ? a_name : b_name, refused.message};
    return;
  }
  auto cx = comparable_actual(x), cy = comparable_actual(y);
  if (!cx || !cy || *cx == *cy) return;
  if (d->divergences++ == 0) d->first = Divergence{x.line, x.statement, *cx, *cy};
}

}  // namespace

std::optional<std::string> comparable_actual(const StatementResult& r) {
  switch (r.status) {
    case StepStatus::unobservable: return std::nullopt;
    case StepStatus::not_run: return std::string("not run");
    default: break;
  }
  // A binding's value is a host address or fd number: only whether it worked is comparable.
  if (r.expected == "success") return r.status == StepStatus::matched ? std::string("ok") : "failed: " + r.actual;
  return r.actual;
}

std::string profile_label(const std::string& trace_profile, const std::string& backend_profile) {
  if (trace_profile.empty() || trace_profile == backend_profile) return "";
  return "profile difference (trace written for " + trace_profile + ", backend answers as " + backend_profile + ")";
}

LockstepPair::LockstepPair(std::string file, std::optional<std::string> trace_profile, KvmApi& a, KvmApi& b,
                           ReplayOptions options)
    : a_(a), b_(b), ra_(file, trace_profile, a, options), rb_(file, trace_profile, b, options) {
  d_.file = std::move(file);
  d_.trace_profile = trace_profile.value_or("");
}

void LockstepPair::step(const trace::Statement& st, const std::function<void(const StatementResult&)>& after_step) {
  StatementResult x = ra_.step(st);
  StatementResult y = rb_.step(st);
  if (after_step) after_step(x);
  compare_statement(x, y, a_.backend_name(), b_.backend_name(), &d_);
}

DiffReport LockstepPair::report() const {
  DiffReport d = d_;
  d.a = ra_.report();
  d.b = rb_.report();
  return d;
}

DiffReport replay_pair(const trace::Trace& trace, KvmApi& a, KvmApi& b,
                       const std::function<void(const StatementResult&)>& after_step) {
  LockstepPair pair(trace.file, trace.profile, a, b);
  for (const trace::Statement& st : trace.statements) pair.step(st, after_step);
  return pair.report();
}

DiffReport diff_recorded(const trace::Trace& trace, const ReplayReport& a, const ReplayReport& b) {
  DiffReport d;
  d.file = trace.file;
  d.trace_profile = trace.profile.value_or("");
  d.a = a;
  d.b = b;
  // A recorded report comes from another process (a guest): it is input, not an invariant. A report
  // that stops early or steps other lines than the trace is a divergence, not an abort.
  const std::size_t n = trace.statements.size();
  for (std::size_t i = 0; i < n; i++) {
    const trace::Statement& st = trace.statements[i];
    const StatementResult* x = i < a.results.size() ? &a.results[i] : nullptr;
    const StatementResult* y = i < b.results.size() ? &b.results[i] : nullptr;
    bool x_ok = x && x->line == st.line, y_ok = y && y->line == st.line;
    if (x_ok && y_ok) {
      compare_statement(*x, *y, a.backend, b.backend, &d);
      continue;
    }
    if (d.divergences++ == 0) {
      d.first = Divergence{st.line, x_ok ? x->statement : y_ok ? y->statement : "",
                           x_ok ? comparable_actual(*x).value_or("unobservable") : "no result recorded",
                           y_ok ? comparable_actual(*y).value_or("unobservable") : "no result recorded"};
    }
  }
  return d;
}

std::string DiffReport::text(bool divergences_only) const {
  std::string out;
  if (first) {
    out += "  " + file + ":" + std::to_string(first->line) + ": " + a.backend + " " + first->a_actual + ", " +
           b.backend + " " + first->b_actual + "\n      " + first->statement + "\n";
  }
  if (stopped) {
    out += "  " + file + ":" + std::to_string(stopped->line) +
           ": comparison stopped: " + stopped->backend +
           " could not run this statement on this host; later statements are not compared\n      " + stopped->statement +
           "\n";
  }
  side_problems(a, trace_profile, &out);
  side_problems(b, trace_profile, &out);
  const char* verdict = divergences_only ? (divergences == 0 ? "AGREE " : "DIVERGE ") : (ok() ? "PASS " : "FAIL ");
  std::string head = std::string(verdict) + file + " [" + a.backend + "/" + a.backend_profile +
                     " vs " + b.backend + "/" + b.backend_profile + "] " + std::to_string(a.counts.statements) +
                     " statements, " + std::to_string(divergences) + " divergent";
  auto side = [&](const ReplayReport& r) {
    std::string s = ", " + r.backend + " " + std::to_string(r.counts.matched) + "/" + std::to_string(r.counts.checked) +
                    " matched";
    if (r.counts.mismatched) s += " " + std::to_string(r.counts.mismatched) + " mismatched";
    if (r.counts.not_run) s += " " + std::to_string(r.counts.not_run) + " not run";
    if (r.counts.unobservable) s += " " + std::to_string(r.counts.unobservable) + " unobservable";
    return s;
  };
  head += side(a) + side(b) + "\n";
  return head + out;
}

std::string DiffReport::json() const {
  std::string out = "{\"file\":" + json_quote(file) + ",\"trace_profile\":" + json_quote(trace_profile) +
                    ",\"ok\":" + (ok() ? "true" : "false") + ",\"divergences\":" + std::to_string(divergences) +
                    ",\"first_divergence\":";
  if (first) {
    out += "{\"line\":" + std::to_string(first->line) + ",\"statement\":" + json_quote(first->statement) +
           ",\"a\":" + json_quote(first->a_actual) + ",\"b\":" + json_quote(first->b_actual) + "}";
  } else {
    out += "null";
  }
  out += ",\"stopped_at_host_limit\":";
  out += stopped ? "{\"line\":" + std::to_string(stopped->line) + ",\"statement\":" + json_quote(stopped->statement) +
                       ",\"backend\":" + json_quote(stopped->backend) + ",\"message\":" + json_quote(stopped->message) + "}"
                 : std::string("null");
  out += ",\"a\":" + nested(a.json()) + ",\"b\":" + nested(b.json()) + "}";
  return out;
}

}  // namespace kvmsim
