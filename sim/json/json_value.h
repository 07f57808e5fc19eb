// The JSON room's reader half (json.h is the writer): a small reader for the reports kvmsim writes itself
// (ReplayReport::json(), run.sh's nested report, conformance --format json), so the host can rebuild a
// guest's results. It accepts RFC 8259 JSON; numbers keep their source text (in `text`) besides a
// double, so integers round-trip exactly. Objects keep their members in source order.
// Invariant: a parse either returns a complete value or an error naming the byte offset; it never
// returns a partial tree.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvmsim {

struct JsonMember;

struct JsonValue {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;  // string: the decoded value; number: the source text
  std::vector<JsonValue> items;                            // array
  // object, in source order. Not std::pair<std::string, JsonValue>: a pair of an incomplete type is
  // undefined (libstdc++ with clang rejects it); a vector of an incomplete struct is allowed.
  std::vector<JsonMember> members;

  // The member named `key` (first one), or nullptr when absent or this is not an object.
  const JsonValue* get(std::string_view key) const;
  // Typed member access with a fallback when the member is absent or of another kind.
  std::string str(std::string_view key, const std::string& fallback = "") const;
  double num(std::string_view key, double fallback = 0) const;
  long long integer(std::string_view key, long long fallback = 0) const;
};

struct JsonMember {
  std::string first;  // the key
  JsonValue second;   // the value
};

// Parses `text` (one value, surrounding whitespace allowed). On error returns nullopt and sets
// *error to "offset N: what".
std::optional<JsonValue> parse_json(std::string_view text, std::string* error);

}  // namespace kvmsim
