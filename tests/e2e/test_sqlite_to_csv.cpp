// A SQLite table read incrementally by its updated_at column, exported to a CSV file.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

namespace synctool::e2e {

namespace {

std::string source_cursor(const Project& project) {
  auto show = project.run({"state", "show", kPeopleSync, "--json"});
  INFO(show.describe());
  REQUIRE(show.exit_code == 0);
  return show.json().at("meta").value("cursor.source", "");
}

}  // namespace

TEST_CASE("an incremental run reads only the rows changed since the cursor and the csv ends correct",
          "[e2e][incremental]") {
  Project project;
  auto contacts = make_contacts(1000);
  make_sqlite_to_csv(project, contacts);
  Db app(project.path(kAppDb));

  auto baseline = run_sync(project, {}, kPeopleSync);
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 0);
  CHECK(baseline.json().at("kind") == "baseline");
  CHECK(baseline.json().at("source").at("read") == 1000);
  CHECK(baseline.json().at("destination").at("created") == 1000);
  CHECK(csv_differences(project, kPeopleCsv, contacts) == "");
  CHECK(source_cursor(project) == stamp(1000));

  // Nothing changed: only the rows at the cursor itself (inclusive bound) are read again.
  auto idle = run_sync(project, {}, kPeopleSync);
  INFO(idle.describe());
  REQUIRE(idle.exit_code == 0);
  CHECK(idle.json().at("kind") == "incremental");
  CHECK(idle.json().at("source").at("read").get<int>() <= 1);
  CHECK(writes(idle.json()) == 0);

  // Two rows change.
  app.exec("UPDATE people SET first_name = 'Touched', updated_at = '2026-02-01T00:00:00Z' WHERE id IN (10, 20)");
  contacts[9].first_name = "Touched";
  contacts[19].first_name = "Touched";

  auto incremental = run_sync(project, {}, kPeopleSync);
  INFO(incremental.describe());
  REQUIRE(incremental.exit_code == 0);
  auto report = incremental.json();
  CHECK(report.at("kind") == "incremental");
  CHECK(report.at("source").at("read").get<int>() >= 2);
  CHECK(report.at("source").at("read").get<int>() <= 3);  // the two, and the row at the old cursor
  CHECK(report.at("destination").at("updated") == 2);
  CHECK(report.at("destination").at("created") == 0);
  CHECK(csv_differences(project, kPeopleCsv, contacts) == "");
  CHECK(source_cursor(project) == "2026-02-01T00:00:00Z");

  // A row added later with an older timestamp than the cursor is not seen incrementally, but
  // the full reconciliation finds it.
  app.exec("INSERT INTO people VALUES (1001, 'late@example.com', 'Late', 'Comer', 'Globex', '30', '" + stamp(5) + "')");
  auto full = run_sync(project, {"--full"}, kPeopleSync);
  INFO(full.describe());
  REQUIRE(full.exit_code == 0);
  CHECK(full.json().at("kind") == "full");
  CHECK(full.json().at("destination").at("created") == 1);
  contacts.push_back({"1001", "late@example.com", "Late", "Comer", "Globex", "30"});
  CHECK(csv_differences(project, kPeopleCsv, contacts) == "");
}

TEST_CASE("an incremental run picks up a row whose timestamp equals the cursor", "[e2e][incremental]") {
  Project project;
  auto contacts = make_contacts(50);
  make_sqlite_to_csv(project, contacts);
  Db app(project.path(kAppDb));
  REQUIRE(run_sync(project, {}, kPeopleSync).exit_code == 0);

  // Written in the same second as the last row the previous run saw.
  app.exec("INSERT INTO people VALUES (51, 'same.second@example.com', 'Same', 'Second', 'Initech', '40', '" +
           stamp(50) + "')");
  auto r = run_sync(project, {}, kPeopleSync);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("destination").at("created") == 1);
  contacts.push_back({"51", "same.second@example.com", "Same", "Second", "Initech", "40"});
  CHECK(csv_differences(project, kPeopleCsv, contacts) == "");
}

}  // namespace synctool::e2e
