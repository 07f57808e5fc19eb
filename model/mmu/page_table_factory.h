// make_page_table(): the one place that knows both PageTable implementations (page_table.h), so
// that callers (the per-VM Mmu, tests, benchmarks) choose one by PageTableImpl without
// including either. Kept out of page_table.h so the interface does not depend on the classes
// that implement it.
// Invariant: the only file outside each implementation that names TdpMmu or TdpMmuRef.
#pragma once

#include <memory>

#include "model/mmu/page_table.h"

namespace kvmsim::model {

// root_level: 4 or 5. max_huge_level: 2 (no 1G pages) or 3. nx_huge_pages: the iTLB multihit
// mitigation for this VM.
std::unique_ptr<PageTable> make_page_table(PageTableImpl impl, int root_level = 4, int max_huge_level = 3,
                                           bool nx_huge_pages = false);

}  // namespace kvmsim::model
