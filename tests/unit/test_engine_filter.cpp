#include "engine/filter.hpp"

#include <catch2/catch.hpp>

#include <string>

using synctool::engine::Filter;
using synctool::engine::FilterSyntaxError;
using nlohmann::json;

namespace {

bool match(const std::string& expr, const json& record) { return Filter::parse(expr).matches(record); }

// Parses `expr`, expecting a syntax error; returns it for inspection.
FilterSyntaxError syntax_error(const std::string& expr) {
  try {
    Filter::parse(expr);
  } catch (const FilterSyntaxError& e) {
    return e;
  }
  FAIL("expected a syntax error for: " << expr);
  return FilterSyntaxError(0, "");
}

}  // namespace

TEST_CASE("an empty or blank filter matches every record", "[filter]") {
  CHECK(match("", json::object()));
  CHECK(match("   \t\n", json{{"a", 1}}));
  CHECK(Filter::parse("").fields().empty());
  CHECK(Filter().matches(json::object()));
}

TEST_CASE("equality compares text and numbers", "[filter]") {
  json r = {{"stage", "customer"}, {"score", 42}, {"code", "042"}};
  CHECK(match("stage = 'customer'", r));
  CHECK(match("stage = \"customer\"", r));
  CHECK_FALSE(match("stage = 'Customer'", r));
  CHECK(match("score = 42", r));
  CHECK(match("score = '42'", r));
  CHECK(match("score = 42.0", r));
  CHECK(match("code = 42", r));    // numeric text compares numerically
  CHECK(match("code = '42'", r));  // ...even against a quoted number
  CHECK_FALSE(match("code = '42x'", r));
  CHECK(match("stage != 'lead'", r));
  CHECK_FALSE(match("stage != 'customer'", r));
}

TEST_CASE("ordering operators compare numerically when both sides are numeric", "[filter]") {
  json r = {{"score", "9"}, {"big", 12}, {"exp", "-1e3"}, {"price", 3.5}};
  CHECK(match("score < 10", r));  // text "9" < 10 numerically (as text "9" > "10")
  CHECK(match("score > 8", r));
  CHECK(match("score <= 9", r));
  CHECK(match("score >= 9", r));
  CHECK_FALSE(match("score > 9", r));
  CHECK_FALSE(match("score < 9", r));
  CHECK(match("big > 9", r));
  CHECK(match("exp < -999", r));
  CHECK(match("exp = -1000", r));
  CHECK(match("price > 3.25 and price < 3.75", r));
  CHECK(match("price >= .5", r));
  CHECK(match("price > -.5", r));
}

TEST_CASE("ordering falls back to byte-wise text comparison", "[filter]") {
  json r = {{"name", "bob"}, {"code", "B10"}, {"date", "2024-05-01"}};
  CHECK(match("name > 'alice'", r));
  CHECK(match("name < 'carol'", r));
  CHECK(match("name > 'Bob'", r));  // lower case sorts after upper case by byte
  CHECK(match("code < 'B9'", r));   // text, so "B10" < "B9"
  CHECK(match("date >= '2024-01-01' and date < '2025-01-01'", r));
  CHECK(match("name > 5", r));  // one side is not numeric: compared as text "bob" > "5"
}

TEST_CASE("64-bit integers compare exactly", "[filter]") {
  json r = {{"id", "9007199254740993"}};
  CHECK(match("id = 9007199254740993", r));
  CHECK_FALSE(match("id = 9007199254740992", r));
  CHECK(match("id > 9007199254740992", r));
  CHECK(match("id < 18446744073709551615", r));
}

TEST_CASE("booleans equal their text form", "[filter]") {
  json r = {{"active", true}, {"flag", "TRUE"}, {"off", false}};
  CHECK(match("active = true", r));
  CHECK(match("active = 'true'", r));
  CHECK_FALSE(match("active = false", r));
  CHECK(match("flag = true", r));
  CHECK(match("off = 'false'", r));
  CHECK(match("off != true", r));
  CHECK(match("active = TRUE", r));  // keywords are case-insensitive
}

TEST_CASE("missing and null fields", "[filter]") {
  json r = {{"phone", nullptr}, {"name", "x"}};
  SECTION("= null is true for missing and null") {
    CHECK(match("phone = null", r));
    CHECK(match("fax = null", r));
    CHECK_FALSE(match("name = null", r));
  }
  SECTION("!= a non-null value is true for missing and null") {
    CHECK(match("phone != 'x'", r));
    CHECK(match("fax != 5", r));
    CHECK(match("fax != ''", r));
    CHECK_FALSE(match("fax != null", r));
    CHECK(match("name != null", r));
  }
  SECTION("ordering with a missing side is false") {
    CHECK_FALSE(match("fax < 5", r));
    CHECK_FALSE(match("fax > 5", r));
    CHECK_FALSE(match("fax <= 5", r));
    CHECK_FALSE(match("phone >= ''", r));
  }
  SECTION("= with a value is false") {
    CHECK_FALSE(match("fax = ''", r));
    CHECK_FALSE(match("fax = 0", r));
  }
}

TEST_CASE("in and not in test membership in a literal list", "[filter]") {
  json r = {{"country", "DE"}, {"score", "7"}};
  CHECK(match("country in ('DE', 'FR')", r));
  CHECK_FALSE(match("country in ('US')", r));
  CHECK(match("country not in ('US', 'CA')", r));
  CHECK_FALSE(match("country NOT IN ('DE')", r));
  CHECK(match("score in (1, 7, 9)", r));
  CHECK(match("missing in (null, 'x')", r));
  CHECK_FALSE(match("missing in ('x')", r));
  CHECK(match("missing not in ('x')", r));
  CHECK(match("country In ('de', 'DE')", r));
}

TEST_CASE("is empty covers missing, null, blank text and empty arrays", "[filter]") {
  json r = {{"null", nullptr}, {"blank", "  \t"}, {"empty", ""}, {"list", json::array()}, {"text", "x"},
            {"zero", 0}, {"items", {1}}, {"false", false}};
  for (const char* field : {"missing", "null", "blank", "empty", "list"}) {
    INFO(field);
    CHECK(match(std::string("`") + field + "` is empty", r));
    CHECK_FALSE(match(std::string("`") + field + "` is not empty", r));
  }
  for (const char* field : {"text", "zero", "items", "false"}) {
    INFO(field);
    CHECK_FALSE(match(std::string("`") + field + "` IS EMPTY", r));
    CHECK(match(std::string("`") + field + "` Is Not Empty", r));
  }
}

TEST_CASE("not binds tighter than and, and tighter than or", "[filter]") {
  json r = {{"a", 1}, {"b", 2}, {"c", 3}};
  CHECK(match("a = 1 or b = 0 and c = 0", r));        // or(a=1, and(...))
  CHECK_FALSE(match("(a = 1 or b = 0) and c = 0", r));
  CHECK(match("a = 0 and b = 0 or c = 3", r));        // or(and(...), c=3)
  CHECK_FALSE(match("a = 0 and (b = 0 or c = 3)", r));
  CHECK(match("not a = 0 and b = 2", r));            // (not a=0) and b=2
  CHECK_FALSE(match("not (a = 1 and b = 2)", r));
  CHECK(match("not not a = 1", r));
  CHECK(match("a = 1 AnD b = 2 oR c = 0", r));
  CHECK(match("((a = 1))", r));
}

TEST_CASE("the example from the filter documentation", "[filter]") {
  auto f = Filter::parse(
      "lifecyclestage = 'customer' and (country in ('DE', 'FR') or score > 10) and phone is not empty");
  CHECK(f.matches({{"lifecyclestage", "customer"}, {"country", "FR"}, {"phone", "+49"}}));
  CHECK(f.matches({{"lifecyclestage", "customer"}, {"country", "US"}, {"score", "11"}, {"phone", "1"}}));
  CHECK_FALSE(f.matches({{"lifecyclestage", "customer"}, {"country", "US"}, {"score", 10}, {"phone", "1"}}));
  CHECK_FALSE(f.matches({{"lifecyclestage", "customer"}, {"country", "DE"}, {"phone", " "}}));
  CHECK_FALSE(f.matches({{"lifecyclestage", "lead"}, {"country", "DE"}, {"phone", "1"}}));
}

TEST_CASE("dotted paths and backtick-quoted names address nested and odd fields", "[filter]") {
  json r = {{"merge_fields", {{"FNAME", "Ann"}}}, {"first name", "Bo"}, {"and", 1}, {"x-y", 2}};
  CHECK(match("merge_fields.FNAME = 'Ann'", r));
  CHECK(match("merge_fields.LNAME is empty", r));
  CHECK(match("`first name` = 'Bo'", r));
  CHECK(match("`and` = 1", r));
  CHECK(match("x-y = 2", r));
  CHECK(match("'Ann' = merge_fields.FNAME", r));  // a literal may stand on the left
}

TEST_CASE("two fields can be compared", "[filter]") {
  json r = {{"a", "5"}, {"b", 10}, {"c", "x"}};
  CHECK(match("a < b", r));
  CHECK(match("a != c", r));
  CHECK_FALSE(match("a = missing", r));
}

TEST_CASE("string literals support escapes and doubled quotes", "[filter]") {
  CHECK(match("name = 'it''s'", {{"name", "it's"}}));
  CHECK(match("name = 'it\\'s'", {{"name", "it's"}}));
  CHECK(match("name = \"say \"\"hi\"\"\"", {{"name", "say \"hi\""}}));
  CHECK(match("name = 'a\\\\b'", {{"name", "a\\b"}}));
  CHECK(match("name = 'a\\nb'", {{"name", "a\\nb"}}));  // unknown escapes stay literal
  CHECK(match("name = ''", {{"name", ""}}));
  CHECK(match("name = 'Zoë'", {{"name", "Zoë"}}));
}

TEST_CASE("fields() lists referenced paths once, in order of appearance", "[filter]") {
  auto f = Filter::parse("b = 1 and (a.x in ('q') or `first name` is empty) and b > 0 or not c != a.x");
  CHECK(f.fields() == std::vector<std::string>{"b", "a.x", "first name", "c"});
  CHECK(Filter::parse("1 = 1").fields().empty());
}

TEST_CASE("a non-object record matches nothing that needs a field", "[filter]") {
  auto f = Filter::parse("a = 1");
  CHECK_FALSE(f.matches(json()));
  CHECK_FALSE(f.matches(json::array({1})));
  CHECK(Filter::parse("a is empty").matches(json("text")));
}

TEST_CASE("syntax errors name the column and what was expected", "[filter]") {
  struct Case {
    const char* expr;
    int column;
    const char* message;
  };
  const Case cases[] = {
      {"lifecyclestage =", 17, "expected a value after '=' at column 17"},
      {"lifecyclestage = and x = 1", 18, "expected a value after '=' at column 18"},
      {"name ", 6, "expected an operator after 'name' at column 6"},
      {"a = 'abc", 5, "unterminated string starting at column 5"},
      {"a = \"abc''", 5, "unterminated string starting at column 5"},
      {"`abc = 1", 1, "unterminated quoted field name starting at column 1"},
      {"status == 'x'", 8, "unknown operator '==' at column 8; use '='"},
      {"a <> 1", 3, "unknown operator '<>' at column 3; use '!='"},
      {"a = 1 && b = 2", 7, "unknown operator '&&' at column 7; use 'and'"},
      {"a = 1 || b = 2", 7, "unknown operator '||' at column 7; use 'or'"},
      {"!a", 1, "unknown operator '!' at column 1; use 'not' or '!='"},
      {"a = 1 and", 10, "expected a comparison after 'and' at column 10"},
      {"a = 1 or )", 10, "expected a comparison after 'or' at column 10, found ')'"},
      {"and a = 1", 1, "expected a comparison at column 1, found 'and'"},
      {"(a = 1", 7, "expected ')' at column 7 to close the '(' at column 1"},
      {"a = 1)", 6, "unexpected ')' at column 6"},
      {"a = 1 b = 2", 7, "expected 'and' or 'or' before 'b' at column 7"},
      {"a = 1 'x'", 7, "expected 'and' or 'or' before 'x' at column 7"},
      {"a in 'x'", 6, "expected '(' after 'in' at column 6"},
      {"a in ()", 7, "expected a value in the 'in' list at column 7"},
      {"a in (b)", 7, "expected a value in the 'in' list at column 7"},
      {"a in ('x' 'y')", 11, "expected ',' or ')' in the 'in' list at column 11"},
      {"a is full", 6, "expected 'empty' after 'is' at column 6"},
      {"a is not", 9, "expected 'empty' after 'is not' at column 9"},
      {"a not empty", 7, "expected 'in' after 'not' at column 7; did you mean 'is not empty'?"},
      {"a = 12abc", 5, "invalid number '12abc' at column 5"},
      {"a = 1.2.3", 5, "invalid number '1.2.3' at column 5"},
      {"a = 1e999", 5, "number out of range '1e999' at column 5"},
      {"a. = 1", 1, "invalid field name 'a.' at column 1"},
      {"a..b = 1", 1, "invalid field name 'a..b' at column 1"},
      {"`` = 1", 1, "invalid field name `` at column 1"},
      {"a = #", 5, "unexpected character '#' at column 5"},
      {"a = \x01", 5, "unexpected character byte 0x01 at column 5"},
      {"a = -", 5, "unexpected character '-' at column 5"},
      {"not", 4, "expected a comparison after 'not' at column 4"},
      {"()", 2, "expected a comparison after '(' at column 2, found ')'"},
  };
  for (const auto& c : cases) {
    INFO(c.expr);
    auto e = syntax_error(c.expr);
    CHECK(e.column() == c.column);
    CHECK(std::string(e.what()) == c.message);
  }
}

TEST_CASE("nesting is limited instead of exhausting the stack", "[filter]") {
  SECTION("200 levels of parentheses are fine") {
    std::string expr = std::string(200, '(') + "a = 1" + std::string(200, ')');
    CHECK(Filter::parse(expr).matches({{"a", 1}}));
  }
  SECTION("10,000 open parentheses are rejected") {
    auto e = syntax_error(std::string(10000, '(') + "a = 1" + std::string(10000, ')'));
    CHECK(e.column() == 201);
    CHECK(std::string(e.what()) == "expression nested deeper than 200 levels at column 201");
  }
  SECTION("a long chain of nots is rejected too") {
    std::string expr;
    for (int i = 0; i < 5000; ++i) expr += "not ";
    expr += "a = 1";
    CHECK_THROWS_AS(Filter::parse(expr), FilterSyntaxError);
  }
  SECTION("long flat and/or chains are not nesting") {
    std::string expr = "a = 1";
    for (int i = 0; i < 20000; ++i) expr += (i % 2 ? " and a = 1" : " or a = 2");
    CHECK(Filter::parse(expr).matches({{"a", 1}}));
  }
}

TEST_CASE("arbitrary bytes never crash the parser", "[filter]") {
  // A cheap deterministic stand-in for the fuzzer: every prefix of tricky inputs.
  const std::string inputs[] = {
      "a = 'x' and (b in (1, 2, 'z') or not c is not empty) and `d e` >= -1.5e3",
      "((((( not not ( a in ( ",
      "\"\\",
      "'\\'",
      "a in (1,,2)",
      std::string("a = '\0'", 7),
      "\xff\xfe = \x80",
  };
  for (const auto& input : inputs) {
    for (std::size_t n = 0; n <= input.size(); ++n) {
      std::string prefix = input.substr(0, n);
      try {
        auto f = Filter::parse(prefix);
        (void)f.matches({{"a", "x"}, {"b", 1}});
      } catch (const FilterSyntaxError& e) {
        CHECK(e.column() >= 1);
        CHECK(e.column() <= static_cast<int>(prefix.size()) + 1);
      }
    }
  }
}
