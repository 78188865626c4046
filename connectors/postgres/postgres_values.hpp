// PostgreSQL values as synctool sees them: column types to JSON, timestamps to ISO 8601, and
// the declared [schema] types to column types.
#pragma once

#include <nlohmann/json.hpp>

#include <libpq-fe.h>

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

// The server's text (DateStyle ISO, TimeZone UTC) as JSON: numbers stay numbers while exact
// (a numeric of more than 15 significant digits stays text), timestamps become ISO 8601,
// bytea becomes base64.
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

}  // namespace synctool::connectors::postgres
