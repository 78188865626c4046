#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "state/lmdb_store.hpp"
#include "state/lock.hpp"
#include "util/clock.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <optional>

namespace synctool::cli {

namespace {

namespace fs = std::filesystem;

// The state folder of `name`, from synctool.toml alone: `state show` and `state reset` work
// for a sync whose own file is broken. nullopt after reporting why there is none (`code`).
std::optional<fs::path> find_state_dir(Context& ctx, const std::string& name, int& code) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    ctx.out().error("'" + name + "' is not a sync name (the name of a file in syncs/, without .toml)");
    code = engine::exit_code::usage;
    return std::nullopt;
  }
  try {
    ctx.project();
  } catch (const spec::SpecError& e) {
    code = report_spec_error(ctx.out(), e);
    ctx.out().error("cannot find the state of '" + name +
                    "': state_dir is read from synctool.toml, which has the errors above");
    return std::nullopt;
  }
  auto dir = ctx.state_dir(name);
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // Neither a state nor a sync file: a typo, reported as such (with a did-you-mean).
    try {
      spec::sync_file(ctx.project(), name);
    } catch (const spec::SpecError& e) {
      code = report_spec_error(ctx.out(), e);
      return std::nullopt;
    }
  }
  return dir;
}

int report_state_error(Output& out, nlohmann::json document, const std::string& message) {
  if (out.json()) {
    document["error"] = message;
    document["exit_code"] = engine::exit_code::local_failure;
    out.print_json(document);
  }
  out.error(message);
  return engine::exit_code::local_failure;
}

}  // namespace

int cmd_state_show(Context& ctx, const std::string& name) {
  int code = 0;
  auto dir = find_state_dir(ctx, name, code);
  if (!dir) return code;
  nlohmann::json j = {{"sync", name}, {"state_dir", dir->string()}};
  try {
    auto store = state::open_lmdb_store(*dir, true);
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
                            state::meta::baseline_done, state::meta::paused, state::meta::run_sequence}) {
      if (auto v = store->get_meta(key)) meta[key] = *v;
    }
    j["meta"] = meta;
    j["links"] = store->link_count();
    j["pending"] = store->pending_count();
    auto failed = nlohmann::json::array();
    store->for_each_failed([&](const std::string& key, const state::FailedRow& row) {
      // A reject without a match key is kept under its source id (store.hpp): it has no key
      // to show.
      const bool unkeyed = state::is_unkeyed_failure_key(key);
      const std::string source_id = unkeyed && row.source_id.empty() ? key.substr(1) : row.source_id;
      failed.push_back({{"key", unkeyed ? nlohmann::json() : nlohmann::json(key)},
                        {"source_id", source_id},
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
    std::string out = fmt::format("{}  ({})\n", name, dir->string());
    for (const auto& item : meta.items())
      out += fmt::format("  {:<16} {}\n", item.key(), item.value().get<std::string>());
    out += fmt::format("  {:<16} {}\n  {:<16} {}\n  {:<16} {}\n", "links", j["links"].get<std::size_t>(),
                       "pending creates", j["pending"].get<std::size_t>(), "failed rows", failed.size());
    for (const auto& f : failed) {
      const std::string what = f["key"].is_null()
                                   ? fmt::format("source record '{}' (no match key)", f["source_id"].get<std::string>())
                                   : f["key"].get<std::string>();
      out += fmt::format("    {}: {} ({}, {} attempt(s))\n", what, f["error"].get<std::string>(),
                         f["kind"].get<std::string>(), f["attempts"].get<int>());
    }
    ctx.out().print(out);
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return report_state_error(ctx.out(), j, e.what());
  }
}

// A healthy state forgets its links, cursors and failures and keeps its run history. A state
// that cannot be read whole (truncated, damaged) cannot be cleared entry by entry: its files
// are removed, and its run history with them.
int cmd_state_reset(Context& ctx, const std::string& name) {
  int code = 0;
  auto dir = find_state_dir(ctx, name, code);
  if (!dir) return code;
  nlohmann::json j = {{"sync", name}, {"state_dir", dir->string()}};
  try {
    std::error_code ec;
    if (!fs::exists(*dir / "data.mdb", ec)) {
      j["reset"] = false;
      j["exists"] = false;
      if (ctx.out().json())
        ctx.out().print_json(j);
      else
        ctx.out().print(name + ": no state to reset (never run); the next run is a baseline\n");
      return engine::exit_code::ok;
    }
    auto lock = state::SyncLock::try_acquire(*dir);
    if (!lock) {
      ctx.out().error("another run of '" + name + "' holds the lock " + (*dir / "lock").string());
      return engine::exit_code::locked;
    }
    // Read in a child process: whatever the damage, this one goes on to remove the files.
    auto check = state::check_lmdb_store(*dir);
    if (!check.healthy && check.problem != state::StateProblem::damaged)
      return report_state_error(ctx.out(), j, check.message);  // a full disk or a permission: not the file's fault
    auto remove_damaged = [&](const std::string& damage) {
      state::remove_lmdb_store(*dir);
      j["reset"] = true;
      j["damaged"] = damage;
      j["history_lost"] = true;
      if (ctx.out().json())
        ctx.out().print_json(j);
      else
        ctx.out().print(fmt::format(
            "{}: the state could not be read ({}).\n{}: state reset: its files were removed and the run history was "
            "lost with them; the next run is a baseline\n",
            name, damage, name));
      return engine::exit_code::ok;
    };
    if (!check.healthy) return remove_damaged(check.message);
    // Counted before, from a read-only open closed again at once (one environment per process:
    // the child opens its own). A state half-way through an upgrade reads only once a writable
    // open has finished it: its count is not known.
    std::optional<std::size_t> links;
    try {
      links = state::open_lmdb_store(*dir, true)->link_count();
    } catch (const state::StateError&) {
    }
    // In a child too: the check reads every record but not LMDB's list of free pages, whose
    // damage shows only when a write commits (and LMDB then ends the process).
    auto cleared = state::run_on_lmdb_store_in_child(*dir, [&] {
      auto store = state::open_lmdb_store(*dir, false);
      auto txn = store->begin();
      txn->clear_sync_state();
      txn->commit();
    });
    if (!cleared.healthy && cleared.problem != state::StateProblem::damaged)
      return report_state_error(ctx.out(), j, cleared.message);
    if (!cleared.healthy) return remove_damaged(cleared.message);
    j["reset"] = true;
    j["links_forgotten"] = links ? nlohmann::json(*links) : nlohmann::json();
    j["history_lost"] = false;
    if (ctx.out().json())
      ctx.out().print_json(j);
    else
      ctx.out().print(fmt::format(
          "{}: state reset ({} forgotten; the run history stays); the next run is a baseline\n", name,
          links ? fmt::format("{} links", *links) : std::string("its links")));
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return report_state_error(ctx.out(), j, e.what());
  }
}

}  // namespace synctool::cli
