// KVM binary statistics (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst "KVM_GET_STATS_FD"):
// a file with a header, an id string, an array of descriptors (each followed by its name) and
// the data block. read_binary_stats() parses one such fd and returns every u64 counter by name;
// a descriptor whose size is > 1 (histograms) contributes its first element under its name and
// the others as "name[i]". Invariant: only pread() is used, so the fd's offset is untouched.
#pragma once

#include <optional>
#include <string>

#include "model/types.h"

namespace kvmsim::kvm {

struct kvm_stats_header {
  u32 flags;
  u32 name_size;
  u32 num_desc;
  u32 id_offset;
  u32 desc_offset;
  u32 data_offset;
};
static_assert(sizeof(kvm_stats_header) == 24);

struct kvm_stats_desc {
  u32 flags;
  std::int16_t exponent;
  std::uint16_t size;
  u32 offset;
  u32 bucket_size;
  // char name[header.name_size] follows
};
static_assert(sizeof(kvm_stats_desc) == 16);

// Parses the stats file `fd`; on failure returns nullopt and sets *error (if given).
std::optional<Stats> read_binary_stats(int fd, std::string* error);

}  // namespace kvmsim::kvm
