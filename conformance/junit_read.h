// Reading back the JUnit XML that `kvmsim conformance --format junit` writes (conformance/runner.h
// format_junit), so `kvmsim merge` takes JUnit shard reports as well as JSON (docs/fuzz.md "Sharded
// campaigns"). Only that shape is read: <testsuites> of one <testsuite name=BACKEND> per backend, each
// <testcase classname="BACKEND.GROUP" name=NAME> with an optional <skipped message=REASON/>,
// <failure message=REASON>one failure per line</failure> or <system-out>unobservable: ...</system-out>.
// Invariant: report_from_junit(format_junit(r)) == r for every report whose failure and unobservable
// texts are single lines (they are: "file:line: message"); anything else is an error naming the byte
// offset, never a partial report.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "conformance/runner.h"

namespace kvmsim::conf {

std::optional<RunReport> report_from_junit(std::string_view xml, std::string* error);

}  // namespace kvmsim::conf
