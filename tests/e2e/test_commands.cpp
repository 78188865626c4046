// The inspection commands (status, runs, state show, state reset) and the state folder.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

namespace synctool::e2e {

namespace {

nlohmann::json only_sync(const nlohmann::json& status) {
  REQUIRE(status.at("syncs").size() == 1);
  return status.at("syncs")[0];
}

}  // namespace

TEST_CASE("status, runs and state show report the sync; state reset makes the next run a baseline",
          "[e2e][commands]") {
  Project project;
  auto contacts = make_contacts(250);
  make_csv_to_sqlite(project, contacts);

  auto never = project.run({"status", "--json"});
  INFO(never.describe());
  REQUIRE(never.exit_code == 0);
  CHECK(only_sync(never.json()).at("sync") == kSync);
  CHECK(only_sync(never.json()).at("status") == "never run");
  CHECK(only_sync(never.json()).at("last_sync").is_null());
  // Complete for a sync that never ran: every field, with its empty value.
  CHECK(only_sync(never.json()).at("records") == 0);
  CHECK(only_sync(never.json()).at("failed_rows") == 0);
  CHECK(only_sync(never.json()).at("last_run").is_null());
  CHECK(only_sync(never.json()).at("direction") == "one-way");
  CHECK(only_sync(never.json()).at("exit_code") == 0);
  CHECK(never.json().at("exit_code") == 0);
  auto no_state = project.run({"state", "show", kSync, "--json"});
  INFO(no_state.describe());
  REQUIRE(no_state.exit_code == 0);
  CHECK(no_state.json().at("exists") == false);
  auto no_runs = project.run({"runs", "--json"});
  REQUIRE(no_runs.exit_code == 0);
  CHECK(no_runs.json().at("runs").empty());

  REQUIRE(run_sync(project).exit_code == 0);
  REQUIRE(run_sync(project).exit_code == 0);

  auto status = project.run({"status", "--json"});
  INFO(status.describe());
  REQUIRE(status.exit_code == 0);
  auto line = only_sync(status.json());
  CHECK(line.at("direction") == "one-way");
  CHECK(line.at("status") == "ok");
  CHECK(line.at("records") == 250);  // = links
  CHECK(line.at("last_sync").is_string());

  auto text = project.run({"status"});
  INFO(text.describe());
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("SYNC") && Catch::Contains("RECORDS") && Catch::Contains("LAST SYNC"));
  CHECK_THAT(text.out, Catch::Contains(kSync) && Catch::Contains("250"));

  auto runs = project.run({"runs", "--json"});
  INFO(runs.describe());
  REQUIRE(runs.exit_code == 0);
  const auto history = runs.json().at("runs");
  REQUIRE(history.size() == 2);
  CHECK(history[0].at("kind") == "incremental");  // newest first
  CHECK(history[1].at("kind") == "baseline");
  CHECK(history[1].at("destination").at("created") == 250);
  CHECK(history[0].at("started_at").get<std::string>() >= history[1].at("started_at").get<std::string>());
  auto limited = project.run({"runs", kSync, "-n", "1", "--json"});
  INFO(limited.describe());
  REQUIRE(limited.exit_code == 0);
  CHECK(limited.json().at("runs").size() == 1);
  CHECK(project.run({"runs"}).exit_code == 0);

  auto show = project.run({"state", "show", kSync, "--json"});
  INFO(show.describe());
  REQUIRE(show.exit_code == 0);
  auto state = show.json();
  CHECK(state.at("exists") == true);
  CHECK(state.at("links") == 250);
  CHECK(state.at("pending") == 0);
  CHECK(state.at("failed").empty());
  CHECK(state.at("meta").is_object());
  CHECK(project.run({"state", "show", kSync}).exit_code == 0);

  auto reset = project.run({"state", "reset", kSync, "--json"});
  INFO(reset.describe());
  REQUIRE(reset.exit_code == 0);
  (void)reset.json();
  auto after_reset = project.run({"state", "show", kSync, "--json"});
  INFO(after_reset.describe());
  CHECK(after_reset.json().at("links") == 0);
  CHECK(only_sync(project.run({"status", "--json"}).json()).at("records") == 0);
  // History stays.
  CHECK(project.run({"runs", "--json"}).json().at("runs").size() == 2);

  auto rebaseline = run_sync(project);
  INFO(rebaseline.describe());
  REQUIRE(rebaseline.exit_code == 0);
  CHECK(rebaseline.json().at("kind") == "baseline");
  CHECK(writes(rebaseline.json()) == 0);  // every row found and linked again
  Db db(project.path(kWarehouse));
  CHECK(table_differences(db, contacts) == "");
  CHECK(only_sync(project.run({"status", "--json"}).json()).at("records") == 250);
}

TEST_CASE("state show lists rejected rows with their reasons and status counts them", "[e2e][commands]") {
  Project project;
  auto contacts = make_contacts(20);
  contacts[3].email = "";                        // no match key
  contacts[5].email = contacts[6].email;         // a duplicate pair
  make_csv_to_sqlite(project, contacts);

  auto r = run_sync(project);
  INFO(r.describe());
  REQUIRE(r.exit_code == 1);
  CHECK(r.json().at("destination").at("created") == 17);
  CHECK(r.json().at("destination").at("rejected") == 2);

  auto show = project.run({"state", "show", kSync, "--json"});
  INFO(show.describe());
  REQUIRE(show.exit_code == 0);
  bool duplicate_listed = false;
  const auto failed = show.json().at("failed");
  for (const auto& f : failed)
    if (f.at("key") == contacts[6].email) {
      duplicate_listed = true;
      CHECK_THAT(f.at("error").get<std::string>(), Catch::Contains("duplicate"));
    }
  CHECK(duplicate_listed);
  auto status = only_sync(project.run({"status", "--json"}).json());
  CHECK(status.at("status") != "ok");
  CHECK(status.at("records") == 17);
}

TEST_CASE("the state folder of a sync is private (mode 0700)", "[e2e][commands]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(10));
  REQUIRE(run_sync(project).exit_code == 0);
  struct stat st {};
  REQUIRE(::stat(project.state_dir(kSync).c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("rows that keep failing are listed and counted but exit 0 unless --strict; new ones exit 1; the report "
          "says how many it leaves out; append mode counts what it skipped",
          "[e2e][commands]") {
  Project project;
  auto contacts = make_contacts(120);
  for (std::size_t i = 0; i < 104; ++i) contacts[i].age = "unknown";  // not a number
  contacts[110].email = "";                                           // no match key
  make_csv_to_sqlite(project, contacts, "upsert", "\n[schema]\nage = { type = \"number\" }\n");
  const std::string keyless_id = contacts[110].id;

  auto diff = project.run({"diff", kSync});
  INFO(diff.describe());
  CHECK_THAT(diff.out, Catch::Contains("! reject  source record '" + keyless_id + "' (no match key): "));

  auto first = project.run({"run", kSync});
  INFO(first.describe());
  REQUIRE(first.exit_code == 1);  // 105 new problems
  CHECK_THAT(first.out, Catch::Contains("rejected (105, 105 new):"));
  CHECK_THAT(first.out, Catch::Contains("  ... and 5 more: synctool state show contacts\n"));

  // The same rows again: known, listed and counted, not alerted on.
  auto second = project.run({"run", kSync});
  INFO(second.describe());
  CHECK(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::Contains("rejected (105, 0 new):"));
  CHECK_THAT(second.out, Catch::Contains(" (not new: it failed before this run too)\n"));
  CHECK_THAT(second.out, Catch::Contains("exit 0: finished; 105 row(s) still rejected or failed, none of them new"));
  auto strict = run_sync(project, {"--strict"});
  INFO(strict.describe());
  CHECK(strict.exit_code == 1);
  auto known = strict.json();
  CHECK(known.at("new_problems") == 0);
  CHECK(known.at("rejected").size() == 100);
  CHECK(known.at("rejected_omitted") == 5);
  for (const auto& p : known.at("rejected")) CHECK(p.at("new") == false);

  // Two more rows the schema refuses: two new problems.
  contacts[115].age = contacts[116].age = "old";
  project.write_contacts_csv(kSourceCsv, contacts);
  auto fresh = run_sync(project);
  INFO(fresh.describe());
  CHECK(fresh.exit_code == 1);
  CHECK(fresh.json().at("new_problems") == 2);

  // Append mode: rows the destination has already are skipped, and said so.
  std::string events = contacts_sync_toml("append");
  const std::string destination = "object     = \"contacts\"\nkey        = \"email\"";
  REQUIRE(events.find(destination) != std::string::npos);
  events.replace(events.find(destination), destination.size(), "object     = \"events\"\nkey        = \"email\"");
  project.write_sync("events", events);
  Db db(project.path(kWarehouse));
  db.exec("CREATE TABLE events (email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, company TEXT, age TEXT)");
  db.exec("INSERT INTO events (email) VALUES ('person119@example.com'), ('person120@example.com')");
  auto append = run_sync(project, {}, "events");
  INFO(append.describe());
  CHECK(append.json().at("destination").at("skipped") == 2);
  CHECK(db.query("SELECT first_name FROM events WHERE email = 'person120@example.com'")[0].at("first_name") == "");
  auto text = project.run({"run", "events"});
  INFO(text.describe());
  CHECK_THAT(text.out, Catch::Contains(" skipped "));
}

}  // namespace synctool::e2e
