// Dotted paths into JSON objects: "merge_fields.FNAME" addresses {"merge_fields":{"FNAME":...}}.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace synctool::util {

// The value at `path`, or nullptr when any step is missing or not an object.
const nlohmann::json* json_get_path(const nlohmann::json& root, std::string_view path);
// Sets the value at `path`, creating intermediate objects.
void json_set_path(nlohmann::json& root, std::string_view path, nlohmann::json value);
// A value as plain text: strings as-is, null as "", numbers and booleans in JSON form.
std::string json_to_text(const nlohmann::json& value);

}  // namespace synctool::util
