#include "model/host/page_contents.h"

#include <bit>
#include <optional>
#include <vector>

#include "model/core_assert.h"

namespace kvmsim::model {

namespace {
// The absolute-phase pattern of `value` written starting at `offset`: byte k of the result is the
// byte of `value` that lands at an offset congruent to k mod 8.
u64 phase(u64 value, u64 offset) { return std::rotl(value, static_cast<int>(8 * (offset % 8))); }
}  // namespace

void PageContents::store(u64 object, u64 offset, u64 value, unsigned n) {
  KVMSIM_ASSERT(n >= 1 && n <= 8 && offset + n > offset, "store of %u bytes at %llx", n, (unsigned long long)offset);
  objects_[object].assign(offset, offset + n, phase(value, offset));
  specify(object, offset, offset + n);
}

u64 PageContents::load(u64 object, u64 offset, unsigned n) const {
  KVMSIM_ASSERT(n >= 1 && n <= 8 && offset + n > offset, "load of %u bytes at %llx", n, (unsigned long long)offset);
  auto it = objects_.find(object);
  if (it == objects_.end()) return 0;
  u64 v = 0;
  for (unsigned i = 0; i < n; i++)
    if (auto p = it->second.get(offset + i)) v |= static_cast<u64>(byte_at(*p, offset + i)) << (8 * i);
  return v;
}

void PageContents::fill(u64 object, u64 offset, u64 len, u64 value) {
  if (len == 0) return;
  KVMSIM_ASSERT(offset + len > offset, "fill wraps at %llx", (unsigned long long)offset);
  objects_[object].assign(offset, offset + len, phase(value, offset));
  specify(object, offset, offset + len);
}

void PageContents::zero(u64 object, u64 start, u64 end) {
  specify(object, start, end);
  auto it = objects_.find(object);
  if (it == objects_.end() || start >= end) return;
  it->second.erase(start, end);
  if (it->second.empty()) objects_.erase(it);
}

void PageContents::copy(u64 src, u64 from, u64 dst, u64 to, u64 len) {
  if (len == 0) return;
  const auto s = objects_.find(src);
  if (s == objects_.end()) return zero(dst, to, to + len);
  // Collect first: src and dst may be the same object.
  struct Run {
    u64 start, end;
    std::optional<u64> pattern;
  };
  std::vector<Run> runs;
  for (u64 pos = from; pos < from + len;) {
    const u64 e = s->second.uniform_end(pos, from + len);
    runs.push_back({pos, e, s->second.get(pos)});
    pos = e;
  }
  // Unspecified source bytes stay unspecified in the copy.
  std::vector<std::pair<u64, u64>> open;
  if (auto u = unspecified_.find(src); u != unspecified_.end())
    u->second.for_each_run(from, from + len, [&](u64 s0, u64 e0, bool) { open.emplace_back(s0, e0); });
  const u64 shift = (to - from) % 8;  // a byte moves from offset x to x + (to - from)
  for (const Run& r : runs) {
    const u64 ds = to + (r.start - from), de = to + (r.end - from);
    if (r.pattern) objects_[dst].assign(ds, de, std::rotl(*r.pattern, static_cast<int>(8 * shift)));
    else zero(dst, ds, de);
  }
  specify(dst, to, to + len);
  for (auto [s0, e0] : open) mark_unspecified(dst, to + (s0 - from), to + (e0 - from));
}

void PageContents::mark_unspecified(u64 object, u64 start, u64 end) {
  if (start < end) unspecified_[object].assign(start, end, true);
}

bool PageContents::unspecified(u64 object, u64 offset, u64 n) const {
  auto it = unspecified_.find(object);
  if (it == unspecified_.end() || n == 0) return false;
  std::optional<bool> v;
  return !(it->second.uniform(offset, offset + n, &v) && !v);
}

void PageContents::specify(u64 object, u64 start, u64 end) {
  auto it = unspecified_.find(object);
  if (it == unspecified_.end() || start >= end) return;
  it->second.erase(start, end);
  if (it->second.empty()) unspecified_.erase(it);
}

std::size_t PageContents::run_count() const {
  std::size_t n = 0;
  for (const auto& [id, runs] : objects_) n += runs.run_count();
  return n;
}

}  // namespace kvmsim::model
