// libFuzzer target: the trace parser (sim/trace/parser.h) on arbitrary bytes, plus the printer's
// documented round trip (sim/trace/printer.h): whatever parses prints to text that parses back and
// prints the same. A parse error is a value, never a crash; a broken round trip aborts (a finding).
// Built with -DKVMSIM_LIBFUZZER=ON (clang); run by scripts/fuzz-libfuzzer.sh (docs/fuzz.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "sim/trace/parser.h"
#include "sim/trace/printer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kvmsim::trace;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse(text, "fuzz.trace");
  auto* t = std::get_if<Trace>(&parsed);
  if (!t) {
    (void)std::get<ParseError>(parsed).str();  // the one-line message is built for every error
    return 0;
  }
  const std::string printed = print(*t);
  auto again = parse(printed, "printed.trace");
  if (auto* e = std::get_if<ParseError>(&again)) {
    std::fprintf(stderr, "printed trace does not parse: %s\n--- printed ---\n%s", e->str().c_str(), printed.c_str());
    std::abort();
  }
  if (print(std::get<Trace>(again)) != printed) {
    std::fprintf(stderr, "print(parse(print(t))) != print(t)\n--- printed ---\n%s", printed.c_str());
    std::abort();
  }
  return 0;
}
