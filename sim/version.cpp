#include "sim/version.h"

namespace kvmsim {
std::string version_string() {
  return std::string("kvmsim ") + KVMSIM_VERSION + " (git " + KVMSIM_GIT_HASH + ") uapi linux-6.18";
}
}  // namespace kvmsim
