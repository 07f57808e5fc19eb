#include "sim/kvm/binary_stats.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace kvmsim::kvm {

namespace {
bool pread_all(int fd, void* buf, size_t len, off_t off) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::pread(fd, p, len, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return true;
}
}  // namespace

std::optional<Stats> read_binary_stats(int fd, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Stats> {
    if (error) *error = why;
    return std::nullopt;
  };
  kvm_stats_header h{};
  if (!pread_all(fd, &h, sizeof h, 0)) return fail(std::string("stats header: ") + std::strerror(errno));
  if (h.name_size == 0 || h.name_size > 4096 || h.num_desc > 100000) return fail("stats header: implausible sizes");
  const size_t desc_size = sizeof(kvm_stats_desc) + h.name_size;
  std::vector<char> descs(desc_size * h.num_desc);
  if (!descs.empty() && !pread_all(fd, descs.data(), descs.size(), h.desc_offset))
    return fail("stats descriptors: short read");

  Stats out;
  for (u32 i = 0; i < h.num_desc; ++i) {
    kvm_stats_desc d{};
    std::memcpy(&d, descs.data() + i * desc_size, sizeof d);
    const char* name_ptr = descs.data() + i * desc_size + sizeof(kvm_stats_desc);
    std::string name(name_ptr, strnlen(name_ptr, h.name_size));
    if (d.size == 0) continue;
    std::vector<u64> vals(d.size);
    if (!pread_all(fd, vals.data(), vals.size() * sizeof(u64), h.data_offset + d.offset))
      return fail("stats data: short read for " + name);
    out[name] = vals[0];
    for (size_t k = 1; k < vals.size(); ++k) out[name + "[" + std::to_string(k) + "]"] = vals[k];
  }
  return out;
}

}  // namespace kvmsim::kvm
