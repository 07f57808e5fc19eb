// Formatting actual values in trace syntax (for `replay --update`, reports and counterexamples).
// Every string produced here parses back, in its context, to the same value.
//  * sizes/addresses: a sum of T/G/M/K (plus a byte remainder) when that takes at most 3 terms
//    (`3G+2M+4K`, `2M`, `0`, `17`), otherwise hex (`0x1234567001`);
//  * errno by name (`EINVAL`), flags as `A|B` (unknown bits as one hex term), bitmaps as
//    sorted, merged range lists (`[0-9, 17]`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvmsim::trace {

using u64 = std::uint64_t;

std::string format_size(u64 v);
// Memory contents (peek, `ok {value=..}`): `0`, or hex (`0xdeadbeef`).
std::string format_data(u64 v);
std::string format_errno(int err);
std::string format_flags(u64 v, std::string_view family_prefix);

// Inclusive bit ranges [lo, hi], sorted and merged.
using BitRanges = std::vector<std::pair<u64, u64>>;
BitRanges bitmap_to_ranges(const std::vector<u64>& words);
BitRanges normalize_ranges(BitRanges r);
std::string format_ranges(const BitRanges& r);

}  // namespace kvmsim::trace
