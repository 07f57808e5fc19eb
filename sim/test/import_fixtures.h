// What the importer tests share (sim/test/*import*_test.cpp, rawlog_test.cpp): reading a fixture under
// sim/test/fixtures/, looking for a whole line of an imported trace, and replaying an imported trace on the
// model. Header-only: every test file is compiled into the one test binary.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <variant>

#include "model/profiles/profile.h"
#include "model/vm/kvm.h"
#include "sim/replay.h"
#include "sim/trace/parser.h"

namespace kvmsim::test {

// PATH (relative to the source tree), whole; an empty or missing file fails the calling test.
inline std::string source_file(const std::string& path) {
  std::ifstream f(std::string(KVMSIM_SOURCE_DIR) + "/" + path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << path;
  return ss.str();
}

// sim/test/fixtures/DIR/NAME, whole.
inline std::string fixture(const std::string& dir, const std::string& name) {
  return source_file("sim/test/fixtures/" + dir + "/" + name);
}

// `line` is one whole line of `text` (not its first: a trace opens with its header).
inline bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

// The imported trace parses and replays on the model (default profile); its counts.
inline ReplayCounts replay_on_model(const std::string& text) {
  auto parsed = trace::parse(text, "imported.trace");
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(parsed)) << text;
  if (!std::holds_alternative<trace::Trace>(parsed)) return {};
  model::Kvm kvm(model::default_profile());
  return replay(std::get<trace::Trace>(parsed), kvm, {}).counts;
}

}  // namespace kvmsim::test
