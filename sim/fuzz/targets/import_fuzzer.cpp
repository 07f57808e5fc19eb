// libFuzzer target for a log importer (sim/import): arbitrary bytes as the log, the importer's
// documented invariants checked on what it returns. The findings are a crash, a sanitizer report, or a
// broken invariant (abort with the output):
//   - the trace it writes parses (sim/trace/parser.h); an importer of a strict syntax (a syzkaller
//     program) may refuse the input with an ImportError instead, a valid outcome;
//   - the same log gives the byte-identical trace, or the same error (determinism).
// One binary per importer: CMake's kvmsim_fuzz_target(... IMPORTER FN HEADER) row defines
// KVMSIM_IMPORT_HEADER and KVMSIM_IMPORT_FN, a function (text, FILE) where FILE is the log's file name or an
// options struct with a `file` member, returning the trace text, a result struct with `.trace`, or a variant
// of such a struct and ImportError; so an importer's target is that one row. docs/fuzz.md "Coverage-guided
// fuzzing".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <variant>

#include "sim/import/result.h"
#include "sim/trace/parser.h"
#include KVMSIM_IMPORT_HEADER

namespace {

// The importer's second parameter, built from the log's name.
template <typename R, typename Text, typename File>
std::decay_t<File> file_param(R (*)(Text, File)) {
  using F = std::decay_t<File>;
  if constexpr (std::is_constructible_v<F, const char*>) {
    return F("fuzz.log");
  } else {
    F options{};
    options.file = "fuzz.log";
    return options;
  }
}

// What an importer's result says, whichever shape it returns.
struct Outcome {
  std::string trace;  // empty when refused
  std::string error;  // the ImportError when refused
  bool operator==(const Outcome&) const = default;
};

template <typename R>
Outcome outcome(const R& r) {
  if constexpr (std::is_convertible_v<const R&, const std::string&>) return {r, {}};
  else if constexpr (std::is_same_v<R, kvmsim::importer::ImportError>) return {{}, r.str()};
  else if constexpr (requires { r.trace; }) return {r.trace, {}};
  else return std::visit([](const auto& x) { return outcome(x); }, r);
}

Outcome import_once(const std::string& log) {
  return outcome(KVMSIM_IMPORT_FN(log, file_param(&KVMSIM_IMPORT_FN)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string log(reinterpret_cast<const char*>(data), size);
  const Outcome first = import_once(log);
  if (first.error.empty()) {
    const auto parsed = kvmsim::trace::parse(first.trace, "imported.trace");
    if (auto* e = std::get_if<kvmsim::trace::ParseError>(&parsed)) {
      std::fprintf(stderr, "imported trace does not parse: %s\n--- trace ---\n%s", e->str().c_str(), first.trace.c_str());
      std::abort();
    }
  }
  if (!(import_once(log) == first)) {
    std::fprintf(stderr, "the same log imported twice gives different results\n");
    std::abort();
  }
  return 0;
}
