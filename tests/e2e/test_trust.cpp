// The trust fixes end to end, through the real binary on CSV and SQLite: a misspelled field
// is an error before anything is written, two rows with one key are both rejected, a row that
// is not UTF-8 is rejected naming its line, keys fold Unicode case, a dead destination never
// passes as "in sync", and SIGTERM leaves a recorded, resumable run.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <thread>

namespace synctool::e2e {

namespace {

std::string field_map_sync(const std::string& field_map, const std::string& extra = "") {
  return R"(direction = "one-way"
mode      = "upsert"

[source]
connection = "crm"
object     = "contacts"

[destination]
connection = "warehouse"
object     = "contacts"

[match]
source      = "email"
destination = "email"
normalize   = ["trim", "lowercase"]

[field_map]
)" + field_map + extra;
}

}  // namespace

TEST_CASE("a misspelled field stops check --connect, diff and run with its line, and nothing is written",
          "[e2e][trust][fields]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(20));
  project.write_sync(kSync, field_map_sync("email = \"email\"\nfrist_name = \"first_name\"\nlast_name = \"lastname\"\n"));
  Db db(project.path(kWarehouse));

  auto check = project.run({"check", "--connect"});
  INFO(check.describe());
  CHECK(check.exit_code == 2);
  CHECK_THAT(check.err, Catch::Contains("syncs/contacts.toml:19:1: [field_map] source field 'frist_name' does not exist") &&
                            Catch::Contains("did you mean 'first_name'?"));
  CHECK_THAT(check.err, Catch::Contains("syncs/contacts.toml:20:1: [field_map] destination field 'lastname' does not "
                                        "exist in sqlite connection 'warehouse', object 'contacts' (did you mean "
                                        "'last_name'?)"));

  auto diff = project.run({"diff", kSync});
  INFO(diff.describe());
  CHECK(diff.exit_code == 2);
  CHECK_THAT(diff.err, Catch::Contains("'frist_name' does not exist"));
  auto run = project.run({"run", kSync, "--full"});
  INFO(run.describe());
  CHECK(run.exit_code == 2);
  CHECK(db.count("contacts") == 0);
}

TEST_CASE("a filter on a column the SQLite source lacks is an error, not a filter that matches nothing",
          "[e2e][trust][fields]") {
  Project project;
  project.write_config(R"(state_dir = ".synctool"

[connections.app]
type = "sqlite"
path = "app.db"

[connections.files]
type = "csv"
path = "out"
)");
  {
    Db app(project.path("app.db"));
    app.exec("CREATE TABLE people (email TEXT PRIMARY KEY, name TEXT, lifecycle_stage TEXT);"
             "INSERT INTO people VALUES ('ann@acme.io', 'Ann', 'customer')");
  }
  std::filesystem::create_directories(project.path("out"));
  project.write_sync("people", R"(direction = "one-way"
mode = "mirror"

[source]
connection = "app"
object     = "people"
filter     = "stage = 'customer'"

[destination]
connection = "files"
object     = "people"

[match]
source      = "email"
destination = "email"

[field_map]
email = "email"
name  = "name"
)");
  auto run = project.run({"run", "people"});
  INFO(run.describe());
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.err, Catch::Contains("syncs/people.toml:7:14: [source] filter field 'stage' does not exist in sqlite "
                                      "connection 'app', object 'people' (it has: email, name, lifecycle_stage)"));
  CHECK_FALSE(std::filesystem::exists(project.path("out/people.csv")));
}

TEST_CASE("two CSV rows with one email are both rejected, naming their lines, also with the same text",
          "[e2e][trust][duplicates]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(5));
  project.write_sync(kSync, field_map_sync("email = \"email\"\nfirst_name = \"first_name\"\n"));
  project.write_csv(kSourceCsv, {"email", "first_name"},
                    {{"ann@acme.io", "Ann"}, {"bob@acme.io", "Bob"}, {"ann@acme.io", "Annie"}, {"cy@acme.io", "Cy"}});
  Db db(project.path(kWarehouse));
  auto run = run_sync(project);
  INFO(run.describe());
  CHECK(run.exit_code == 1);
  auto report = run.json();
  CHECK(report.at("destination").at("created") == 2);
  CHECK(report.at("destination").at("rejected") == 1);
  CHECK_THAT(report.at("rejected").at(0).at("reason").get<std::string>(),
             Catch::Contains("line 2 and line 4"));
  CHECK(db.scalar("SELECT count(*) FROM contacts WHERE email = 'ann@acme.io'") == 0);
}

TEST_CASE("a CSV row that is not UTF-8 is rejected naming its line; the rest is written and the run recorded",
          "[e2e][trust][utf8]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(5));
  project.write_sync(kSync, field_map_sync("email = \"email\"\nfirst_name = \"first_name\"\n"));
  project.write_file(kSourceCsv, "email,first_name\nann@acme.io,Ann\nzoe@acme.io,Zo\xff\nbob@acme.io,Bob\n");
  Db db(project.path(kWarehouse));

  auto diff = project.run({"diff", kSync, "--json"});
  auto run = run_sync(project);
  INFO(run.describe());
  CHECK(run.exit_code == 1);
  CHECK(run.json().at("destination").at("created") == 2);
  CHECK(run.json().at("destination").at("rejected") == 1);
  CHECK_THAT(run.out, Catch::Contains("line 3"));
  CHECK(diff.json().at("report").at("destination") == run.json().at("destination"));
  auto runs = project.run({"runs", kSync, "--json"});
  INFO(runs.describe());
  REQUIRE(runs.exit_code == 0);
  CHECK(runs.json().at("runs").size() == 1);
  CHECK(db.count("contacts") == 2);
}

TEST_CASE("keys that differ only in Unicode case are one key: the existing row is linked, not duplicated",
          "[e2e][trust][unicode]") {
  Project project;
  make_csv_to_sqlite(project, {}, "upsert", "", /*unique_email=*/false);
  project.write_sync(kSync, field_map_sync("email = \"email\"\nfirst_name = \"first_name\"\n"));
  project.write_csv(kSourceCsv, {"email", "first_name"}, {{"ÅSA.Ünicode@Example.com", "Åsa"}});
  Db db(project.path(kWarehouse));
  db.exec("INSERT INTO contacts (email, first_name) VALUES ('åsa.ünicode@example.com', 'Åsa')");
  auto run = run_sync(project);
  INFO(run.describe());
  CHECK(run.exit_code == 0);
  CHECK(run.json().at("destination").at("created") == 0);
  CHECK(db.count("contacts") == 1);
}

TEST_CASE("a destination that cannot be reached fails the run, also when nothing is to be written",
          "[e2e][trust][connections]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(10));
  REQUIRE(run_sync(project).exit_code == 0);
  REQUIRE(run_sync(project).exit_code == 0);  // in sync
  std::filesystem::remove(project.path(kWarehouse));
  auto run = run_sync(project);
  INFO(run.describe());
  CHECK(run.exit_code == 3);
  CHECK_THAT(run.err, Catch::Contains("warehouse.db"));
}

TEST_CASE("SIGTERM stops a run at a batch boundary; the run is recorded and the next one finishes the job",
          "[e2e][trust][signals]") {
  Project project;
  const auto contacts = make_contacts(30000);
  make_csv_to_sqlite(project, contacts);
  Spawned running(project.root(), {"run", kSync, "--json", "-v"});
  // Wait until the first batch is committed (the -v log says so), then ask it to stop.
  const auto log = project.root().parent_path();
  bool written = false;
  for (int i = 0; i < 6000 && !written && running.running(); ++i) {
    Db db(project.path(kWarehouse));
    written = db.count("contacts") > 0;
    if (!written) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(written);
  running.kill(SIGTERM);
  auto stopped = running.wait();
  INFO(stopped.describe());
  if (stopped.exit_code == 0) {
    WARN("the run finished before SIGTERM arrived; nothing to check");
    return;
  }
  CHECK(stopped.exit_code == 143);
  CHECK_THAT(stopped.err, Catch::Contains("stopped by SIGTERM"));
  auto runs = project.run({"runs", kSync, "--json"});
  REQUIRE(runs.json().at("runs").size() == 1);
  CHECK(runs.json().at("runs").at(0).at("exit_code") == 143);

  auto resumed = run_sync(project);
  INFO(resumed.describe());
  CHECK(resumed.exit_code == 0);
  Db db(project.path(kWarehouse));
  CHECK(table_differences(db, contacts) == "");
}

}  // namespace synctool::e2e

namespace synctool::e2e {

TEST_CASE("check points at the line of a connection key or endpoint option the connector cannot take",
          "[e2e][trust][check]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(3));
  project.write_config(R"(state_dir = ".synctool"

[connections.crm]
type = "csv"
path = "exports"
delimiter = ";;"

[connections.warehouse]
type = "sqlite"
path = "warehouse.db"
busy_timeout_ms = "fast"
)");
  auto check = project.run({"check"});
  INFO(check.describe());
  CHECK(check.exit_code == 2);
  CHECK_THAT(check.err, Catch::Contains("synctool.toml:6:") && Catch::Contains("delimiter"));
  CHECK_THAT(check.err, Catch::Contains("synctool.toml:11:") && Catch::Contains("busy_timeout_ms"));

  // An endpoint option: create_table must be true or false.
  project.write_config(kProjectToml);
  project.write_sync(kSync, contacts_sync_toml("upsert", R"(["trim", "lowercase"])", "", "create_table = \"yes\"\n"));
  auto option = project.run({"check", "--json"});
  INFO(option.describe());
  CHECK(option.exit_code == 2);
  const auto problem = option.json().at("problems").at(0);
  CHECK(problem.at("file") == "syncs/contacts.toml");
  CHECK(problem.at("line") == 13);
  CHECK_THAT(problem.at("message").get<std::string>(), Catch::Contains("create_table"));
}

TEST_CASE("check --connect gives up at once on a server that refuses connections", "[e2e][trust][check]") {
  Project project;
  project.write_config(R"(state_dir = ".synctool"

[connections.crm]
type = "hubspot"
token = "pat-na1-unused"
base_url = "http://127.0.0.1:1"

[connections.warehouse]
type = "sqlite"
path = "warehouse.db"
)");
  {
    Db db(project.path("warehouse.db"));
    db.exec("CREATE TABLE contacts (email TEXT PRIMARY KEY, firstname TEXT)");
  }
  project.write_sync("contacts", field_map_sync("email     = \"email\"\nfirstname = \"firstname\"\n"));
  auto check = project.run({"check", "--connect", "-v"});
  INFO(check.describe());
  CHECK(check.exit_code == 3);
  // One attempt at the refused address, no retries (the run's 7 retries over 5 minutes are for
  // a service that answers again, which a refused connection at `check` time is not).
  std::size_t attempts = 0;
  for (std::size_t at = check.err.find("127.0.0.1:1"); at != std::string::npos; at = check.err.find("127.0.0.1:1", at + 1))
    ++attempts;
  CHECK(attempts >= 1);
  CHECK(check.err.find("retrying") == std::string::npos);
}

}  // namespace synctool::e2e
