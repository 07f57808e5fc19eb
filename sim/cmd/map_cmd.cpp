// `kvmsim map`: replays a trace on the model and draws every VM's guest physical address space (or,
// with --timeline, its mapping levels statement by statement) as SVG, HTML or JSON (docs/map.md).
#include <fstream>
#include <optional>

#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/map/gpa_map.h"
#include "sim/map/map_replay.h"
#include "sim/map/map_svg.h"

namespace kvmsim {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// svg, html or json from --format, else from the output file's extension; nullopt: a usage error.
std::optional<std::string> output_format(const MapArgs& args, std::string* error) {
  if (!args.format.empty()) {
    if (args.format != "json" && args.out.empty()) {
      *error = "--format " + args.format + " needs -o FILE";
      return std::nullopt;
    }
    return args.format;
  }
  if (ends_with(args.out, ".svg")) return "svg";
  if (ends_with(args.out, ".html") || ends_with(args.out, ".htm")) return "html";
  *error = args.out.empty() ? "-o FILE.svg|FILE.html (or --format json) is required"
                            : "-o '" + args.out + "': the name must end in .svg or .html (or give --format)";
  return std::nullopt;
}

}  // namespace

int run_map(const MapArgs& args, std::ostream& out, std::ostream& err) {
  std::string error;
  const std::optional<std::string> format = output_format(args, &error);
  if (!format) {
    err << "kvmsim: map: " << error << "\n";
    return kExitUsage;
  }
  std::optional<trace::Trace> loaded = load_trace(args.file, err);
  if (!loaded) return kExitUsage;
  const model::Profile* profile = trace_profile(args.profile, *loaded, err);
  if (!profile) return kExitUsage;

  const MapReplay run(*loaded, *profile, args.at_line);
  std::vector<const VmHistory*> vms;
  for (const VmHistory& h : run.vms())
    if ((args.vm.empty() || h.name == args.vm) && run.vm(h)) vms.push_back(&h);
  // A trace without VMs still draws (an empty picture says so); a --vm that names none is an error.
  if (vms.empty() && !args.vm.empty()) {
    err << args.file << ": no VM handle '" << args.vm << "'"
        << (args.at_line ? " up to line " + std::to_string(args.at_line) : "") << "\n";
    return kExitUsage;
  }
  const MapPictureInfo info{args.file, args.at_line, profile->name};
  std::string doc;
  if (args.timeline) {
    if (*format == "json") doc = timeline_json(info, vms);
    else doc = timeline_svg(info, vms);
  } else {
    std::vector<GpaMap> maps;
    for (const VmHistory* h : vms) maps.push_back(build_gpa_map(*run.vm(*h), *h, args.at_line));
    if (*format == "json") doc = gpa_map_json(info, maps);
    else doc = gpa_map_svg(info, maps);
  }
  if (*format == "html") doc = html_page("kvmsim map: " + args.file, doc);
  if (args.out.empty()) {
    out << doc;
    return kExitOk;
  }
  std::ofstream f(args.out, std::ios::binary | std::ios::trunc);
  f << doc;
  f.close();
  if (!f) {
    err << "kvmsim: map: cannot write '" << args.out << "'\n";
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace kvmsim
