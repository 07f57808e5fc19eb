// The lock-step kinds: the model (compact or reference page tables) and this host's /dev/kvm.
#include <cerrno>
#include <cstring>

#include "model/vm/kvm.h"
#include "sim/backend/backend.h"
#include "sim/kvm/kvm_backend.h"
#include "sim/kvm/probe.h"

namespace kvmsim {

namespace {

class ModelBackend final : public Backend {
 public:
  ModelBackend(std::string name, model::PageTableImpl impl) : Backend(true), name_(std::move(name)), impl_(impl) {}
  const std::string& name() const override { return name_; }
  std::string unavailable() override { return ""; }
  std::unique_ptr<KvmApi> open(const model::Profile& profile, std::string* error) override {
    (void)error;
    return std::make_unique<model::Kvm>(profile, impl_);
  }

 private:
  std::string name_;
  model::PageTableImpl impl_;
};

// This host's /dev/kvm. The device is probed once, at the first question; the backend then answers
// as the built-in profile that matches the host (or the closest one, with a note saying why).
class HostKvmBackend final : public Backend {
 public:
  explicit HostKvmBackend(const BackendOptions& options) : Backend(true), options_(options) {}
  const std::string& name() const override { return name_; }
  std::string unavailable() override {
    probe();
    return why_;
  }
  const model::Profile* host_profile() override {
    probe();
    return profile_;
  }
  std::string host_profile_note() override {
    probe();
    return note_;
  }
  bool runs_guest_agent() const override { return true; }
  std::unique_ptr<KvmApi> open(const model::Profile& profile, std::string* error) override {
    kvm::KvmBackendOptions k;
    k.device = options_.kvm_device;
    k.max_host_mem = options_.max_host_mem;
    return kvm::make_kvm_backend(profile, k, error);
  }

 private:
  void probe() {
    if (probed_) return;
    probed_ = true;
    std::string error;
    kvm::HostProbe p = kvm::probe_host(&error, options_.kvm_device);
    if (!error.empty()) {
      why_ = error;
      return;
    }
    kvm::ProfileMatch m = kvm::match_profile(p);
    profile_ = model::find_profile(m.name);
    note_ = m.note();
  }

  std::string name_ = "kvm";
  BackendOptions options_;
  bool probed_ = false;
  std::string why_, note_;
  const model::Profile* profile_ = nullptr;
};

}  // namespace

std::unique_ptr<Backend> make_model_backend(const BackendOptions&) {
  return std::make_unique<ModelBackend>("model", model::PageTableImpl::compact);
}
std::unique_ptr<Backend> make_model_ref_backend(const BackendOptions&) {
  // The same model on the per-SPTE reference page tables (the equivalence oracle of the compact ones).
  return std::make_unique<ModelBackend>("model-ref", model::PageTableImpl::reference);
}
std::unique_ptr<Backend> make_host_kvm_backend(const BackendOptions& options) {
  return std::make_unique<HostKvmBackend>(options);
}

}  // namespace kvmsim
