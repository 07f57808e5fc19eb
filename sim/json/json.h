// The JSON room's writer half: string quoting shared by every report writer (replay, differential,
// conformance, the nested oracle). Reports are written by hand, key by key, because their key order is
// part of the output (reports are diffed byte for byte); the reader is json_value.h beside this file,
// and each report's reader sits next to its writer (ReplayReport: sim/replay_json.cpp).
// Invariant: output is deterministic: control characters become \uXXXX, bytes >= 0x80 pass through (UTF-8).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace kvmsim {

inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out + "\"";
}

}  // namespace kvmsim
