// A disk-backed sorted scratch table for one run: the planner stages every source record
// here by match key so that duplicates are found before anything is written, and planning is
// a merge of two sorted streams (staged records and links) with memory use independent of
// the object's size. Lives in a temporary LMDB environment removed when destroyed.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::state {

class Staging {
 public:
  virtual ~Staging() = default;
  // Stores the bytes `value` under `key`. Returns the previous value if the key was already
  // present (the new value replaces it).
  virtual std::optional<std::string> put(const std::string& key, std::string_view value) = 0;
  virtual std::optional<std::string> get(const std::string& key) const = 0;
  virtual bool contains(const std::string& key) const = 0;
  virtual std::size_t size() const = 0;
  // Ascending key order; return false to stop. The value is valid during the call only. Keys
  // longer than 400 bytes are stored under a hashed form (LMDB's key limit), so among keys
  // sharing their first 400 bytes the order is by hash; against every other key the order is
  // exact. Before seal() the disk table iterates a snapshot taken at the call.
  virtual void for_each(const std::function<bool(const std::string&, std::string_view)>& fn) const = 0;
  // Ends the write phase (reads work before and after it). put() after seal() throws
  // std::logic_error.
  virtual void seal() = 0;
};

// A staging table in a fresh temporary folder "staging-XXXXXX" under `parent` (created if
// needed), removed with all its data when the table is destroyed. Puts are committed in
// batches without fsync: it is scratch data. Keys must not be empty (std::invalid_argument).
std::unique_ptr<Staging> make_disk_staging(const std::filesystem::path& parent);
std::unique_ptr<Staging> make_memory_staging();

}  // namespace synctool::state
