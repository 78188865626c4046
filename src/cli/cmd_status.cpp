// `synctool status`: one line per sync, whatever state its spec and its state are in. A sync
// is in error when its spec is broken (2), its state cannot be read (7), or its last run ended
// with 2, 3, 4, 6 or 7; status then exits with the most severe of those codes
// (engine::exit_code::most_severe). Failed rows, a lock found held (5) and an interrupted run
// (130/143) are shown but are not errors: the next run takes them up. Each sync's schedule and
// when `run --due` next runs it are shown too, and who paused a paused sync, when and why.
#include "cli/commands.hpp"
#include "cli/sync_control.hpp"
#include "engine/report.hpp"
#include "report/text.hpp"
#include "util/clock.hpp"

namespace synctool::cli {

namespace {

// `failed_rows`: the rows the state keeps as failed; when it keeps none, the last run's count.
std::string status_word(const nlohmann::json& run, std::size_t failed_rows) {
  int code = run.value("exit_code", 0);
  if (failed_rows == 0) {
    auto side = [&](const char* name, const char* field) {
      return run.value(name, nlohmann::json::object()).value(field, std::size_t{0});
    };
    failed_rows = side("source", "rejected") + side("source", "failed") + side("destination", "rejected") +
                  side("destination", "failed");
  }
  switch (code) {
    case engine::exit_code::ok: return failed_rows ? "failed rows (" + std::to_string(failed_rows) + ")" : "ok";
    case engine::exit_code::rows_failed: return "failed rows (" + std::to_string(failed_rows) + ")";
    case engine::exit_code::connection: return "error";
    case engine::exit_code::safeguard: return "stopped by safeguard";
    case engine::exit_code::resync_needed: return "needs --resync";
    case engine::exit_code::local_failure: return "local failure";
    case engine::exit_code::interrupted_int:
    case engine::exit_code::interrupted_term: return "interrupted";
    default: return "exit " + std::to_string(code);
  }
}

// Whether a last run that ended with `code` leaves the sync in error.
bool run_in_error(int code) {
  switch (code) {
    case engine::exit_code::usage:
    case engine::exit_code::connection:
    case engine::exit_code::safeguard:
    case engine::exit_code::resync_needed:
    case engine::exit_code::local_failure: return true;
    default: return false;
  }
}

}  // namespace

int cmd_status(Context& ctx) {
  std::vector<std::string> names;
  try {
    names = ctx.all_sync_names();
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  std::int64_t now = 0;
  try {
    now = schedule_now_ms();
  } catch (const std::invalid_argument& e) {
    return usage_error(ctx.out(), e.what());
  }
  int worst = engine::exit_code::ok;
  std::vector<std::vector<std::string>> rows;
  std::string details;  // what went wrong, under the table: the columns stay short
  auto list = nlohmann::json::array();
  for (const auto& name : names) {
    // Every field is always present, whatever is known of the sync.
    nlohmann::json item = {{"sync", name},        {"direction", nullptr}, {"status", "never run"},
                           {"records", 0},        {"failed_rows", 0},     {"last_run", nullptr},
                           {"last_sync", nullptr}, {"paused", false},      {"errors", nlohmann::json::array()},
                           {"problems", nlohmann::json::array()},
                           {"schedule", nullptr},  {"next_due", nullptr},  {"due", false},
                           {"pause", nullptr}};
    std::string direction = "-", status = "never run", last_sync = "-", records = "0", schedule, next_due = "-";
    int code = engine::exit_code::ok;
    auto add_error = [&](const std::string& text) {
      item["errors"].push_back(text);
      details += name + ": " + text + "\n";
    };

    bool spec_error = false;
    try {
      auto loaded = ctx.load_sync(name);
      direction = spec::to_string(loaded.spec->direction);
      item["direction"] = direction;
      schedule = loaded.spec->schedule;
      if (!schedule.empty()) item["schedule"] = schedule;
    } catch (const spec::SpecError& e) {
      spec_error = true;
      code = engine::exit_code::usage;
      item["problems"] = spec_problems_json(e.problems());
      for (const auto& line : spec_problem_lines(e.problems())) add_error("spec error: " + line);
    }

    bool unreadable = false;
    std::optional<std::int64_t> last_start;
    std::optional<PauseRecord> pause;
    try {
      // The state is found by the name alone: a broken spec does not hide it.
      if (auto store = ctx.open_state_read_only(name)) {
        auto runs = store->runs(1);
        auto links = store->link_count();
        auto failed = store->failed_count();
        records = std::to_string(links);
        item["records"] = links;
        item["failed_rows"] = failed;
        if (auto last = store->get_meta(state::meta::last_run)) {
          last_sync = *last;
          item["last_sync"] = *last;
        }
        if (!runs.empty()) {
          status = status_word(runs[0], failed);
          item["last_run"] = runs[0];
          int last_code = runs[0].value("exit_code", 0);
          if (run_in_error(last_code)) {
            code = engine::exit_code::most_severe(code, last_code);
            // Say why the sync is in error, and where its state is when the state was at fault.
            std::string why = "last run ended with exit " + std::to_string(last_code);
            if (auto error = runs[0].find("error"); error != runs[0].end() && error->is_string())
              why += ": " + error->get<std::string>();
            if (last_code == engine::exit_code::local_failure)
              why += " (state in " + ctx.state_dir(name).string() + ")";
            add_error(why);
          }
        }
        last_start = last_run_start(*store);
        if ((pause = read_pause(*store))) {
          status = "paused";
          item["paused"] = true;
          item["pause"] = pause->to_json();
          details += name + ": " + pause->describe() + "\n";
        }
      }
    } catch (const std::exception& e) {
      unreadable = true;
      code = engine::exit_code::most_severe(code, engine::exit_code::local_failure);
      add_error(std::string("state unreadable: ") + e.what());
    }
    if (!schedule.empty() && !unreadable) {
      auto due = due_state(schedule, last_start, now);
      if (due.next_due_ms) item["next_due"] = util::format_iso8601(*due.next_due_ms);
      item["due"] = due.due && !pause;
      next_due = pause ? "paused" : due.due ? "now" : util::format_iso8601(due.next_due_ms.value_or(now));
    }
    if (unreadable) status = "state unreadable";
    if (spec_error) status = "spec error";
    item["status"] = status;
    item["exit_code"] = code;
    worst = engine::exit_code::most_severe(worst, code);
    list.push_back(std::move(item));
    rows.push_back({name, direction, status, last_sync, records, schedule.empty() ? "-" : schedule, next_due});
  }
  if (ctx.out().json()) {
    ctx.out().print_json({{"syncs", list}, {"exit_code", worst}});
  } else {
    std::string text = report::render_table(
        {"SYNC", "DIRECTION", "STATUS", "LAST SYNC", "RECORDS", "SCHEDULE", "NEXT DUE"}, rows);
    if (!details.empty()) text += "\n" + details;
    ctx.out().print(text);
  }
  return worst;
}

}  // namespace synctool::cli
