#include "model/mmu/page_table_factory.h"

#include "model/mmu/tdp_mmu.h"
#include "model/mmu/tdp_mmu_ref.h"

namespace kvmsim::model {

std::unique_ptr<PageTable> make_page_table(PageTableImpl impl, int root_level, int max_huge_level,
                                           bool nx_huge_pages) {
  if (impl == PageTableImpl::reference)
    return std::make_unique<TdpMmuRef>(root_level, max_huge_level, nx_huge_pages);
  return std::make_unique<TdpMmu>(root_level, max_huge_level, nx_huge_pages);
}

}  // namespace kvmsim::model
