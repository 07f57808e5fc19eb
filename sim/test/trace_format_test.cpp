// Formatting of actual values and the constant/errno tables.
#include <gtest/gtest.h>

#include "sim/trace/constants.h"
#include "sim/trace/eval.h"
#include "sim/trace/format.h"
#include "sim/trace/lexer.h"
#include "sim/trace/parser.h"

namespace kvmsim::trace {
namespace {

TEST(TraceFormat, Sizes) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(17), "17");
  EXPECT_EQ(format_size(4096), "4K");
  EXPECT_EQ(format_size(2ull << 20), "2M");
  EXPECT_EQ(format_size((3ull << 30) + (2ull << 20) + 4096), "3G+2M+4K");
  EXPECT_EQ(format_size((3ull << 30) + (2ull << 20) + 4097), "0xc0201001");  // 4 terms
  EXPECT_EQ(format_size(1ull << 40), "1T");
  EXPECT_EQ(format_size(~0ull), "0xffffffffffffffff");
  EXPECT_EQ(format_size(1ull << 63), "8388608T");
}

TEST(TraceFormat, EveryFormattedSizeParsesBack) {
  const u64 samples[] = {0, 1, 1023, 1024, 4097, 0x1234567000, (5ull << 40) + (3ull << 30) + 1, ~0ull, 1ull << 63};
  for (u64 v : samples) {
    std::string text = "kvmsim-trace 1\ntouch(" + format_size(v) + ", 0)\n";
    auto r = parse(text, "f");
    ASSERT_TRUE(std::holds_alternative<Trace>(r)) << text;
    EXPECT_EQ(evaluate(std::get<Trace>(r).statements[0].args[0].expr).value, v) << format_size(v);
  }
}

TEST(TraceFormat, ErrnoAndFlags) {
  EXPECT_EQ(format_errno(22), "EINVAL");
  EXPECT_EQ(format_errno(11), "EAGAIN");  // primary name, not EWOULDBLOCK
  EXPECT_EQ(format_errno(95), "EOPNOTSUPP");
  EXPECT_EQ(format_errno(524), "ENOTSUPP");
  EXPECT_EQ(format_errno(4000), "4000");
  EXPECT_EQ(errno_value("EHWPOISON"), 133);
  EXPECT_EQ(errno_value("EDEADLOCK"), 35);
  EXPECT_FALSE(errno_value("EBOGUS"));
  EXPECT_EQ(format_flags(0, "KVM_MEMORY_EXIT_FLAG_"), "0");
  EXPECT_EQ(format_flags(8, "KVM_MEMORY_EXIT_FLAG_"), "KVM_MEMORY_EXIT_FLAG_PRIVATE");
  EXPECT_EQ(format_flags(8 | 1, "KVM_MEMORY_EXIT_FLAG_"), "KVM_MEMORY_EXIT_FLAG_PRIVATE|0x1");
  EXPECT_EQ(format_flags(7, "KVM_MEM_"), "KVM_MEM_LOG_DIRTY_PAGES|KVM_MEM_READONLY|KVM_MEM_GUEST_MEMFD");
}

TEST(TraceFormat, Bitmaps) {
  std::vector<u64> words = {0x3ff | (1ull << 17), 0, 1ull << 63 | 1ull << 62};
  auto r = bitmap_to_ranges(words);
  EXPECT_EQ(format_ranges(r), "[0-9, 17, 190-191]");
  EXPECT_EQ(format_ranges({}), "[]");
  EXPECT_EQ(normalize_ranges({{5, 9}, {0, 3}, {4, 4}, {20, 20}}), (BitRanges{{0, 9}, {20, 20}}));
  // Contiguous across a word boundary.
  EXPECT_EQ(format_ranges(bitmap_to_ranges({1ull << 63, 1})), "[63-64]");
}

TEST(TraceFormat, Constants) {
  EXPECT_EQ(constant_value("KVM_MEM_GUEST_MEMFD"), 4u);
  EXPECT_EQ(constant_value("KVM_CAP_VM_TYPES"), 235u);
  EXPECT_EQ(constant_value("FALLOC_FL_PUNCH_HOLE"), 2u);
  EXPECT_FALSE(constant_value("KVM_MEM_BOGUS"));
  // Names are unique.
  for (std::size_t i = 0; i < constants().size(); i++)
    for (std::size_t j = i + 1; j < constants().size(); j++)
      EXPECT_STRNE(constants()[i].name, constants()[j].name);
}

TEST(TraceFormat, NumberLiterals) {
  EXPECT_EQ(parse_number("0x10").value, 16u);
  EXPECT_EQ(parse_number("1_024K").value, 1024u * 1024);
  EXPECT_EQ(parse_number("0xffff_ffff_ffff_ffff").value, ~0ull);
  EXPECT_EQ(parse_number("16777215T").value, 16777215ull << 40);
  EXPECT_EQ(parse_number("16777216T").error, "number out of range");
  EXPECT_EQ(parse_number("18446744073709551616").error, "number out of range");
  EXPECT_EQ(parse_number("1_").error, "malformed number ('_' must separate digits)");
  EXPECT_EQ(parse_number("K").error, "malformed number");
}

}  // namespace
}  // namespace kvmsim::trace
