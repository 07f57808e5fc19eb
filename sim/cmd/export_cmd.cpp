// `kvmsim export --c TRACE [-o FILE]`: a trace as a standalone C reproducer (sim/export/c_repro.h).
#include <fstream>

#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/export/c_repro.h"

namespace kvmsim {

int run_export_c(const ExportArgs& args, std::ostream& out, std::ostream& err) {
  auto trace = load_trace(args.file, err);
  if (!trace) return kExitUsage;
  const std::string program = exporter::export_c(*trace);
  if (args.out.empty()) {
    out << program;
    return kExitOk;
  }
  std::ofstream f(args.out, std::ios::binary);
  if (!(f << program) || !f.flush()) {
    err << args.out << ": cannot write file\n";
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace kvmsim
