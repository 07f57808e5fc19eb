#include "sim/backends.h"

#include "model/vm/kvm.h"
#include "sim/kvm/kvm_backend.h"

namespace kvmsim {

const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = {"model", "model-ref", "kvm"};
  return names;
}

std::unique_ptr<KvmApi> make_backend(const std::string& name, const model::Profile& profile,
                                     const BackendOptions& options, std::string* error) {
  if (name == "model") return std::make_unique<model::Kvm>(profile);
  // The same model on the per-SPTE reference page tables (model/tdp_mmu_ref.h).
  if (name == "model-ref") return std::make_unique<model::Kvm>(profile, model::PageTableImpl::reference);
  if (name == "kvm") {
    kvm::KvmBackendOptions kopts;
    kopts.device = options.kvm_device;
    kopts.max_host_mem = options.max_host_mem;
    return kvm::make_kvm_backend(profile, kopts, error);
  }
  *error = "unknown backend '" + name + "' (known: model, model-ref, kvm)";
  return nullptr;
}

}  // namespace kvmsim
