#include "connectors/sqlite/sqlite_values.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace sq = synctool::connectors::sqlite;
using nlohmann::json;

TEST_CASE("sqlite affinities follow SQLite's rules for declared types", "[sqlite][values]") {
  using sq::Affinity;
  CHECK(sq::affinity_of("INTEGER") == Affinity::integer);
  CHECK(sq::affinity_of("bigint") == Affinity::integer);
  CHECK(sq::affinity_of("VARCHAR(80)") == Affinity::text);
  CHECK(sq::affinity_of("CLOB") == Affinity::text);
  CHECK(sq::affinity_of("") == Affinity::blob);
  CHECK(sq::affinity_of("BLOB") == Affinity::blob);
  CHECK(sq::affinity_of("DOUBLE PRECISION") == Affinity::real);
  CHECK(sq::affinity_of("FLOAT") == Affinity::real);
  CHECK(sq::affinity_of("NUMERIC") == Affinity::numeric);
  CHECK(sq::affinity_of("DECIMAL(10,5)") == Affinity::numeric);
  CHECK(sq::affinity_of("BOOLEAN") == Affinity::numeric);
  CHECK(sq::affinity_of("DATETIME") == Affinity::numeric);
  CHECK(sq::affinity_of("POINT") == Affinity::integer);  // "INT" anywhere wins, as in SQLite
  CHECK(sq::field_type("BOOLEAN") == "bool");
  CHECK(sq::field_type("NUMERIC") == "number");
  CHECK(sq::field_type("TEXT") == "string");
  CHECK(sq::boolean_column("boolean"));
  CHECK_FALSE(sq::boolean_column("INTEGER"));
}

TEST_CASE("sqlite create_table types the declared schema", "[sqlite][values]") {
  CHECK(sq::column_type_for("number") == "NUMERIC");
  CHECK(sq::column_type_for("bool") == "BOOLEAN");
  for (const char* type : {"string", "email", "enumeration", "date", "datetime", "multiselect", "json"})
    CHECK(sq::column_type_for(type) == "TEXT");
}

TEST_CASE("sqlite columns get values in the form they store exactly, or refuse them", "[sqlite][values]") {
  using sq::Affinity;
  using sq::storable;
  // Text columns: a double as its exact decimal (SQLite would keep 15 digits).
  CHECK(storable(Affinity::text, 0.30000000000000004) == json("0.30000000000000004"));
  CHECK(storable(Affinity::text, 1e16) == json("10000000000000000"));
  CHECK(storable(Affinity::text, 42) == json(42));
  CHECK(storable(Affinity::text, "12345678901234567.89") == json("12345678901234567.89"));
  // Integer and numeric columns: numeric text becomes the number SQLite would make, exactly.
  for (auto affinity : {Affinity::integer, Affinity::numeric}) {
    CHECK(storable(affinity, "12345678901234567") == json(12345678901234567LL));
    CHECK(storable(affinity, " 1e3 ") == json(1000));
    CHECK(storable(affinity, "2.5") == json(2.5));
    CHECK(storable(affinity, 2.5) == json(2.5));
    CHECK(storable(affinity, "abc") == json("abc"));
    CHECK(storable(affinity, json::array({1, 2})) == json::array({1, 2}));
    CHECK(storable(affinity, json::parse("18446744073709551615")) == std::nullopt);
    CHECK(storable(affinity, "12345678901234567.89") == std::nullopt);
    CHECK(storable(affinity, "1e400") == std::nullopt);
  }
  // Real columns: what a double holds.
  CHECK(storable(Affinity::real, 9007199254740992) == json(9007199254740992.0));
  CHECK(storable(Affinity::real, 9007199254740993) == std::nullopt);
  CHECK(storable(Affinity::real, "0.1") == json(0.1));
  CHECK(storable(Affinity::real, "0.1000000000000000055511151231257827") == std::nullopt);
  // No affinity: stored as given.
  CHECK(storable(Affinity::blob, "12345678901234567.89") == json("12345678901234567.89"));
  CHECK(sq::cannot_hold("amount", "NUMERIC", "1.5e300") == "column amount (NUMERIC) cannot hold 1.5e300 exactly");
  CHECK(sq::cannot_hold("x", "", 1) == "column x (no type) cannot hold 1 exactly");
}

// The write path binds a value as it is where no conversion is needed, and takes shortcuts for
// plain integers (decimal text, JSON's unsigned integers): the results are those of the general
// rules, integers as 64-bit integers.
TEST_CASE("sqlite integer and numeric columns take integer text and JSON integers as those integers",
          "[sqlite][values]") {
  using sq::Affinity;
  using sq::Fit;
  using sq::storable;
  auto integer_of = [](const std::optional<json>& value) -> std::optional<std::int64_t> {
    if (!value || !value->is_number_integer() || value->is_number_unsigned()) return std::nullopt;
    return value->get<std::int64_t>();
  };
  std::mt19937_64 random(15);
  for (int i = 0; i < 5000; ++i) {
    // Every width of number, negative and not.
    const auto bits = static_cast<int>(random() % 63);  // below 2^63, so that -n fits too
    auto n = static_cast<std::int64_t>(random() >> (63 - bits));
    if (random() % 2) n = -n;
    INFO(n);
    for (auto affinity : {Affinity::integer, Affinity::numeric}) {
      CHECK(integer_of(storable(affinity, std::to_string(n))) == n);
      CHECK(integer_of(storable(affinity, json(n))) == n);
      if (n >= 0) CHECK(integer_of(storable(affinity, json::parse(std::to_string(n)))) == n);  // unsigned
      CHECK(integer_of(storable(affinity, " " + std::to_string(n) + " ")) == n);
    }
  }
  for (auto affinity : {Affinity::integer, Affinity::numeric}) {
    CHECK(integer_of(storable(affinity, "007")) == 7);
    CHECK(integer_of(storable(affinity, "+5")) == 5);
    CHECK(integer_of(storable(affinity, "-0")) == 0);
    CHECK(integer_of(storable(affinity, "9223372036854775807")) == std::numeric_limits<std::int64_t>::max());
    CHECK(integer_of(storable(affinity, "-9223372036854775808")) == std::numeric_limits<std::int64_t>::min());
    CHECK(storable(affinity, "9223372036854775809") == std::nullopt);
    CHECK(storable(affinity, json::parse("9223372036854775809")) == std::nullopt);
    // Beyond 64 bits, a double that holds the number exactly is what SQLite gets.
    auto big = storable(affinity, json::parse("10000000000000000000"));
    REQUIRE(big);
    CHECK(big->is_number_float());
    CHECK(big->get<double>() == 1e19);
    CHECK(storable(affinity, "12a") == json("12a"));
    CHECK(storable(affinity, "-") == json("-"));
    CHECK(storable(affinity, "") == json(""));
  }
  json converted;
  CHECK(sq::fit(Affinity::text, "42", converted) == Fit::as_is);
  CHECK(sq::fit(Affinity::integer, json(42), converted) == Fit::as_is);
  CHECK(sq::fit(Affinity::integer, "42", converted) == Fit::converted);
  CHECK(converted == json(42));
  CHECK(sq::fit(Affinity::real, "0.1000000000000000055511151231257827", converted) == Fit::refused);
  CHECK(sq::fit(Affinity::blob, "12345678901234567.89", converted) == Fit::as_is);
}
