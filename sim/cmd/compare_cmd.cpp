// `kvmsim compare --profiles A,B TRACE...`: every trace on the model under two profiles, statement by
// statement (sim/compare/compare.h). Exit 0 when the profiles agree on every trace, 1 when they
// differ somewhere, 2 on bad input (an unknown profile, a malformed trace: nothing runs then).
#include <optional>

#include "model/profiles/profile.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/compare/compare.h"
#include "sim/json/json.h"

namespace kvmsim {

int run_compare(const CompareArgs& args, std::ostream& out, std::ostream& err) {
  const std::string& spec = args.profiles;
  const std::size_t comma = spec.find(',');
  if (comma == std::string::npos || spec.find(',', comma + 1) != std::string::npos) {
    err << "kvmsim compare: --profiles takes two profiles A,B, got '" << spec << "'\n";
    return kExitUsage;
  }
  const model::Profile* profiles[2] = {nullptr, nullptr};
  const std::string names[2] = {spec.substr(0, comma), spec.substr(comma + 1)};
  for (int s = 0; s < 2; ++s) {
    profiles[s] = model::find_profile(names[s]);
    if (!profiles[s]) {
      err << "kvmsim compare: unknown profile '" << names[s] << "' (known: " << known_profile_names() << ")\n";
      return kExitUsage;
    }
  }
  std::vector<std::string> files;
  std::string error;
  if (!expand_trace_paths(args.files, &files, &error)) {
    err << error << "\n";
    return kExitUsage;
  }
  if (files.empty()) {
    err << "kvmsim compare: no trace found\n";
    return kExitNothingRan;
  }
  // Every trace parses before anything runs: bad input is exit 2 and no half report.
  std::vector<trace::Trace> traces;
  for (const std::string& f : files) {
    std::optional<trace::Trace> t = load_trace(f, err);
    if (!t) return kExitUsage;
    traces.push_back(std::move(*t));
  }
  bool agree = true;
  std::string json;
  for (const trace::Trace& t : traces) {
    const compare::CompareReport r = compare::compare_profiles(t, *profiles[0], *profiles[1]);
    agree &= r.agree();
    if (args.format == "json") json += (json.empty() ? "" : ", ") + r.json();
    else out << r.text();
  }
  if (args.format == "json")
    out << "{\"schema\": 1, \"profiles\": [" << json_quote(names[0]) << ", " << json_quote(names[1])
        << "], \"agree\": " << (agree ? "true" : "false") << ", \"traces\": [" << json << "]}\n";
  return agree ? kExitOk : kExitMismatch;
}

}  // namespace kvmsim
