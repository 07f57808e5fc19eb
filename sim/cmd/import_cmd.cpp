// `kvmsim import strace|rawlog|syzkaller LOG [-o FILE]`: a VMM's strace log (sim/import/strace.h), kvmsim
// record's raw event log (sim/import/rawlog.h) or a syzkaller program (sim/import/syzkaller.h) as a v1 trace.
#include <fstream>

#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/import/rawlog.h"
#include "sim/import/strace.h"
#include "sim/import/syzkaller.h"

namespace kvmsim {

int run_import(const ImportArgs& args, std::ostream& out, std::ostream& err) {
  std::string text;
  if (!read_text_file(args.file, &text)) {
    err << args.file << ": cannot read file\n";
    return kExitUsage;
  }
  if (args.format == "rawlog") {  // kvmsim record's raw event log (sim/import/rawlog.h)
    importer::RawlogOptions opt;
    opt.file = args.file;
    const importer::RawlogResult r = importer::convert_rawlog(text, opt);
    if (!write_text_output(args.out, r.trace, out, err)) return kExitUsage;
    err << "import: " << r.statements << " statements, " << r.comments << " lines kept as comments\n";
    return kExitOk;
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
  if (!write_text_output(args.out, r.trace, out, err)) return kExitUsage;
  err << "import: " << r.statements << " statements, " << r.comments << " lines kept as comments\n";
  return kExitOk;
}

}  // namespace kvmsim
