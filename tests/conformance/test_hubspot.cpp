#include "conformance/conformance.hpp"
#include "connectors/registry.hpp"
#include "emulators/hubspot/hubspot_emulator.hpp"

#include <catch2/catch.hpp>

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

}  // namespace synctool::testing
