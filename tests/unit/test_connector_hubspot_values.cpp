#include "connectors/hubspot/hubspot_values.hpp"

#include <catch2/catch.hpp>

namespace synctool::connectors::hubspot {

namespace {

Property prop(std::string type, std::string field_type, std::vector<std::string> options = {}) {
  Property p;
  p.name = std::string(1, 'p');  // not = "p": GCC 12 -O2 reports a false -Wrestrict for that
  p.type = std::move(type);
  p.field_type = std::move(field_type);
  p.options = std::move(options);
  return p;
}

}  // namespace

TEST_CASE("hubspot wire values become typed values by property type", "[hubspot][values]") {
  auto number = prop("number", "number");
  CHECK(from_wire(&number, "42") == Json(42));
  CHECK(from_wire(&number, "-3.5") == Json(-3.5));
  CHECK(from_wire(&number, "") == Json(nullptr));
  CHECK(from_wire(&number, "n/a") == Json("n/a"));  // kept as text, not lost

  auto flag = prop("bool", "booleancheckbox");
  CHECK(from_wire(&flag, "true") == Json(true));
  CHECK(from_wire(&flag, "false") == Json(false));

  auto when = prop("datetime", "date");
  CHECK(from_wire(&when, "2025-01-02T03:04:05.678Z") == Json("2025-01-02T03:04:05.678Z"));
  CHECK(from_wire(&when, "1735787045678") == Json("2025-01-02T03:04:05.678Z"));

  auto day = prop("date", "date");
  CHECK(from_wire(&day, "2025-01-02") == Json("2025-01-02"));
  CHECK(from_wire(&day, "1735776000000") == Json("2025-01-02"));
  CHECK(from_wire(&day, "2025-01-02T00:00:00Z") == Json("2025-01-02"));

  auto multi = prop("enumeration", "checkbox", {"a", "b", "c"});
  CHECK(from_wire(&multi, "a;c") == Json({"a", "c"}));
  CHECK(from_wire(&multi, "") == Json(nullptr));
  auto single = prop("enumeration", "select", {"a"});
  CHECK(from_wire(&single, "a") == Json("a"));

  CHECK(from_wire(nullptr, "x") == Json("x"));
  CHECK(from_wire(&number, nullptr) == Json(nullptr));
}

TEST_CASE("typed values become hubspot wire strings", "[hubspot][values]") {
  auto number = prop("number", "number");
  CHECK(to_wire(&number, 42) == "42");
  CHECK(to_wire(&number, 42.0) == "42");
  CHECK(to_wire(&number, 2.5) == "2.5");
  CHECK(to_wire(&number, "17") == "17");
  CHECK(to_wire(&number, nullptr) == "");  // clears the property

  auto flag = prop("bool", "booleancheckbox");
  CHECK(to_wire(&flag, true) == "true");
  CHECK(to_wire(&flag, "Yes") == "true");
  CHECK(to_wire(&flag, "0") == "false");

  auto when = prop("datetime", "date");
  CHECK(to_wire(&when, "2025-01-02T03:04:05.678Z") == "1735787045678");
  CHECK(to_wire(&when, "1735787045678") == "1735787045678");

  auto day = prop("date", "date");
  CHECK(to_wire(&day, "2025-01-02") == "1735776000000");
  CHECK(to_wire(&day, "2025-01-02T15:00:00Z") == "1735776000000");  // midnight UTC of that day

  auto multi = prop("enumeration", "checkbox", {"a", "b"});
  CHECK(to_wire(&multi, Json({"a", "b"})) == "a;b");
  CHECK(to_wire(nullptr, Json({{"x", 1}})) == "{\"x\":1}");
  CHECK(to_wire(nullptr, "text") == "text");
}

TEST_CASE("declared schema types map to hubspot property types, json does not", "[hubspot][values]") {
  std::string type, field_type;
  CHECK(hubspot_type_for("number", type, field_type));
  CHECK((type == "number" && field_type == "number"));
  CHECK(hubspot_type_for("multiselect", type, field_type));
  CHECK((type == "enumeration" && field_type == "checkbox"));
  CHECK(hubspot_type_for("datetime", type, field_type));
  CHECK((type == "datetime" && field_type == "date"));
  CHECK_FALSE(hubspot_type_for("json", type, field_type));

  CHECK(property_name_problem("plan_tier2").empty());
  CHECK_FALSE(property_name_problem("Plan").empty());
  CHECK_FALSE(property_name_problem("2plan").empty());
  CHECK_FALSE(property_name_problem("merge_fields.FNAME").empty());
}

TEST_CASE("a property definition is read with its options and read-only flag", "[hubspot][values]") {
  auto p = Property::from_json({{"name", "stage"},
                                {"type", "enumeration"},
                                {"fieldType", "checkbox"},
                                {"options", Json::array({{{"label", "A"}, {"value", "a"}}, {{"label", "B"}, {"value", "b"}}})},
                                {"modificationMetadata", {{"readOnlyValue", true}}}});
  CHECK(p.name == "stage");
  CHECK(p.multi_select());
  CHECK(p.options == std::vector<std::string>{"a", "b"});
  CHECK(p.read_only);
  CHECK(synctool_type(p) == "multiselect");
}

TEST_CASE("hubspot numbers travel exactly: integers, doubles that hold them, else the decimal text",
          "[hubspot][values]") {
  auto number = prop("number", "number");
  // Wire text -> value.
  CHECK(from_wire(&number, "12345678901234567.89") == Json("12345678901234567.89"));
  CHECK(from_wire(&number, "12345678901234567.89").is_string());
  CHECK(from_wire(&number, "9223372036854775807") == Json(std::int64_t{9223372036854775807}));
  CHECK(from_wire(&number, "18446744073709551615") == Json(std::uint64_t{18446744073709551615u}));
  CHECK(from_wire(&number, "123456789012345678901234567890") == Json("123456789012345678901234567890"));
  CHECK(from_wire(&number, "0.1") == Json(0.1));
  CHECK(from_wire(&number, "1.50") == Json(1.5));
  CHECK(from_wire(&number, "1e3") == Json(1000));
  CHECK(from_wire(&number, "-0") == Json(0));
  CHECK(from_wire(&number, " 12") == Json(" 12"));  // not a number: kept as text
  CHECK(from_wire(&number, "0x10") == Json("0x10"));
  CHECK(from_wire(&number, "inf") == Json("inf"));
  CHECK(from_wire(&number, "5e-324") == Json(5e-324));  // subnormal: a double holds it
  // Value -> wire text: the canonical decimal, never an exponent or a rounded double.
  CHECK(to_wire(&number, "12345678901234567.89") == "12345678901234567.89");
  CHECK(to_wire(&number, "+007.50") == "7.5");
  CHECK(to_wire(&number, 1e20) == "100000000000000000000");
  CHECK(to_wire(&number, 1.5e-7) == "0.00000015");
  CHECK(to_wire(&number, 0.1) == "0.1");
  CHECK(to_wire(&number, Json(std::uint64_t{18446744073709551615u})) == "18446744073709551615");
  auto text = prop("string", "text");
  CHECK(to_wire(&text, 1e21) == "1000000000000000000000");
  // Property test: every decimal that comes in goes back out as the same canonical text.
  for (const char* decimal : {"0", "-1", "3.14159", "12345678901234567.89", "0.000001", "99999999999999999999.5",
                              "-9223372036854775808", "4.35", "1000000"}) {
    INFO(decimal);
    CHECK(to_wire(&number, from_wire(&number, decimal)) == decimal);
  }
}

TEST_CASE("values a property cannot hold are refused with the reason, never shifted", "[hubspot][values]") {
  auto number = prop("number", "number");
  number.name = "amount";
  CHECK(value_problem(number, "12345678901234567.89").empty());
  CHECK(value_problem(number, 4.5).empty());
  CHECK(value_problem(number, nullptr).empty());
  CHECK(value_problem(number, "").empty());  // clears
  CHECK(value_problem(number, "abc") == "property amount (number) cannot hold 'abc': it is not a number");
  CHECK_FALSE(value_problem(number, true).empty());

  auto day = prop("date", "date");
  day.name = "renewal";
  CHECK(value_problem(day, "2024-02-29").empty());
  CHECK(value_problem(day, "1735776000000").empty());
  CHECK(value_problem(day, Json(std::int64_t{1735776000000})).empty());
  CHECK(value_problem(day, "1735787045678") ==
        "property renewal (date) cannot hold '1735787045678': it is not midnight UTC (a date property holds days)");
  CHECK(value_problem(day, "2024-02-30").starts_with("property renewal (date) cannot hold '2024-02-30': it is not a date"));
  CHECK_FALSE(value_problem(day, "2023-02-29").empty());
  CHECK_FALSE(value_problem(day, "2025-13-01").empty());
  CHECK_FALSE(value_problem(day, "soon").empty());

  auto when = prop("datetime", "date");
  when.name = "seen";
  CHECK(value_problem(when, "2025-01-02T03:04:05Z").empty());
  CHECK(value_problem(when, "2025-04-31T10:00:00Z").starts_with("property seen (datetime) cannot hold"));

  auto flag = prop("bool", "booleancheckbox");
  flag.name = "vip";
  CHECK(value_problem(flag, "Yes").empty());
  CHECK(value_problem(flag, 1).empty());
  CHECK(to_wire(&flag, 1) == "true");
  CHECK(value_problem(flag, "maybe") == "property vip (bool) cannot hold 'maybe': it is not true or false");

  auto text = prop("string", "text");
  CHECK(value_problem(text, "anything at all").empty());
}

}  // namespace synctool::connectors::hubspot
