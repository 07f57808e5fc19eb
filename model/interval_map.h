// IntervalMap<V>: a sparse map from u64 keys to values, stored as maximal half-open runs
// [start, end) -> value. Setting a huge range costs O(1) memory. Invariants: runs never
// overlap, never are empty, and two adjacent runs never hold equal values (they are merged),
// so "a range is uniform" is answered by looking at one run. Iteration is in key order.
#pragma once

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <utility>

#include "model/core_assert.h"
#include "model/types.h"

namespace kvmsim::model {

template <typename V>
class IntervalMap {
 public:
  // Every key in [start, end) maps to `value` afterwards.
  void assign(u64 start, u64 end, const V& value) {
    if (start >= end) return;
    erase(start, end);
    auto it = runs_.emplace(start, Slot{end, value}).first;
    // Merge with the next run, then with the previous one, to keep runs maximal.
    auto next = std::next(it);
    if (next != runs_.end() && next->first == end && next->second.value == value) {
      it->second.end = next->second.end;
      runs_.erase(next);
    }
    if (it != runs_.begin()) {
      auto prev = std::prev(it);
      if (prev->second.end == start && prev->second.value == value) {
        prev->second.end = it->second.end;
        runs_.erase(it);
      }
    }
  }

  // No key in [start, end) maps to anything afterwards.
  void erase(u64 start, u64 end) {
    if (start >= end) return;
    split_at(start);
    split_at(end);
    auto it = runs_.lower_bound(start);
    while (it != runs_.end() && it->first < end) it = runs_.erase(it);
  }

  std::optional<V> get(u64 key) const {
    auto it = runs_.upper_bound(key);
    if (it == runs_.begin()) return std::nullopt;
    --it;
    if (key < it->second.end) return it->second.value;
    return std::nullopt;
  }

  // First key after `key` (at most `limit`) whose value or presence differs from key's: the end
  // of the run containing key, or the start of the next run. O(log n).
  u64 uniform_end(u64 key, u64 limit) const {
    auto it = runs_.upper_bound(key);
    if (it != runs_.begin() && key < std::prev(it)->second.end) return std::min(limit, std::prev(it)->second.end);
    return it == runs_.end() ? limit : std::min(limit, it->first);
  }

  // True iff all keys of [start, end) are absent, or all map to one value (stored in *value).
  bool uniform(u64 start, u64 end, std::optional<V>* value = nullptr) const {
    KVMSIM_ASSERT(start < end, "start=%llu end=%llu", (unsigned long long)start, (unsigned long long)end);
    auto it = runs_.upper_bound(start);
    if (it != runs_.begin()) {
      auto prev = std::prev(it);
      if (start < prev->second.end) {  // start is covered: one run must cover everything
        if (value) *value = prev->second.value;
        return end <= prev->second.end;
      }
    }
    if (value) *value = std::nullopt;
    return it == runs_.end() || it->first >= end;  // nothing covered
  }

  // f(start, end, value) for every run intersecting [start, end), clipped to it, in key order.
  template <typename F>
  void for_each_run(u64 start, u64 end, F f) const {
    auto it = runs_.upper_bound(start);
    if (it != runs_.begin() && std::prev(it)->second.end > start) --it;
    for (; it != runs_.end() && it->first < end; ++it)
      f(std::max(start, it->first), std::min(end, it->second.end), it->second.value);
  }

  std::size_t run_count() const { return runs_.size(); }
  bool empty() const { return runs_.empty(); }

 private:
  struct Slot {
    u64 end;
    V value;
  };

  // Make `key` a run boundary (no run strictly contains it).
  void split_at(u64 key) {
    auto it = runs_.upper_bound(key);
    if (it == runs_.begin()) return;
    --it;
    if (it->first < key && key < it->second.end) {
      runs_.emplace(key, Slot{it->second.end, it->second.value});
      it->second.end = key;
    }
  }

  std::map<u64, Slot> runs_;  // start -> {end, value}
};

}  // namespace kvmsim::model
