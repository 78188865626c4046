// One function per command; app.cpp wires them to the command line.
#pragma once

#include "cli/context.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace synctool::cli {

struct SyncSelection {
  std::vector<std::string> names;
  bool all = false;
  bool due = false;  // run --due: the syncs whose schedule came due since their last run started
};

struct RunFlags {
  bool full = false;
  bool resync = false;
  bool force = false;
  bool strict = false;  // run: exit 1 for every rejected or failed row, not only new ones
};

// `init SOURCE_TYPE DESTINATION_TYPE`: writes synctool.toml and syncs/SOURCE-DESTINATION.toml
// into `dir` (the working directory when empty); existing files only with `force`.
struct InitOptions {
  std::vector<std::string> types;
  std::string dir;
  bool force = false;
};
int cmd_init(Context& ctx, const InitOptions& options);

int cmd_check(Context& ctx, const std::vector<std::string>& names, bool connect);
int cmd_diff(Context& ctx, const std::string& name, const RunFlags& flags);
int cmd_run(Context& ctx, const SyncSelection& selection, const RunFlags& flags);
int cmd_status(Context& ctx);
int cmd_runs(Context& ctx, const std::string& name, std::size_t limit);
int cmd_state_show(Context& ctx, const std::string& name);
int cmd_state_reset(Context& ctx, const std::string& name);
// `state cursor get|set|reset SYNC [--side source|destination] [VALUE]`: `side` "" means both
// sides for get, the source for set and reset.
int cmd_state_cursor_get(Context& ctx, const std::string& name, const std::string& side);
int cmd_state_cursor_set(Context& ctx, const std::string& name, const std::string& side, const std::string& value);
int cmd_state_cursor_reset(Context& ctx, const std::string& name, const std::string& side);
// `pause SYNC [--reason TEXT]` / `resume SYNC` (cmd_pause.cpp).
int cmd_pause(Context& ctx, const std::string& name, const std::string& reason);
int cmd_resume(Context& ctx, const std::string& name);
int cmd_schema(Context& ctx, const std::string& name, bool apply);
// `ingest SYNC`: one webhook delivery for a push source, verified and spooled (cmd_ingest.cpp).
struct IngestOptions {
  std::string sync;
  std::vector<std::string> headers;  // "Name: value"
  std::string body_file;             // "" or "-": standard input
  std::string method = "POST";       // hubspot-v3 signs the method and the URL
  std::string url;
};
int cmd_ingest(Context& ctx, const IngestOptions& options);
// One record's writes in the kept history, newest first (at most `limit`; 0 = all).
int cmd_history(Context& ctx, const std::string& name, const std::string& key, std::size_t limit);
// Undoes run `run`'s writes (engine/revert.hpp); `dry_run` only prints the plan.
int cmd_revert(Context& ctx, const std::string& name, std::uint64_t run, bool dry_run);
// Bidirectional syncs' queued conflicts (strategy = "manual"): all syncs' when `name` is empty.
int cmd_conflicts_list(Context& ctx, const std::string& name);
// Chooses the values of one queued record: `take` "source" / "destination", or `sets`
// ("field=value", JSON where it parses) with every other field kept at its base value.
int cmd_conflicts_resolve(Context& ctx, const std::string& name, const std::string& key, const std::string& take,
                          const std::vector<std::string>& sets);

// `cron [SYNC...]`: the scheduler entries for the syncs (cmd_cron.cpp, cron_render.hpp).
struct CronFlags {
  std::string format = "crontab";  // crontab | systemd | kubernetes
  bool one_job = false;            // one `run --due` entry every minute instead of one per sync
  std::string binary;              // synctool's path (default: this binary; "synctool" in the image)
  std::string env_file;            // crontab, systemd: KEY=VALUE file with the credentials
  std::string alert_command;       // crontab, systemd: run as `CMD SYNC EXIT_CODE` on failure
  std::string image;               // kubernetes
  std::string namespace_name;      // kubernetes
  std::string secret;              // kubernetes: the Secret with the credentials
  std::string state_size;          // kubernetes: the state claim's size
  std::string name = "synctool";   // prefix of units and Kubernetes objects
  std::string output_dir;          // write the files here instead of printing them
};
int cmd_cron(Context& ctx, const std::vector<std::string>& names, const CronFlags& flags);

// A command that cannot go on: `message` on stderr once ("synctool: error: ..."), and with
// --json also {"ok": false, "error": message, "exit_code": code} on stdout. Returns `code`.
int command_error(Output& out, int code, const std::string& message);
// A state that cannot be read or written (exit 7): `message` on stderr, and with --json the
// `document` the command prints, with "ok": false, "error" and "exit_code" added.
int state_error(Output& out, nlohmann::json document, const std::string& message);
// A usage error: command_error with exit 2.
int usage_error(Output& out, const std::string& message);

// The runs of several syncs, each list newest first in the order its state keeps (run
// sequence), merged newest first by `started_at` while each list keeps its own order (a sync
// whose clock jumped is not reordered); at most `limit` (0 = all).
std::vector<nlohmann::json> merge_runs(std::vector<std::vector<nlohmann::json>> lists, std::size_t limit);

// A spec error's problems as a user reads them (files relative to the working directory when
// inside it): JSON objects {file, line, column, message}, or "file:line:col: message" lines.
nlohmann::json spec_problems_json(const std::vector<spec::SpecProblem>& problems);
std::vector<std::string> spec_problem_lines(const std::vector<spec::SpecProblem>& problems);

}  // namespace synctool::cli
