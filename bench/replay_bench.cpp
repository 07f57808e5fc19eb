// Trace throughput: parse and replay of a QEMU-style memslot churn trace on model::Kvm. The
// trace is generated in-process (the same shape as bench/gen_churn_trace.sh: 64 slots, then
// rounds of delete / re-create at a moved GPA / dirty-logging toggle / a rejected request), so
// the benchmark needs no file. Counters: stmts_per_s for parse, replay and both together.
// A replay with any mismatch is reported as an error: a fast wrong answer measures nothing.
// BM_ReplayStreamVsCat is what `kvmsim replay FILE` does (sim/replay_stream.h): the trace file
// written by bench/gen_churn_trace.sh, streamed and replayed, against `cat FILE > /dev/null` of the
// same file in the same iteration (the I/O floor; the file is in the page cache for both).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "sim/replay.h"
#include "sim/replay_stream.h"
#include "sim/trace/parser.h"

namespace kvmsim::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string slot_line(int slot, const std::string& flags, u64 gpa_m, u64 size_m, u64 ua_m, const char* result) {
  return "KVM_SET_USER_MEMORY_REGION(vm, {slot=" + std::to_string(slot) + flags +
         ", guest_phys_addr=" + std::to_string(gpa_m) + "M, memory_size=" + std::to_string(size_m) +
         "M, userspace_addr=ram" + (ua_m ? "+" + std::to_string(ua_m) + "M" : std::string()) + "}) = " + result + "\n";
}

// About `n` statements (rounded up to whole rounds of 4).
std::string churn_trace(u64 n) {
  std::string t = "kvmsim-trace 1\nprofile linux-6.18\nram = mmap(256M, anon)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n";
  for (int s = 0; s < 64; ++s) t += slot_line(s, "", s * 4, 4, s * 4, "0");
  u64 emitted = 68;
  for (u64 round = 0; emitted < n; ++round, emitted += 4) {
    const int s = static_cast<int>(round % 64);
    const u64 base = (round % 2) ? 1024 : 0;
    t += "KVM_SET_USER_MEMORY_REGION(vm, {slot=" + std::to_string(s) + ", memory_size=0}) = 0\n";
    t += slot_line(s, "", base + s * 4, 4, s * 4, "0");
    t += slot_line(s, ", flags=KVM_MEM_LOG_DIRTY_PAGES", base + s * 4, 4, s * 4, "0");
    t += slot_line(s, "", base + s * 4, 8, 0, "-1 EINVAL");  // overlaps its neighbour
  }
  return t;
}

void BM_TraceParseReplay(benchmark::State& state) {
  const std::string text = churn_trace(static_cast<u64>(state.range(0)));
  double parse_s = 0, replay_s = 0;
  std::size_t stmts = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto parsed = trace::parse(text, "churn.trace");
    const auto t1 = Clock::now();
    if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
      state.SkipWithError(e->str().c_str());
      return;
    }
    const auto& tr = std::get<trace::Trace>(parsed);
    model::Kvm kvm(model::default_profile());
    const auto t2 = Clock::now();
    ReplayReport rep = replay(tr, kvm, ReplayOptions{});
    const auto t3 = Clock::now();
    if (!rep.ok() || rep.counts.matched != rep.counts.checked) {
      state.SkipWithError(("replay did not match: " + rep.text()).substr(0, 400).c_str());
      return;
    }
    stmts = tr.statements.size();
    parse_s += std::chrono::duration<double>(t1 - t0).count();
    replay_s += std::chrono::duration<double>(t3 - t2).count();
    state.SetIterationTime(std::chrono::duration<double>((t1 - t0) + (t3 - t2)).count());
  }
  const double n = static_cast<double>(state.iterations());
  const double s = static_cast<double>(stmts);
  state.counters["statements"] = s;
  state.counters["parse_stmts_per_s"] = s * n / parse_s;
  state.counters["replay_stmts_per_s"] = s * n / replay_s;
  state.counters["stmts_per_s"] = s * n / (parse_s + replay_s);
}
BENCHMARK(BM_TraceParseReplay)->ArgName("stmts")->Arg(100000)->UseManualTime()->Unit(benchmark::kMillisecond);

// Args: {statements}. Counters: stmts_per_s and bytes_per_s of the streamed replay, cat_bytes_per_s,
// replay_vs_cat (replay time / cat time: how far above the I/O floor), file_bytes.
void BM_ReplayStreamVsCat(benchmark::State& state) {
  const std::string path = "/tmp/kvmsim-bench-churn-" + std::to_string(getpid()) + ".trace";
  const std::string gen = std::string("'") + KVMSIM_SOURCE_DIR + "/bench/gen_churn_trace.sh' " +
                          std::to_string(state.range(0)) + " > '" + path + "'";
  if (std::system(gen.c_str()) != 0) return state.SkipWithError("bench/gen_churn_trace.sh failed");
  const std::string cat = "cat '" + path + "' > /dev/null";
  double replay_s = 0, cat_s = 0;
  std::uint64_t bytes = 0, stmts = 0;
  std::string error;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
      error = "cannot open " + path;
      break;
    }
    TraceStream ts(f, path);
    trace::Statement* st = ts.next();
    model::Kvm kvm(*model::find_profile(ts.parser().profile().value_or("linux-6.18")));
    ReplayOptions options;
    options.keep_all_results = false;
    Replayer rep(path, ts.parser().profile(), kvm, options);
    for (; st; st = ts.next()) rep.step(*st);
    std::fclose(f);
    const auto t1 = Clock::now();
    const ReplayReport r = rep.report();
    if (ts.error() || !r.ok() || r.counts.matched != r.counts.checked) {
      error = ts.error() ? ts.error()->str() : ("replay did not match: " + r.text()).substr(0, 400);
      break;
    }
    const auto t2 = Clock::now();
    if (std::system(cat.c_str()) != 0) {
      error = "cat failed";
      break;
    }
    const auto t3 = Clock::now();
    replay_s += std::chrono::duration<double>(t1 - t0).count();
    cat_s += std::chrono::duration<double>(t3 - t2).count();
    bytes = ts.bytes_read();
    stmts = r.counts.statements;
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  std::remove(path.c_str());
  if (!error.empty()) return state.SkipWithError(error.c_str());
  const double n = static_cast<double>(state.iterations());
  state.counters["statements"] = static_cast<double>(stmts);
  state.counters["file_bytes"] = static_cast<double>(bytes);
  state.counters["stmts_per_s"] = static_cast<double>(stmts) * n / replay_s;
  state.counters["bytes_per_s"] = static_cast<double>(bytes) * n / replay_s;
  state.counters["cat_bytes_per_s"] = static_cast<double>(bytes) * n / cat_s;
  state.counters["replay_vs_cat"] = replay_s / cat_s;
}
BENCHMARK(BM_ReplayStreamVsCat)
    ->ArgName("stmts")
    ->Arg(100000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvmsim::bench
