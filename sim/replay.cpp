#include "sim/replay.h"

#include <cstdio>
#include <functional>

#include "model/core_assert.h"
#include "sim/replay_call.h"
#include "sim/trace/eval.h"
#include "sim/trace/printer.h"
#include "sim/trace/schema.h"

namespace kvmsim {

using trace::Expr;
using trace::Statement;
using trace::Value;

const char* step_status_name(StepStatus s) {
  switch (s) {
    case StepStatus::matched: return "matched";
    case StepStatus::mismatch: return "mismatch";
    case StepStatus::unchecked: return "unchecked";
    case StepStatus::unobservable: return "unobservable";
    case StepStatus::not_run: return "not_run";
  }
  return "?";
}

namespace {

std::string trimmed(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t");
  std::size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

Replayer::Replayer(const trace::Trace& trace, KvmApi& backend, ReplayOptions options)
    : Replayer(trace.file, trace.profile, backend, options) {
  trace_ = &trace;
}

Replayer::Replayer(std::string file, std::optional<std::string> trace_profile, KvmApi& backend, ReplayOptions options)
    : file_(std::move(file)), trace_profile_(std::move(trace_profile)), api_(backend), options_(options) {
  handles_["kvm"] = Handle{static_cast<u64>(static_cast<i64>(api_.kvm_fd())), 0};
}

u64 Replayer::eval(const Expr& e) const {
  if (auto v = trace::plain_value(e)) return *v;  // no handle: no resolver to build
  return trace::evaluate(e, [this](const std::string& name) -> u64 {
           auto it = handles_.find(name);
           KVMSIM_ASSERT_CTX(it != handles_.end() && it->second.value, "unresolved handle " + name);
           return *it->second.value;
         }).value;
}

namespace {

// Calls visit(term) for each name term of `e` (groups included, in order) until it returns true.
template <class Visit>
bool any_name(const Expr& e, const Visit& visit) {
  for (const auto& t : e.terms) {
    if (t.kind == trace::Term::Kind::name && visit(t)) return true;
    for (const auto& g : t.group)
      if (any_name(g, visit)) return true;
  }
  return false;
}

}  // namespace

// The first handle a statement uses whose creation failed, as "'name' (line N)".
std::optional<std::string> Replayer::failed_handle(const Statement& st) const {
  if (!any_failed_) return std::nullopt;  // nothing to find: the common case, not walked
  const Handle* failed = nullptr;
  const std::string* name = nullptr;
  // Walks the terms in order; no list of names (nor a message) is built for a statement that runs.
  auto check = [&](const trace::Term& t) {
    auto it = handles_.find(t.spelling);
    if (it == handles_.end() || it->second.value) return false;
    failed = &it->second;
    name = &t.spelling;
    return true;
  };
  // Arguments and keywords, then their struct fields (records nest one level), without a worklist.
  auto check_value = [&](const Value& v) {
    if (any_name(v.expr, check)) return true;
    for (const auto& e : v.list)
      if (any_name(e, check)) return true;
    return false;
  };
  auto found = [&]() -> bool {
    for (const auto& a : st.args)
      if (check_value(a)) return true;
    for (const auto& k : st.keywords)
      if (check_value(k.value)) return true;
    for (const auto& a : st.args)
      for (const auto& f : a.fields)
        if (check_value(f.value)) return true;
    for (const auto& k : st.keywords)
      for (const auto& f : k.value.fields)
        if (check_value(f.value)) return true;
    return false;
  };
  if (!found()) return std::nullopt;
  return "'" + *name + "' (line " + std::to_string(failed->line) + ")";
}

StatementResult Replayer::step() {
  KVMSIM_ASSERT_CTX(!done(), "step() after the last statement");
  return step(trace_->statements[next_++]);
}

StatementResult Replayer::step(const Statement& st) {
  StatementResult r = run(st);
  r.line = st.line;
  r.statement = st.text.empty() ? trace::print_statement(st) : trimmed(st.text);
  // Built only for a statement that has something to report.
  auto where = [&] { return file_ + ":" + std::to_string(st.line) + ": "; };
  switch (r.status) {
    case StepStatus::mismatch: r.message = where() + "expected " + r.expected + ", got " + r.actual; break;
    case StepStatus::unobservable:
      r.message = where() + "unobservable: backend " + api_.backend_name() + " cannot observe " + st.callee;
      break;
    case StepStatus::not_run: r.message = where() + "not run: " + r.message; break;
    default: break;
  }
  const KvmApi::Diagnostic diag = api_.take_diagnostic();
  if (diag.text.rfind("kernel-bug:", 0) == 0) {
    // One line per bug the call reached, each with the statement's FILE:LINE.
    std::size_t from = 0;
    for (std::size_t nl; (nl = diag.text.find('\n', from)) != std::string::npos; from = nl + 1)
      r.kernel_bug += where() + diag.text.substr(from, nl - from) + "\n";
    r.kernel_bug += where() + diag.text.substr(from);
  }
  if (!r.message.empty()) {
    // A backend's own explanation (e.g. the real backend refusing a request over its safety cap).
    if (!diag.text.empty()) r.message += " (" + api_.backend_name() + ": " + diag.text + ")";
    r.host_limit = r.host_limit || diag.host_limit;
    r.message += "\n    " + r.statement;
  }
  counts_.add(r.status);
  if (options_.keep_all_results || worth_keeping(r)) results_.push_back(r);
  return r;
}

// What every statement shares happens here; what differs per operation is its handler
// (sim/replay_handlers.cpp).
StatementResult Replayer::run(const Statement& st) {
  const trace::StatementSpec* spec = trace::find_statement(st.callee, st.kind == Statement::Kind::expect);
  KVMSIM_ASSERT_CTX(spec, "statement not in schema: " + st.callee);
  if (auto failed = failed_handle(st)) {
    StatementResult r;
    r.status = StepStatus::not_run;
    r.message = "handle " + *failed + " failed to be created";
    if (st.bind) {
      handles_[*st.bind] = Handle{std::nullopt, st.line};
      any_failed_ = true;
    }
    return r;
  }
  const replay_op::Handler handler = replay_op::handler(spec->op);
  KVMSIM_ASSERT_CTX(handler, "no replay handler for " + st.callee);
  const replay_op::Call call(
      st, *spec, api_,
      {[](const void* self, const Expr& e) { return static_cast<const Replayer*>(self)->eval(e); }, this});
  replay_op::Answer answer = handler(call);
  if (auto* answered = std::get_if<StatementResult>(&answer)) return std::move(*answered);
  const auto& got = std::get<replay_op::Returned>(answer);
  if (st.bind) {  // a failed creation binds nothing: later statements using it are not run
    handles_[*st.bind] = Handle{got.ret.is_ok() ? std::optional<u64>(static_cast<u64>(got.ret.ret)) : std::nullopt,
                                st.line};
    any_failed_ = any_failed_ || !got.ret.is_ok();
  }
  return replay_op::compare_call(call, got);
}

ReplayReport Replayer::report() const {
  ReplayReport rep;
  rep.file = file_;
  rep.backend = api_.backend_name();
  rep.trace_profile = trace_profile_.value_or("");
  rep.backend_profile = api_.profile().name;
  rep.results = results_;
  rep.counts = counts_;
  if (options_.update && trace_) rep.updated_text = apply_rewrites(*trace_, results_);
  return rep;
}

void ReplayCounts::add(StepStatus s) {
  statements++;
  switch (s) {
    case StepStatus::matched: matched++; break;
    case StepStatus::mismatch: mismatched++; break;
    case StepStatus::unchecked: unchecked++; break;
    case StepStatus::unobservable: unobservable++; break;
    case StepStatus::not_run: not_run++; break;
  }
  checked = matched + mismatched;
}

ReplayCounts ReplayCounts::of(const std::vector<StatementResult>& results) {
  ReplayCounts c;
  for (const auto& r : results) c.add(r.status);
  return c;
}

bool worth_keeping(const StatementResult& r) { return !r.message.empty() || !r.kernel_bug.empty(); }

ReplayReport replay(const trace::Trace& trace, KvmApi& backend, const ReplayOptions& options) {
  Replayer r(trace, backend, options);
  while (!r.done()) r.step();
  return r.report();
}

std::string apply_rewrites(const trace::Trace& trace, const std::vector<StatementResult>& results) {
  std::map<int, const StatementResult*> by_line;
  for (const auto& r : results)
    if (r.rewrite) by_line[r.line] = &r;
  std::map<int, const Statement*> stmts;
  for (const auto& s : trace.statements) stmts[s.line] = &s;

  std::string out;
  const std::string& src = trace.source;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos <= src.size()) {
    std::size_t nl = src.find('\n', pos);
    std::string line = src.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    line_no++;
    auto it = by_line.find(line_no);
    if (it != by_line.end() && stmts.count(line_no)) {
      const Statement& st = *stmts[line_no];
      KVMSIM_ASSERT_CTX(st.text == line, "source does not match the parsed statement at line " + std::to_string(line_no));
      line = splice_result(st, *it->second->rewrite);
    }
    out += line;
    if (nl == std::string::npos) break;
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

std::string splice_result(const Statement& st, const std::string& rewrite) {
  const std::string& line = st.text;
  KVMSIM_ASSERT_CTX(st.result_begin <= st.result_end && st.result_end <= line.size(),
                    "result span outside the statement at line " + std::to_string(st.line));
  const bool insert = st.result_begin == st.result_end;
  return line.substr(0, st.result_begin) + (insert ? " " : "") + rewrite + line.substr(st.result_end);
}

std::string ReplayReport::text() const {
  std::string out;
  for (const auto& r : results) {
    if (!r.message.empty()) out += r.message + "\n";
    if (!r.kernel_bug.empty()) out += r.kernel_bug + "\n";
  }
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s: %zu statements, %zu checked: %zu matched, %zu mismatched; %zu unchecked, %zu unobservable, "
                "%zu not run (backend %s)\n",
                file.c_str(), counts.statements, counts.checked, counts.matched, counts.mismatched, counts.unchecked,
                counts.unobservable, counts.not_run, backend.c_str());
  return out + buf;
}

}  // namespace kvmsim
