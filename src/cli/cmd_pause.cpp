// `synctool pause SYNC [--reason TEXT]` and `synctool resume SYNC`. The pause record
// ({by, at, reason} in the state's meta) is written without taking the sync's lock: pausing
// must work while a long run is going. LMDB lets this second process write beside the run (its
// writer lock is held only while a batch commits), and a run never writes `paused`, so the run
// in progress finishes as it started; every later `run --all` / `run --due` skips the sync and
// an explicit `run SYNC` exits 8 (engine::exit_code::paused) unless --force.
#include "cli/commands.hpp"
#include "cli/run_observers.hpp"
#include "cli/sync_control.hpp"
#include "engine/report.hpp"
#include "state/lmdb_store.hpp"
#include "state/lock.hpp"
#include "util/clock.hpp"
#include "util/unicode.hpp"

#include <pwd.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

namespace synctool::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxReason = 500;

// "user@host" of whoever runs this: the account's name (from the password database, else
// $USER), else its uid.
std::string who_am_i() {
  std::string user;
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::string buffer(size > 0 ? static_cast<std::size_t>(size) : 16384, '\0');
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(::geteuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found && found->pw_name)
    user = found->pw_name;
  if (user.empty())
    if (const char* env = std::getenv("USER"); env && *env) user = env;
  if (user.empty()) user = "uid" + std::to_string(::geteuid());
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host) return user;
  return user + "@" + host;
}

// Whether a run of the sync holds its lock now (only asked for a state that exists).
bool run_in_progress(const fs::path& dir) {
  try {
    return !state::SyncLock::try_acquire(dir).has_value();
  } catch (const state::StateError&) {
    return false;  // the lock file cannot be made: no run holds it either
  }
}

}  // namespace

int cmd_pause(Context& ctx, const std::string& name, const std::string& reason) {
  auto& out = ctx.out();
  int code = 0;
  auto dir = find_state_dir(ctx, name, code);
  if (!dir) return code;
  // The reason shows on one line of `status`: printable text of reasonable length.
  if (reason.size() > kMaxReason)
    return usage_error(out, "--reason is " + std::to_string(reason.size()) + " bytes long; at most " +
                                std::to_string(kMaxReason) + " are kept");
  if (!util::valid_utf8(reason)) return usage_error(out, "--reason is not valid UTF-8 text");
  for (unsigned char c : reason)
    if (c < 0x20 || c == 0x7f) return usage_error(out, "--reason must be one line without control characters");

  nlohmann::json j = {{"sync", name}};
  try {
    PauseRecord record{who_am_i(), util::format_iso8601(util::system_clock().now_ms() / 1000 * 1000), reason};
    std::optional<PauseRecord> previous;
    {
      auto store = state::open_lmdb_store(*dir, false);
      previous = read_pause(*store);
      auto txn = store->begin();
      txn->set_meta(state::meta::paused, encode_pause(record));
      txn->commit();
    }
    refresh_paused_metric(ctx, name, true);
    const bool running = run_in_progress(*dir);
    j["paused"] = true;
    j["pause"] = record.to_json();
    j["previous"] = previous ? previous->to_json() : nlohmann::json();
    j["run_in_progress"] = running;
    if (out.json()) {
      out.print_json(j);
    } else {
      std::string text = name + ": " + record.describe() + "\n";
      if (previous) text += "  (it was already " + previous->describe() + ")\n";
      if (running) text += "  A run in progress holds its lock: it finishes; the runs after it are skipped.\n";
      text += "  `run --all` and `run --due` skip it; `run " + name + "` exits 8 unless --force. `synctool resume " +
              name + "` ends the pause.\n";
      out.print(text);
    }
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return state_error(out, j, e.what());
  }
}

int cmd_resume(Context& ctx, const std::string& name) {
  auto& out = ctx.out();
  int code = 0;
  auto dir = find_state_dir(ctx, name, code);
  if (!dir) return code;
  nlohmann::json j = {{"sync", name}};
  try {
    std::optional<PauseRecord> was;
    if (auto reader = state::open_lmdb_store(*dir, true)) was = read_pause(*reader);
    if (was) {
      // Opened again for writing: one environment per process at a time.
      auto store = state::open_lmdb_store(*dir, false);
      was = read_pause(*store);  // read again: a pause written meanwhile is the one ended
      auto txn = store->begin();
      txn->erase_meta(state::meta::paused);
      txn->commit();
    }
    if (was) refresh_paused_metric(ctx, name, false);
    j["paused"] = false;
    j["resumed"] = was.has_value();
    j["was"] = was ? was->to_json() : nlohmann::json();
    if (out.json())
      out.print_json(j);
    else
      out.print(was ? name + ": resumed (it was " + was->describe() + ")\n" : name + ": not paused; nothing to do\n");
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return state_error(out, j, e.what());
  }
}

}  // namespace synctool::cli
