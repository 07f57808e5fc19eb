// KVM_PRE_FAULT_MEMORY (upstream, docs/semantics/pre-fault.md) <-> KVM_MAP_MEMORY (RFC v1,
// docs/semantics/proposals.md §1): the same "map this range ahead of the guest" intent in two structs.
#include "sim/compare/translation_rows.h"
#include "sim/trace/build.h"
#include "sim/trace/format.h"

namespace kvmsim::compare {

namespace {

namespace build = trace::build;

// KVM_PRE_FAULT_MEMORY {gpa, size, flags} -> KVM_MAP_MEMORY {base_gfn, nr_pages}: a read fault of
// each page, as pre-fault's is (no WRITE/EXEC/USER flag), no source.
std::optional<Rewritten> pre_fault_to_map_memory(const TranslationInput& in, std::vector<std::string>* notes) {
  const u64 gpa = field(in.record, "gpa"), size = field(in.record, "size"), flags = field(in.record, "flags");
  if ((gpa | size) & 0xfff)
    notes->push_back("gpa/size not page aligned (" + trace::format_size(gpa) + ", " + trace::format_size(size) +
                     "): KVM_MAP_MEMORY counts whole pages, rounded down");
  if (flags) notes->push_back("flags=" + trace::format_size(flags) + " has no KVM_MAP_MEMORY equivalent: dropped");
  Rewritten r{{in.statement.args.at(0)}, {}};
  r.args.push_back(build::record({build::field("base_gfn", build::value(build::hex(gpa >> 12))),
                                  build::field("nr_pages", build::value(build::decimal(size >> 12)))}));
  return r;
}
WrittenBack map_memory_back_to_pre_fault(const WrittenBack& out, const FieldValues&) {
  return {{"gpa", field(out, "base_gfn") << 12}, {"size", field(out, "nr_pages") << 12}};
}

// KVM_MAP_MEMORY {base_gfn, nr_pages, flags, source} -> KVM_PRE_FAULT_MEMORY {gpa, size}: pre-fault
// has neither access flags (it is always a read fault) nor a source.
std::optional<Rewritten> map_memory_to_pre_fault(const TranslationInput& in, std::vector<std::string>* notes) {
  const u64 base_gfn = field(in.record, "base_gfn"), nr_pages = field(in.record, "nr_pages");
  const u64 flags = field(in.record, "flags"), source = field(in.record, "source");
  if (base_gfn >> 52 || nr_pages >> 52)
    notes->push_back("base_gfn/nr_pages beyond 2^52: gpa/size wrap modulo 2^64");
  if (flags)
    notes->push_back("flags=" + trace::format_flags(flags, "KVM_MEMORY_MAPPING_FLAG_") +
                     " has no KVM_PRE_FAULT_MEMORY equivalent (pre-fault is a read fault): dropped");
  if (source) notes->push_back("source=" + trace::format_size(source) + " has no KVM_PRE_FAULT_MEMORY equivalent: dropped");
  Rewritten r{{in.statement.args.at(0)}, {}};
  r.args.push_back(build::record({build::field("gpa", build::value(build::size(base_gfn << 12))),
                                  build::field("size", build::value(build::size(nr_pages << 12)))}));
  return r;
}
WrittenBack pre_fault_back_to_map_memory(const WrittenBack& out, const FieldValues& from) {
  // Pre-fault writes back no source; the caller's stays as it was.
  return {{"base_gfn", field(out, "gpa") >> 12}, {"nr_pages", field(out, "size") >> 12}, {"source", field(from, "source")}};
}

}  // namespace

std::vector<Translation> map_memory_translations() {
  return {
      {"KVM_PRE_FAULT_MEMORY", "KVM_PRE_FAULT_MEMORY", "KVM_MAP_MEMORY",
       [](const model::Profile& p, const trace::Statement&) { return !p.has_pre_fault && p.has_map_memory; },
       pre_fault_to_map_memory, map_memory_back_to_pre_fault},
      {"KVM_MAP_MEMORY", "KVM_MAP_MEMORY", "KVM_PRE_FAULT_MEMORY",
       [](const model::Profile& p, const trace::Statement&) { return !p.has_map_memory && p.has_pre_fault; },
       map_memory_to_pre_fault, pre_fault_back_to_map_memory},
  };
}

}  // namespace kvmsim::compare
