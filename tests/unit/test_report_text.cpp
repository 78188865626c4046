// The text a person reads: aligned tables whatever their cells hold, and the run report's
// wording (new and known problems, rows left out, skipped rows, exit codes).
#include "report/text.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

using namespace synctool;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The display column where each line's `column`-th cell starts (cells are separated by two
// spaces at least, and no cell here holds two spaces in a row).
std::size_t start_of_cell(const std::string& line, int column) {
  std::size_t byte = 0;
  for (int c = 0; c < column; ++c) {
    byte = line.find("  ", byte);
    REQUIRE(byte != std::string::npos);
    byte = line.find_first_not_of(' ', byte);
  }
  return report::display_width(line.substr(0, byte));
}

engine::RunReport report_with_problems(std::size_t rejected, std::size_t listed, std::size_t known) {
  engine::RunReport r;
  r.sync = "contacts";
  r.kind = engine::RunKind::incremental;
  r.destination.rejected = rejected;
  for (std::size_t i = 0; i < listed; ++i)
    r.rejected.push_back({"person" + std::to_string(i) + "@acme-mail.com", std::to_string(i), "bad age", i >= known});
  r.new_problems = listed - known;
  r.exit_code = r.new_problems ? engine::exit_code::rows_failed : engine::exit_code::ok;
  return r;
}

}  // namespace

TEST_CASE("a table stays aligned whatever its cells hold", "[report]") {
  const std::vector<std::vector<std::string>> rows = {
      {"kundén", "one-way", "spec error", "-", "0"},
      {"顧客", "one-way", "state\nunreadable:\tbad", "2026-01-01T00:00:00Z", "12345"},
      {"contacts", "-", "ok", "2026-01-01T00:00:00Z", "7"},
  };
  auto text = report::render_table({"SYNC", "DIRECTION", "STATUS", "LAST SYNC", "RECORDS"}, rows);
  auto lines = lines_of(text);
  REQUIRE(lines.size() == 4);  // a line break inside a cell does not break its row
  CHECK(text.find('\t') == std::string::npos);
  for (int column = 1; column <= 3; ++column) {
    INFO("column " << column << "\n" << text);
    for (const auto& line : lines) CHECK(start_of_cell(line, column) == start_of_cell(lines[0], column));
  }
  // A column of numbers is right-aligned: every line ends at the same display column.
  for (const auto& line : lines) CHECK(report::display_width(line) == report::display_width(lines[0]));
  CHECK(report::display_width("顧客") == 4);
  CHECK(report::display_width("kundén") == 6);
  CHECK(report::display_width("\xff") == 1);
}

TEST_CASE("every exit code has a description", "[report]") {
  for (int code : {0, 1, 2, 3, 4, 5, 6, 7, 130, 143}) {
    INFO(code);
    CHECK(report::describe_exit_code(code) != "unknown");
  }
  CHECK_THAT(report::describe_exit_code(7), Catch::Contains("state"));
  CHECK_THAT(report::describe_exit_code(130), Catch::Contains("SIGINT"));
  CHECK_THAT(report::describe_exit_code(143), Catch::Contains("SIGTERM"));
}

TEST_CASE("a run report counts new problems, marks known ones and says how many are not listed", "[report]") {
  auto r = report_with_problems(130, 100, 40);
  auto text = report::render_run_report(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("rejected (130, 60 new):"));
  CHECK_THAT(text, Catch::Contains("  person0@acme-mail.com: bad age (not new"));
  CHECK_THAT(text, Catch::Contains("  person99@acme-mail.com: bad age\n"));
  CHECK_THAT(text, Catch::Contains("  ... and 30 more: synctool state show contacts\n"));
  CHECK_THAT(text, Catch::Contains("exit 1: "));

  // Only known problems: exit 0, and the report says why the rows do not count.
  auto known = report::render_run_report(report_with_problems(3, 3, 3));
  INFO(known);
  CHECK_THAT(known, Catch::Contains("rejected (3, 0 new):"));
  CHECK_THAT(known, Catch::Contains("exit 0: finished; 3 row(s) still rejected or failed, none of them new"));
}

TEST_CASE("a run report leaves the error to the command and names rows without a key by their record", "[report]") {
  engine::RunReport r;
  r.sync = "contacts";
  r.destination.rejected = 1;
  r.rejected.push_back({"", "17", "no value in the match field 'email'", true});
  r.error = "csv: exports/contacts.csv: no such file";
  r.exit_code = engine::exit_code::connection;
  auto text = report::render_run_report(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("  source record '17' (no match key): no value in the match field 'email'"));
  CHECK(text.find("no such file") == std::string::npos);  // printed once, by the command, on stderr
  CHECK_THAT(text, Catch::Contains("exit 3: "));

  engine::Action reject;
  reject.kind = engine::Action::Kind::reject;
  reject.source_id = "17";
  reject.reason = "no value";
  CHECK(report::render_action(reject) == "! reject  source record '17' (no match key): no value\n");
}

TEST_CASE("append mode shows the rows it skipped", "[report]") {
  engine::RunReport r;
  r.sync = "events";
  r.mode = "append";
  r.source.read = 5;
  r.destination.created = 2;
  r.destination.skipped = 3;
  auto text = report::render_run_report(r);
  INFO(text);
  auto lines = lines_of(text);
  REQUIRE(lines.size() >= 4);
  auto words = [](const std::string& line) {
    std::vector<std::string> out;
    std::istringstream in(line);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  };
  auto header = words(lines[1]);
  auto destination = words(lines[3]);
  REQUIRE(destination.size() == header.size() + 1);  // + the side's name
  auto column = std::find(header.begin(), header.end(), "skipped") - header.begin();
  REQUIRE(column < static_cast<long>(header.size()));
  CHECK(destination[static_cast<std::size_t>(column) + 1] == "3");
  CHECK_THAT(report::render_diff_totals(r), Catch::Contains("skip 3 already there"));

  engine::RunReport upsert;
  upsert.sync = "contacts";
  CHECK(report::render_run_report(upsert).find("skipped") == std::string::npos);
}
