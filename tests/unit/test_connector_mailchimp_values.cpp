#include "connectors/mailchimp/mailchimp_values.hpp"

#include <catch2/catch.hpp>

using namespace synctool::connectors;
using namespace synctool::connectors::mailchimp;

namespace {

std::vector<MergeField> audience_fields() {
  return {MergeField::from_json({{"tag", "FNAME"}, {"name", "First Name"}, {"type", "text"}}),
          MergeField::from_json({{"tag", "COMPANY"}, {"name", "Company"}, {"type", "text"}, {"required", true}}),
          MergeField::from_json({{"tag", "SCORE"}, {"name", "Score"}, {"type", "number"}}),
          MergeField::from_json({{"tag", "PLAN"}, {"name", "Plan"}, {"type", "dropdown"},
                                 {"options", {{"choices", {"free", "pro"}}}}})};
}

}  // namespace

TEST_CASE("the subscriber hash is the md5 of the trimmed, lower-cased address", "[mailchimp]") {
  // md5("urist.mcvankab@freddiesjokes.com"), Mailchimp's documented example.
  CHECK(subscriber_hash("urist.mcvankab@freddiesjokes.com") == "62eeb292278cc15f5817cb78f7790b08");
  CHECK(subscriber_hash(" Urist.McVankab@FreddiesJokes.com ") == "62eeb292278cc15f5817cb78f7790b08");
}

TEST_CASE("mailchimp times are to the second, rounded down, with +00:00", "[mailchimp]") {
  CHECK(mailchimp_time(1761061296999) == "2025-10-21T15:41:36+00:00");
  CHECK(mailchimp_time(1761061296000) == "2025-10-21T15:41:36+00:00");
}

TEST_CASE("addresses mailchimp never takes are named with the reason; ordinary ones pass", "[mailchimp]") {
  for (const auto* good : {"ann@northwind.io", "o'brien+news@mail.co.uk", "j.smith@sub.domain.io", "x@bücher.de",
                           "ann@example.co", "ann@myexample.com", "ann@example.com.au"}) {
    INFO(good);
    CHECK(address_problem(good).empty());
  }
  CHECK(address_problem("no-at-sign.com").find("exactly one '@'") != std::string::npos);
  CHECK(address_problem("a@b@c.com").find("exactly one '@'") != std::string::npos);
  CHECK(address_problem("john..smith@gmail.com").find("two dots in a row") != std::string::npos);
  CHECK(address_problem(".ann@gmail.com").find("starts or ends with a dot") != std::string::npos);
  CHECK(address_problem("ann.@gmail.com").find("starts or ends with a dot") != std::string::npos);
  CHECK(address_problem("bob@mail.c").find("'.c' does not exist") != std::string::npos);
  CHECK(address_problem("bob@mail.c0m").find("'.c0m' does not exist") != std::string::npos);
  CHECK(address_problem("bob@localhost").find("no top-level domain") != std::string::npos);
  CHECK(address_problem("ann@corp.invalid").find("'.invalid' is reserved") != std::string::npos);
  CHECK(address_problem("ann lee@gmail.com").find("space") != std::string::npos);
  CHECK(address_problem("bob@mail.c").starts_with("'bob@mail.c' is not an address Mailchimp takes"));
  // The domains reserved for examples (and those under them), whatever their case.
  for (const auto* fake : {"ann@example.com", "ann@example.org", "ann@EXAMPLE.NET", "ann@mail.example.com",
                           "ann@acme.example", "ann@staging.test", "ann@box.localhost"}) {
    INFO(fake);
    CHECK_FALSE(address_problem(fake).empty());
  }
  CHECK(address_problem("ann@Example.com") ==
        "'ann@Example.com' is not an address Mailchimp takes: 'example.com' is reserved for examples and never "
        "delivers (Mailchimp calls such an address fake)");
}

TEST_CASE("member entries nest merge fields, convert values to the field's type and check required fields",
          "[mailchimp]") {
  const auto fields = audience_fields();
  Json entry;
  bool config = true;
  Json write = {{"email_address", "ann@northwind.io"},
                {"merge_fields", {{"FNAME", "Ann"}, {"COMPANY", "Acme"}}},
                {"merge_fields.SCORE", "42"},
                {"merge_fields.PLAN", "pro"}};
  CHECK(member_entry(write, fields, true, entry, config).empty());
  CHECK_FALSE(config);
  CHECK(entry["email_address"] == "ann@northwind.io");
  CHECK(entry["merge_fields"]["FNAME"] == "Ann");
  CHECK(entry["merge_fields"]["SCORE"] == 42);  // numeric text to a number
  CHECK(entry["merge_fields"]["PLAN"] == "pro");
  CHECK_FALSE(entry.contains("status"));        // the connector adds status_if_new for new members

  // Text fields take text; a missing value clears the field.
  CHECK(member_entry({{"email_address", "a@northwind.io"}, {"merge_fields", {{"FNAME", 7}, {"COMPANY", "X"}}}}, fields, true,
                     entry, config)
            .empty());
  CHECK(entry["merge_fields"]["FNAME"] == "7");
  CHECK(member_entry({{"email_address", "a@northwind.io"}, {"merge_fields", {{"FNAME", nullptr}, {"COMPANY", "X"}}}}, fields,
                     true, entry, config)
            .empty());
  CHECK(entry["merge_fields"]["FNAME"] == "");

  // A required field: needed for a member that may be new, never emptied by an update.
  CHECK(member_entry({{"email_address", "a@northwind.io"}}, fields, true, entry, config) ==
        "required merge field COMPANY (Company) has no value");
  CHECK_FALSE(config);
  CHECK(member_entry({{"email_address", "a@northwind.io"}}, fields, false, entry, config).empty());
  CHECK(member_entry({{"merge_fields", {{"COMPANY", "  "}}}}, fields, false, entry, config) ==
        "required merge field COMPANY (Company) has no value");
}

TEST_CASE("number merge fields get exactly the member's number, or the row is refused with the reason",
          "[mailchimp]") {
  const auto fields = audience_fields();
  Json entry;
  bool config = false;
  auto score = [&](const Json& value) {
    auto problem = member_entry({{"merge_fields.SCORE", value}}, fields, false, entry, config);
    return problem;
  };
  CHECK(score("42").empty());
  CHECK(entry["merge_fields"]["SCORE"].is_number_integer());
  CHECK(entry["merge_fields"]["SCORE"] == 42);
  CHECK(score(" 3.25 ").empty());
  CHECK(entry["merge_fields"]["SCORE"] == 3.25);
  CHECK(score("0.1").empty());
  CHECK(entry["merge_fields"]["SCORE"].dump() == "0.1");
  CHECK(score(Json(9007199254740992LL)).empty());  // 2^53: a double holds it
  CHECK(score("5e-324").empty());                    // subnormal: a double holds it
  CHECK(entry["merge_fields"]["SCORE"] == 5e-324);
  CHECK(score("").empty());
  CHECK(entry["merge_fields"]["SCORE"] == "");      // clears
  CHECK(score("12345678901234567.89") ==
        "merge field SCORE (number) cannot hold '12345678901234567.89': Mailchimp keeps numbers as doubles (about 15 "
        "significant digits), which would round it");
  CHECK_FALSE(score(Json(9007199254740993LL)).empty());  // 2^53 + 1: a double would round it
  CHECK(score("many") == "merge field SCORE (number) cannot hold 'many': it is not a number");
  CHECK_FALSE(score(true).empty());
  CHECK_FALSE(config);
}

TEST_CASE("date merge fields refuse days the calendar does not have, in ISO form or the field's own", "[mailchimp]") {
  std::vector<MergeField> fields = {
      MergeField::from_json({{"tag", "RENEWAL"}, {"type", "date"}, {"options", {{"date_format", "MM/DD/YYYY"}}}}),
      MergeField::from_json({{"tag", "EUDATE"}, {"type", "date"}, {"options", {{"date_format", "dd/mm/yyyy"}}}}),
      MergeField::from_json({{"tag", "BIRTHDAY"}, {"type", "birthday"}, {"options", {{"date_format", "MM/DD"}}}})};
  Json entry;
  bool config = false;
  auto write = [&](const char* tag, const Json& value) {
    return member_entry({{std::string("merge_fields.") + tag, value}}, fields, false, entry, config);
  };
  CHECK(write("RENEWAL", "2024-02-29").empty());
  CHECK(entry["merge_fields"]["RENEWAL"] == "2024-02-29");
  CHECK(write("RENEWAL", "02/29/2024").empty());
  CHECK(write("RENEWAL", "2024-02-30") ==
        "merge field RENEWAL (date) cannot hold '2024-02-30': it is not a day the calendar has");
  CHECK_FALSE(write("RENEWAL", "02/30/2024").empty());
  CHECK_FALSE(write("RENEWAL", "2023-02-29").empty());
  CHECK(write("EUDATE", "31/12/2025").empty());
  CHECK_FALSE(write("EUDATE", "12/31/2025").empty());  // month 31
  CHECK(write("BIRTHDAY", "02/29").empty());            // a birthday has no year
  CHECK_FALSE(write("BIRTHDAY", "02/30").empty());
  CHECK_FALSE(write("BIRTHDAY", "04/31").empty());
  CHECK(write("BIRTHDAY", "").empty());
  CHECK(write("RENEWAL", "next Tuesday").empty());      // not a date shape: Mailchimp's answer says why
  CHECK_FALSE(config);
}

TEST_CASE("a merge tag or member field the audience does not have is a config problem with a hint", "[mailchimp]") {
  const auto fields = audience_fields();
  Json entry;
  bool config = false;
  auto problem = member_entry({{"merge_fields.COMPNY", "Acme"}}, fields, false, entry, config);
  CHECK(config);
  CHECK(problem.find("no merge field 'COMPNY' (did you mean 'COMPANY'?)") != std::string::npos);
  problem = member_entry({{"firstname", "Ann"}}, fields, false, entry, config);
  CHECK(config);
  CHECK(problem.find("no writable field 'firstname'") != std::string::npos);
}

TEST_CASE("members from the API become records: tags as names, links and ids left out", "[mailchimp]") {
  Json member = {{"id", "62eeb292278cc15f5817cb78f7790b08"},
                 {"email_address", "urist.mcvankab@freddiesjokes.com"},
                 {"status", "subscribed"},
                 {"merge_fields", {{"FNAME", "Urist"}}},
                 {"tags", {{{"id", 1}, {"name", "vip"}}}},
                 {"list_id", "abc"},
                 {"_links", Json::array()}};
  auto fields = member_fields(member);
  CHECK(fields["email_address"] == "urist.mcvankab@freddiesjokes.com");
  CHECK(fields["merge_fields"]["FNAME"] == "Urist");
  CHECK(fields["tags"] == Json::array({"vip"}));
  CHECK_FALSE(fields.contains("_links"));
  CHECK_FALSE(fields.contains("id"));
}
