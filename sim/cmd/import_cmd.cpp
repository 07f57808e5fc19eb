// `kvmsim import strace LOG [-o FILE]`: a VMM's strace log as a v1 trace (sim/import/strace.h);
// `kvmsim import syzkaller PROG [-o FILE]`: a syzkaller program as a v1 trace (sim/import/syzkaller.h).
#include <fstream>

#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/import/strace.h"
#include "sim/import/syzkaller.h"

namespace kvmsim {

int run_import(const ImportArgs& args, std::ostream& out, std::ostream& err) {
  std::string text;
  if (!read_text_file(args.file, &text)) {
    err << args.file << ": cannot read file\n";
    return kExitUsage;
  }
  importer::ImportResult r;
  if (args.format == "syzkaller") {
    auto imported = importer::import_syzkaller(text, args.file);
    if (auto* e = std::get_if<importer::ImportError>(&imported)) {
      err << e->str() << "\n";
      return kExitUsage;
    }
    r = std::get<importer::ImportResult>(imported);
  } else {
    r = importer::import_strace(text, args.file);
  }
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
