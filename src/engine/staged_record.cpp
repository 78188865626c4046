#include "engine/staged_record.hpp"

namespace synctool::engine {

std::string StagedRecord::duplicate_label(std::size_t i) const {
  const std::string& where = i < duplicate_origins.size() ? duplicate_origins[i] : std::string();
  return where.empty() ? "'" + duplicate_ids[i] + "'" : where;
}

// Short member names: a baseline stages every source record, so the bytes add up.
nlohmann::json StagedRecord::to_json() const {
  nlohmann::json j = {{"i", id}, {"s", static_cast<int>(state)}};
  if (!origin.empty()) j["o"] = origin;
  if (!values.is_null()) j["v"] = values;
  if (!modified.empty()) j["m"] = modified;
  if (!reason.empty()) j["r"] = reason;
  if (!duplicate_ids.empty()) j["d"] = duplicate_ids;
  if (!duplicate_origins.empty()) j["do"] = duplicate_origins;
  return j;
}

StagedRecord StagedRecord::from_json(const nlohmann::json& j) {
  StagedRecord r;
  r.id = j.value("i", "");
  r.state = static_cast<State>(j.value("s", 0));
  r.origin = j.value("o", "");
  if (auto it = j.find("v"); it != j.end()) r.values = *it;
  r.modified = j.value("m", "");
  r.reason = j.value("r", "");
  if (auto it = j.find("d"); it != j.end()) r.duplicate_ids = it->get<std::vector<std::string>>();
  if (auto it = j.find("do"); it != j.end()) r.duplicate_origins = it->get<std::vector<std::string>>();
  return r;
}

}  // namespace synctool::engine
