#include "sim/import/handles.h"

#include <algorithm>

#include "model/uapi.h"
#include "sim/trace/build.h"
#include "sim/trace/schema.h"

namespace kvmsim::importer {

std::optional<std::string> Handles::fd(const std::string& key) const {
  auto it = fds_.find(key);
  if (it == fds_.end()) return std::nullopt;
  return it->second.name;
}

unsigned Handles::kind(const std::string& key) const {
  auto it = fds_.find(key);
  return it == fds_.end() ? 0 : it->second.kind;
}

std::string Handles::new_vm() { return counter_["vm"]++ ? "vm" + std::to_string(counter_["vm"]) : "vm"; }

std::string Handles::new_vcpu(u64 id) {
  std::string name = "vcpu" + std::to_string(id);
  if (counter_[name]++) name += "_" + std::to_string(counter_[name]);
  return name;
}

std::string Handles::fresh(const std::string& base) { return base + std::to_string(++counter_[base]); }

void Handles::map(u64 start, u64 size, const std::string& name) {
  if (size <= ~0ull - 4095) size = (size + 4095) & ~4095ull;
  size = std::min<u64>(size, ~0ull - start);  // a range never wraps past the top of the address space
  unmap(start, size);
  if (size) ranges_[start] = Range{size, name, 0};
}

void Handles::unmap(u64 start, u64 size) {
  const u64 end = size > ~0ull - start ? ~0ull : start + size;
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first < end) {
    const u64 r_start = it->first;
    const Range r = it->second;
    const u64 r_end = r_start + r.size;
    if (r_end <= start) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    // What is left on either side keeps its name and its offset within that mapping.
    if (r_start < start) ranges_[r_start] = Range{start - r_start, r.name, r.offset};
    if (r_end > end) it = ranges_.emplace(end, Range{r_end - end, r.name, r.offset + (end - r_start)}).first;
  }
}

std::optional<Handles::Place> Handles::place(u64 addr) const {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return std::nullopt;
  --it;
  if (addr >= it->first + it->second.size) return std::nullopt;
  return Place{it->second.name, it->second.offset + (addr - it->first)};
}

std::optional<trace::Expr> Handles::address(u64 addr) const {
  auto p = place(addr);
  if (!p) return std::nullopt;
  trace::Expr e = trace::build::handle(p->name);
  return p->offset ? trace::build::join(e, '+', number_expr(p->offset)) : e;
}

bool fits(unsigned kind, std::string_view callee, std::size_t param) {
  const trace::StatementSpec* s = trace::find_statement(callee, false);
  if (!s || param >= s->params.size()) return false;
  const trace::ParamSpec& p = s->params[param];
  if (p.kind == trace::ParamKind::handle || p.kind == trace::ParamKind::backing_or_fd)
    return kind == 0 || (p.handles & kind) != 0;
  return param == 0 && kind == trace::kHandleKvm;
}

trace::Expr number_expr(std::uint64_t v) { return v < 10 ? trace::build::decimal(v) : trace::build::hex(v); }

trace::Expr slot_expr(std::uint64_t slot) {
  if (slot < 0x10000) return number_expr(slot);
  return trace::build::join(trace::build::hex(slot & ~0xffffull), '|', number_expr(slot & 0xffff));
}

namespace {
constexpr std::uint64_t kMapHugetlb = 0x40000;  // MAP_HUGETLB; the page size is log2 in bits 26..31
}  // namespace

std::string anon_backing_word(std::uint64_t flags) {
  if (flags & kMapHugetlb) return ((flags >> 26) & 0x3f) == 30 ? "hugetlb_1g" : "hugetlb_2m";
  return (flags & uapi::MAP_SHARED) ? "shmem" : "anon";
}

std::optional<std::string> anon_backing(std::uint64_t flags) {
  const std::uint64_t known = uapi::MAP_SHARED | uapi::MAP_PRIVATE | uapi::MAP_FIXED | uapi::MAP_ANONYMOUS |
                              uapi::MAP_NORESERVE | uapi::MAP_FIXED_NOREPLACE;
  if (!(flags & kMapHugetlb) && (flags & ~known)) return std::nullopt;
  return anon_backing_word(flags);
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out.size() > 200 ? out.substr(0, 197) + "..." : out;
}

}  // namespace kvmsim::importer
