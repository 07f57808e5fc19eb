// The batch kind: the nested TDP oracle (sim/nested/nested_runner.h, docs/nested.md). One boot per
// batch; the guest runs the kvm backend against a real TDP MMU and its reports come back recorded.
#include <cstdio>

#include "sim/backend/backend.h"
#include "sim/nested/nested_runner.h"

namespace kvmsim {

namespace {

std::string flavour_list() {
  std::string s;
  for (const auto& f : nested::flavours()) s += (s.empty() ? "" : ", ") + f;
  return s;
}

class NestedBackend final : public Backend {
 public:
  explicit NestedBackend(ProgressFn progress) : Backend(false), progress_(std::move(progress)) {}
  const std::string& name() const override { return name_; }
  // Whether the oracle boots is only known by booting; a boot failure is a test failure, never a skip.
  std::string unavailable() override { return ""; }
  std::string refuses_profile(const model::Profile& profile) const override {
    if (nested::is_flavour(profile.name)) return "";
    return "profile " + profile.name + " is not a nested oracle flavour (" + flavour_list() + ")";
  }
  bool runs_guest_agent() const override { return true; }

  BatchRun replay_batch(const std::vector<const trace::Trace*>& traces, const model::Profile& profile,
                        const BatchOptions& options, std::vector<BatchReplay>* results) override {
    std::vector<std::string> files;
    for (const trace::Trace* t : traces) files.push_back(t->file);
    nested::RunOptions ro;
    ro.update = options.update;
    ro.progress = progress_;
    if (options.item_timeout_s > 0) ro.trace_timeout_s = options.item_timeout_s;
    nested::BootRun run = nested::run_nested_replay(files, profile, ro);
    BatchRun batch{run.ok, run.failure, "", run.json()};
    if (!run.ok) return batch;
    char line[256];
    std::snprintf(line, sizeof line, "boot %.2f s, insmod %.2f s, wall %.2f s for %zu traces", run.boot_seconds,
                  run.insmod_seconds, run.wall_seconds, run.traces.size());
    batch.summary = "nested " + run.profile + ": " + run.versions() + "; kvm " + run.kvm_params + "; " + line;
    for (const nested::TraceRun& tr : run.traces) {
      BatchReplay r;
      r.report = tr.report;
      r.timed_out = tr.exit_code == 143;
      if (!tr.report) {
        r.failure = "the guest's kvmsim exited " + std::to_string(tr.exit_code) +
                    (tr.exit_code == 143 ? " (killed by the per-trace timeout)" : "") + " without a report";
        if (!tr.stderr_text.empty()) r.failure += "\n  " + tr.stderr_text;
      }
      results->push_back(std::move(r));
    }
    return batch;
  }

  BatchRun conformance_batch(const model::Profile& profile, const std::string& group, const std::string& filter,
                             std::vector<BatchCase>* results) override {
    // --group and --filter travel to the guest's `--list` (its /init splits them with globbing off); a
    // filter with blanks would not survive that split, so then the guest lists everything and the
    // caller's selection picks the cases.
    std::string guest_args = group.empty() ? "" : "--group " + group;
    if (!filter.empty() && filter.find_first_of(" \t\n") == std::string::npos)
      guest_args += (guest_args.empty() ? "" : " ") + std::string("--filter ") + filter;
    nested::RunOptions options;
    options.progress = progress_;
    // Per case: a case that hangs in the kernel fails alone. fill_all_slots (32764 slots) takes ~25 s in
    // TCG when the machine is busy, so the bound is generous.
    options.trace_timeout_s = 120;
    options.timeout_s = 1500;
    nested::BootRun run = nested::run_nested_conformance(profile, guest_args, options);
    BatchRun batch{run.ok, run.failure, "", run.json()};
    if (!run.ok) return batch;
    char line[200];
    std::snprintf(line, sizeof line, "; boot %.2f s, insmod %.2f s, %zu cases %.2f s, wall %.2f s", run.boot_seconds,
                  run.insmod_seconds, run.conformance->items.size(), run.conformance_seconds, run.wall_seconds);
    batch.summary = "nested " + run.profile + ": " + run.versions() + "; kvm " + run.kvm_params + line;
    for (const auto& entry : run.conformance->items) {
      BatchCase c;
      c.id = entry.str("id");
      const JsonValue* found = nullptr;
      if (const JsonValue* rep = entry.get("report"))
        if (const JsonValue* list = rep->get("cases"))
          for (const auto& item : list->items)
            if (item.str("backend") == "kvm" && item.str("group") + "/" + item.str("name") == c.id) found = &item;
      if (!found) {
        const long long rc = entry.integer("exit", -1);
        c.status = "FAILED";
        c.reason = "no result from the nested guest (its kvmsim exited " + std::to_string(rc) +
                   (rc == 143 ? ", killed by the per-case timeout" : "") + ")";
      } else {
        c.status = found->str("status");
        c.reason = found->str("reason");
        if (const JsonValue* f = found->get("failures"))
          for (const auto& item : f->items) c.failures.push_back(item.text);
        if (const JsonValue* u = found->get("unobservable"))
          for (const auto& item : u->items) c.unobservable.push_back(item.text);
      }
      results->push_back(std::move(c));
    }
    return batch;
  }

 private:
  std::string name_ = "nested";
 private:
  ProgressFn progress_;
};

}  // namespace

std::unique_ptr<Backend> make_nested_backend(const BackendOptions& options) {
  return std::make_unique<NestedBackend>(options.progress);
}

}  // namespace kvmsim
