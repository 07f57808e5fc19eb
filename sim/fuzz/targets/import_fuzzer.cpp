// libFuzzer target for a log importer (sim/import): arbitrary bytes as the log, the importer's
// documented invariants checked on what it returns. An importer never fails on its input, so the only
// findings are a crash, a sanitizer report, or a broken invariant (abort with the output):
//   - the trace it writes parses (sim/trace/parser.h);
//   - the same log gives the byte-identical trace (determinism).
// One binary per importer: CMake's kvmsim_fuzz_target(... IMPORTER FN HEADER) row defines
// KVMSIM_IMPORT_HEADER and KVMSIM_IMPORT_FN (a function (text, file name) -> ImportResult or trace
// text), so an importer's target is that one row. docs/fuzz.md "Coverage-guided fuzzing".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <variant>

#include "sim/trace/parser.h"
#include KVMSIM_IMPORT_HEADER

namespace {

// The trace text of an importer's result, whichever of the two shapes it returns.
template <typename R>
const std::string& trace_text(const R& r) {
  if constexpr (std::is_convertible_v<const R&, const std::string&>) return r;
  else return r.trace;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string log(reinterpret_cast<const char*>(data), size);
  const auto first = KVMSIM_IMPORT_FN(log, "fuzz.log");
  const std::string& text = trace_text(first);
  const auto parsed = kvmsim::trace::parse(text, "imported.trace");
  if (auto* e = std::get_if<kvmsim::trace::ParseError>(&parsed)) {
    std::fprintf(stderr, "imported trace does not parse: %s\n--- trace ---\n%s", e->str().c_str(), text.c_str());
    std::abort();
  }
  if (trace_text(KVMSIM_IMPORT_FN(log, "fuzz.log")) != text) {
    std::fprintf(stderr, "the same log imported twice gives different traces\n");
    std::abort();
  }
  return 0;
}
