#include "cli/commands.hpp"
#include "engine/report.hpp"
#include "report/text.hpp"

namespace synctool::cli {

namespace {

struct SyncStatus {
  std::string name, direction, status, last_sync, records;
  int last_exit = -1;
};

std::string status_word(const nlohmann::json& run, std::size_t failed_rows) {
  int code = run.value("exit_code", 0);
  switch (code) {
    case engine::exit_code::ok: return failed_rows ? "failed rows (" + std::to_string(failed_rows) + ")" : "ok";
    case engine::exit_code::rows_failed: return "failed rows (" + std::to_string(failed_rows) + ")";
    case engine::exit_code::connection: return "error";
    case engine::exit_code::safeguard: return "stopped by safeguard";
    case engine::exit_code::resync_needed: return "needs --resync";
    default: return "exit " + std::to_string(code);
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
  std::vector<std::vector<std::string>> rows;
  auto list = nlohmann::json::array();
  int code = engine::exit_code::ok;
  for (const auto& name : names) {
    nlohmann::json item = {{"sync", name}};
    std::string direction = "?";
    try {
      auto loaded = ctx.load_sync(name);
      direction = spec::to_string(loaded.spec->direction);
    } catch (const spec::SpecError&) {
      direction = "(spec error)";
    }
    item["direction"] = direction;
    std::string status = "never run", last_sync = "-", records = "0";
    try {
      if (auto store = ctx.open_state_read_only(name)) {
        auto runs = store->runs(1);
        records = std::to_string(store->link_count());
        item["records"] = store->link_count();
        item["failed_rows"] = store->failed_count();
        if (auto last = store->get_meta(state::meta::last_run)) last_sync = *last;
        if (!runs.empty()) {
          status = status_word(runs[0], store->failed_count());
          item["last_run"] = runs[0];
        }
        if (store->get_meta(state::meta::paused)) status = "paused";
      }
    } catch (const state::StateError& e) {
      status = "state unreadable";
      item["error"] = e.what();
      ctx.out().error(e.what());
      code = engine::exit_code::local_failure;
    } catch (const std::exception& e) {
      status = std::string("state unreadable: ") + e.what();
    }
    item["status"] = status;
    item["last_sync"] = last_sync == "-" ? nlohmann::json() : nlohmann::json(last_sync);
    list.push_back(item);
    rows.push_back({name, direction, status, last_sync, records});
  }
  if (ctx.out().json())
    ctx.out().print_json({{"syncs", list}});
  else
    ctx.out().print(report::render_table({"SYNC", "DIRECTION", "STATUS", "LAST SYNC", "RECORDS"}, rows));
  return code;
}

}  // namespace synctool::cli
