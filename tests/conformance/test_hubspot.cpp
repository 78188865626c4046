#include "conformance/conformance.hpp"
#include "connectors/registry.hpp"
#include "emulators/hubspot/hubspot_emulator.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace synctool::testing {

namespace {


// A fresh emulator per fixture, with limits high enough that the suite is not paced.
ConformanceFixture hubspot_fixture() {
  emulators::HubspotEmulatorOptions options;
  options.ten_second_limit = 5000;
  options.search_per_second = 1000;
  auto emulator = std::make_shared<emulators::HubspotEmulator>(options);
  emulator->start();
  ConformanceFixture fixture;
  fixture.config.name = "crm";
  fixture.config.clock = &clock_an_hour_ahead();
  fixture.config.type = "hubspot";
  fixture.config.settings = {{"token", options.private_app_token}, {"base_url", emulator->base_url()}};
  fixture.object.name = "contacts";
  fixture.object.key_field = "email";
  fixture.object.destination = true;
  // No lookback: the suite checks the exact inclusive lower bound.
  fixture.object.options = {{"lookback", "0s"}};
  fixture.touch = [emulator](const std::string& id) { emulator->touch("contacts", id); };
  fixture.keep_alive = emulator;
  return fixture;
}

ConformanceOptions hubspot_options() {
  ConformanceOptions options;
  options.name = "hubspot";
  options.make_fixture = &hubspot_fixture;
  options.bad_configs = [](const ConformanceFixture& fixture) {
    const std::string url = fixture.config.settings["base_url"];
    return with_settings(fixture, {
        {{"token", "pat-na1-wrong"}, {"base_url", url}},                      // 401
        {{"base_url", url}},                                                    // no credentials
        {{"token", "t"}, {"base_url", "ftp://127.0.0.1:1"}},                    // not HTTP
        {{"token", "t"}, {"base_url", url}, {"rate_limit", "fast"}},            // bad limit
        {{"client_id", "emulator-client"}, {"client_secret", "wrong"}, {"refresh_token", "emulator-refresh-token"},
         {"base_url", url}},                                                    // OAuth refused
    });
  };
  options.capabilities.incremental_read = true;
  options.capabilities.tombstones = true;
  options.capabilities.native_upsert = true;
  options.capabilities.hard_delete = false;
  options.capabilities.archive = true;
  options.capabilities.max_batch = 400;   // 100 inputs x 4 requests in flight
  options.capabilities.max_lookup = 400;
  options.text_fields = {"firstname", "lastname"};
  options.missing_id = "999999999";
  options.create_of_existing_key_links = true;
  return options;
}

}  // namespace

TEST_CASE("hubspot connector conformance", "[conformance][hubspot]") { run_conformance(hubspot_options()); }

// Lookups through search lag behind writes; those that read records directly do not.
TEST_CASE("hubspot declares the lag of lookups that go through search", "[hubspot]") {
  auto fixture = hubspot_fixture();
  auto connector = connectors::make_connector(fixture.config);
  connectors::ObjectRef companies;
  companies.name = "companies";
  companies.key_field = "domain";
  CHECK(connector->capabilities(companies).lookup_lag_ms == 10'000);
  companies.options = {{"upsert_property", "domain"}};
  CHECK(connector->capabilities(companies).lookup_lag_ms == 0);
  CHECK(connector->capabilities(fixture.object).lookup_lag_ms == 0);  // contacts by email
}


namespace {

using connectors::ConnectorError;
using connectors::ErrorKind;
using connectors::Json;
using connectors::OpKind;

// A connection to an emulator that is not listening: 127.0.0.1 port 1 refuses at once.
connectors::ConnectionConfig unreachable_connection(std::vector<std::string>* log) {
  connectors::ConnectionConfig config;
  config.name = "crm";
  config.type = "hubspot";
  config.clock = &clock_an_hour_ahead();
  config.settings = {{"token", "pat-na1-unreachable"}, {"base_url", "http://127.0.0.1:1"}};
  if (log) config.log = [log](const std::string& line) { log->push_back(line); };
  return config;
}

std::size_t attempts(const std::vector<std::string>& log) {
  std::size_t n = 0;
  for (const auto& line : log)
    if (line.find(" -> ") != std::string::npos && line.find("retrying") == std::string::npos) ++n;
  return n;
}

connectors::ObjectRef companies_by(const std::string& key) {
  connectors::ObjectRef object;
  object.name = "companies";
  object.key_field = key;
  object.destination = true;
  object.fields = {"name", "domain"};
  return object;
}

}  // namespace

// API-FACTS: IN on a string property needs lower-case values; HubSpot compares stored values
// without regard to case. A key on such a property (no native upsert, no "lowercase") must
// still find the record it names, and only that one.
TEST_CASE("hubspot looks a string key up with lower-cased IN values and hands back only what was asked",
          "[hubspot][lookup]") {
  auto fixture = hubspot_fixture();
  auto& emulator = *std::static_pointer_cast<emulators::HubspotEmulator>(fixture.keep_alive);
  emulator.load_seed({{"objects",
                       {{"companies",
                         {{{"id", "11"}, {"properties", {{"name", "ACME Corp"}, {"domain", "acme.com"}}}},
                          {{"id", "12"}, {"properties", {{"name", "Acme Corp"}, {"domain", "acme.co.uk"}}}},
                          {{"id", "13"}, {"properties", {{"name", "Åsa Design"}, {"domain", "asa.se"}}}},
                          {{"id", "14"}, {"properties", {{"name", "Beta"}, {"domain", "beta.io"}}}}}}}}});
  auto connector = connectors::make_connector(fixture.config);
  auto object = companies_by("name");
  REQUIRE(connector->capabilities(object).lookup_lag_ms > 0);  // this goes through search
  auto ids = [&](const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const auto& record : connector->lookup(object, "name", values)) out.push_back(record.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  using ids_t = std::vector<std::string>;
  CHECK(ids({"ACME Corp"}) == ids_t{"11"});               // found, and not its case variant
  CHECK(ids({"Acme Corp", "Beta"}) == ids_t{"12", "14"});
  CHECK(ids({"Åsa Design"}) == ids_t{"13"});               // non-ASCII lowered by Unicode's rules
  CHECK(ids({"acme corp"}) == ids_t{"11", "12"});          // a key normalized with "lowercase"
  CHECK(ids({"åsa design"}) == ids_t{"13"});
  CHECK(ids({"ACME CORP"}).empty());                       // no record is spelled so
  CHECK(ids({"Nobody"}).empty());
  // What went over the wire: lower-case values only.
  bool searched = false;
  for (const auto& entry : emulator.request_log()) {
    if (entry.value("path", "") != "/crm/v3/objects/companies/search") continue;
    searched = true;
    auto body = Json::parse(entry.value("body", "{}"), nullptr, false);
    REQUIRE(body.is_object());
    for (const auto& value : body["filterGroups"][0]["filters"][0]["values"]) {
      INFO(value.dump());
      CHECK((value == "acme corp" || value == "beta" || value == "åsa design" || value == "nobody"));
    }
  }
  CHECK(searched);
  // A property the object does not have is named, with a hint.
  auto missing = config_error([&] { connector->lookup(object, "nane", {"x"}); });
  INFO(missing);
  CHECK(missing.find("companies has no property 'nane' (did you mean 'name'?)") != std::string::npos);
}

TEST_CASE("hubspot probes each object with one real read, naming the object and the scope it lacks",
          "[hubspot][probe]") {
  auto fixture = hubspot_fixture();
  auto& emulator = *std::static_pointer_cast<emulators::HubspotEmulator>(fixture.keep_alive);
  emulator.update_options({{"unreadable_objects", Json::array({"companies"})}});
  auto connector = connectors::make_connector(fixture.config);
  connector->check();  // the token is fine: the credential check passes
  emulator.reset_stats();
  connector->probe(fixture.object);
  auto log = emulator.request_log();
  REQUIRE(log.size() == 1);
  CHECK(log[0]["method"] == "GET");
  CHECK(log[0]["path"] == "/crm/v3/objects/contacts");
  CHECK(log[0]["query"].get<std::string>().find("limit=1") != std::string::npos);

  auto companies = config_error([&] { connector->probe(companies_by("domain")); });
  CHECK(companies.find("may not read companies") != std::string::npos);
  CHECK(companies.find("MISSING_SCOPES") != std::string::npos);
  CHECK(companies.find("crm.objects.companies.read") != std::string::npos);
  connectors::ObjectRef widgets;
  widgets.name = "widgets";
  CHECK(config_error([&] { connector->probe(widgets); }).find("unknown object 'widgets'") != std::string::npos);
}

TEST_CASE("hubspot check and probe report an unreachable server at once; nothing is retried", "[hubspot][probe]") {
  std::vector<std::string> log;
  auto connector = connectors::make_connector(unreachable_connection(&log));  // no I/O: constructing works
  auto check = thrown([&] { connector->check(); });
  INFO(check.message);
  CHECK(check.message.find("could not be made") != std::string::npos);
  CHECK(attempts(log) == 1);
  log.clear();
  connectors::ObjectRef contacts;
  contacts.name = "contacts";
  auto probe = thrown([&] { connector->probe(contacts); });
  INFO(probe.message);
  CHECK(probe.message.find("could not be made") != std::string::npos);
  CHECK(attempts(log) == 1);
}

TEST_CASE("hubspot validates every connection key when constructed, naming the key; no I/O", "[hubspot][settings]") {
  auto fixture = hubspot_fixture();
  const std::string url = fixture.config.settings["base_url"];
  struct Case {
    Json settings;
    std::string key;
  };
  const std::vector<Case> cases = {
      {{{"base_url", url}}, "token"},
      {{{"token", "pat-na1-a b"}, {"base_url", url}}, "token"},
      {{{"token", "pat-na1-x\n"}, {"base_url", url}}, "token"},
      {{{"token", "t"}, {"refresh_token", "r"}, {"base_url", url}}, "refresh_token"},
      {{{"client_id", "c"}, {"refresh_token", "r"}, {"base_url", url}}, "client_secret"},
      {{{"client_secret", "s"}, {"refresh_token", "r"}, {"base_url", url}}, "client_id"},
      {{{"token", "t"}, {"base_url", "ftp://127.0.0.1:1"}}, "base_url"},
      {{{"token", "t"}, {"base_url", "https://"}}, "base_url"},
      {{{"token", "t"}, {"base_url", "https://api.hubapi.com/?x=1"}}, "base_url"},
      {{{"token", "t"}, {"base_url", url}, {"rate_limit", "fast"}}, "rate_limit"},
      {{{"token", "t"}, {"base_url", url}, {"max_in_flight", 99}}, "max_in_flight"},
      {{{"token", "t"}, {"base_url", url}, {"max_retries", "many"}}, "max_retries"},
      {{{"token", "t"}, {"base_url", url}, {"timeout", "soon"}}, "timeout"},
      {{{"token", "t"}, {"base_url", url}, {"retry_for", "-"}}, "retry_for"},
  };
  for (const auto& c : cases) {
    INFO(c.settings.dump());
    auto config = fixture.config;
    config.settings = c.settings;
    auto error = thrown([&] { connectors::make_connector(config); });
    CHECK(error.kind == ErrorKind::config);
    CHECK(error.setting == c.key);
    CHECK(error.message.find("pat-na1-a b") == std::string::npos);  // secrets stay out
  }
  // Good settings pointing nowhere construct without touching the network.
  CHECK_NOTHROW(connectors::make_connector(unreachable_connection(nullptr)));
}

TEST_CASE("hubspot checks endpoint options without I/O, naming the key", "[hubspot][settings]") {
  auto connector = connectors::make_connector(unreachable_connection(nullptr));
  connectors::ObjectRef object;
  object.name = "companies";
  object.options = {{"lookback", "5m"}, {"tombstones", false}, {"upsert_property", "domain"}};
  CHECK_NOTHROW(connector->check_options(object));
  struct Case {
    Json options;
    std::string key;
  };
  for (const auto& c : std::vector<Case>{{{{"lookback", "soon"}}, "lookback"},
                                         {{{"tombstones", "yes"}}, "tombstones"},
                                         {{{"upsert_property", "Domain Name"}}, "upsert_property"},
                                         {{{"upsert_property", 7}}, "upsert_property"}}) {
    INFO(c.options.dump());
    object.options = c.options;
    auto error = thrown([&] { connector->check_options(object); });
    CHECK(error.kind == ErrorKind::config);
    CHECK(error.setting == c.key);
  }
}

TEST_CASE("hubspot describes every property, and refuses before writing what no row could hold",
          "[hubspot][describe]") {
  auto fixture = hubspot_fixture();
  auto& emulator = *std::static_pointer_cast<emulators::HubspotEmulator>(fixture.keep_alive);
  auto connector = connectors::make_connector(fixture.config);
  auto description = connector->describe(fixture.object);
  CHECK_FALSE(description.accepts_new_fields);
  std::vector<std::string> names;
  for (const auto& field : description.fields) names.push_back(field.name);
  for (const char* name : {"email", "firstname", "lastname", "company", "phone", "lifecyclestage", "hs_object_id",
                           "createdate", "lastmodifieddate"})
    CHECK(std::find(names.begin(), names.end(), name) != names.end());

  auto op = [](Json fields) {
    connectors::WriteOp w;
    w.kind = OpKind::upsert;
    w.key = fields.value("email", "");
    w.fields = std::move(fields);
    return w;
  };
  // A property the object lacks, or one HubSpot sets itself: no row could be written.
  auto typo = config_error([&] { connector->write_problem(fixture.object, op({{"email", "a@northwind.io"}, {"fristname", "A"}})); });
  CHECK(typo.find("contacts has no property 'fristname' (did you mean 'firstname'?)") != std::string::npos);
  auto read_only = config_error([&] { connector->write_problem(fixture.object, op({{"email", "a@northwind.io"}, {"createdate", "2025-01-01"}})); });
  CHECK(read_only.find("'createdate' of contacts is read-only") != std::string::npos);
  emulator.reset_stats();
  CHECK_THROWS_AS(connector->write(fixture.object, {op({{"email", "a@northwind.io"}, {"fristname", "A"}})}), ConnectorError);
  for (const auto& entry : emulator.request_log()) CHECK(entry["path"].get<std::string>().find("/batch/") == std::string::npos);
}

TEST_CASE("hubspot numbers and dates travel exactly or the row is refused with the reason", "[hubspot][values]") {
  auto fixture = hubspot_fixture();
  auto& emulator = *std::static_pointer_cast<emulators::HubspotEmulator>(fixture.keep_alive);
  auto connector = connectors::make_connector(fixture.config);
  auto object = companies_by("domain");
  object.fields = {"domain", "annualrevenue", "numberofemployees"};
  auto upsert = [](const std::string& domain, Json revenue) {
    connectors::WriteOp w;
    w.kind = OpKind::create;
    w.key = domain;
    w.fields = {{"domain", domain}, {"annualrevenue", std::move(revenue)}};
    return w;
  };
  auto results = connector->write(object, {upsert("big.io", "12345678901234567.89"), upsert("tiny.io", 1e20),
                                           upsert("bad.io", "a lot")});
  REQUIRE(results.size() == 3);
  INFO(results[0].error << " / " << results[1].error);
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK_FALSE(results[2].ok);
  CHECK(results[2].error == "property annualrevenue (number) cannot hold 'a lot': it is not a number");
  std::map<std::string, std::string> stored;
  for (const auto& record : emulator.records("companies"))
    stored[record["properties"].value("domain", "")] = record["properties"].value("annualrevenue", "");
  CHECK(stored.at("big.io") == "12345678901234567.89");  // not 12345678901234568
  CHECK(stored.at("tiny.io") == "100000000000000000000");  // not 1e+20
  CHECK_FALSE(stored.contains("bad.io"));
  auto found = connector->lookup(object, "domain", {"big.io", "tiny.io"});
  REQUIRE(found.size() == 2);
  for (const auto& record : found) {
    if (record.fields["domain"] == "big.io") CHECK(record.fields["annualrevenue"] == Json("12345678901234567.89"));
    else CHECK(record.fields["annualrevenue"] == Json(1e20));
  }

  connectors::WriteOp impossible;
  impossible.kind = OpKind::upsert;
  impossible.key = "d@northwind.io";
  impossible.fields = {{"email", "d@northwind.io"}};
  // Contacts have no date property in the emulator's defaults: make one.
  connector->schema_apply(fixture.object, connector->schema_plan(fixture.object, {{"renewal", "date", {}}}));
  impossible.fields["renewal"] = "2024-02-30";
  CHECK(connector->write_problem(fixture.object, impossible) ==
        "property renewal (date) cannot hold '2024-02-30': it is not a date such as 2025-01-31 (or not a day the "
        "calendar has)");
  impossible.fields["renewal"] = "2024-02-29";
  CHECK(connector->write_problem(fixture.object, impossible).empty());
}

}  // namespace synctool::testing
