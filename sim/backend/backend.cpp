#include "sim/backend/backend.h"

#include <sstream>

namespace kvmsim {

BatchRun Backend::replay_batch(const std::vector<const trace::Trace*>& traces, const model::Profile& profile,
                               const BatchOptions& options, std::vector<BatchReplay>* results) {
  // A lock-step backend replays a batch one trace at a time, each on a fresh session.
  for (const trace::Trace* t : traces) {
    BatchReplay r;
    std::string error;
    std::unique_ptr<KvmApi> api = open(profile, &error);
    if (api) r.report = replay(*t, *api, ReplayOptions{options.update});
    else r.failure = error;
    results->push_back(std::move(r));
  }
  return BatchRun{};
}

BatchRun Backend::conformance_batch(const model::Profile& profile, const std::string& group, const std::string& filter,
                                    std::vector<BatchCase>* results) {
  (void)profile, (void)group, (void)filter, (void)results;
  return BatchRun{false, "backend " + name() + " runs conformance cases in lock-step, not as a batch", "", ""};
}

std::string backend_kind_list() {
  std::string s;
  for (const auto& k : backend_kinds()) s += (s.empty() ? "" : ", ") + std::string(k.name);
  return s;
}

namespace {

const BackendKind* find_kind(const std::string& name) {
  for (const auto& k : backend_kinds())
    if (name == k.name) return &k;
  return nullptr;
}

}  // namespace

std::variant<BackendSpec, std::string> parse_backend_spec(const std::string& text, std::size_t max_sides) {
  BackendSpec spec;
  if (text == "both") {
    spec.sides = {"model", "kvm"};
  } else {
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, ',')) spec.sides.push_back(item);
  }
  const std::string known = "known: " + backend_kind_list() + ", A,B, both";
  if (spec.sides.empty()) return "no backend given (" + known + ")";
  for (const auto& s : spec.sides) {
    if (s.empty()) return "empty backend name in '" + text + "' (" + known + ")";
    if (!find_kind(s)) return "unknown backend '" + s + "' (" + known + ")";
  }
  if (spec.sides.size() > max_sides)
    return "--backend '" + text + "' names " + std::to_string(spec.sides.size()) + " backends; at most " +
           std::to_string(max_sides) + " here";
  return spec;
}

std::vector<std::unique_ptr<Backend>> make_backends(const BackendSpec& spec, const BackendOptions& options) {
  std::vector<std::unique_ptr<Backend>> out;
  for (const auto& s : spec.sides) out.push_back(find_kind(s)->make(options));
  return out;
}

std::unique_ptr<KvmApi> open_backend(const std::string& name, const model::Profile& profile,
                                     const BackendOptions& options, std::string* error) {
  const BackendKind* k = find_kind(name);
  if (!k) {
    *error = "unknown backend '" + name + "' (known: " + backend_kind_list() + ")";
    return nullptr;
  }
  std::unique_ptr<Backend> b = k->make(options);
  if (std::string why = b->unavailable(); !why.empty()) {
    *error = why;
    return nullptr;
  }
  return b->open(profile, error);
}

std::optional<SideProfiles> resolve_profiles(const std::vector<std::unique_ptr<Backend>>& sides,
                                             const std::string& requested, const std::optional<std::string>& header,
                                             std::string* error) {
  // --profile wins everywhere: who runs kvmsim on a host knows what the probe cannot see (module
  // parameters such as nx_huge_pages; the nested guest passes its flavour). Otherwise a real host
  // answers as its probed profile and the other sides follow it, else the trace's header decides.
  const model::Profile* host = nullptr;
  for (const auto& s : sides)
    if (!host) host = s->host_profile();
  const model::Profile* run = requested.empty() ? host : nullptr;
  if (!run) {
    const std::string name = !requested.empty() ? requested : header.value_or(model::default_profile().name);
    run = model::find_profile(name);
    if (!run) {
      std::string known;
      for (const auto& p : model::builtin_profiles()) known += (known.empty() ? "" : ", ") + p.name;
      *error = "unknown profile '" + name + "' (known: " + known + ")";
      return std::nullopt;
    }
  }
  return SideProfiles{std::vector<const model::Profile*>(sides.size(), run)};
}

}  // namespace kvmsim
