// kvmsim map: the GpaMap runs (cover every slot exactly, explain's rule per run), the timeline's
// counters, a 64 TiB guest drawn from O(runs) data, every bundled trace rendered as well-formed
// SVG, and byte-identical output for the same input.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "model/profiles/profile.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/json/json_value.h"
#include "sim/map/gpa_map.h"
#include "sim/map/map_guest_trace.h"
#include "sim/map/map_replay.h"
#include "sim/map/map_svg.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

namespace fs = std::filesystem;

trace::Trace parse_text(const std::string& text) {
  auto parsed = trace::parse(text, "inline.trace");
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(parsed));
  return std::get<trace::Trace>(parsed);
}

trace::Trace load(const std::string& rel) {
  std::ostringstream err;
  auto t = load_trace(std::string(KVMSIM_SOURCE_DIR) + "/" + rel, err);
  EXPECT_TRUE(t.has_value()) << err.str();
  return *t;
}

const model::Profile& profile_of(const trace::Trace& t) {
  return *model::find_profile(t.profile.value_or(model::default_profile().name));
}

std::vector<GpaMap> maps_of(const trace::Trace& t, int at_line = 0) {
  MapReplay run(t, profile_of(t), at_line);
  std::vector<GpaMap> maps;
  for (const VmHistory& h : run.vms())
    if (run.vm(h)) maps.push_back(build_gpa_map(*run.vm(h), h, at_line));
  return maps;
}

// Runs tile each slot exactly and adjacent runs differ.
void expect_tiling(const GpaMap& m) {
  for (const MapSlot& s : m.slots) {
    ASSERT_FALSE(s.runs.empty());
    EXPECT_EQ(s.runs.front().start, s.gpa);
    EXPECT_EQ(s.runs.back().end, s.gpa + s.size);
    for (std::size_t i = 0; i < s.runs.size(); ++i) {
      EXPECT_LT(s.runs[i].start, s.runs[i].end);
      if (i) {
        EXPECT_EQ(s.runs[i - 1].end, s.runs[i].start);
      }
    }
  }
}

TEST(GpaMap, HeadAndTailMisalignedSlotIsThreeRunsWithExplainRules) {
  const auto maps = maps_of(load("traces/tdp/level_combined_head_tail.trace"));
  ASSERT_EQ(maps.size(), 1u);
  ASSERT_EQ(maps[0].slots.size(), 1u);
  expect_tiling(maps[0]);
  const auto& runs = maps[0].slots[0].runs;
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].level, 1);
  EXPECT_EQ(runs[0].leaves, 511u);
  EXPECT_EQ(runs[0].rule, "slot_head_misaligned");
  EXPECT_EQ(runs[1].level, 2);
  EXPECT_EQ(runs[1].start, (1ull << 30) + (2ull << 20));
  EXPECT_EQ(runs[2].level, 1);
  EXPECT_EQ(runs[2].rule, "slot_tail_misaligned");
  EXPECT_EQ(maps[0].bytes[1], 1022u * 4096);
  EXPECT_EQ(maps[0].bytes[2], 2u << 20);
}

TEST(GpaMap, ZappedRangesNameTheStatementThatZappedThem) {
  const trace::Trace t = load("traces/tdp/zap_host_madvise.trace");
  const auto maps = maps_of(t);
  ASSERT_FALSE(maps.empty());
  bool zapped = false;
  for (const MapSlot& s : maps[0].slots)
    for (const MapRun& r : s.runs)
      if (r.state == MapRun::State::zapped) {
        zapped = true;
        EXPECT_GT(r.zapped_line, 0);
      }
  EXPECT_TRUE(zapped);
  expect_tiling(maps[0]);
}

TEST(GpaMap, SixtyFourTebibyteGuestIsAFewRuns) {
  // 64 TiB of hugetlb 1G pre-faulted in 16 slots of 4 TiB (a slot holds < 2^31 pages), the last
  // 1G a slot of its own under dirty logging: the map must come from leaf runs (one call per
  // uniform table), never from 2^34 pages.
  const trace::Trace t = parse_text(map_guest_trace(64 * 1024));
  const auto maps = maps_of(t);
  ASSERT_EQ(maps.size(), 1u);
  expect_tiling(maps[0]);
  ASSERT_EQ(maps[0].slots.size(), 17u);
  for (std::size_t i = 0; i < 16; ++i) {
    ASSERT_EQ(maps[0].slots[i].runs.size(), 1u) << "slot " << i;
    EXPECT_EQ(maps[0].slots[i].runs[0].level, 3);
  }
  EXPECT_EQ(maps[0].slots[0].runs[0].leaves, 4u * 1024);
  const MapSlot& logged = maps[0].slots[16];
  ASSERT_EQ(logged.runs.size(), 1u);
  EXPECT_EQ(logged.runs[0].level, 1);  // eager split down to 4K
  EXPECT_EQ(logged.runs[0].leaves, 1u << 18);
  EXPECT_EQ(logged.runs[0].rule, "dirty_logging");
  EXPECT_EQ(maps[0].bytes[3], (64ull << 40) - (1ull << 30));
  EXPECT_EQ(maps[0].bytes[1], 1ull << 30);
  const std::string svg = gpa_map_svg(MapPictureInfo{"inline.trace", 0, "linux-6.18"}, maps);
  EXPECT_LT(svg.size(), 40000u);
}

TEST(MapTimeline, DirtyLoggingSplitsAndRecoveryAreMarkedOnTheirStatements) {
  const trace::Trace t = load("traces/tdp/dirty_log_eager_split_recover.trace");
  MapReplay run(t, profile_of(t), 0);
  ASSERT_EQ(run.vms().size(), 1u);
  const auto& samples = run.vms()[0].samples;
  int on = 0, off = 0;
  for (const TimelineSample& s : samples) {
    for (const std::string& c : s.causes) {
      if (c == "dirty_log_on") {
        ++on;
        EXPECT_EQ(s.delta.eager_splits, 2u);
        EXPECT_EQ(s.bytes[1], 4u << 20);
      }
      if (c == "dirty_log_off") {
        ++off;
        EXPECT_EQ(s.delta.huge_recovered, 2u);
        EXPECT_EQ(s.bytes[2], 4u << 20);
      }
    }
  }
  EXPECT_EQ(on, 1);
  EXPECT_EQ(off, 1);
}

TEST(MapTimeline, NxSplitIsCounted) {
  const trace::Trace t = load("traces/tdp/nx_huge_pages_split.trace");
  MapReplay run(t, profile_of(t), 0);
  u64 nx = 0;
  for (const VmHistory& h : run.vms())
    for (const TimelineSample& s : h.samples) nx += s.delta.nx_splits;
  EXPECT_GT(nx, 0u);
}

// Every element opened is closed, in order (a small well-formedness check without an XML library).
bool balanced_xml(const std::string& doc, std::string* why) {
  std::vector<std::string> stack;
  for (std::size_t i = doc.find('<'); i != std::string::npos; i = doc.find('<', i + 1)) {
    const std::size_t e = doc.find('>', i);
    if (e == std::string::npos) return *why = "unterminated tag", false;
    const std::string tag = doc.substr(i + 1, e - i - 1);
    if (tag.empty() || tag[0] == '!' || tag[0] == '?') continue;
    if (tag.back() == '/') continue;
    const std::string name = tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" \n", 0) - (tag[0] == '/' ? 1 : 0));
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != name) return *why = "unexpected </" + name + ">", false;
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) return *why = "<" + stack.back() + "> not closed", false;
  return true;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(MapCommand, RendersEveryBundledTraceAsWellFormedSvg) {
  std::vector<std::string> files;
  std::string error;
  ASSERT_TRUE(expand_trace_paths({std::string(KVMSIM_SOURCE_DIR) + "/traces"}, &files, &error)) << error;
  ASSERT_GT(files.size(), 100u);
  const fs::path dir = fs::temp_directory_path() / "kvmsim-map-test";
  fs::create_directories(dir);
  for (const std::string& f : files) {
    for (bool timeline : {false, true}) {
      MapArgs a;
      a.file = f;
      a.timeline = timeline;
      a.out = (dir / "out.svg").string();
      std::ostringstream out, err;
      ASSERT_EQ(run_map(a, out, err), kExitOk) << f << ": " << err.str();
      const std::string svg = slurp(a.out);
      ASSERT_EQ(svg.rfind("<svg ", 0), 0u) << f;
      std::string why;
      EXPECT_TRUE(balanced_xml(svg, &why)) << f << (timeline ? " --timeline: " : ": ") << why;
      // The JSON form parses and has the documented top level (docs/json.md).
      a.out.clear();
      a.format = "json";
      std::ostringstream json;
      ASSERT_EQ(run_map(a, json, err), kExitOk) << f << ": " << err.str();
      auto v = parse_json(json.str(), &why);
      ASSERT_TRUE(v.has_value()) << f << (timeline ? " --timeline: " : ": ") << why;
      EXPECT_EQ(v->integer("schema"), 1);
      ASSERT_NE(v->get("vms"), nullptr);
      EXPECT_EQ(v->get("vms")->kind, JsonValue::Kind::array);
    }
  }
  fs::remove_all(dir);
}

TEST(MapCommand, SameTraceGivesByteIdenticalOutput) {
  const fs::path dir = fs::temp_directory_path() / "kvmsim-map-det";
  fs::create_directories(dir);
  for (const char* ext : {".html", ".svg"}) {
    for (bool timeline : {false, true}) {
      std::string docs[2];
      for (int i = 0; i < 2; ++i) {
        MapArgs a;
        a.file = std::string(KVMSIM_SOURCE_DIR) + "/traces/vmm/qemu_seabios_churn.trace";
        a.timeline = timeline;
        a.out = (dir / ("out" + std::to_string(i) + ext)).string();
        std::ostringstream out, err;
        ASSERT_EQ(run_map(a, out, err), kExitOk) << err.str();
        docs[i] = slurp(a.out);
      }
      EXPECT_FALSE(docs[0].empty());
      EXPECT_EQ(docs[0], docs[1]) << ext << (timeline ? " timeline" : "");
    }
  }
  MapArgs j;
  j.file = std::string(KVMSIM_SOURCE_DIR) + "/traces/vmm/qemu_seabios_churn.trace";
  j.format = "json";
  std::ostringstream o1, o2, err;
  ASSERT_EQ(run_map(j, o1, err), kExitOk);
  ASSERT_EQ(run_map(j, o2, err), kExitOk);
  EXPECT_EQ(o1.str(), o2.str());
  fs::remove_all(dir);
}

TEST(GpaMap, SizeLabels) {
  EXPECT_EQ(size_text(0), "0");
  EXPECT_EQ(size_text(4096), "4K");
  EXPECT_EQ(size_text(1020 * 1024), "1020K");
  EXPECT_EQ(size_text(64ull << 40), "64T");
  EXPECT_EQ(size_text(4062976ull * 1024), "3.9G");
  EXPECT_EQ(size_text(1500), "1.5K");
}

TEST(GpaMap, AtLineDrawsTheStateBeforeLaterStatements) {
  // Line 9 creates the slot, line 11 pre-faults it: at line 10 nothing is mapped yet.
  const auto maps = maps_of(load("traces/tdp/level_combined_head_tail.trace"), 10);
  ASSERT_EQ(maps.size(), 1u);
  ASSERT_EQ(maps[0].slots.size(), 1u);
  ASSERT_EQ(maps[0].slots[0].runs.size(), 1u);
  EXPECT_EQ(maps[0].slots[0].runs[0].state, MapRun::State::never_mapped);
  EXPECT_EQ(maps[0].at_line, 10);
}

// The options as main.cpp parses them: exit codes of the binary.
int run_binary(const std::string& args) {
  const std::string cmd = std::string(KVMSIM_BINARY) + " " + args + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MapCommand, CommandLine) {
  const std::string trace = std::string(KVMSIM_SOURCE_DIR) + "/traces/tdp/level_backing_2m.trace";
  const fs::path out = fs::temp_directory_path() / "kvmsim-map-cli.html";
  EXPECT_EQ(run_binary("map " + trace + " -o " + out.string()), 0);
  EXPECT_EQ(slurp(out).rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(run_binary("map --timeline " + trace + " --at 12 --vm vm -o " + out.string()), 0);
  EXPECT_EQ(run_binary("map " + trace + " --format json"), 0);
  EXPECT_EQ(run_binary("map " + trace), 2);
  EXPECT_EQ(run_binary("map " + trace + " --format png -o x.png"), 2);
  EXPECT_EQ(run_binary("map /nonexistent.trace -o x.svg"), 2);
  fs::remove(out);
}

TEST(MapCommand, UsageErrors) {
  MapArgs a;
  a.file = std::string(KVMSIM_SOURCE_DIR) + "/traces/tdp/level_backing_2m.trace";
  std::ostringstream out, err;
  EXPECT_EQ(run_map(a, out, err), kExitUsage);  // no -o
  a.out = "x.png";
  EXPECT_EQ(run_map(a, out, err), kExitUsage);  // unknown extension
  a.out.clear();
  a.format = "json";
  a.vm = "nosuchvm";
  EXPECT_EQ(run_map(a, out, err), kExitUsage);
  EXPECT_NE(err.str().find("no VM handle 'nosuchvm'"), std::string::npos);
}

}  // namespace
}  // namespace kvmsim
