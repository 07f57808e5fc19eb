// PageContents (model/host/page_contents.h): byte-exact u64 stores and loads at any alignment, runs
// of a repeated value, zeroing and copies with a byte shift; cost in runs, not bytes.
#include <gtest/gtest.h>

#include "model/host/page_contents.h"

namespace kvmsim::model {
namespace {

TEST(PageContents, UnwrittenReadsZero) {
  PageContents c;
  EXPECT_EQ(c.load(PageContents::kAnon, 0x1000), 0u);
  EXPECT_EQ(c.load(7, ~0ull - 8), 0u);
  EXPECT_EQ(c.run_count(), 0u);
}

TEST(PageContents, StoresAtAnyAlignmentAreByteExact) {
  PageContents c;
  c.store(1, 0x1003, 0x1122334455667788);
  EXPECT_EQ(c.load(1, 0x1003), 0x1122334455667788u);
  EXPECT_EQ(c.load(1, 0x1000), 0x4455667788000000u);
  EXPECT_EQ(c.load(1, 0x1008), 0x112233u);
  EXPECT_EQ(c.load(1, 0x1004, 2), 0x6677u);
  c.store(1, 0x1005, 0xab, 1);  // one byte in the middle
  EXPECT_EQ(c.load(1, 0x1003), 0x1122334455ab7788u);
  EXPECT_EQ(c.load(2, 0x1003), 0u);  // another object
}

TEST(PageContents, FillIsOneRunWhateverItsLength) {
  PageContents c;
  c.fill(3, 4, 1ull << 40, 0x0102030405060708);
  EXPECT_EQ(c.run_count(), 1u);
  EXPECT_EQ(c.load(3, 4), 0x0102030405060708u);
  EXPECT_EQ(c.load(3, 4 + (1ull << 39)), 0x0102030405060708u);
  EXPECT_EQ(c.load(3, 5), 0x0801020304050607u);  // the pattern seen one byte later
  EXPECT_EQ(c.load(3, 0), 0x0506070800000000u);  // bytes 0-3 were never written
}

TEST(PageContents, ZeroErasesAndDropsEmptyObjects) {
  PageContents c;
  c.fill(3, 0, 16 << 10, 0xff);
  c.zero(3, 4 << 10, 8 << 10);
  EXPECT_EQ(c.load(3, 4 << 10), 0u);
  EXPECT_EQ(c.load(3, (4 << 10) - 8), 0xffu);
  EXPECT_EQ(c.load(3, 8 << 10), 0xffu);
  EXPECT_EQ(c.run_count(), 2u);
  c.zero(3, 0, ~0ull);
  EXPECT_EQ(c.run_count(), 0u);
}

TEST(PageContents, CopyShiftsPatternsByTheDistance) {
  PageContents c;
  c.store(5, 0x2000, 0x1122334455667788);
  c.copy(5, 0x2000, PageContents::kAnon, 0x9003, 0x1000);
  EXPECT_EQ(c.load(PageContents::kAnon, 0x9003), 0x1122334455667788u);
  EXPECT_EQ(c.load(PageContents::kAnon, 0x9003 + 8), 0u);
  // Copying a range with holes clears the destination there.
  c.fill(PageContents::kAnon, 0x20000, 0x1000, ~0ull);
  c.copy(5, 0x2000, PageContents::kAnon, 0x20000, 0x1000);
  EXPECT_EQ(c.load(PageContents::kAnon, 0x20000), 0x1122334455667788u);
  EXPECT_EQ(c.load(PageContents::kAnon, 0x20008), 0u);
}

TEST(PageContents, UnspecifiedUntilWritten) {
  PageContents c;
  c.store(1, 0x1000, 0x1111);
  c.mark_unspecified(1, 0x1000, 0x2000);
  EXPECT_TRUE(c.unspecified(1, 0x1000, 8));
  EXPECT_EQ(c.load(1, 0x1000), 0x1111u) << "the bytes stay: only the answer changes";
  EXPECT_FALSE(c.unspecified(1, 0x2000, 8));
  EXPECT_TRUE(c.unspecified(1, 0xffc, 8)) << "one unspecified byte is enough";
  c.store(1, 0x1008, 7);
  EXPECT_FALSE(c.unspecified(1, 0x1008, 8));
  EXPECT_TRUE(c.unspecified(1, 0x1004, 8));
  c.fill(1, 0x1800, 0x100, 1);
  EXPECT_FALSE(c.unspecified(1, 0x1800, 8));
  c.copy(1, 0x1000, PageContents::kAnon, 0x7000, 0x1000);
  EXPECT_TRUE(c.unspecified(PageContents::kAnon, 0x7000, 8)) << "a CoW copy of an unspecified page";
  EXPECT_FALSE(c.unspecified(PageContents::kAnon, 0x7008, 8));
  c.zero(1, 0, 0x10000);
  EXPECT_FALSE(c.unspecified(1, 0x1000, 8));
  c.mark_unspecified(2, 0, 0x1000);
  c.drop(2);
  EXPECT_FALSE(c.unspecified(2, 0, 8));
}

}  // namespace
}  // namespace kvmsim::model
