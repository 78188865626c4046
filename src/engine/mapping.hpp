// Field mapping (source record -> destination-shaped record), transforms, match keys.
#pragma once

#include "connectors/row.hpp"
#include "spec/spec.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace synctool::engine {

class RecordMapper {
 public:
  explicit RecordMapper(const spec::SyncSpec& sync);

  // Applies field_map with its transforms; the result uses destination paths (nested objects
  // for dotted paths). A missing source field maps to null (then `default` may fill it).
  nlohmann::json map(const nlohmann::json& source_fields) const;
  // The same from a record's row (Record::row), without building its fields first.
  nlohmann::json map(const connectors::Row& row) const;

  // The normalized match key of a source record / a destination record, or nullopt when the
  // match field is missing, null or empty after normalization, or holds text that cannot be a
  // key (not valid UTF-8, a NUL character: then `problem`, when given, says so).
  std::optional<std::string> source_key(const nlohmann::json& source_fields, std::string* problem = nullptr) const;
  // The same key read from a record's row (Record::row), without building its fields.
  std::optional<std::string> source_key(const connectors::Row& row, std::string* problem = nullptr) const;
  std::optional<std::string> destination_key(const nlohmann::json& destination_fields) const;
  // [match] normalize applied to a value's text: trim, lowercase (full Unicode case folding),
  // uppercase, nfc.
  std::string normalize_key(const nlohmann::json& value) const;

  // The destination record restricted to the mapped destination paths (same shape as map()),
  // for comparing what is there with what would be written.
  nlohmann::json project_destination(const nlohmann::json& destination_fields) const;

  // Mapped destination paths, in field_map order.
  const std::vector<std::string>& destination_paths() const { return destination_paths_; }
  // Source fields to read: source.fields if given, else every source path the map, match and
  // filter use (empty = connector reads all).
  std::vector<std::string> source_read_fields(const std::vector<std::string>& filter_fields) const;

 private:
  std::optional<std::string> key_of(const nlohmann::json& fields, const std::string& path, std::string* problem) const;
  std::optional<std::string> key_from_text(std::string text, const std::string& path, std::string* problem) const;
  std::string normalize_text(std::string key) const;

  const spec::SyncSpec& sync_;
  std::vector<std::string> destination_paths_;
  bool dotted_sources_ = false;  // a field_map source path steps into a field
};

// Applies one transform to a value.
nlohmann::json apply_transform(const spec::Transform& transform, const nlohmann::json& value);

}  // namespace synctool::engine
