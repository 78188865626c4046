#include "connectors/csv/csv_format.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using synctool::connectors::csv::CsvError;
using synctool::connectors::csv::CsvReader;
using synctool::connectors::csv::CsvWriter;
using synctool::connectors::csv::needs_quotes;
using Rows = std::vector<std::vector<std::string>>;

namespace {

Rows parse(const std::string& text, char delimiter = ',') {
  std::istringstream in(text);
  CsvReader reader(in, "contacts.csv", delimiter);
  Rows rows;
  std::vector<std::string> row;
  while (reader.next(row)) rows.push_back(row);
  return rows;
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const CsvError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string render(const Rows& rows, char delimiter = ',', const char* line_end = "\n") {
  std::ostringstream out;
  CsvWriter writer(out, delimiter, line_end);
  for (const auto& row : rows) writer.write_row(row);
  return out.str();
}

}  // namespace

TEST_CASE("csv reader: plain rows, with or without a final line end", "[csv]") {
  const Rows expected{{"email", "name"}, {"a@x", "A"}, {"b@x", "B"}};
  CHECK(parse("email,name\na@x,A\nb@x,B\n") == expected);
  CHECK(parse("email,name\na@x,A\nb@x,B") == expected);
}

TEST_CASE("csv reader: CRLF and lone CR line ends", "[csv]") {
  const Rows expected{{"email", "name"}, {"a@x", "A"}};
  CHECK(parse("email,name\r\na@x,A\r\n") == expected);
  CHECK(parse("email,name\ra@x,A") == expected);
  std::istringstream in("email,name\r\na@x,A\n");
  CsvReader reader(in, "x");
  std::vector<std::string> row;
  reader.next(row);
  CHECK(reader.crlf());
}

TEST_CASE("csv reader: empty cells and a trailing delimiter", "[csv]") {
  CHECK(parse("a,b,c\n,,\n1,,3\n") == Rows{{"a", "b", "c"}, {"", "", ""}, {"1", "", "3"}});
}

TEST_CASE("csv reader: quoted fields hold delimiters, doubled quotes and line breaks", "[csv]") {
  auto rows = parse("email,note\na@x,\"Acme, Inc.\"\nb@x,\"she said \"\"hi\"\"\"\nc@x,\"two\nlines\"\nd@x,\"crlf\r\nkept\"\n");
  REQUIRE(rows.size() == 5);
  CHECK(rows[1][1] == "Acme, Inc.");
  CHECK(rows[2][1] == "she said \"hi\"");
  CHECK(rows[3][1] == "two\nlines");
  CHECK(rows[4][1] == "crlf\r\nkept");
  CHECK(parse("a,b\n\"\",\"\"\n") == Rows{{"a", "b"}, {"", ""}});
}

TEST_CASE("csv reader: quotes inside an unquoted field and text after a closing quote are kept", "[csv]") {
  CHECK(parse("a,b\n5\" pipe,\"x\"y\n") == Rows{{"a", "b"}, {"5\" pipe", "xy"}});
}

TEST_CASE("csv reader: a UTF-8 byte order mark is stripped", "[csv]") {
  std::istringstream in("\xEF\xBB\xBF" "email,name\na@x,Zoë\n");
  CsvReader reader(in, "x");
  std::vector<std::string> row;
  REQUIRE(reader.next(row));
  CHECK(row == std::vector<std::string>{"email", "name"});
  CHECK(reader.had_bom());
  REQUIRE(reader.next(row));
  CHECK(row[1] == "Zoë");
}

TEST_CASE("csv reader: blank lines are skipped and line numbers still count them", "[csv]") {
  std::istringstream in("a,b\n\n1,2\r\n\r\n\"x\ny\",3\n4,5\n\n");
  CsvReader reader(in, "x");
  std::vector<std::string> row;
  std::vector<std::size_t> lines;
  while (reader.next(row)) lines.push_back(reader.row_line());
  CHECK(lines == std::vector<std::size_t>{1, 3, 5, 7});
}

TEST_CASE("csv reader: another delimiter", "[csv]") {
  CHECK(parse("a;b\n\"1;2\";3,4\n", ';') == Rows{{"a", "b"}, {"1;2", "3,4"}});
  CHECK(parse("a\tb\nx y\tz\n", '\t') == Rows{{"a", "b"}, {"x y", "z"}});
}

TEST_CASE("csv reader: a ragged row is an error naming its line", "[csv]") {
  CHECK(error_of("a,b,c,d\n1,2,3,4\n1,2,3,4,5\n") == "contacts.csv:3: 5 fields, header has 4");
  CHECK(error_of("a,b\n\"multi\nline\",2\n1\n") == "contacts.csv:4: 1 field, header has 2");
}

TEST_CASE("csv reader: an unterminated quote is an error naming the line it opened on", "[csv]") {
  CHECK(error_of("a,b\n1,2\n3,\"never\nclosed\n\n") ==
        "contacts.csv:3: quoted field is not closed before the end of the file");
}

TEST_CASE("csv reader: an empty input has no rows", "[csv]") {
  CHECK(parse("").empty());
  CHECK(parse("\xEF\xBB\xBF").empty());
}

TEST_CASE("csv reader: fields longer than the read buffer", "[csv]") {
  const std::string big(200000, 'x');
  const std::string quoted_big = std::string(100000, 'q') + "\"\"" + std::string(100000, 'q');
  auto rows = parse("a,b\n" + big + ",\"" + quoted_big + "\"\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1][0] == big);
  CHECK(rows[1][1] == std::string(100000, 'q') + "\"" + std::string(100000, 'q'));
}

TEST_CASE("csv writer: quotes only where needed", "[csv]") {
  CHECK_FALSE(needs_quotes("plain text", ','));
  CHECK_FALSE(needs_quotes("", ','));
  // Found by fuzz_csv: a first header cell that begins with U+FEFF lost it when read back.
  CHECK(needs_quotes("\xEF\xBB\xBFid", ','));
  CHECK_FALSE(needs_quotes("id\xEF\xBB\xBF", ','));
  CHECK(needs_quotes("a,b", ','));
  CHECK_FALSE(needs_quotes("a,b", ';'));
  CHECK(needs_quotes("say \"hi\"", ','));
  CHECK(needs_quotes("two\nlines", ','));
  CHECK(needs_quotes("cr\r", ','));
  CHECK(needs_quotes(" leading", ','));
  CHECK(needs_quotes("trailing ", ','));
  CHECK(render({{"a", "b,c", "say \"hi\"", "x\ny", ""}}) == "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\",\n");
}

TEST_CASE("csv writer: a row of one empty field is not a blank line", "[csv]") {
  CHECK(render({{"only"}, {""}, {"x"}}) == "only\n\"\"\nx\n");
  CHECK(parse(render({{"only"}, {""}, {"x"}})) == Rows{{"only"}, {""}, {"x"}});
}

TEST_CASE("csv writer output reads back identically", "[csv]") {
  const Rows rows{{"email", "note", "city"},
                  {"a@x", "Acme, \"Inc.\"\r\nsecond line", " Oslo "},
                  {"b@x", "", "日本"},
                  {"c@x", "\"", ","}};
  CHECK(parse(render(rows)) == rows);
  CHECK(parse(render(rows, ';', "\r\n"), ';') == rows);
}

TEST_CASE("csv header: names must be valid UTF-8 and distinct", "[csv]") {
  namespace csv = synctool::connectors::csv;
  auto problem = [](std::vector<std::string> header) -> std::string {
    try {
      csv::check_header(header, "contacts.csv", 1);
    } catch (const CsvError& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(problem({"email", "name", "Email"}) == "(no error)");
  CHECK(problem({"id", "email", "name", "phone", "email"}) ==
        "contacts.csv:1: column 'email' appears twice in the header (columns 2 and 5)");
  CHECK(problem({"", "a", ""}) == "contacts.csv:1: column '' appears twice in the header (columns 1 and 3)");
  CHECK(problem({"email", "n\xe4me"}) ==
        "contacts.csv:1: column 2 of the header is not valid UTF-8 (byte 0xe4 at position 2)");
  CHECK(problem({"pr\xc3\xa9nom", "\xe5\x90\x8d\xe5\x89\x8d"}) == "(no error)");
}

TEST_CASE("csv cells: the first that is not valid UTF-8, and a lossy copy for messages", "[csv]") {
  namespace csv = synctool::connectors::csv;
  CHECK_FALSE(csv::first_invalid_cell({"a@x", "Ann", "\xc3\xa5"}));
  auto cell = csv::first_invalid_cell({"a@x", "Ann\xff", "\xc0\xaf"});
  REQUIRE(cell);
  CHECK(cell->column == 1);
  CHECK(cell->at == 3);
  CHECK(csv::invalid_byte("Ann\xff", 3) == "byte 0xff at position 4");
  CHECK(csv::invalid_utf8_at("\xed\xa0\x80") == 0u);  // a surrogate
  CHECK(csv::invalid_utf8_at("ok \xe2\x9c\x93") == std::nullopt);
  CHECK(csv::lossy_utf8("a\xff" "b\xc3") == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  CHECK(csv::lossy_utf8("fine") == "fine");
}
