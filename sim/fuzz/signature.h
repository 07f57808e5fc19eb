// The signature of a divergence: (statement kind, compared field, A's value, B's value). The shrinker
// keeps a smaller candidate only if its first divergence has the same signature, so minimisation
// never drifts to another bug, nor to an empty trace (which has no divergence at all).
// Fields: `result` for the return value or errno, an out-field or counter name (`gpa`, `pages_2m`,
// `level`), or `bitmap`. Values are the differing items as written in the actual texts, except for
// `expect stats` counters: there the signature holds the difference (a = "B-A", b = "+1"), because
// a counter's absolute value depends on every earlier access while the difference is the bug's.
#pragma once

#include <optional>
#include <string>

#include "sim/differential.h"

namespace kvmsim::fuzz {

struct Signature {
  std::string kind;   // callee: `KVM_PRE_FAULT_MEMORY`, `expect stats`; guest accesses with their kind: `access exec`
  std::string field;  // `result`, `gpa`, `pages_4k`, ...
  std::string a, b;   // the differing values
  bool operator==(const Signature&) const = default;
  std::string str() const;  // `expect stats: pages_2m model=1 kvm=0` style, with "A"/"B" labels
};

Signature signature_of(const Divergence& d);

// The statement kind of a trace line: `expect stats`, or the callee after an optional `NAME = `.
std::string statement_kind(const std::string& statement);

}  // namespace kvmsim::fuzz
