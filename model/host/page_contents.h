// PageContents: the data in host pages, as far as a trace can observe it (docs/semantics/memory-contents.md).
// A sparse store keyed by (object, offset): object 0 is the process's anonymous memory, addressed
// by host virtual address; any other object is a file's page cache (memfd, guest_memfd), addressed
// by file offset. A byte nobody wrote reads 0 (the zero page, a freshly allocated zeroed folio), so
// zeroing is erasing and the cost is O(runs written), never O(memory size).
// Storage: per object an IntervalMap of u64 *patterns* in absolute phase: the byte at offset x of a
// run holding P is byte (x mod 8) of P (little-endian). A u64 store is one run; a pwrite of the same
// u64 repeated over megabytes is one run too.
// Unspecified bytes: where a proposal leaves the contents open (an in-place conversion without a content
// mode, docs/semantics/gmem-conversion.md §5), the bytes are marked unspecified until someone writes them;
// a load that covers one reports it instead of a value (docs/semantics/memory-contents.md §6).
// Invariant: no stored run is empty; an object with no runs is dropped.
#pragma once

#include <map>

#include "model/interval_map.h"
#include "model/types.h"

namespace kvmsim::model {

class PageContents {
 public:
  static constexpr u64 kAnon = 0;  // the anonymous memory of the process (offsets are hvas)

  // Stores the low `n` (1..8) bytes of `value` at [offset, offset+n), little-endian.
  void store(u64 object, u64 offset, u64 value, unsigned n = 8);
  // Loads `n` (1..8) bytes at [offset, offset+n) as a little-endian value.
  u64 load(u64 object, u64 offset, unsigned n = 8) const;
  // [offset, offset+len) holds `value` repeated, starting at `offset` (a pwrite of that buffer).
  void fill(u64 object, u64 offset, u64 len, u64 value);
  // [start, end) reads 0 again (MADV_DONTNEED of anonymous memory, punch hole, truncate, munmap).
  void zero(u64 object, u64 start, u64 end);
  // Copies [from, from+len) of `src` over [to, to+len) of `dst` (CoW of a MAP_PRIVATE file page).
  void copy(u64 src, u64 from, u64 dst, u64 to, u64 len);
  void drop(u64 object) {
    objects_.erase(object);
    unspecified_.erase(object);
  }
  // [start, end) holds bytes nobody may rely on (the stored values stay; a load reports them unspecified);
  // any store, fill, zero or copy over a byte makes it specified again.
  void mark_unspecified(u64 object, u64 start, u64 end);
  // Some byte of [offset, offset+n) is unspecified.
  bool unspecified(u64 object, u64 offset, u64 n) const;
  std::size_t run_count() const;

 private:
  static u8 byte_at(u64 pattern, u64 offset) { return static_cast<u8>(pattern >> (8 * (offset % 8))); }
  void specify(u64 object, u64 start, u64 end);
  std::map<u64, IntervalMap<u64>> objects_;
  std::map<u64, IntervalMap<bool>> unspecified_;  // object -> unspecified byte ranges (absent: none)
};

}  // namespace kvmsim::model
