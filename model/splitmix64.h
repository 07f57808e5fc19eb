// splitmix64: the one 64-bit mixer of kvmsim's seeded streams (the model's fault injector and the
// fuzz seeds). Advances *state and returns the next value; a pure function of the state, so the
// same seed gives the same stream on every machine.
// Invariant: no global state; the stream is a function of the seed alone.
#pragma once

#include "model/types.h"

namespace kvmsim {

inline u64 splitmix64(u64* state) {
  u64 z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace kvmsim
