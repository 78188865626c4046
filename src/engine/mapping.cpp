#include "engine/mapping.hpp"

#include "engine/values.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"
#include "util/unicode.hpp"

#include <algorithm>

namespace synctool::engine {

namespace {

const nlohmann::json kNull;

const nlohmann::json& value_at(const nlohmann::json& fields, const std::string& path) {
  if (path.empty()) return kNull;
  const nlohmann::json* v = util::json_get_path(fields, path);
  return v ? *v : kNull;
}

// Connectors read whole top-level columns; a nested path needs its top-level field.
std::string top_level(const std::string& path) { return path.substr(0, path.find('.')); }

void add_unique(std::vector<std::string>& list, const std::string& name) {
  if (!name.empty() && std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
}

}  // namespace

nlohmann::json apply_transform(const spec::Transform& transform, const nlohmann::json& value) {
  using Kind = spec::Transform::Kind;
  switch (transform.kind) {
    case Kind::trim:
      return value.is_string() ? nlohmann::json(util::trim(value.get_ref<const std::string&>())) : value;
    case Kind::lowercase:
    case Kind::uppercase:
    case Kind::nfc: {
      if (!value.is_string()) return value;
      const auto& text = value.get_ref<const std::string&>();
      auto mapped = transform.kind == Kind::lowercase   ? util::unicode_lower(text)
                    : transform.kind == Kind::uppercase ? util::unicode_upper(text)
                                                        : util::nfc(text);
      // Invalid UTF-8 passes through unchanged; the record is rejected for it elsewhere.
      return mapped ? nlohmann::json(std::move(*mapped)) : value;
    }
    case Kind::default_value: {
      // Blank text counts as missing: a CSV cell of spaces is not a value worth keeping.
      bool blank = value.is_null() || (value.is_string() && util::trim(value.get_ref<const std::string&>()).empty());
      return blank ? transform.value : value;
    }
    case Kind::constant: return transform.value;
  }
  return value;
}

RecordMapper::RecordMapper(const spec::SyncSpec& sync) : sync_(sync) {
  for (const auto& m : sync_.field_map) add_unique(destination_paths_, m.destination);
}

nlohmann::json RecordMapper::map(const nlohmann::json& source_fields) const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& m : sync_.field_map) {
    nlohmann::json value = value_at(source_fields, m.source);
    for (const auto& t : m.transforms) value = apply_transform(t, value);
    util::json_set_path(out, m.destination, std::move(value));
  }
  return out;
}

std::string RecordMapper::normalize_key(const nlohmann::json& value) const {
  std::string key = value_text(value);
  for (const auto& step : sync_.match.normalize) {
    if (step == "trim")
      key = util::trim(key);
    else if (step == "lowercase")
      key = util::to_lower(key);
    else if (step == "uppercase")
      key = util::to_upper(key);
  }
  return key;
}

std::optional<std::string> RecordMapper::source_key(const nlohmann::json& source_fields) const {
  const auto& value = value_at(source_fields, sync_.match.source);
  if (value.is_null()) return std::nullopt;
  std::string key = normalize_key(value);
  // A blank key identifies nothing; linking on it would merge unrelated records.
  if (util::trim(key).empty()) return std::nullopt;
  return key;
}

std::optional<std::string> RecordMapper::destination_key(const nlohmann::json& destination_fields) const {
  const auto& value = value_at(destination_fields, sync_.match.destination);
  if (value.is_null()) return std::nullopt;
  std::string key = normalize_key(value);
  if (util::trim(key).empty()) return std::nullopt;
  return key;
}

nlohmann::json RecordMapper::project_destination(const nlohmann::json& destination_fields) const {
  nlohmann::json out = nlohmann::json::object();
  // Same order as map() so overlapping paths ("a" then "a.b") end up in the same shape.
  for (const auto& m : sync_.field_map)
    util::json_set_path(out, m.destination, value_at(destination_fields, m.destination));
  return out;
}

std::vector<std::string> RecordMapper::source_read_fields(const std::vector<std::string>& filter_fields) const {
  const auto& match_source = sync_.match.source;
  if (!sync_.source.fields.empty()) {
    std::vector<std::string> fields = sync_.source.fields;
    auto has = [&](const std::string& name) { return std::find(fields.begin(), fields.end(), name) != fields.end(); };
    if (!match_source.empty() && !has(match_source) && !has(top_level(match_source)))
      fields.push_back(top_level(match_source));
    return fields;
  }
  std::vector<std::string> fields;
  for (const auto& m : sync_.field_map)
    if (!m.source.empty()) add_unique(fields, top_level(m.source));
  if (!match_source.empty()) add_unique(fields, top_level(match_source));
  for (const auto& f : filter_fields) add_unique(fields, top_level(f));
  return fields;
}

}  // namespace synctool::engine
