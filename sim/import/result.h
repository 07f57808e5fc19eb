// What an importer returns: the v1 trace text it wrote and how many input lines became statements
// and comments; or, for a source with a strict syntax (a syzkaller program), the first syntax error.
#pragma once

#include <cstddef>
#include <string>

namespace kvmsim::importer {

struct ImportResult {
  std::string trace;  // the v1 trace text
  std::size_t statements = 0, comments = 0;
};

// `FILE:LINE:COL: message` (str()); the input could not be read as the source format at all.
struct ImportError {
  std::string file;
  int line = 0, col = 0;
  std::string message;
  std::string str() const { return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + message; }
};

}  // namespace kvmsim::importer
