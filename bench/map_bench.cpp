// kvmsim map on a 4 GiB and a 64 TiB guest mapped with 1G pages (one slot at 4K under dirty
// logging in both): building the GpaMap and its SVG costs O(runs), so the two rows should take about
// the same time (compare the rows as a ratio; no test asserts a time). Counter: runs drawn.
#include <benchmark/benchmark.h>

#include <string>
#include <variant>

#include "model/profiles/profile.h"
#include "sim/map/gpa_map.h"
#include "sim/map/map_guest_trace.h"
#include "sim/map/map_replay.h"
#include "sim/map/map_svg.h"
#include "sim/trace/parser.h"

namespace kvmsim::bench {
namespace {

trace::Trace guest_trace(u64 gib) {
  return std::get<trace::Trace>(trace::parse(map_guest_trace(gib), "bench.trace"));
}

void BM_GpaMap(benchmark::State& state) {
  const trace::Trace t = guest_trace(static_cast<u64>(state.range(0)));
  const model::Profile& profile = *model::find_profile("linux-6.18");
  const MapReplay run(t, profile, 0);
  std::size_t runs = 0;
  for (auto _ : state) {
    std::vector<GpaMap> maps;
    for (const VmHistory& h : run.vms()) maps.push_back(build_gpa_map(*run.vm(h), h, 0));
    const std::string svg = gpa_map_svg(MapPictureInfo{"bench.trace", 0, profile.name}, maps);
    benchmark::DoNotOptimize(svg.data());
    runs = 0;
    for (const GpaMap& m : maps)
      for (const MapSlot& s : m.slots) runs += s.runs.size();
  }
  state.counters["runs"] = static_cast<double>(runs);
}
BENCHMARK(BM_GpaMap)->ArgName("GiB")->Arg(4)->Arg(65536)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kvmsim::bench
