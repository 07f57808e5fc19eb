// JSON string quoting shared by every report writer (replay, differential, conformance).
// Output is deterministic: control characters become \uXXXX, bytes >= 0x80 pass through (UTF-8).
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
