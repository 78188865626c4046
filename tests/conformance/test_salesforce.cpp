#include "conformance/conformance.hpp"
#include "connectors/registry.hpp"
#include "emulators/salesforce/salesforce_emulator.hpp"

#include <catch2/catch.hpp>

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
