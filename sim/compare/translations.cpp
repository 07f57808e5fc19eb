// The translation table of `kvmsim compare` (translations.h). One row per direction; the
// semantics each side gives its ioctl are in docs/semantics/pre-fault.md (KVM_PRE_FAULT_MEMORY)
// and docs/semantics/proposals.md §1 (KVM_MAP_MEMORY, RFC v1).
#include "sim/compare/translations.h"

#include "sim/trace/build.h"
#include "sim/trace/format.h"
#include "sim/trace/printer.h"

namespace kvmsim::compare {

namespace {

using trace::Field;
using trace::Statement;
namespace build = trace::build;

u64 get(const FieldValues& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() ? 0 : it->second;
}
u64 get(const WrittenBack& f, const char* name) {
  for (const auto& [n, v] : f)
    if (n == name) return v;
  return 0;
}
// [start, start + size) with the end saturated.
std::pair<u64, u64> span(u64 start, u64 size) {
  const u64 end = start + size;
  return {start, end < start ? ~0ull : end};
}

// KVM_PRE_FAULT_MEMORY {gpa, size, flags} -> KVM_MAP_MEMORY {base_gfn, nr_pages}: a read fault of
// each page, as pre-fault's is (no WRITE/EXEC/USER flag), no source.
std::vector<Field> pre_fault_to_map_memory(const FieldValues& f, std::vector<std::string>* notes) {
  const u64 gpa = get(f, "gpa"), size = get(f, "size"), flags = get(f, "flags");
  if ((gpa | size) & 0xfff)
    notes->push_back("gpa/size not page aligned (" + trace::format_size(gpa) + ", " + trace::format_size(size) +
                     "): KVM_MAP_MEMORY counts whole pages, rounded down");
  if (flags) notes->push_back("flags=" + trace::format_size(flags) + " has no KVM_MAP_MEMORY equivalent: dropped");
  return {build::field("base_gfn", build::value(build::hex(gpa >> 12))),
          build::field("nr_pages", build::value(build::decimal(size >> 12)))};
}
WrittenBack map_memory_back_to_pre_fault(const WrittenBack& out, const FieldValues&) {
  return {{"gpa", get(out, "base_gfn") << 12}, {"size", get(out, "nr_pages") << 12}};
}

// KVM_MAP_MEMORY {base_gfn, nr_pages, flags, source} -> KVM_PRE_FAULT_MEMORY {gpa, size}: pre-fault
// has neither access flags (it is always a read fault) nor a source.
std::vector<Field> map_memory_to_pre_fault(const FieldValues& f, std::vector<std::string>* notes) {
  const u64 base_gfn = get(f, "base_gfn"), nr_pages = get(f, "nr_pages");
  const u64 flags = get(f, "flags"), source = get(f, "source");
  if (base_gfn >> 52 || nr_pages >> 52)
    notes->push_back("base_gfn/nr_pages beyond 2^52: gpa/size wrap modulo 2^64");
  if (flags)
    notes->push_back("flags=" + trace::format_flags(flags, "KVM_MEMORY_MAPPING_FLAG_") +
                     " has no KVM_PRE_FAULT_MEMORY equivalent (pre-fault is a read fault): dropped");
  if (source) notes->push_back("source=" + trace::format_size(source) + " has no KVM_PRE_FAULT_MEMORY equivalent: dropped");
  return {build::field("gpa", build::value(build::size(base_gfn << 12))),
          build::field("size", build::value(build::size(nr_pages << 12)))};
}
WrittenBack pre_fault_back_to_map_memory(const WrittenBack& out, const FieldValues& from) {
  // Pre-fault writes back no source; the caller's stays as it was.
  return {{"base_gfn", get(out, "gpa") >> 12}, {"nr_pages", get(out, "size") >> 12}, {"source", get(from, "source")}};
}

}  // namespace

const std::vector<Translation>& translations() {
  static const std::vector<Translation> rows = {
      {"KVM_PRE_FAULT_MEMORY", "KVM_MAP_MEMORY", &model::Profile::has_pre_fault, &model::Profile::has_map_memory, 1,
       pre_fault_to_map_memory, map_memory_back_to_pre_fault},
      {"KVM_MAP_MEMORY", "KVM_PRE_FAULT_MEMORY", &model::Profile::has_map_memory, &model::Profile::has_pre_fault, 1,
       map_memory_to_pre_fault, pre_fault_back_to_map_memory},
  };
  return rows;
}

const Translation* translation_for(const std::string& callee, const model::Profile& profile) {
  for (const Translation& row : translations())
    if (callee == row.from && !(profile.*row.has_from) && (profile.*row.has_to)) return &row;
  return nullptr;
}

Statement translate(const Statement& st, const Translation& row, const FieldValues& from,
                    std::vector<std::string>* notes) {
  Statement t = st;
  t.callee = row.to;
  t.args.at(row.record_arg) = build::record(row.rewrite(from, notes));
  t.result = trace::Result{};
  t.out.clear();
  t.text = trace::print_statement(t);
  t.result_begin = t.result_end = t.text.size();
  return t;
}

const PopulateIoctl* populate_ioctl(const std::string& callee) {
  static const std::vector<PopulateIoctl> rows = {
      {"KVM_PRE_FAULT_MEMORY", 1, [](const FieldValues& f) { return span(get(f, "gpa"), get(f, "size")); }},
      {"KVM_MAP_MEMORY", 1,
       [](const FieldValues& f) { return span(get(f, "base_gfn") << 12, get(f, "nr_pages") << 12); }},
  };
  for (const PopulateIoctl& row : rows)
    if (callee == row.callee) return &row;
  return nullptr;
}

}  // namespace kvmsim::compare
