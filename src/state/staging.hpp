// A disk-backed sorted scratch table for one run: the planner stages every source record
// here by match key so that duplicates are found before anything is written, and planning is
// a merge of two sorted streams (staged records and links) with memory use independent of
// the object's size. Lives in a temporary LMDB environment removed when destroyed.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace synctool::state {

class Staging {
 public:
  virtual ~Staging() = default;
  // Stores `value` under `key`. Returns the previous value if the key was already present
  // (the new value replaces it).
  virtual std::optional<nlohmann::json> put(const std::string& key, const nlohmann::json& value) = 0;
  virtual std::optional<nlohmann::json> get(const std::string& key) const = 0;
  virtual bool contains(const std::string& key) const = 0;
  virtual std::size_t size() const = 0;
  // Ascending key order; return false to stop.
  virtual void for_each(const std::function<bool(const std::string&, const nlohmann::json&)>& fn) const = 0;
  // Makes staged data readable (ends the write phase). put() after seal() is a logic error.
  virtual void seal() = 0;
};

// A staging table in a fresh temporary folder under `parent` (created if needed).
std::unique_ptr<Staging> make_disk_staging(const std::filesystem::path& parent);
std::unique_ptr<Staging> make_memory_staging();

}  // namespace synctool::state
