// KVMSIM_ASSERT: broken invariants of the model abort with file:line and the failed condition.
// Errors a caller can cause are Ret values, never assertions; this is only for "cannot happen".
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef KVMSIM_ASSERT
#define KVMSIM_ASSERT(cond, ...)                                                        \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                       \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
#endif
