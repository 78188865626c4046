#include "conformance/conformance.hpp"
#include "connectors/registry.hpp"
#include "emulators/salesforce/salesforce_emulator.hpp"

#include "net/oauth.hpp"
#include "net/redact.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <map>
#include <string>
#include <vector>

namespace synctool::testing {

namespace {

// A fresh emulator per fixture; Contact's duplicate rule on Email is on, as in a new org.
ConformanceFixture salesforce_fixture() {
  auto emulator = std::make_shared<emulators::SalesforceEmulator>();
  emulator->start();
  ConformanceFixture fixture;
  fixture.config.name = "org";
  fixture.config.clock = &clock_an_hour_ahead();
  fixture.config.type = "salesforce";
  const emulators::SalesforceEmulatorOptions defaults;
  fixture.config.settings = {{"login_url", emulator->base_url()},
                             {"client_id", defaults.client_id},
                             {"client_secret", defaults.client_secret},
                             {"refresh_token", defaults.refresh_token}};
  fixture.object.name = "Contact";
  fixture.object.key_field = "Email";
  fixture.object.destination = true;
  // No lookback: the suite checks the exact inclusive lower bound.
  fixture.object.options = {{"lookback", "0s"}};
  // The suite wants each touch strictly later than every earlier one and every write after it
  // no earlier: the emulator's clock stands still and moves a second per touch (stamps are
  // whole seconds).
  emulator->set_frozen_time(emulator->now_ms());
  fixture.touch = [emulator](const std::string& id) {
    emulator->advance_time(1000);
    emulator->touch("Contact", id);
  };
  fixture.keep_alive = emulator;
  return fixture;
}

ConformanceOptions salesforce_options() {
  ConformanceOptions options;
  options.name = "salesforce";
  options.make_fixture = &salesforce_fixture;
  options.bad_configs = [](const ConformanceFixture& fixture) {
    const std::string url = fixture.config.settings["login_url"];
    const emulators::SalesforceEmulatorOptions d;
    return with_settings(fixture, {
        {{"login_url", url}, {"client_id", d.client_id}, {"client_secret", "wrong"}, {"refresh_token", d.refresh_token}},
        {{"login_url", url}},                                                              // no credentials
        {{"login_url", "ftp://127.0.0.1:1"}, {"client_id", "x"}, {"client_secret", "y"}, {"refresh_token", "z"}},
        {{"login_url", url}, {"client_id", "x"}, {"client_secret", "y"}, {"refresh_token", "z"}, {"api_version", "60"}},
        {{"login_url", url}, {"client_id", "x"}, {"username", "u"}, {"private_key_file", "/nonexistent/key.pem"}},
        {{"base_url", url}, {"client_id", "x"}, {"client_secret", "y"}, {"refresh_token", "z"}},  // not login_url
    });
  };
  options.capabilities.incremental_read = true;
  options.capabilities.tombstones = true;
  options.capabilities.native_upsert = false;
  options.capabilities.hard_delete = true;
  options.capabilities.archive = false;
  options.capabilities.max_batch = 800;  // 200 records x 4 calls in flight
  options.capabilities.max_lookup = 200;
  options.text_fields = {"LastName", "FirstName"};
  options.missing_id = "003000000000000AAA";
  options.create_of_existing_key_links = true;  // the duplicate rule's match is linked
  return options;
}

}  // namespace

TEST_CASE("salesforce connector conformance", "[conformance][salesforce]") { run_conformance(salesforce_options()); }

}  // namespace synctool::testing

namespace synctool::testing {

namespace {

using connectors::ErrorKind;
using connectors::Json;
using connectors::OpKind;

struct Org {
  std::shared_ptr<emulators::SalesforceEmulator> emulator;
  connectors::ConnectionConfig config;
  connectors::ObjectRef contacts;
  std::vector<std::string> log;

  explicit Org(emulators::SalesforceEmulatorOptions options = {}, Json settings = Json::object()) {
    emulator = std::make_shared<emulators::SalesforceEmulator>(options);
    emulator->start();
    config.name = "org";
    config.type = "salesforce";
    config.clock = &clock_an_hour_ahead();
    config.settings = {{"login_url", emulator->base_url()},
                       {"client_id", options.client_id},
                       {"client_secret", options.client_secret},
                       {"refresh_token", options.refresh_token}};
    config.settings.update(settings);
    config.log = [this](const std::string& line) { log.push_back(line); };
    contacts.name = "Contact";
    contacts.key_field = "Email";
    contacts.destination = true;
    contacts.fields = {"Email", "FirstName", "LastName"};
    contacts.options = {{"lookback", "0s"}};
  }
  std::unique_ptr<connectors::Connector> connect() const { return connectors::make_connector(config); }
  std::vector<connectors::WriteResult> create(connectors::Connector& c, int first, int count) const {
    std::vector<connectors::WriteOp> ops;
    for (int i = first; i < first + count; ++i)
      ops.push_back(op(OpKind::create, "", {{"Email", "p" + std::to_string(i) + "@example.com"}, {"LastName", "L"}}));
    return c.write(contacts, ops);
  }
};

}  // namespace

TEST_CASE("salesforce: calls go to the instance_url the token answer names, with a session refreshed after a 401",
          "[salesforce]") {
  emulators::SalesforceEmulatorOptions options;
  options.instance_url = "http://localhost:{port}";  // another host name than the login URL's
  Org org(options);
  auto connector = org.connect();
  connector->check();
  REQUIRE(org.create(*connector, 0, 3).at(2).ok);
  org.emulator->expire_sessions();
  CHECK(read_all(*connector, org.contacts).size() == 3);  // 401 INVALID_SESSION_ID, one refresh, the read goes on
  auto stats = org.emulator->stats();
  CHECK(stats.at("token_requests") == 2);
  CHECK(stats.at("api_hosts").contains("localhost:" + std::to_string(org.emulator->port())));
  CHECK_FALSE(stats.at("api_hosts").contains("127.0.0.1:" + std::to_string(org.emulator->port())));
}

TEST_CASE("salesforce: the JWT bearer flow signs with the key file; a key the org does not know is refused", "[salesforce]") {
  TempDir dir;
  // A key pair made with the openssl command line would do as well; the library is at hand.
  EVP_PKEY* key = EVP_RSA_gen(2048);
  REQUIRE(key);
  auto pem_of = [&](bool is_private) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (is_private)
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else
      PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return text;
  };
  const std::string private_pem = pem_of(true), public_pem = pem_of(false);
  EVP_PKEY_free(key);
  std::ofstream(dir.path() / "sf.key") << private_pem;

  emulators::SalesforceEmulatorOptions options;
  options.jwt_public_key_pem = public_pem;
  Org org(options);
  org.config.settings = {{"login_url", org.emulator->base_url()},
                         {"client_id", options.client_id},
                         {"username", options.username},
                         {"private_key_file", (dir.path() / "sf.key").string()}};
  net::Redactor redactor;
  org.config.redactor = &redactor;
  auto connector = org.connect();
  connector->check();
  CHECK(org.create(*connector, 0, 1).at(0).ok);
  CHECK(redactor.apply(private_pem).find("PRIVATE KEY") == std::string::npos);

  org.config.settings["username"] = "someone.else@example.com";
  auto refused = thrown([&] { org.connect()->check(); });
  CHECK(refused.kind == ErrorKind::config);
  CHECK_THAT(refused.message, Catch::Contains("was refused"));
}

TEST_CASE("salesforce: the daily allowance running out stops the run cleanly (quota); max_api_share stops it earlier",
          "[salesforce]") {
  SECTION("403 REQUEST_LIMIT_EXCEEDED") {
    Org org({}, {{"max_api_share", 100}});
    auto connector = org.connect();
    REQUIRE(org.create(*connector, 0, 1).at(0).ok);
    // Other integrations of the org spend the rest meanwhile.
    org.emulator->update_options({{"daily_limit", org.emulator->stats().at("api_usage").get<int>() + 1}});
    auto error = thrown([&] {
      for (int i = 1; i < 10; ++i) org.create(*connector, i, 1);
    });
    CHECK(error.kind == ErrorKind::quota);
    CHECK_THAT(error.message, Catch::Contains("daily API allowance is used up"));
  }
  SECTION("max_api_share") {
    emulators::SalesforceEmulatorOptions options;
    options.daily_limit = 20;
    Org org(options);  // 50% of what is left: 10 requests
    auto connector = org.connect();
    int made = 0;
    auto error = thrown([&] {
      for (int i = 0; i < 30; ++i, ++made) org.create(*connector, i, 1);
    });
    CHECK(error.kind == ErrorKind::quota);
    CHECK_THAT(error.message, Catch::Contains("max_api_share = 50%"));
    CHECK(org.emulator->stats().at("api_usage").get<int>() <= 11);  // the describe, then at most 10
    CHECK(made >= 8);
  }
}

TEST_CASE("salesforce: rows the org refuses are said before sending; a duplicate rule's match with another key stays refused",
          "[salesforce]") {
  Org org;
  auto connector = org.connect();
  auto no_last_name = op(OpKind::create, "", {{"Email", "a@example.com"}, {"FirstName", "A"}});
  CHECK_THAT(connector->write_problem(org.contacts, no_last_name), Catch::StartsWith("REQUIRED_FIELD_MISSING"));
  auto bad_email = op(OpKind::create, "", {{"Email", "a@example"}, {"LastName", "A"}});
  CHECK_THAT(connector->write_problem(org.contacts, bad_email), Catch::StartsWith("INVALID_EMAIL_ADDRESS"));
  auto unknown = op(OpKind::create, "", {{"Emial", "a@example.com"}, {"LastName", "A"}});
  auto error = thrown([&] { connector->write_problem(org.contacts, unknown); });
  CHECK(error.kind == ErrorKind::config);
  CHECK_THAT(error.message, Catch::Contains("did you mean 'Email'"));
  auto results = connector->write(org.contacts, {no_last_name, bad_email});
  CHECK_FALSE(results[0].ok);
  CHECK_FALSE(results[1].ok);
  CHECK(org.emulator->records("Contact").empty());

  // The rule matches without regard to case: the same key links; a match under another key (the
  // rule compared another field) is not this row's record.
  REQUIRE(org.create(*connector, 0, 1).at(0).ok);
  auto same = connector->write(org.contacts, {op(OpKind::create, "", {{"Email", "P0@Example.com"}, {"LastName", "L"}})});
  CHECK(same.at(0).ok);
  CHECK(org.emulator->records("Contact").size() == 1);
  org.emulator->update_options({{"duplicate_rule", false}});
  REQUIRE(connector->write(org.contacts, {op(OpKind::create, "", {{"Email", "twin@example.com"}, {"LastName", "T"}}),
                                          op(OpKind::create, "", {{"Email", "twin@example.com"}, {"LastName", "U"}})})
              .at(1)
              .ok);
  org.emulator->update_options({{"duplicate_rule", true}});
  auto ambiguous = connector->write(org.contacts, {op(OpKind::create, "", {{"Email", "twin@example.com"}, {"LastName", "V"}})});
  CHECK_FALSE(ambiguous.at(0).ok);
  CHECK_THAT(ambiguous.at(0).error, Catch::StartsWith("DUPLICATES_DETECTED"));
}

TEST_CASE("salesforce: a merge reads as a delete of the loser and a change of the winner; purged deletes need a full run",
          "[salesforce]") {
  Org org;
  org.emulator->set_frozen_time(org.emulator->now_ms());
  auto connector = org.connect();
  auto created = org.create(*connector, 0, 3);
  connectors::ReadRequest full;
  std::string cursor;
  connector->read(org.contacts, full, [&](connectors::Page&& page) {
    if (!page.cursor.empty()) cursor = page.cursor;
  });
  REQUIRE_FALSE(cursor.empty());
  org.emulator->advance_time(5'000);
  org.emulator->merge("Contact", created[0].id, {created[1].id});
  connectors::ReadRequest since;
  since.since = cursor;
  std::map<std::string, bool> seen;  // id -> deleted
  for (auto& record : read_all(*connector, org.contacts, since)) seen[record.id] = record.deleted;
  REQUIRE(seen.contains(created[0].id));
  REQUIRE(seen.contains(created[1].id));
  CHECK_FALSE(seen[created[0].id]);  // the winner, changed
  CHECK(seen[created[1].id]);        // the loser, a tombstone

  // 16 days later, with the recycle bin emptied, a cursor from before cannot see every delete.
  org.emulator->advance_time(16LL * 24 * 3600 * 1000);
  org.emulator->purge_deleted("Contact");
  auto error = thrown([&] { read_all(*connector, org.contacts, since); });
  CHECK(error.kind == ErrorKind::config);
  CHECK_THAT(error.message, Catch::Contains("run with --full"));
}

}  // namespace synctool::testing

namespace synctool::testing {

namespace {

class MemoryTokenCache final : public net::TokenCache {
 public:
  std::optional<std::string> value;
  std::optional<std::string> load() override { return value; }
  void store(const std::string& sealed) override { value = sealed; }
};

}  // namespace

TEST_CASE("salesforce: upserts go through the external id named in the spec, 200 a call", "[salesforce]") {
  Org org;
  org.emulator->define_field("Contact", {{"name", "App_Id__c"}, {"type", "string"}, {"length", 40}, {"externalId", true},
                                         {"unique", true}});
  org.contacts.options["external_id"] = "App_Id__c";
  org.contacts.key_field = "App_Id__c";
  auto connector = org.connect();
  CHECK(connector->capabilities(org.contacts).native_upsert);
  std::vector<connectors::WriteOp> ops;
  for (int i = 0; i < 450; ++i)
    ops.push_back(op(OpKind::upsert, "", {{"App_Id__c", "app-" + std::to_string(i)}, {"LastName", "L"}}));
  for (auto& o : ops) o.key = o.fields["App_Id__c"];
  auto results = connector->write(org.contacts, ops);
  CHECK(std::all_of(results.begin(), results.end(), [](const auto& r) { return r.ok && r.id.size() == 18; }));
  ops[7].fields["LastName"] = "Changed";
  auto again = connector->write(org.contacts, {ops[7]});
  REQUIRE(again.at(0).ok);
  CHECK(again.at(0).id == results[7].id);  // the same record, updated
  CHECK(org.emulator->records("Contact").size() == 450);
  std::size_t upsert_calls = 0;
  for (const auto& entry : org.emulator->request_log())
    if (entry.at("method") == "PATCH" && entry.at("path").get<std::string>().ends_with("/Contact/App_Id__c")) ++upsert_calls;
  CHECK(upsert_calls == 4);  // 200 + 200 + 50, then the one
}

TEST_CASE("salesforce: a rotated refresh token is kept sealed for the next run; the old one no longer works",
          "[salesforce]") {
  emulators::SalesforceEmulatorOptions options;
  options.rotate_refresh_token = true;
  Org org(options);
  MemoryTokenCache cache;
  org.config.token_cache = &cache;
  org.connect()->check();
  REQUIRE(cache.value);
  CHECK(cache.value->find("emulator") == std::string::npos);  // sealed
  org.emulator->expire_sessions();
  // The next run starts from the cache: its session expired, the rotated refresh token works.
  auto next = org.connect();
  CHECK(read_all(*next, org.contacts).empty());
  org.emulator->expire_sessions();
  auto without_cache = org.config;
  without_cache.token_cache = nullptr;  // only the configured (now stale) refresh token
  auto refused = thrown([&] { connectors::make_connector(without_cache)->check(); });
  CHECK(refused.kind == ErrorKind::config);
}

}  // namespace synctool::testing

namespace synctool::testing {

TEST_CASE("salesforce: in an org with person accounts, the contacts behind them are left out of reads and lookups",
          "[salesforce]") {
  emulators::SalesforceEmulatorOptions options;
  options.person_accounts = true;
  Org org(options);
  org.emulator->load_seed({{"records",
                            {{"Contact",
                              {{{"Email", "ann@example.com"}, {"LastName", "Lee"}},
                               {{"Email", "pat@example.com"}, {"LastName", "Person"}, {"IsPersonAccount", true}}}}}}});
  auto connector = org.connect();
  auto all = read_all(*connector, org.contacts);
  REQUIRE(all.size() == 1);
  CHECK(all[0].fields.at("Email") == "ann@example.com");
  CHECK(connector->lookup(org.contacts, "Email", {"pat@example.com", "ann@example.com"}).size() == 1);
  connectors::ReadRequest since;
  since.since = "2000-01-01T00:00:00Z";
  CHECK(read_all(*connector, org.contacts, since).size() == 1);
  CHECK(std::any_of(org.log.begin(), org.log.end(),
                    [](const std::string& line) { return line.find("person accounts are enabled") != std::string::npos; }));
}

}  // namespace synctool::testing
