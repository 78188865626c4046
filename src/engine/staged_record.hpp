// How records are kept in a run's staging tables (state/staging.hpp), keyed by match key.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace synctool::engine {

struct StagedRecord {
  enum class State {
    live,      // a record to sync
    deleted,   // a tombstone from the source
    excluded,  // read, but the filter leaves it out
    rejected,  // cannot be written (schema violation, unreadable record); `reason` says why
  };
  State state = State::live;
  std::string id;                       // native id
  std::string origin;                   // where it was read ("line 17"), "" when the id says it
  nlohmann::json values;                // mapped values (source) / projected values (destination)
  std::string modified;                 // modified_at
  std::string reason;                   // rejected: why
  // Every record sharing this key (>= 2 when duplicated): native ids and, beside them, where
  // each was read (ids repeat where a connector's ids are not unique, e.g. CSV key columns).
  std::vector<std::string> duplicate_ids;
  std::vector<std::string> duplicate_origins;

  bool duplicated() const { return duplicate_ids.size() > 1; }
  // "'id'" or "line 17": how a message names the i-th duplicate.
  std::string duplicate_label(std::size_t i) const;
  nlohmann::json to_json() const;
  static StagedRecord from_json(const nlohmann::json& j);
};

}  // namespace synctool::engine
