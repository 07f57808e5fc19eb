// `kvmsim explain`: replays a trace on the model up to a line and explains the leaf covering a GPA.
#include <optional>
#include <variant>

#include "model/vm/explain.h"
#include "model/vm/kvm.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/json/json.h"
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

std::string jbool(bool b) { return b ? "true" : "false"; }

// The JSON form of an explanation (schema: docs/json.md, "explain"). Addresses are hex strings so
// 64-bit values survive readers that hold numbers as doubles.
std::string explain_json(const ExplainArgs& args, const std::string& file, const std::string& vm,
                         const std::string& profile, const model::Explanation& e) {
  using model::hex;
  std::string j = "{\"schema\": 1, \"file\": " + json_quote(file) + ", \"at_line\": " +
                  (args.at_line ? std::to_string(args.at_line) : "null") + ", \"vm\": " + json_quote(vm) +
                  ", \"profile\": " + json_quote(profile) + ", \"gpa\": " + json_quote(hex(e.gpa)) +
                  ", \"gfn\": " + json_quote(hex(e.gpa >> 12)) + ", \"memslot\": ";
  if (e.has_slot)
    j += "{\"id\": " + std::to_string(e.slot_id) + ", \"gpa\": " + json_quote(hex(e.slot_gpa)) +
         ", \"size\": " + json_quote(hex(e.slot_size)) + ", \"hva\": " + json_quote(hex(e.slot_hva)) +
         ", \"flags\": " + std::to_string(e.slot_flags) + "}";
  else
    j += "null";
  j += ", \"attributes\": " + std::to_string(e.attributes) + ", \"private\": " + jbool(e.is_private) + ", \"leaf\": ";
  if (e.leaf.level)
    j += std::string("{\"level\": ") + json_quote(level_name(e.leaf.level)) + ", \"gpa\": " +
         json_quote(hex(e.leaf.gpa)) + ", \"writable\": " + jbool(e.leaf.writable) + ", \"exec\": " +
         jbool(e.leaf.executable) + ", \"private\": " + jbool(e.leaf.is_private) + ", \"accessed\": " +
         jbool(e.leaf.accessed) + ", \"dirty\": " + jbool(e.leaf.dirty) + "}";
  else
    j += "null";
  j += ", \"outcome\": " + json_quote(e.outcome) + ", \"factors\": [";
  for (std::size_t i = 0; i < e.factors.size(); i++)
    j += std::string(i ? ", " : "") + "{\"rule\": " + json_quote(e.factors[i].rule) + ", \"cap\": " +
         json_quote(level_name(e.factors[i].cap)) + ", \"detail\": " + json_quote(e.factors[i].detail) + "}";
  j += "], \"decision\": ";
  if (e.has_slot && e.outcome == "map") {
    j += std::string("{\"level\": ") + json_quote(level_name(e.decision.goal_level)) + ", \"limits\": [";
    for (std::size_t i = 0; i < e.decision.limits.size(); i++)
      j += std::string(i ? ", " : "") + "{\"rule\": " + json_quote(e.decision.limits[i].rule) + ", \"level\": " +
           json_quote(level_name(e.decision.limits[i].level)) + ", \"detail\": " +
           json_quote(e.decision.limits[i].detail) + "}";
    j += "], \"decided_by\": {\"rule\": " + json_quote(e.decided_by.rule) + ", \"level\": " +
         json_quote(level_name(e.decided_by.level)) + ", \"detail\": " + json_quote(e.decided_by.detail) + "}}";
  } else {
    j += "null";
  }
  return j + ", \"verdict\": " + json_quote(e.summary) + "}\n";
}

}  // namespace

int run_explain(const ExplainArgs& args, std::ostream& out, std::ostream& err) {
  const bool json = args.format == "json";
  // Every failure: its line on stderr and, in JSON mode, the error document on stdout (docs/json.md).
  auto fail = [&](const std::string& file, int line, int col, const std::string& message) {
    err << (file.empty() ? "kvmsim" : file) << (line ? ":" + std::to_string(line) : std::string()) << ": " << message
        << "\n";
    if (json) out << error_document(file, line, col, message);
    return kExitUsage;
  };
  std::string error;
  auto gpa = parse_gpa(args.gpa, &error);
  if (!gpa) return fail("", 0, 0, error);
  trace::ParseError parse_error;
  std::optional<trace::Trace> loaded = load_trace(args.file, err, &parse_error);
  if (!loaded) {
    if (json) out << error_document(parse_error.file, parse_error.line, parse_error.col, parse_error.message);
    return kExitUsage;
  }
  const trace::Trace& t = *loaded;
  const std::string pname = !args.profile.empty() ? args.profile : t.profile.value_or(model::default_profile().name);
  const model::Profile* profile = model::find_profile(pname);
  if (!profile) return fail("", 0, 0, "unknown profile '" + pname + "' (known: " + known_profile_names() + ")");
  std::vector<std::shared_ptr<model::Profile>> owned;
  profile = with_host_header(*profile, t, &owned, &error);
  if (!profile) return fail(t.file, t.host->line, 0, error);
  model::Kvm kvm(*profile);
  Replayer replayer(t, kvm, ReplayOptions{});
  std::string vm_name = args.vm;
  for (const auto& st : t.statements) {
    if (args.at_line && st.line > args.at_line) break;
    if (args.vm.empty() && st.callee == "KVM_CREATE_VM" && st.bind) vm_name = *st.bind;
    replayer.step();
  }
  if (vm_name.empty())
    return fail(t.file, 0, 0,
                "no VM was created" + (args.at_line ? " up to line " + std::to_string(args.at_line) : std::string()));
  auto fd = replayer.handle(vm_name);
  if (!fd) return fail(t.file, 0, 0, "VM handle '" + vm_name + "' is not bound (or its creation failed)");
  if (json) {
    const model::Vm* vm = kvm.vm(static_cast<int>(*fd));
    if (!vm) return fail(t.file, 0, 0, "VM handle '" + vm_name + "' is not a VM");
    out << explain_json(args, t.file, vm_name, profile->name, model::explain_gpa(*vm, *gpa));
    return kExitOk;
  }
  out << t.file << (args.at_line ? ":" + std::to_string(args.at_line) : std::string()) << ": vm " << vm_name
      << ", profile " << profile->name << "\n";
  out << model::explain(kvm, static_cast<int>(*fd), *gpa);
  return kExitOk;
}

}  // namespace kvmsim
