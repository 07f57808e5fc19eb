// Backend selection by name: the one place that knows which KvmApi implementations exist.
// "model" is the pure model (model::Kvm) configured with a profile; "model-ref" the same model on the
// per-SPTE reference page tables (model/tdp_mmu_ref.h); "kvm" is this host's /dev/kvm.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/vm/kvm_api.h"

namespace kvmsim {

struct BackendOptions {
  std::string kvm_device = "/dev/kvm";
  u64 max_host_mem = 2ull << 30;
};

// Names accepted by --backend, in the order they are documented.
const std::vector<std::string>& backend_names();

// Creates backend `name` answering as `profile`. Returns nullptr and sets *error (one line) when the
// backend cannot run here (unknown name, /dev/kvm missing).
std::unique_ptr<KvmApi> make_backend(const std::string& name, const model::Profile& profile,
                                     const BackendOptions& options, std::string* error);

}  // namespace kvmsim
