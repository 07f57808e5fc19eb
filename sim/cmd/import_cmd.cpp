// `kvmsim import strace LOG [-o FILE]`: a VMM's strace log as a v1 trace (sim/import/strace.h).
#include <fstream>

#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/import/strace.h"

namespace kvmsim {

int run_import(const ImportArgs& args, std::ostream& out, std::ostream& err) {
  std::string text;
  if (!read_text_file(args.file, &text)) {
    err << args.file << ": cannot read file\n";
    return kExitUsage;
  }
  const importer::ImportResult r = importer::import_strace(text, args.file);
  if (args.out.empty()) {
    out << r.trace;
  } else {
    std::ofstream f(args.out, std::ios::binary);
    if (!(f << r.trace) || !f.flush()) {
      err << args.out << ": cannot write file\n";
      return kExitUsage;
    }
  }
  err << "import: " << r.statements << " statements, " << r.comments << " lines kept as comments\n";
  return kExitOk;
}

}  // namespace kvmsim
