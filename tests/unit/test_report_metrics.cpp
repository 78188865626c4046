// The Prometheus textfile of one run: one HELP and TYPE per family, every sample labelled
// with its sync, label values escaped, facts the state could not give left out.
#include "report/metrics.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <vector>

using namespace synctool;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

engine::RunReport sample_run() {
  engine::RunReport run;
  run.sync = "hubspot-mailchimp";
  run.started_ms = 1'733'531'478'123;
  run.duration_s = 2.5;
  run.exit_code = 3;
  run.destination.created = 7;
  run.destination.failed = 2;
  run.source.read = 40;
  run.add_requests("hubspot", 12, 1, 1);
  run.add_requests("mailchimp", 3, 0, 0);
  run.add_requests("hubspot", 2, 1, 0);  // the same connection on the other side: one entry
  return run;
}

}  // namespace

TEST_CASE("metrics: the last run's facts as gauges, each family introduced once", "[report][metrics]") {
  report::StateFacts facts;
  facts.failed_rows = 5;
  facts.open_conflicts = 0;
  facts.paused = false;
  facts.last_success_ms = 1'733'500'000'000;
  auto text = report::render_metrics(sample_run(), facts);

  CHECK(has_line(text, R"(synctool_sync_last_run_timestamp_seconds{sync="hubspot-mailchimp"} 1733531478.123)"));
  CHECK(has_line(text, R"(synctool_sync_last_run_duration_seconds{sync="hubspot-mailchimp"} 2.500)"));
  CHECK(has_line(text, R"(synctool_sync_last_run_exit_code{sync="hubspot-mailchimp"} 3)"));
  CHECK(has_line(text, R"(synctool_sync_last_success_timestamp_seconds{sync="hubspot-mailchimp"} 1733500000.000)"));
  CHECK(has_line(text,
                 R"(synctool_sync_last_run_records{sync="hubspot-mailchimp",side="destination",outcome="created"} 7)"));
  CHECK(has_line(text,
                 R"(synctool_sync_last_run_records{sync="hubspot-mailchimp",side="destination",outcome="failed"} 2)"));
  CHECK(has_line(text, R"(synctool_sync_last_run_read_records{sync="hubspot-mailchimp",side="source"} 40)"));
  CHECK(has_line(text, R"(synctool_sync_failed_rows{sync="hubspot-mailchimp"} 5)"));
  CHECK(has_line(text, R"(synctool_sync_open_conflicts{sync="hubspot-mailchimp"} 0)"));
  CHECK(has_line(text, R"(synctool_sync_paused{sync="hubspot-mailchimp"} 0)"));
  CHECK(has_line(text, R"(synctool_sync_last_run_http_requests{sync="hubspot-mailchimp",connection="hubspot"} 14)"));
  CHECK(has_line(text,
                 R"(synctool_sync_last_run_http_throttled_responses{sync="hubspot-mailchimp",connection="hubspot"} 2)"));
  CHECK(has_line(text,
                 R"(synctool_sync_last_run_http_requests{sync="hubspot-mailchimp",connection="mailchimp"} 3)"));

  // Each family: one HELP, one TYPE gauge, right before its first sample; no counters.
  std::vector<std::string> families;
  auto lines = lines_of(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with("# HELP ")) continue;
    auto name = lines[i].substr(7, lines[i].find(' ', 7) - 7);
    CHECK(std::find(families.begin(), families.end(), name) == families.end());
    families.push_back(name);
    REQUIRE(i + 2 < lines.size());
    CHECK(lines[i + 1] == "# TYPE " + name + " gauge");
    CHECK(lines[i + 2].starts_with(name + "{"));
  }
  CHECK(families.size() == 11);
  CHECK(text.ends_with("\n"));
  // 2 sides x 7 outcomes.
  CHECK(std::count_if(lines.begin(), lines.end(),
                      [](const std::string& l) { return l.starts_with("synctool_sync_last_run_records{"); }) == 14);
}

TEST_CASE("metrics: what the state could not tell is left out, not guessed", "[report][metrics]") {
  engine::RunReport run;
  run.sync = "a";
  run.exit_code = 7;
  auto text = report::render_metrics(run, report::StateFacts{});
  CHECK(text.find("synctool_sync_failed_rows") == std::string::npos);
  CHECK(text.find("synctool_sync_open_conflicts") == std::string::npos);
  CHECK(text.find("synctool_sync_paused") == std::string::npos);
  CHECK(text.find("synctool_sync_last_success_timestamp_seconds") == std::string::npos);
  CHECK(text.find("synctool_sync_last_run_http_requests") == std::string::npos);  // no HTTP connection
  CHECK(has_line(text, R"(synctool_sync_last_run_exit_code{sync="a"} 7)"));
}

TEST_CASE("metrics: label values are escaped, file names are plain", "[report][metrics]") {
  CHECK(report::escape_label_value(R"(a"b\c)" "\nd") == R"(a\"b\\c\nd)");
  CHECK(report::escape_label_value("ünïcode ok") == "ünïcode ok");
  engine::RunReport run;
  run.sync = "odd \"name\"";
  run.add_requests("back\\slash", 1, 0, 0);
  auto text = report::render_metrics(run, {});
  CHECK(has_line(text, R"(synctool_sync_last_run_exit_code{sync="odd \"name\""} 0)"));
  CHECK(text.find(R"(connection="back\\slash")") != std::string::npos);

  CHECK(report::metrics_file_name("hubspot-mailchimp") == "synctool_hubspot-mailchimp.prom");
  CHECK(report::metrics_file_name("a b/c") == "synctool_a_b_c.prom");
  CHECK(report::metrics_file_name("crm.v2_x") == "synctool_crm.v2_x.prom");
}
