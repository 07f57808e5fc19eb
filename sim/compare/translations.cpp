// The translation engine of `kvmsim compare` (translations.h): the table, the state the rows read,
// and the rewrite of one statement. The rows are in translate_*.cpp.
#include "sim/compare/translations.h"

#include "model/uapi.h"
#include "sim/compare/translation_rows.h"
#include "sim/trace/printer.h"

namespace kvmsim::compare {

u64 field(const FieldValues& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() ? 0 : it->second;
}
u64 field(const WrittenBack& f, const char* name) {
  for (const auto& [n, v] : f)
    if (n == name) return v;
  return 0;
}

const trace::Value* written_field(const trace::Statement& st, int arg, const char* name) {
  if (arg < 0 || static_cast<std::size_t>(arg) >= st.args.size()) return nullptr;
  for (const trace::Field& f : st.args[static_cast<std::size_t>(arg)].fields)
    if (f.name == name) return &f.value;
  return nullptr;
}

void TranslationState::observe(const trace::Statement& original, const FieldValues& record, bool succeeded) {
  // A slot's binding changes only when the kernel accepted the call (docs/semantics/memslots.md).
  if (original.callee != "KVM_SET_USER_MEMORY_REGION2" || !succeeded) return;
  const u64 slot = field(record, "slot");
  const trace::Value* fd = written_field(original, 1, "guest_memfd");
  if (!field(record, "memory_size") || !(field(record, "flags") & uapi::KVM_MEM_GUEST_MEMFD) || !fd) {
    bindings_.erase(slot);
    return;
  }
  bindings_[slot] = FileBinding{field(record, "guest_phys_addr"), field(record, "memory_size"),
                                field(record, "guest_memfd_offset"), fd->expr};
}

const std::vector<Translation>& translations() {
  static const std::vector<Translation> rows = [] {
    std::vector<Translation> all = map_memory_translations();
    for (const Translation& row : private_fd_translations()) all.push_back(row);
    return all;
  }();
  return rows;
}

const Translation* translation_for(const trace::Statement& st, const model::Profile& profile) {
  if (st.kind != trace::Statement::Kind::call) return nullptr;
  for (const Translation& row : translations())
    if (st.callee == row.from && row.applies(profile, st)) return &row;
  return nullptr;
}

std::optional<trace::Statement> translate(const Translation& row, const TranslationInput& in,
                                          std::vector<std::string>* notes) {
  std::optional<Rewritten> r = row.rewrite(in, notes);
  if (!r) return std::nullopt;
  trace::Statement t = in.statement;
  t.callee = row.to;
  t.args = std::move(r->args);
  t.keywords = std::move(r->keywords);
  t.result = trace::Result{};
  t.out.clear();
  t.text = trace::print_statement(t);
  t.result_begin = t.result_end = t.text.size();
  return t;
}

const PopulateIoctl* populate_ioctl(const std::string& callee) {
  // [start, start + size) with the end saturated.
  static constexpr auto span = [](u64 start, u64 size) {
    const u64 end = start + size;
    return std::pair<u64, u64>{start, end < start ? ~0ull : end};
  };
  static const std::vector<PopulateIoctl> rows = {
      {"KVM_PRE_FAULT_MEMORY", [](const FieldValues& f) { return span(field(f, "gpa"), field(f, "size")); }},
      {"KVM_MAP_MEMORY",
       [](const FieldValues& f) { return span(field(f, "base_gfn") << 12, field(f, "nr_pages") << 12); }},
  };
  for (const PopulateIoctl& row : rows)
    if (callee == row.callee) return &row;
  return nullptr;
}

}  // namespace kvmsim::compare
