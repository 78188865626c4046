#include "engine/staged_record.hpp"
#include "engine/values.hpp"
#include "state/store.hpp"

#include <catch2/catch.hpp>

using namespace synctool::engine;
using nlohmann::json;

TEST_CASE("identical JSON values are equal", "[values]") {
  CHECK(values_equal(json(1), json(1)));
  CHECK(values_equal(json("a"), json("a")));
  CHECK(values_equal(json(true), json(true)));
  CHECK(values_equal(json(), json()));
  CHECK(values_equal(json::array({1, "x"}), json::array({1, "x"})));
  CHECK_FALSE(values_equal(json("a"), json("b")));
  CHECK_FALSE(values_equal(json(1), json(2)));
  CHECK_FALSE(values_equal(json(true), json(false)));
}

TEST_CASE("null equals an empty string but not other values", "[values]") {
  CHECK(values_equal(json(), json("")));
  CHECK(values_equal(json(""), json()));
  CHECK(values_equal(json(), json::array()));
  CHECK_FALSE(values_equal(json(), json(" ")));
  CHECK_FALSE(values_equal(json(), json(0)));
  CHECK_FALSE(values_equal(json(), json(false)));
  CHECK_FALSE(values_equal(json(), json("null")));
}

TEST_CASE("numbers equal numeric text with the same value", "[values]") {
  CHECK(values_equal(json(42), json("42")));
  CHECK(values_equal(json("42"), json(42)));
  CHECK(values_equal(json(1.0), json("1")));
  CHECK(values_equal(json(1), json(1.0)));
  CHECK(values_equal(json(1000), json("1e3")));
  CHECK(values_equal(json(-3.5), json("-3.50")));
  CHECK(values_equal(json(42u), json(42)));
  CHECK_FALSE(values_equal(json(42), json("42a")));
  CHECK_FALSE(values_equal(json(42), json(" 42")));
  CHECK_FALSE(values_equal(json(42), json("43")));
  CHECK_FALSE(values_equal(json("42"), json("42.0")));  // two texts compare as text
}

TEST_CASE("large integers are compared exactly, not through double", "[values]") {
  CHECK_FALSE(values_equal(json(9007199254740993LL), json(9007199254740992LL)));
  CHECK_FALSE(values_equal(json(9007199254740993LL), json("9007199254740992")));
  CHECK(values_equal(json(18446744073709551615ULL), json("18446744073709551615")));
  CHECK_FALSE(values_equal(json(-1), json(18446744073709551615ULL)));
}

TEST_CASE("booleans equal their text and 1/0 forms", "[values]") {
  CHECK(values_equal(json(true), json("true")));
  CHECK(values_equal(json("TRUE"), json(true)));
  CHECK(values_equal(json(false), json("false")));
  CHECK(values_equal(json(true), json(1)));
  CHECK(values_equal(json(false), json("0")));
  CHECK_FALSE(values_equal(json(true), json("false")));
  CHECK_FALSE(values_equal(json(true), json("yes")));
  CHECK_FALSE(values_equal(json(true), json(2)));
}

TEST_CASE("ISO 8601 texts naming the same instant are equal", "[values]") {
  CHECK(values_equal(json("2024-05-01T10:00:00Z"), json("2024-05-01T10:00:00.000Z")));
  CHECK(values_equal(json("2024-05-01T12:00:00+02:00"), json("2024-05-01T10:00:00Z")));
  CHECK(values_equal(json("2024-05-01"), json("2024-05-01T00:00:00Z")));
  CHECK_FALSE(values_equal(json("2024-05-01T10:00:01Z"), json("2024-05-01T10:00:00Z")));
  CHECK_FALSE(values_equal(json("2024-05-01 and more"), json("2024-05-01")));
}

TEST_CASE("objects compare member-wise with a missing member equal to null", "[values]") {
  json a = {{"email", "a@x.io"}, {"merge_fields", {{"FNAME", "Ann"}, {"AGE", 42}}}};
  json b = {{"email", "a@x.io"}, {"merge_fields", {{"FNAME", "Ann"}, {"AGE", "42"}, {"PHONE", ""}}}};
  CHECK(values_equal(a, b));
  CHECK(values_equal(b, a));
  b["merge_fields"]["FNAME"] = "Bob";
  CHECK_FALSE(values_equal(a, b));
  CHECK(values_equal(json{{"x", nullptr}}, json::object()));
  CHECK(values_equal(json{{"x", {{"y", nullptr}}}}, json::object()));
  CHECK(values_equal(json(), json{{"x", ""}}));
  CHECK_FALSE(values_equal(json{{"x", 1}}, json::object()));
  CHECK_FALSE(values_equal(json{{"x", 1}}, json("x")));
}

TEST_CASE("arrays compare element-wise", "[values]") {
  CHECK(values_equal(json::array({1, "2"}), json::array({"1", 2})));
  CHECK_FALSE(values_equal(json::array({1, 2}), json::array({2, 1})));
  CHECK_FALSE(values_equal(json::array({1}), json::array({1, 1})));
}

TEST_CASE("values_hash is stable and independent of key order", "[values]") {
  json a = json::parse(R"({"b": 1, "a": {"y": 2, "x": "z"}})");
  json b = json::parse(R"({"a": {"x": "z", "y": 2}, "b": 1})");
  CHECK(values_hash(a) == values_hash(b));
  CHECK(values_hash(a).size() == 16);
  CHECK(values_hash(a) != values_hash(json{{"b", 2}}));
  // FNV-1a 64 of the CBOR encoding (an empty map is the single byte 0xa0).
  CHECK(values_hash(json::object()) == "44bccbd473cc5479");
}

TEST_CASE("values_hash accepts invalid UTF-8 and keeps distinct bytes distinct", "[values]") {
  json a = {{"name", std::string("caf\xe9")}};
  json b = {{"name", std::string("caf\xe8")}};
  CHECK(values_hash(a) != values_hash(b));
  CHECK(values_hash(a) == values_hash(json{{"name", std::string("caf\xe9")}}));
}

TEST_CASE("parse_number_text accepts plain decimal numbers only", "[values]") {
  CHECK(parse_number_text("42") == json(42));
  CHECK(parse_number_text("42")->is_number_integer());
  CHECK(parse_number_text("-7") == json(-7));
  CHECK(parse_number_text("+7") == json(7));
  CHECK(parse_number_text("007") == json(7));
  CHECK(parse_number_text("3.5") == json(3.5));
  CHECK(parse_number_text("1e3")->is_number_float());
  CHECK(parse_number_text("-1E-2") == json(-0.01));
  CHECK(parse_number_text(".5") == json(0.5));
  CHECK(parse_number_text("5.") == json(5.0));
  CHECK(parse_number_text("18446744073709551615")->is_number_unsigned());
  CHECK(parse_number_text("99999999999999999999")->is_number_float());
  for (const char* bad : {"", "-", "+", ".", "e3", "1e", "1e+", "0x10", "inf", "nan", " 1", "1 ", "1,5", "1.2.3",
                          "--1", "1e999"}) {
    INFO(bad);
    CHECK_FALSE(parse_number_text(bad));
  }
}

TEST_CASE("compare_numbers orders mixed integer kinds exactly", "[values]") {
  CHECK(compare_numbers(json(-1), json(1u)) == std::partial_ordering::less);
  CHECK(compare_numbers(json(18446744073709551615ULL), json(1)) == std::partial_ordering::greater);
  CHECK(compare_numbers(json(2), json(2.0)) == std::partial_ordering::equivalent);
  CHECK(compare_numbers(json(2.5), json(2)) == std::partial_ordering::greater);
}

TEST_CASE("value_text renders values as plain text", "[values]") {
  CHECK(value_text(json()) == "");
  CHECK(value_text(json("a b")) == "a b");
  CHECK(value_text(json(42)) == "42");
  CHECK(value_text(json(true)) == "true");
  CHECK(value_text(json::array({1, "x"})) == "[1,\"x\"]");
  CHECK(value_text(json(547725.3799)) == "547725.3799");  // not 547725.3799000001
  CHECK(value_text(json::array({0.1, 547725.3799})) == "[0.1,547725.3799]");
  CHECK_NOTHROW(value_text(json::array({std::string("\xff")})));
}

TEST_CASE("a staged record round-trips, and its digest read off the stored bytes is values_hash", "[values][staging]") {
  StagedRecord record;
  record.state = StagedRecord::State::rejected;
  record.id = "17";
  record.origin = "line 17";
  record.modified = "2026-01-01T00:00:00Z";
  record.reason = std::string(300, 'r');  // a length that takes two bytes
  record.duplicate_ids = {"17", "18"};
  record.duplicate_origins = {"line 17", ""};
  // Every kind of value, doubles that CBOR keeps short and long, bytes that are not UTF-8.
  record.values = {{"email", "a@example.com"}, {"n", -12},         {"big", 18446744073709551615ULL},
                   {"half", 0.5},              {"pi", 3.141592653589793}, {"tags", {"b", "a"}},
                   {"nested", {{"x", nullptr}, {"y", true}}}, {"raw", std::string("caf\xe9")}};
  auto decoded = StagedRecord::decode(record.encode());
  CHECK(decoded.state == record.state);
  CHECK(decoded.id == record.id);
  CHECK(decoded.origin == record.origin);
  CHECK(decoded.modified == record.modified);
  CHECK(decoded.reason == record.reason);
  CHECK(decoded.duplicate_ids == record.duplicate_ids);
  CHECK(decoded.duplicate_origins == record.duplicate_origins);
  CHECK(decoded.values == record.values);
  CHECK(decoded.values_hash == values_hash(record.values));
  CHECK(StagedRecord::decode_state(record.encode()) == StagedRecord::State::rejected);
  // peek() reads what tells a record unchanged (the two-way shortcut) without decoding.
  const std::string stored = record.encode();
  const auto peeked = StagedRecord::peek(stored);
  CHECK(peeked.state == record.state);
  CHECK(peeked.duplicated);
  CHECK(peeked.id == record.id);
  CHECK(peeked.values_hash() == values_hash(record.values));
  record.duplicate_ids = {"17"};
  CHECK_FALSE(StagedRecord::peek(record.encode()).duplicated);

  StagedRecord tombstone;
  tombstone.state = StagedRecord::State::deleted;
  tombstone.id = "9";
  auto back = StagedRecord::decode(tombstone.encode());
  CHECK(back.values.is_null());
  CHECK(back.values_hash.empty());
  CHECK(StagedRecord::peek(tombstone.encode()).values_hash().empty());

  // Damaged bytes are a StateError, never a crash or a bad read.
  auto bytes = record.encode();
  for (std::size_t cut = 0; cut < 40; ++cut) {
    CHECK_THROWS_AS(StagedRecord::decode(std::string_view(bytes).substr(0, cut)), synctool::state::StateError);
    CHECK_THROWS_AS(StagedRecord::peek(std::string_view(bytes).substr(0, cut)), synctool::state::StateError);
  }
  CHECK_THROWS_AS(StagedRecord::decode(std::string("\x09", 1)), synctool::state::StateError);
}
