// Upstream guest_memfd -> the private-fd v5 form (docs/semantics/proposals.md §2, "The same intent in
// both forms"). Upstream: KVM creates the private file (KVM_CREATE_GUEST_MEMFD), a slot binds a range of
// it (KVM_SET_USER_MEMORY_REGION2, KVM_MEM_GUEST_MEMFD), and a gfn is private by attribute
// (KVM_SET_MEMORY_ATTRIBUTES). v5: the VMM creates the file (memfd_create with MFD_INACCESSIBLE), the
// slot binds it with the same bit named KVM_MEM_PRIVATE and the ext fields, and a gfn is private iff
// its page is allocated in that file (fallocate makes it private, a punched hole makes it shared).
// The other direction is not a table row: a v5 memfd exists before any VM (KVM_CREATE_GUEST_MEMFD
// needs one), and allocating a v5 page is both "allocate" and "make private", which upstream splits
// into two calls.
#include "sim/compare/translation_rows.h"
#include "model/uapi.h"
#include "sim/trace/build.h"
#include "sim/trace/eval.h"
#include "sim/trace/format.h"

namespace kvmsim::compare {

namespace {

namespace build = trace::build;
using trace::Field;
using trace::Statement;

// A profile with v5's private memory and none of upstream's.
bool private_fd_only(const model::Profile& p) { return p.has_private_fd_memslot && !p.has_guest_memfd; }

// KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM) -> KVM_CREATE_VM(KVM_X86_DEFAULT_VM): v5 has no VM type for
// private memory; a KVM_MEM_PRIVATE slot can be added to any VM.
bool sw_protected_vm(const model::Profile& p, const Statement& st) {
  if (!private_fd_only(p) || st.args.empty() || st.args[0].expr.has_names()) return false;
  const u64 type = trace::evaluate(st.args[0].expr).value;
  return type == uapi::KVM_X86_SW_PROTECTED_VM && !(type < 64 && (p.vm_types >> type & 1));
}
std::optional<Rewritten> default_vm(const TranslationInput&, std::vector<std::string>* notes) {
  notes->push_back("no VM type for private memory here: a KVM_MEM_PRIVATE slot can be added to any VM");
  return Rewritten{{build::value(build::constant("KVM_X86_DEFAULT_VM"))}, {}};
}

// KVM_CREATE_GUEST_MEMFD(vm, {size, flags}) -> memfd_create(size, flags=MFD_INACCESSIBLE).
std::optional<Rewritten> inaccessible_memfd(const TranslationInput& in, std::vector<std::string>* notes) {
  const u64 flags = field(in.record, "flags");
  if (flags) notes->push_back("guest_memfd flags=" + trace::format_size(flags) + " have no memfd equivalent: dropped");
  notes->push_back("the file belongs to no VM: the VMM creates it, and a slot's private_fd names it");
  const trace::Value* size = written_field(in.statement, 1, "size");
  return Rewritten{{size ? *size : build::value(build::size(0))},
                   {build::field("flags", build::value(build::constant("MFD_INACCESSIBLE")))}};
}

// KVM_SET_USER_MEMORY_REGION2 -> KVM_SET_USER_MEMORY_REGION: the same fields; a guest_memfd binding
// becomes v5's ext fields where the profile has them.
std::optional<Rewritten> region_v1(const TranslationInput& in, std::vector<std::string>* notes) {
  std::vector<Field> fields;
  for (const char* name : {"slot", "guest_phys_addr", "memory_size", "userspace_addr"})
    if (const trace::Value* v = written_field(in.statement, 1, name)) fields.push_back(build::field(name, *v));
  const u64 flags = field(in.record, "flags");
  const bool gmem = flags & uapi::KVM_MEM_GUEST_MEMFD;
  const u64 rest = flags & ~u64{uapi::KVM_MEM_GUEST_MEMFD};
  if (gmem && in.profile.has_private_fd_memslot) {
    trace::Expr f = build::constant("KVM_MEM_PRIVATE");
    if (rest) f = build::join(std::move(f), '|', build::flags(rest, "KVM_MEM_"));
    fields.insert(fields.begin() + 1, build::field("flags", build::value(std::move(f))));
    const trace::Value* fd = written_field(in.statement, 1, "guest_memfd");
    fields.push_back(build::field("private_fd", fd ? *fd : build::value(build::decimal(0))));
    fields.push_back(build::field("private_offset", build::value(build::size(field(in.record, "guest_memfd_offset")))));
  } else {
    if (gmem) notes->push_back("KVM_MEM_GUEST_MEMFD has no equivalent here: dropped, the slot is shared only");
    if (rest || written_field(in.statement, 1, "flags"))
      fields.insert(fields.begin() + 1, build::field("flags", build::value(build::flags(rest, "KVM_MEM_"))));
  }
  return Rewritten{{in.statement.args.at(0), build::record(std::move(fields))}, {}};
}

// KVM_SET_MEMORY_ATTRIBUTES(vm, {address, size, attributes}) -> fallocate of the private file range
// bound at [address, address + size): allocate to make it private, punch to make it shared.
std::optional<Rewritten> private_by_allocation(const TranslationInput& in, std::vector<std::string>* notes) {
  const u64 address = field(in.record, "address"), size = field(in.record, "size");
  const u64 attributes = field(in.record, "attributes");
  const FileBinding* b = nullptr;
  for (const auto& [slot, binding] : in.state.bindings())
    if (address >= binding.gpa && size <= binding.size && address - binding.gpa <= binding.size - size) b = &binding;
  if (!b || !size) {
    notes->push_back("not translated: [" + trace::format_size(address) + ", +" + trace::format_size(size) +
                     ") is not inside one slot bound to a private file, and v5 keeps private-ness per file range");
    return std::nullopt;
  }
  if (attributes & ~uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE)
    notes->push_back("attributes=" + trace::format_size(attributes) + " beyond PRIVATE have no v5 equivalent: dropped");
  const bool to_private = attributes & uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
  trace::Expr mode = build::decimal(0);
  if (!to_private) {
    mode = build::join(build::constant("FALLOC_FL_PUNCH_HOLE"), '|', build::constant("FALLOC_FL_KEEP_SIZE"));
    notes->push_back("v5 makes a range shared by punching it out of the private file: its private pages are freed "
                     "(upstream keeps them until the VMM punches the guest_memfd)");
  }
  return Rewritten{{build::value(b->fd), build::value(std::move(mode)),
                    build::value(build::size(b->offset + (address - b->gpa))), build::value(build::size(size))},
                   {}};
}

}  // namespace

std::vector<Translation> private_fd_translations() {
  return {
      {"KVM_CREATE_VM", "KVM_X86_SW_PROTECTED_VM", "KVM_CREATE_VM", sw_protected_vm, default_vm, nullptr},
      {"KVM_CREATE_GUEST_MEMFD", "KVM_CREATE_GUEST_MEMFD", "memfd_create",
       [](const model::Profile& p, const Statement&) { return private_fd_only(p); }, inaccessible_memfd, nullptr},
      {"KVM_SET_USER_MEMORY_REGION2", "KVM_SET_USER_MEMORY_REGION2", "KVM_SET_USER_MEMORY_REGION",
       [](const model::Profile& p, const Statement&) { return !p.has_region2; }, region_v1, nullptr},
      {"KVM_SET_MEMORY_ATTRIBUTES", "KVM_SET_MEMORY_ATTRIBUTES", "fallocate",
       [](const model::Profile& p, const Statement&) { return private_fd_only(p) && !p.has_memory_attributes; },
       private_by_allocation, nullptr},
  };
}

}  // namespace kvmsim::compare
