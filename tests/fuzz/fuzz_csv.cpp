// The CSV reader (connectors/csv/csv_format): any bytes, read with ',' and with ';', and once
// more placed across a refill of the reader's buffer.
//
// Documented: CsvError (a malformed file: a row whose field count differs from the header's,
// a quoted field still open at the end). Promised and checked here: what was read is written
// back by CsvWriter (with the file's BOM and line ends) and reads back as the same rows.
#include "fuzz_support.hpp"

#include "connectors/csv/csv_format.hpp"

#include <sstream>
#include <vector>

using namespace synctool;
using connectors::csv::CsvError;
using connectors::csv::CsvReader;
using connectors::csv::CsvWriter;

namespace {

constexpr std::string_view kTarget = "fuzz_csv";

struct Read {
  std::vector<std::vector<std::string>> rows;
  bool bom = false;
  bool crlf = false;
};

// Every row up to the end or the first CsvError.
Read read_all(const std::string& text, char delimiter) {
  Read out;
  std::istringstream in(text);
  CsvReader reader(in, "fuzz.csv", delimiter);
  std::vector<std::string> row;
  std::size_t last_line = 0;
  try {
    while (reader.next(row)) {
      if (reader.row_line() < 1 || reader.row_line() < last_line)
        fuzz::violated(kTarget, "row_line() went from " + std::to_string(last_line) + " to " +
                                    std::to_string(reader.row_line()));
      last_line = reader.row_line();
      out.rows.push_back(row);
    }
  } catch (const CsvError& e) {
    if (e.line() < 1) fuzz::violated(kTarget, std::string("a CsvError without a line: ") + e.what());
  }
  out.bom = reader.had_bom();
  out.crlf = reader.crlf();
  return out;
}

void round_trip(const std::string& text, char delimiter) {
  Read first = read_all(text, delimiter);
  std::ostringstream written;
  CsvWriter writer(written, delimiter, first.crlf ? "\r\n" : "\n");
  if (first.bom) writer.write_bom();
  for (const auto& row : first.rows) writer.write_row(row);

  std::istringstream in(written.str());
  CsvReader reader(in, "written.csv", delimiter);
  std::vector<std::string> row;
  std::size_t i = 0;
  try {
    for (; reader.next(row); ++i)
      if (i >= first.rows.size() || row != first.rows[i])
        fuzz::violated(kTarget, "row " + std::to_string(i + 1) + " reads back differently after CsvWriter wrote it");
  } catch (const CsvError& e) {
    fuzz::violated(kTarget, std::string("what CsvWriter wrote does not read back: ") + e.what());
  }
  if (i != first.rows.size())
    fuzz::violated(kTarget, std::to_string(first.rows.size()) + " rows written, " + std::to_string(i) + " read back");
}

// CsvReader reads through a 64 KiB buffer, which small inputs never refill. The input also goes
// through behind a first field that ends 1-16 bytes before that buffer does, so that quotes,
// CRLF and delimiters of the input get split across a refill.
std::string straddling(std::string_view input) {
  constexpr std::size_t kReaderBuffer = 1 << 16;  // connectors/csv/csv_format.cpp
  const std::size_t in_first_buffer = 1 + input.size() % 16;
  std::string text = "\"";
  text.append(kReaderBuffer - in_first_buffer - 3, 'x');
  text += "\",";
  text += input;
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(fuzz::as_text(data, size));
  round_trip(text, ',');
  round_trip(text, ';');
  round_trip(straddling(text), ',');
  return 0;
}
