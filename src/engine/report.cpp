#include "engine/report.hpp"

namespace synctool::engine {

const char* to_string(RunKind kind) {
  switch (kind) {
    case RunKind::baseline: return "baseline";
    case RunKind::incremental: return "incremental";
    case RunKind::full: return "full";
  }
  return "?";
}

namespace {

nlohmann::json counts_json(const SideCounts& c) {
  return {{"read", c.read},         {"created", c.created},   {"updated", c.updated}, {"deleted", c.deleted},
          {"unchanged", c.unchanged}, {"rejected", c.rejected}, {"failed", c.failed}};
}

nlohmann::json problems_json(const std::vector<RowProblem>& problems) {
  auto list = nlohmann::json::array();
  for (const auto& p : problems) list.push_back({{"key", p.key}, {"source_id", p.source_id}, {"reason", p.reason}});
  return list;
}

}  // namespace

nlohmann::json RunReport::to_json() const {
  nlohmann::json j = {{"sync", sync},
                      {"kind", to_string(kind)},
                      {"dry_run", dry_run},
                      {"direction", direction},
                      {"mode", mode},
                      {"started_at", started_at},
                      {"duration_s", duration_s},
                      {"source", counts_json(source)},
                      {"destination", counts_json(destination)},
                      {"rejected", problems_json(rejected)},
                      {"failed", problems_json(failed)},
                      {"exit_code", exit_code}};
  if (!error.empty()) j["error"] = error;
  return j;
}

}  // namespace synctool::engine
