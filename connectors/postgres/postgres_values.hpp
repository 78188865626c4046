// PostgreSQL values as synctool sees them: column types to JSON, timestamps to ISO 8601, and
// the declared [schema] types to column types.
#pragma once

#include <nlohmann/json.hpp>

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <string_view>

namespace synctool::connectors::postgres {

// Type OIDs of the built-in types the connector treats specially (pg_type.h).
namespace oid {
inline constexpr Oid boolean = 16, bytea = 17, int8 = 20, int2 = 21, int4 = 23, text = 25, oid = 26, json = 114,
                     float4 = 700, float8 = 701, date = 1082, timestamp = 1114, timestamptz = 1184,
                     numeric = 1700, jsonb = 3802;
}

// How a column's text form becomes a JSON value.
enum class ValueKind { text, integer, number, boolean, json, timestamptz, timestamp, bytea };

// From the column's type and its pg_type.typcategory ('N' numeric, 'B' boolean, 'A' array...).
ValueKind value_kind(Oid type, char category);
// Arrays, composites and ranges are read through to_json() so they arrive as JSON.
bool read_as_json(char category);

// The server's text (DateStyle ISO, TimeZone UTC) as JSON. Numbers by the value model: an
// integer that fits 64 bits is a JSON integer, a decimal a double holds exactly a JSON double,
// any other number its canonical decimal text (numeric 12345678901234567.80 ->
// "12345678901234567.8"); NaN and Infinity stay text. Timestamps become ISO 8601, bytea
// becomes base64.
nlohmann::json to_json(ValueKind kind, std::string_view text);

// "2026-03-01 12:00:00.5+00" -> "2026-03-01T12:00:00.500Z". With `fixed_width` the fraction
// always has 6 digits, so that cursors compare correctly as text; otherwise it is dropped when
// zero and cut to milliseconds when that loses nothing (util::format_iso8601's form).
// Text in another form (infinity, BC dates, years past 9999) comes back unchanged.
std::string iso_timestamp(std::string_view text, bool fixed_width);

// The field type describe() reports: string, number, bool, datetime, json or unknown.
std::string field_type(ValueKind kind, Oid type);

// The column type for a declared [schema] type ("text", "numeric", "timestamptz"...).
std::string column_type_for(const std::string& declared);
// Whether a column of this type and category holds values of the declared type as they are.
bool column_holds(const std::string& declared, Oid type, char category);

// A numeric column's precision and scale from its typmod (pg_attribute.atttypmod); no
// precision for a plain `numeric`.
struct NumericLimits {
  std::optional<int> precision;
  int scale = 0;
};
NumericLimits numeric_limits(int typmod);

// Whether a column of this type (and typmod) stores `value` exactly: smallint, integer and
// bigint hold whole numbers in their range, real and double precision the decimals a float4 /
// double holds exactly (9007199254740993 is not one), numeric(p,s) those with at most s
// fraction digits (1.005 would be rounded to 1.01) and p - s before the point. Values that are
// no number (JSON numbers, or text that reads as one) and columns of other types: true, the
// server refuses what it cannot convert.
bool column_holds_value(Oid type, int typmod, const nlohmann::json& value);

}  // namespace synctool::connectors::postgres
