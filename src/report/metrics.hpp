// One sync's Prometheus metrics in the text exposition format, for node_exporter's textfile
// collector: a snapshot of the last run and of the sync's state, rewritten after every run.
//
// Every value is a gauge. A textfile is a snapshot that the collector serves again on every
// scrape, and synctool keeps no running totals between runs (a reset state would restart them
// anyway), so a counter would only pretend to be cumulative: "requests of the last run" is a
// gauge, and synctool_sync_last_run_timestamp_seconds tells one run from the next.
#pragma once

#include "engine/report.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::report {

// What the sync's state says after the run; nullopt where it could not be read (a state
// that cannot be opened, exit 7): such a metric is left out rather than guessed.
struct StateFacts {
  std::optional<std::uint64_t> failed_rows;     // rows in `failed`, retried next run
  std::optional<std::uint64_t> open_conflicts;  // queued conflicts not resolved yet
  std::optional<bool> paused;
  std::optional<std::uint64_t> spool_waiting;   // push sources: deliveries no run applied yet
  // Start (epoch ms) of the latest run that finished with exit 0 or 1, this run included;
  // nullopt when none of the runs looked at did.
  std::optional<std::int64_t> last_success_ms;
};

// The metrics text of one run of one sync; every sample carries sync="<name>".
std::string render_metrics(const engine::RunReport& run, const StateFacts& facts);

// A label value as the exposition format quotes it: \ " and line feeds escaped.
std::string escape_label_value(std::string_view value);

// "synctool_<sync>.prom", characters other than letters, digits, '-', '_' and '.' as '_': the
// file one sync's metrics go to in metrics_dir.
std::string metrics_file_name(std::string_view sync);

}  // namespace synctool::report
