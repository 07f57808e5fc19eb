#include "model/types.h"

namespace kvmsim {

namespace {
struct BackingInfo {
  Backing backing;
  const char* name;
  u64 page_size;
  u64 default_align;
};
// Default placement: every mapping starts 2M-aligned (hugetlb: at its page size). The trace format
// only promises the backing's page size; kvmsim places more strictly, identically on every backend,
// because the host address's offset within 2M decides THP eligibility and gpa/hva congruence, and
// the real kernel would otherwise pick it (6.12+ aligns anonymous mmaps only when the length is a
// multiple of 2M). VMMs align guest RAM the same way (QEMU: 2M).
constexpr BackingInfo kBackings[] = {
    {Backing::anon, "anon", 4096, 2ull << 20},
    {Backing::anon_nohuge, "anon_nohuge", 4096, 2ull << 20},
    {Backing::thp, "thp", 4096, 2ull << 20},
    {Backing::shmem, "shmem", 4096, 2ull << 20},
    {Backing::hugetlb_2m, "hugetlb_2m", 2ull << 20, 2ull << 20},
    {Backing::hugetlb_1g, "hugetlb_1g", 1ull << 30, 1ull << 30},
    {Backing::guest_memfd, "guest_memfd", 4096, 4096},
};
const BackingInfo& info(Backing b) {
  for (const auto& i : kBackings)
    if (i.backing == b) return i;
  return kBackings[0];
}
}  // namespace

const char* backing_name(Backing b) { return info(b).name; }
u64 backing_page_size(Backing b) { return info(b).page_size; }
u64 backing_default_align(Backing b) { return info(b).default_align; }

std::optional<Backing> backing_from_name(const std::string& name) {
  for (const auto& i : kBackings)
    if (name == i.name && i.backing != Backing::guest_memfd) return i.backing;
  return std::nullopt;
}

const char* access_kind_name(AccessKind k) {
  switch (k) {
    case AccessKind::read: return "read";
    case AccessKind::write: return "write";
    case AccessKind::exec: return "exec";
  }
  return "?";
}

std::optional<AccessKind> access_kind_from_name(const std::string& name) {
  if (name == "read") return AccessKind::read;
  if (name == "write") return AccessKind::write;
  if (name == "exec") return AccessKind::exec;
  return std::nullopt;
}

const char* level_name(int level) {
  switch (level) {
    case 1: return "4K";
    case 2: return "2M";
    case 3: return "1G";
    case 4: return "512G";
    default: return "none";
  }
}

}  // namespace kvmsim
