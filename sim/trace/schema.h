// The statement schema: one table describing every trace statement — callee, positional
// parameters, trailing keyword parameters, struct fields (upstream field names), binding rule,
// result kind and the out-fields allowed after `=>`. The parser validates against it; the replay
// engine dispatches on `Op` to one handler per Op (sim/replay_call.h) and fills each record's uAPI
// struct from the field offsets written here, so adding a statement is one entry here plus its handler.
// Invariants: callee names are unique within a statement kind (call / expect); a struct field's name
// is its uAPI member's name and its offset/size are that member's (the table takes both from the struct).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kvmsim::trace {

// What a handle refers to; a parameter accepts a set of kinds (bitmask).
enum HandleKind : unsigned {
  kHandleKvm = 1u << 0,    // the open /dev/kvm (predefined `kvm`)
  kHandleVm = 1u << 1,
  kHandleVcpu = 1u << 2,
  kHandleGmem = 1u << 3,   // guest_memfd
  kHandleMemfd = 1u << 4,  // memfd_create
  kHandleMem = 1u << 5,    // a host address returned by mmap
  kHandleFd = kHandleKvm | kHandleVm | kHandleVcpu | kHandleGmem | kHandleMemfd,
  kHandleAny = kHandleFd | kHandleMem,
};
const char* handle_kind_name(unsigned kind);  // "vm", "vcpu", ..., for one bit

// How a struct field / keyword / out-field value is written.
enum class FieldKind {
  expr,    // an expression
  handle,  // an fd: a handle name of an accepted kind, or a raw number (guest_memfd=-1)
  list,    // `[expr, ...]` with at most `max_items` items
  ranges,  // `[0-9, 17]` bit ranges (constant)
  word,    // one word from `words` (mapping level: 4K/2M/1G/none)
  flag,    // 0 or 1
};

struct FieldSpec {
  std::string_view name;
  FieldKind kind = FieldKind::expr;
  unsigned handles = 0;                 // handle: accepted kinds
  unsigned max_items = 0;               // list: capacity of the uAPI array
  std::vector<std::string_view> words;  // word: accepted spellings
  // Where the value lives in the uAPI struct of its record (or of the out-fields): the member's byte
  // offset and the size of one element (a list's items are consecutive). size 0: not a struct member
  // (a bitmap passed by pointer, a keyword, an observation).
  std::size_t offset = 0, size = 0;
};

enum class ParamKind {
  handle,         // a handle of an accepted kind, or a raw number
  expr,           // an expression
  record,         // `{field=value, ...}` with `fields`
  word,           // one word from `words`
  backing_or_fd,  // mmap: a backing word (anon, thp, ...) or an fd handle
};

struct ParamSpec {
  std::string_view name;  // for messages
  ParamKind kind = ParamKind::expr;
  unsigned handles = 0;
  std::vector<FieldSpec> fields;
  std::vector<std::string_view> words;
  std::size_t record_size = 0;  // record: sizeof the uAPI struct its fields are laid out in
};

enum class Binding { forbidden, optional, required };
// host: an integer, `-1 ERRNO` or `SIGBUS` (a VMM load/store of its own memory, docs/semantics/memory-contents.md §4).
enum class ResultKind { none, integer, access, host };

// Replay dispatch.
enum class Op {
  mmap, munmap, madvise, mprotect, touch, memfd_create, pin, unpin,
  create_vm, create_vcpu, create_guest_memfd, check_extension, set_user_memory_region,
  set_user_memory_region2, set_memory_attributes, set_memory_attributes2, guest_memfd_populate, pre_fault_memory, map_memory,
  get_dirty_log, clear_dirty_log,
  enable_cap, fallocate, ftruncate, read, write, pread, close, access,
  expect_stats, expect_mapping, inject, raw_ioctl,
  poke, peek, pwrite, fstat,  // memory contents (docs/semantics/memory-contents.md)
};
constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::fstat) + 1;

struct StatementSpec {
  std::string_view callee;
  Op op;
  bool expect = false;  // `expect CALLEE(...) key=value ...`
  std::vector<ParamSpec> params;
  std::vector<FieldSpec> keywords;  // optional trailing `key=value` inside the parentheses
  Binding binding = Binding::forbidden;
  unsigned binds = 0;  // the handle kind a binding creates
  ResultKind result = ResultKind::integer;
  std::vector<FieldSpec> out;          // allowed `=> {...}` fields
  std::vector<FieldSpec> expect_keys;  // expect: allowed keys (empty + any_key: any counter name)
  bool any_key = false;
};

const std::vector<StatementSpec>& statement_specs();
const StatementSpec* find_statement(std::string_view callee, bool expect);
// `tid=N`: the keyword every call statement accepts, the thread a recorded call came from (replay
// ignores it; traces/FORMAT.md "Threads").
const FieldSpec& thread_keyword();
// The most bytes a recorded-only `ioctl(..., bytes=[...])` may carry.
constexpr unsigned kMaxIoctlBytes = 1u << 16;

// Backing words accepted by mmap (traces/FORMAT.md "Statements").
const std::vector<std::string_view>& backing_words();
const std::vector<std::string_view>& access_words();
const std::vector<std::string_view>& level_words();
// `inject(SITE, KIND, after=N, count=C)` words (model/fault_injection.h for the valid pairs).
const std::vector<std::string_view>& inject_site_words();
const std::vector<std::string_view>& inject_kind_words();

}  // namespace kvmsim::trace

namespace kvmsim::trace {
// Fields of `= memory_fault {...}` (kvm_run.memory_fault).
const std::vector<FieldSpec>& memory_fault_fields();
// Fields of `= ok {...}` after a guest read: `value`, the u64 it loaded.
const std::vector<FieldSpec>& access_ok_fields();
}  // namespace kvmsim::trace
