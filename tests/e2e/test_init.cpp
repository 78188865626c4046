// `synctool init SOURCE_TYPE DESTINATION_TYPE`: the project it writes for every pair of
// connection types passes `check` once the variables it names are set (and fails naming each
// one until then); projects of file-based types run as written; existing files are kept.
#include "e2e/fixtures.hpp"
#include "e2e/mailchimp_job.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

namespace synctool::e2e {

namespace {

const std::vector<std::string> kTypes = {"csv", "hubspot", "mailchimp", "postgres", "salesforce", "sqlite"};

// A value of the form the connector takes for a variable init names (checked, never used:
// check without --connect reaches no system).
std::string plausible_value(const std::string& variable) {
  auto ends_with = [&](const std::string& suffix) {
    return variable.size() >= suffix.size() && variable.compare(variable.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("_URL")) return "postgresql://sync:init-test-secret@127.0.0.1:1/contacts";
  if (ends_with("_API_KEY")) return "0123456789abcdef0123456789abcdef-us6";
  return "init-test-secret-" + variable;
}

Result init(const Project& project, std::vector<std::string> args) {
  args.insert(args.begin(), "init");
  return project.run(args);
}

}  // namespace

// Every type on each side, once with itself and once with the next type (all 36 pairs took
// three minutes of sanitized runs on a busy machine; a pair's files are its two types' parts).
TEST_CASE("init writes a project for pairs of connection types; check names each unset variable, then passes",
          "[e2e][init]") {
  for (std::size_t i = 0; i < kTypes.size(); ++i) {
    for (const auto& destination : {kTypes[i], kTypes[(i + 1) % kTypes.size()]}) {
      const auto& source = kTypes[i];
      Project project;
      const std::string pair = source + " " + destination;
      INFO(pair);
      auto made = init(project, {source, destination, "--dir", "project", "--json"});
      INFO(made.describe());
      REQUIRE(made.exit_code == 0);
      auto written = made.json().at("written");
      REQUIRE(written.size() >= 2);
      CHECK(written[0] == "project/synctool.toml");
      CHECK(written[1] == "project/syncs/" + source + "-" + destination + ".toml");
      const fs::path root = project.path("project");
      auto toml = project.read_file("project/synctool.toml");
      CHECK(toml.find("# ") != std::string::npos);  // commented
      // The same type twice: two connections, named by their role.
      if (source == destination) {
        CHECK(toml.find("[connections." + source + "_source]") != std::string::npos);
        CHECK(toml.find("[connections." + source + "_destination]") != std::string::npos);
      }

      // Credentials come from the environment: every type that takes one names its variable.
      std::vector<std::string> variables = made.json().at("variables");
      for (const auto& type : {source, destination})
        if (type != "csv" && type != "sqlite")
          CHECK_FALSE(variables.empty());
      for (const auto& variable : variables) {
        CHECK(toml.find("${" + variable + "}") != std::string::npos);
        ::unsetenv(variable.c_str());
      }

      auto unset = run_synctool(root, {"check"});
      INFO(unset.describe());
      if (variables.empty()) {
        CHECK(unset.exit_code == 0);
      } else {
        CHECK(unset.exit_code == 2);
        for (const auto& variable : variables)
          CHECK(unset.err.find("environment variable " + variable + " is not set") != std::string::npos);
      }

      Env env;
      for (const auto& variable : variables) env[variable] = plausible_value(variable);
      auto set = run_synctool(root, {"check"}, env);
      INFO(set.describe());
      CHECK(set.exit_code == 0);
      CHECK(set.err.find("error") == std::string::npos);
      for (const auto& [variable, value] : env) {
        CHECK(set.out.find(value) == std::string::npos);
        CHECK(set.err.find(value) == std::string::npos);
      }
    }
  }
}

TEST_CASE("init csv sqlite: the project runs as written once the export has rows", "[e2e][init]") {
  Project project;
  auto made = init(project, {"csv", "sqlite"});
  INFO(made.describe());
  REQUIRE(made.exit_code == 0);
  CHECK(made.out.find("wrote synctool.toml, syncs/csv-sqlite.toml, csv/contacts.csv") != std::string::npos);
  // The folder and a header row to fill in.
  CHECK(project.read_file("csv/contacts.csv") == "email,first_name,last_name\n");
  project.write_file("csv/contacts.csv", "email,first_name,last_name\n"
                                         " Ann.Lee@Northwind-Mail.com ,Ann,Lee\n"
                                         "bob.stone@contoso-mail.com, Bob ,Stone\n");
  REQUIRE(project.run({"check"}).exit_code == 0);

  auto first = project.run({"run", "csv-sqlite", "--json"});
  INFO(first.describe());
  REQUIRE(first.exit_code == 0);
  CHECK(first.json().at("kind") == "baseline");
  CHECK(first.json().at("destination").at("created") == 2);
  // sqlite.db was made by the run (create = true, create_table = true).
  Db db(project.path("sqlite.db"));
  auto rows = index_by(db.query("SELECT email, first_name, last_name FROM contacts"), "email");
  REQUIRE(rows.size() == 2);
  CHECK(rows.at("ann.lee@northwind-mail.com").at("first_name") == "Ann");
  CHECK(rows.at("bob.stone@contoso-mail.com").at("first_name") == "Bob");

  auto again = project.run({"run", "csv-sqlite", "--json"});
  INFO(again.describe());
  REQUIRE(again.exit_code == 0);
  CHECK(writes(again.json()) == 0);
}

TEST_CASE("init for file-based pairs: sqlite to csv, sqlite to sqlite and csv to csv run end to end", "[e2e][init]") {
  SECTION("sqlite csv") {
    Project project;
    REQUIRE(init(project, {"sqlite", "csv"}).exit_code == 0);
    Db source(project.path("sqlite.db"));
    source.exec("CREATE TABLE contacts (email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT);"
                "INSERT INTO contacts VALUES ('chen.wu@fabrikam-mail.com', 'Chen', 'Wu')");
    auto run = project.run({"run", "sqlite-csv", "--json"});
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    auto rows = project.read_csv("csv/contacts.csv");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].at("email") == "chen.wu@fabrikam-mail.com");
    CHECK(rows[0].at("last_name") == "Wu");
  }
  SECTION("sqlite sqlite") {
    Project project;
    auto made = init(project, {"sqlite", "sqlite"});
    INFO(made.describe());
    REQUIRE(made.exit_code == 0);
    Db source(project.path("sqlite_source.db"));
    source.exec("CREATE TABLE contacts (email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT);"
                "INSERT INTO contacts VALUES ('dana.cruz@tailspin-mail.com', 'Dana', 'Cruz')");
    auto run = project.run({"run", "sqlite-sqlite", "--json"});
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    Db destination(project.path("sqlite_destination.db"));
    CHECK(destination.query("SELECT email, first_name FROM contacts") ==
          Rows{{{"email", "dana.cruz@tailspin-mail.com"}, {"first_name", "Dana"}}});
  }
  SECTION("csv csv") {
    Project project;
    REQUIRE(init(project, {"csv", "csv"}).exit_code == 0);
    project.write_file("csv_source/contacts.csv", "email,first_name,last_name\neve@example.org,Eve,Moss\n");
    auto run = project.run({"run", "csv-csv", "--json"});
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    auto rows = project.read_csv("csv_destination/contacts.csv");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].at("first_name") == "Eve");
  }
}

TEST_CASE("init hubspot mailchimp: with its variables set, the project as written reaches both services and runs",
          "[e2e][init]") {
  em::SampleContactsOptions sample;
  sample.count = 60;
  sample.company_required = false;  // the generated field map writes FNAME and LNAME only
  sample.dirty = false;
  auto data = em::make_sample_contacts(sample);
  hs::HubspotEmulator hubspot(generous_emulator_options());
  hubspot.start();
  hubspot.load_seed(data.hubspot_seed);
  em::MailchimpEmulatorOptions mailchimp_options;
  em::MailchimpEmulator mailchimp(mailchimp_options);
  mailchimp.load_seed(data.mailchimp_seed);
  mailchimp.start();

  Project project;
  auto made = init(project, {"hubspot", "mailchimp"});
  INFO(made.describe());
  REQUIRE(made.exit_code == 0);
  // The generated audience name is the sample's; HUBSPOT_BASE_URL and MAILCHIMP_BASE_URL are
  // the generated files' way to a proxy, here the emulators.
  REQUIRE(project.read_file("syncs/hubspot-mailchimp.toml").find("list = \"main-audience\"") != std::string::npos);
  Env env = {{"HUBSPOT_TOKEN", kEmulatorToken},
             {"HUBSPOT_BASE_URL", hubspot.base_url()},
             {"MAILCHIMP_API_KEY", mailchimp_options.api_key},
             {"MAILCHIMP_BASE_URL", mailchimp.base_url()}};
  auto check = project.run({"check", "--connect"}, env);
  INFO(check.describe());
  REQUIRE(check.exit_code == 0);

  auto run = project.run({"run", "hubspot-mailchimp", "--json"}, env);
  INFO(run.describe());
  REQUIRE(run.exit_code == 0);
  CHECK(run.json().at("kind") == "baseline");
  CHECK(run.json().at("destination").at("created").get<int>() > 0);
  auto audience = audience_of(mailchimp, mailchimp.list_id(sample.list_name), nullptr);
  for (const auto& contact : data.contacts) {
    INFO(contact.email);
    auto member = audience.find(lower_text(contact.email));
    REQUIRE(member != audience.end());
    CHECK(member->second.fname == contact.firstname);
    CHECK(member->second.lname == contact.lastname);
  }
  for (const auto& secret : {std::string(kEmulatorToken), mailchimp_options.api_key}) {
    CHECK(run.out.find(secret) == std::string::npos);
    CHECK(run.err.find(secret) == std::string::npos);
  }
}

TEST_CASE("init refuses to overwrite a project unless --force, and never replaces data files", "[e2e][init]") {
  Project project;
  REQUIRE(init(project, {"csv", "sqlite"}).exit_code == 0);
  const std::string toml = project.read_file("synctool.toml");
  project.write_file("synctool.toml", toml + "# my edit\n");
  project.write_file("csv/contacts.csv", "email,first_name,last_name\nkept@example.org,Kept,Row\n");

  auto again = init(project, {"csv", "sqlite"});
  INFO(again.describe());
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("synctool.toml, syncs/csv-sqlite.toml exist: init does not overwrite") != std::string::npos);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(project.read_file("synctool.toml") == toml + "# my edit\n");

  // Another pair: only the project file is in the way, and nothing is written.
  auto other = init(project, {"hubspot", "mailchimp", "--json"});
  INFO(other.describe());
  CHECK(other.exit_code == 2);
  CHECK(other.json().at("error").get<std::string>().find("synctool.toml exists") != std::string::npos);
  CHECK_FALSE(fs::exists(project.path("syncs/hubspot-mailchimp.toml")));

  auto forced = init(project, {"csv", "sqlite", "--force"});
  INFO(forced.describe());
  REQUIRE(forced.exit_code == 0);
  CHECK(forced.out.find("kept csv/contacts.csv") != std::string::npos);
  CHECK(project.read_file("synctool.toml") == toml);
  CHECK(project.read_file("csv/contacts.csv") == "email,first_name,last_name\nkept@example.org,Kept,Row\n");
}

TEST_CASE("init: usage errors name what is wrong", "[e2e][init]") {
  Project project;
  auto unknown = init(project, {"hubspto", "mailchimp"});
  INFO(unknown.describe());
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown connection type 'hubspto' (did you mean 'hubspot'?)") != std::string::npos);
  auto one = init(project, {"hubspot"});
  INFO(one.describe());
  CHECK(one.exit_code == 2);
  CHECK_FALSE(fs::exists(project.path("synctool.toml")));
  // --dir makes the folder, nested.
  auto nested = init(project, {"hubspot", "mailchimp", "--dir", "a/b"});
  INFO(nested.describe());
  REQUIRE(nested.exit_code == 0);
  CHECK(fs::exists(project.path("a/b/syncs/hubspot-mailchimp.toml")));
  CHECK(nested.out.find("set HUBSPOT_TOKEN, MAILCHIMP_API_KEY") != std::string::npos);
  CHECK(nested.out.find("cd a/b && synctool check") != std::string::npos);
}

}  // namespace synctool::e2e
