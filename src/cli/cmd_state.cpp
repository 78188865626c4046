#include "cli/commands.hpp"
#include "cli/push_spool.hpp"
#include "cli/sync_control.hpp"
#include "engine/report.hpp"
#include "state/lmdb_store.hpp"
#include "state/lock.hpp"
#include "util/clock.hpp"
#include "util/unicode.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <optional>

namespace synctool::cli {

namespace {

namespace fs = std::filesystem;

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
    // A push source's spool: deliveries kept, those the next run applies (from the cursor on),
    // and the records whose latest row is kept.
    if (auto waiting = spool_waiting(*store))
      j["spool"] = {{"deliveries", store->spooled_count()},
                    {"waiting", *waiting},
                    {"pushed_records", store->pushed_count()}};
    if (ctx.out().json()) {
      ctx.out().print_json(j);
      return engine::exit_code::ok;
    }
    std::string out = fmt::format("{}  ({})\n", name, dir->string());
    for (const auto& item : meta.items())
      out += fmt::format("  {:<16} {}\n", item.key(), item.value().get<std::string>());
    out += fmt::format("  {:<16} {}\n  {:<16} {}\n  {:<16} {}\n", "links", j["links"].get<std::size_t>(),
                       "pending creates", j["pending"].get<std::size_t>(), "failed rows", failed.size());
    if (j.contains("spool"))
      out += fmt::format("  {:<16} {} deliveries kept, {} waiting for the next run; {} records' latest rows\n", "spool",
                         j["spool"]["deliveries"].get<std::size_t>(), j["spool"]["waiting"].get<std::size_t>(),
                         j["spool"]["pushed_records"].get<std::size_t>());
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
    return state_error(ctx.out(), j, e.what());
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
      return state_error(ctx.out(), j, check.message);  // a full disk or a permission: not the file's fault
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
      return state_error(ctx.out(), j, cleared.message);
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
    return state_error(ctx.out(), j, e.what());
  }
}

namespace {

const char* cursor_meta(const std::string& side) {
  return side == "destination" ? state::meta::destination_cursor : state::meta::source_cursor;
}

nlohmann::json optional_text(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

// What a cursor looks like, as far as can be told from its text.
enum class CursorShape { timestamp, integer, other };

CursorShape shape_of(const std::string& cursor) {
  if (util::parse_iso8601(cursor)) return CursorShape::timestamp;
  std::size_t digits = cursor.starts_with('-') ? 1 : 0;
  if (digits < cursor.size() && cursor.find_first_not_of("0123456789", digits) == std::string::npos)
    return CursorShape::integer;
  return CursorShape::other;
}

// "" when `value` can be the next cursor of a side whose cursor is now `stored`, else why not.
// A side's cursors keep one shape: the API connectors' are ISO 8601 times, a SQL source's are
// its cursor column's values, which are compared in the database (text compares character by
// character, so a time written with 'T' where the column has ' ' would skip rows).
std::string cursor_value_problem(const std::string& value, const std::optional<std::string>& stored) {
  if (value.empty()) return "the cursor is empty; `state cursor reset` clears it";
  if (value.size() > 1000) return "the cursor is " + std::to_string(value.size()) + " bytes long; at most 1000";
  if (!util::valid_utf8(value)) return "the cursor is not valid UTF-8 text";
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f) return "the cursor must be one line without control characters";
  if (!stored) return "";
  const CursorShape expected = shape_of(*stored), given = shape_of(value);
  if (expected == CursorShape::timestamp && given != CursorShape::timestamp)
    return "this side's cursors are ISO 8601 times (the stored one is '" + *stored + "'); '" + value +
           "' is not one";
  if (expected == CursorShape::timestamp && value.size() > 10 && stored->size() > 10 && value[10] != (*stored)[10])
    return "write the time like the stored cursor '" + *stored + "' (with '" + std::string(1, (*stored)[10]) +
           "' between date and time): the side may compare cursors as text";
  if (expected == CursorShape::integer && given != CursorShape::integer)
    return "this side's cursors are whole numbers (the stored one is '" + *stored + "'); '" + value + "' is not one";
  return "";
}

int locked_error(Output& out, const std::string& name, const fs::path& dir) {
  return command_error(out, engine::exit_code::locked,
                       "another run of '" + name + "' holds the lock " + (dir / "lock").string() +
                           "; the cursor was not changed");
}

}  // namespace

int cmd_state_cursor_get(Context& ctx, const std::string& name, const std::string& side) {
  int code = 0;
  auto dir = find_state_dir(ctx, name, code);
  if (!dir) return code;
  nlohmann::json j = {{"sync", name}};
  try {
    auto store = state::open_lmdb_store(*dir, true);
    auto cursors = nlohmann::json::object();
    std::string text;
    for (const std::string s : {"source", "destination"}) {
      if (!side.empty() && side != s) continue;
      std::optional<std::string> value;
      if (store) value = store->get_meta(cursor_meta(s));
      cursors[s] = optional_text(value);
      text += value ? fmt::format("{}: {} cursor {}\n", name, s, *value)
                    : fmt::format("{}: no {} cursor (its next run reads the {} whole)\n", name, s, s);
    }
    j["cursors"] = cursors;
    if (ctx.out().json())
      ctx.out().print_json(j);
    else
      ctx.out().print(text);
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return state_error(ctx.out(), j, e.what());
  }
}

int cmd_state_cursor_set(Context& ctx, const std::string& name, const std::string& side_given, const std::string& value) {
  auto& out = ctx.out();
  const std::string side = side_given.empty() ? "source" : side_given;
  int code = 0;
  auto dir = find_state_dir(ctx, name, code);
  if (!dir) return code;
  // The spec says which connector reads the side, and whether it reads it incrementally at all.
  LoadedSync loaded;
  try {
    loaded = ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(out, e);
  }
  const auto& sync = *loaded.spec;
  if (side == "destination" && sync.direction != spec::Direction::bidirectional)
    return usage_error(out, "'" + name +
                                "' is one-way: it reads the destination whole on baseline and full runs only and keeps no "
                                "destination cursor");
  const std::string connection = side == "source" ? sync.source.connection : sync.destination.connection;
  const auto& object = side == "source" ? loaded.compiled->source_object() : loaded.compiled->destination_object();
  try {
    auto connector = ctx.open_connector(connection);
    if (!connector->capabilities(object).incremental_read)
      return usage_error(out, "the " + side + " of '" + name + "' (connection '" + connection + "', object '" +
                                  object.name + "') is read whole on every run: a cursor would not be used");
  } catch (const connectors::ConnectorError& e) {
    return command_error(out, e.setting().empty() ? engine::exit_code::connection : engine::exit_code::usage, e.what());
  }

  nlohmann::json j = {{"sync", name}, {"side", side}};
  try {
    std::optional<std::string> previous;
    {
      auto store = state::open_lmdb_store(*dir, true);
      if (!store || !store->get_meta(state::meta::baseline_done))
        return usage_error(out, "'" + name +
                                    "' has not completed its first run: that run is a baseline, which reads everything "
                                    "and sets the cursor itself; set it after that");
      previous = store->get_meta(cursor_meta(side));
    }
    if (auto problem = cursor_value_problem(value, previous); !problem.empty()) return usage_error(out, problem);
    // Under the lock: a run would overwrite the cursor when it ends.
    auto lock = state::SyncLock::try_acquire(*dir);
    if (!lock) return locked_error(out, name, *dir);
    {
      auto store = state::open_lmdb_store(*dir, false);
      previous = store->get_meta(cursor_meta(side));
      auto txn = store->begin();
      txn->set_meta(cursor_meta(side), value);
      txn->commit();
    }
    j["cursor"] = value;
    j["previous"] = optional_text(previous);
    if (out.json())
      out.print_json(j);
    else
      out.print(fmt::format("{}: {} cursor set to {} (it was {}); the next incremental run reads the {}'s changes "
                            "from there on\n",
                            name, side, value, previous ? *previous : std::string("not set"), side));
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return state_error(out, j, e.what());
  }
}

int cmd_state_cursor_reset(Context& ctx, const std::string& name, const std::string& side_given) {
  auto& out = ctx.out();
  const std::string side = side_given.empty() ? "source" : side_given;
  int code = 0;
  auto dir = find_state_dir(ctx, name, code);
  if (!dir) return code;
  nlohmann::json j = {{"sync", name}, {"side", side}};
  try {
    std::error_code ec;
    std::optional<std::string> previous;
    if (fs::exists(*dir / "data.mdb", ec)) {
      auto lock = state::SyncLock::try_acquire(*dir);
      if (!lock) return locked_error(out, name, *dir);
      auto store = state::open_lmdb_store(*dir, false);
      previous = store->get_meta(cursor_meta(side));
      if (previous) {
        auto txn = store->begin();
        txn->erase_meta(cursor_meta(side));
        txn->commit();
      }
    }
    j["reset"] = previous.has_value();
    j["previous"] = optional_text(previous);
    if (out.json())
      out.print_json(j);
    else if (previous)
      out.print(fmt::format("{}: {} cursor cleared (it was {}); the next run reads the {} whole and keeps the links, "
                            "so records that did not change are not written again\n",
                            name, side, *previous, side));
    else
      out.print(fmt::format("{}: no {} cursor to clear\n", name, side));
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return state_error(out, j, e.what());
  }
}

}  // namespace synctool::cli
