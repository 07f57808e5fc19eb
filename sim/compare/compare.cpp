// kvmsim compare: the lock-step run of one trace under two profiles (compare.h).
#include "sim/compare/compare.h"

#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "model/core_assert.h"
#include "sim/backend/backend.h"
#include "sim/compare/translations.h"
#include "sim/differential.h"
#include "sim/json/json.h"
#include "sim/replay.h"
#include "sim/trace/eval.h"
#include "sim/trace/format.h"

namespace kvmsim::compare {

namespace {

using trace::Statement;

// What one VM looked like after a statement.
struct VmState {
  std::vector<LeafRun> runs;
  Stats stats;
};

// One profile's run: its own copy of the trace (statements are translated just before they run,
// when their handles are bound) and the replay engine over a fresh model session.
class Side {
 public:
  Side(const trace::Trace& trace, const model::Profile& profile) : trace_(trace), profile_(profile) {
    std::string error;
    api_ = open_backend("model", profile, BackendOptions{}, &error);
    KVMSIM_ASSERT_CTX(api_ != nullptr, "model backend: " + error);
    replayer_ = std::make_unique<Replayer>(trace_, *api_, ReplayOptions{});
  }

  Side(const Side&) = delete;  // the Replayer holds a reference to trace_
  Side& operator=(const Side&) = delete;

  // Runs statement i (the next one) and returns what it did.
  SideEffect step(std::size_t i, const std::vector<std::string>& vm_handles,
                  const std::map<std::string, std::string>& vcpu_vm) {
    SideEffect e;
    const Statement original = trace_.statements[i];
    const FieldValues record = evaluate_record(original);
    const Translation* row = translation_for(original, profile_);
    const PopulateIoctl* populate = populate_ioctl(original.callee);
    if (row) {
      e.lacks = row->lacks;
      if (std::optional<Statement> t = translate(*row, TranslationInput{original, record, profile_, state_}, &e.notes)) {
        trace_.statements[i] = std::move(*t);
        e.translated = trace_.statements[i].text;
      } else {
        row = nullptr;  // runs as written; the notes say why
      }
    }
    const StatementResult r = replayer_->step();
    state_.observe(original, record, r.ret && r.ret->is_ok());
    e.kernel_bug = r.kernel_bug;
    e.result = result_text(r, row, record);
    for (const std::string& vm : vm_handles) {
      auto fd = replayer_->handle(vm);
      if (!fd) continue;
      VmState now = observe(static_cast<int>(*fd));
      VmState& before = states_[vm];
      VmEffect v;
      v.leaves = model::diff_leaf_runs(before.runs, now.runs);
      for (const auto& [name, value] : now.stats) {
        const i64 d = static_cast<i64>(value - before.stats[name]);
        if (d) v.stats[name] = d;
      }
      if (populate) {
        auto owner = vcpu_vm.find(arg_handle(original, 0));
        if (owner == vcpu_vm.end() || owner->second == vm) {
          auto [start, end] = populate->requested(record);
          v.beyond = model::outside_range(v.leaves.installed, start, end);
        }
      }
      before = std::move(now);
      if (!(v == VmEffect{})) e.vms[vm] = std::move(v);
    }
    return e;
  }

 private:
  // The statement's record argument (its first `{...}`), evaluated; {} when it has none.
  FieldValues evaluate_record(const Statement& st) const {
    FieldValues out;
    for (const trace::Value& v : st.args) {
      if (v.kind != trace::Value::Kind::record) continue;
      for (const trace::Field& f : v.fields)
        out[f.name] = trace::evaluate(f.value.expr, [this](const std::string& name) {
                        return replayer_->handle(name).value_or(0);
                      }).value;
      break;
    }
    return out;
  }

  static std::string arg_handle(const Statement& st, std::size_t i) {
    if (i >= st.args.size() || st.args[i].expr.terms.size() != 1) return "";
    const trace::Term& t = st.args[i].expr.terms[0];
    return t.kind == trace::Term::Kind::name ? t.spelling : "";
  }

  // The comparable answer; a call's written-back fields in the original's names.
  static std::string result_text(const StatementResult& r, const Translation* row, const FieldValues& record) {
    if (r.status == StepStatus::not_run || !r.ret || r.expected == "success")
      return comparable_actual(r).value_or("unobservable");
    std::string s = r.ret->is_ok() ? std::to_string(r.ret->ret) : "-1 " + trace::format_errno(r.ret->err);
    WrittenBack out = r.written_back;
    if (row && row->back && !out.empty()) out = row->back(out, record);
    if (!out.empty()) {
      s += " => {";
      // Frame numbers read best in hex, the rest as the replay engine prints them (sizes, addresses).
      for (std::size_t k = 0; k < out.size(); ++k) {
        const std::string& name = out[k].first;
        const bool gfn = name.size() >= 3 && name.compare(name.size() - 3, 3, "gfn") == 0;
        s += (k ? ", " : "") + name + "=" + (gfn ? model::hex(out[k].second) : trace::format_size(out[k].second));
      }
      s += "}";
    }
    return s;
  }

  VmState observe(int fd) {
    VmState s;
    if (auto runs = api_->leaf_runs(fd)) s.runs = std::move(*runs);
    if (auto st = api_->stats(fd)) s.stats = std::move(*st);
    return s;
  }

  trace::Trace trace_;
  const model::Profile& profile_;
  std::unique_ptr<KvmApi> api_;
  std::unique_ptr<Replayer> replayer_;
  std::map<std::string, VmState> states_;
  TranslationState state_;
};

void json_runs(std::string& o, const std::vector<LeafRun>& runs) {
  o += "[";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const LeafRun& r = runs[i];
    o += std::string(i ? ", " : "") + "{\"gpa\": " + std::to_string(r.gpa) + ", \"size\": " + std::to_string(r.size) +
         ", \"level\": " + json_quote(level_name(r.level)) + ", \"writable\": " + (r.writable ? "true" : "false") +
         ", \"executable\": " + (r.executable ? "true" : "false") +
         ", \"private\": " + (r.is_private ? "true" : "false") + "}";
  }
  o += "]";
}

std::string runs_text(const std::vector<LeafRun>& runs) {
  if (runs.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < runs.size(); ++i) s += (i ? "; " : "") + format_run(runs[i]);
  return s;
}

std::string stats_text(const std::map<std::string, i64>& stats) {
  if (stats.empty()) return "none";
  std::string s;
  for (const auto& [name, d] : stats)
    s += (s.empty() ? "" : " ") + name + (d > 0 ? "+" : "") + std::to_string(d);
  return s;
}

}  // namespace

std::string format_run(const LeafRun& r) {
  return "[" + trace::format_size(r.gpa) + ", " + trace::format_size(r.end()) + ") " + level_name(r.level) + " r" +
         (r.writable ? "w" : "-") + (r.executable ? "x" : "-") + (r.is_private ? " private" : " shared");
}

CompareReport compare_profiles(const trace::Trace& trace, const model::Profile& a, const model::Profile& b) {
  CompareReport rep;
  rep.file = trace.file;
  rep.profile[0] = a.name;
  rep.profile[1] = b.name;
  Side sides[2] = {Side(trace, a), Side(trace, b)};
  std::vector<std::string> vm_handles;            // every KVM_CREATE_VM binding so far
  std::map<std::string, std::string> vcpu_vm;     // vCPU handle -> its VM handle
  for (std::size_t i = 0; i < trace.statements.size(); ++i) {
    const Statement& st = trace.statements[i];
    if (st.bind && st.callee == "KVM_CREATE_VM") vm_handles.push_back(*st.bind);
    if (st.bind && st.callee == "KVM_CREATE_VCPU" && !st.args.empty() && st.args[0].expr.terms.size() == 1)
      vcpu_vm[*st.bind] = st.args[0].expr.terms[0].spelling;
    StatementComparison c;
    c.line = st.line;
    const std::size_t first = st.text.find_first_not_of(" \t"), last = st.text.find_last_not_of(" \t\r");
    c.statement = first == std::string::npos ? std::string() : st.text.substr(first, last - first + 1);
    for (int s = 0; s < 2; ++s) c.side[s] = sides[s].step(i, vm_handles, vcpu_vm);
    const SideEffect &x = c.side[0], &y = c.side[1];
    if (x.result != y.result) c.differs.push_back("result");
    if (x.kernel_bug != y.kernel_bug) c.differs.push_back("kernel-bug");
    auto differ = [&](auto member) {
      std::set<std::string> vms;
      for (const auto& [vm, e] : x.vms) vms.insert(vm);
      for (const auto& [vm, e] : y.vms) vms.insert(vm);
      for (const std::string& vm : vms) {
        auto ex = x.vms.find(vm), ey = y.vms.find(vm);
        const VmEffect none{};
        if (member(ex == x.vms.end() ? none : ex->second) != member(ey == y.vms.end() ? none : ey->second)) return true;
      }
      return false;
    };
    if (differ([](const VmEffect& e) { return e.leaves; })) c.differs.push_back("leaves");
    if (differ([](const VmEffect& e) { return e.beyond; })) c.differs.push_back("beyond");
    if (differ([](const VmEffect& e) { return e.stats; })) c.differs.push_back("stats");
    ++rep.statements;
    const bool translated = !x.translated.empty() || !y.translated.empty();
    const bool rewrite_tried = !x.lacks.empty() || !y.lacks.empty();
    rep.translated += translated;
    rep.differing += !c.differs.empty();
    if (rewrite_tried || !c.differs.empty()) rep.rows.push_back(std::move(c));
  }
  return rep;
}

std::string CompareReport::text() const {
  std::string o;
  for (const StatementComparison& c : rows) {
    o += file + ":" + std::to_string(c.line) + ": " + c.statement + "\n";
    for (int s = 0; s < 2; ++s) {
      const SideEffect& e = c.side[s];
      if (e.lacks.empty()) continue;
      o += "  " + profile[s] + " has no " + e.lacks + "; " + (e.translated.empty() ? "not translated" : "ran " + e.translated) + "\n";
      for (const std::string& n : e.notes) o += "    note: " + n + "\n";
    }
    auto line = [&](const char* what, const std::string& a, const std::string& b) {
      o += "  " + std::string(what) + "\n    " + profile[0] + ": " + a + "\n    " + profile[1] + ": " + b + "\n";
    };
    auto per_vm = [&](const char* what, auto text) {
      std::set<std::string> vms;
      for (int s = 0; s < 2; ++s)
        for (const auto& [vm, e] : c.side[s].vms) vms.insert(vm);
      for (const std::string& vm : vms) {
        std::string t[2];
        for (int s = 0; s < 2; ++s) {
          auto it = c.side[s].vms.find(vm);
          t[s] = text(it == c.side[s].vms.end() ? VmEffect{} : it->second);
        }
        if (t[0] != t[1]) line((std::string(what) + " (" + vm + ")").c_str(), t[0], t[1]);
      }
    };
    for (const std::string& d : c.differs) {
      if (d == "result") line("result", c.side[0].result, c.side[1].result);
      if (d == "kernel-bug")
        line("kernel-bug", c.side[0].kernel_bug.empty() ? "none" : c.side[0].kernel_bug,
             c.side[1].kernel_bug.empty() ? "none" : c.side[1].kernel_bug);
      if (d == "leaves") {
        per_vm("installed", [](const VmEffect& e) { return runs_text(e.leaves.installed); });
        per_vm("zapped", [](const VmEffect& e) { return runs_text(e.leaves.zapped); });
      }
      if (d == "beyond") per_vm("mapped beyond the requested range", [](const VmEffect& e) { return runs_text(e.beyond); });
      if (d == "stats") per_vm("stats", [](const VmEffect& e) { return stats_text(e.stats); });
    }
  }
  o += file + ": " + (agree() ? "AGREE" : "DIFFER") + " (" + profile[0] + " vs " + profile[1] + ": " +
       std::to_string(statements) + " statements, " + std::to_string(differing) + " differ, " +
       std::to_string(translated) + " translated)\n";
  return o;
}

std::string CompareReport::json() const {
  std::string o = "{\"file\": " + json_quote(file) + ", \"profiles\": [" + json_quote(profile[0]) + ", " +
                  json_quote(profile[1]) + "], \"agree\": " + (agree() ? "true" : "false") +
                  ", \"statements\": " + std::to_string(statements) + ", \"differing\": " + std::to_string(differing) +
                  ", \"translated\": " + std::to_string(translated) + ", \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const StatementComparison& c = rows[i];
    o += std::string(i ? ", " : "") + "{\"line\": " + std::to_string(c.line) + ", \"statement\": " + json_quote(c.statement) +
         ", \"differs\": [";
    for (std::size_t k = 0; k < c.differs.size(); ++k) o += (k ? ", " : "") + json_quote(c.differs[k]);
    o += "], \"sides\": [";
    for (int s = 0; s < 2; ++s) {
      const SideEffect& e = c.side[s];
      o += std::string(s ? ", " : "") + "{\"profile\": " + json_quote(profile[s]) +
           ", \"lacks\": " + (e.lacks.empty() ? "null" : json_quote(e.lacks)) + ", \"translated\": " +
           (e.translated.empty() ? "null" : json_quote(e.translated)) + ", \"notes\": [";
      for (std::size_t k = 0; k < e.notes.size(); ++k) o += (k ? ", " : "") + json_quote(e.notes[k]);
      o += "], \"result\": " + json_quote(e.result) + ", \"kernel_bug\": " +
           (e.kernel_bug.empty() ? "null" : json_quote(e.kernel_bug)) + ", \"vms\": [";
      bool first = true;
      for (const auto& [vm, v] : e.vms) {
        o += std::string(first ? "" : ", ") + "{\"vm\": " + json_quote(vm) + ", \"installed\": ";
        first = false;
        json_runs(o, v.leaves.installed);
        o += ", \"zapped\": ";
        json_runs(o, v.leaves.zapped);
        o += ", \"beyond\": ";
        json_runs(o, v.beyond);
        o += ", \"stats\": {";
        bool f2 = true;
        for (const auto& [name, d] : v.stats) {
          o += std::string(f2 ? "" : ", ") + json_quote(name) + ": " + std::to_string(d);
          f2 = false;
        }
        o += "}}";
      }
      o += "]}";
    }
    o += "]}";
  }
  return o + "]}";
}

}  // namespace kvmsim::compare
