// The pre-scan that keeps toml++ 3.3 away from the inputs it crashes on (src/spec/toml_guard),
// and that a bad spec still ends as a clear SpecError naming file, line and column. The
// crashing inputs came from tests/fuzz/fuzz_spec; tests/fuzz/corpus/fuzz_spec/regress-* keeps
// them for the fuzzer.
#include "spec/loader.hpp"
#include "spec/toml_guard.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using namespace synctool::spec;
using synctool::spec::detail::guard_toml;
using synctool::testing::TempDir;

namespace {

const ConnectorKeys kCsvKeys{{"path"}, {"path"}, {}, {}};

const ConnectorKeys* catalog(const std::string& type) { return type == "csv" ? &kCsvKeys : nullptr; }

std::optional<std::string> no_env(const std::string&) { return std::nullopt; }

// The problems of loading `text` as synctool.toml.
std::vector<SpecProblem> load_problems(const std::string& text, fs::path* file_out = nullptr) {
  TempDir dir;
  fs::path file = dir / "synctool.toml";
  std::ofstream(file, std::ios::binary) << text;
  if (file_out) *file_out = file;
  try {
    return connection_problems(load_project(file, catalog, &no_env));
  } catch (const SpecError& e) {
    return e.problems();
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Text that is valid TOML and that the guard must leave exactly as it is.
const char* const kValidToml = "\xEF\xBB\xBF# A comment beyond ASCII: caf\xC3\xA9 \xCC\xAA \xE3\x80\x80\n"
                               "title = \"\xE2\x80\x9Cquoted\xE2\x80\x9D \xCC\xAA\"\n"
                               "raw = 'M\xC3\xBCller \\ #'\n"
                               "note = \"\"\"\n\xCC\xAA line two \"\" \\\" \\\\\n\"\"\"\n"
                               "lit = '''\xCC\xAA ''' \n"
                               "\"\xC3\xA9\".key = { a = [1, 2.5, 1979-05-27T07:32:00Z, 1979-05-27 07:32:00], b.c = \"d\" }\n"
                               "[\"t\xC3\xA9\".sub]\n"
                               "x = [ # comment \xC3\xA9\n  \"\xC3\xA9\", '\xC3\xA9',\n]\n"
                               "[[arr.of.tables]]\n"
                               "y = 1\n";

}  // namespace

TEST_CASE("the guard leaves valid TOML as it is", "[spec][toml_guard]") {
  auto guarded = guard_toml(kValidToml);
  CHECK_FALSE(guarded.problem);
  CHECK(guarded.text == kValidToml);
  CHECK_NOTHROW(toml::parse(std::string_view(guarded.text)));

  for (const char* name : {"synctool.toml", "hubspot-mailchimp.toml", "crm-to-warehouse.toml"}) {
    std::string text = read_file(fs::path(SYNCTOOL_SOURCE_DIR) / "syncs" / name);
    INFO(name);
    auto example = guard_toml(text);
    CHECK_FALSE(example.problem);
    CHECK(example.text == text);
  }
}

TEST_CASE("'[' and a character that cannot start a table name is a syntax error, not a crash (toml++ #294)",
          "[spec][toml_guard]") {
  auto guarded = guard_toml("[&");
  REQUIRE(guarded.problem);
  CHECK(guarded.problem->line == 1);
  CHECK(guarded.problem->column == 2);
  CHECK(guarded.problem->message == "expected a table name after '[', saw '&'");

  auto header_array = guard_toml("a = 1\n[[ .x]]\n");
  REQUIRE(header_array.problem);
  CHECK(header_array.problem->line == 2);
  CHECK(header_array.problem->column == 4);
  CHECK(header_array.problem->message == "expected a table name after '[[', saw '.'");

  auto line_break = guard_toml("[ \n");
  REQUIRE(line_break.problem);
  CHECK(line_break.problem->message == "expected a table name after '[', saw a line break");

  // What toml++ reports itself stays its own.
  CHECK_FALSE(guard_toml("[]").problem);
  CHECK_FALSE(guard_toml("[ [a]]").problem);
  // '[' starts an array in a value, not a table name.
  CHECK_FALSE(guard_toml("a = [\n[&]]").problem);

  fs::path file;
  auto problems = load_problems("state_dir = \".s\"\n[&", &file);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].to_string() == file.string() + ":2:2: TOML syntax error: expected a table name after '[', saw '&'");
}

TEST_CASE("characters beyond ASCII outside strings and comments are syntax errors, not undefined behaviour "
          "(toml++ #295)",
          "[spec][toml_guard]") {
  auto guarded = guard_toml("\xCC\xAA");  // U+032A as the whole document
  REQUIRE(guarded.problem);
  CHECK(guarded.problem->line == 1);
  CHECK(guarded.problem->column == 1);
  CHECK(guarded.problem->message ==
        "unexpected character '\xCC\xAA' (U+032A) outside a string: only strings and comments may hold characters "
        "beyond ASCII");
  CHECK(guarded.text == "x");

  auto quotes = guard_toml("a = 1\nb = \xE2\x80\x9Chubspot\xE2\x80\x9D\n");
  REQUIRE(quotes.problem);
  CHECK(quotes.problem->line == 2);
  CHECK(quotes.problem->column == 5);
  CHECK(quotes.problem->message == "unexpected character '\xE2\x80\x9C' (U+201C): strings take straight quotes, \"...\" or '...'");

  auto space = guard_toml("a\xC2\xA0= 1");
  REQUIRE(space.problem);
  CHECK(space.problem->column == 2);
  CHECK(space.problem->message == "unexpected character U+00A0 (a Unicode space): TOML separates with spaces and tabs");

  // Columns count code points, as toml++ does; a byte order mark is not one.
  auto columns = guard_toml("\xEF\xBB\xBFtitle = \"\xC3\xA9\xC3\xA9\" \xC3\xA9");
  REQUIRE(columns.problem);
  CHECK(columns.problem->column == 14);

  fs::path file;
  auto problems = load_problems("state_dir = \".s\"\n\xC3\xA9 = 1\n", &file);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].where.file == file.string());
  CHECK(problems[0].where.line == 2);
  CHECK(problems[0].where.column == 1);
}

TEST_CASE("in a multi-line string, a non-ASCII character after a backslash is handled without undefined "
          "behaviour (toml++ #295)",
          "[spec][toml_guard]") {
  // Valid TOML: a line-ending backslash trims up to the next character. toml++ 3.3 tests that
  // character with is_horizontal_whitespace(), undefined for U+00E9, so it gets its escape.
  auto trimmed = guard_toml("t = \"\"\"\\\n    \xC3\xA9t\xC3\xA9\"\"\"\n");
  CHECK_FALSE(trimmed.problem);
  CHECK(trimmed.text == "t = \"\"\"\\\n    \\u00E9t\xC3\xA9\"\"\"\n");
  CHECK(toml::parse(std::string_view(trimmed.text))["t"].value<std::string>() == "\xC3\xA9t\xC3\xA9");

  auto escape = guard_toml("t = \"\"\"\\\xC3\xA9\"\"\"");
  REQUIRE(escape.problem);
  CHECK(escape.problem->column == 9);
  CHECK(escape.problem->message == "unknown escape sequence '\\\xC3\xA9' (U+00E9)");

  auto after_blanks = guard_toml("t = \"\"\"\\  \xCC\xAA\n\"\"\"");
  REQUIRE(after_blanks.problem);
  CHECK(after_blanks.problem->column == 11);
}

TEST_CASE("a date-time whose 'T' is not followed by a digit is a syntax error, not undefined behaviour",
          "[spec][toml_guard]") {
  auto guarded = guard_toml("a = 1979-05-27T:00");
  REQUIRE(guarded.problem);
  CHECK(guarded.problem->column == 16);
  CHECK(guarded.problem->message == "expected a time (HH:MM:SS) after the 'T' of a date-time, saw ':'");
  CHECK(guard_toml("a = [1, 1979-05-27tV7:32:00Z]").problem);
  CHECK(guard_toml("a = { b = 1979-05-27T-1:00 }").problem);

  // Keys may look like dates; valid date-times and dates pass.
  CHECK_FALSE(guard_toml("1979-05-27T = 1\n1979-05-27t-x.y = 2").problem);
  CHECK_FALSE(guard_toml("a = 1979-05-27T07:32:00Z\nb = 1979-05-27\nc = 1979-05-27 07:32:00").problem);
}

TEST_CASE("a date, a space and a single digit is a syntax error, not undefined behaviour", "[spec][toml_guard]") {
  // Found by fuzz_spec: toml++ reads "1979-05-92 1" as the start of a date-time and asserts
  // that the digit is not followed by the end of the value.
  auto guarded = guard_toml("n=1979-05-92 1  \nsource = \"email\"");
  REQUIRE(guarded.problem);
  CHECK(guarded.problem->line == 1);
  CHECK(guarded.problem->column == 14);
  CHECK(guarded.problem->message == "expected a time (HH:MM:SS) after the date and the space, saw '1' alone");
  CHECK_THROWS_AS(toml::parse(std::string_view(guarded.text)), toml::parse_error);
  CHECK(guard_toml("a = [1979-05-27 7, 2]").problem);
  CHECK(guard_toml("a = 1_979-05-27 7\n").problem);
  // toml++ only looks at the length, the two '-' and the first digit: characters that mean
  // nothing to it (';', '!') do not keep it from reading on (found by fuzz_spec in CI).
  CHECK(guard_toml("n=1;79-05-92 1]\nemail = \"e\"").problem);
  CHECK(guard_toml("a = [1!79-05-2; 1, 2]").problem);
  // At the end of the text toml++ stops cleanly by itself; real date-times pass.
  CHECK_FALSE(guard_toml("a = 1979-05-27 7").problem);
  CHECK_FALSE(guard_toml("a = 1979-05-27 07:32:00\nb = 1979-05-27 # c\nc = 1979-05-27\n").problem);
}

TEST_CASE("a '}' where an array expects a value is a syntax error, not undefined behaviour", "[spec][toml_guard]") {
  auto guarded = guard_toml("b = [}");
  REQUIRE(guarded.problem);
  CHECK(guarded.problem->column == 6);
  CHECK(guarded.problem->message == "expected a value or ']' in an array, saw '}'");
  CHECK(guard_toml("b = [1, }").problem);
  CHECK(guard_toml("b = { c = [ }").problem);
  CHECK_FALSE(guard_toml("b = [1 }").problem);  // toml++ reports the missing comma itself
  CHECK_FALSE(guard_toml("b = [{}, {c = [1]}]").problem);
}

TEST_CASE("dotted keys and table names are limited in parts instead of overflowing the stack",
          "[spec][toml_guard]") {
  std::string key = "a";
  for (int i = 1; i < detail::kMaxTomlKeyParts; ++i) key += ".a";
  CHECK_FALSE(guard_toml(key + " = 1").problem);
  CHECK_FALSE(guard_toml("[" + key + "]").problem);
  CHECK(guard_toml(key + ".b = 1").problem);
  CHECK(guard_toml("[[" + key + ".b]]").problem);
  CHECK(guard_toml("x = { " + key + ".b = 1 }").problem);

  // 100,000 parts: toml++ 3.3 alone overflows the stack on this.
  std::string deep = "state_dir = \".s\"\n" + key;
  for (int i = 0; i < 100'000; ++i) deep += ".a";
  deep += " = 1\n";
  auto problems = load_problems(deep);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].where.line == 2);
  CHECK(problems[0].message == "TOML syntax error: a dotted key or table name has more than 32 parts");
}

TEST_CASE("the first syntax error is reported, whether toml++ or the guard finds it", "[spec][toml_guard]") {
  auto earlier = load_problems("a = = 1\n[&\n");
  REQUIRE(earlier.size() == 1);
  CHECK(earlier[0].where.line == 1);
  CHECK(earlier[0].message.starts_with("TOML syntax error: "));

  auto later = load_problems("[&\na = = 1\n");
  REQUIRE(later.size() == 1);
  CHECK(later[0].where.line == 1);
  CHECK(later[0].where.column == 2);
  CHECK(later[0].message == "TOML syntax error: expected a table name after '[', saw '&'");
}

// toml-test's valid/string/start-mb (upstream marzer/tomlplusplus#190): strings that start with
// a multibyte character, also right after a line-ending backslash, parse to that character.
TEST_CASE("strings that start with a multibyte character read as written (upstream #190)") {
  const std::string text = "s1 = \"\xC2\xA7\"\ns2 = '\xC2\xA7'\ns3 = \"\"\"\\\n\xC2\xA7\"\"\"\ns4 = \"\"\"\n\xC2\xA7\"\"\"\n"
                           "s5 = \"\"\"\xC2\xA7\"\"\"\ns6 = '''\n\xC2\xA7'''\ns7 = '''\xC2\xA7'''\n";
  auto guarded = guard_toml(text);
  CHECK_FALSE(guarded.problem);
  auto table = toml::parse(guarded.text);
  for (const char* key : {"s1", "s2", "s3", "s4", "s5", "s6", "s7"}) {
    INFO(key);
    CHECK(table[key].value<std::string>() == std::optional<std::string>("\xC2\xA7"));
  }
}
