// Known open divergences: model-vs-kernel differences that are measured and documented
// (conformance/KNOWN_DIFFERENCES.md, "Open") but not yet encoded in the model. A campaign that hits
// one records it in its report ("explained: NAME") and moves on to the next case instead of failing;
// anything else is a finding. Each entry names the document row it stands for and a narrow
// predicate over (signature, the pair); remove an entry when the model encodes the behaviour
// (or run `kvmsim fuzz --strict` to treat them as findings).
#pragma once

#include <string>
#include <vector>

#include "model/profiles/profile.h"
#include "sim/backend/backend.h"
#include "sim/fuzz/signature.h"

namespace kvmsim::fuzz {

struct KnownOpen {
  std::string name;  // short id printed in reports
  std::string why;   // one line: cause, and where it is documented
};

// The entry that explains a first divergence with signature `s` between backend A (answering as
// `pa`) and backend B (answering as `pb`); nullptr when none does.
const KnownOpen* explain_divergence(const Signature& s, const Backend& a, const model::Profile& pa, const Backend& b,
                                    const model::Profile& pb);

const std::vector<KnownOpen>& known_open_divergences();

}  // namespace kvmsim::fuzz
