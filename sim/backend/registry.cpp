// The backend kinds, in the order they are documented. Adding a kind is one row here and one file
// in this folder implementing Backend.
#include "sim/backend/backend.h"

namespace kvmsim {

std::unique_ptr<Backend> make_model_backend(const BackendOptions&);
std::unique_ptr<Backend> make_model_ref_backend(const BackendOptions&);
std::unique_ptr<Backend> make_host_kvm_backend(const BackendOptions&);
std::unique_ptr<Backend> make_nested_backend(const BackendOptions&);

const std::vector<BackendKind>& backend_kinds() {
  static const std::vector<BackendKind> kinds = {
      {"model", "the pure model (compact page tables)", true, make_model_backend},
      {"model-ref", "the model on the per-SPTE reference page tables", true, make_model_ref_backend},
      {"kvm", "this host's /dev/kvm, answering as the profile that matches the host", true, make_host_kvm_backend},
      {"nested", "the nested TDP oracle: a pinned Debian kernel under QEMU TCG (docs/nested.md)", false,
       make_nested_backend},
  };
  return kinds;
}

}  // namespace kvmsim
