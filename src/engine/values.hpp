// Comparing field values across systems that store them differently (a CSV cell "42", a
// SQLite integer 42, a NULL and an empty string).
#pragma once

#include "connectors/row.hpp"

#include <nlohmann/json.hpp>

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::engine {

// Equal as far as a sync is concerned: same JSON; or null vs "" (or []); or numbers vs numeric text
// with the same decimal value, digit for digit (decimal_text); or booleans vs "true"/"false" (any case), "1"/"0" or 1/0; or
// two ISO 8601 texts naming the same instant ("...T10:00:00Z" vs "...T10:00:00.000Z").
// Objects compare member-wise with the same rules (a missing member equals null, so a null
// equals an object whose members are all null); arrays element-wise.
bool values_equal(const nlohmann::json& a, const nlohmann::json& b);

// Stable digest of a mapped record (key order independent: nlohmann::json objects are sorted).
// Values that values_equal() calls equal may hash differently (42 vs "42").
std::string values_hash(const nlohmann::json& values);

// Digest of a source record as it was read (every field, with its JSON type, so "42" and 42
// differ), seeded with the sync's mapping_seed(): equal digests under one seed map to equal
// values, so an incremental run knows a record unchanged without mapping it. Never 0 (0 is
// "no digest" in the state).
std::uint64_t source_digest(std::uint64_t seed, const nlohmann::json& fields);
// The same digest of a record read as a row (Record::row): equal to the digest of its fields.
std::uint64_t source_digest(std::uint64_t seed, const connectors::Row& row);

// Numeric text ("42", "-3.5", "1e3", "+7", ".5"; no surrounding spaces, no hex, inf or nan) as
// a JSON number: an integer when there is no fraction or exponent and it fits 64 bits, else a
// double. nullopt when the text is not a number or out of double range.
std::optional<nlohmann::json> parse_number_text(std::string_view text);

// Numeric text as an exact value (the value model, util/decimal.hpp): a JSON integer when it
// is a whole number that fits 64 bits, a JSON double when a double holds it exactly, else its
// canonical decimal text as a JSON string ("12345678901234567.89"). nullopt when the text is
// not a number. The [schema] type `number` coerces with it.
std::optional<nlohmann::json> exact_number(std::string_view text);

// The canonical decimal text of a number or of numeric text ("7.50" -> "7.5"); nullopt for
// anything else. Numbers compare equal when these are equal.
std::optional<std::string> decimal_text(const nlohmann::json& value);

// The value as a JSON number, for ordering (filters): numbers as they are, numeric text
// parsed (a double when it is not a 64-bit integer); nullopt otherwise (booleans are not
// numbers). Never use it to decide equality: a double rounds.
std::optional<nlohmann::json> numeric_value(const nlohmann::json& value);

// Orders two JSON numbers; exact for 64-bit integers, unordered when either is NaN.
std::partial_ordering compare_numbers(const nlohmann::json& a, const nlohmann::json& b);

// A value as text for messages and comparisons: strings as-is, null as "", everything else
// as compact JSON (invalid UTF-8 replaced instead of throwing).
std::string value_text(const nlohmann::json& value);

}  // namespace synctool::engine
