// Spec errors through the binary: check reports every problem at once with file:line:col,
// a broken spec stops a run before it touches anything, and a changed match key demands
// --resync.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <sstream>

namespace synctool::e2e {

namespace {

// 1-based number of the first line of `text` containing `needle`.
int line_of(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(needle) != std::string::npos) return n;
  throw std::runtime_error("no line contains " + needle);
}

const std::string kTypoSync = R"(direction = "one-way"
mode      = "upsert"

[source]
connection = "crm"
object     = "contacts"
fields     = ["email", "first_name"]

[destination]
connection = "warehouse"
object     = "contacts"

[match]
source      = "email"
destination = "email"
normalise   = ["trim"]

[field_map]
email      = "email"
first_name = "first_name"
last_name  = "last_name"
)";

const std::string kBrokenSync = R"(direction = "one-way"
mode      = "mirorr"

[source]
connection = "crm_exprt"
object     = "contacts"

[destination]
connection = "warehouse"
object     = "${E2E_UNSET_TABLE_VARIABLE}"

[match]
source      = "email"
destination = "email"

[field_map]
first_name = "first_name"
)";

struct Expected {
  std::string file;     // file name
  int line;             // expected line
  std::string message;  // a fragment of the message
  std::string also = "";  // another fragment
};

const nlohmann::json* find_problem(const nlohmann::json& problems, const Expected& e) {
  for (const auto& p : problems) {
    auto message = p.at("message").get<std::string>();
    if (fs::path(p.at("file").get<std::string>()).filename() == e.file && p.at("line") == e.line &&
        message.find(e.message) != std::string::npos && message.find(e.also) != std::string::npos)
      return &p;
  }
  return nullptr;
}

// A valid project file (its database path comes from the environment) and two broken syncs.
void write_broken_project(const Project& project) {
  project.write_config(R"(state_dir = ".synctool"

[connections.crm]
type = "csv"
path = "exports"

[connections.warehouse]
type = "sqlite"
path = "${E2E_WAREHOUSE_DB}"
)");
  project.write_sync("typo", kTypoSync);
  project.write_sync("broken", kBrokenSync);
  project.write_contacts_csv(kSourceCsv, make_contacts(10));
  Db db(project.path(kWarehouse));
  db.exec(contacts_table_sql());
}

}  // namespace

TEST_CASE("check reports every problem of every spec at once with file, line and column", "[e2e][spec]") {
  Project project;
  write_broken_project(project);
  const Env env{{"E2E_WAREHOUSE_DB", "warehouse.db"}};

  auto check = project.run({"check", "--json"}, env);
  INFO(check.describe());
  REQUIRE(check.exit_code == 2);
  auto report = check.json();
  CHECK(report.at("ok") == false);
  const auto& problems = report.at("problems");

  const std::vector<Expected> expected = {
      {"typo.toml", line_of(kTypoSync, "normalise"), "normalise", "did you mean 'normalize'"},
      {"typo.toml", line_of(kTypoSync, "last_name  ="), "last_name", "fields"},
      {"broken.toml", line_of(kBrokenSync, "mirorr"), "mirorr", "mirror"},
      {"broken.toml", line_of(kBrokenSync, "crm_exprt"), "crm_exprt", "not defined"},
      {"broken.toml", line_of(kBrokenSync, "E2E_UNSET_TABLE_VARIABLE"), "E2E_UNSET_TABLE_VARIABLE", "not set"},
      {"broken.toml", 0, "match key", ""},
  };
  for (const auto& e : expected) {
    INFO("expected a problem in " << e.file << " line " << e.line << ": " << e.message << " ... " << e.also);
    const nlohmann::json* found = nullptr;
    if (e.line == 0) {  // the unmapped match key: any line of the file
      for (const auto& p : problems)
        if (fs::path(p.at("file").get<std::string>()).filename() == e.file &&
            p.at("message").get<std::string>().find(e.message) != std::string::npos)
          found = &p;
    } else {
      found = find_problem(problems, e);
    }
    REQUIRE(found);
    CHECK(found->at("line").get<int>() > 0);
    CHECK(found->at("column").get<int>() > 0);
    // Every problem also reaches stderr as "synctool: error: file:line:col: message".
    std::string line = "synctool: error: " + found->at("file").get<std::string>() + ":" +
                       std::to_string(found->at("line").get<int>()) + ":" +
                       std::to_string(found->at("column").get<int>()) + ": " + found->at("message").get<std::string>();
    CHECK_THAT(check.err, Catch::Contains(line));
  }
  CHECK(problems.size() >= expected.size());

  // Without --json the same problems go to stderr and nothing claims success.
  auto text = project.run({"check"}, env);
  INFO(text.describe());
  CHECK(text.exit_code == 2);
  CHECK_THAT(text.err, Catch::Contains("typo.toml:" + std::to_string(line_of(kTypoSync, "normalise")) + ":"));
  CHECK_THAT(text.err, Catch::Contains("E2E_UNSET_TABLE_VARIABLE"));
}

TEST_CASE("check names the column of an unknown key", "[e2e][spec]") {
  Project project;
  project.write_config(kProjectToml);
  project.write_sync(kSync, contacts_sync_toml("upsert", R"(["trim", "lowercase"])", "\n[deletes]\n  maxx = 3\n"));
  auto check = project.run({"check", "--json"});
  INFO(check.describe());
  REQUIRE(check.exit_code == 2);
  const auto problems = check.json().at("problems");
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0].at("message").get<std::string>(), Catch::Contains("did you mean 'max'"));
  CHECK(problems[0].at("column") == 3);
}

TEST_CASE("a run with a broken spec exits 2 and touches nothing", "[e2e][spec]") {
  Project project;
  write_broken_project(project);
  const Env env{{"E2E_WAREHOUSE_DB", "warehouse.db"}};
  const std::string csv_before = project.read_file(kSourceCsv);

  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"run", "typo", "--json"}, {"run", "broken"}, {"run", "--all", "--json"}, {"diff", "typo", "--json"}}) {
    auto r = project.run(args, env);
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("synctool: error: "));
  }
  CHECK_FALSE(fs::exists(project.path(".synctool")));
  Db db(project.path(kWarehouse));
  CHECK(db.count("contacts") == 0);
  CHECK(project.read_file(kSourceCsv) == csv_before);
}

TEST_CASE("a run naming an unknown sync exits 2", "[e2e][spec]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(3));
  auto r = project.run({"run", "contcts", "--json"});
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("contcts"));
  CHECK_FALSE(fs::exists(project.path(".synctool")));
}

TEST_CASE("the value of a secret from the environment never appears in any output", "[e2e][spec]") {
  Project project;
  const std::string secret = "sk-e2e-9f8e7d6c5b4a-secret";
  project.write_config(R"(state_dir = ".synctool"

[connections.crm]
type      = "csv"
path      = "exports"
api_token = "${E2E_API_TOKEN}"
password  = "prefix-${E2E_API_TOKEN}"

[connections.warehouse]
type = "sqlite"
path = "${E2E_UNSET_DB_PATH}"
)");
  project.write_sync(kSync, contacts_sync_toml());
  const Env env{{"E2E_API_TOKEN", secret}};

  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"check", "--json"}, {"check"}, {"run", kSync, "--json"}, {"run", kSync}, {"status", "--json"}}) {
    auto r = project.run(args, env);
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(r.out.find(secret) == std::string::npos);
    CHECK(r.err.find(secret) == std::string::npos);
    CHECK(r.out.find("9f8e7d6c5b4a") == std::string::npos);
    CHECK(r.err.find("9f8e7d6c5b4a") == std::string::npos);
  }
  auto check = project.run({"check"}, env);
  CHECK_THAT(check.err, Catch::Contains("api_token"));
  CHECK_THAT(check.err, Catch::Contains("E2E_UNSET_DB_PATH"));  // unset: named, in the same report
}

TEST_CASE("changing the match key after a run demands --resync, which relinks without duplicates", "[e2e][spec]") {
  Project project;
  auto contacts = make_contacts(300);
  make_csv_to_sqlite(project, contacts);
  Db db(project.path(kWarehouse));
  REQUIRE(run_sync(project).exit_code == 0);

  project.write_sync(kSync, contacts_sync_toml("upsert", R"(["trim"])"));
  contacts[0].first_name = "Changed";
  project.write_contacts_csv(kSourceCsv, contacts);

  auto refused = run_sync(project);
  INFO(refused.describe());
  REQUIRE(refused.exit_code == 6);
  CHECK_THAT(refused.json().value("error", ""), Catch::Contains("--resync"));
  CHECK_THAT(refused.err, Catch::Contains("--resync"));
  CHECK(writes(refused.json()) == 0);
  CHECK(db.query("SELECT first_name FROM contacts WHERE email = 'person1@example.com'")[0].at("first_name") !=
        "Changed");

  auto diff = project.run({"diff", kSync, "--json"});
  INFO(diff.describe());
  CHECK(diff.exit_code == 6);

  auto resync = run_sync(project, {"--resync"});
  INFO(resync.describe());
  REQUIRE(resync.exit_code == 0);
  auto report = resync.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(report.at("destination").at("created") == 0);
  CHECK(report.at("destination").at("updated") == 1);
  CHECK(db.count("contacts") == 300);
  CHECK(db.scalar("SELECT count(DISTINCT email) FROM contacts") == 300);
  CHECK(table_differences(db, contacts) == "");

  auto after = run_sync(project);
  INFO(after.describe());
  REQUIRE(after.exit_code == 0);
  CHECK(writes(after.json()) == 0);
}

}  // namespace synctool::e2e
