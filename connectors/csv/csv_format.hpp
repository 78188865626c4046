// RFC 4180 reading and writing, streaming: a buffered reader that yields one row at a time
// and a writer that quotes only where needed.
#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::connectors::csv {

// A malformed file. The message starts with "<name>:<line>: ".
class CsvError : public std::runtime_error {
 public:
  CsvError(const std::string& name, std::size_t line, const std::string& what);
  std::size_t line() const { return line_; }

 private:
  std::size_t line_;
};

// Reads rows from a stream. Accepts quoted fields with embedded delimiters, doubled quotes and
// line breaks; CRLF, LF or CR line ends; a UTF-8 byte order mark (stripped); a last line with
// or without a line end. Empty lines are skipped. Every row must have as many fields as the
// first one (the header). Memory use is one buffer plus the current row.
class CsvReader {
 public:
  // `name` is used in error messages (a file name).
  CsvReader(std::istream& in, std::string name, char delimiter = ',');

  // Reads the next row into `row` (resized to its field count; strings are reused to avoid
  // allocations). Returns false at the end of the input. Throws CsvError for a row whose field
  // count differs from the first row's and for a quoted field still open at the end.
  bool next(std::vector<std::string>& row);

  // Line on which the row last returned by next() starts (1-based).
  std::size_t row_line() const { return row_line_; }
  bool had_bom() const { return had_bom_; }
  // Whether the first line end seen was CRLF (to write a file back the way it was).
  bool crlf() const { return crlf_; }
  const std::string& name() const { return name_; }

 private:
  bool fill();
  bool at_end();
  void read_quoted(std::string& field);
  void read_unquoted(std::string& field);
  void note_line_end(bool crlf);

  std::istream& in_;
  std::string name_;
  char delimiter_;
  std::vector<char> buffer_;
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
  bool eof_ = false;
  std::size_t line_ = 1;
  std::size_t row_line_ = 0;
  std::size_t width_ = 0;  // fields in the first row; 0 until it is read
  bool had_bom_ = false;
  bool crlf_ = false;
  bool line_end_seen_ = false;
};

// Where `text` stops being valid UTF-8 (a byte offset), nullopt when it is valid. Plain
// ASCII, nearly every cell, is passed over without decoding.
std::optional<std::size_t> invalid_utf8_at(std::string_view text);

// "byte 0xff at position 4": the byte at offset `at` and its position, counted from 1.
std::string invalid_byte(std::string_view text, std::size_t at);

// The text with each byte that breaks UTF-8 replaced by U+FFFD.
std::string lossy_utf8(std::string_view text);

// A header row's names must be valid UTF-8 and distinct (a second `email` would shadow the
// first). Throws CsvError(name, line, "column 'email' appears twice in the header (columns 2
// and 5)" or "column 3 of the header is not valid UTF-8 (byte 0xff at position 2)").
void check_header(const std::vector<std::string>& header, const std::string& name, std::size_t line);

// The first cell of a row that is not valid UTF-8, and where in it.
struct InvalidCell {
  std::size_t column = 0;  // 0-based
  std::size_t at = 0;      // byte offset in the cell
};
std::optional<InvalidCell> first_invalid_cell(const std::vector<std::string>& row);

// True when `field` must be quoted: it contains the delimiter, a quote, CR or LF, or starts or
// ends with a space or tab (which many readers would trim).
bool needs_quotes(std::string_view field, char delimiter);

class CsvWriter {
 public:
  explicit CsvWriter(std::ostream& out, char delimiter = ',', std::string_view line_end = "\n");
  void write_bom();
  // A row of one empty field is written as "" so that readers do not take it for a blank line.
  void write_row(std::span<const std::string> fields);

 private:
  void write_field(std::string_view field);

  std::ostream& out_;
  char delimiter_;
  std::string line_end_;
};

}  // namespace synctool::connectors::csv
