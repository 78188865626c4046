// `synctool runs` of several syncs: merged by start time, each sync's own order (its run
// sequence) kept even where its clock jumped.
#include "cli/commands.hpp"

#include <catch2/catch.hpp>

using synctool::cli::merge_runs;

namespace {

nlohmann::json run(const std::string& sync, int sequence, const std::string& started_at) {
  return {{"sync", sync}, {"sequence", sequence}, {"started_at", started_at}};
}

std::vector<std::string> order(const std::vector<nlohmann::json>& runs) {
  std::vector<std::string> out;
  for (const auto& r : runs) out.push_back(r.at("sync").get<std::string>() + std::to_string(r.at("sequence").get<int>()));
  return out;
}

}  // namespace

TEST_CASE("runs of several syncs merge by start time and keep each sync's sequence order", "[cli]") {
  // a's clock was a day ahead during its first run: by wall time a1 would look newest.
  std::vector<nlohmann::json> a = {run("a", 3, "2026-03-01T10:00:00Z"), run("a", 2, "2026-03-01T09:00:00Z"),
                                   run("a", 1, "2026-03-02T08:00:00Z")};
  std::vector<nlohmann::json> b = {run("b", 2, "2026-03-01T09:30:00Z"), run("b", 1, "2026-03-01T08:30:00Z")};
  CHECK(order(merge_runs({a, b}, 0)) == std::vector<std::string>{"a3", "b2", "a2", "a1", "b1"});
  CHECK(order(merge_runs({a, b}, 2)) == std::vector<std::string>{"a3", "b2"});
  CHECK(order(merge_runs({a}, 0)) == std::vector<std::string>{"a3", "a2", "a1"});  // one sync: as kept
  CHECK(merge_runs({}, 5).empty());
  CHECK(order(merge_runs({{}, b}, 0)) == std::vector<std::string>{"b2", "b1"});
}
