// The replay engine's tables: every schema row has a handler, and every record field the schema
// places in a uAPI struct lies inside that struct without overlapping another field (replay decodes
// records from these offsets alone, sim/replay_call.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "sim/replay_call.h"
#include "sim/trace/schema.h"

namespace kvmsim {
namespace {

TEST(ReplayTable, EverySchemaRowHasAHandler) {
  for (const auto& s : trace::statement_specs()) EXPECT_NE(replay_op::handler(s.op), nullptr) << s.callee;
}

// The bytes [begin, end) each struct member of `fields` occupies, checked against `size`.
void expect_disjoint_inside(const std::vector<trace::FieldSpec>& fields, std::size_t size, const std::string& what) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (const auto& f : fields) {
    if (f.size == 0) continue;
    const std::size_t items = f.kind == trace::FieldKind::list ? f.max_items : 1;
    EXPECT_TRUE(f.size == 1 || f.size == 2 || f.size == 4 || f.size == 8) << what << "." << f.name;
    EXPECT_LE(f.offset + f.size * items, size) << what << "." << f.name;
    spans.emplace_back(f.offset, f.offset + f.size * items);
  }
  std::sort(spans.begin(), spans.end());
  for (std::size_t i = 1; i < spans.size(); i++) EXPECT_LE(spans[i - 1].second, spans[i].first) << what;
}

TEST(ReplayTable, RecordFieldsLieInsideTheirStruct) {
  std::size_t records = 0;
  for (const auto& s : trace::statement_specs())
    for (const auto& p : s.params) {
      if (p.kind != trace::ParamKind::record) continue;
      records++;
      EXPECT_GT(p.record_size, 0u) << s.callee;
      expect_disjoint_inside(p.fields, p.record_size, std::string(s.callee) + " " + std::string(p.name));
    }
  EXPECT_GT(records, 0u);
  // Out-fields read back from the same struct as the record (pre-fault writes gpa/size back).
  const auto* pf = trace::find_statement("KVM_PRE_FAULT_MEMORY", false);
  ASSERT_NE(pf, nullptr);
  expect_disjoint_inside(pf->out, pf->params.at(1).record_size, "KVM_PRE_FAULT_MEMORY out");
  expect_disjoint_inside(trace::memory_fault_fields(), sizeof(uapi::kvm_memory_fault), "memory_fault");
}

}  // namespace
}  // namespace kvmsim
