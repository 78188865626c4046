// `synctool cron`: what a scheduler needs to run the syncs, rendered from plain data so the
// rendering can be tested without a project. cmd_cron.cpp gathers the data from the specs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::cli {

enum class CronFormat { crontab, systemd, kubernetes };

// An environment variable that a sync's connections (or the project's folders) name as
// ${NAME}; `optional` when every use has a fallback (${NAME:-default}).
struct CronEnvVar {
  std::string name;
  bool optional = false;
};

// One sync, as the scheduler needs it. Never a credential's value: only variable names.
struct CronSync {
  std::string name;
  std::string title;
  std::string file;      // syncs/NAME.toml as the user would type it (comments only)
  std::string schedule;  // as written in the spec; "" = no schedule (no entry)
  std::vector<CronEnvVar> env;
};

// A spec file carried into the Kubernetes ConfigMap: where it sits relative to the project
// folder, and its text.
struct CronSpecFile {
  std::string path;  // "synctool.toml", "syncs/a.toml" (relative to the project folder)
  std::string text;
  std::string sync;  // the sync it holds; "" for synctool.toml
};

struct CronOptions {
  CronFormat format = CronFormat::crontab;
  bool one_job = false;  // one `run --due` entry every minute instead of one entry per sync
  bool named_syncs = false;  // the syncs were named on the command line (a group, with --one-job)
  // crontab and systemd
  std::string binary;         // absolute path of synctool on the host
  std::string working_dir;    // the project folder (synctool.toml's)
  std::string config_file;    // "" when it is <working_dir>/synctool.toml, else passed as --config
  std::string env_file;       // KEY=VALUE lines with the credentials; "" = none
  std::string alert_command;  // shell command run as `CMD SYNC EXIT_CODE` on failure; "" = none
  // kubernetes
  std::string image;
  std::string namespace_name;  // "" = the namespace kubectl applies to
  std::string secret = "synctool-credentials";
  std::string name = "synctool";  // prefix of every object's name
  std::string state_size = "1Gi";
  std::vector<CronSpecFile> spec_files;
  std::string version;  // synctool's, for a comment
  std::string source;   // the project file, for a comment
};

// One output file (systemd units), or the whole output (crontab, kubernetes: one entry).
struct CronFile {
  std::string name;
  std::string text;
};

// The 5-field cron expression that fires exactly every `interval_ms`, or nullopt when none
// does (45m, 90m, 5h, 2d, anything not a whole minute). An interval has no phase, so the
// minute (and hour) offset is taken from a hash of `sync_name`: a hundred syncs every 15
// minutes do not all start at :00.
std::optional<std::string> interval_to_cron(std::int64_t interval_ms, std::string_view sync_name);

// A valid `schedule` (spec::schedule_problem gave "") as a cron expression for crontab and
// Kubernetes: a cron expression in explicit form ("5/15" becomes "5-59/15", day of week 7
// becomes 0), an interval through interval_to_cron. nullopt for an interval without one.
std::optional<std::string> schedule_to_cron(std::string_view schedule, std::string_view sync_name);

// A cron expression as systemd OnCalendar= values that fire at exactly the same minutes. Two
// values when both day of month and day of week are restricted: cron fires when either
// matches, systemd only when both do, so each gets its own line.
std::vector<std::string> cron_to_on_calendar(std::string_view cron);

// `text` as one single-quoted POSIX shell word.
std::string shell_quote(std::string_view text);

// A Kubernetes object name (DNS-1123 label: lowercase letters, digits and '-', starting and
// ending with a letter or digit) of at most `max_length` characters made from `text`; a name
// that had to change gets a short hash of `text` so that two syncs never share one.
std::string dns_label(std::string_view text, std::size_t max_length);

// Why these syncs cannot be rendered in this format ("" when they can): a sync name with a
// control character, an interval without a cron form (crontab, kubernetes without --one-job).
std::string cron_problem(const std::vector<CronSync>& syncs, const CronOptions& options);

// The output: crontab text, systemd unit files, or Kubernetes YAML (several documents).
std::vector<CronFile> render_cron(const std::vector<CronSync>& syncs, const CronOptions& options);

}  // namespace synctool::cli
