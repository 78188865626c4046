// Comparing field values across systems that store them differently (a CSV cell "42", a
// SQLite integer 42, a NULL and an empty string).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace synctool::engine {

// Equal as far as a sync is concerned: same JSON; or null vs ""; or numbers vs numeric text
// with the same numeric value; or booleans vs "true"/"false". Objects compare member-wise
// with the same rules (a missing member equals null).
bool values_equal(const nlohmann::json& a, const nlohmann::json& b);

// Stable digest of a mapped record (key order independent: nlohmann::json objects are sorted).
std::string values_hash(const nlohmann::json& values);

}  // namespace synctool::engine
