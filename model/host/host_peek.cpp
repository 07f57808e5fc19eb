// HostMemory::peek(): the host mapping level of an hva as KVM's host_pfn_mapping_level() reads
// it from the VMM's page tables: a pure query, nothing is faulted in or changed. Kept apart from
// host_memory.cpp because only the MMU (level recovery, explain) uses it.
#include <cerrno>

#include "model/host/host_memory.h"
#include "model/uapi.h"

namespace kvmsim::model {

using namespace uapi;

HostMemory::HostPeek HostMemory::peek(u64 hva, bool with_detail) const {
  HostPeek p;
  const HostRegion* r = region_at(hva);
  if (!r) {
    if (with_detail) p.detail = "hva " + hex(hva) + " is not mapped in the VMM";
    return p;
  }
  if (r->prot == PROT_NONE) {
    if (with_detail) p.detail = "hva " + hex(hva) + " is PROT_NONE";
    return p;
  }
  // Built only for a detail text (the fault path asks for the level alone).
  auto what = [&] { return std::string(r->file ? (r->file->kind == MappedFile::Kind::guest_memfd ? "guest_memfd mmap" : "memfd mmap")
                                               : backing_name(r->backing)); };
  if (r->file) {
    p.level = 1;
    if (with_detail) p.detail = what() + ": 4K pages";
    return p;
  }
  if (r->backing == Backing::hugetlb_1g || r->backing == Backing::hugetlb_2m) {
    // hugetlbfs pages are always mapped at their size once present.
    p.level = r->backing == Backing::hugetlb_1g ? 3 : 2;
    if (with_detail) p.detail = what() + ": " + level_name(p.level) + " pages";
    return p;
  }
  const u64 chunk = chunk_of(hva);
  if (auto c = chunk_state(hva)) {
    switch (*c) {
      case Chunk::thp:
        p.level = 2;
        if (with_detail) p.detail = what() + ": 2M chunk " + hex(chunk) + " is a THP";
        return p;
      case Chunk::huge_zero:
        p.level = 2;
        if (with_detail) p.detail = what() + ": 2M chunk " + hex(chunk) + " maps the huge zero page (read-only)";
        return p;
      case Chunk::split:
        p.level = 1;
        if (with_detail) p.detail = what() + ": 2M chunk " + hex(chunk) + " was split to 4K";
        return p;
    }
  }
  if (thp_eligible(*r) && chunk_inside(*r, chunk)) {
    p.level = 2;
    if (with_detail) p.detail = what() + ": untouched THP-eligible 2M chunk " + hex(chunk) + " (a fault maps it huge)";
    return p;
  }
  p.level = 1;
  if (with_detail) p.detail = what() + (thp_eligible(*r) ? ": 2M chunk " + hex(chunk) + " not entirely inside the mapping, 4K" : ": 4K pages");
  return p;
}

bool HostMemory::gup_fast_writable(u64 hva) const {
  const HostRegion* r = region_at(hva);
  if (!r || !(r->prot & PROT_WRITE)) return false;
  if (r->file) {
    const u64 off = r->file_offset + ((hva & ~(kPageSize - 1)) - r->start);
    if (off >= r->file->size) return false;
  } else if (auto c = chunk_state(hva)) {
    // A THP is mapped writable by its PMD; the huge zero page never is.
    if (*c == Chunk::thp) return true;
    if (*c == Chunk::huge_zero) return false;
  }
  // 4K or hugetlb pages: present and writable once written (read faults map read-only).
  return is_written(hva & ~(kPageSize - 1));
}

}  // namespace kvmsim::model
