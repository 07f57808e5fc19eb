// Assertions for broken invariants ("cannot happen"): they abort with file:line, the failed
// condition and context. Errors a caller can cause are Ret values, never assertions.
// KVMSIM_ASSERT takes a printf-style context; KVMSIM_ASSERT_CTX a std::string (or C string) context.
// One mechanism for the whole project: model, trace engine, conformance suite.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace kvmsim {

[[noreturn]] inline void assert_fail(const char* file, int line, const char* expr, const std::string& ctx) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s: %s\n", file, line, expr, ctx.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace kvmsim

#define KVMSIM_ASSERT_CTX(cond, ctx)                                          \
  do {                                                                        \
    if (!(cond)) ::kvmsim::assert_fail(__FILE__, __LINE__, #cond, (ctx));     \
  } while (0)

#define KVMSIM_ASSERT(cond, ...)                                                        \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                       \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
