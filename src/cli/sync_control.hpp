// What `run`, `status`, `pause` and `state cursor` share about a sync's operation: its pause
// record, when its schedule next comes due, and where its state is.
#pragma once

#include "cli/context.hpp"
#include "state/store.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace synctool::cli {

// Who paused a sync, when and why: meta::paused holds it as JSON {by, at, reason}.
struct PauseRecord {
  std::string by;      // user@host
  std::string at;      // ISO 8601
  std::string reason;  // may be empty
  nlohmann::json to_json() const { return {{"by", by}, {"at", at}, {"reason", reason}}; }
  // "paused by alice@ops1 at 2026-12-07T10:00:00Z: vendor maintenance" (no reason: no colon part).
  std::string describe() const;
};

std::string encode_pause(const PauseRecord& record);
// The sync's pause record; nullopt when it is not paused. A value that is not the JSON this
// synctool writes still means paused (by "unknown").
std::optional<PauseRecord> read_pause(const state::StateStore& store);

// The wall-clock time scheduling decisions use (`run --due`, `status`): util::system_clock(),
// which tests move with SYNCTOOL_TEST_NOW. Throws std::invalid_argument naming the variable
// when it is set to something that is not a time (the clock would ignore it).
std::int64_t schedule_now_ms();

// Where a sync stands with its schedule.
struct DueState {
  std::optional<std::int64_t> last_start_ms;  // the start of its last recorded run
  std::optional<std::int64_t> next_due_ms;    // when its schedule next fires after that start
  bool due = false;  // whether `run --due` runs it now (paused or not)
};
// `schedule` "" (none): never due. Never ran: due. A last start later than `now_ms` (the clock
// was set back since) is not trusted: due, as the runner treats a future last full run.
DueState due_state(const std::string& schedule, std::optional<std::int64_t> last_start_ms, std::int64_t now_ms);
// The start of the sync's most recently recorded run, from its run history.
std::optional<std::int64_t> last_run_start(const state::StateStore& store);

// The state folder of sync `name`, found from synctool.toml alone, so that it works for a sync
// whose own file is broken; a name that is neither a sync nor a state is a spec error (with a
// did-you-mean). nullopt after reporting why (exit code in `code`).
std::optional<std::filesystem::path> find_state_dir(Context& ctx, const std::string& name, int& code);

}  // namespace synctool::cli
