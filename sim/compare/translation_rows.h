// The translation rows of `kvmsim compare`, one file per pair of uAPIs (translations.h lists them),
// and the few helpers the rows share. Internal to sim/compare.
#pragma once

#include <vector>

#include "sim/compare/translations.h"

namespace kvmsim::compare {

std::vector<Translation> map_memory_translations();  // translate_map_memory.cpp
std::vector<Translation> private_fd_translations();  // translate_private_fd.cpp

// A field's evaluated value; 0 when the record does not set it (the kernel's zeroed struct).
u64 field(const FieldValues& f, const char* name);
u64 field(const WrittenBack& f, const char* name);

// The record argument `arg` of `st` as written, field `name` of it; nullptr when absent.
const trace::Value* written_field(const trace::Statement& st, int arg, const char* name);

}  // namespace kvmsim::compare
