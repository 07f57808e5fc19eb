#include "sim/map/map_replay.h"

#include <map>

#include "sim/replay.h"

namespace kvmsim {

namespace {

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

void diff(model::MmuCounters& d, const model::MmuCounters& now, const model::MmuCounters& before) {
  d.leaves_zapped = now.leaves_zapped - before.leaves_zapped;
  d.eager_splits = now.eager_splits - before.eager_splits;
  d.huge_recovered = now.huge_recovered - before.huge_recovered;
  d.collapsible_zapped = now.collapsible_zapped - before.collapsible_zapped;
  d.nx_splits = now.nx_splits - before.nx_splits;
  d.nx_recovered = now.nx_recovered - before.nx_recovered;
}

void add_cause(std::vector<std::string>& causes, const std::string& c) {
  for (const auto& x : causes)
    if (x == c) return;
  causes.push_back(c);
}

}  // namespace

u64 slot_bytes(const model::Vm& vm) {
  u64 total = 0;
  for (u32 as = 0; as < vm.mmu().nr_address_spaces(); ++as)
    for (const model::Memslot* s : vm.slots(as).by_id()) total += s->npages << 12;
  return total;
}

void level_bytes(const model::Vm& vm, u64 bytes[4]) {
  const Stats stats = vm.mmu().stats();
  const char* keys[4] = {"", "pages_4k", "pages_2m", "pages_1g"};
  u64 mapped = 0;
  for (int level = 1; level <= 3; ++level) {
    bytes[level] = stats.at(keys[level]) * level_size(level);
    mapped += bytes[level];
  }
  const u64 total = slot_bytes(vm);
  bytes[0] = total > mapped ? total - mapped : 0;
}

MapReplay::MapReplay(const trace::Trace& trace, const model::Profile& profile, int at_line)
    : kvm_(std::make_unique<model::Kvm>(profile)) {
  Replayer replayer(trace, *kvm_, ReplayOptions{});
  std::map<int, model::MmuCounters> before;
  for (const auto& st : trace.statements) {
    if (at_line && st.line > at_line) break;
    replayer.step();
    if (st.callee == "KVM_CREATE_VM" && st.bind) {
      auto fd = replayer.handle(*st.bind);
      if (fd && kvm_->vm(static_cast<int>(*fd))) {
        // The timeline attributes each zap to its statement: ask this VM's MMU to log them.
        kvm_->vm(static_cast<int>(*fd))->mmu().record_events(true);
        vms_.push_back(VmHistory{*st.bind, static_cast<int>(*fd), {}, {}});
      }
    }
    for (VmHistory& h : vms_) {
      model::Vm* vm = kvm_->vm(h.fd);
      if (!vm) continue;
      model::Mmu& mmu = vm->mmu();
      TimelineSample s;
      s.line = st.line;
      s.statement = trimmed(st.text);
      level_bytes(*vm, s.bytes);
      diff(s.delta, mmu.counters(), before[h.fd]);
      before[h.fd] = mmu.counters();
      const std::vector<model::MmuEvent> ev = mmu.take_events();  // this statement's, drained
      for (std::size_t i = 0; i < ev.size(); ++i) {
        using K = model::MmuEvent::Kind;
        switch (ev[i].kind) {
          case K::zap_all:
            h.zaps.push_back(ZapRecord{st.line, 0, true, 0, 0});
            add_cause(s.causes, "zap");
            break;
          case K::zap_range:
            h.zaps.push_back(ZapRecord{st.line, ev[i].as_id, false, ev[i].start, ev[i].end});
            add_cause(s.causes, "zap");
            break;
          case K::dirty_log_on: add_cause(s.causes, "dirty_log_on"); break;
          case K::dirty_log_off: add_cause(s.causes, "dirty_log_off"); break;
          case K::attributes_changed: add_cause(s.causes, "attributes_changed"); break;
          case K::write_protect: break;  // GET/CLEAR_DIRTY_LOG: splits show up in the counters
        }
      }
      if (st.callee.rfind("KVM_SET_USER_MEMORY_REGION", 0) == 0) add_cause(s.causes, "memslot");
      h.samples.push_back(std::move(s));
    }
  }
}

}  // namespace kvmsim
