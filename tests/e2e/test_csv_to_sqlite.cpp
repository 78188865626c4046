// A CSV export kept in step with a SQLite table: upsert, diff predictions, mirror deletes and
// their safeguards, and a baseline against a destination that already holds records.
#include "e2e/fixtures.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>

#include <set>

namespace synctool::e2e {

namespace {

const char* const kCounts[] = {"created", "updated", "deleted", "rejected", "unchanged", "failed"};

// `diff --json` must predict the destination totals of the run that follows.
void check_diff_predicts(const nlohmann::json& diff, const nlohmann::json& run) {
  const auto& predicted = diff.at("report").at("destination");
  const auto& actual = run.at("destination");
  for (const char* count : kCounts) {
    INFO("count: " << count);
    CHECK(predicted.at(count) == actual.at(count));
  }
  CHECK(diff.at("report").at("dry_run") == true);
}

std::size_t count_actions(const nlohmann::json& diff, const std::string& kind) {
  std::size_t n = 0;
  for (const auto& a : diff.at("actions"))
    if (a.at("action") == kind) ++n;
  return n;
}

std::vector<Contact> without(std::vector<Contact> contacts, const std::set<std::string>& ids) {
  std::erase_if(contacts, [&](const Contact& c) { return ids.count(c.id) > 0; });
  return contacts;
}

}  // namespace

TEST_CASE("csv to sqlite upsert: diff predicts the run, an unchanged source writes nothing, edits update exactly their rows",
          "[e2e][upsert]") {
  Project project;
  auto contacts = make_contacts(1000);
  make_csv_to_sqlite(project, contacts);
  Db db(project.path(kWarehouse));

  auto diff = project.run({"diff", kSync, "--json"});
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 0);
  CHECK(count_actions(diff.json(), "create") == 1000);
  CHECK(db.count("contacts") == 0);  // diff writes nothing, not even state
  CHECK(project.run({"state", "show", kSync, "--json"}).json().at("exists") == false);

  auto first = run_sync(project);
  INFO(first.describe());
  REQUIRE(first.exit_code == 0);
  auto report = first.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(report.at("destination").at("created") == 1000);
  check_diff_predicts(diff.json(), report);
  CHECK(table_differences(db, contacts) == "");

  auto second = run_sync(project);
  INFO(second.describe());
  REQUIRE(second.exit_code == 0);
  CHECK(second.json().at("kind") == "incremental");
  CHECK(writes(second.json()) == 0);
  CHECK(second.json().at("destination").at("unchanged") == 1000);

  // Three edits: a name, a company with a comma, an age.
  contacts[9].first_name = "Renamed";
  contacts[499].company = "New, Company";
  contacts[998].age = "99";
  project.write_contacts_csv(kSourceCsv, contacts);

  auto edits = project.run({"diff", kSync, "--json"});
  INFO(edits.describe());
  REQUIRE(edits.exit_code == 0);
  auto planned = edits.json();
  REQUIRE(count_actions(planned, "update") == 3);
  CHECK(planned.at("actions").size() == 3);
  for (const auto& action : planned.at("actions")) {
    REQUIRE(action.at("changes").size() == 1);
    const auto& change = action.at("changes")[0];
    if (action.at("key") == "person10@example.com") {
      CHECK(change.at("field") == "first_name");
      CHECK(change.at("new") == "Renamed");
    } else if (action.at("key") == "person500@example.com") {
      CHECK(change.at("field") == "company");
      CHECK(change.at("new") == "New, Company");
    } else {
      CHECK(action.at("key") == "person999@example.com");
      CHECK(change.at("field") == "age");
      CHECK(change.at("new") == "99");
    }
  }

  auto third = run_sync(project);
  INFO(third.describe());
  REQUIRE(third.exit_code == 0);
  auto updated = third.json();
  CHECK(updated.at("destination").at("updated") == 3);
  CHECK(updated.at("destination").at("created") == 0);
  CHECK(updated.at("destination").at("deleted") == 0);
  check_diff_predicts(planned, updated);
  CHECK(db.query("SELECT first_name FROM contacts WHERE email = 'person10@example.com'")[0].at("first_name") ==
        "Renamed");
  CHECK(table_differences(db, contacts) == "");

  auto fourth = run_sync(project);
  INFO(fourth.describe());
  REQUIRE(fourth.exit_code == 0);
  CHECK(writes(fourth.json()) == 0);
}

TEST_CASE("csv to sqlite upsert never deletes a row that left the source", "[e2e][upsert]") {
  Project project;
  auto contacts = make_contacts(200);
  make_csv_to_sqlite(project, contacts);
  REQUIRE(run_sync(project).exit_code == 0);

  project.write_contacts_csv(kSourceCsv, without(contacts, {"5", "6"}));
  auto r = run_sync(project, {"--full"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("destination").at("deleted") == 0);
  Db db(project.path(kWarehouse));
  CHECK(table_differences(db, contacts) == "");
}

TEST_CASE("mirror deletes what left the source, stops over the delete cap without writing, and --force goes through",
          "[e2e][mirror]") {
  Project project;
  auto contacts = make_contacts(1000);
  make_csv_to_sqlite(project, contacts, "mirror");
  Db db(project.path(kWarehouse));
  REQUIRE(run_sync(project).exit_code == 0);
  REQUIRE(db.count("contacts") == 1000);

  // One row leaves the source: it leaves the destination.
  contacts = without(contacts, {"7"});
  project.write_contacts_csv(kSourceCsv, contacts);
  auto one = run_sync(project);
  INFO(one.describe());
  REQUIRE(one.exit_code == 0);
  CHECK(one.json().at("destination").at("deleted") == 1);
  CHECK(db.scalar("SELECT count(*) FROM contacts WHERE email = 'person7@example.com'") == 0);
  CHECK(table_differences(db, contacts) == "");

  // 60% leave at once (and one remaining row changes): over the default 5% cap.
  std::vector<Contact> kept;
  for (const auto& c : contacts)
    if (std::stoi(c.id) % 5 < 2) kept.push_back(c);
  REQUIRE(kept.size() == 400);
  auto edited = kept;
  edited[0].first_name = "Edited";
  project.write_contacts_csv(kSourceCsv, edited);

  auto capped = run_sync(project);
  INFO(capped.describe());
  REQUIRE(capped.exit_code == 4);
  auto report = capped.json();
  CHECK(report.at("exit_code") == 4);
  REQUIRE(report.contains("error"));
  CHECK_THAT(report.at("error").get<std::string>(), Catch::Contains("limit"));
  CHECK_THAT(capped.err, Catch::Contains("limit"));
  CHECK(writes(report) == 0);
  CHECK(table_differences(db, contacts) == "");  // not one row touched, the edit included

  auto forced = run_sync(project, {"--force"});
  INFO(forced.describe());
  REQUIRE(forced.exit_code == 0);
  CHECK(forced.json().at("destination").at("deleted") == 599);
  CHECK(forced.json().at("destination").at("updated") == 1);
  CHECK(table_differences(db, edited) == "");
}

TEST_CASE("mirror never empties the destination because the source came back empty", "[e2e][mirror]") {
  Project project;
  auto contacts = make_contacts(100);
  make_csv_to_sqlite(project, contacts, "mirror");
  REQUIRE(run_sync(project).exit_code == 0);

  project.write_contacts_csv(kSourceCsv, {});  // the header only
  auto r = run_sync(project);
  INFO(r.describe());
  CHECK(r.exit_code == 4);
  CHECK(r.json().at("destination").at("deleted") == 0);
  CHECK_FALSE(r.json().value("error", "").empty());
  Db db(project.path(kWarehouse));
  CHECK(table_differences(db, contacts) == "");
}

TEST_CASE("mirror honours a delete cap given as a count", "[e2e][mirror]") {
  Project project;
  auto contacts = make_contacts(100);
  make_csv_to_sqlite(project, contacts, "mirror", "\n[deletes]\nmax = 3\n");
  REQUIRE(run_sync(project).exit_code == 0);
  Db db(project.path(kWarehouse));

  project.write_contacts_csv(kSourceCsv, without(contacts, {"1", "2", "3", "4"}));
  auto over = run_sync(project);
  INFO(over.describe());
  CHECK(over.exit_code == 4);
  CHECK(db.count("contacts") == 100);

  auto remaining = without(contacts, {"1", "2", "3"});
  project.write_contacts_csv(kSourceCsv, remaining);
  auto within = run_sync(project);
  INFO(within.describe());
  CHECK(within.exit_code == 0);
  CHECK(within.json().at("destination").at("deleted") == 3);
  CHECK(table_differences(db, remaining) == "");
}

TEST_CASE("a baseline links records the destination already holds instead of duplicating them", "[e2e][baseline]") {
  Project project;
  auto contacts = make_contacts(1000);
  make_csv_to_sqlite(project, contacts);
  Db db(project.path(kWarehouse));
  // 100 rows equal to the source, 100 with a stale company, 5 stored with an upper-case email.
  db.exec("BEGIN");
  for (std::size_t i = 0; i < 205; ++i) {
    const auto& c = contacts[i];
    std::string email = i >= 200 ? util::to_upper(c.email) : c.email;
    std::string company = i >= 100 && i < 200 ? "Stale Co" : c.company;
    db.exec("INSERT INTO contacts VALUES (" + sql_quote(email) + "," + sql_quote(c.first_name) + "," + sql_quote(c.last_name) +
            "," + sql_quote(company) + "," + sql_quote(c.age) + ")");
  }
  db.exec("COMMIT");

  auto diff = project.run({"diff", kSync, "--json"});
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 0);

  auto first = run_sync(project);
  INFO(first.describe());
  REQUIRE(first.exit_code == 0);
  auto report = first.json();
  check_diff_predicts(diff.json(), report);
  const auto& d = report.at("destination");
  CHECK(d.at("created") == 795);
  CHECK(d.at("updated").get<int>() >= 100);
  CHECK(d.at("updated").get<int>() <= 105);
  CHECK(d.at("updated").get<int>() + d.at("unchanged").get<int>() == 205);
  CHECK(d.at("read") == 205);

  CHECK(db.count("contacts") == 1000);
  CHECK(db.scalar("SELECT count(DISTINCT lower(email)) FROM contacts") == 1000);
  CHECK(rows_differences(db.query("SELECT lower(email) AS email, first_name, last_name, company, age FROM contacts"),
                         contacts, "table contacts") == "");

  auto state = project.run({"state", "show", kSync, "--json"});
  INFO(state.describe());
  CHECK(state.json().at("links") == 1000);

  auto second = run_sync(project);
  INFO(second.describe());
  REQUIRE(second.exit_code == 0);
  CHECK(writes(second.json()) == 0);
}

}  // namespace synctool::e2e
