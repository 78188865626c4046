#include "engine/staged_record.hpp"

namespace synctool::engine {

// Short member names: a baseline stages every source record, so the bytes add up.
nlohmann::json StagedRecord::to_json() const {
  nlohmann::json j = {{"i", id}, {"s", static_cast<int>(state)}};
  if (!values.is_null()) j["v"] = values;
  if (!modified.empty()) j["m"] = modified;
  if (!reason.empty()) j["r"] = reason;
  if (!duplicate_ids.empty()) j["d"] = duplicate_ids;
  return j;
}

StagedRecord StagedRecord::from_json(const nlohmann::json& j) {
  StagedRecord r;
  r.id = j.value("i", "");
  r.state = static_cast<State>(j.value("s", 0));
  if (auto it = j.find("v"); it != j.end()) r.values = *it;
  r.modified = j.value("m", "");
  r.reason = j.value("r", "");
  if (auto it = j.find("d"); it != j.end()) r.duplicate_ids = it->get<std::vector<std::string>>();
  return r;
}

}  // namespace synctool::engine
