// `synctool runs [SYNC]`: the run history, newest first. One sync's runs come in the order
// its state keeps them (run sequence), whatever its clock said; several syncs' lists are
// merged by start time, each keeping its own order. Only the sync's name is needed: a broken
// spec does not hide its history.
#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "report/text.hpp"

#include <fmt/format.h>

#include <optional>

namespace synctool::cli {

std::vector<nlohmann::json> merge_runs(std::vector<std::vector<nlohmann::json>> lists, std::size_t limit) {
  std::vector<nlohmann::json> merged;
  std::vector<std::size_t> next(lists.size(), 0);
  for (;;) {
    if (limit && merged.size() >= limit) break;
    std::optional<std::size_t> pick;
    for (std::size_t i = 0; i < lists.size(); ++i) {
      if (next[i] >= lists[i].size()) continue;
      if (!pick || lists[i][next[i]].value("started_at", "") > lists[*pick][next[*pick]].value("started_at", ""))
        pick = i;
    }
    if (!pick) break;
    merged.push_back(std::move(lists[*pick][next[*pick]++]));
  }
  return merged;
}

int cmd_runs(Context& ctx, const std::string& name, std::size_t limit) {
  std::vector<std::string> names;
  try {
    if (name.empty()) {
      names = ctx.all_sync_names();
    } else {
      spec::sync_file(ctx.project(), name);  // an unknown name is an error, not an empty list
      names = {name};
    }
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  int code = engine::exit_code::ok;
  auto errors = nlohmann::json::array();
  std::vector<std::vector<nlohmann::json>> lists;
  for (const auto& n : names) {
    try {
      if (auto store = ctx.open_state_read_only(n)) lists.push_back(store->runs(limit));
    } catch (const std::exception& e) {
      code = engine::exit_code::local_failure;
      std::string message = n + ": state unreadable: " + e.what();
      errors.push_back(message);
      ctx.out().error(message);
    }
  }
  auto runs = merge_runs(std::move(lists), limit);
  if (ctx.out().json()) {
    nlohmann::json j = {{"runs", runs}, {"exit_code", code}};
    if (!errors.empty()) j["errors"] = errors;
    ctx.out().print_json(j);
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
