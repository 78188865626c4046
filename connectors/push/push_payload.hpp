// Push sources: a delivery's JSON body to rows, by the push connection's settings (where the
// rows are, which field is the key, which flags a deletion, what names the delivery).
// Bodies come from outside: every input is either parsed or refused with a PayloadError, in
// time and memory linear in its size.
#pragma once

#include "connectors/push/push_signature.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::connectors::push {

using Json = nlohmann::json;

// Where things are in a delivery's JSON body (the push connection's settings).
struct PayloadFormat {
  // The rows: "$" (the body is one row), "$[*]" (the body is an array of rows), "$.events[*]",
  // "$.data.items[*]", "$.event" (one row under a key).
  std::string rows = "$[*]";
  // Dotted path inside a row to its key ("external_id", "customer.id"): a string or an integer
  // (as decimal text). Required.
  std::string key;
  // Dotted path inside a row to a boolean: true deletes the record. "" = no tombstones. Absent
  // or null in a row = false.
  std::string tombstone;
  // "" = none; a body path ("$.id", as `rows` without "[*]") to a string or an integer; or else
  // the name of a header ("X-Delivery-Id").
  std::string delivery_id;
};

// "" when the text is well formed for its setting; else why not (one line).
// rows: "$" then zero or more ".name" steps (any characters but '.', '[' and ']'; not empty),
// optionally ending in "[*]".
std::string rows_path_problem(std::string_view path);
// key, tombstone: dotted names with no empty step, relative to the row (a first step "$" is
// refused: "id", not "$.id"). "" is refused too (an empty tombstone means none: do not check it).
std::string field_path_problem(std::string_view path);
// delivery_id: "" (none), a body path ("$" and at least one ".name" step, no "[*]") or a header
// name (RFC 9110 token characters).
std::string delivery_id_problem(std::string_view text);

struct PushRow {
  std::string id;                // the key's text
  bool deleted = false;          // the tombstone flag
  Json fields = Json::object();  // the whole row object as sent (tombstone and key included)
};

struct Delivery {
  std::optional<std::string> id;  // the delivery id, when the format names one and the delivery carries it
  std::vector<PushRow> rows;      // in payload order
};

// A malformed delivery; what() is one line that says where ("row 3: no key at
// \"external_id\"", "the body is not JSON: syntax error at byte 17 (...)"). Byte positions
// count from 0, as hexdump's offsets do.
struct PayloadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ParseLimits {
  std::size_t max_body_bytes = 32u << 20;
  std::size_t max_depth = 64;  // arrays and objects inside one another, the outermost included
  std::size_t max_rows = 100000;
};

// Parses a delivery. Rows must be JSON objects. A row's key must be a non-empty string (any
// UTF-8, at most 1024 bytes) or an integer. Every row that is not a tombstone must carry each of
// `required_fields` (dotted paths; a null value counts as present: an explicit empty). The same
// key twice in one delivery is allowed (the later wins downstream); an empty rows array is a
// delivery without rows.
// The delivery id, from a body path: absent -> nullopt; a string or an integer -> its text;
// anything else, or an empty string -> PayloadError. From a header: absent -> nullopt; empty
// -> PayloadError. At most 1024 bytes of UTF-8 either way.
// Throws PayloadError for a malformed delivery (a body larger than max_body_bytes, not UTF-8,
// nested deeper than max_depth, not JSON, with more than max_rows rows, or a bad row). The
// depth is checked before anything is built. The format's paths must pass the checks above
// (the connection's settings are checked when they are read): std::invalid_argument otherwise.
Delivery parse_delivery(std::string_view body, const PayloadFormat& format, const Headers& headers,
                        const std::vector<std::string>& required_fields, const ParseLimits& limits = {});

}  // namespace synctool::connectors::push
