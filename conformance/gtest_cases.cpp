// kvmsim_conformance: every registered case as a GoogleTest test, parameterized by backend:
// model/Conformance.Run/memslot_gpa_unaligned, kvm/Conformance.Run/... . The model answers as the
// default profile unless KVMSIM_CONF_PROFILE names another; the kvm backend answers as the profile
// its host matches (sim/backend: Backend::host_profile), or KVMSIM_CONF_PROFILE when set. A missing
// capability is GTEST_SKIP() with the reason. A backend that cannot run here (no /dev/kvm) is not a
// wall of skipped cases: its suite is the single test kvm/Conformance.Run/unavailable, skipped with
// the one-line reason.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "conformance/runner.h"
#include "sim/backend/backend.h"

namespace kvmsim::conf {
namespace {

// One backend object per kind for the whole test binary (its host probe runs once).
Backend& backend(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Backend>> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto spec = std::get<BackendSpec>(parse_backend_spec(name, 1));
    it = cache.emplace(name, std::move(make_backends(spec, BackendOptions{}).front())).first;
  }
  return *it->second;
}

const model::Profile& profile_for(const std::string& name) {
  const char* env = std::getenv("KVMSIM_CONF_PROFILE");
  if (env && *env)
    if (const model::Profile* p = model::find_profile(env)) return *p;
  if (const model::Profile* host = backend(name).host_profile()) return *host;
  return model::default_profile();
}

struct Param {
  friend void PrintTo(const Param& p, std::ostream* os) { *os << p.backend << ":" << (p.c ? p.c->id() : "-"); }
  std::string backend;
  const Case* c;  // nullptr: the backend cannot run here
};

const Capabilities& caps_of(const std::string& name) {
  static std::map<std::string, Capabilities> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  std::string error;
  std::unique_ptr<KvmApi> api = backend(name).open(profile_for(name), &error);
  Capabilities caps;
  if (api) caps = probe_capabilities(*api);
  return cache.emplace(name, caps).first->second;
}

std::vector<Param> params_for(const std::string& name) {
  if (!backend(name).unavailable().empty()) return {Param{name, nullptr}};
  std::vector<Param> out;
  for (const Case& c : all_cases()) out.push_back({name, &c});
  return out;
}

class Conformance : public ::testing::TestWithParam<Param> {};

TEST_P(Conformance, Run) {
  const Param& p = GetParam();
  if (!p.c) GTEST_SKIP() << "backend " << p.backend << " unavailable: " << backend(p.backend).unavailable();
  Backend& b = backend(p.backend);
  const model::Profile& profile = profile_for(p.backend);
  BackendFactory factory = [&b, &profile](std::string* error) { return b.open(profile, error); };
  CaseResult r = run_case(*p.c, p.backend, factory, caps_of(p.backend));
  if (r.status == Status::skipped) GTEST_SKIP() << r.reason;
  for (const std::string& f : r.failures) ADD_FAILURE() << f;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return info.param.c ? info.param.c->group + "_" + info.param.c->name : "unavailable";
}

INSTANTIATE_TEST_SUITE_P(model, Conformance, ::testing::ValuesIn(params_for("model")), param_name);
INSTANTIATE_TEST_SUITE_P(kvm, Conformance, ::testing::ValuesIn(params_for("kvm")), param_name);

}  // namespace
}  // namespace kvmsim::conf
