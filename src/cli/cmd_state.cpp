#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "state/lock.hpp"
#include "util/clock.hpp"

#include <fmt/format.h>

namespace synctool::cli {

int cmd_state_show(Context& ctx, const std::string& name) {
  try {
    ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  auto store = ctx.open_state_read_only(name);
  nlohmann::json j = {{"sync", name}, {"state_dir", ctx.state_dir(name).string()}};
  if (!store) {
    j["exists"] = false;
    if (ctx.out().json())
      ctx.out().print_json(j);
    else
      ctx.out().print(name + ": no state yet (never run)\n");
    return engine::exit_code::ok;
  }
  j["exists"] = true;
  nlohmann::json meta = nlohmann::json::object();
  for (const char* key : {state::meta::format_version, state::meta::identity_hash, state::meta::source_cursor,
                          state::meta::destination_cursor, state::meta::last_full_sync, state::meta::last_run,
                          state::meta::baseline_done, state::meta::paused}) {
    if (auto v = store->get_meta(key)) meta[key] = *v;
  }
  j["meta"] = meta;
  j["links"] = store->link_count();
  j["pending"] = store->pending_count();
  auto failed = nlohmann::json::array();
  store->for_each_failed([&](const std::string& key, const state::FailedRow& row) {
    failed.push_back({{"key", key},
                      {"source_id", row.source_id},
                      {"kind", row.kind},
                      {"error", row.error},
                      {"attempts", row.attempts},
                      {"first_seen", util::format_iso8601(row.first_seen_ms)},
                      {"last_seen", util::format_iso8601(row.last_seen_ms)}});
    if (!row.delete_id.empty()) failed.back()["delete_id"] = row.delete_id;
    return true;
  });
  j["failed"] = failed;
  if (ctx.out().json()) {
    ctx.out().print_json(j);
    return engine::exit_code::ok;
  }
  std::string out = fmt::format("{}  ({})\n", name, ctx.state_dir(name).string());
  for (const auto& item : meta.items()) out += fmt::format("  {:<16} {}\n", item.key(), item.value().get<std::string>());
  out += fmt::format("  {:<16} {}\n  {:<16} {}\n  {:<16} {}\n", "links", store->link_count(), "pending creates",
                     store->pending_count(), "failed rows", failed.size());
  for (const auto& f : failed)
    out += fmt::format("    {} ({}, {} attempt(s)): {}\n", f["key"].get<std::string>(), f["kind"].get<std::string>(),
                       f["attempts"].get<int>(), f["error"].get<std::string>());
  ctx.out().print(out);
  return engine::exit_code::ok;
}

int cmd_state_reset(Context& ctx, const std::string& name) {
  try {
    ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  auto dir = ctx.state_dir(name);
  auto lock = state::SyncLock::try_acquire(dir);
  if (!lock) {
    ctx.out().error("another run of '" + name + "' holds the lock " + (dir / "lock").string());
    return engine::exit_code::locked;
  }
  auto store = ctx.open_state(name);
  auto links = store->link_count();
  auto txn = store->begin();
  txn->clear_sync_state();
  txn->commit();
  if (ctx.out().json())
    ctx.out().print_json({{"sync", name}, {"reset", true}, {"links_forgotten", links}});
  else
    ctx.out().print(fmt::format("{}: state reset ({} links forgotten); the next run is a baseline\n", name, links));
  return engine::exit_code::ok;
}

}  // namespace synctool::cli
