// Dotted paths into JSON objects: "merge_fields.FNAME" addresses {"merge_fields":{"FNAME":...}}.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace synctool::util {

// The value at `path`, or nullptr when any step is missing or not an object.
const nlohmann::json* json_get_path(const nlohmann::json& root, std::string_view path);
// Sets the value at `path`, creating intermediate objects.
void json_set_path(nlohmann::json& root, std::string_view path, nlohmann::json value);
// A value as plain text: strings as-is, null as "", numbers, booleans, arrays and objects in
// their json_dump() form.
std::string json_to_text(const nlohmann::json& value);
// Compact JSON text (invalid UTF-8 replaced) with every double in its shortest form.
// nlohmann's dump may write a double with more digits than it needs (547725.3799 as
// 547725.3799000001: Grisu2 round-trips but is not always shortest), and a system that reads
// numbers as decimals (a PostgreSQL numeric or jsonb, a CSV cell) keeps those digits.
std::string json_dump(const nlohmann::json& value, int indent = -1);

}  // namespace synctool::util
