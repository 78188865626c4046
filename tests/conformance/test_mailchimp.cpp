#include "conformance/conformance.hpp"
#include "emulators/mailchimp/mailchimp_emulator.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

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
  // Mailchimp refuses the domains reserved for examples as fake: realistic addresses only.
  options.make_key = [](std::size_t i) { return "person" + std::to_string(i) + "@northwind.io"; };
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


namespace {

using connectors::ConnectorError;
using connectors::ErrorKind;
using connectors::OpKind;
using connectors::WriteOp;

// The audience of the fixture with its members and extra merge fields (SEATS number,
// RENEWAL date) added.
emulators::MailchimpEmulator& seeded(const ConformanceFixture& fixture, const Json& members) {
  auto& emulator = *std::static_pointer_cast<emulators::MailchimpEmulator>(fixture.keep_alive);
  emulator.load_seed({{"lists", Json::array({{{"name", kAudience}, {"members", members}}})}});
  return emulator;
}

WriteOp write_op(OpKind kind, const std::string& email, Json fields = Json::object()) {
  WriteOp op;
  op.kind = kind;
  op.key = email;
  op.fields = std::move(fields);
  op.fields["email_address"] = email;
  return op;
}

// The members of every batch call the emulator received.
std::vector<Json> batch_members(const emulators::MailchimpEmulator& emulator, const std::string& list_id) {
  std::vector<Json> out;
  for (const auto& entry : emulator.request_log()) {
    if (entry.value("method", "") != "POST" || entry.value("path", "") != "/3.0/lists/" + list_id) continue;
    auto body = Json::parse(entry.value("body", "{}"), nullptr, false);
    if (body.is_object())
      for (const auto& member : body.value("members", Json::array())) out.push_back(member);
  }
  return out;
}

std::string status_of(const emulators::MailchimpEmulator& emulator, const std::string& list_id, const std::string& email) {
  for (const auto& member : emulator.members(list_id, true))
    if (member.value("email_address", "") == email) return member.value("status", "");
  return "";
}

}  // namespace

// API-FACTS: `status` overwrites an existing member's status (pending -> subscribed skips
// double opt-in; unsubscribed -> an error row); `status_if_new` is used only for new addresses.
TEST_CASE("mailchimp creates and upserts send status_if_new, never status, unless the sync maps status",
          "[mailchimp][status]") {
  auto fixture = mailchimp_fixture();
  auto& emulator = seeded(fixture, Json::array({{{"email_address", "pending@northwind.io"}, {"status", "pending"}},
                                                 {{"email_address", "gone@northwind.io"}, {"status", "unsubscribed"}}}));
  const std::string list_id = emulator.list_id(kAudience);
  fixture.object.options["status_if_new"] = "pending";
  auto connector = connectors::make_connector(fixture.config);
  emulator.reset_stats();
  auto results = connector->write(
      fixture.object, {write_op(OpKind::upsert, "pending@northwind.io", {{"merge_fields.FNAME", "Pat"}}),
                       write_op(OpKind::upsert, "gone@northwind.io", {{"merge_fields.FNAME", "Gil"}}),
                       write_op(OpKind::upsert, "new@northwind.io"), write_op(OpKind::create, "made@northwind.io")});
  for (const auto& result : results) {
    INFO(result.error);
    CHECK(result.ok);
  }
  CHECK(status_of(emulator, list_id, "pending@northwind.io") == "pending");  // double opt-in kept
  CHECK(status_of(emulator, list_id, "gone@northwind.io") == "unsubscribed");
  CHECK(status_of(emulator, list_id, "new@northwind.io") == "pending");      // status_if_new
  CHECK(status_of(emulator, list_id, "made@northwind.io") == "pending");
  auto sent = batch_members(emulator, list_id);
  REQUIRE(sent.size() == 4);
  for (const auto& member : sent) {
    INFO(member.dump());
    CHECK_FALSE(member.contains("status"));
    CHECK(member["status_if_new"] == "pending");
  }
  // A sync that maps status on purpose sends it, and it overwrites.
  results = connector->write(fixture.object, {write_op(OpKind::upsert, "pending@northwind.io", {{"status", "subscribed"}})});
  CHECK(results[0].ok);
  CHECK(status_of(emulator, list_id, "pending@northwind.io") == "subscribed");
}

TEST_CASE("mailchimp sends the member entry its write check built, and builds it anew for a second write",
          "[mailchimp][status]") {
  auto fixture = mailchimp_fixture();
  auto& emulator = seeded(fixture, Json::array());
  const std::string list_id = emulator.list_id(kAudience);
  auto connector = connectors::make_connector(fixture.config);
  std::vector<connectors::WriteOp> ops = {write_op(OpKind::upsert, "ada@northwind.io", {{"merge_fields.FNAME", "Ada"}})};
  CHECK(connector->write_problem(fixture.object, ops[0]).empty());
  CHECK(ops[0].prepared.has_value());  // kept for the write: not built twice
  for (int attempt = 0; attempt < 2; ++attempt) {
    emulator.reset_stats();
    auto results = connector->write(fixture.object, ops);
    INFO("attempt " << attempt << ": " << results[0].error);
    CHECK(results[0].ok);
    CHECK_FALSE(ops[0].prepared.has_value());  // taken by the first write
    auto sent = batch_members(emulator, list_id);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["email_address"] == "ada@northwind.io");
    CHECK(sent[0]["merge_fields"] == Json{{"FNAME", "Ada"}});
    CHECK(sent[0]["status_if_new"] == "subscribed");
  }
}

TEST_CASE("mailchimp refuses addresses at reserved and example domains before sending them", "[mailchimp][address]") {
  auto fixture = mailchimp_fixture();
  auto& emulator = seeded(fixture, Json::array());
  const std::string list_id = emulator.list_id(kAudience);
  auto connector = connectors::make_connector(fixture.config);
  for (const char* fake : {"ann@example.com", "ann@Example.org", "ann@mail.example.net", "ann@acme.test"}) {
    INFO(fake);
    auto problem = connector->write_problem(fixture.object, write_op(OpKind::upsert, fake));
    CHECK(problem.starts_with(std::string("'") + fake + "' is not an address Mailchimp takes"));
  }
  emulator.reset_stats();
  auto results = connector->write(fixture.object, {write_op(OpKind::upsert, "ann@example.com"),
                                                   write_op(OpKind::upsert, "ann@northwind.io")});
  CHECK_FALSE(results[0].ok);
  CHECK(results[0].error.find("reserved for examples") != std::string::npos);
  CHECK(results[1].ok);
  auto sent = batch_members(emulator, list_id);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["email_address"] == "ann@northwind.io");
}

TEST_CASE("mailchimp describes every field a member can carry", "[mailchimp][describe]") {
  auto fixture = mailchimp_fixture();
  auto connector = connectors::make_connector(fixture.config);
  auto description = connector->describe(fixture.object);
  CHECK_FALSE(description.accepts_new_fields);
  std::vector<std::string> names;
  for (const auto& field : description.fields) names.push_back(field.name);
  for (const char* name : {"email_address", "status", "merge_fields.FNAME", "merge_fields.LNAME", "merge_fields.ADDRESS",
                           "merge_fields.PHONE", "merge_fields.BIRTHDAY", "tags", "last_changed", "email_type",
                           "language", "vip", "member_rating", "timestamp_opt", "ip_signup", "source"})
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  CHECK(std::find(names.begin(), names.end(), "merge_fields.COMPANY") == names.end());  // not in this audience
  // What a record read from the audience carries is all described.
  seeded(fixture, Json::array({{{"email_address", "ann@northwind.io"}, {"status", "subscribed"},
                                {"merge_fields", {{"FNAME", "Ann"}}}, {"language", "en"}, {"vip", true}}}));
  for (const auto& record : read_all(*connector, fixture.object))
    for (const auto& [name, value] : record.fields.items()) {
      if (name == "merge_fields") {
        for (const auto& [tag, v] : value.items())
          CHECK(std::find(names.begin(), names.end(), "merge_fields." + tag) != names.end());
        continue;
      }
      INFO(name);
      CHECK(std::find(names.begin(), names.end(), name) != names.end());
    }
}

TEST_CASE("mailchimp probes the audience with one member read; an unknown audience is named", "[mailchimp][probe]") {
  auto fixture = mailchimp_fixture();
  auto& emulator = *std::static_pointer_cast<emulators::MailchimpEmulator>(fixture.keep_alive);
  auto connector = connectors::make_connector(fixture.config);
  emulator.reset_stats();
  connector->probe(fixture.object);
  bool read_member = false;
  for (const auto& entry : emulator.request_log())
    if (entry.value("path", "").ends_with("/members")) {
      read_member = true;
      CHECK(entry.value("query", "").find("count=1") != std::string::npos);
    }
  CHECK(read_member);
  auto missing = fixture.object;
  missing.options["list"] = "no such audience";
  CHECK(config_error([&] { connector->probe(missing); }).find("has no audience 'no such audience'") != std::string::npos);
}

TEST_CASE("mailchimp check and probe report an unreachable server at once; nothing is retried", "[mailchimp][probe]") {
  auto fixture = mailchimp_fixture();
  std::vector<std::string> log;
  auto config = fixture.config;
  config.settings["base_url"] = "http://127.0.0.1:1/3.0";
  config.log = [&log](const std::string& line) { log.push_back(line); };
  auto connector = connectors::make_connector(config);
  auto attempts = [&] {
    return std::count_if(log.begin(), log.end(), [](const std::string& line) {
      return line.find(" -> ") != std::string::npos && line.find("retrying") == std::string::npos;
    });
  };
  auto check = thrown([&] { connector->check(); });
  CHECK(check.message.find("could not be made") != std::string::npos);
  CHECK(attempts() == 1);
  log.clear();
  auto probe = thrown([&] { connector->probe(fixture.object); });
  CHECK(probe.message.find("could not be made") != std::string::npos);
  CHECK(attempts() == 1);
}

TEST_CASE("mailchimp validates connection keys when constructed and endpoint options without I/O, naming the key",
          "[mailchimp][settings]") {
  auto fixture = mailchimp_fixture();
  const std::string url = fixture.config.settings["base_url"];
  struct Case {
    Json settings;
    std::string key;
  };
  for (const auto& c : std::vector<Case>{
           {{{"base_url", url}}, "api_key"},
           {{{"api_key", "0123456789abcdef0123456789abcdef"}}, "api_key"},
           {{{"api_key", "0123 456-us6"}, {"base_url", url}}, "api_key"},
           {{{"api_key", "k-us6"}, {"base_url", "ftp://127.0.0.1:1"}}, "base_url"},
           {{{"api_key", "k-us6"}, {"base_url", url}, {"max_in_flight", 11}}, "max_in_flight"},
           {{{"api_key", "k-us6"}, {"base_url", url}, {"timeout", "later"}}, "timeout"},
       }) {
    INFO(c.settings.dump());
    auto config = fixture.config;
    config.settings = c.settings;
    auto error = thrown([&] { connectors::make_connector(config); });
    CHECK(error.kind == ErrorKind::config);
    CHECK(error.setting == c.key);
  }
  auto config = fixture.config;
  config.settings["base_url"] = "http://127.0.0.1:1/3.0";  // nothing listens: options need no I/O
  auto connector = connectors::make_connector(config);
  CHECK_NOTHROW(connector->check_options(fixture.object));
  struct Option {
    Json options;
    std::string key;
  };
  for (const auto& c : std::vector<Option>{
           {{{"lookback", "0s"}}, "list"},
           {{{"list", ""}}, "list"},
           {{{"list", 42}}, "list"},
           {{{"list", "a"}, {"status_if_new", "active"}}, "status_if_new"},
           {{{"list", "a"}, {"lookback", "a while"}}, "lookback"},
           {{{"list", "a"}, {"tombstones", "no"}}, "tombstones"},
           {{{"list", "a"}, {"permanent_delete", 1}}, "permanent_delete"},
       }) {
    INFO(c.options.dump());
    auto object = fixture.object;
    object.options = c.options;
    auto error = thrown([&] { connector->check_options(object); });
    CHECK(error.kind == ErrorKind::config);
    CHECK(error.setting == c.key);
  }
  auto contacts = fixture.object;
  contacts.name = "contacts";
  CHECK(thrown([&] { connector->check_options(contacts); }).setting == "object");
}

TEST_CASE("mailchimp number and date merge fields take what they hold exactly, else the row is refused",
          "[mailchimp][values]") {
  auto fixture = mailchimp_fixture();
  auto& emulator = *std::static_pointer_cast<emulators::MailchimpEmulator>(fixture.keep_alive);
  emulator.load_seed({{"lists", Json::array({{{"name", "numbers"},
                                              {"merge_fields", Json::array({{{"tag", "SEATS"}, {"name", "Seats"}, {"type", "number"}},
                                                                            {{"tag", "RENEWAL"}, {"name", "Renewal"}, {"type", "date"}}})}}})}});
  const std::string list_id = emulator.list_id("numbers");
  fixture.object.options["list"] = "numbers";
  auto connector = connectors::make_connector(fixture.config);
  auto results = connector->write(fixture.object,
                                  {write_op(OpKind::upsert, "a@northwind.io", {{"merge_fields.SEATS", "12"}}),
                                   write_op(OpKind::upsert, "b@northwind.io", {{"merge_fields.SEATS", "2.5"}}),
                                   write_op(OpKind::upsert, "c@northwind.io", {{"merge_fields.SEATS", "12345678901234567.89"}}),
                                   write_op(OpKind::upsert, "d@northwind.io", {{"merge_fields.RENEWAL", "2024-02-30"}}),
                                   write_op(OpKind::upsert, "e@northwind.io", {{"merge_fields.RENEWAL", "2024-02-29"}})});
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK_FALSE(results[2].ok);
  CHECK(results[2].error.find("cannot hold '12345678901234567.89'") != std::string::npos);
  CHECK_FALSE(results[3].ok);
  CHECK(results[3].error == "merge field RENEWAL (date) cannot hold '2024-02-30': it is not a day the calendar has");
  CHECK(results[4].ok);
  std::map<std::string, Json> merge;
  for (const auto& member : emulator.members(list_id)) merge[member["email_address"]] = member["merge_fields"];
  CHECK(merge.at("a@northwind.io")["SEATS"] == 12);
  CHECK(merge.at("b@northwind.io")["SEATS"] == 2.5);
  CHECK_FALSE(merge.contains("c@northwind.io"));
  CHECK_FALSE(merge.contains("d@northwind.io"));
  CHECK(merge.at("e@northwind.io")["RENEWAL"] == "2024-02-29");
}

}  // namespace synctool::testing
