#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "report/text.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <optional>

namespace synctool::cli {

int cmd_runs(Context& ctx, const std::string& name, std::size_t limit) {
  std::vector<std::string> names;
  try {
    names = name.empty() ? ctx.all_sync_names() : std::vector<std::string>{name};
    if (!name.empty()) ctx.load_sync(name);  // an unknown name is an error, not an empty list
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  // Each sync's runs come in run order (the store's); syncs are merged by start time, never
  // reordering one sync's runs, so a clock that jumped cannot shuffle a history.
  std::vector<std::vector<nlohmann::json>> per_sync;
  int code = engine::exit_code::ok;
  for (const auto& n : names) {
    try {
      if (auto store = ctx.open_state_read_only(n)) per_sync.push_back(store->runs(limit));
    } catch (const state::StateError& e) {
      ctx.out().error(e.what());
      code = engine::exit_code::local_failure;
    } catch (const std::exception& e) {
      ctx.out().error(n + ": " + e.what());
    }
  }
  std::vector<nlohmann::json> runs;
  std::vector<std::size_t> next(per_sync.size(), 0);
  for (;;) {
    std::optional<std::size_t> pick;
    for (std::size_t i = 0; i < per_sync.size(); ++i) {
      if (next[i] >= per_sync[i].size()) continue;
      if (!pick || per_sync[i][next[i]].value("started_at", "") > per_sync[*pick][next[*pick]].value("started_at", ""))
        pick = i;
    }
    if (!pick || (limit && runs.size() >= limit)) break;
    runs.push_back(std::move(per_sync[*pick][next[*pick]++]));
  }
  if (ctx.out().json()) {
    ctx.out().print_json({{"runs", runs}});
    return code;
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
  return code;
}

}  // namespace synctool::cli
