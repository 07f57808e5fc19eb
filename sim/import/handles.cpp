#include "sim/import/handles.h"

#include <cstdio>

#include "sim/trace/build.h"

namespace kvmsim::importer {

std::optional<std::string> Handles::fd(int fd) const {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return std::nullopt;
  return it->second;
}

std::string Handles::new_vm() { return counter_["vm"]++ ? "vm" + std::to_string(counter_["vm"]) : "vm"; }

std::string Handles::new_vcpu(u64 id) {
  std::string name = "vcpu" + std::to_string(id);
  if (counter_[name]++) name += "_" + std::to_string(counter_[name]);
  return name;
}

std::string Handles::fresh(const std::string& base) { return base + std::to_string(++counter_[base]); }

std::string Handles::map(u64 start, u64 size) {
  const std::string name = fresh("mem");
  unmap(start, size);
  ranges_[start] = Range{(size + 4095) & ~4095ull, name};
  return name;
}

void Handles::unmap(u64 start, u64 size) {
  for (auto it = ranges_.lower_bound(start); it != ranges_.end() && it->first < start + size;) it = ranges_.erase(it);
}

std::optional<Handles::Place> Handles::place(u64 addr) const {
  // The nearest start at or below addr first: a MAP_FIXED mapping inside a reservation starts above the
  // reservation's start, so the innermost containing range is the first one found walking down.
  for (auto it = ranges_.upper_bound(addr); it != ranges_.begin();) {
    --it;
    if (addr < it->first + it->second.size) return Place{it->second.name, addr - it->first, it->first};
  }
  return std::nullopt;
}

std::optional<std::string> Handles::address_text(u64 addr) const {
  auto p = place(addr);
  if (!p) return std::nullopt;
  if (!p->offset) return p->name;
  char b[32];
  std::snprintf(b, sizeof b, p->offset < 10 ? "%llu" : "0x%llx", static_cast<unsigned long long>(p->offset));
  return p->name + "+" + b;
}

std::optional<trace::Expr> Handles::address_expr(u64 addr) const {
  auto p = place(addr);
  if (!p) return std::nullopt;
  trace::Expr e = trace::build::handle(p->name);
  return p->offset ? trace::build::join(e, '+', trace::build::hex(p->offset)) : e;
}

}  // namespace kvmsim::importer
