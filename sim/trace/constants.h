// Symbolic names a trace may use: upstream uAPI constants (values from model/uapi.h, never from
// /usr/include, which is Linux 6.1) and the full Linux x86-64 errno table. One place, used by the
// parser to resolve names and by the printer/formatter to print values symbolically.
// Invariant: every name maps to exactly one value; printing an errno uses its primary name
// (EAGAIN, not EWOULDBLOCK), so printing then parsing gives the same value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmsim::trace {

using u64 = std::uint64_t;

struct Constant {
  const char* name;
  u64 value;
};

// All uAPI constants, in a fixed order.
const std::vector<Constant>& constants();
std::optional<u64> constant_value(std::string_view name);

// errno: name -> value (aliases included) and value -> primary name (nullptr if unknown).
std::optional<int> errno_value(std::string_view name);
const char* errno_name(int err);

// The constants whose names start with `prefix` and whose value is a single bit: the flag set
// used to print a value of that family symbolically (e.g. "KVM_MEMORY_EXIT_FLAG_").
std::vector<Constant> flag_family(std::string_view prefix);

}  // namespace kvmsim::trace
