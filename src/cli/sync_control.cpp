#include "cli/sync_control.hpp"

#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "spec/schedule.hpp"
#include "util/clock.hpp"

#include <cstdlib>
#include <stdexcept>

namespace synctool::cli {

namespace fs = std::filesystem;

std::string PauseRecord::describe() const {
  std::string text = "paused by " + by + " at " + at;
  if (!reason.empty()) text += ": " + reason;
  return text;
}

std::string encode_pause(const PauseRecord& record) { return record.to_json().dump(); }

std::optional<PauseRecord> read_pause(const state::StateStore& store) {
  auto value = store.get_meta(state::meta::paused);
  if (!value) return std::nullopt;
  PauseRecord record{"unknown", "unknown", ""};
  auto j = nlohmann::json::parse(*value, nullptr, false);
  if (j.is_object()) {
    auto text = [&](const char* key, std::string& into) {
      if (auto it = j.find(key); it != j.end() && it->is_string()) into = it->get<std::string>();
    };
    text("by", record.by);
    text("at", record.at);
    text("reason", record.reason);
  }
  return record;
}

std::int64_t schedule_now_ms() {
  constexpr const char* kVariable = "SYNCTOOL_TEST_NOW";
  const char* fake = std::getenv(kVariable);
  if (fake && *fake && !util::parse_iso8601(fake))
    throw std::invalid_argument(std::string(kVariable) + " is set to '" + fake + "', which is not an ISO 8601 time");
  return util::system_clock().now_ms();
}

DueState due_state(const std::string& schedule, std::optional<std::int64_t> last_start_ms, std::int64_t now_ms) {
  DueState state;
  state.last_start_ms = last_start_ms;
  if (schedule.empty()) return state;
  auto parsed = spec::Schedule::parse(schedule);
  if (!parsed) return state;  // the loader refuses such a spec before it gets here
  if (!last_start_ms) {
    state.due = true;
    return state;
  }
  state.next_due_ms = parsed->next_after(*last_start_ms);
  state.due = *last_start_ms > now_ms || (state.next_due_ms && *state.next_due_ms <= now_ms);
  return state;
}

std::optional<std::int64_t> last_run_start(const state::StateStore& store) {
  auto runs = store.runs(1);
  if (runs.empty()) return std::nullopt;
  auto started = runs.front().find("started_at");
  if (started == runs.front().end() || !started->is_string()) return std::nullopt;
  return util::parse_iso8601(started->get<std::string>());
}

std::optional<fs::path> find_state_dir(Context& ctx, const std::string& name, int& code) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    code = usage_error(ctx.out(), "'" + name + "' is not a sync name (the name of a file in syncs/, without .toml)");
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

}  // namespace synctool::cli
