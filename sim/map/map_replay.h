// MapReplay: replays a trace on the model statement by statement and keeps what `kvmsim map`
// draws beyond one snapshot: for every VM the trace binds, which statement (line) asked for each
// zap (so an unmapped range can say "zapped by line N" instead of "never mapped"), and one
// TimelineSample per statement (mapped bytes per level and what the MMU did during it, from
// Mmu::stats() and Mmu::counters()). It only observes: the Kvm is driven exactly as `replay`
// drives it.
// Invariants: VMs are listed in creation order; samples are in statement order, one per statement
// replayed, for every VM alive at that statement; the Kvm stays valid for the MapReplay's life.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/mmu/mmu.h"
#include "model/vm/kvm.h"
#include "sim/trace/ast.h"

namespace kvmsim {

// A zap the MMU recorded (Mmu::events()), with the statement that caused it. gfn units.
struct ZapRecord {
  int line = 0;
  u16 as_id = 0;
  bool all = false;        // zap_all: every address space, every gfn
  u64 start = 0, end = 0;
};

// The state after one statement.
struct TimelineSample {
  int line = 0;
  std::string statement;   // the trace line, trimmed
  u64 bytes[4] = {0, 0, 0, 0};  // [1..3]: mapped bytes at 4K/2M/1G; [0]: slot bytes without a leaf
  model::MmuCounters delta;     // what the MMU did during this statement
  std::vector<std::string> causes;  // dirty_log_on, dirty_log_off, attributes_changed, zap, memslot
};

struct VmHistory {
  std::string name;  // the trace's handle
  int fd = -1;
  std::vector<ZapRecord> zaps;
  std::vector<TimelineSample> samples;
};

class MapReplay {
 public:
  // Replays the statements on lines <= at_line (0: all) on a fresh model Kvm of `profile`.
  MapReplay(const trace::Trace& trace, const model::Profile& profile, int at_line);
  const model::Kvm& kvm() const { return *kvm_; }
  const std::vector<VmHistory>& vms() const { return vms_; }
  // The VM a history describes (nullptr once its fd no longer names a VM).
  const model::Vm* vm(const VmHistory& h) const { return kvm_->vm(h.fd); }

 private:
  std::unique_ptr<model::Kvm> kvm_;
  std::vector<VmHistory> vms_;
};

// Bytes of every memslot of every address space of `vm`.
u64 slot_bytes(const model::Vm& vm);
// bytes[1..3]: bytes mapped at 4K/2M/1G (KVM's pages_4k/2m/1g stats times the page size);
// bytes[0]: slot bytes without a leaf.
void level_bytes(const model::Vm& vm, u64 bytes[4]);

}  // namespace kvmsim
