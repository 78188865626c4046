#include "connectors/postgres/postgres_db.hpp"
#include "connectors/postgres/postgres_values.hpp"

#include <catch2/catch.hpp>

namespace pg = synctool::connectors::postgres;
using nlohmann::json;

TEST_CASE("postgres timestamps become ISO 8601", "[postgres][values]") {
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00+00", false) == "2026-03-01T12:00:00Z");
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00.25+00", false) == "2026-03-01T12:00:00.250Z");
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00.123456+00", false) == "2026-03-01T12:00:00.123456Z");
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00.1234+00", false) == "2026-03-01T12:00:00.123400Z");
  CHECK(pg::iso_timestamp("2026-03-01 08:00:00", false) == "2026-03-01T08:00:00");
  // Cursors have a fixed width so that they compare correctly as text.
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00+00", true) == "2026-03-01T12:00:00.000000Z");
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00.5+00", true) == "2026-03-01T12:00:00.500000Z");
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00.5+00", true) < pg::iso_timestamp("2026-03-01 12:00:01+00", true));
  // Forms ISO 8601 has no place for stay as they are.
  CHECK(pg::iso_timestamp("infinity", false) == "infinity");
  CHECK(pg::iso_timestamp("0044-03-15 12:00:00+00 BC", false) == "0044-03-15 12:00:00+00 BC");
  CHECK(pg::iso_timestamp("12026-03-01 12:00:00+00", false) == "12026-03-01 12:00:00+00");
  CHECK(pg::iso_timestamp("2026-03-01 12:00:00+05:30", false) == "2026-03-01 12:00:00+05:30");
}

TEST_CASE("postgres values keep their types and never lose digits", "[postgres][values]") {
  using pg::ValueKind;
  CHECK(pg::to_json(ValueKind::integer, "-42") == -42);
  CHECK(pg::to_json(ValueKind::integer, "9223372036854775807") == INT64_MAX);
  CHECK(pg::to_json(ValueKind::number, "12.50") == 12.5);
  CHECK(pg::to_json(ValueKind::number, "1e+20") == 1e20);
  CHECK(pg::to_json(ValueKind::number, "0.000000000000001234") == 0.000000000000001234);
  // By the value model: a double where it holds the decimal exactly, else the canonical text.
  CHECK(pg::to_json(ValueKind::number, "123456789012345.6") == 123456789012345.6);
  CHECK(pg::to_json(ValueKind::number, "0.30000000000000004") == 0.30000000000000004);
  CHECK(pg::to_json(ValueKind::number, "12345678901234567890") == "12345678901234567890");
  CHECK(pg::to_json(ValueKind::number, "12345678901234567.89") == "12345678901234567.89");
  CHECK(pg::to_json(ValueKind::number, "12345678901234567.80") == "12345678901234567.8");
  CHECK(pg::to_json(ValueKind::number, "0.1000000000000000055511151231257827") == "0.1000000000000000055511151231257827");
  CHECK(pg::to_json(ValueKind::number, "100.000") == 100);
  CHECK(pg::to_json(ValueKind::number, "-0") == 0);
  CHECK(pg::to_json(ValueKind::number, "-9223372036854775808") == INT64_MIN);
  CHECK(pg::to_json(ValueKind::number, "9223372036854775808") == 9223372036854775808.0);
  CHECK(pg::to_json(ValueKind::number, "NaN") == "NaN");
  CHECK(pg::to_json(ValueKind::number, "Infinity") == "Infinity");
  CHECK(pg::to_json(ValueKind::boolean, "t") == true);
  CHECK(pg::to_json(ValueKind::boolean, "f") == false);
  CHECK(pg::to_json(ValueKind::json, R"({"a":[1,"x"]})") == json{{"a", {1, "x"}}});
  CHECK(pg::to_json(ValueKind::json, "not json") == "not json");
  CHECK(pg::to_json(ValueKind::bytea, "\\x000102ff") == "AAEC/w==");
  CHECK(pg::to_json(ValueKind::bytea, "\\x") == "");
  CHECK(pg::to_json(ValueKind::text, "  as is ") == "  as is ");
}

TEST_CASE("postgres column kinds follow the type, then its category", "[postgres][values]") {
  using pg::ValueKind;
  CHECK(pg::value_kind(pg::oid::int8, 'N') == ValueKind::integer);
  CHECK(pg::value_kind(pg::oid::numeric, 'N') == ValueKind::number);
  CHECK(pg::value_kind(pg::oid::jsonb, 'U') == ValueKind::json);
  CHECK(pg::value_kind(pg::oid::timestamptz, 'D') == ValueKind::timestamptz);
  CHECK(pg::value_kind(1007, 'A') == ValueKind::json);      // int4[] is read through to_json
  CHECK(pg::value_kind(99999, 'N') == ValueKind::number);   // a domain over a number
  CHECK(pg::value_kind(99999, 'E') == ValueKind::text);     // an enum
  CHECK(pg::field_type(ValueKind::text, pg::oid::date) == "datetime");
  CHECK(pg::field_type(ValueKind::bytea, pg::oid::bytea) == "unknown");
}

TEST_CASE("postgres declared types map to columns, and known columns hold them", "[postgres][values]") {
  CHECK(pg::column_type_for("number") == "numeric");
  CHECK(pg::column_type_for("datetime") == "timestamptz");
  CHECK(pg::column_type_for("multiselect") == "text[]");
  CHECK(pg::column_type_for("json") == "jsonb");
  CHECK(pg::column_type_for("email") == "text");
  CHECK(pg::column_holds("number", pg::oid::int4, 'N'));
  CHECK_FALSE(pg::column_holds("number", pg::oid::text, 'S'));
  CHECK(pg::column_holds("datetime", pg::oid::timestamp, 'D'));
  CHECK_FALSE(pg::column_holds("datetime", pg::oid::date, 'D'));
  CHECK(pg::column_holds("date", pg::oid::date, 'D'));
  CHECK(pg::column_holds("enumeration", 99999, 'E'));
  CHECK(pg::column_holds("json", pg::oid::json, 'U'));
}

TEST_CASE("postgres numeric columns say which values they hold exactly", "[postgres][values]") {
  using pg::column_holds_value;
  const auto numeric = [](int precision, int scale) { return ((precision << 16) | (scale & 0x7ff)) + 4; };
  CHECK(pg::numeric_limits(-1).precision == std::nullopt);
  CHECK(pg::numeric_limits(numeric(10, 2)).precision == 10);
  CHECK(pg::numeric_limits(numeric(10, 2)).scale == 2);
  CHECK(pg::numeric_limits(numeric(4, -2)).scale == -2);

  CHECK(column_holds_value(pg::oid::numeric, -1, "12345678901234567.89"));
  CHECK(column_holds_value(pg::oid::numeric, numeric(10, 2), 1.25));
  CHECK(column_holds_value(pg::oid::numeric, numeric(10, 2), "1.50"));
  CHECK(column_holds_value(pg::oid::numeric, numeric(10, 2), "99999999.99"));
  CHECK_FALSE(column_holds_value(pg::oid::numeric, numeric(10, 2), "1.005"));
  CHECK_FALSE(column_holds_value(pg::oid::numeric, numeric(10, 2), 100000000));
  CHECK(column_holds_value(pg::oid::numeric, numeric(3, 3), "0.125"));
  CHECK_FALSE(column_holds_value(pg::oid::numeric, numeric(3, 3), 1));
  CHECK(column_holds_value(pg::oid::numeric, numeric(4, -2), 0));
  CHECK(column_holds_value(pg::oid::numeric, numeric(4, -2), -123400));
  CHECK_FALSE(column_holds_value(pg::oid::numeric, numeric(4, -2), 50));
  CHECK_FALSE(column_holds_value(pg::oid::numeric, numeric(4, -2), 12345600));

  CHECK(column_holds_value(pg::oid::float8, -1, 0.1));
  CHECK(column_holds_value(pg::oid::float8, -1, "9007199254740992"));
  CHECK_FALSE(column_holds_value(pg::oid::float8, -1, 9007199254740993));
  CHECK(column_holds_value(pg::oid::float4, -1, 0.1));
  CHECK(column_holds_value(pg::oid::float4, -1, 16777216));
  CHECK_FALSE(column_holds_value(pg::oid::float4, -1, 16777217));
  CHECK_FALSE(column_holds_value(pg::oid::float4, -1, 0.30000000000000004));

  CHECK(column_holds_value(pg::oid::int2, -1, -32768));
  CHECK_FALSE(column_holds_value(pg::oid::int2, -1, 32768));
  CHECK(column_holds_value(pg::oid::int4, -1, "  42 "));
  CHECK_FALSE(column_holds_value(pg::oid::int4, -1, 2.5));
  CHECK(column_holds_value(pg::oid::int8, -1, "9223372036854775807"));
  CHECK_FALSE(column_holds_value(pg::oid::int8, -1, "9223372036854775808"));

  // What is no number is for the server to refuse; other types hold what they are given.
  CHECK(column_holds_value(pg::oid::int4, -1, "forty"));
  CHECK(column_holds_value(pg::oid::int4, -1, true));
  CHECK(column_holds_value(pg::oid::text, -1, 1.005));
}

TEST_CASE("postgres identifiers and array literals are quoted", "[postgres][values]") {
  CHECK(pg::quote_identifier("plain") == "\"plain\"");
  CHECK(pg::quote_identifier("odd \"name\"; DROP") == "\"odd \"\"name\"\"; DROP\"");
  CHECK(pg::text_array_literal({"a", "b,c", "q\"x", "back\\slash", ""}) == R"({"a","b,c","q\"x","back\\slash",""})");
}

TEST_CASE("postgres URLs are parsed for messages without their password", "[postgres][values]") {
  auto parts = pg::parse_url("postgresql://sync:s3cret@db.internal:6432/analytics?sslmode=require");
  CHECK(parts.password == "s3cret");
  CHECK(parts.describe() == "sync@db.internal:6432/analytics");
  try {
    pg::parse_url("postgresql://sync:s3cret@db.internal:6432/analytics?nonsense=1");
    FAIL("expected a PgError");
  } catch (const pg::PgError& e) {
    CHECK(std::string(e.what()).find("s3cret") == std::string::npos);
    CHECK_THAT(e.what(), Catch::Contains("nonsense"));
  }
}

TEST_CASE("postgres errors are classified by SQLSTATE", "[postgres][values]") {
  CHECK(pg::PgError("x", "23505").row_level());
  CHECK(pg::PgError("x", "22P02").row_level());
  CHECK(pg::PgError("x", "21000").row_level());
  CHECK_FALSE(pg::PgError("x", "42P01").row_level());
  CHECK(pg::PgError("x", "40001").transient());
  CHECK(pg::PgError("x", "40P01").transient());
  CHECK(pg::PgError("x", "57014").transient());
  CHECK(pg::PgError("x", "08006").transient());
  CHECK(pg::PgError("x", "", true).transient());
  CHECK_FALSE(pg::PgError("x", "42703").transient());
  CHECK_FALSE(pg::PgError("x", "28P01").transient());
}
