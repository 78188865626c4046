// The CSV reader (connectors/csv/csv_format): any bytes, read with ',' and with ';'.
//
// Documented: CsvError (a malformed file: a row whose field count differs from the header's,
// a quoted field still open at the end), naming a line. Promised and checked here: what was
// read is written back by CsvWriter (with the file's BOM and line ends) and reads back as the
// same rows; what is read does not depend on where the reader refills its buffer; check_header
// refuses exactly the headers with a name that is not UTF-8 or appears twice;
// first_invalid_cell finds the first cell that is not UTF-8, and lossy_utf8 makes any cell
// valid UTF-8.
#include "fuzz_support.hpp"

#include "connectors/csv/csv_format.hpp"
#include "util/unicode.hpp"

#include <optional>
#include <set>
#include <sstream>
#include <vector>

using namespace synctool;
using connectors::csv::CsvError;
using connectors::csv::CsvReader;
using connectors::csv::CsvWriter;
namespace csv = connectors::csv;

namespace {

constexpr std::string_view kTarget = "fuzz_csv";
constexpr std::string_view kBom = "\xEF\xBB\xBF";

struct Read {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> lines;        // row_line() of each row
  std::optional<std::size_t> error_line;  // the CsvError that ended the reading, if any
  bool bom = false;
  bool crlf = false;
};

// Every row up to the end or the first CsvError.
Read read_all(const std::string& text, char delimiter) {
  Read out;
  std::istringstream in(text);
  CsvReader reader(in, "fuzz.csv", delimiter);
  std::vector<std::string> row;
  try {
    while (reader.next(row)) {
      if (reader.row_line() < 1 || (!out.lines.empty() && reader.row_line() < out.lines.back()))
        fuzz::violated(kTarget, "row_line() went back to " + std::to_string(reader.row_line()));
      out.rows.push_back(row);
      out.lines.push_back(reader.row_line());
    }
  } catch (const CsvError& e) {
    if (e.line() < 1) fuzz::violated(kTarget, std::string("a CsvError without a line: ") + e.what());
    out.error_line = e.line();
  }
  out.bom = reader.had_bom();
  out.crlf = reader.crlf();
  return out;
}

void round_trip(const Read& first, char delimiter) {
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

// CsvReader reads through a 64 KiB buffer (connectors/csv/csv_format.cpp), which small inputs
// never refill. The input is read once more behind blank lines (which the reader skips) that
// end `in_first_buffer` bytes before the first refill, so that its quotes, CRLFs and
// delimiters get split across one: the rows, their lines and any error must be the same,
// shifted by those lines.
void across_refill(std::string_view input, std::size_t in_first_buffer, const Read& plain) {
  constexpr std::size_t kReaderBuffer = 1 << 16;
  if (input.starts_with(kBom)) input.remove_prefix(kBom.size());  // a BOM counts only at the start
  const std::size_t blank_lines = kReaderBuffer - in_first_buffer;
  std::string text(blank_lines, '\n');
  text += input;
  Read shifted = read_all(text, ',');
  auto line = [&](std::size_t plain_line) { return plain_line + blank_lines; };
  bool same = shifted.rows == plain.rows && shifted.lines.size() == plain.lines.size() &&
              shifted.error_line.has_value() == plain.error_line.has_value() &&
              (!plain.error_line || *shifted.error_line == line(*plain.error_line));
  for (std::size_t i = 0; same && i < plain.lines.size(); ++i) same = shifted.lines[i] == line(plain.lines[i]);
  if (!same)
    fuzz::violated(kTarget, "the input reads differently when a refill of the reader's buffer falls " +
                                std::to_string(in_first_buffer) + " bytes into it");
}

void utf8_checks(const Read& read) {
  if (read.rows.empty()) return;
  const auto& header = read.rows.front();
  bool bad_header = false;
  std::set<std::string> names;
  for (const auto& name : header) bad_header = bad_header || !util::valid_utf8(name) || !names.insert(name).second;
  bool refused = false;
  try {
    csv::check_header(header, "fuzz.csv", 1);
  } catch (const CsvError&) {
    refused = true;
  }
  if (refused != bad_header)
    fuzz::violated(kTarget, std::string("check_header ") + (refused ? "refused a good header" : "took a bad header"));
  for (const auto& row : read.rows) {
    std::optional<std::size_t> first;
    for (std::size_t i = 0; i < row.size() && !first; ++i)
      if (!util::valid_utf8(row[i])) first = i;
    auto cell = csv::first_invalid_cell(row);
    if (cell.has_value() != first.has_value() || (cell && cell->column != *first) ||
        (cell && cell->at >= row[cell->column].size()))
      fuzz::violated(kTarget, "first_invalid_cell disagrees with valid_utf8");
    if (cell && !util::valid_utf8(csv::lossy_utf8(row[cell->column])))
      fuzz::violated(kTarget, "lossy_utf8 left a cell that is not valid UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(fuzz::as_text(data, size));
  Read commas = read_all(text, ',');
  round_trip(commas, ',');
  utf8_checks(commas);
  round_trip(read_all(text, ';'), ';');
  // Skipping 64 KiB of blank lines costs ~50 times a small input: one input in four.
  if (size % 4 == 3) across_refill(text, 1 + size / 4 % 16, commas);
  return 0;
}
