#include "report/metrics.hpp"

#include <fmt/format.h>

namespace synctool::report {

namespace {

// Collects samples family by family: HELP and TYPE once, then the samples.
class Families {
 public:
  explicit Families(std::string sync_label) : sync_label_(std::move(sync_label)) {}

  // `labels`: extra labels already rendered (`side="source",outcome="created"`), or "".
  void gauge(std::string_view name, std::string_view help, std::string_view labels, std::string value) {
    if (name != current_) {
      // HELP text escapes only \ and line feeds; ours have neither.
      out_ += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
      current_ = name;
    }
    out_ += fmt::format("{}{{{}{}{}}} {}\n", name, sync_label_, labels.empty() ? "" : ",", labels, value);
  }
  void gauge(std::string_view name, std::string_view help, std::string_view labels, std::uint64_t value) {
    gauge(name, help, labels, std::to_string(value));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string sync_label_;
  std::string current_;
  std::string out_;
};

// Seconds with the milliseconds kept: 1733531478.123.
std::string seconds(std::int64_t ms) { return fmt::format("{}.{:03}", ms / 1000, ms % 1000); }

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string metrics_file_name(std::string_view sync) {
  std::string name = "synctool_";
  for (char c : sync) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '.';
    name += plain ? c : '_';
  }
  return name + ".prom";
}

std::string render_metrics(const engine::RunReport& run, const StateFacts& facts) {
  Families f("sync=\"" + escape_label_value(run.sync) + "\"");
  f.gauge("synctool_sync_last_run_timestamp_seconds", "Start of the sync's last run, seconds since the epoch.", "",
          seconds(run.started_ms));
  f.gauge("synctool_sync_last_run_duration_seconds", "How long the sync's last run took.", "",
          fmt::format("{:.3f}", run.duration_s));
  f.gauge("synctool_sync_last_run_exit_code",
          "Exit code of the sync's last run (0 in sync, 1 rows failed, 3 connection, 4 safeguard, 6 resync, "
          "7 local failure, 130/143 interrupted).",
          "", std::to_string(run.exit_code));
  if (facts.last_success_ms)
    f.gauge("synctool_sync_last_success_timestamp_seconds",
            "Start of the sync's latest run that finished (exit 0 or 1), seconds since the epoch.", "",
            seconds(*facts.last_success_ms));
  for (const auto& [side, counts] : {std::pair{"source", &run.source}, std::pair{"destination", &run.destination}}) {
    for (const auto& [outcome, value] :
         {std::pair{"created", counts->created}, std::pair{"updated", counts->updated},
          std::pair{"deleted", counts->deleted}, std::pair{"unchanged", counts->unchanged},
          std::pair{"skipped", counts->skipped}, std::pair{"rejected", counts->rejected},
          std::pair{"failed", counts->failed}})
      f.gauge("synctool_sync_last_run_records",
              "Records of the sync's last run by side written and outcome (unchanged: compared, nothing to write).",
              fmt::format("side=\"{}\",outcome=\"{}\"", side, outcome), value);
  }
  for (const auto& [side, counts] : {std::pair{"source", &run.source}, std::pair{"destination", &run.destination}})
    f.gauge("synctool_sync_last_run_read_records", "Records the sync's last run read, by side.",
            fmt::format("side=\"{}\"", side), counts->read);
  if (facts.failed_rows)
    f.gauge("synctool_sync_failed_rows", "Rows in the sync's failed table, retried on its next run.", "",
            *facts.failed_rows);
  if (facts.open_conflicts)
    f.gauge("synctool_sync_open_conflicts", "Conflicts waiting for `synctool conflicts resolve`.", "",
            *facts.open_conflicts);
  if (facts.spool_waiting)
    f.gauge("synctool_sync_spool_waiting_deliveries",
            "Deliveries a push source's spool holds that no run has applied yet.", "", *facts.spool_waiting);
  if (facts.paused)
    f.gauge("synctool_sync_paused", "1 while the sync is paused (`synctool pause`), else 0.", "",
            std::uint64_t{*facts.paused ? 1u : 0u});
  for (const auto& r : run.requests)
    f.gauge("synctool_sync_last_run_http_requests",
            "HTTP requests the sync's last run sent per connection, retries included.",
            "connection=\"" + escape_label_value(r.connection) + "\"", r.requests);
  for (const auto& r : run.requests)
    f.gauge("synctool_sync_last_run_http_throttled_responses",
            "HTTP 429 (rate limited) answers the sync's last run got per connection.",
            "connection=\"" + escape_label_value(r.connection) + "\"", r.throttled);
  return f.take();
}

}  // namespace synctool::report
