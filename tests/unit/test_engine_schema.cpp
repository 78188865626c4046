#include "engine/schema.hpp"

#include <catch2/catch.hpp>

using namespace synctool;
using engine::SchemaValidator;
using nlohmann::json;
using spec::FieldType;

namespace {

spec::SchemaField field(std::string name, FieldType type, bool required = false,
                        std::vector<std::string> options = {}) {
  spec::SchemaField f;
  f.name = std::move(name);
  f.type = type;
  f.required = required;
  f.options = std::move(options);
  return f;
}

// Validates {name: value} against one field; returns the error ("" when valid) and the
// stored value after coercion.
std::pair<std::string, json> check(const spec::SchemaField& f, const json& value) {
  SchemaValidator v({f});
  json record = json::object();
  record[f.name] = value;
  auto error = v.validate(record);
  return {error.value_or(""), record[f.name]};
}

}  // namespace

TEST_CASE("an empty schema accepts anything", "[schema]") {
  SchemaValidator v({});
  CHECK(v.empty());
  json record = {{"a", 1}};
  CHECK_FALSE(v.validate(record));
  CHECK(record == json{{"a", 1}});
}

TEST_CASE("required fields reject missing, null and blank values", "[schema]") {
  SchemaValidator v({field("email", FieldType::email, true)});
  CHECK_FALSE(v.empty());
  for (json record : {json::object(), json{{"email", nullptr}}, json{{"email", ""}}, json{{"email", "  "}}}) {
    INFO(record.dump());
    CHECK(v.validate(record) == "field 'email' is required but empty");
  }
}

TEST_CASE("empty optional fields skip type checks and stay as they are", "[schema]") {
  SchemaValidator v({field("age", FieldType::number), field("signup", FieldType::datetime)});
  json record = {{"age", ""}, {"signup", nullptr}};
  CHECK_FALSE(v.validate(record));
  CHECK(record == json{{"age", ""}, {"signup", nullptr}});
  json missing = json::object();
  CHECK_FALSE(v.validate(missing));
  CHECK(missing == json::object());
}

TEST_CASE("string fields turn scalars into text", "[schema]") {
  auto f = field("note", FieldType::string);
  CHECK(check(f, "x") == std::pair<std::string, json>{"", "x"});
  CHECK(check(f, 42) == std::pair<std::string, json>{"", "42"});
  CHECK(check(f, 2.5) == std::pair<std::string, json>{"", "2.5"});
  CHECK(check(f, true) == std::pair<std::string, json>{"", "true"});
  CHECK(check(f, json::array({1})).first == "field 'note': expected text, got an array");
  CHECK(check(f, json{{"a", 1}}).first == "field 'note': expected text, got an object");
}

TEST_CASE("number fields accept numbers and convert numeric text", "[schema]") {
  auto f = field("age", FieldType::number);
  CHECK(check(f, 42) == std::pair<std::string, json>{"", 42});
  CHECK(check(f, 2.5) == std::pair<std::string, json>{"", 2.5});
  auto [e1, v1] = check(f, " 42 ");
  CHECK(e1.empty());
  CHECK(v1 == 42);
  CHECK(v1.is_number_integer());
  auto [e2, v2] = check(f, "3.25");
  CHECK(e2.empty());
  CHECK(v2.is_number_float());
  CHECK(v2 == 3.25);
  auto [e3, v3] = check(f, "1e3");
  CHECK(e3.empty());
  CHECK(v3.is_number_integer());  // a whole number, exactly
  CHECK(v3 == 1000);
  // Every digit stays: a double would make it 12345678901234568.
  CHECK(check(f, "12345678901234567.89").second == "12345678901234567.89");
  CHECK(check(f, "99999999999999999999").second == "99999999999999999999");
  CHECK(check(f, "0.10").second == 0.1);
  CHECK(check(f, "-7").second == -7);
  CHECK(check(f, "abc").first == "field 'age': 'abc' is not a number");
  CHECK(check(f, "12 years").first == "field 'age': '12 years' is not a number");
  CHECK(check(f, true).first == "field 'age': 'true' is not a number");
  CHECK(check(f, json::array({1})).first == "field 'age': '[1]' is not a number");
}

TEST_CASE("boolean fields accept common spellings", "[schema]") {
  auto f = field("active", FieldType::boolean);
  for (json yes : {json(true), json("true"), json("TRUE"), json("Yes"), json("y"), json("1"), json(1), json(1.0)}) {
    INFO(yes.dump());
    CHECK(check(f, yes) == std::pair<std::string, json>{"", true});
  }
  for (json no : {json(false), json("false"), json("No"), json("N"), json(" 0 "), json(0)}) {
    INFO(no.dump());
    CHECK(check(f, no) == std::pair<std::string, json>{"", false});
  }
  CHECK(check(f, "maybe").first == "field 'active': 'maybe' is not a boolean (true/false, yes/no, 1/0)");
  CHECK(check(f, 2).first == "field 'active': '2' is not a boolean (true/false, yes/no, 1/0)");
}

TEST_CASE("datetime fields store ISO 8601 UTC", "[schema]") {
  auto f = field("signup", FieldType::datetime);
  CHECK(check(f, "2024-12-31") == std::pair<std::string, json>{"", "2024-12-31T00:00:00Z"});
  CHECK(check(f, "2024-12-31T10:15:00+02:00") == std::pair<std::string, json>{"", "2024-12-31T08:15:00Z"});
  CHECK(check(f, " 2024-12-31 10:15:30.250Z ") == std::pair<std::string, json>{"", "2024-12-31T10:15:30.250Z"});
  CHECK(check(f, 1735689600000LL) == std::pair<std::string, json>{"", "2025-01-01T00:00:00Z"});
  CHECK(check(f, 1735689600000.0) == std::pair<std::string, json>{"", "2025-01-01T00:00:00Z"});
  CHECK(check(f, "31/12/2024").first == "field 'signup': '31/12/2024' is not an ISO 8601 date or date-time");
  CHECK(check(f, 1e300).first.find("is not an ISO 8601 date or date-time") != std::string::npos);
  CHECK(check(f, true).first == "field 'signup': 'true' is not an ISO 8601 date or date-time");
}

TEST_CASE("email fields are trimmed and checked", "[schema]") {
  auto f = field("email", FieldType::email);
  CHECK(check(f, "  ann@example.com ") == std::pair<std::string, json>{"", "ann@example.com"});
  CHECK(check(f, "bob@").first == "field 'email': 'bob@' is not a valid email address");
  CHECK(check(f, 42).first == "field 'email': '42' is not a valid email address");
}

TEST_CASE("enumeration fields accept only the declared options", "[schema]") {
  auto f = field("status", FieldType::enumeration, false, {"active", "inactive"});
  CHECK(check(f, "active") == std::pair<std::string, json>{"", "active"});
  CHECK(check(f, "actve").first == "field 'status': 'actve' is not one of: active, inactive");
  CHECK(check(f, "Active").first == "field 'status': 'Active' is not one of: active, inactive");
  auto levels = field("level", FieldType::enumeration, false, {"1", "2"});
  CHECK(check(levels, 2) == std::pair<std::string, json>{"", "2"});
}

TEST_CASE("nested fields are validated and converted in place", "[schema]") {
  SchemaValidator v({field("merge_fields.AGE", FieldType::number, true), field("email_address", FieldType::email)});
  json record = {{"email_address", " a@b.co"}, {"merge_fields", {{"AGE", "41"}, {"FNAME", "Ann"}}}};
  CHECK_FALSE(v.validate(record));
  CHECK(record == json{{"email_address", "a@b.co"}, {"merge_fields", {{"AGE", 41}, {"FNAME", "Ann"}}}});
}

TEST_CASE("the first violation in schema order is reported", "[schema]") {
  SchemaValidator v({field("a", FieldType::number), field("b", FieldType::email, true), field("c", FieldType::number)});
  json record = {{"a", "1"}, {"c", "x"}};
  CHECK(v.validate(record) == "field 'b' is required but empty");
  record["b"] = "b@c.de";
  CHECK(v.validate(record) == "field 'c': 'x' is not a number");
}

TEST_CASE("long offending values are shortened in messages", "[schema]") {
  auto f = field("age", FieldType::number);
  std::string error = check(f, std::string(500, 'x')).first;
  CHECK(error == "field 'age': '" + std::string(80, 'x') + "...' is not a number");
}

TEST_CASE("is_valid_email accepts ordinary addresses", "[schema]") {
  for (const char* ok : {"a@b.co", "first.last+tag@sub.example.org", "x_y-z@a-b.c", "ü@ex.de"}) {
    INFO(ok);
    CHECK(engine::is_valid_email(ok));
  }
}

TEST_CASE("is_valid_email rejects malformed addresses", "[schema]") {
  std::string too_long = std::string(64, 'a') + "@" + std::string(186, 'b') + ".com";  // 255 characters
  for (const std::string& bad :
       {std::string(""), std::string("bob@"), std::string("@x.com"), std::string("bob"), std::string("a@b@c.com"),
        std::string("a b@c.com"), std::string("a@b .com"), std::string("a@localhost"), std::string("a@.com"),
        std::string("a@com."), std::string("a@b..com"), std::string(".a@b.com"), std::string("a.@b.com"),
        std::string("a\t@b.com"), too_long}) {
    INFO(bad);
    CHECK_FALSE(engine::is_valid_email(bad));
  }
  CHECK(engine::is_valid_email(std::string(64, 'a') + "@" + std::string(185, 'b') + ".com"));  // 254
}

TEST_CASE("date fields keep the day and refuse times that are not midnight", "[schema]") {
  auto f = field("d", FieldType::date);
  CHECK(check(f, "2025-03-04") == std::pair<std::string, json>{"", "2025-03-04"});
  CHECK(check(f, "2025-03-04T00:00:00Z").second == "2025-03-04");
  CHECK_FALSE(check(f, "2025-03-04T10:00:00Z").first.empty());
  CHECK_FALSE(check(f, "yesterday").first.empty());
}

TEST_CASE("multiselect fields become lists of declared options", "[schema]") {
  auto f = field("m", FieldType::multiselect, false, {"a", "b", "c"});
  CHECK(check(f, "a; c") == std::pair<std::string, json>{"", json({"a", "c"})});
  CHECK(check(f, json({"b"})).second == json({"b"}));
  auto bad = check(f, "a;z");
  CHECK(bad.first.find("'z'") != std::string::npos);
  CHECK_FALSE(check(f, json({{"x", 1}})).first.empty());
}

TEST_CASE("json fields take any value as it is", "[schema]") {
  auto f = field("j", FieldType::json);
  CHECK(check(f, json({{"x", 1}})) == std::pair<std::string, json>{"", json({{"x", 1}})});
  CHECK(check(f, 5).second == 5);
}

TEST_CASE("json fields take text holding a JSON document as that document", "[schema]") {
  auto f = field("settings", FieldType::json);
  CHECK(check(f, R"( {"plan": "pro", "seats": 3} )").second == json({{"plan", "pro"}, {"seats", 3}}));
  CHECK(check(f, "[1, 2]").second == json({1, 2}));
  CHECK(check(f, "plain text").second == "plain text");
  CHECK(check(f, "{not json").second == "{not json");
  CHECK(check(f, 42).second == 42);
}
