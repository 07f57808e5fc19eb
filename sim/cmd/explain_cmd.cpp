// `kvmsim explain`: replays a trace on the model up to a line and explains the leaf covering a GPA.
#include <optional>
#include <variant>

#include "model/vm/explain.h"
#include "model/vm/kvm.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/replay.h"
#include "sim/trace/eval.h"
#include "sim/trace/parser.h"

namespace kvmsim {

namespace {

// Parses a GPA written in trace syntax (`3G+2M`) with the trace grammar itself.
std::optional<u64> parse_gpa(const std::string& text, std::string* error) {
  auto parsed = trace::parse("kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nexpect mapping(vm, " + text + ")\n", "--gpa");
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
    *error = "--gpa '" + text + "': " + e->message;
    return std::nullopt;
  }
  const auto& st = std::get<trace::Trace>(parsed).statements.back();
  auto v = trace::evaluate(st.args.at(1).expr);
  if (v.overflow) {
    *error = "--gpa '" + text + "': out of range";
    return std::nullopt;
  }
  return v.value;
}

}  // namespace

int run_explain(const ExplainArgs& args, std::ostream& out, std::ostream& err) {
  std::string error;
  auto gpa = parse_gpa(args.gpa, &error);
  if (!gpa) {
    err << "kvmsim: " << error << "\n";
    return kExitUsage;
  }
  std::optional<trace::Trace> loaded = load_trace(args.file, err);
  if (!loaded) return kExitUsage;
  const trace::Trace& t = *loaded;
  const std::string pname = !args.profile.empty() ? args.profile : t.profile.value_or(model::default_profile().name);
  const model::Profile* profile = model::find_profile(pname);
  if (!profile) {
    err << "kvmsim: unknown profile '" << pname << "' (known: " << known_profile_names() << ")\n";
    return kExitUsage;
  }
  model::Kvm kvm(*profile);
  Replayer replayer(t, kvm, ReplayOptions{});
  std::string vm_name = args.vm;
  for (const auto& st : t.statements) {
    if (args.at_line && st.line > args.at_line) break;
    if (args.vm.empty() && st.callee == "KVM_CREATE_VM" && st.bind) vm_name = *st.bind;
    replayer.step();
  }
  if (vm_name.empty()) {
    err << args.file << ": no VM was created" << (args.at_line ? " up to line " + std::to_string(args.at_line) : "")
        << "\n";
    return kExitUsage;
  }
  auto fd = replayer.handle(vm_name);
  if (!fd) {
    err << args.file << ": VM handle '" << vm_name << "' is not bound (or its creation failed)\n";
    return kExitUsage;
  }
  out << args.file << (args.at_line ? ":" + std::to_string(args.at_line) : std::string()) << ": vm " << vm_name
      << ", profile " << profile->name << "\n";
  out << model::explain(kvm, static_cast<int>(*fd), *gpa);
  return kExitOk;
}

}  // namespace kvmsim
