// Every subcommand's `--format json` (docs/json.md), one table row per case, error cases included: the
// kvmsim binary runs, its stdout must be exactly one JSON document that the reader (sim/json/json_value.h)
// accepts, with the row's keys (a dotted path reaches into objects, `N` into arrays) and the row's exit
// code (sim/cmd/exit_codes.h). A new subcommand adds its rows here.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/cmd/exit_codes.h"
#include "sim/json/json_value.h"

namespace kvmsim {
namespace {

namespace fs = std::filesystem;

struct Row {
  const char* name;
  std::string args;  // after `kvmsim --quiet`; {T} is the temporary directory, {S} the source tree
  int exit_code;
  std::vector<std::string> keys;  // paths that must exist: "error.line", "reports.0.file"
  std::vector<std::pair<std::string, std::string>> values = {};  // path -> the value's text
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name << ": kvmsim " << row.args; }

std::string expand(std::string s, const std::string& tmp) {
  for (auto [from, to] : {std::pair<std::string, std::string>{"{T}", tmp}, {"{S}", KVMSIM_SOURCE_DIR}})
    for (std::size_t p; (p = s.find(from)) != std::string::npos;) s.replace(p, from.size(), to);
  return s;
}

const JsonValue* at(const JsonValue& root, const std::string& path) {
  const JsonValue* v = &root;
  std::istringstream parts(path);
  for (std::string part; v && std::getline(parts, part, '.');) {
    if (v->kind == JsonValue::Kind::array) {
      const std::size_t i = std::stoul(part);
      v = i < v->items.size() ? &v->items[i] : nullptr;
    } else {
      v = v->get(part);
    }
  }
  return v;
}

std::string text_of(const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::null: return "null";
    case JsonValue::Kind::boolean: return v.boolean ? "true" : "false";
    default: return v.text;
  }
}

class JsonOutput : public ::testing::TestWithParam<Row> {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/kvmsim-json-XXXXXX";
    tmp_ = mkdtemp(tmpl);
    fs::create_directories(tmp_ + "/empty");
    std::ofstream(tmp_ + "/good.trace") << "kvmsim-trace 1\nprofile linux-6.18\nvm = KVM_CREATE_VM(0)\n"
                                           "KVM_SET_USER_MEMORY_REGION(vm, {slot=1|1<<16, memory_size=0}) = -1 EINVAL\n";
    std::ofstream(tmp_ + "/bad.trace") << "kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\ntouch(1<2, 0)\n";
    std::ofstream(tmp_ + "/badhost.trace") << "kvmsim-trace 1\nhost thp=sometimes\n";
    std::ofstream(tmp_ + "/shmemthp.trace") << "kvmsim-trace 1\nhost shmem_thp=always\nvm = KVM_CREATE_VM(0)\n";
    std::ofstream(tmp_ + "/unknown_profile.trace") << "kvmsim-trace 1\nprofile linux-0.1\n";
  }
  static void TearDownTestSuite() { fs::remove_all(tmp_); }
  static std::string tmp_;
};
std::string JsonOutput::tmp_;

TEST_P(JsonOutput, IsOneValidDocumentWithItsKeys) {
  const Row& row = GetParam();
  const std::string cmd = std::string(KVMSIM_BINARY) + " --quiet " + expand(row.args, tmp_) + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  for (std::size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  const int status = pclose(p);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, row.exit_code) << cmd << "\n" << out;
  std::string error;
  auto doc = parse_json(out, &error);
  ASSERT_TRUE(doc) << cmd << ": not JSON (" << error << "):\n" << out;
  ASSERT_EQ(doc->kind, JsonValue::Kind::object) << out;
  EXPECT_EQ(doc->integer("schema"), 1) << out;
  for (const auto& k : row.keys) EXPECT_NE(at(*doc, k), nullptr) << cmd << ": no " << k << " in\n" << out;
  for (const auto& [k, want] : row.values) {
    const JsonValue* v = at(*doc, k);
    ASSERT_NE(v, nullptr) << cmd << ": no " << k << " in\n" << out;
    EXPECT_EQ(text_of(*v), want) << cmd << ": " << k;
  }
}

const std::vector<std::string> kErrorKeys = {"error.file", "error.line", "error.col", "error.message"};

INSTANTIATE_TEST_SUITE_P(
    EverySubcommand, JsonOutput,
    ::testing::Values(
        Row{"replay", "replay --format json {T}/good.trace", kExitOk,
            {"reports.0.file", "reports.0.ok", "errors", "passed", "failed", "malformed", "skipped"},
            {{"passed", "1"}, {"malformed", "0"}}},
        Row{"replay_stdin", "replay --format json - < {T}/good.trace", kExitOk, {"reports.0.ok"},
            {{"reports.0.file", "<stdin>"}, {"passed", "1"}}},
        Row{"replay_parse_error", "replay --format json {T}/bad.trace", kExitUsage,
            {"errors.0.file", "errors.0.message", "reports"},
            {{"errors.0.line", "3"}, {"errors.0.col", "8"}, {"malformed", "1"}}},
        Row{"replay_stdin_parse_error", "replay --format json - < {T}/bad.trace", kExitUsage, {"errors.0.message"},
            {{"errors.0.file", "<stdin>"}, {"errors.0.line", "3"}, {"errors.0.col", "8"}}},
        Row{"replay_bad_host_header", "replay --format json {T}/badhost.trace", kExitUsage, {"errors.0.file"},
            {{"errors.0.line", "2"}, {"errors.0.col", "10"}}},
        Row{"replay_unmodelled_shmem_thp", "replay --format json {T}/shmemthp.trace", kExitUsage, {"errors.0.message"},
            {{"errors.0.line", "2"}, {"errors.0.col", "null"}}},
        Row{"replay_unknown_profile", "replay --format json {T}/unknown_profile.trace", kExitUsage,
            {"errors.0.message"}, {{"errors.0.line", "2"}}},
        Row{"replay_empty_directory", "replay --format json {T}/empty", kExitNothingRan, kErrorKeys,
            {{"error.file", "null"}}},
        Row{"replay_missing_path", "replay --format json {T}/nothing-here", kExitUsage, kErrorKeys},
        Row{"replay_bad_backend", "replay --format json --backend model,foo {T}/good.trace", kExitUsage, kErrorKeys},
        Row{"caps", "caps --format json --profile linux-6.18", kExitOk, {"profile", "caps.0.cap", "caps.0.nr"}},
        Row{"caps_unknown_profile", "caps --format json --profile linux-0.1", kExitUsage, kErrorKeys},
        Row{"probe_without_device", "probe --format json --device {T}/no-kvm", kExitNothingRan,
            {"unavailable.backend", "unavailable.reason"}},
        Row{"profiles", "profiles --format json", kExitOk,
            {"profiles.0.name", "profiles.0.description", "profiles.0.thp", "profiles.0.shmem_thp"}},
        Row{"explain", "explain --format json {S}/traces/tdp/slot_alignment_head.trace --gpa 1G+4K", kExitOk,
            {"file", "gpa", "memslot", "leaf", "outcome", "factors", "decision", "verdict"}},
        Row{"explain_parse_error", "explain --format json {T}/bad.trace --gpa 0", kExitUsage, kErrorKeys,
            {{"error.line", "3"}, {"error.col", "8"}}},
        Row{"explain_bad_gpa", "explain --format json {T}/good.trace --gpa '1<<64'", kExitUsage, kErrorKeys},
        Row{"explain_no_vm", "explain --format json {T}/good.trace --gpa 0 --at 2", kExitUsage, kErrorKeys},
        Row{"conformance_list", "conformance --list --format json", kExitOk,
            {"count", "groups.vm", "cases.0.id", "cases.0.group", "cases.0.name", "cases.0.needs"}},
        Row{"conformance_run", "conformance --format json --backend model --group vm", kExitOk,
            {"backends.0", "cases.0.status"}},
        Row{"conformance_unknown_group", "conformance --list --format json --group nope", kExitUsage, kErrorKeys},
        Row{"fuzz", "fuzz --format json --backend model,model-ref --seed 0x5eed --steps 60", kExitOk,
            {"report", "backend", "profile", "seeds.0.seed", "seeds.0.result", "findings", "explained", "summary.steps",
             "exit_code"},
            {{"seeds.0.result", "clean"}, {"summary.steps", "60"}}},
        Row{"map", "map --format json {S}/docs/examples/vmm-guest.trace", kExitOk,
            {"file", "profile", "vms.0.bytes.2M", "vms.0.slots.0.runs.0.state", "vms.0.slots.0.runs.0.rule"}},
        Row{"map_timeline", "map --timeline --format json {S}/docs/examples/vmm-guest.trace", kExitOk,
            {"vms.0.samples.0.line", "vms.0.samples.0.bytes.4K", "vms.0.samples.0.events.eager_splits"}},
        Row{"compare", "compare --format json --profiles linux-7.3,rfc-map-memory-v1 {S}/traces/proposals/review_points.trace",
            kExitMismatch, {"profiles.1", "agree", "traces.0.rows.0.sides.1.translated"}, {{"agree", "false"}}},
        Row{"fuzz_bad_seed", "fuzz --format json --backend model,model-ref --seed zz", kExitUsage, kErrorKeys},
        Row{"fuzz_bad_backend", "fuzz --format json --backend model,foo", kExitUsage, kErrorKeys}),
    [](const ::testing::TestParamInfo<Row>& row) { return std::string(row.param.name); });

}  // namespace
}  // namespace kvmsim
