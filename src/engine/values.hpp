// Comparing field values across systems that store them differently (a CSV cell "42", a
// SQLite integer 42, a NULL and an empty string).
#pragma once

#include <nlohmann/json.hpp>

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::engine {

// Equal as far as a sync is concerned: same JSON; or null vs "" (or []); or numbers vs numeric text
// with the same numeric value; or booleans vs "true"/"false" (any case), "1"/"0" or 1/0; or
// two ISO 8601 texts naming the same instant ("...T10:00:00Z" vs "...T10:00:00.000Z").
// Objects compare member-wise with the same rules (a missing member equals null, so a null
// equals an object whose members are all null); arrays element-wise.
bool values_equal(const nlohmann::json& a, const nlohmann::json& b);

// Stable digest of a mapped record (key order independent: nlohmann::json objects are sorted).
// Values that values_equal() calls equal may hash differently (42 vs "42").
std::string values_hash(const nlohmann::json& values);

// Numeric text ("42", "-3.5", "1e3", "+7", ".5"; no surrounding spaces, no hex, inf or nan) as
// a JSON number: an integer when there is no fraction or exponent and it fits 64 bits, else a
// double. nullopt when the text is not a number or out of double range.
std::optional<nlohmann::json> parse_number_text(std::string_view text);

// The value as a JSON number: numbers as they are, numeric text parsed; nullopt otherwise
// (booleans are not numbers).
std::optional<nlohmann::json> numeric_value(const nlohmann::json& value);

// Orders two JSON numbers; exact for 64-bit integers, unordered when either is NaN.
std::partial_ordering compare_numbers(const nlohmann::json& a, const nlohmann::json& b);

// A value as text for messages and comparisons: strings as-is, null as "", everything else
// as compact JSON (invalid UTF-8 replaced instead of throwing).
std::string value_text(const nlohmann::json& value);

}  // namespace synctool::engine
