// synctool against HubSpot: the emulator (tests/emulators/hubspot) runs in this process and the
// real synctool binary talks HTTP to it. The tests assert on the run reports, on the records
// the emulator holds and on the emulator's request log (what synctool really sent).
#include "e2e/hubspot_fixtures.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace synctool::e2e {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

json state_of(const Project& project, const std::string& sync, const Env& env) {
  auto show = run_with(project, {"state", "show", sync, "--json"}, env);
  INFO(show.describe());
  REQUIRE(show.exit_code == 0);
  return show.json();
}

std::string source_cursor(const Project& project, const std::string& sync, const Env& env) {
  auto state = state_of(project, sync, env);
  if (!state.contains("meta") || !state.at("meta").is_object()) return "";
  return state.at("meta").value("cursor.source", "");
}

// Inputs of the batch write requests (create, update, upsert, archive) in the log.
std::size_t written_inputs(const json& log, const std::string& object = "contacts") {
  std::size_t inputs = 0;
  for (const auto* action : {"/batch/create", "/batch/update", "/batch/upsert", "/batch/archive"})
    for (const auto& entry : logged(log, "POST", "/crm/v3/objects/" + object + action)) {
      auto body = json::parse(entry.value("body", ""), nullptr, false);
      INFO("logged request body: " << entry.value("body", ""));
      REQUIRE(body.is_object());  // small enough to be logged whole
      inputs += body.at("inputs").size();
    }
  return inputs;
}

std::size_t batch_writes(const json& log, const std::string& object = "contacts") {
  std::size_t n = 0;
  for (const auto* action : {"/batch/create", "/batch/update", "/batch/upsert", "/batch/archive"})
    n += logged(log, "POST", "/crm/v3/objects/" + object + action).size();
  return n;
}

// The most requests (search excluded) the log shows arriving within any `window_ms`, by the
// time each reached the emulator (before it queued for the emulator's lock).
std::size_t max_arrivals_in_window(const json& log, std::int64_t window_ms) {
  std::vector<std::int64_t> at;
  for (const auto& entry : log)
    if (entry.value("path", "").starts_with("/crm/") && !entry.value("path", "").ends_with("/search"))
      at.push_back(entry.value("at_ms", std::int64_t{0}));
  std::sort(at.begin(), at.end());
  std::size_t most = 0;
  for (std::size_t i = 0, j = 0; j < at.size(); ++j) {
    while (at[j] - at[i] >= window_ms) ++i;
    most = std::max(most, j - i + 1);
  }
  return most;
}

template <typename Predicate>
bool wait_until(Predicate predicate, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

// A "companies" table in app.db: domain firm<i>.example.com, name "Firm <i>".
void write_firms(const Project& project, int n) {
  Db db(project.path(kAppDb));
  db.exec("CREATE TABLE IF NOT EXISTS firms (id INTEGER PRIMARY KEY, domain TEXT, name TEXT, updated_at TEXT)");
  db.exec("BEGIN");
  for (int i = 1; i <= n; ++i)
    db.exec("INSERT OR REPLACE INTO firms VALUES (" + std::to_string(i) + ", 'firm" + std::to_string(i) +
            ".example.com', 'Firm " + std::to_string(i) + "', " + sql_quote(stamp(i)) + ")");
  db.exec("COMMIT");
}

constexpr const char* kToCompanies = "to_companies";

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. SQLite -> HubSpot contacts

TEST_CASE("sqlite to hubspot contacts: the baseline links the contact hubspot already has, upserts the rest 100 "
          "per call, and incremental runs write exactly what changed, as diff predicted",
          "[e2e][hubspot]") {
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(500);
  write_people(project, contacts);
  // person7 is in HubSpot already, under a mixed-case address and an outdated first name.
  Contact existing = contacts[6];
  existing.email = "Person7@Example.COM";
  existing.first_name = "Outdated";
  emu.load_seed(contacts_seed({existing}, 90001, "2025-01-01T00:00:00.000Z"));
  const auto env = hubspot_env();

  // diff first: it plans the baseline and writes nothing.
  emu.reset_stats();
  auto diff = run_with(project, {"diff", kToHubspot, "--json"}, env);
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 0);
  auto predicted = diff.json().at("report");
  CHECK(predicted.at("kind") == "baseline");
  CHECK(count_of(predicted.at("destination"), "created") == 499);
  CHECK(count_of(predicted.at("destination"), "updated") == 1);
  CHECK(emu.records("contacts").size() == 1);
  CHECK(batch_writes(emu.request_log()) == 0);

  emu.reset_stats();
  auto baseline = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 0);
  auto report = baseline.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(count_of(report.at("source"), "read") == 500);
  CHECK(count_of(report.at("destination"), "created") == 499);
  CHECK(count_of(report.at("destination"), "updated") == 1);
  check_prediction(predicted, report);

  // No duplicate: 500 contacts, the existing one kept its id and got the source's values.
  CHECK(emu.records("contacts").size() == 500);
  CHECK(hubspot_differences(emu, contacts) == "");
  auto by_email = index_by(hubspot_contact_rows(emu), "email");
  CHECK(by_email.at("person7@example.com").at("id") == "90001");
  CHECK(by_email.at("person7@example.com").at("first_name") == contacts[6].first_name);

  // Contacts upsert natively by email: ceil(500 / 100) = 5 batch upserts, no creates.
  auto log = emu.request_log();
  CHECK(logged(log, "POST", "/crm/v3/objects/contacts/batch/upsert").size() == 5);
  CHECK(logged(log, "POST", "/crm/v3/objects/contacts/batch/create").empty());
  CHECK(logged(log, "POST", "/crm/v3/objects/contacts").empty());  // never one by one
  CHECK(batch_writes(log) <= 6);                                   // + at most one batch update for person7

  // Three rows change at the source.
  Db app(project.path(kAppDb));
  app.exec("UPDATE people SET first_name = 'Edited', updated_at = '2026-02-01T00:00:00Z' WHERE id IN (10, 200, 450)");
  for (int id : {10, 200, 450}) contacts[static_cast<std::size_t>(id - 1)].first_name = "Edited";

  auto diff_changes = run_with(project, {"diff", kToHubspot, "--json"}, env);
  INFO(diff_changes.describe());
  REQUIRE(diff_changes.exit_code == 0);
  auto predicted_changes = diff_changes.json().at("report");
  CHECK(predicted_changes.at("kind") == "incremental");
  CHECK(count_of(predicted_changes.at("destination"), "updated") == 3);

  emu.reset_stats();
  auto incremental = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(incremental.describe());
  REQUIRE(incremental.exit_code == 0);
  report = incremental.json();
  CHECK(report.at("kind") == "incremental");
  CHECK(count_of(report.at("destination"), "updated") == 3);
  CHECK(count_of(report.at("destination"), "created") == 0);
  CHECK(count_of(report.at("source"), "read") <= 4);  // the three, and the row at the old cursor
  check_prediction(predicted_changes, report);
  CHECK(written_inputs(emu.request_log()) == 3);
  CHECK(hubspot_differences(emu, contacts) == "");
  CHECK(emu.records("contacts").size() == 500);

  // Nothing changed: nothing is written.
  auto diff_idle = run_with(project, {"diff", kToHubspot, "--json"}, env);
  INFO(diff_idle.describe());
  REQUIRE(diff_idle.exit_code == 0);
  emu.reset_stats();
  auto idle = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(idle.describe());
  REQUIRE(idle.exit_code == 0);
  CHECK(writes(idle.json()) == 0);
  check_prediction(diff_idle.json().at("report"), idle.json());
  CHECK(batch_writes(emu.request_log()) == 0);
  CHECK(hubspot_differences(emu, contacts) == "");
}

// ---------------------------------------------------------------------------------------------
// 2. HubSpot contacts -> CSV, incremental past the search cap

TEST_CASE("hubspot contacts to csv: 12,000 changes sharing one lastmodifieddate all arrive exactly once although "
          "search pages through at most 10,000",
          "[e2e][hubspot][slow]") {
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) { c.rate_limit = "2000/10s"; }));
  project.write_sync(kFromHubspot, hubspot_to_csv_toml("lookback = \"0s\"\n"));
  const auto env = hubspot_env();

  const std::size_t kMany = 12'000;
  auto many = make_contacts(kMany);
  auto old = make_contacts(5, 20'001);
  emu.load_seed(contacts_seed(many, 100'001, "2025-01-01T00:00:00.000Z"));
  emu.load_seed(contacts_seed(old, 200'001, "2024-06-01T00:00:00.000Z"));
  std::vector<Contact> expected = many;
  expected.insert(expected.end(), old.begin(), old.end());

  auto baseline = run_with(project, {"run", kFromHubspot, "--json"}, env);
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 0);
  CHECK(count_of(baseline.json().at("source"), "read") == static_cast<std::int64_t>(expected.size()));
  CHECK(count_of(baseline.json().at("destination"), "created") == static_cast<std::int64_t>(expected.size()));
  CHECK(csv_differences(project, kFromHubspotCsv, expected) == "");

  // Every one of the 12,000 changes at one instant (the emulator's clock is frozen meanwhile).
  const std::int64_t instant = 1'748'736'000'000;  // 2025-06-01T00:00:00Z
  emu.set_frozen_time(instant);
  for (std::size_t first = 0; first < kMany; first += 100) {
    json body = {{"inputs", json::array()}};
    for (std::size_t i = first; i < std::min(kMany, first + 100); ++i) {
      many[i].first_name = "Changed" + std::to_string(i);
      body["inputs"].push_back(
          {{"id", std::to_string(100'001 + i)}, {"properties", {{"firstname", many[i].first_name}}}});
    }
    auto answer = emulator_call(emu, "POST", "/crm/v3/objects/contacts/batch/update", &body);
    INFO(answer.body << answer.error);
    REQUIRE(answer.status == 200);
  }
  emu.set_frozen_time(std::nullopt);
  std::map<std::string, std::size_t> stamps;
  for (const auto& record : emu.records("contacts"))
    ++stamps[record.at("properties").value("lastmodifieddate", std::string("?"))];
  INFO("lastmodifieddate values: " << json(stamps).dump());
  REQUIRE(stamps.size() == 2);  // the 12,000 at one instant, the 5 old ones at theirs
  expected = many;
  expected.insert(expected.end(), old.begin(), old.end());

  emu.reset_stats();
  auto incremental = run_with(project, {"run", kFromHubspot, "--json"}, env);
  INFO(incremental.describe());
  REQUIRE(incremental.exit_code == 0);
  auto report = incremental.json();
  CHECK(report.at("kind") == "incremental");
  CHECK(count_of(report.at("source"), "read") >= static_cast<std::int64_t>(kMany));
  CHECK(count_of(report.at("source"), "read") <= static_cast<std::int64_t>(kMany + old.size()));
  CHECK(count_of(report.at("destination"), "updated") == static_cast<std::int64_t>(kMany));
  CHECK(count_of(report.at("destination"), "created") == 0);
  CHECK(project.read_csv(kFromHubspotCsv).size() == expected.size());
  CHECK(csv_differences(project, kFromHubspotCsv, expected) == "");

  // Search never paged to 10,000 or beyond (HubSpot answers that with 400).
  auto searches = logged(emu.request_log(), "POST", "/crm/v3/objects/contacts/search");
  CHECK(!searches.empty());
  std::size_t beyond = 0, refused = 0;
  for (const auto& entry : searches) {
    if (entry.value("status", 0) == 400) ++refused;
    auto body = json::parse(entry.value("body", ""), nullptr, false);
    if (!body.is_object() || !body.contains("after")) continue;
    const auto& after = body.at("after");
    std::int64_t offset = after.is_string() ? std::stoll(after.get<std::string>()) : after.get<std::int64_t>();
    if (offset >= 10'000) ++beyond;
  }
  INFO(searches.size() << " search requests");
  CHECK(beyond == 0);
  CHECK(refused == 0);
}

// ---------------------------------------------------------------------------------------------
// 3. Faults

TEST_CASE("sqlite to hubspot through 429s, 5xx, timeouts, dropped connections, lost responses and malformed bodies "
          "ends exactly equal to the source, every run accounting for every record",
          "[e2e][hubspot][faults]") {
  auto options = generous_emulator_options();
  options.window_ms = 1000;  // an honoured 429 waits one window: keep it short
  options.faults.rate_429 = 0.08;
  options.faults.rate_500 = 0.08;
  options.faults.rate_timeout = 0.06;
  options.faults.timeout_ms = 3000;
  options.faults.rate_drop = 0.08;
  options.faults.rate_lost_response = 0.08;
  options.faults.rate_malformed = 0.03;
  options.faults.seed = 20260301;
  hs::HubspotEmulator emu(options);
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) {
                          c.rate_limit = "10000/1s";
                          c.timeout = "1s";
                          c.max_retries = 8;
                          c.retry_for = "60s";
                        }));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(3000);
  write_people(project, contacts);
  // 300 of them are in HubSpot already with outdated values: the baseline links and updates them.
  std::vector<Contact> stale(contacts.begin() + 200, contacts.begin() + 500);
  for (auto& c : stale) c.company = "Stale Inc";
  emu.load_seed(contacts_seed(stale, 50'001, "2025-01-01T00:00:00.000Z"));
  const auto env = hubspot_env();

  int runs = 0, last_exit = -1;
  while (runs < 6 && last_exit != 0) {
    ++runs;
    auto r = run_with(project, {"run", kToHubspot, "--json"}, env);
    INFO("run " << runs << ": " << r.describe());
    last_exit = r.exit_code;
    CHECK((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 3));
    if (r.exit_code == 0 || r.exit_code == 1) CHECK(accounting_problem(r.json()) == "");
    if (r.exit_code == 1) CHECK(count_of(r.json().at("destination"), "failed") > 0);
  }
  std::map<std::string, int> kinds;
  for (const auto& entry : emu.request_log())
    if (entry.at("fault").is_string()) ++kinds[entry.at("fault").get<std::string>()];
  INFO("stats: " << emu.stats().dump() << "; faults by kind: " << json(kinds).dump());
  REQUIRE(last_exit == 0);
  CHECK(emu.stats().at("faults_injected").get<int>() > 0);
  CHECK(kinds.size() >= 4);  // most kinds of fault really happened
  CHECK(emu.records("contacts").size() == contacts.size());
  CHECK(hubspot_differences(emu, contacts) == "");

  // Faults off: the sync is complete, a run has nothing left to write.
  emu.set_faults({});
  auto settled = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(settled.describe());
  REQUIRE(settled.exit_code == 0);
  CHECK(writes(settled.json()) == 0);
  CHECK(hubspot_differences(emu, contacts) == "");
}

TEST_CASE("companies by domain (batch create, no native upsert) through lost responses: reruns resolve the pending "
          "creates by lookup and no company is created twice",
          "[e2e][hubspot][faults]") {
  auto options = generous_emulator_options();
  options.faults.paths = {"/crm/v3/objects/companies/batch/create"};
  options.faults.rate_lost_response = 0.5;
  options.faults.seed = 7;
  hs::HubspotEmulator emu(options);
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) {
                          c.timeout = "5s";
                          c.max_retries = 8;
                          c.retry_for = "60s";
                        }));
  project.write_sync(kToCompanies, firms_to_companies_toml());
  const int kFirms = 300;
  write_firms(project, kFirms);
  const auto env = hubspot_env();

  int runs = 0, last_exit = -1;
  while (runs < 6 && last_exit != 0) {
    ++runs;
    auto r = run_with(project, {"run", kToCompanies, "--json", "-v"}, env);
    INFO("run " << runs << ": " << r.describe());
    last_exit = r.exit_code;
    CHECK((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 3));
    if (r.exit_code == 0 || r.exit_code == 1) CHECK(accounting_problem(r.json()) == "");
  }
  auto log = emu.request_log();
  std::size_t lost = 0;
  std::string creates;
  for (const auto& entry : logged(log, "POST", "/crm/v3/objects/companies/batch/create")) {
    if (entry.value("fault", json()).is_string() && entry.at("fault") == "lost_response") ++lost;
    creates += "  " + std::to_string(entry.value("at_ms", 0LL)) + " -> " + std::to_string(entry.value("status", 0)) +
               (entry.at("fault").is_string() ? " (" + entry.at("fault").get<std::string>() + ")" : "") + "\n";
  }
  INFO("batch/create requests:\n" << creates);
  INFO("batch creates whose response was lost: " << lost << "; stats " << emu.stats().dump());
  CHECK(lost > 0);
  REQUIRE(last_exit == 0);

  std::map<std::string, std::vector<std::string>> ids_by_domain;
  for (const auto& record : emu.records("companies")) {
    const auto& p = record.at("properties");
    ids_by_domain[p.value("domain", std::string())].push_back(record.at("id").get<std::string>());
  }
  std::string duplicates;
  for (const auto& [domain, ids] : ids_by_domain)
    if (ids.size() > 1) duplicates += domain + " x" + std::to_string(ids.size()) + "; ";
  CHECK(duplicates == "");
  CHECK(ids_by_domain.size() == static_cast<std::size_t>(kFirms));
  CHECK(emu.records("companies").size() == static_cast<std::size_t>(kFirms));
  for (int i = 1; i <= kFirms; ++i) CHECK(ids_by_domain.count("firm" + std::to_string(i) + ".example.com") == 1);
}

// API-FACTS: HubSpot's search takes IN values on string properties only in lower case and
// compares stored values without regard to case. A key on such a property, kept as it is (no
// "lowercase"), must find the companies HubSpot already has: a real account (and the emulator)
// answers nothing for "Firm 3", so sending the key unchanged would create every one again.
TEST_CASE("companies keyed by their mixed-case name (a string property, no lowercase): the baseline finds those "
          "HubSpot has and creates none twice",
          "[e2e][hubspot]") {
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu));
  project.write_sync("firms_by_name", R"(direction = "one-way"
mode      = "upsert"

[source]
connection    = "app"
object        = "firms"
key           = "id"
cursor_column = "updated_at"

[destination]
connection = "hubspot"
object     = "companies"

[match]
source      = "name"
destination = "name"

[field_map]
name   = "name"
domain = "domain"
)");
  const int kFirms = 12;
  write_firms(project, kFirms);  // names "Firm 1" ... "Firm 12"
  // Firms 1 to 4 are in HubSpot already, under their names and an old domain; "FIRM 5" is
  // another company whose name differs only in case.
  json companies = json::array();
  for (int i = 1; i <= 4; ++i)
    companies.push_back({{"id", std::to_string(700 + i)},
                         {"properties", {{"name", "Firm " + std::to_string(i)}, {"domain", "old" + std::to_string(i) + ".com"}}}});
  companies.push_back({{"id", "799"}, {"properties", {{"name", "FIRM 5"}, {"domain", "shouting.com"}}}});
  emu.load_seed({{"objects", {{"companies", companies}}}});
  const auto env = hubspot_env();

  auto run = run_with(project, {"run", "firms_by_name", "--json"}, env);
  INFO(run.describe());
  REQUIRE(run.exit_code == 0);
  CHECK(count_of(run.json().at("destination"), "created") == kFirms - 4);
  CHECK(count_of(run.json().at("destination"), "updated") == 4);
  std::map<std::string, std::vector<std::string>> ids_by_name;
  for (const auto& record : emu.records("companies"))
    ids_by_name[record.at("properties").value("name", std::string())].push_back(record.at("id").get<std::string>());
  CHECK(emu.records("companies").size() == static_cast<std::size_t>(kFirms + 1));
  for (int i = 1; i <= kFirms; ++i) {
    INFO("Firm " << i);
    REQUIRE(ids_by_name["Firm " + std::to_string(i)].size() == 1);
    if (i <= 4) CHECK(ids_by_name["Firm " + std::to_string(i)][0] == std::to_string(700 + i));
  }
  CHECK(ids_by_name["FIRM 5"] == std::vector<std::string>{"799"});  // its case variant was not taken for it
  // The lookups sent lower-case values only.
  for (const auto& entry : logged(emu.request_log(), "POST", "/crm/v3/objects/companies/search")) {
    auto body = json::parse(entry.value("body", ""), nullptr, false);
    REQUIRE(body.is_object());
    for (const auto& value : body["filterGroups"][0]["filters"][0]["values"])
      CHECK(value.get<std::string>() == lower(value.get<std::string>()));
  }
}

TEST_CASE("a truncated 200 answer to a read is a transient fault: it is retried and does not stop the run",
          "[e2e][hubspot][faults]") {
  // API-FACTS: a body that does not parse is a transient error (a proxy page, a truncated
  // answer); DESIGN: transient errors are retried with backoff.
  const std::string path = GENERATE(as<std::string>{}, "/crm/v3/properties/contacts", "/crm/v3/objects/contacts?");
  INFO("the first request to " << path << " is answered 200 with a truncated body");
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  hs::HubspotFaults faults;
  faults.paths = {path.substr(0, path.find('?'))};
  faults.rate_malformed = 1.0;
  faults.max_faults = 1;
  Project project;
  write_hubspot_project(project, connection_to(emu));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(50);
  write_people(project, contacts);
  emu.set_faults(faults);
  auto r = run_with(project, {"run", kToHubspot, "--json", "-v"}, hubspot_env());
  INFO(r.describe());
  CHECK(emu.stats().at("faults_injected") == 1);
  CHECK(r.exit_code == 0);
  CHECK(hubspot_differences(emu, contacts) == "");
}

TEST_CASE("a truncated answer to one batch upsert fails only that batch's rows; the batches hubspot confirmed "
          "count as written",
          "[e2e][hubspot][faults]") {
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu));  // 4 in flight: 400 rows go out as one round of 4 batches
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(400);
  write_people(project, contacts);
  hs::HubspotFaults faults;
  faults.paths = {"/crm/v3/objects/contacts/batch/upsert"};
  faults.rate_malformed = 1.0;
  faults.max_faults = 1;
  emu.set_faults(faults);
  auto r = run_with(project, {"run", kToHubspot, "--json"}, hubspot_env());
  INFO(r.describe());
  INFO(emu.records("contacts").size() << " contacts in HubSpot after the run");
  REQUIRE((r.exit_code == 0 || r.exit_code == 1));
  const json report = r.json();
  const auto& d = report.at("destination");
  CHECK(count_of(d, "created") + count_of(d, "failed") == 400);
  CHECK(count_of(d, "failed") <= 100);  // at most the batch whose answer was lost
  CHECK(count_of(d, "created") == static_cast<std::int64_t>(emu.records("contacts").size()));

  auto rerun = run_with(project, {"run", kToHubspot, "--json"}, hubspot_env());
  INFO(rerun.describe());
  CHECK(rerun.exit_code == 0);
  CHECK(hubspot_differences(emu, contacts) == "");
}

// ---------------------------------------------------------------------------------------------
// 4. Partial failures

TEST_CASE("rows hubspot refuses (invalid emails) fail alone with the reason, the rest is written, whether hubspot "
          "answers 207 per row or refuses the whole batch",
          "[e2e][hubspot]") {
  const std::string batch_errors = GENERATE(as<std::string>{}, "partial", "whole");
  INFO("batch_errors = " << batch_errors);
  auto options = generous_emulator_options();
  options.batch_errors = batch_errors;
  hs::HubspotEmulator emu(options);
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(200);
  // Five addresses HubSpot rejects (no "email" inside them, so a reason naming the property stands out).
  const std::map<std::size_t, std::string> bad = {{3, "broken-address-4"},
                                                  {50, "person51@@example.com"},
                                                  {51, "person52 at example.com"},
                                                  {120, "person121@localhost"},
                                                  {199, "person200@example."}};
  std::vector<Contact> valid;
  for (std::size_t i = 0; i < contacts.size(); ++i) {
    if (bad.count(i))
      contacts[i].email = bad.at(i);
    else
      valid.push_back(contacts[i]);
  }
  write_people(project, contacts);
  const auto env = hubspot_env();

  auto r = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(r.describe());
  REQUIRE(r.exit_code == 1);
  auto report = r.json();
  CHECK(count_of(report.at("destination"), "created") == static_cast<std::int64_t>(valid.size()));
  CHECK(count_of(report.at("destination"), "failed") + count_of(report.at("destination"), "rejected") == 5);
  CHECK(accounting_problem(report) == "");
  std::map<std::string, std::string> reasons;
  for (const auto* list : {"failed", "rejected"})
    for (const auto& problem : report.at(list)) reasons[problem.value("key", "")] = problem.value("reason", "");
  for (const auto& [index, email] : bad) {
    INFO("invalid email " << email);
    REQUIRE(reasons.count(email) == 1);
    const std::string reason = reasons.at(email);
    INFO("reason: " << reason);
    CHECK((reason.find("INVALID_EMAIL") != std::string::npos || lower(reason).find("email") != std::string::npos));
    CHECK(lower(reason).find("no result") == std::string::npos);
  }
  CHECK(emu.records("contacts").size() == valid.size());
  CHECK(hubspot_differences(emu, valid) == "");

  // The failed rows are retried on the next run and fail again; nothing is written twice.
  auto again = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(again.describe());
  CHECK(again.exit_code == 0);  // the same rows as last time: reported, but no new problem to alert on
  CHECK(again.json().at("new_problems") == 0);
  CHECK(count_of(again.json().at("destination"), "created") == 0);
  const json again_report = again.json();
  CHECK(count_of(again_report.at("destination"), "failed") + count_of(again_report.at("destination"), "rejected") ==
        5);
  CHECK(emu.records("contacts").size() == valid.size());
}

// ---------------------------------------------------------------------------------------------
// 5. OAuth

TEST_CASE("an oauth connection refreshes its expired access token in the middle of a run and no secret or token "
          "appears in the output or the state",
          "[e2e][hubspot][oauth]") {
  auto options = generous_emulator_options();
  options.client_secret = "oauth-client-secret-e2e-5f3a9c";
  options.refresh_token = "oauth-refresh-token-e2e-77d1b0";
  options.rotate_refresh_token = true;
  options.faults.slow_ms = 250;  // /crm/ requests only: the run takes a few seconds
  hs::HubspotEmulator emu(options);
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) {
                          c.max_in_flight = 1;
                          c.oauth = true;
                        }));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(1500);
  write_people(project, contacts);
  const auto env = oauth_env(options);

  auto crm_requests = [&] {
    std::size_t n = 0;
    for (const auto& entry : emu.request_log())
      if (entry.value("path", "").starts_with("/crm/")) ++n;
    return n;
  };
  Spawned run(project.root(), {"run", kToHubspot, "--json", "-v"}, env);
  REQUIRE(wait_until([&] { return crm_requests() >= 3 || !run.running(); }, 30s));
  REQUIRE(run.running());  // still going: the expiry lands in the middle of the run
  emu.expire_tokens();
  const std::size_t mark = emu.request_log().size();
  auto r = run.wait();
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(hubspot_differences(emu, contacts) == "");

  auto log = emu.request_log();
  std::size_t refreshed_after = 0, refused_after = 0;
  for (std::size_t i = mark; i < log.size(); ++i) {
    if (log[i].value("path", "") == "/oauth/v1/token" && log[i].value("status", 0) == 200) ++refreshed_after;
    if (log[i].value("status", 0) == 401) ++refused_after;
  }
  INFO("stats: " << emu.stats().dump());
  CHECK(refreshed_after >= 1);
  CHECK(emu.stats().at("token_refreshes").get<int>() >= 2);
  CHECK(refused_after <= 4);  // one 401 per request in flight, then the new token

  // No secret, refresh token or access token anywhere.
  const fs::path state = project.path(".synctool");
  REQUIRE(!files_under(state).empty());
  for (const std::string& secret : {options.client_secret, options.refresh_token, std::string("emu-access-"),
                                    std::string("emulator-refresh-")}) {
    INFO("secret " << secret);
    CHECK(leaks(secret, r, state) == "");
  }

  // The next run starts from the cached (sealed) token or refreshes again; it still works.
  auto next = run_with(project, {"run", kToHubspot, "--json", "-v"}, env);
  INFO(next.describe());
  CHECK(next.exit_code == 0);
  for (const std::string& secret : {options.client_secret, options.refresh_token, std::string("emu-access-"),
                                    std::string("emulator-refresh-")}) {
    INFO("secret " << secret);
    CHECK(leaks(secret, next, state) == "");
  }
}

// ---------------------------------------------------------------------------------------------
// 6. Daily limit

TEST_CASE("hubspot's daily limit stops the run at once with exit 3 naming it, the cursor stays, and the run after "
          "the limit resets completes",
          "[e2e][hubspot]") {
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(1000);
  write_people(project, contacts);
  const auto env = hubspot_env();

  auto baseline = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 0);
  const std::string cursor = source_cursor(project, kToHubspot, env);
  REQUIRE(!cursor.empty());

  // Every row changes; only three more requests are allowed today.
  Db app(project.path(kAppDb));
  app.exec("UPDATE people SET company = 'Daily Corp', updated_at = '2026-03-01T00:00:00Z'");
  for (auto& c : contacts) c.company = "Daily Corp";
  emu.reset_stats();
  emu.update_options({{"daily_limit", 3}});

  auto started = std::chrono::steady_clock::now();
  auto stopped = run_with(project, {"run", kToHubspot, "--json"}, env);
  auto took = std::chrono::steady_clock::now() - started;
  INFO(stopped.describe());
  REQUIRE(stopped.exit_code == 3);
  CHECK(took < 30s);
  CHECK(lower(stopped.json().value("error", "")).find("daily") != std::string::npos);
  CHECK(lower(stopped.err).find("daily") != std::string::npos);

  auto log = emu.request_log();
  std::optional<std::size_t> first_429;
  for (std::size_t i = 0; i < log.size(); ++i)
    if (log[i].value("status", 0) == 429) {
      first_429 = i;
      break;
    }
  INFO("request log: " << log.dump().substr(0, 3000));
  REQUIRE(first_429.has_value());
  CHECK(log.size() - *first_429 - 1 <= 3);  // stopped, did not spin on the 429
  CHECK(source_cursor(project, kToHubspot, env) == cursor);

  // The limit resets.
  emu.update_options({{"daily_limit", 10'000'000}});
  auto resumed = run_with(project, {"run", kToHubspot, "--json"}, env);
  INFO(resumed.describe());
  REQUIRE(resumed.exit_code == 0);
  CHECK(hubspot_differences(emu, contacts) == "");
  CHECK(emu.records("contacts").size() == contacts.size());
  CHECK(source_cursor(project, kToHubspot, env) == "2026-03-01T00:00:00Z");
}

// ---------------------------------------------------------------------------------------------
// 7. The rate limit

TEST_CASE("a connection paced at hubspot's own limit is never throttled, and one paced faster than hubspot allows "
          "still completes by honouring the 429s",
          "[e2e][hubspot][ratelimit]") {
  // 3,000 contacts are 30 batch upserts plus 2 reads. (600 contacts would be 6 batch calls
  // plus 2 reads, which never reach a limit of 20 per window: the limit would not be tested.)
  auto contacts = make_contacts(3000);
  const auto env = hubspot_env();

  SECTION("paced at the limit") {
    // One request at a time, so that the emulator counts arrivals as they are sent (with many
    // in flight it queues them and its counts drift). It answers a batch in well under 0.5 s,
    // so 32 requests would pass 20 per 10 s unless synctool paced them.
    auto options = generous_emulator_options();
    options.ten_second_limit = 20;
    options.window_ms = 10'000;
    hs::HubspotEmulator emu(options);
    start_emulator(emu);
    Project project;
    write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) {
                            c.rate_limit = "20/10s";
                            c.max_in_flight = 1;
                          }));
    project.write_sync(kToHubspot, people_to_hubspot_toml());
    write_people(project, contacts);
    emu.reset_stats();
    auto r = run_with(project, {"run", kToHubspot, "--json"}, env);
    INFO(r.describe());
    INFO("stats: " << emu.stats().dump());
    INFO("most requests arriving within 10 s by the request log: "
         << max_arrivals_in_window(emu.request_log(), 10'000));
    REQUIRE(r.exit_code == 0);
    CHECK(emu.stats().at("requests").get<int>() > 20);
    CHECK(emu.stats().at("throttled_by_limit").get<int>() == 0);
    CHECK(emu.stats().at("max_in_any_window").get<int>() <= 20);
    CHECK(r.json().at("duration_s").get<double>() >= 10.0);  // it waited for the window
    CHECK(hubspot_differences(emu, contacts) == "");
  }
  SECTION("paced faster than hubspot allows") {
    // 30 batch upserts at once against 20 per 2 s: HubSpot throttles some of them.
    auto options = generous_emulator_options();
    options.ten_second_limit = 20;
    options.window_ms = 2000;
    hs::HubspotEmulator emu(options);
    start_emulator(emu);
    Project project;
    write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) {
                            c.rate_limit = "100/2s";
                            c.max_in_flight = 32;
                          }));
    project.write_sync(kToHubspot, people_to_hubspot_toml());
    write_people(project, contacts);
    emu.reset_stats();
    auto r = run_with(project, {"run", kToHubspot, "--json"}, env);
    INFO(r.describe());
    INFO("stats: " << emu.stats().dump());
    REQUIRE(r.exit_code == 0);
    CHECK(emu.stats().at("throttled_by_limit").get<int>() > 0);
    CHECK(count_of(r.json().at("destination"), "created") == 3000);
    CHECK(count_of(r.json().at("destination"), "failed") == 0);
    CHECK(hubspot_differences(emu, contacts) == "");
  }
}

// ---------------------------------------------------------------------------------------------
// 8. Secrets

TEST_CASE("the private app token never appears in any command's output or in the state, and a refused token "
          "exits 3 without showing it",
          "[e2e][hubspot][secrets]") {
  const std::string token = "pat-na1-e2e-secret-0123456789";
  auto options = generous_emulator_options();
  options.private_app_token = token;
  hs::HubspotEmulator emu(options);
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  auto contacts = make_contacts(50);
  write_people(project, contacts);
  const auto env = hubspot_env(token);
  const fs::path state = project.path(".synctool");

  const std::vector<std::vector<std::string>> commands = {
      {"check", "--connect", "-v"},
      {"check", "--connect", "--json", "-v"},
      {"diff", kToHubspot, "-v"},
      {"diff", kToHubspot, "--json", "-v"},
      {"run", kToHubspot, "-v"},
      {"run", kToHubspot, "--json", "-v"},
      {"run", kToHubspot, "--full", "--json", "-v"},
      {"status", "-v"},
      {"status", "--json", "-v"},
      {"runs", "-v"},
      {"runs", "--json", "-v"},
      {"state", "show", kToHubspot, "-v"},
      {"state", "show", kToHubspot, "--json", "-v"},
  };
  for (const auto& args : commands) {
    auto r = run_with(project, args, env);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(leaks(token, r, state) == "");
    CHECK(leaks("e2e-secret-0123456789", r, state) == "");
  }
  CHECK(hubspot_differences(emu, contacts) == "");
  REQUIRE(!files_under(state).empty());

  // A wrong token: HubSpot answers 401; synctool stops with exit 3 and does not echo it.
  const std::string wrong = "pat-na1-wrong-secret-9876543210";
  Db app(project.path(kAppDb));
  app.exec("UPDATE people SET company = 'After', updated_at = '2026-03-01T00:00:00Z' WHERE id = 1");
  auto refused = run_with(project, {"run", kToHubspot, "--json", "-v"}, hubspot_env(wrong));
  INFO(refused.describe());
  CHECK(refused.exit_code == 3);
  const std::string error = refused.json().value("error", "");
  CHECK((error.find("401") != std::string::npos || lower(error).find("credential") != std::string::npos ||
         lower(error).find("token") != std::string::npos));
  CHECK(leaks(wrong, refused, state) == "");
  CHECK(leaks("wrong-secret-9876543210", refused, state) == "");
  CHECK(leaks(token, refused, state) == "");
  auto check_refused = run_with(project, {"check", "--connect", "-v"}, hubspot_env(wrong));
  INFO(check_refused.describe());
  CHECK(check_refused.exit_code != 0);
  CHECK(leaks(wrong, check_refused, state) == "");
}

// ---------------------------------------------------------------------------------------------
// 9. Schema management

TEST_CASE("synctool schema plans hubspot properties, --apply creates them, and a json field is a spec error",
          "[e2e][hubspot][schema]") {
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu));
  const auto env = hubspot_env();
  {
    Db db(project.path(kAppDb));
    db.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, plan TEXT, seats TEXT, updated_at TEXT)");
    db.exec("INSERT INTO accounts VALUES (1, 'one@example.com', 'free', '1', '2026-01-01T00:00:01Z')");
    db.exec("INSERT INTO accounts VALUES (2, 'two@example.com', 'pro', '25', '2026-01-01T00:00:02Z')");
  }
  const std::string sync_head = R"(direction     = "one-way"
mode          = "upsert"
manage_schema = "properties"

[source]
connection    = "app"
object        = "accounts"
key           = "id"
cursor_column = "updated_at"

[destination]
connection = "hubspot"
object     = "contacts"

[match]
source      = "email"
destination = "email"
normalize   = ["trim", "lowercase"]

[field_map]
email = { to = "email", transform = ["trim", "lowercase"] }
plan  = "plan"
seats = "seats"

[schema]
plan  = { type = "enumeration", options = ["free", "pro"] }
seats = { type = "number" }
)";
  project.write_sync("plans", sync_head);

  auto property_names = [&] {
    auto answer = emulator_call(emu, "GET", "/crm/v3/properties/contacts");
    INFO(answer.body << answer.error);
    REQUIRE(answer.status == 200);
    std::map<std::string, json> out;
    const json body = answer.json();
    for (const auto& p : body.at("results")) out[p.at("name").get<std::string>()] = p;
    return out;
  };
  REQUIRE(property_names().count("plan") == 0);

  auto plan = run_with(project, {"schema", "plans"}, env);
  INFO(plan.describe());
  REQUIRE(plan.exit_code == 0);
  CHECK_THAT(plan.out, Catch::Contains("WILL CREATE contacts.plan:"));
  CHECK_THAT(plan.out, Catch::Contains("WILL CREATE contacts.seats:"));
  CHECK(property_names().count("plan") == 0);
  CHECK(property_names().count("seats") == 0);

  auto apply = run_with(project, {"schema", "plans", "--apply"}, env);
  INFO(apply.describe());
  REQUIRE(apply.exit_code == 0);
  std::string property_calls;
  for (const auto& entry : emu.request_log())
    if (entry.value("path", "").starts_with("/crm/v3/properties"))
      property_calls += entry.value("method", "") + " " + entry.value("path", "") + " -> " +
                        std::to_string(entry.value("status", 0)) + " " + entry.value("body", "").substr(0, 300) + "\n";
  INFO("property requests:\n" << property_calls);
  auto properties = property_names();
  std::string names;
  for (const auto& [name, definition] : properties) names += name + " ";
  INFO("contacts properties after --apply: " << names);
  REQUIRE(properties.count("plan") == 1);
  REQUIRE(properties.count("seats") == 1);
  CHECK(properties.at("plan").at("type") == "enumeration");
  std::set<std::string> values;
  for (const auto& option : properties.at("plan").at("options")) values.insert(option.at("value").get<std::string>());
  CHECK(values == std::set<std::string>{"free", "pro"});
  CHECK(properties.at("seats").at("type") == "number");

  auto again = run_with(project, {"schema", "plans"}, env);
  INFO(again.describe());
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("already matches"));
  CHECK_THAT(again.out, !Catch::Contains("WILL"));

  // The declared properties now take values.
  auto r = run_with(project, {"run", "plans", "--json"}, env);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  std::map<std::string, json> by_email;
  for (const auto& record : emu.records("contacts"))
    by_email[record.at("properties").value("email", std::string())] = record.at("properties");
  REQUIRE(by_email.count("two@example.com") == 1);
  CHECK(by_email.at("two@example.com").value("plan", std::string()) == "pro");
  CHECK(by_email.at("two@example.com").value("seats", std::string()) == "25");
  CHECK(by_email.at("one@example.com").value("plan", std::string()) == "free");

  // HubSpot has no property type for json.
  std::string with_json = sync_head + "blob  = { type = \"json\" }\n";
  const auto line = std::count(sync_head.begin(), sync_head.end(), '\n') + 1;
  project.write_sync("plans", with_json);
  auto check = run_with(project, {"check"}, env);
  INFO(check.describe());
  CHECK(check.exit_code == 2);
  const std::string said = check.out + check.err;
  CHECK_THAT(said, Catch::Contains("plans.toml:" + std::to_string(line) + ":"));
  CHECK_THAT(said, Catch::Contains("json"));
  CHECK_THAT(said, Catch::Contains("blob"));
}

}  // namespace synctool::e2e
