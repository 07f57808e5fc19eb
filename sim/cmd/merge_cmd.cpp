// `kvmsim merge`: the reports of a sharded run (each shard's `kvmsim fuzz --format json`, or
// `kvmsim conformance --format json|junit`) into one report of the same schema (docs/fuzz.md "Sharded
// campaigns"). The kind is read from each report: all fuzz (sim/fuzz/campaign_report.h) or all
// conformance (conformance/merge.h; a file whose first non-blank byte is '<' is read as JUnit XML,
// conformance/junit_read.h); a mix, an unreadable file or a malformed report is a usage error (exit 2).
#include <variant>

#include "conformance/junit_read.h"
#include "conformance/merge.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/fuzz/campaign_report.h"
#include "sim/json/json_value.h"

namespace kvmsim {

int run_merge(const MergeArgs& args, std::ostream& out, std::ostream& err) {
  std::vector<fuzz::CampaignReport> fuzz_reports;
  std::vector<conf::RunReport> conf_reports;
  for (const std::string& file : args.files) {
    std::string text, error;
    if (!read_text_file(file, &text)) {
      err << file << ": cannot read file\n";
      return kExitUsage;
    }
    const std::size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '<') {
      auto r = conf::report_from_junit(text, &error);
      if (!r) {
        err << file << ": " << error << "\n";
        return kExitUsage;
      }
      conf_reports.push_back(std::move(*r));
      continue;
    }
    auto v = parse_json(text, &error);
    if (!v || v->kind != JsonValue::Kind::object) {
      err << file << ": not a JSON report: " << (v ? "not an object" : error) << "\n";
      return kExitUsage;
    }
    if (v->get("report")) {
      auto r = fuzz::campaign_report_from_json(*v, &error);
      if (!r) {
        err << file << ": " << error << "\n";
        return kExitUsage;
      }
      fuzz_reports.push_back(std::move(*r));
    } else {
      auto r = conf::report_from_json(*v, &error);
      if (!r) {
        err << file << ": " << error << "\n";
        return kExitUsage;
      }
      conf_reports.push_back(std::move(*r));
    }
  }
  if (!fuzz_reports.empty() && !conf_reports.empty()) {
    err << "kvmsim merge: fuzz and conformance reports cannot be merged together\n";
    return kExitUsage;
  }
  if (!fuzz_reports.empty()) {
    if (args.format != "json") {
      err << "kvmsim merge: fuzz reports merge to json only\n";
      return kExitUsage;
    }
    std::string error;
    auto merged = fuzz::merge(fuzz_reports, &error);
    if (!merged) {
      err << "kvmsim merge: " << error << "\n";
      return kExitUsage;
    }
    fuzz::write_json(*merged, out);
    return merged->exit_code() ? kExitMismatch : kExitOk;
  }
  const conf::RunReport merged = conf::merge_reports(conf_reports);
  if (args.format == "junit") conf::format_junit(merged, out);
  else if (args.format == "text") conf::format_text(merged, out);
  else conf::format_json(merged, out);
  err << conf::summary_line(merged) << "\n";
  return conf::exit_code(merged) ? kExitMismatch : kExitOk;
}

}  // namespace kvmsim
