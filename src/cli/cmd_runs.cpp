#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "report/text.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace synctool::cli {

int cmd_runs(Context& ctx, const std::string& name, std::size_t limit) {
  std::vector<std::string> names;
  try {
    names = name.empty() ? ctx.all_sync_names() : std::vector<std::string>{name};
    if (!name.empty()) ctx.load_sync(name);  // an unknown name is an error, not an empty list
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  std::vector<nlohmann::json> runs;
  for (const auto& n : names) {
    try {
      if (auto store = ctx.open_state_read_only(n))
        for (auto& run : store->runs(limit)) runs.push_back(std::move(run));
    } catch (const std::exception& e) {
      ctx.out().error(n + ": " + e.what());
    }
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return a.value("started_at", "") > b.value("started_at", "");
  });
  if (limit && runs.size() > limit) runs.resize(limit);
  if (ctx.out().json()) {
    ctx.out().print_json({{"runs", runs}});
    return engine::exit_code::ok;
  }
  std::vector<std::vector<std::string>> rows;
  auto n = [](const nlohmann::json& run, const char* side, const char* field) {
    return std::to_string(run.value(side, nlohmann::json::object()).value(field, 0));
  };
  for (const auto& r : runs) {
    rows.push_back({r.value("started_at", ""), r.value("sync", ""), std::string(r.value("kind", "")) + (r.value("dry_run", false) ? " (dry)" : ""),
                    fmt::format("{:.2f}s", r.value("duration_s", 0.0)), n(r, "source", "read"),
                    n(r, "destination", "created"), n(r, "destination", "updated"), n(r, "destination", "deleted"),
                    n(r, "destination", "unchanged"), n(r, "destination", "rejected"), n(r, "destination", "failed"),
                    std::to_string(r.value("exit_code", 0))});
  }
  ctx.out().print(report::render_table({"STARTED", "SYNC", "KIND", "TIME", "READ", "CREATED", "UPDATED", "DELETED",
                                        "UNCHANGED", "REJECTED", "FAILED", "EXIT"},
                                       rows));
  return engine::exit_code::ok;
}

}  // namespace synctool::cli
