#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>
#include <map>
#include <set>

namespace synctool::e2e {

std::string contacts_table_sql(bool unique_email) {
  if (unique_email)
    return "CREATE TABLE contacts (email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, company TEXT, age TEXT)";
  // A plain index keeps lookups fast without making duplicates impossible.
  return "CREATE TABLE contacts (email TEXT, first_name TEXT, last_name TEXT, company TEXT, age TEXT);"
         "CREATE INDEX contacts_email ON contacts(email)";
}

std::string contacts_sync_toml(const std::string& mode, const std::string& normalize, const std::string& extra,
                               const std::string& destination_keys) {
  return R"(direction = "one-way"
mode      = ")" + mode + R"("

[source]
connection = "crm"
object     = "contacts"
key        = "id"

[destination]
connection = "warehouse"
object     = "contacts"
key        = "email"
)" + destination_keys + R"(
[match]
source      = "email"
destination = "email"
normalize   = )" + normalize + R"(

[field_map]
email      = "email"
first_name = "first_name"
last_name  = "last_name"
company    = "company"
age        = "age"
)" + extra;
}

void make_csv_to_sqlite(const Project& project, const std::vector<Contact>& contacts, const std::string& mode,
                        const std::string& extra, bool unique_email) {
  project.write_config(kProjectToml);
  project.write_sync(kSync, contacts_sync_toml(mode, R"(["trim", "lowercase"])", extra));
  project.write_contacts_csv(kSourceCsv, contacts);
  Db db(project.path(kWarehouse));
  db.exec(contacts_table_sql(unique_email));
}

std::string rows_differences(const Rows& rows, const std::vector<Contact>& expected, const std::string& where) {
  std::string out;
  int reported = 0;
  auto note = [&](const std::string& line) {
    if (++reported <= 10) out += line + "\n";
  };
  std::map<std::string, const Row*> by_email;
  for (const auto& row : rows) {
    auto email = row.count("email") ? row.at("email") : "";
    if (!by_email.emplace(email, &row).second) note(where + ": duplicate email " + email);
  }
  std::set<std::string> wanted;
  for (const auto& c : expected) {
    wanted.insert(c.email);
    auto it = by_email.find(c.email);
    if (it == by_email.end()) {
      note(where + ": missing " + c.email);
      continue;
    }
    const Row& row = *it->second;
    auto value = [&](const char* column) { return row.count(column) ? row.at(column) : std::string("<no column>"); };
    for (auto [column, want] : {std::pair{"first_name", &c.first_name}, std::pair{"last_name", &c.last_name},
                                std::pair{"company", &c.company}, std::pair{"age", &c.age}}) {
      if (value(column) != *want)
        note(where + ": " + c.email + " " + column + " is '" + value(column) + "', expected '" + *want + "'");
    }
  }
  for (const auto& [email, row] : by_email)
    if (!wanted.count(email)) note(where + ": unexpected row " + email);
  if (reported > 10) out += "... " + std::to_string(reported - 10) + " more\n";
  if (!out.empty())
    out += where + " holds " + std::to_string(rows.size()) + " rows, expected " + std::to_string(expected.size()) + "\n";
  return out;
}

std::string stamp(int seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "2026-01-%02dT%02d:%02d:%02dZ", 1 + seconds / 86400, seconds / 3600 % 24,
                seconds / 60 % 60, seconds % 60);
  return text;
}

void make_sqlite_to_csv(const Project& project, const std::vector<Contact>& contacts) {
  project.write_config(R"(state_dir = ".synctool"

[connections.app]
type = "sqlite"
path = "app.db"

[connections.files]
type = "csv"
path = "out"
)");
  project.write_sync(kPeopleSync, R"(direction = "one-way"
mode      = "upsert"

[source]
connection    = "app"
object        = "people"
key           = "id"
cursor_column = "updated_at"

[destination]
connection = "files"
object     = "people"

[match]
source      = "email"
destination = "email"
normalize   = ["trim", "lowercase"]

[field_map]
email      = "email"
first_name = "first_name"
last_name  = "last_name"
company    = "company"
age        = "age"
)");
  fs::create_directories(project.path("out"));
  Db db(project.path(kAppDb));
  db.exec(
      "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, company TEXT, "
      "age TEXT, updated_at TEXT)");
  db.exec("BEGIN");
  for (const auto& c : contacts) {
    db.exec("INSERT INTO people VALUES (" + c.id + "," + sql_quote(c.email) + "," + sql_quote(c.first_name) + "," +
            sql_quote(c.last_name) + "," + sql_quote(c.company) + "," + sql_quote(c.age) + "," + sql_quote(stamp(std::stoi(c.id))) +
            ")");
  }
  db.exec("COMMIT");
}

std::string table_differences(const Db& db, const std::vector<Contact>& expected) {
  return rows_differences(db.query("SELECT email, first_name, last_name, company, age FROM contacts"), expected,
                     "table contacts");
}

std::string csv_differences(const Project& project, const std::string& file, const std::vector<Contact>& expected) {
  return rows_differences(project.read_csv(file), expected, file);
}

Result run_sync(const Project& project, std::vector<std::string> flags, const std::string& sync) {
  std::vector<std::string> args{"run", sync, "--json"};
  args.insert(args.end(), flags.begin(), flags.end());
  return project.run(args);
}

void check_connection_error(const Result& r, const std::string& names) {
  INFO(r.describe());
  REQUIRE(r.exit_code == 3);
  auto report = r.json();
  CHECK(report.at("exit_code") == 3);
  CHECK_THAT(report.value("error", ""), Catch::Contains(names));
  CHECK_THAT(r.err, Catch::Contains("synctool: error: ") && Catch::Contains(names));
  CHECK(writes(report) == 0);
}

KillSummary kill_rounds(const KillRounds& r, std::mt19937& random) {
  auto timed = [&] {
    auto started = std::chrono::steady_clock::now();
    r.run_to_completion();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  };
  KillSummary summary;
  r.reset();
  summary.baseline_ms = timed();
  r.check();
  r.edit(0);
  summary.incremental_ms = timed();
  r.check();
  std::uniform_int_distribution<long> baseline_delay(0, summary.baseline_ms),
      incremental_delay(0, summary.incremental_ms);
  int round = 1;
  while (summary.landed < r.kills && summary.landed + summary.too_late < r.kills * 3) {
    const bool baseline = round % 3 == 0;
    if (baseline)
      r.reset();
    else
      r.edit(round);
    ++round;
    const auto delay = std::chrono::milliseconds(baseline ? baseline_delay(random) : incremental_delay(random));
    INFO("round " << round << (baseline ? " (baseline)" : " (edits)") << ", kill after " << delay.count() << " ms");
    auto victim = r.spawn();
    std::this_thread::sleep_for(delay);
    victim->kill(SIGKILL);
    auto killed = victim->wait();
    INFO("killed run: " << killed.describe());
    if (killed.exit_code == -SIGKILL)
      ++summary.landed;
    else
      ++summary.too_late;
    r.run_to_completion();
    r.check();
    r.check_quiet();
  }
  summary.rounds = round;
  return summary;
}

}  // namespace synctool::e2e
