// The example project in syncs/ (the one scripts/demo runs), driven through the binary.
#include "e2e/harness.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>

#include <set>

namespace synctool::e2e {

namespace {

constexpr const char* kExampleSync = "crm-to-warehouse";

// A copy of syncs/ with the warehouse database created from sample-data/warehouse.sql.
void copy_example_project(const Project& project) {
  fs::copy(fs::path(SYNCTOOL_SOURCE_DIR) / "syncs", project.root(),
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  Db db(project.path("sample-data/warehouse.db"));
  db.exec(project.read_file("sample-data/warehouse.sql"));
}

bool is_number(const std::string& text) {
  if (text.empty()) return true;  // no value is not a schema violation
  try {
    std::size_t used = 0;
    std::stod(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}

// What the warehouse must hold after the baseline, worked out from the export itself:
// filter, normalized key, no duplicate keys, valid email and age.
std::set<std::string> expected_emails(const Rows& export_rows) {
  std::map<std::string, std::vector<const Row*>> by_key;
  for (const auto& row : export_rows) {
    if (row.at("lifecycle_stage") == "unsubscribed") continue;
    by_key[util::to_lower(util::trim(row.at("email")))].push_back(&row);
  }
  std::set<std::string> emails;
  for (const auto& [key, rows] : by_key) {
    if (key.empty() || rows.size() > 1 || key.find('@') == std::string::npos) continue;
    if (!is_number(rows[0]->at("age"))) continue;
    emails.insert(key);
  }
  return emails;
}

const nlohmann::json* find_reject(const nlohmann::json& report, const std::string& source_id) {
  for (const auto& r : report.at("rejected"))
    if (r.value("source_id", "") == source_id) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("the example project checks, baselines with its dirty rows rejected, links existing rows and then rests",
          "[e2e][example]") {
  Project project;
  copy_example_project(project);
  Db warehouse(project.path("sample-data/warehouse.db"));
  REQUIRE(warehouse.count("contacts") == 5);

  auto check = project.run({"check", "--json"});
  INFO(check.describe());
  REQUIRE(check.exit_code == 0);
  CHECK(check.json().at("ok") == true);

  auto first = project.run({"run", kExampleSync, "--json"});
  INFO(first.describe());
  REQUIRE(first.exit_code == 1);  // rows were rejected
  auto report = first.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(report.at("mode") == "mirror");
  CHECK(report.at("exit_code") == 1);
  CHECK(report.at("source").at("read") == 1000);

  {  // the rejects, each with its reason
    // The duplicate pair (rows 51 and 52 share paul.obrien52@example.com once normalized).
    const auto* duplicate = find_reject(report, "51");
    if (!duplicate) duplicate = find_reject(report, "52");
    REQUIRE(duplicate);
    CHECK(duplicate->at("key") == "paul.obrien52@example.com");
    CHECK_THAT(duplicate->at("reason").get<std::string>(), Catch::Contains("duplicate"));

    const auto* invalid_email = find_reject(report, "41");
    REQUIRE(invalid_email);
    CHECK_THAT(invalid_email->at("reason").get<std::string>(), Catch::Contains("email"));

    const auto* bad_age = find_reject(report, "31");
    REQUIRE(bad_age);
    CHECK_THAT(bad_age->at("reason").get<std::string>(), Catch::Contains("age"));
    CHECK_THAT(bad_age->at("reason").get<std::string>(), Catch::Contains("unknown"));

    const auto* no_email = find_reject(report, "71");
    REQUIRE(no_email);
    CHECK_THAT(no_email->at("reason").get<std::string>(), Catch::Contains("email"));

    CHECK(report.at("rejected").size() == 4);
    CHECK(report.at("destination").at("rejected") == 4);
  }

  // The five rows already in the warehouse were linked, not created again.
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts") ==
        warehouse.scalar("SELECT count(DISTINCT email) FROM contacts"));
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts WHERE email = 'chloe.silva101@example.com'") == 1);
  CHECK(report.at("destination").at("unchanged").get<int>() + report.at("destination").at("updated").get<int>() == 5);

  auto expected = expected_emails(project.read_csv("sample-data/crm-export/contacts.csv"));
  std::set<std::string> actual;
  for (const auto& row : warehouse.query("SELECT email FROM contacts")) actual.insert(row.at("email"));
  CHECK(actual == expected);
  CHECK(report.at("destination").at("created").get<std::size_t>() == expected.size() - 5);
  // Normalized keys: the padded upper-case address of row 11 is stored trimmed and lowercased.
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts WHERE email = 'sami.jensen11@example.com'") == 1);
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts WHERE synced_from = 'crm'") == warehouse.count("contacts"));

  auto second = project.run({"run", kExampleSync, "--json"});
  INFO(second.describe());
  REQUIRE((second.exit_code == 0 || second.exit_code == 1));
  auto again = second.json();
  CHECK(writes(again) == 0);
  CHECK(again.at("kind") != "baseline");
  CHECK(warehouse.count("contacts") == static_cast<std::int64_t>(expected.size()));
}

}  // namespace synctool::e2e
