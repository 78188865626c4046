// Salesforce's field types and wire values (connectors/salesforce/salesforce_values).
#include "connectors/salesforce/salesforce_values.hpp"

#include "connectors/registry.hpp"
#include "emulators/salesforce/salesforce_emulator.hpp"

#include <catch2/catch.hpp>

using namespace synctool::connectors;
using namespace synctool::connectors::salesforce;

namespace {

Field field(const std::string& name, const std::string& type, std::size_t length = 0) {
  return Field::from_json({{"name", name}, {"type", type}, {"length", length}, {"nillable", true}, {"createable", true},
                           {"updateable", true}});
}

}  // namespace

TEST_CASE("salesforce describe: required on create is not nillable, createable and not defaulted") {
  auto last_name = Field::from_json({{"name", "LastName"}, {"type", "string"}, {"nillable", false}, {"createable", true},
                                     {"defaultedOnCreate", false}, {"length", 80}});
  CHECK(last_name.required_on_create());
  CHECK(last_name.length == 80);
  auto owner = Field::from_json({{"name", "OwnerId"}, {"type", "reference"}, {"nillable", false}, {"createable", true},
                                 {"defaultedOnCreate", true}});
  CHECK_FALSE(owner.required_on_create());
  auto id = Field::from_json({{"name", "Id"}, {"type", "id"}, {"nillable", false}, {"createable", false}});
  CHECK_FALSE(id.required_on_create());
  CHECK(synctool_type(field("Email", "email")) == "email");
  CHECK(synctool_type(field("Amount", "currency")) == "number");
  CHECK(synctool_type(field("Status", "picklist")) == "enumeration");
  CHECK(synctool_type(field("Tags__c", "multipicklist")) == "multiselect");
  CHECK(synctool_type(field("HasOptedOutOfEmail", "boolean")) == "bool");
  CHECK(synctool_type(field("MailingAddress", "address")) == "json");
}

TEST_CASE("salesforce values: what a field refuses is said before sending, naming the field") {
  CHECK(value_problem(field("Email", "email"), "ann@example.com").empty());
  CHECK(value_problem(field("Email", "email"), "ann@example").rfind("INVALID_EMAIL_ADDRESS: Email", 0) == 0);
  CHECK_FALSE(value_problem(field("Email", "email"), "ann lee@example.com").empty());
  CHECK_FALSE(value_problem(field("Email", "email"), "@example.com").empty());
  CHECK(value_problem(field("Email", "email"), nullptr).empty());
  CHECK(value_problem(field("LastName", "string", 5), "Lee").empty());
  CHECK(value_problem(field("LastName", "string", 5), "Müller").rfind("STRING_TOO_LONG: LastName holds at most 5", 0) == 0);
  CHECK(value_problem(field("LastName", "string", 5), "Mülle").empty());  // characters, not bytes
  CHECK(value_problem(field("Amount", "currency"), "12.5").empty());
  CHECK(value_problem(field("Amount", "currency"), "abc") == "field Amount (currency) cannot hold 'abc': it is not a number");
  CHECK_FALSE(value_problem(field("Seats__c", "int"), "1.5").empty());
  CHECK_FALSE(value_problem(field("Amount", "double"), "12345678901234567.89").empty());
  CHECK(value_problem(field("Active__c", "boolean"), "TRUE").empty());
  CHECK_FALSE(value_problem(field("Active__c", "boolean"), "yes").empty());
  CHECK(value_problem(field("Birthdate", "date"), "1990-02-28").empty());
  CHECK_FALSE(value_problem(field("Birthdate", "date"), "1990-02-30").empty());
}

TEST_CASE("salesforce values: empty text for a number or checkbox field is no value, not a refusal") {
  // An empty CSV cell or an empty Mailchimp merge field reaches a field as "": it is written as
  // null, as a null is (the property pairs csv -> salesforce and mailchimp -> salesforce found
  // these records rejected whole).
  CHECK(value_problem(field("Amount__c", "double"), "").empty());
  CHECK(value_problem(field("Seats__c", "int"), "  ").empty());
  CHECK(to_wire(field("Amount__c", "double"), "") == Json(nullptr));
  CHECK(to_wire(field("Amount__c", "double"), " ") == Json(nullptr));
  CHECK_FALSE(value_problem(field("Amount__c", "double"), " x ").empty());
  // A checkbox holds no empty value: null saves as false. "" must not go out as "" (a JSON
  // string for a boolean field fails the whole call with JSON_PARSER_ERROR).
  CHECK(value_problem(field("Active__c", "boolean"), "").empty());
  CHECK(to_wire(field("Active__c", "boolean"), "") == Json(nullptr));
  CHECK(to_wire(field("Active__c", "boolean"), " ") == Json(nullptr));
  CHECK_FALSE(value_problem(field("Active__c", "boolean"), " maybe ").empty());
}

TEST_CASE("salesforce values: written in the type each field takes") {
  CHECK(to_wire(field("Amount", "currency"), "12.5") == Json(12.5));
  CHECK(to_wire(field("Seats__c", "int"), "42") == Json(42));
  CHECK(to_wire(field("Amount", "currency"), "") == Json(nullptr));
  CHECK(to_wire(field("Active__c", "boolean"), "False") == Json(false));
  CHECK(to_wire(field("Tags__c", "multipicklist"), Json::array({"a", "b"})) == Json("a;b"));
  CHECK(to_wire(field("LastSeen__c", "datetime"), "2026-01-02T03:04:05+02:00") == Json("2026-01-02T01:04:05Z"));
  CHECK(to_wire(field("Birthdate", "date"), "1990-02-28T00:00:00Z") == Json("1990-02-28"));
  CHECK(to_wire(field("Phone", "phone"), 4930123) == Json("4930123"));
  CHECK(record_fields({{"attributes", {{"type", "Contact"}}}, {"Id", "003"}, {"Email", nullptr}}) ==
        Json({{"Id", "003"}, {"Email", nullptr}}));
}

TEST_CASE("salesforce SOQL: literals quoted and escaped; datetimes to the second; 18-character ids") {
  CHECK(soql_quote("O'Brien \\ \"x\"\n") == "'O\\'Brien \\\\ \\\"x\\\"\\n'");
  CHECK(soql_datetime(1767225600123) == "2026-01-01T00:00:00Z");
  CHECK(parse_datetime("2026-01-01T00:00:00.000+0000") == 1767225600000);
  // Salesforce's documented example: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
  CHECK(case_safe_id("001A0000006Vm9r") == "001A0000006Vm9rIAC");
  CHECK(case_safe_id("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC");
  CHECK(api_name_problem("Email").empty());
  CHECK(api_name_problem("Region__c").empty());
  CHECK_FALSE(api_name_problem("Email; DELETE").empty());
  CHECK_FALSE(api_name_problem("1st").empty());
}

TEST_CASE("salesforce incremental read of a custom object: no MasterRecordId, which only mergeable objects have") {
  // The deleted records' query asked every object for MasterRecordId; a custom object has none
  // and the query failed with INVALID_FIELD (found by the property pairs salesforce -> *).
  synctool::emulators::SalesforceEmulatorOptions options;
  synctool::emulators::SalesforceEmulator emulator(options);
  emulator.start();
  emulator.load_seed({{"objects", Json::array({{{"name", "Item__c"},
                                                {"fields", Json::array({{{"name", "Email__c"}, {"type", "email"}}})}}})},
                      {"records", {{"Item__c", Json::array({{{"Email__c", "a@example.com"}},
                                                            {{"Email__c", "b@example.com"}}})}}}});
  ConnectionConfig config;
  config.name = "org";
  config.type = "salesforce";
  config.settings = {{"login_url", emulator.base_url()},
                     {"client_id", options.client_id},
                     {"client_secret", options.client_secret},
                     {"refresh_token", options.refresh_token}};
  auto connector = make_connector(config);
  ObjectRef items;
  items.name = "Item__c";
  items.key_field = "Email__c";
  std::string cursor;
  std::size_t seen = 0;
  connector->read(items, {}, [&](Page&& page) {
    seen += page.records.size();
    if (!page.cursor.empty()) cursor = page.cursor;
  });
  REQUIRE(seen == 2);
  REQUIRE(!cursor.empty());
  ReadRequest since;
  since.since = cursor;
  std::size_t changed = 0, deleted = 0;
  CHECK_NOTHROW(connector->read(items, since, [&](Page&& page) {
    for (const auto& record : page.records) ++(record.deleted ? deleted : changed);
  }));
  CHECK(changed == 2);  // within the look-back window
  CHECK(deleted == 0);
}
