#include "model/attributes/memory_attributes.h"

#include <cerrno>

namespace kvmsim::model {

using namespace uapi;

bool MemoryAttributes::range_has(u64 start, u64 end, u64 attrs) const {
  u64 got = 0;
  return uniform(start, end, &got) && got == attrs;
}

bool MemoryAttributes::uniform(u64 start, u64 end, u64* attrs) const {
  std::optional<u64> v;
  const bool u = runs_.uniform(start, end, &v);
  if (attrs) *attrs = v.value_or(0);
  return u;
}

void MemoryAttributes::set(u64 start, u64 end, u64 attrs) {
  if (attrs == 0) runs_.erase(start, end);
  else runs_.assign(start, end, attrs);
}

Ret check_set_memory_attributes(const kvm_memory_attributes& a, u64 supported) {
  if (a.flags) return Ret::fail(EINVAL);
  if (a.attributes & ~supported) return Ret::fail(EINVAL);
  if (a.size == 0 || a.address + a.size < a.address) return Ret::fail(EINVAL);
  if ((a.address | a.size) & (kPageSize - 1)) return Ret::fail(EINVAL);
  return Ret::ok();
}

}  // namespace kvmsim::model
