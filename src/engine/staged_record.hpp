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
    rejected,  // cannot be written (schema violation); `reason` says why
  };
  State state = State::live;
  std::string id;                       // native id
  nlohmann::json values;                // mapped values (source) / projected values (destination)
  std::string modified;                 // modified_at
  std::string reason;                   // rejected: why
  std::vector<std::string> duplicate_ids;  // every native id sharing this key (>= 2 when duplicated)

  bool duplicated() const { return duplicate_ids.size() > 1; }
  nlohmann::json to_json() const;
  static StagedRecord from_json(const nlohmann::json& j);
};

}  // namespace synctool::engine
