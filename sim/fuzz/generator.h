// The fuzz case generator: one case is one trace (format v1) of modest length, generated from a
// Rng and a small predicted state (host mappings, memslots, guest_memfd files). The state is a
// prediction, never the backends' answer: arguments are drawn from it and biased to collide
// (a hot set of GPAs on 2M/1G boundaries and slot edges, sizes around 4K/2M/1G +-4K, existing slot
// ids, overlapping guest_memfd offsets), and a tuned share of calls is invalid on purpose so
// errno paths run. Swarm testing: per case some operation kinds are off and the rest weighted
// unevenly.
// Named restrictions (each a deliberate, documented limit; see docs/fuzz.md):
//  * host_range_inside_mappings: a memslot's userspace range always lies inside a mapping the
//    trace created (on /dev/kvm a guest write through any other hva lands in kvmsim's own memory);
//  * no_write_after_munmap: no guest write is generated after a munmap;
//  * holes_stay_unused: a munmapped host range is never referenced again, neither by a host call
//    nor through a slot (the guest only touches slots whose host range is intact once a hole
//    exists): on /dev/kvm the hole is refilled by the backend's own later mappings (its guest
//    agent), so the kernel would see other memory (found by this fuzzer: madvise answered 0 where
//    the model says ENOMEM);
//  * no_guest_entry_before_first_slot: no access or pre-fault before a slot creation predicted to
//    succeed: on /dev/kvm the first access adds the backend's agent memslot, which ends the
//    pvm kernel's "no memslot yet" ENOSPC for pre-fault (found by this fuzzer);
//  * no_mmap_after_preamble: mappings are created only in the preamble (so a munmap hole is never
//    refilled by the trace itself);
//  * closed_fds_unused: a closed guest_memfd handle is never used again (the fd number is reused);
//  * exec_needs_stub: exec accesses only target predicted non-guest_memfd slots and none after a
//    munmap: the kvm backend executes a `ret` it writes through the slot's hva, and without one the
//    guest runs whatever bytes are there and the backend answers -1 EIO (a backend limit, not the
//    kernel's; found by this fuzzer, docs/fuzz.md);
//  * exec_after_touch: an exec access is preceded by a touch of its host page (the VMM writes the
//    code first; the kvm backend writes its stub there, which the model must see too);
//  * munmap_2m_granular: munmap only whole 2M-aligned chunks of thp mappings: on this host a munmap
//    zaps KVM's mappings of the whole 2M region around it (open finding, docs/fuzz.md);
//  * manual_protect_before_slots: KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2) only before the first
//    slot (open finding: model/invariants.cpp rejects a reachable state after a later change);
//  * no_prefault_after_zap_all: with GenOptions::prefault_hangs_after_zap_all, no pre-fault after a
//    slot delete or move (a known kernel hang, not a finding);
//  * shmem_whole_2m: shmem mappings are whole multiples of 2M: with a 4K tail, this host's fault-around
//    maps fewer page-cache neighbours than the model's 64 KiB window (open finding, docs/fuzz.md);
//  * madvise_dontneed_only: no MADV_HUGEPAGE/NOHUGEPAGE: on this kernel they zap KVM's mappings of
//    the range for shmem (both) and anon (HUGEPAGE), which the model does not (open finding,
//    docs/fuzz.md).
// Statements are built as syntax trees (sim/trace/build.h) and printed with the trace printer, never
// pasted together as text, so a case always parses back to the tree it was printed from.
// Invariant: the output is a pure function of (rng state, length, swarm, options). From a seeded Rng
// a case has exactly `length` generated statements; from a replayed (shrunk) choice sequence it may
// have fewer.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sim/fuzz/seed.h"
#include "sim/trace/ast.h"

namespace kvmsim::fuzz {

// Operation kinds a case can contain (swarm switches index this list).
enum class OpKind {
  slot_create, slot_delete, slot_move, slot_flags, slot_gmem_bind, gmem_create, gmem_fallocate, gmem_close,
  attributes, pre_fault, access, dirty_get, dirty_clear, dirty_enable, host_madvise, host_munmap, host_touch,
  observe_stats, observe_mapping, host_content, inject,
};
constexpr std::size_t kOpKinds = static_cast<std::size_t>(OpKind::inject) + 1;
const char* op_kind_name(OpKind k);

// Per-case operation weights; 0 = switched off.
struct Swarm {
  std::vector<unsigned> weights = std::vector<unsigned>(kOpKinds, 0);
  std::string describe() const;  // "slot_create=5 access=8 ..." (enabled kinds only, fixed order)
};

struct GenOptions {
  std::string profile;           // written as the trace's `profile` header ("" = none)
  bool faults = false;           // generate `inject(...)` statements
  unsigned invalid_percent = 12; // share of calls made invalid on purpose
  bool include_1g = true;        // sometimes map a 1G region so 1G-sized slots are possible
  // The kernel never returns from KVM_PRE_FAULT_MEMORY once a memslot delete/move zapped all roots
  // (Profile::prefault_hangs_after_zap_all, 6.12.117): no pre-fault after the first delete or move.
  bool prefault_hangs_after_zap_all = false;
  // The profile has the proposed KVM_MAP_MEMORY (Profile::has_map_memory): the pre_fault kind mostly
  // emits KVM_MAP_MEMORY (access flags, a source, its own invalid cases) and sometimes
  // KVM_PRE_FAULT_MEMORY, which such a profile may lack (an errno path too). Off: the draws are
  // exactly those of a profile without it, so existing seeds keep their cases.
  bool map_memory = false;
  // guest_memfd proposals (docs/fuzz.md "Memory contents"); all off: the draws are those of a profile without
  // them. gmem_conversion (Profile::gmem_conversion.enabled): the VM is SW_PROTECTED, guest_memfds are
  // MMAP|INIT_SHARED and mmapped, the attributes kind emits KVM_SET_MEMORY_ATTRIBUTES2 on one of them.
  // gmem_write_flag (Profile::gmem_write_flag): guest_memfds carry the flag and are mmapped, and the
  // host_content kind also emits pwrite on them.
  bool gmem_conversion = false;
  u64 gmem_write_flag = 0;
};

// Draws a swarm: each kind is on with probability 3/4 (at least three kinds), weights 1..9.
// `inject` is on only with options.faults.
Swarm draw_swarm(Rng& rng, const GenOptions& options);

// One case as a syntax tree: the profile header, the preamble, then `length` generated statements.
trace::Trace generate_trace(Rng& rng, std::size_t length, const Swarm& swarm, const GenOptions& options);
// One case as trace text: generate_trace printed by case_text.
std::string generate_case(Rng& rng, std::size_t length, const Swarm& swarm, const GenOptions& options);
// A case's text: the header, a `# generated by kvmsim fuzz` comment, one printed statement per line
// (sim/trace/printer.h, so the fuzzer writes exactly what a person's trace would read like).
std::string case_text(const trace::Trace& t);

}  // namespace kvmsim::fuzz
