// How `kvmsim compare` runs one trace under a profile that lacks one of its ioctls: the same VMM
// intent written with the ioctl that profile has. Each translation is one row of the table in
// translations.cpp (e.g. KVM_PRE_FAULT_MEMORY {gpa, size} <-> KVM_MAP_MEMORY {base_gfn = gpa >> 12,
// nr_pages = size >> 12}); a later proposal adds its rows there and nothing else changes.
// Also here: the populate ioctls, whose requested range the comparison needs to tell which
// pages a statement mapped beyond what it asked for.
// Invariants: rows are chosen from profile data (the Profile::has_* switches), never from a
// profile's name; a translation says in `notes` every part of the intent the target cannot
// express (a dropped flag, a dropped source), so the output never hides a lossy rewrite.
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

struct Translation {
  const char* from;  // the callee a profile lacks
  const char* to;    // the callee it is rewritten as
  bool model::Profile::*has_from;
  bool model::Profile::*has_to;
  int record_arg;  // index of the record argument (the same in both forms)
  // The `to` record from the `from` record's values; notes name what `to` cannot express.
  std::vector<trace::Field> (*rewrite)(const FieldValues& from, std::vector<std::string>* notes);
  // `to`'s written-back fields in `from`'s names (`from` as given, for fields `to` does not write).
  WrittenBack (*back)(const WrittenBack& to_out, const FieldValues& from);
};

// The table (translations.cpp).
const std::vector<Translation>& translations();

// The row that rewrites `callee` for `profile` (it lacks `from` and has `to`), or nullptr.
const Translation* translation_for(const std::string& callee, const model::Profile& profile);

// The translated statement: `st` with callee `row.to`, record argument rewritten, no expected
// result (compare checks the two profiles against each other, not against the trace).
trace::Statement translate(const trace::Statement& st, const Translation& row, const FieldValues& from,
                           std::vector<std::string>* notes);

// A populate ioctl (one that maps guest memory ahead of the guest) and the GPA range it asks for.
struct PopulateIoctl {
  const char* callee;
  int record_arg;
  // [start, end) in bytes (end clamped to 2^64 - 1 on overflow).
  std::pair<u64, u64> (*requested)(const FieldValues& record);
};
const PopulateIoctl* populate_ioctl(const std::string& callee);

}  // namespace kvmsim::compare
