// Memfd: a memfd (shmem file) of the VMM process as the model keeps it: its size and file
// position, the pages its page cache holds because fallocate() or write() allocated them, and
// the private-fd v5 proposal's MFD_INACCESSIBLE seal (docs/semantics/proposals.md §2), which
// refuses read/write/mmap of the contents. Pages a host touch allocates through an mmap of the
// file are not tracked here (HostMemory tracks those by address): only the private-fd profile
// reads `allocated`, and its memfds are inaccessible, so they cannot be mapped.
// Invariant: `allocated` holds only page-aligned runs inside [0, 2^64).
#pragma once

#include "model/interval_map.h"
#include "model/types.h"

namespace kvmsim::model {

struct Memfd {
  u64 file_id = 0;
  u64 size = 0;
  u64 pos = 0;
  bool inaccessible = false;      // F_SEAL_INACCESSIBLE (v5 patch 01/13), set by MFD_INACCESSIBLE
  IntervalMap<bool> allocated;    // page offsets (pgoff) present in the page cache

  bool page_allocated(u64 pgoff) const { return allocated.get(pgoff).value_or(false); }
};

}  // namespace kvmsim::model
