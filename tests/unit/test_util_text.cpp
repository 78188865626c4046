// Exact decimals, Unicode text and ISO 8601 dates: the small pieces values travel through.
#include "util/clock.hpp"
#include "util/decimal.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"
#include "util/unicode.hpp"

#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace synctool::util;

namespace {

// `count` doubles of random bit patterns (NaN, infinities and subnormals among them), each
// with its bits, for property tests.
std::vector<std::pair<std::uint64_t, double>> random_doubles(std::uint64_t seed, int count) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::uint64_t> bits;
  std::vector<std::pair<std::uint64_t, double>> doubles;
  for (int i = 0; i < count; ++i) {
    std::uint64_t b = bits(random);
    double d;
    std::memcpy(&d, &b, sizeof d);
    doubles.emplace_back(b, d);
  }
  return doubles;
}

}  // namespace

TEST_CASE("canonical_decimal keeps every digit and drops only what does not change the value", "[util][decimal]") {
  CHECK(canonical_decimal("12345678901234567.89") == "12345678901234567.89");
  CHECK(canonical_decimal("+007.50") == "7.5");
  CHECK(canonical_decimal("-0") == "0");
  CHECK(canonical_decimal("-0.000") == "0");
  CHECK(canonical_decimal("1e3") == "1000");
  CHECK(canonical_decimal("1.5E-3") == "0.0015");
  CHECK(canonical_decimal(".5") == "0.5");
  CHECK(canonical_decimal("5.") == "5");
  CHECK(canonical_decimal("-12.340e1") == "-123.4");
  CHECK(canonical_decimal("123456789012345678901234567890") == "123456789012345678901234567890");
  for (const char* bad : {"", "-", ".", "1.2.3", "1e", "1e+", " 1", "1 ", "0x10", "inf", "nan", "1,5", "--1"}) {
    INFO("text: '" << bad << "'");
    CHECK_FALSE(canonical_decimal(bad));
  }
  // A huge exponent is refused instead of being expanded into a million zeros.
  CHECK_FALSE(canonical_decimal("1e999999"));
  CHECK_FALSE(canonical_decimal("1e-999999999999999999999"));
}

TEST_CASE("a double holds a decimal only when its shortest form is that decimal", "[util][decimal]") {
  CHECK(double_holds("0.1"));
  CHECK(double_holds("42"));
  CHECK(double_holds("-3.25"));
  CHECK(double_holds("9007199254740992"));
  CHECK_FALSE(double_holds("9007199254740993"));  // 2^53 + 1
  CHECK_FALSE(double_holds("12345678901234567.89"));
  CHECK_FALSE(double_holds("0.1000000000000000000001"));
  CHECK(canonical_decimal(0.1) == "0.1");
  CHECK(canonical_decimal(1e16) == "10000000000000000");
  CHECK(canonical_decimal(-2.5e-3) == "-0.0025");

  // Property: every double's canonical form is held by a double, and reads back as it.
  for (auto [b, d] : random_doubles(7, 2000)) {
    auto text = canonical_decimal(d);
    if (!std::isfinite(d)) {
      CHECK_FALSE(text);
      continue;
    }
    REQUIRE(text);
    INFO("double bits " << b << " -> " << *text);
    CHECK(double_holds(*text));
    double back = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), back);
    CHECK((ec == std::errc() && end == text->data() + text->size()));
    CHECK(back == d);
  }
}

TEST_CASE("json_dump writes every double in its shortest form, which reads back as the same double",
          "[util][decimal]") {
  // nlohmann's dump writes 547725.3799 as 547725.3799000001: the same double, but a numeric
  // column or a CSV cell would keep the extra digits.
  using nlohmann::json;
  CHECK(json_dump(json(547725.3799)) == "547725.3799");
  CHECK(json_dump(json::parse(R"({"a":"547725.3799 1.50","b":[547725.3799,3.0,-0.0,1e16,1e-7,12,true,null]})")) ==
        R"({"a":"547725.3799 1.50","b":[547725.3799,3.0,-0.0,1e+16,1e-07,12,true,null]})");
  CHECK(json_dump(json::array({std::string("\xff\"1.5e3"), 2.5})) == "[\"\xef\xbf\xbd\\\"1.5e3\",2.5]");
  CHECK(json_to_text(json(547725.3799)) == "547725.3799");

  // Property: any finite double dumps as its shortest round-trip form and stays a double.
  for (auto [b, d] : random_doubles(11, 2000)) {
    if (!std::isfinite(d)) continue;
    const std::string text = json_dump(json::array({d}));
    INFO("double bits " << b << " -> " << text);
    char shortest[64];
    auto end = std::to_chars(shortest, shortest + sizeof shortest, d).ptr;
    std::string expected(shortest, end);
    if (expected.find_first_of(".e") == std::string::npos) expected += ".0";
    CHECK(text == "[" + expected + "]");
    const json back = json::parse(text);
    CHECK(back[0].is_number_float());
    CHECK(back[0].get<double>() == d);
  }
}

TEST_CASE("Unicode case folding makes keys that differ only in case equal", "[util][unicode]") {
  CHECK(fold_case("ÅSA.Ünicode@Example.com") == fold_case("åsa.ünicode@example.com"));
  CHECK(fold_case("ÅSA.Ünicode@Example.com") == "åsa.ünicode@example.com");
  CHECK(fold_case("Straße") == "strasse");
  CHECK(unicode_lower("ÅSA Ünicode") == "åsa ünicode");
  CHECK(unicode_upper("åsa straße") == "ÅSA STRAẞE");  // utf8proc maps ß to the capital ẞ
  CHECK(fold_case("") == "");
  CHECK_FALSE(fold_case("bad \xff byte"));
  CHECK_FALSE(unicode_lower("bad \xc3"));
}

TEST_CASE("ASCII text takes a shortcut that maps every character as the Unicode path does", "[util][unicode]") {
  // A trailing "é" sends the same character through utf8proc; the shortcut must agree with it.
  const std::string accent = "\xc3\xa9";
  for (int c = 1; c < 0x80; ++c) {
    const std::string ascii(1, static_cast<char>(c));
    INFO("character " << c);
    CHECK(*fold_case(ascii) + accent == *fold_case(ascii + accent));
    CHECK(*unicode_lower(ascii) + accent == *unicode_lower(ascii + accent));
    CHECK(*unicode_upper(ascii) + "\xc3\x89" == *unicode_upper(ascii + accent));
    CHECK(*nfc(ascii) + accent == *nfc(ascii + accent));
  }
  CHECK(fold_case("User@Example.COM") == "user@example.com");
}

TEST_CASE("NFC composes the two spellings of one character", "[util][unicode]") {
  CHECK(nfc("e\xcc\x81") == "\xc3\xa9");  // e + combining acute -> é
  CHECK(nfc("\xc3\xa9") == "\xc3\xa9");
  CHECK_FALSE(nfc("\xed\xa0\x80"));  // a UTF-16 surrogate is not UTF-8
}

TEST_CASE("first_invalid_utf8 finds the first malformed sequence", "[util][unicode]") {
  CHECK_FALSE(first_invalid_utf8("plain ascii"));
  CHECK_FALSE(first_invalid_utf8("Zoë, 東京"));
  CHECK(first_invalid_utf8("ab\xff") == 2u);
  CHECK(first_invalid_utf8("ok \xc0\xaf") == 3u);  // an overlong '/'
  CHECK(first_invalid_utf8("\xe6\x9d") == 0u);     // cut short
  CHECK(valid_utf8(""));
}

TEST_CASE("did-you-mean counts a swap of two neighbours as one typo", "[util]") {
  CHECK(levenshtein("name", "nmae") == 1);
  CHECK(levenshtein("email", "emial") == 1);
  CHECK(levenshtein("kitten", "sitting") == 3);
  CHECK(closest_match("nmae", {"email", "name", "age"}) == "name");
  CHECK(closest_match("zzzz", {"email", "name", "age"}).empty());
}

TEST_CASE("impossible dates are not dates", "[util][time]") {
  CHECK_FALSE(parse_iso8601("2024-02-30"));
  CHECK_FALSE(parse_iso8601("2023-02-29"));
  CHECK_FALSE(parse_iso8601("2024-04-31T10:00:00Z"));
  CHECK_FALSE(parse_iso8601("1900-02-29"));
  CHECK(parse_iso8601("2024-02-29"));
  CHECK(parse_iso8601("2000-02-29"));
  CHECK(format_iso8601(*parse_iso8601("2024-12-31T23:59:59Z")) == "2024-12-31T23:59:59Z");
}

TEST_CASE("format_iso8601 writes every instant of years 0 to 9999 so that it reads back", "[util][time]") {
  CHECK(format_iso8601(0) == "1970-01-01T00:00:00Z");
  CHECK(format_iso8601(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_iso8601(1709251200250) == "2024-03-01T00:00:00.250Z");
  CHECK(format_iso8601(-62167219200000) == "0000-01-01T00:00:00Z");
  CHECK(format_iso8601(253402300799999) == "9999-12-31T23:59:59.999Z");
  CHECK(format_iso8601(253402300800000) == "10000-01-01T00:00:00Z");  // beyond: the general form

  std::mt19937_64 random(5);
  std::uniform_int_distribution<std::int64_t> instants(-62167219200000, 253402300799999);
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t ms = instants(random);
    const std::string text = format_iso8601(ms);
    INFO(ms << " -> " << text);
    CHECK(text.size() == (ms % 1000 == 0 ? 20u : 24u));
    CHECK(parse_iso8601(text) == ms);
  }
}
