// A connection error (missing table, file or folder) stops the run with exit 3, names what is
// missing, and advances neither links nor cursors: the run after the fix does the whole job.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

namespace synctool::e2e {

namespace {

nlohmann::json state_of(const Project& project, const std::string& sync) {
  auto show = project.run({"state", "show", sync, "--json"});
  INFO(show.describe());
  REQUIRE(show.exit_code == 0);
  return show.json();
}

std::size_t links_of(const Project& project, const std::string& sync) {
  auto state = state_of(project, sync);
  return state.at("exists") == true ? state.at("links").get<std::size_t>() : 0;
}

}  // namespace

TEST_CASE("a missing destination table exits 3 naming it, and the run after creating it syncs everything",
          "[e2e][connection]") {
  Project project;
  auto contacts = make_contacts(100);
  make_csv_to_sqlite(project, contacts);
  Db db(project.path(kWarehouse));
  db.exec("DROP TABLE contacts");

  check_connection_error(run_sync(project), "contacts");
  CHECK(links_of(project, kSync) == 0);

  db.exec(contacts_table_sql());
  auto fixed = run_sync(project);
  INFO(fixed.describe());
  REQUIRE(fixed.exit_code == 0);
  CHECK(fixed.json().at("kind") == "baseline");
  CHECK(fixed.json().at("destination").at("created") == 100);
  CHECK(table_differences(db, contacts) == "");
}

TEST_CASE("a missing csv source folder exits 3 naming the path and writes nothing", "[e2e][connection]") {
  Project project;
  auto contacts = make_contacts(100);
  make_csv_to_sqlite(project, contacts);
  fs::rename(project.path("exports"), project.path("exports-elsewhere"));

  check_connection_error(run_sync(project), project.path("exports").string());
  CHECK(links_of(project, kSync) == 0);
  Db db(project.path(kWarehouse));
  CHECK(db.count("contacts") == 0);

  fs::rename(project.path("exports-elsewhere"), project.path("exports"));
  auto fixed = run_sync(project);
  INFO(fixed.describe());
  REQUIRE(fixed.exit_code == 0);
  CHECK(table_differences(db, contacts) == "");
}

TEST_CASE("a missing sqlite source table or database file exits 3 naming it", "[e2e][connection]") {
  Project project;
  make_sqlite_to_csv(project, make_contacts(10));
  Db app(project.path(kAppDb));
  app.exec("ALTER TABLE people RENAME TO people_old");
  check_connection_error(run_sync(project, {}, kPeopleSync), "people");
  CHECK_FALSE(fs::exists(project.path(kPeopleCsv)));

  project.write_config(R"(state_dir = ".synctool"

[connections.app]
type = "sqlite"
path = "missing.db"

[connections.files]
type = "csv"
path = "out"
)");
  check_connection_error(run_sync(project, {}, kPeopleSync), "missing.db");
  CHECK_FALSE(fs::exists(project.path("missing.db")));
}

TEST_CASE("a destination folder gone mid-way keeps the cursor where it was, and the run after the fix catches up",
          "[e2e][connection]") {
  Project project;
  auto contacts = make_contacts(300);
  make_sqlite_to_csv(project, contacts);
  Db app(project.path(kAppDb));

  // The first run cannot write: the folder is missing.
  fs::remove_all(project.path("out"));
  check_connection_error(run_sync(project, {}, kPeopleSync), project.path("out").string());
  auto failed_state = state_of(project, kPeopleSync);
  if (failed_state.at("exists") == true) {
    CHECK(failed_state.at("links") == 0);
    CHECK_FALSE(failed_state.at("meta").contains("cursor.source"));
  }

  fs::create_directories(project.path("out"));
  auto baseline = run_sync(project, {}, kPeopleSync);
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 0);
  CHECK(baseline.json().at("kind") == "baseline");
  CHECK(baseline.json().at("destination").at("created") == 300);
  const auto cursor = state_of(project, kPeopleSync).at("meta").value("cursor.source", "");
  CHECK_FALSE(cursor.empty());

  // Two rows change while the destination folder is away.
  app.exec("UPDATE people SET company = 'Moved Inc', updated_at = '2026-03-01T00:00:00Z' WHERE id IN (3, 4)");
  contacts[2].company = "Moved Inc";
  contacts[3].company = "Moved Inc";
  fs::rename(project.path("out"), project.path("out-away"));
  check_connection_error(run_sync(project, {}, kPeopleSync), project.path("out").string());
  auto after_failure = state_of(project, kPeopleSync);
  CHECK(after_failure.at("meta").value("cursor.source", "") == cursor);
  CHECK(after_failure.at("links") == 300);

  fs::rename(project.path("out-away"), project.path("out"));
  auto caught_up = run_sync(project, {}, kPeopleSync);
  INFO(caught_up.describe());
  REQUIRE(caught_up.exit_code == 0);
  CHECK(caught_up.json().at("destination").at("updated") == 2);
  CHECK(csv_differences(project, kPeopleCsv, contacts) == "");
}

}  // namespace synctool::e2e
