#include "sim/fuzz/campaign_report.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "sim/json/json.h"

namespace kvmsim::fuzz {

namespace {

bool is_decimal(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Canonical seed order: decimal seeds numerically (shorter is smaller: no leading zeros in a range),
// then every other spelling by text.
bool seed_less(const std::string& a, const std::string& b) {
  const bool da = is_decimal(a), db = is_decimal(b);
  if (da != db) return da;
  if (da && a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

std::size_t count(const JsonValue& v, const char* key) { return static_cast<std::size_t>(v.integer(key)); }

}  // namespace

std::size_t CampaignReport::failures() const {
  return static_cast<std::size_t>(
      std::count_if(seeds.begin(), seeds.end(), [](const SeedOutcome& s) { return s.result == "failure"; }));
}

int CampaignReport::exit_code() const { return findings.empty() && failures() == 0 ? 0 : 1; }

void add_seed(CampaignReport& report, const Seed& seed, const CampaignResult& r) {
  SeedOutcome o{seed.text, r.cases, r.steps, "clean", ""};
  if (!r.failure.empty()) o.result = "failure", o.failure = r.failure.substr(0, r.failure.find('\n'));
  else if (r.found) o.result = "finding";
  report.seeds.push_back(std::move(o));
  if (r.found)
    report.findings.push_back({r.found->signature.str(), seed.text, r.found->case_index, r.found->line,
                               r.found->shrunk_statements, r.found->file});
  for (const auto& [name, n] : r.explained) report.explained[name] += n;
}

void write_json(const CampaignReport& r, std::ostream& out) {
  std::size_t cases = 0, steps = 0;
  for (const auto& s : r.seeds) cases += s.cases, steps += s.steps;
  out << "{\"schema\": 1, \"report\": \"fuzz\", \"backend\": " << json_quote(r.backend)
      << ", \"profile\": " << json_quote(r.profile) << ", \"steps_per_seed\": " << r.steps_per_seed
      << ", \"faults\": " << (r.faults ? "true" : "false");
  if (!r.shard.empty()) out << ", \"shard\": " << json_quote(r.shard);
  out << ", \"seeds\": [";
  for (std::size_t i = 0; i < r.seeds.size(); i++) {
    const SeedOutcome& s = r.seeds[i];
    out << (i ? ",\n  " : "\n  ") << "{\"seed\": " << json_quote(s.seed) << ", \"cases\": " << s.cases
        << ", \"steps\": " << s.steps << ", \"result\": " << json_quote(s.result);
    if (!s.failure.empty()) out << ", \"failure\": " << json_quote(s.failure);
    out << "}";
  }
  out << (r.seeds.empty() ? "" : "\n") << "], \"findings\": [";
  for (std::size_t i = 0; i < r.findings.size(); i++) {
    const FindingRecord& f = r.findings[i];
    out << (i ? ",\n  " : "\n  ") << "{\"signature\": " << json_quote(f.signature) << ", \"seed\": " << json_quote(f.seed)
        << ", \"case\": " << f.case_index << ", \"line\": " << f.line
        << ", \"shrunk_statements\": " << f.shrunk_statements << ", \"file\": " << json_quote(f.file) << "}";
  }
  out << (r.findings.empty() ? "" : "\n") << "], \"explained\": {";
  bool first = true;
  for (const auto& [name, n] : r.explained) {
    out << (first ? "" : ", ") << json_quote(name) << ": " << n;
    first = false;
  }
  out << "}, \"summary\": {\"seeds\": " << r.seeds.size() << ", \"cases\": " << cases << ", \"steps\": " << steps
      << ", \"findings\": " << r.findings.size() << ", \"failures\": " << r.failures()
      << "}, \"exit_code\": " << r.exit_code() << "}\n";
}

std::optional<CampaignReport> campaign_report_from_json(const JsonValue& v, std::string* error) {
  if (v.str("report") != "fuzz") {
    *error = "not a fuzz report (\"report\": \"fuzz\" missing)";
    return std::nullopt;
  }
  const JsonValue* seeds = v.get("seeds");
  const JsonValue* findings = v.get("findings");
  if (!seeds || seeds->kind != JsonValue::Kind::array || !findings || findings->kind != JsonValue::Kind::array) {
    *error = "a fuzz report needs \"seeds\" and \"findings\" arrays";
    return std::nullopt;
  }
  CampaignReport r;
  r.backend = v.str("backend");
  r.profile = v.str("profile");
  r.steps_per_seed = count(v, "steps_per_seed");
  const JsonValue* faults = v.get("faults");
  r.faults = faults && faults->boolean;
  r.shard = v.str("shard");
  for (const JsonValue& s : seeds->items)
    r.seeds.push_back({s.str("seed"), count(s, "cases"), count(s, "steps"), s.str("result"), s.str("failure")});
  for (const JsonValue& f : findings->items)
    r.findings.push_back({f.str("signature"), f.str("seed"), count(f, "case"), static_cast<int>(f.integer("line")),
                          count(f, "shrunk_statements"), f.str("file")});
  if (const JsonValue* e = v.get("explained"); e && e->kind == JsonValue::Kind::object)
    for (const auto& [name, n] : e->members) r.explained[name] = static_cast<std::size_t>(n.number);
  return r;
}

std::optional<CampaignReport> merge(const std::vector<CampaignReport>& shards, std::string* error) {
  CampaignReport m;
  if (shards.empty()) return m;
  m.backend = shards[0].backend;
  m.profile = shards[0].profile;
  m.steps_per_seed = shards[0].steps_per_seed;
  m.faults = shards[0].faults;
  std::set<std::string> seen_seeds;
  for (const CampaignReport& s : shards) {
    if (std::tie(s.backend, s.profile, s.steps_per_seed, s.faults) !=
        std::tie(m.backend, m.profile, m.steps_per_seed, m.faults)) {
      *error = "fuzz reports of different campaigns (backend " + s.backend + " vs " + m.backend + ", profile " +
               s.profile + " vs " + m.profile + ", steps, faults must match)";
      return std::nullopt;
    }
    for (const SeedOutcome& o : s.seeds)
      if (seen_seeds.insert(o.seed).second) m.seeds.push_back(o);  // a seed run twice counts once
    for (const FindingRecord& f : s.findings) m.findings.push_back(f);
    for (const auto& [name, n] : s.explained) m.explained[name] += n;
  }
  std::stable_sort(m.seeds.begin(), m.seeds.end(),
                   [](const SeedOutcome& a, const SeedOutcome& b) { return seed_less(a.seed, b.seed); });
  // One finding per signature: the earliest seed's (then the earliest case), whichever shard found it.
  std::stable_sort(m.findings.begin(), m.findings.end(), [](const FindingRecord& a, const FindingRecord& b) {
    if (a.seed != b.seed) return seed_less(a.seed, b.seed);
    return a.case_index < b.case_index;
  });
  std::set<std::string> signatures;
  std::erase_if(m.findings, [&](const FindingRecord& f) { return !signatures.insert(f.signature).second; });
  return m;
}

}  // namespace kvmsim::fuzz
