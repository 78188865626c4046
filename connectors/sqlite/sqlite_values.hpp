// SQLite values as synctool sees them: a declared column type's affinity and field type, the
// column types `create_table` gives the declared [schema] types, and what to bind so that a
// column stores a value exactly (or why it cannot).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace synctool::connectors::sqlite {

// A column's type affinity, by SQLite's rules (https://sqlite.org/datatype3.html, 3.1): "INT"
// anywhere -> integer; "CHAR", "CLOB" or "TEXT" -> text; "BLOB" or no type -> blob (none);
// "REAL", "FLOA" or "DOUB" -> real; anything else (NUMERIC, DECIMAL, BOOLEAN, DATE) -> numeric.
enum class Affinity { text, numeric, integer, real, blob };
Affinity affinity_of(std::string_view declared);

// The field type describe() reports for a declared column type: string, number, bool,
// datetime or unknown.
std::string field_type(std::string_view declared);

// The column type `create_table` gives a field of a declared [schema] type: number NUMERIC,
// bool BOOLEAN (0/1), every other type TEXT (dates in ISO form, multiselect and json as JSON
// text).
std::string column_type_for(const std::string& declared);

// Whether values of this declared column type read back as booleans (0/1 as false/true).
bool boolean_column(std::string_view declared);

// What to bind so that a column of `affinity` stores `value` exactly, or nullopt when it cannot:
// - a text column gets a double as its canonical decimal (SQLite would keep 15 digits: 0.3
//   for 0.30000000000000004);
// - integer and numeric columns convert numeric text to a number: an integer that fits 64
//   bits, else a double when the double holds the decimal, else nullopt
//   ("12345678901234567.89"); numbers beyond 64 bits likewise;
// - a real column holds a number only when a double does (9007199254740993 does not);
// - anything else is bound as it is (Statement::bind).
std::optional<nlohmann::json> storable(Affinity affinity, const nlohmann::json& value);

// storable() without copying what needs no conversion: `value` is bound as it is, or as
// `converted` (assigned only then), or refused.
enum class Fit { as_is, converted, refused };
Fit fit(Affinity affinity, const nlohmann::json& value, nlohmann::json& converted);

// "column amount (NUMERIC) cannot hold 12345678901234567.89 exactly".
std::string cannot_hold(const std::string& column, std::string_view declared, const nlohmann::json& value);

}  // namespace synctool::connectors::sqlite
