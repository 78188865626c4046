// HubSpot <-> Salesforce contacts, two-way, with the shipped syncs/hubspot-salesforce-contacts.toml:
// the real binary against both emulators (in this process). A baseline of two CRMs that share
// 30% of their contacts, edits and conflicts on both sides, a Salesforce merge and a HubSpot
// archive; the daily allowance running out and a session expiring mid-run; SIGKILL at random
// moments.
#include "e2e/hubspot_fixtures.hpp"
#include "emulators/salesforce/salesforce_emulator.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace synctool::e2e {

namespace {

namespace sfe = synctool::emulators;

constexpr const char* kCrmSync = "hubspot-salesforce-contacts";

struct Person {
  std::string first, last, title, phone;
  bool operator==(const Person&) const = default;
};


std::string shipped_sync() {
  std::ifstream in(std::string(SYNCTOOL_SOURCE_DIR) + "/syncs/" + kCrmSync + ".toml");
  std::stringstream text;
  text << in.rdbuf();
  REQUIRE_FALSE(text.str().empty());
  return text.str();
}

// Both emulators, and a project whose connections point at them.
struct Crms {
  hs::HubspotEmulator hubspot{generous_emulator_options()};
  sfe::SalesforceEmulator salesforce;
  Project project;
  Env env;

  explicit Crms(sfe::SalesforceEmulatorOptions options = {}) : salesforce(options) {
    start_emulator(hubspot);
    salesforce.start();
    project.write_config("state_dir = \".synctool\"\n" + hubspot_connection_toml(connection_to(hubspot)) +
                         "[connections.salesforce]\ntype = \"salesforce\"\nlogin_url = \"" + salesforce.base_url() +
                         "\"\nclient_id = \"${SALESFORCE_CLIENT_ID}\"\nclient_secret = \"${SALESFORCE_CLIENT_SECRET}\"\n"
                         "refresh_token = \"${SALESFORCE_REFRESH_TOKEN}\"\nmax_api_share = 100\n");
    project.write_sync(kCrmSync, shipped_sync());
    env = hubspot_env();
    env["SALESFORCE_CLIENT_ID"] = options.client_id;
    env["SALESFORCE_CLIENT_SECRET"] = options.client_secret;
    env["SALESFORCE_REFRESH_TOKEN"] = options.refresh_token;
  }

  Result run(std::vector<std::string> args = {"run", kCrmSync, "--json"}) const { return project.run(args, env); }

  // Live contacts by lowercased email; fails on an address held twice.
  std::map<std::string, Person> at_hubspot(std::map<std::string, std::string>* ids = nullptr) const {
    std::map<std::string, Person> out;
    for (const auto& record : hubspot.records("contacts")) {
      const auto& p = record.at("properties");
      auto text = [&](const char* name) {
        auto it = p.find(name);
        return it == p.end() || it->is_null() ? std::string() : it->get<std::string>();
      };
      const std::string key = util::to_lower(text("email"));
      INFO("HubSpot holds " << key << " twice");
      REQUIRE_FALSE(out.contains(key));
      out[key] = {text("firstname"), text("lastname"), text("jobtitle"), text("phone")};
      if (ids) (*ids)[key] = record.at("id").get<std::string>();
    }
    return out;
  }
  std::map<std::string, Person> at_salesforce(std::map<std::string, std::string>* ids = nullptr) const {
    std::map<std::string, Person> out;
    for (const auto& record : salesforce.records("Contact")) {
      auto text = [&](const char* name) {
        auto it = record.find(name);
        return it == record.end() || it->is_null() ? std::string() : it->get<std::string>();
      };
      const std::string key = util::to_lower(text("Email"));
      INFO("Salesforce holds " << key << " twice");
      REQUIRE_FALSE(out.contains(key));
      out[key] = {text("FirstName"), text("LastName"), text("Title"), text("Phone")};
      if (ids) (*ids)[key] = record.at("Id").get<std::string>();
    }
    return out;
  }

  void hubspot_set(const std::string& email, const nlohmann::json& properties) const {
    std::map<std::string, std::string> ids;
    at_hubspot(&ids);
    nlohmann::json body = {{"properties", properties}};
    auto answer = emulator_call(hubspot, "PATCH", "/crm/v3/objects/contacts/" + ids.at(email), &body);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
  }
  void salesforce_set(const std::string& email, const nlohmann::json& fields) {
    std::map<std::string, std::string> ids;
    at_salesforce(&ids);
    auto answer = http_call(salesforce.instance_url() + "/services/data/v60.0/sobjects/Contact/" + ids.at(email), "PATCH",
                            &fields, salesforce.issue_session());
    INFO(answer.body);
    REQUIRE(answer.status == 204);
  }
};

std::uint64_t both_sides_writes(const nlohmann::json& report) {
  std::uint64_t n = 0;
  for (const char* side : {"source", "destination"})
    for (const char* count : {"created", "updated", "deleted"}) n += report.at(side).at(count).get<std::uint64_t>();
  return n;
}

std::string differences(const std::map<std::string, Person>& a, const std::map<std::string, Person>& b) {
  std::string out;
  for (const auto& [key, p] : a)
    if (!b.contains(key))
      out += key + " only at HubSpot\n";
    else if (!(b.at(key) == p))
      out += fmt::format("{}: HubSpot {}/{}/{}/{}, Salesforce {}/{}/{}/{}\n", key, p.first, p.last, p.title, p.phone,
                         b.at(key).first, b.at(key).last, b.at(key).title, b.at(key).phone);
  for (const auto& [key, p] : b)
    if (!a.contains(key)) out += key + " only at Salesforce\n";
  return out.substr(0, 2000);
}

}  // namespace

TEST_CASE("HubSpot <-> Salesforce: a baseline of CRMs sharing 30%, then edits, conflicts, a merge and an archive",
          "[e2e][salesforce][two-way]") {
  Crms crms;
  // 100 HubSpot contacts; 30 of them are in Salesforce too, their address in another case.
  // Of those, 10 have a newer other title in Salesforce, 10 an older other title, 10 agree.
  // Salesforce has 70 contacts of its own.
  auto hubspot_seed = nlohmann::json::array();
  auto salesforce_seed = nlohmann::json::array();
  for (int i = 0; i < 100; ++i) {
    hubspot_seed.push_back({{"id", std::to_string(500 + i)},
                            {"properties",
                             {{"email", fmt::format("hs{}@example.com", i)},
                              {"firstname", fmt::format("F{}", i)},
                              {"lastname", fmt::format("L{}", i)},
                              {"jobtitle", "HubSpot title"},
                              {"lastmodifieddate", "2026-01-02T00:00:00Z"}}}});
    if (i < 30) {
      const char* stamp = i < 10 ? "2026-01-03T00:00:00Z" : "2026-01-01T00:00:00Z";
      salesforce_seed.push_back({{"Email", fmt::format("HS{}@Example.COM", i)},
                                 {"FirstName", fmt::format("F{}", i)},
                                 {"LastName", fmt::format("L{}", i)},
                                 {"Title", i < 20 ? "Salesforce title" : "HubSpot title"},
                                 {"LastModifiedDate", stamp},
                                 {"SystemModstamp", stamp}});
    }
  }
  for (int i = 0; i < 70; ++i)
    salesforce_seed.push_back({{"Email", fmt::format("sf{}@example.com", i)},
                               {"FirstName", fmt::format("S{}", i)},
                               {"LastName", fmt::format("SL{}", i)},
                               {"Phone", fmt::format("+1 555 01{:02}", i)},
                               {"SystemModstamp", "2026-01-01T00:00:00Z"}});
  // A HubSpot contact without a last name: Salesforce cannot take it.
  hubspot_seed.push_back({{"id", "999"}, {"properties", {{"email", "nolast@example.com"}, {"firstname", "No"}}}});
  crms.hubspot.load_seed({{"objects", {{"contacts", hubspot_seed}}}});
  crms.salesforce.load_seed({{"records", {{"Contact", salesforce_seed}}}});

  auto diff = crms.run({"diff", kCrmSync, "--json"});
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 1);  // it predicts the reject
  auto first = crms.run();
  INFO(first.describe());
  REQUIRE(first.exit_code == 1);  // the contact without a last name is a new reject
  auto report = first.json();
  CHECK(report.at("destination").at("created") == 70);   // HubSpot's 70 unshared contacts
  CHECK(report.at("source").at("created") == 70);        // Salesforce's own 70
  CHECK(report.at("destination").at("updated") == 10);   // HubSpot newer: its title
  CHECK(report.at("source").at("updated") == 10);        // Salesforce newer: its title
  CHECK(report.at("destination").at("rejected") == 1);
  CHECK_THAT(report.at("rejected").dump(), Catch::Contains("REQUIRED_FIELD_MISSING"));
  check_prediction(diff.json().at("report"), report);

  auto hubspot = crms.at_hubspot();
  auto salesforce = crms.at_salesforce();
  CHECK(hubspot.size() == 171);
  CHECK(salesforce.size() == 170);
  hubspot.erase("nolast@example.com");
  INFO(differences(hubspot, salesforce));
  REQUIRE(hubspot == salesforce);
  for (int i = 0; i < 30; ++i) {
    INFO("shared contact " << i);
    CHECK(hubspot.at(fmt::format("hs{}@example.com", i)).title == (i < 10 ? "Salesforce title" : "HubSpot title"));
  }
  CHECK(crms.salesforce.records("Contact").at(0).at("Email") == "HS0@Example.COM");  // keys are never rewritten

  auto again = crms.run({"run", kCrmSync, "--json", "-v"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
  CHECK(both_sides_writes(again.json()) == 0);
  // No credential in any output (-v included) or state file.
  const sfe::SalesforceEmulatorOptions defaults;
  for (const std::string& secret : {defaults.client_secret, defaults.refresh_token})
    CHECK(leaks(secret, again, crms.project.path(".synctool")).empty());

  // Edits on both sides. Title of hs5 changed on both: the more recent (HubSpot's, its clock
  // two minutes ahead) wins. Phone of hs6 changed on both: Salesforce owns it, whatever the time.
  crms.salesforce_set("sf3@example.com", {{"Title", "VP Sales"}});
  crms.salesforce_set("hs5@example.com", {{"Title", "Salesforce edit"}});
  crms.salesforce_set("hs6@example.com", {{"Phone", "+1 555 0600"}});
  crms.hubspot.set_frozen_time(crms.salesforce.now_ms() + 120'000);
  crms.hubspot_set("hs40@example.com", {{"firstname", "Renamed"}});
  crms.hubspot_set("hs5@example.com", {{"jobtitle", "HubSpot edit"}});
  crms.hubspot_set("hs6@example.com", {{"phone", "+1 555 0666"}});
  // A merge in Salesforce (sf61 into sf60, whose title changes) and an archive in HubSpot.
  std::map<std::string, std::string> sf_ids, hs_ids;
  crms.at_salesforce(&sf_ids);
  crms.at_hubspot(&hs_ids);
  crms.salesforce_set("sf60@example.com", {{"Title", "Merged"}});
  crms.salesforce.merge("Contact", sf_ids.at("sf60@example.com"), {sf_ids.at("sf61@example.com")});
  REQUIRE(emulator_call(crms.hubspot, "DELETE", "/crm/v3/objects/contacts/" + hs_ids.at("hs70@example.com")).status == 204);

  auto edits = crms.run();
  INFO(edits.describe());
  REQUIRE(edits.exit_code == 0);
  CHECK(edits.json().at("kind") == "incremental");
  hubspot = crms.at_hubspot();
  salesforce = crms.at_salesforce();
  CHECK(hubspot.at("sf3@example.com").title == "VP Sales");
  CHECK(salesforce.at("hs40@example.com").first == "Renamed");
  CHECK(hubspot.at("hs5@example.com").title == "HubSpot edit");
  CHECK(salesforce.at("hs5@example.com").title == "HubSpot edit");
  CHECK(hubspot.at("hs6@example.com").phone == "+1 555 0600");
  CHECK(salesforce.at("hs6@example.com").phone == "+1 555 0600");
  CHECK(hubspot.at("sf60@example.com").title == "Merged");
  // Deletes do not flow in upsert mode, and nothing deleted is created again.
  CHECK_FALSE(salesforce.contains("sf61@example.com"));
  CHECK(hubspot.contains("sf61@example.com"));
  CHECK_FALSE(hubspot.contains("hs70@example.com"));
  CHECK(salesforce.contains("hs70@example.com"));
  auto quiet = crms.run();
  INFO(quiet.describe());
  CHECK(quiet.exit_code == 0);
  INFO("HubSpot after the quiet run vs before:\n" << differences(crms.at_hubspot(), hubspot));
  CHECK(both_sides_writes(quiet.json()) == 0);
  crms.hubspot.set_frozen_time(std::nullopt);
}

TEST_CASE("HubSpot <-> Salesforce: the daily allowance running out stops a run (exit 3); a session expiring does not",
          "[e2e][salesforce][two-way]") {
  Crms crms;
  auto seed = nlohmann::json::array();
  for (int i = 0; i < 900; ++i)
    seed.push_back({{"id", std::to_string(1000 + i)},
                    {"properties",
                     {{"email", fmt::format("p{}@example.com", i)},
                      {"lastname", fmt::format("L{}", i)},
                      {"lastmodifieddate", "2026-01-02T00:00:00Z"}}}});
  crms.hubspot.load_seed({{"objects", {{"contacts", seed}}}});

  // Other integrations of the org use up the allowance while the run writes its second call.
  std::atomic<int> requests{0};
  crms.salesforce.set_request_listener([&](const nlohmann::json&) {
    if (++requests == 5)
      crms.salesforce.update_options({{"daily_limit", crms.salesforce.stats().at("api_usage").get<int>()}});
  });
  auto stopped = crms.run();
  INFO(stopped.describe());
  CHECK(stopped.exit_code == 3);
  CHECK_THAT(stopped.err, Catch::Contains("REQUEST_LIMIT_EXCEEDED") && Catch::Contains("progress saved"));
  crms.salesforce.set_request_listener({});
  const auto created_before = crms.salesforce.records("Contact").size();
  CHECK(created_before < 900);

  // The next day the allowance is back; a session expires in the middle of the run.
  crms.salesforce.update_options({{"daily_limit", 100000}});
  requests = 0;
  crms.salesforce.set_request_listener([&](const nlohmann::json&) {
    if (++requests == 2) crms.salesforce.expire_sessions();
  });
  auto resumed = crms.run();
  INFO(resumed.describe());
  CHECK(resumed.exit_code == 0);
  crms.salesforce.set_request_listener({});
  CHECK(crms.salesforce.stats().at("by_status").contains("401"));
  auto salesforce = crms.at_salesforce();
  CHECK(salesforce.size() == 900);
  CHECK(both_sides_writes(crms.run().json()) == 0);
}

TEST_CASE("HubSpot <-> Salesforce: runs killed at random moments converge without duplicates or lost edits",
          "[e2e][salesforce][two-way][crash]") {
  const char* env_seed = std::getenv("SYNCTOOL_E2E_SEED");
  const auto seed = static_cast<std::uint32_t>(env_seed && *env_seed ? std::stoul(env_seed) : 20261208);
  INFO("random seed " << seed << " (set SYNCTOOL_E2E_SEED to replay)");
  std::mt19937 random(seed);
  constexpr int kKills = 10;
  Crms crms;
  // 300 HubSpot contacts, 300 Salesforce contacts, 150 shared (the same values).
  auto hubspot_seed = nlohmann::json::array(), salesforce_seed = nlohmann::json::array();
  for (int i = 0; i < 450; ++i) {
    const std::string email = fmt::format("c{}@example.com", i);
    if (i < 300)
      hubspot_seed.push_back({{"id", std::to_string(2000 + i)},
                              {"properties",
                               {{"email", email}, {"lastname", fmt::format("L{}", i)}, {"lastmodifieddate", "2026-01-02T00:00:00Z"}}}});
    if (i >= 150) salesforce_seed.push_back({{"Email", email}, {"LastName", fmt::format("L{}", i)}});
  }
  crms.hubspot.load_seed({{"objects", {{"contacts", hubspot_seed}}}});
  crms.salesforce.load_seed({{"records", {{"Contact", salesforce_seed}}}});

  std::map<std::string, Person> expected;
  for (int i = 0; i < 450; ++i) expected[fmt::format("c{}@example.com", i)] = {"", fmt::format("L{}", i), "", ""};
  auto run_to_completion = [&] {
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto r = crms.run();
      if (r.exit_code == 0) return;
      INFO(r.describe());
      REQUIRE(r.exit_code == 3);
    }
    FAIL("five runs in a row did not complete");
  };
  auto check = [&] {
    auto hubspot = crms.at_hubspot();
    auto salesforce = crms.at_salesforce();
    INFO("HubSpot vs expected:\n" << differences(hubspot, expected) << "Salesforce vs expected:\n"
                                  << differences(salesforce, expected));
    REQUIRE(hubspot == expected);
    REQUIRE(salesforce == expected);
  };
  // Titles edited at HubSpot, phones at Salesforce (no conflicts: the model stays simple).
  auto edit = [&](int round) {
    std::vector<std::string> keys;
    for (const auto& [key, p] : expected) keys.push_back(key);
    auto hubspot_inputs = nlohmann::json::array();
    std::map<std::string, std::string> hs_ids, sf_ids;
    crms.at_hubspot(&hs_ids);
    crms.at_salesforce(&sf_ids);
    auto sf_records = nlohmann::json::array();
    std::set<std::string> touched_hs, touched_sf;
    for (int i = 0; i < 40; ++i) {
      const std::string& key = keys[random() % keys.size()];
      if (touched_hs.insert(key).second) {
        expected[key].title = fmt::format("T{}-{}", round, i);
        hubspot_inputs.push_back({{"id", hs_ids.at(key)}, {"properties", {{"jobtitle", expected[key].title}}}});
      }
      const std::string& other = keys[random() % keys.size()];
      if (touched_sf.insert(other).second) {
        expected[other].phone = fmt::format("+1 555 {}{:03}", round % 10, i);
        sf_records.push_back({{"attributes", {{"type", "Contact"}}}, {"Id", sf_ids.at(other)}, {"Phone", expected[other].phone}});
      }
    }
    nlohmann::json hubspot_body = {{"inputs", hubspot_inputs}};
    REQUIRE(emulator_call(crms.hubspot, "POST", "/crm/v3/objects/contacts/batch/update", &hubspot_body).status == 200);
    nlohmann::json sf_body = {{"allOrNone", true}, {"records", sf_records}};
    auto answer = http_call(crms.salesforce.instance_url() + "/services/data/v60.0/composite/sobjects", "PATCH", &sf_body,
                            crms.salesforce.issue_session());
    INFO(answer.body);
    REQUIRE(answer.status == 200);
  };

  auto started = std::chrono::steady_clock::now();
  run_to_completion();
  const auto baseline_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  check();
  int landed = 0;
  for (int round = 1; round <= kKills * 3 && landed < kKills; ++round) {
    edit(round);
    std::uniform_int_distribution<long> delay(0, std::max<long>(baseline_ms / 2, 50));
    const long wait = delay(random);
    INFO("round " << round << ", kill after " << wait << " ms");
    Spawned victim(crms.project.root(), {"run", kCrmSync, "--json"}, crms.env);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    victim.kill(SIGKILL);
    if (victim.wait().exit_code == -SIGKILL) ++landed;
    run_to_completion();
    check();
    CHECK(both_sides_writes(crms.run().json()) == 0);
  }
  std::cout << "HubSpot <-> Salesforce crash: seed " << seed << ", " << landed << " kills landed; baseline " << baseline_ms
            << " ms\n";
  CHECK(landed >= kKills);
}

}  // namespace synctool::e2e
