// kvmsim_conformance: every registered case as a GoogleTest test, parameterized by backend
// ("model", "kvm"): model/Conformance.Run/memslot_gpa_unaligned, kvm/Conformance.Run/... .
// A missing capability, or a backend that cannot be created here (no /dev/kvm), is GTEST_SKIP()
// with the reason. The model answers as linux-6.18 unless KVMSIM_CONF_PROFILE names another
// profile (use linux-6.18-pvm to compare it with this machine's kernel).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "conformance/runner.h"
#include "sim/backends.h"

namespace kvmsim::conf {
namespace {

struct Param {
  friend void PrintTo(const Param& p, std::ostream* os) { *os << p.backend << ":" << p.c->id(); }
  std::string backend;
  const Case* c;
};

const model::Profile& profile_for(const std::string& backend) {
  const char* env = std::getenv("KVMSIM_CONF_PROFILE");
  if (env && *env) {
    const model::Profile* p = model::find_profile(env);
    if (p) return *p;
  }
  // The kvm backend always answers as the profile that matches this host.
  const model::Profile* pvm = model::find_profile("linux-6.18-pvm");
  if (backend == "kvm" && pvm) return *pvm;
  return model::default_profile();
}

BackendFactory factory_for(const std::string& backend) {
  return [backend](std::string* error) {
    return make_backend(backend, profile_for(backend), BackendOptions{}, error);
  };
}

// Capabilities per backend, probed once (available == false: the backend cannot run here).
struct Probed {
  bool available = false;
  std::string error;
  Capabilities caps;
};

const Probed& probed(const std::string& backend) {
  static std::map<std::string, Probed> cache;
  auto it = cache.find(backend);
  if (it != cache.end()) return it->second;
  Probed p;
  std::unique_ptr<KvmApi> api = factory_for(backend)(&p.error);
  if (api) {
    p.available = true;
    p.caps = probe_capabilities(*api);
  }
  return cache.emplace(backend, std::move(p)).first->second;
}

std::vector<Param> params_for(const std::string& backend) {
  std::vector<Param> out;
  for (const Case& c : all_cases()) out.push_back({backend, &c});
  return out;
}

class Conformance : public ::testing::TestWithParam<Param> {};

TEST_P(Conformance, Run) {
  const Param& p = GetParam();
  const Probed& b = probed(p.backend);
  if (!b.available) GTEST_SKIP() << "backend " << p.backend << " unavailable: " << b.error;
  CaseResult r = run_case(*p.c, p.backend, factory_for(p.backend), b.caps);
  if (r.status == Status::skipped) GTEST_SKIP() << r.reason;
  for (const std::string& f : r.failures) ADD_FAILURE() << f;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return info.param.c->group + "_" + info.param.c->name;
}

INSTANTIATE_TEST_SUITE_P(model, Conformance, ::testing::ValuesIn(params_for("model")), param_name);
INSTANTIATE_TEST_SUITE_P(kvm, Conformance, ::testing::ValuesIn(params_for("kvm")), param_name);

}  // namespace
}  // namespace kvmsim::conf
