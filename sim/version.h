// Version of kvmsim and of the uAPI it mirrors, for `kvmsim --version` and report headers.
#pragma once
#include <string>

namespace kvmsim {
std::string version_string();  // "kvmsim 0.1.0 (git abc123) uapi linux-6.18"
}
