#include "conformance/conformance.hpp"
#include "emulators/mailchimp/mailchimp_emulator.hpp"

#include <catch2/catch.hpp>

namespace synctool::testing {

namespace {

using connectors::Json;

constexpr const char* kAudience = "conformance audience";

// A fresh emulator per fixture with one audience that has Mailchimp's default merge fields.
ConformanceFixture mailchimp_fixture() {
  emulators::MailchimpEmulatorOptions options;
  auto emulator = std::make_shared<emulators::MailchimpEmulator>(options);
  emulator->load_seed({{"lists", Json::array({{{"name", kAudience}}})}});
  emulator->start();
  const std::string list_id = emulator->list_id(kAudience);
  ConformanceFixture fixture;
  fixture.config.name = "audience";
  fixture.config.clock = &clock_an_hour_ahead();
  fixture.config.type = "mailchimp";
  fixture.config.settings = {{"api_key", options.api_key}, {"base_url", emulator->base_url()}};
  fixture.object.name = "members";
  fixture.object.key_field = "email_address";
  fixture.object.destination = true;
  // No lookback: the suite checks the exact inclusive lower bound.
  fixture.object.options = {{"list", kAudience}, {"lookback", "0s"}};
  fixture.touch = [emulator, list_id](const std::string& id) { emulator->touch(list_id, id); };
  fixture.keep_alive = emulator;
  return fixture;
}

ConformanceOptions mailchimp_options() {
  ConformanceOptions options;
  options.name = "mailchimp";
  options.make_fixture = &mailchimp_fixture;
  options.bad_configs = [](const ConformanceFixture& fixture) {
    const std::string url = fixture.config.settings["base_url"];
    return with_settings(fixture, {
        {{"api_key", "00000000000000000000000000000000-us6"}, {"base_url", url}},  // 401
        {{"base_url", url}},                                                        // no key
        {{"api_key", "0123456789abcdef0123456789abcdef"}},                           // no data centre
        {{"api_key", "k-us6"}, {"base_url", "ftp://127.0.0.1:1"}},                   // not HTTP
        {{"api_key", "k-us6"}, {"base_url", url}, {"max_in_flight", 11}},            // over Mailchimp's 10
    });
  };
  options.capabilities.incremental_read = true;
  options.capabilities.tombstones = true;
  options.capabilities.native_upsert = true;
  options.capabilities.hard_delete = false;  // only with permanent_delete = true
  options.capabilities.archive = true;
  options.capabilities.max_batch = 2000;     // 500 members x 4 requests in flight
  options.capabilities.max_lookup = 500;
  options.text_fields = {"merge_fields.FNAME", "merge_fields.LNAME"};
  options.missing_id = "00000000000000000000000000000000";
  return options;
}

ConformanceOptions permanent_delete_options() {
  ConformanceOptions options = mailchimp_options();
  options.name = "mailchimp (permanent_delete)";
  options.make_fixture = [] {
    auto fixture = mailchimp_fixture();
    fixture.object.options["permanent_delete"] = true;
    // A permanently deleted member leaves no trace to report as a tombstone.
    fixture.object.options["tombstones"] = false;
    return fixture;
  };
  options.capabilities.hard_delete = true;
  options.capabilities.tombstones = false;
  return options;
}

}  // namespace

TEST_CASE("mailchimp connector conformance", "[conformance][mailchimp]") { run_conformance(mailchimp_options()); }

TEST_CASE("mailchimp connector conformance with permanent deletes", "[conformance][mailchimp]") {
  run_conformance(permanent_delete_options());
}

}  // namespace synctool::testing
