#include "connectors/push/push_payload.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace synctool::connectors::push;

namespace {

PayloadFormat format_of(std::string rows, std::string key = "external_id", std::string tombstone = "",
                        std::string delivery_id = "") {
  PayloadFormat format;
  format.rows = std::move(rows);
  format.key = std::move(key);
  format.tombstone = std::move(tombstone);
  format.delivery_id = std::move(delivery_id);
  return format;
}

Delivery parse(std::string_view body, const PayloadFormat& format, const std::vector<std::string>& required = {},
               const Headers& headers = {}, const ParseLimits& limits = {}) {
  return parse_delivery(body, format, headers, required, limits);
}

std::string error_of(std::string_view body, const PayloadFormat& format, const std::vector<std::string>& required = {},
                     const Headers& headers = {}, const ParseLimits& limits = {}) {
  try {
    parse(body, format, required, headers, limits);
  } catch (const PayloadError& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> ids(const Delivery& delivery) {
  std::vector<std::string> out;
  for (const auto& row : delivery.rows) out.push_back(row.id);
  return out;
}

}  // namespace

TEST_CASE("push payload: rows paths", "[push]") {
  CHECK(rows_path_problem("$") == "");
  CHECK(rows_path_problem("$[*]") == "");
  CHECK(rows_path_problem("$.events[*]") == "");
  CHECK(rows_path_problem("$.data.items[*]") == "");
  CHECK(rows_path_problem("$.event") == "");
  CHECK(rows_path_problem("$.a b.$weird-name!") == "");
  CHECK_THAT(rows_path_problem(""), Catch::Contains("empty"));
  CHECK_THAT(rows_path_problem("events[*]"), Catch::Contains("does not start with \"$\""));
  CHECK_THAT(rows_path_problem("$."), Catch::Contains("empty name"));
  CHECK_THAT(rows_path_problem("$..a"), Catch::Contains("empty name"));
  CHECK_THAT(rows_path_problem("$.a."), Catch::Contains("empty name"));
  CHECK_THAT(rows_path_problem("$.[*]"), Catch::Contains("empty name"));
  CHECK_THAT(rows_path_problem("$.a[*].b"), Catch::Contains("unexpected '['"));
  CHECK_THAT(rows_path_problem("$.a[0]"), Catch::Contains("unexpected '['"));
  CHECK_THAT(rows_path_problem("$[*][*]"), Catch::Contains("unexpected '['"));
  CHECK_THAT(rows_path_problem("$.a]"), Catch::Contains("unexpected ']'"));
  CHECK_THAT(rows_path_problem("$a"), Catch::Contains("unexpected 'a'"));
}

TEST_CASE("push payload: field paths and delivery ids", "[push]") {
  CHECK(field_path_problem("external_id") == "");
  CHECK(field_path_problem("customer.id") == "");
  CHECK(field_path_problem("a.b.c") == "");
  CHECK_THAT(field_path_problem(""), Catch::Contains("empty"));
  CHECK_THAT(field_path_problem(".id"), Catch::Contains("empty name"));
  CHECK_THAT(field_path_problem("customer..id"), Catch::Contains("empty name"));
  CHECK_THAT(field_path_problem("customer."), Catch::Contains("empty name"));
  CHECK_THAT(field_path_problem("$.id"), Catch::Contains("relative to the row"));
  CHECK_THAT(field_path_problem("$"), Catch::Contains("relative to the row"));

  CHECK(delivery_id_problem("") == "");
  CHECK(delivery_id_problem("$.id") == "");
  CHECK(delivery_id_problem("$.meta.delivery") == "");
  CHECK(delivery_id_problem("X-Delivery-Id") == "");
  CHECK(delivery_id_problem("X-GitHub-Delivery") == "");
  CHECK_THAT(delivery_id_problem("$"), Catch::Contains("not the body itself"));
  CHECK_THAT(delivery_id_problem("$.ids[*]"), Catch::Contains("[*]"));
  CHECK_THAT(delivery_id_problem("$..id"), Catch::Contains("empty name"));
  CHECK_THAT(delivery_id_problem("X Delivery"), Catch::Contains("a space at byte 1"));
  CHECK_THAT(delivery_id_problem("X-Delivery:"), Catch::Contains("':' at byte 10"));
}

TEST_CASE("push payload: the body is an array of rows", "[push]") {
  auto delivery = parse(R"([{"external_id":"a-1","email":"a@x"},{"external_id":"b-2","email":null}])", format_of("$[*]"),
                        {"email"});
  CHECK(ids(delivery) == std::vector<std::string>{"a-1", "b-2"});
  CHECK_FALSE(delivery.id);
  CHECK(delivery.rows[0].fields == Json{{"external_id", "a-1"}, {"email", "a@x"}});
  CHECK(delivery.rows[1].fields["email"].is_null());
  CHECK_FALSE(delivery.rows[0].deleted);
  CHECK(parse("[]", format_of("$[*]")).rows.empty());
  CHECK(parse(" \r\n[ ]\n", format_of("$[*]")).rows.empty());
}

TEST_CASE("push payload: one row, a row under a key and rows under nested keys", "[push]") {
  auto one = parse(R"({"external_id":"a-1","n":1})", format_of("$"));
  REQUIRE(one.rows.size() == 1);
  CHECK(one.rows[0].id == "a-1");
  CHECK(one.rows[0].fields["n"] == 1);

  auto under = parse(R"({"type":"contact.updated","event":{"external_id":"e-1"}})", format_of("$.event"));
  CHECK(ids(under) == std::vector<std::string>{"e-1"});
  CHECK(under.rows[0].fields == Json{{"external_id", "e-1"}});

  auto events = parse(R"({"events":[{"external_id":"1"},{"external_id":"2"},{"external_id":"3"}]})",
                      format_of("$.events[*]"));
  CHECK(ids(events) == std::vector<std::string>{"1", "2", "3"});

  auto nested = parse(R"({"data":{"items":[{"external_id":"x"}],"total":1}})", format_of("$.data.items[*]"));
  CHECK(ids(nested) == std::vector<std::string>{"x"});
  CHECK(parse(R"({"data":{"items":[]}})", format_of("$.data.items[*]")).rows.empty());
}

TEST_CASE("push payload: where the rows path does not lead to rows", "[push]") {
  CHECK(error_of(R"({"event":{}})", format_of("$.events[*]")) ==
        R"(the body has no "events" (rows = "$.events[*]"))");
  CHECK(error_of(R"({"data":{"item":[]}})", format_of("$.data.items[*]")) ==
        R"(the body's "data" has no "items" (rows = "$.data.items[*]"))");
  CHECK(error_of(R"({"data":[1]})", format_of("$.data.items[*]")) ==
        R"(the body's "data" is an array, not an object (rows = "$.data.items[*]"))");
  CHECK(error_of(R"([{"external_id":"a"}])", format_of("$.events[*]")) ==
        R"(the body is an array, not an object (rows = "$.events[*]"))");
  CHECK(error_of(R"({"external_id":"a"})", format_of("$[*]")) == R"(the body is an object, not an array (rows = "$[*]"))");
  CHECK(error_of(R"({"events":{"external_id":"a"}})", format_of("$.events[*]")) ==
        R"(the body's "events" is an object, not an array (rows = "$.events[*]"))");
  CHECK(error_of(R"({"events":null})", format_of("$.events[*]")) ==
        R"(the body's "events" is null, not an array (rows = "$.events[*]"))");
}

TEST_CASE("push payload: rows must be objects", "[push]") {
  CHECK(error_of(R"([{"external_id":"a"},"b"])", format_of("$[*]")) == "row 2: a string, not an object");
  CHECK(error_of(R"([{"external_id":"a"},{"external_id":"b"},[1]])", format_of("$[*]")) ==
        "row 3: an array, not an object");
  CHECK(error_of(R"([null])", format_of("$[*]")) == "row 1: null, not an object");
  CHECK(error_of(R"(42)", format_of("$")) == "row 1: an integer, not an object");
  CHECK(error_of(R"({"event":true})", format_of("$.event")) == "row 1: a boolean, not an object");
}

TEST_CASE("push payload: keys are strings or integers at a dotted path", "[push]") {
  auto delivery = parse(R"([{"customer":{"id":"c-1"}},{"customer":{"id":42}},{"customer":{"id":-7}},
                            {"customer":{"id":18446744073709551615}},{"customer":{"id":"Zoë ✓"}}])",
                        format_of("$[*]", "customer.id"));
  CHECK(ids(delivery) == std::vector<std::string>{"c-1", "42", "-7", "18446744073709551615", "Zoë ✓"});
  CHECK(delivery.rows[1].fields == Json{{"customer", {{"id", 42}}}});

  const auto key = format_of("$[*]", "customer.id");
  CHECK(error_of(R"([{"customer":{"id":"a"}},{"customer":{}}])", key) == R"(row 2: no key at "customer.id")");
  CHECK(error_of(R"([{"customer":"c-1"}])", key) == R"(row 1: no key at "customer.id")");
  CHECK(error_of(R"([{"external_id":"a"},{"other":"b"}])", format_of("$[*]")) == R"(row 2: no key at "external_id")");
  CHECK(error_of(R"([{"external_id":"a"},{"external_id":""}])", format_of("$[*]")) == "row 2: the key is empty");
  CHECK(error_of(R"([{"external_id":1.5}])", format_of("$[*]")) ==
        R"(row 1: the key at "external_id" is a number (1.5), not a string or an integer)");
  CHECK(error_of(R"([{"external_id":null}])", format_of("$[*]")) ==
        R"(row 1: the key at "external_id" is null (null), not a string or an integer)");
  CHECK_THAT(error_of(R"([{"external_id":{"a":1}}])", format_of("$[*]")), Catch::Contains("is an object"));
  CHECK_THAT(error_of(R"([{"external_id":true}])", format_of("$[*]")), Catch::Contains("is a boolean"));
  // Larger than 64 bits: nlohmann reads it as a double, which is no key.
  CHECK_THAT(error_of(R"([{"external_id":18446744073709551616}])", format_of("$[*]")), Catch::Contains("is a number"));

  const std::string longest(1024, 'k');
  CHECK(ids(parse(R"([{"external_id":")" + longest + R"("}])", format_of("$[*]"))) == std::vector<std::string>{longest});
  CHECK(error_of(R"([{"external_id":")" + longest + R"(k"}])", format_of("$[*]")) ==
        "row 1: the key is 1025 bytes (at most 1024)");
}

TEST_CASE("push payload: the same key twice stays twice, in payload order", "[push]") {
  auto delivery = parse(R"([{"external_id":"a","v":1},{"external_id":"b"},{"external_id":"a","v":2}])",
                        format_of("$[*]"));
  CHECK(ids(delivery) == std::vector<std::string>{"a", "b", "a"});
  CHECK(delivery.rows[2].fields["v"] == 2);
}

TEST_CASE("push payload: tombstones", "[push]") {
  const auto format = format_of("$[*]", "external_id", "deleted");
  auto delivery = parse(R"([{"external_id":"a","deleted":true},{"external_id":"b","deleted":false},
                            {"external_id":"c"},{"external_id":"d","deleted":null}])",
                        format);
  REQUIRE(delivery.rows.size() == 4);
  CHECK(delivery.rows[0].deleted);
  CHECK(delivery.rows[0].fields == Json{{"external_id", "a"}, {"deleted", true}});
  CHECK_FALSE(delivery.rows[1].deleted);
  CHECK_FALSE(delivery.rows[2].deleted);
  CHECK_FALSE(delivery.rows[3].deleted);

  CHECK(error_of(R"([{"external_id":"a","deleted":false},{"external_id":"b-2","deleted":"yes"}])", format) ==
        R"(row 2 (key "b-2"): "deleted" is "yes", not true or false)");
  CHECK(error_of(R"([{"external_id":"a","deleted":1}])", format) == R"(row 1 (key "a"): "deleted" is 1, not true or false)");

  auto nested = parse(R"([{"external_id":"a","meta":{"archived":true}},{"external_id":"b","meta":{}}])",
                      format_of("$[*]", "external_id", "meta.archived"));
  CHECK(nested.rows[0].deleted);
  CHECK_FALSE(nested.rows[1].deleted);

  // Without a tombstone path, a "deleted" field is a field like any other.
  CHECK_FALSE(parse(R"([{"external_id":"a","deleted":true}])", format_of("$[*]")).rows[0].deleted);
}

TEST_CASE("push payload: fields the sync reads must be present (null counts), except in tombstones", "[push]") {
  const auto format = format_of("$[*]", "external_id", "deleted");
  const std::vector<std::string> required{"email", "name.first"};
  auto delivery = parse(R"([{"external_id":"a","email":"a@x","name":{"first":"A"}},
                            {"external_id":"b","email":null,"name":{"first":null}},
                            {"external_id":"c","deleted":true}])",
                        format, required);
  CHECK(ids(delivery) == std::vector<std::string>{"a", "b", "c"});
  CHECK(error_of(R"([{"external_id":"a","email":"a@x","name":{"first":"A"}},{"external_id":"a-1","name":{"first":"B"}}])",
                 format, required) == R"(row 2 (key "a-1"): no field "email" that the sync reads)");
  CHECK(error_of(R"([{"external_id":7,"email":"a@x","name":{}}])", format, required) ==
        R"(row 1 (key "7"): no field "name.first" that the sync reads)");
  CHECK(error_of(R"([{"external_id":"c","deleted":false}])", format, required) ==
        R"(row 1 (key "c"): no field "email" that the sync reads)");
}

TEST_CASE("push payload: the delivery id from the body", "[push]") {
  const auto format = format_of("$.events[*]", "external_id", "", "$.id");
  CHECK(parse(R"({"id":"dlv-1","events":[]})", format).id == "dlv-1");
  CHECK(parse(R"({"id":12345678901,"events":[]})", format).id == "12345678901");
  CHECK_FALSE(parse(R"({"events":[]})", format).id);
  CHECK(error_of(R"({"id":"","events":[]})", format) == R"(the delivery id at "$.id" is empty)");
  CHECK(error_of(R"({"id":1.5,"events":[]})", format) ==
        R"(the delivery id at "$.id" is a number (1.5), not a string or an integer)");
  CHECK_THAT(error_of(R"({"id":{"x":1},"events":[]})", format), Catch::Contains("is an object"));
  CHECK_THAT(error_of(R"({"id":null,"events":[]})", format), Catch::Contains("is null"));
  CHECK_THAT(error_of(R"({"id":")" + std::string(1025, 'd') + R"(","events":[]})", format),
             Catch::Contains("1025 bytes"));

  auto nested = parse(R"({"meta":{"delivery":"m-9"},"event":{"external_id":"a"}})",
                      format_of("$.event", "external_id", "", "$.meta.delivery"));
  CHECK(nested.id == "m-9");
  // A path inside the row itself is read before the row is taken.
  auto in_row = parse(R"({"event":{"external_id":"a","delivery":"r-1"}})",
                      format_of("$.event", "external_id", "", "$.event.delivery"));
  CHECK(in_row.id == "r-1");
  CHECK(in_row.rows[0].fields["delivery"] == "r-1");
  CHECK_FALSE(parse(R"([{"external_id":"a"}])", format_of("$[*]", "external_id", "", "$.id")).id);
}

TEST_CASE("push payload: the delivery id from a header", "[push]") {
  const auto format = format_of("$[*]", "external_id", "", "X-Delivery-Id");
  CHECK(parse("[]", format, {}, {{"x-delivery-id", "abc-1"}}).id == "abc-1");
  CHECK_FALSE(parse("[]", format, {}, {{"X-Other", "abc-1"}}).id);
  CHECK_FALSE(parse("[]", format).id);
  CHECK(error_of("[]", format, {}, {{"X-Delivery-Id", ""}}) == "the X-Delivery-Id header is empty");
  CHECK(error_of("[]", format, {}, {{"X-Delivery-Id", "a\xFF"}}) == "the X-Delivery-Id header is not UTF-8");
  CHECK_FALSE(parse("[]", format_of("$[*]"), {}, {{"X-Delivery-Id", "abc-1"}}).id);
}

TEST_CASE("push payload: bodies that are not JSON say where", "[push]") {
  const auto format = format_of("$[*]");
  CHECK(error_of("", format) == "the body is empty");
  CHECK(error_of(" \n", format) == "the body is empty");
  CHECK_THAT(error_of(R"([{"external_id":"a"},)", format),
             Catch::StartsWith("the body is not JSON: syntax error at byte 21 (its end): unexpected end of input"));
  CHECK_THAT(error_of(R"([{"external_id":"a"}] x)", format),
             Catch::StartsWith("the body is not JSON: syntax error at byte 22:"));
  CHECK_THAT(error_of(R"([{"external_id":tru}])", format),
             Catch::StartsWith("the body is not JSON: syntax error at byte 19: invalid literal"));
  CHECK_THAT(error_of(R"([{"external_id":1e999}])", format), Catch::Contains("number overflow"));
  CHECK_THAT(error_of(R"(["\ud800"])", format), Catch::StartsWith("the body is not JSON") && Catch::Contains("surrogate"));
  CHECK_THAT(error_of("[\"a\x01\"]", format), Catch::StartsWith("the body is not JSON: syntax error at byte 3"));
  // Comments and trailing commas are not JSON.
  CHECK_THAT(error_of("[/* none */]", format), Catch::StartsWith("the body is not JSON"));
  CHECK_THAT(error_of(R"([{"external_id":"a"},])", format), Catch::StartsWith("the body is not JSON"));
}

TEST_CASE("push payload: invalid UTF-8 is refused with its byte", "[push]") {
  const auto format = format_of("$[*]");
  CHECK(error_of("[{\"external_id\":\"a\xC3\x28\"}]", format) == "the body holds invalid UTF-8 at byte 18");
  CHECK(error_of("[{\"external_id\":\"\xED\xA0\x80\"}]", format) == "the body holds invalid UTF-8 at byte 17");
  CHECK(error_of("\xFF[]", format) == "the body holds invalid UTF-8 at byte 0");
  CHECK(error_of("[{\"external_id\":\"\xC0\xAF\"}]", format) == "the body holds invalid UTF-8 at byte 17");
  // A byte order mark is no error.
  CHECK(parse("\xEF\xBB\xBF[]", format).rows.empty());
}

TEST_CASE("push payload: deep nesting is refused before parsing, quickly", "[push]") {
  const auto format = format_of("$[*]");
  const auto start = std::chrono::steady_clock::now();
  CHECK(error_of(std::string(100000, '['), format) == "the body is nested more than 64 levels deep (at byte 64)");
  CHECK(error_of(std::string(100000, '{'), format) == "the body is nested more than 64 levels deep (at byte 64)");
  std::string alternating;
  for (int i = 0; i < 50000; ++i) alternating += "[{\"a\":";
  CHECK_THAT(error_of(alternating, format), Catch::StartsWith("the body is nested more than 64 levels deep"));
  // Generous: the check is linear; this only catches something quadratic or recursive.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));

  // 64 levels are accepted, 65 are not; brackets inside strings do not count.
  std::string deep = R"([{"external_id":"a","v":)" + std::string(62, '[') + std::string(62, ']') + "}]";
  CHECK(parse(deep, format).rows.size() == 1);
  std::string deeper = R"([{"external_id":"a","v":)" + std::string(63, '[') + std::string(63, ']') + "}]";
  CHECK(error_of(deeper, format) == "the body is nested more than 64 levels deep (at byte 86)");
  std::string in_strings = R"([{"external_id":"[[[[{{{{\"[[[[","v":")" + std::string(1000, '[') + R"("}])";
  CHECK(parse(in_strings, format).rows[0].id == R"([[[[{{{{"[[[[)");

  ParseLimits shallow;
  shallow.max_depth = 2;
  CHECK(parse(R"([{"external_id":"a"}])", format, {}, {}, shallow).rows.size() == 1);
  CHECK(error_of(R"([{"external_id":"a","v":[]}])", format, {}, {}, shallow) ==
        "the body is nested more than 2 levels deep (at byte 24)");
}

TEST_CASE("push payload: bodies over the size limit and deliveries over the row limit", "[push]") {
  const auto format = format_of("$[*]");
  ParseLimits limits;
  limits.max_body_bytes = 25;
  const std::string body = R"([{"external_id":"a-1"}])";  // 23 bytes
  CHECK(parse(body, format, {}, {}, limits).rows.size() == 1);
  CHECK(error_of(body + "   ", format, {}, {}, limits) == "the body is 26 bytes (at most 25 accepted)");
  CHECK(error_of(std::string(33u << 20, ' '), format) == "the body is 34603008 bytes (at most 33554432 accepted)");

  limits = ParseLimits{};
  limits.max_rows = 2;
  CHECK(parse(R"([{"external_id":"a"},{"external_id":"b"}])", format, {}, {}, limits).rows.size() == 2);
  CHECK(error_of(R"([{"external_id":"a"},{"external_id":"b"},{"external_id":"c"}])", format, {}, {}, limits) ==
        "the body holds 3 rows (at most 2 in one delivery)");
}

TEST_CASE("push payload: a format that is not well formed is a programming error, not a bad delivery", "[push]") {
  CHECK_THROWS_AS(parse("[]", format_of("events")), std::invalid_argument);
  CHECK_THROWS_AS(parse("[]", format_of("$[*]", "")), std::invalid_argument);
  CHECK_THROWS_AS(parse("[]", format_of("$[*]", "id", "a..b")), std::invalid_argument);
  CHECK_THROWS_AS(parse("[]", format_of("$[*]", "id", "", "X Delivery")), std::invalid_argument);
  CHECK_THROWS_AS(parse("[]", format_of("$[*]", "id"), {"email."}), std::invalid_argument);
}
