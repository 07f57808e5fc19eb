// check_invariants(const Mmu&): the cross-object MMU invariants of one VM (its Mmu and what the
// Mmu reads through MmuContext), checked from tests and the fuzzer after every operation (never
// from the replay hot path; check_invariants(const Vm&) in vm.h forwards here). Aborts with
// file:line and the values on the first violation. Checked, per address space:
//  * each PageTable's own invariants (stats equal a recount of the tree, tree well formed);
//  * every leaf lies entirely inside one memslot (no leaf outside slots or across a boundary);
//  * a huge leaf's region is allowed by the slot's lpage_info (alignment, hva congruence,
//    MIXED attributes) and its gfns have uniform attributes (VMs with private memory);
//  * a huge leaf is not above the host's *current* mapping level of its hva (host changes
//    always zap first, so this holds without history), and never in a gmem-backed range;
//  * private leaves only in guest_memfd slots, and exactly where the attribute is PRIVATE;
//  * writable huge leaves never in a dirty-logged slot (unless manual protect with
//    INITIALLY_SET, where CLEAR splits lazily).
#pragma once

namespace kvmsim::model {

class Mmu;
void check_invariants(const Mmu& mmu);

}  // namespace kvmsim::model
