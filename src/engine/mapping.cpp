#include "engine/mapping.hpp"

#include "engine/values.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"
#include "util/unicode.hpp"

#include <algorithm>
#include <cctype>

namespace synctool::engine {

namespace {

// The value at a dotted path, null when absent. A step into text that holds a JSON object (a
// SQL or CSV column written from a nested path such as "address.city") reads inside it, so
// what was written nested reads back the same.
nlohmann::json value_at(const nlohmann::json& fields, std::string_view path) {
  if (path.empty()) return nullptr;
  if (const nlohmann::json* v = util::json_get_path(fields, path)) return *v;
  const nlohmann::json* node = &fields;
  nlohmann::json parsed;
  while (true) {
    if (node->is_string()) {
      const auto& text = node->get_ref<const std::string&>();
      auto start = text.find_first_not_of(" \t\r\n");
      if (start == std::string::npos || text[start] != '{') return nullptr;
      nlohmann::json inner = nlohmann::json::parse(text, nullptr, false);
      if (inner.is_discarded()) return nullptr;
      parsed = std::move(inner);
      node = &parsed;
    }
    if (!node->is_object()) return nullptr;
    auto dot = path.find('.');
    auto it = node->find(path.substr(0, dot));
    if (it == node->end()) return nullptr;
    if (dot == std::string_view::npos) return nlohmann::json(*it);
    nlohmann::json next = *it;  // `parsed` is about to be replaced: hold the step by value
    parsed = std::move(next);
    node = &parsed;
    path.remove_prefix(dot + 1);
  }
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
  for (const auto& m : sync_.field_map) {
    add_unique(destination_paths_, m.destination);
    if (m.source.find('.') != std::string::npos) dotted_sources_ = true;
  }
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

nlohmann::json RecordMapper::map(const connectors::Row& row) const {
  // A path into a cell (perhaps into JSON text it holds) reads as value_at() does.
  if (dotted_sources_) return map(row.to_json());
  nlohmann::json out = nlohmann::json::object();
  for (const auto& m : sync_.field_map) {
    nlohmann::json value;
    if (auto cell = m.source.empty() ? std::nullopt : row.find(m.source)) value = row.value(*cell);
    for (const auto& t : m.transforms) value = apply_transform(t, value);
    util::json_set_path(out, m.destination, std::move(value));
  }
  return out;
}

std::string RecordMapper::normalize_key(const nlohmann::json& value) const { return normalize_text(value_text(value)); }

// Runs once per record read: the key is changed in place where a step allows it.
std::string RecordMapper::normalize_text(std::string key) const {
  for (const auto& step : sync_.match.normalize) {
    std::optional<std::string> next;
    if (step == "trim") {
      auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
      std::size_t end = key.size();
      while (end > 0 && is_space(key[end - 1])) --end;
      std::size_t begin = 0;
      while (begin < end && is_space(key[begin])) ++begin;
      key.erase(end);
      key.erase(0, begin);
    } else if (step == "lowercase") {
      next = util::fold_case(key);  // full case folding: "ÅSA" and "åsa" are one key
    } else if (step == "uppercase") {
      next = util::unicode_upper(key);
    } else if (step == "nfc") {
      next = util::nfc(key);
    }
    // Text that is not UTF-8 has no Unicode form; key_of() refuses such keys anyway.
    if (next) key = std::move(*next);
  }
  return key;
}

std::optional<std::string> RecordMapper::key_of(const nlohmann::json& fields, const std::string& path,
                                                std::string* problem) const {
  // The field itself where it is there (no copy); else read inside a JSON text (value_at).
  const nlohmann::json* value = util::json_get_path(fields, path);
  nlohmann::json nested;
  if (!value) {
    nested = value_at(fields, path);
    value = &nested;
  }
  if (value->is_null()) return std::nullopt;
  return key_from_text(value->is_string() ? value->get_ref<const std::string&>() : value_text(*value), path, problem);
}

std::optional<std::string> RecordMapper::key_from_text(std::string text, const std::string& path,
                                                       std::string* problem) const {
  if (auto bad = util::first_invalid_utf8(text)) {
    if (problem) *problem = "the match field '" + path + "' is not valid UTF-8 (at byte " + std::to_string(*bad) + ")";
    return std::nullopt;
  }
  // Failed rows without a key are kept under "\0" + their id (state/store.hpp).
  if (text.find('\0') != std::string::npos) {
    if (problem) *problem = "the match field '" + path + "' contains a NUL character";
    return std::nullopt;
  }
  std::string key = normalize_text(std::move(text));
  // A blank key identifies nothing; linking on it would merge unrelated records.
  if (std::all_of(key.begin(), key.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }))
    return std::nullopt;
  return key;
}

std::optional<std::string> RecordMapper::source_key(const nlohmann::json& source_fields, std::string* problem) const {
  return key_of(source_fields, sync_.match.source, problem);
}

std::optional<std::string> RecordMapper::source_key(const connectors::Row& row, std::string* problem) const {
  const auto& path = sync_.match.source;
  const auto cell = path.find('.') == std::string::npos ? row.find(path) : std::nullopt;
  // A dotted path (maybe into a cell's JSON text) or a field the row lacks: the rules for fields.
  if (!cell || row.kind(*cell) == connectors::Row::Kind::absent) return source_key(row.to_json(), problem);
  switch (row.kind(*cell)) {
    case connectors::Row::Kind::null: return std::nullopt;
    case connectors::Row::Kind::text: return key_from_text(std::string(row.text(*cell)), path, problem);
    default: return key_from_text(value_text(row.value(*cell)), path, problem);
  }
}

std::optional<std::string> RecordMapper::destination_key(const nlohmann::json& destination_fields) const {
  return key_of(destination_fields, sync_.match.destination, nullptr);
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
