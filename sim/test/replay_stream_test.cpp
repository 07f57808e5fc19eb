// Streamed replay (sim/replay_stream.h, trace::StreamParser): the stream hands out the statements
// parse() would, reports the same first error, copies its input byte for byte (--update), splices
// rewrites into the copy, and a Replayer that keeps only problems still counts every statement.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "model/profiles/profile.h"
#include "model/vm/kvm.h"
#include "sim/replay.h"
#include "sim/replay_stream.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

namespace fs = std::filesystem;

// Streams `text` (from a temporary file), copying it; the statements handed out, the copy, the error.
struct Streamed {
  std::vector<trace::Statement> statements;
  std::string copy;
  std::optional<trace::ParseError> error;
};
Streamed stream(const std::string& text, const std::string& rewrite_every = "") {
  std::FILE* in = std::tmpfile();
  std::fwrite(text.data(), 1, text.size(), in);
  std::rewind(in);
  char* out_buf = nullptr;
  std::size_t out_size = 0;
  std::FILE* out = open_memstream(&out_buf, &out_size);
  Streamed s;
  {
    TraceStream ts(in, "s.trace");
    ts.copy_to(out);
    while (trace::Statement* st = ts.next()) {
      s.statements.push_back(*st);
      if (!rewrite_every.empty()) ts.set_rewrite(rewrite_every);
    }
    s.error = ts.error();
  }
  std::fclose(in);
  std::fclose(out);
  s.copy.assign(out_buf, out_size);
  std::free(out_buf);
  return s;
}

TEST(TraceStream, SameStatementsAsParseAndAByteIdenticalCopyForEveryCorpusTrace) {
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(std::string(KVMSIM_SOURCE_DIR) + "/traces")) {
    if (e.path().extension() != ".trace") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    auto parsed = trace::parse(text, "s.trace");
    const Streamed s = stream(text);
    if (auto* err = std::get_if<trace::ParseError>(&parsed)) {
      ASSERT_TRUE(s.error) << e.path();
      EXPECT_EQ(s.error->str(), err->str());
      continue;
    }
    EXPECT_FALSE(s.error) << e.path() << ": " << s.error->str();
    const auto& t = std::get<trace::Trace>(parsed);
    ASSERT_EQ(s.statements.size(), t.statements.size()) << e.path();
    for (std::size_t i = 0; i < s.statements.size(); i++) {
      EXPECT_EQ(s.statements[i], t.statements[i]) << e.path() << " #" << i;
      EXPECT_EQ(s.statements[i].line, t.statements[i].line);
      EXPECT_EQ(s.statements[i].text, t.statements[i].text);
    }
    EXPECT_EQ(s.copy, text) << e.path();
    files++;
  }
  EXPECT_GT(files, 20);
}

TEST(TraceStream, LayoutEdgeCases) {
  // No final newline, CRLF, comments only, a line longer than the 1 MiB read block.
  const std::string long_comment = "# " + std::string(3u << 20, 'x');
  for (const std::string& text :
       {std::string("kvmsim-trace 1\nmunmap(0, 4K)"), std::string("kvmsim-trace 1\r\nmunmap(0, 4K)\r\n\r\n"),
        std::string("kvmsim-trace 1\n# nothing\n"), "kvmsim-trace 1\n" + long_comment + "\nmunmap(0, 4K)\n"}) {
    const Streamed s = stream(text);
    EXPECT_FALSE(s.error) << s.error->str();
    EXPECT_EQ(s.copy, text);
    EXPECT_EQ(s.statements.size(), text.find("munmap") == std::string::npos ? 0u : 1u);
  }
  // The same first error as parse(), wherever it is; an empty input has no header.
  for (const std::string& text : {std::string("kvmsim-trace 1\nmunmap(0, 4K)\nmunmap(0, 4Q)\n"), std::string(""),
                                 std::string("\n\n# only a comment\n")}) {
    const Streamed s = stream(text);
    auto parsed = trace::parse(text, "s.trace");
    ASSERT_TRUE(s.error);
    EXPECT_EQ(s.error->str(), std::get<trace::ParseError>(parsed).str());
  }
}

TEST(TraceStream, RewritesAreSplicedIntoTheCopy) {
  const std::string text = "kvmsim-trace 1\n# c\nmunmap(0, 4K) = 5   # keep\nmunmap(0, 4K)\n";
  const Streamed s = stream(text, "= 0");
  EXPECT_EQ(s.copy, "kvmsim-trace 1\n# c\nmunmap(0, 4K) = 0   # keep\nmunmap(0, 4K) = 0\n");
}

TEST(ReplayerStreaming, KeepsOnlyProblemsButCountsEverything) {
  const std::string text =
      "kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nKVM_CHECK_EXTENSION(vm, KVM_CAP_NR_MEMSLOTS) = 32764\n"
      "KVM_CHECK_EXTENSION(vm, KVM_CAP_NR_MEMSLOTS) = 1\nKVM_CHECK_EXTENSION(vm, KVM_CAP_NR_MEMSLOTS)\n";
  auto t = std::get<trace::Trace>(trace::parse(text, "k.trace"));
  model::Kvm a(model::default_profile()), b(model::default_profile());
  ReplayOptions lean;
  lean.keep_all_results = false;
  Replayer streamed("k.trace", t.profile, a, lean);
  for (const auto& st : t.statements) streamed.step(st);
  const ReplayReport full = replay(t, b, ReplayOptions{});
  const ReplayReport kept = streamed.report();
  EXPECT_EQ(kept.counts.statements, 4u);
  EXPECT_EQ(kept.counts.matched, full.counts.matched);
  EXPECT_EQ(kept.counts.mismatched, 1u);
  EXPECT_EQ(kept.counts.unchecked, 1u);
  ASSERT_EQ(kept.results.size(), 1u);
  EXPECT_EQ(kept.results[0].line, 4);
  EXPECT_EQ(kept.text(), full.text());
}

}  // namespace
}  // namespace kvmsim
