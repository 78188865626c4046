// `synctool conflicts [SYNC]` lists the fields a bidirectional sync with strategy = "manual"
// queued because both sides changed them differently; `synctool conflicts resolve SYNC KEY
// --take source|destination` (or `--set field=value`) chooses the value, which the next run
// writes to both sides.
#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "state/lmdb_store.hpp"
#include "state/lock.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace synctool::cli {

namespace {

nlohmann::json conflict_json(const std::string& sync, const std::string& key, const state::Conflict& conflict) {
  auto fields = nlohmann::json::array();
  for (const auto& item : conflict.source_values.items()) {
    const std::string& field = item.key();
    nlohmann::json entry = {{"field", field},
                            {"source", item.value()},
                            {"destination", conflict.destination_values.value(field, nlohmann::json())},
                            {"base", conflict.base_values.value(field, nlohmann::json())}};
    if (conflict.resolution.is_object() && conflict.resolution.contains(field))
      entry["resolution"] = conflict.resolution[field];
    fields.push_back(std::move(entry));
  }
  return {{"sync", sync},
          {"key", key},
          {"seen_at", util::format_iso8601(conflict.seen_ms)},
          {"resolved", !conflict.resolution.is_null()},
          {"fields", fields}};
}

std::string shown(const nlohmann::json& value) {
  if (value.is_null()) return "(empty)";
  return util::json_dump(value);
}

}  // namespace

int cmd_conflicts_list(Context& ctx, const std::string& name) {
  std::vector<std::string> names;
  try {
    names = name.empty() ? ctx.all_sync_names() : std::vector<std::string>{name};
    if (!name.empty()) ctx.load_sync(name);  // a typo gets its did-you-mean
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  auto list = nlohmann::json::array();
  for (const auto& sync : names) {
    auto store = ctx.open_state_read_only(sync);
    if (!store) continue;
    store->for_each_conflict([&](const std::string& key, const state::Conflict& conflict) {
      list.push_back(conflict_json(sync, key, conflict));
      return true;
    });
  }
  if (ctx.out().json()) {
    ctx.out().print_json({{"conflicts", list}});
    return engine::exit_code::ok;
  }
  if (list.empty()) {
    ctx.out().print(name.empty() ? "no conflicts waiting\n" : name + ": no conflicts waiting\n");
    return engine::exit_code::ok;
  }
  std::string out;
  for (const auto& c : list) {
    out += fmt::format("{}  {}  (since {}{})\n", c["sync"].get<std::string>(), c["key"].get<std::string>(),
                       c["seen_at"].get<std::string>(), c["resolved"].get<bool>() ? ", resolved: the next run writes it" : "");
    for (const auto& f : c["fields"])
      out += fmt::format("    {}: source {}, destination {} (was {}){}\n", f["field"].get<std::string>(),
                         shown(f["source"]), shown(f["destination"]), shown(f["base"]),
                         f.contains("resolution") ? " -> " + shown(f["resolution"]) : "");
  }
  out += fmt::format("{} record(s) waiting; resolve one with: synctool conflicts resolve SYNC KEY --take source|destination\n",
                     list.size());
  ctx.out().print(out);
  return engine::exit_code::ok;
}

int cmd_conflicts_resolve(Context& ctx, const std::string& name, const std::string& key, const std::string& take,
                          const std::vector<std::string>& sets) {
  if (take.empty() == sets.empty())
    return usage_error(ctx.out(), "give either --take source|destination or one or more --set field=value");
  if (!take.empty() && take != "source" && take != "destination")
    return usage_error(ctx.out(), "--take must be 'source' or 'destination', not '" + take + "'");
  try {
    ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  const auto dir = ctx.state_dir(name);
  auto lock = state::SyncLock::try_acquire(dir);
  if (!lock) return command_error(ctx.out(), engine::exit_code::locked, "a run of '" + name + "' holds the lock; try again when it ends");
  std::error_code ec;
  // One LMDB environment per process: the state is opened once, for writing, if it exists.
  auto store = std::filesystem::exists(dir / "data.mdb", ec) ? ctx.open_state(name) : nullptr;
  std::optional<state::Conflict> found;
  if (store)
    store->for_each_conflict([&](const std::string& k, const state::Conflict& conflict) {
      if (k != key) return true;
      found = conflict;
      return false;
    });
  if (!found)
    return command_error(ctx.out(), engine::exit_code::usage,
                         "'" + name + "' has no conflict waiting for key '" + key + "' (synctool conflicts " + name +
                             " lists them)");
  nlohmann::json resolution = nlohmann::json::object();
  if (!take.empty()) {
    resolution = take == "source" ? found->source_values : found->destination_values;
  } else {
    for (const auto& assignment : sets) {
      auto eq = assignment.find('=');
      if (eq == std::string::npos || eq == 0)
        return usage_error(ctx.out(), "--set takes field=value, got '" + assignment + "'");
      const std::string field = assignment.substr(0, eq);
      if (!found->source_values.contains(field))
        return usage_error(ctx.out(), "'" + field + "' is not a field of this conflict (it has: " + [&] {
          std::string list;
          for (const auto& item : found->source_values.items()) list += (list.empty() ? "" : ", ") + item.key();
          return list;
        }() + ")");
      // JSON where the text is JSON (42, true, ["a"]), else the text itself.
      auto value = nlohmann::json::parse(assignment.substr(eq + 1), nullptr, false);
      resolution[field] = value.is_discarded() ? nlohmann::json(assignment.substr(eq + 1)) : value;
    }
    // A field not named keeps the value both sides agreed on before.
    for (const auto& item : found->base_values.items())
      if (!resolution.contains(item.key())) resolution[item.key()] = item.value();
  }
  found->resolution = resolution;
  auto txn = store->begin();
  txn->put_conflict(key, *found);
  txn->commit();
  if (ctx.out().json()) {
    ctx.out().print_json({{"sync", name}, {"key", key}, {"resolution", resolution}});
  } else {
    std::string out = fmt::format("{}  {}: resolved; the next run writes to both sides:\n", name, key);
    for (const auto& item : resolution.items()) out += fmt::format("    {}: {}\n", item.key(), shown(item.value()));
    ctx.out().print(out);
  }
  return engine::exit_code::ok;
}

}  // namespace synctool::cli
