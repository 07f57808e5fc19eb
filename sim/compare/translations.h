// How `kvmsim compare` runs one trace under a profile that lacks one of its ioctls: the same VMM
// intent written with what that profile has. Each translation is one row of a table; the rows for
// one pair of uAPIs live in one file:
//   translate_map_memory.cpp  KVM_PRE_FAULT_MEMORY {gpa, size} <-> KVM_MAP_MEMORY {base_gfn, nr_pages}
//   translate_private_fd.cpp  upstream guest_memfd (KVM_CREATE_GUEST_MEMFD, KVM_SET_USER_MEMORY_REGION2,
//                             KVM_SET_MEMORY_ATTRIBUTES) -> the private-fd v5 form (memfd_create with
//                             MFD_INACCESSIBLE, the ext fields of KVM_SET_USER_MEMORY_REGION, fallocate)
// A later proposal adds its rows in its own file and nothing else changes.
// Also here: the populate ioctls, whose requested range the comparison needs to tell which pages a
// statement mapped beyond what it asked for.
// Invariants: a row applies by profile data (the Profile::has_* switches, vm_types), never by a
// profile's name; a translation says in `notes` every part of the intent the target cannot express
// (a dropped flag, a dropped source), so the output never hides a lossy rewrite; an intent that
// cannot be written at all is not translated, and the notes say why. Handle names stay as written.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/profiles/profile.h"
#include "sim/trace/ast.h"

namespace kvmsim::compare {

// A record argument's fields, evaluated (handles resolved by the caller).
using FieldValues = std::map<std::string, u64>;
// Written-back fields, in schema order (StatementResult::written_back).
using WrittenBack = std::vector<std::pair<std::string, u64>>;

// What one side has bound so far that a later translation depends on: the guest_memfd ranges of
// its memslots (upstream binds a file range per slot; v5 makes a gfn private by allocating its page
// in that range, so KVM_SET_MEMORY_ATTRIBUTES becomes a fallocate of the right file and offset).
struct FileBinding {
  u64 gpa = 0, size = 0, offset = 0;
  trace::Expr fd;  // as written: the guest_memfd handle
};
class TranslationState {
 public:
  // After `original` ran on this side (as written or translated), with its record evaluated.
  void observe(const trace::Statement& original, const FieldValues& record, bool succeeded);
  const std::map<u64, FileBinding>& bindings() const { return bindings_; }  // by slot id

 private:
  std::map<u64, FileBinding> bindings_;
};

// What a row reads: the statement as written (handle names intact), its record argument (the first
// `{...}` argument) evaluated ({} when it has none), the target profile and the side's state.
struct TranslationInput {
  const trace::Statement& statement;
  const FieldValues& record;
  const model::Profile& profile;
  const TranslationState& state;
};

// The translated call's arguments.
struct Rewritten {
  std::vector<trace::Value> args;
  std::vector<trace::Field> keywords;
};

struct Translation {
  const char* from;   // the callee rewritten
  const char* lacks;  // what the profile lacks: `from`, or e.g. the VM type `from` asks for
  const char* to;     // the callee it is rewritten as
  // Whether `profile` runs `st` as `to`: it lacks what `st` needs and has what `to` needs.
  bool (*applies)(const model::Profile& profile, const trace::Statement& st);
  // `to`'s arguments; nullopt when the intent cannot be written with `to` (the notes say why).
  std::optional<Rewritten> (*rewrite)(const TranslationInput& in, std::vector<std::string>* notes);
  // `to`'s written-back fields in `from`'s names; nullptr when `to` writes nothing back.
  WrittenBack (*back)(const WrittenBack& to_out, const FieldValues& from);
};

// Every row, in table order (translation_rows.h).
const std::vector<Translation>& translations();

// The row that rewrites `st` for `profile`, or nullptr.
const Translation* translation_for(const trace::Statement& st, const model::Profile& profile);

// The translated statement: `st` with callee `row.to` and the rewritten arguments, no expected
// result (compare checks the two profiles against each other, not against the trace); nullopt when
// the row cannot express it.
std::optional<trace::Statement> translate(const Translation& row, const TranslationInput& in,
                                          std::vector<std::string>* notes);

// A populate ioctl (one that maps guest memory ahead of the guest) and the GPA range it asks for.
struct PopulateIoctl {
  const char* callee;
  // [start, end) in bytes (end clamped to 2^64 - 1 on overflow).
  std::pair<u64, u64> (*requested)(const FieldValues& record);
};
const PopulateIoctl* populate_ioctl(const std::string& callee);

}  // namespace kvmsim::compare
