#include "connectors/csv/csv_format.hpp"

#include "util/unicode.hpp"

#include <algorithm>
#include <unordered_map>

namespace synctool::connectors::csv {

namespace {

constexpr std::size_t kBufferSize = 1 << 16;

}  // namespace

CsvError::CsvError(const std::string& name, std::size_t line, const std::string& what)
    : std::runtime_error(name + ":" + std::to_string(line) + ": " + what), line_(line) {}

CsvReader::CsvReader(std::istream& in, std::string name, char delimiter)
    : in_(in), name_(std::move(name)), delimiter_(delimiter), buffer_(kBufferSize) {
  fill();
  if (len_ >= 3 && static_cast<unsigned char>(buffer_[0]) == 0xEF &&
      static_cast<unsigned char>(buffer_[1]) == 0xBB && static_cast<unsigned char>(buffer_[2]) == 0xBF) {
    pos_ = 3;
    had_bom_ = true;
  }
}

bool CsvReader::fill() {
  if (eof_) return false;
  in_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  len_ = static_cast<std::size_t>(in_.gcount());
  pos_ = 0;
  // A failed read must not pass for the end of the file: missing rows would look deleted.
  if (in_.bad()) throw CsvError(name_, line_, "read error");
  if (len_ == 0) eof_ = true;
  return len_ > 0;
}

bool CsvReader::at_end() { return pos_ >= len_ && !fill(); }

void CsvReader::note_line_end(bool crlf) {
  ++line_;
  if (!line_end_seen_) {
    line_end_seen_ = true;
    crlf_ = crlf;
  }
}

void CsvReader::read_unquoted(std::string& field) {
  // Scan the buffer in bulk: most fields are unquoted and short.
  while (!at_end()) {
    const char* begin = buffer_.data() + pos_;
    const char* end = buffer_.data() + len_;
    const char* stop = std::find_if(begin, end, [d = delimiter_](char c) { return c == d || c == '\n' || c == '\r'; });
    field.append(begin, stop);
    pos_ += static_cast<std::size_t>(stop - begin);
    if (stop != end) return;
  }
}

void CsvReader::read_quoted(std::string& field) {
  const std::size_t opened_on = line_;
  ++pos_;  // the opening quote
  while (true) {
    if (at_end()) throw CsvError(name_, opened_on, "quoted field is not closed before the end of the file");
    const char* begin = buffer_.data() + pos_;
    const char* end = buffer_.data() + len_;
    const char* stop = std::find_if(begin, end, [](char c) { return c == '"' || c == '\n'; });
    field.append(begin, stop);
    pos_ += static_cast<std::size_t>(stop - begin);
    if (stop == end) continue;
    if (*stop == '\n') {
      field.push_back('\n');
      ++line_;
      ++pos_;
      continue;
    }
    ++pos_;  // a quote: either doubled (a literal quote) or the closing one
    if (!at_end() && buffer_[pos_] == '"') {
      field.push_back('"');
      ++pos_;
      continue;
    }
    // Text between the closing quote and the delimiter is kept as-is, as most readers do.
    read_unquoted(field);
    return;
  }
}

bool CsvReader::next(std::vector<std::string>& row) {
  // Skip blank lines between rows.
  while (true) {
    if (at_end()) return false;
    char c = buffer_[pos_];
    if (c == '\n') {
      ++pos_;
      note_line_end(false);
    } else if (c == '\r') {
      ++pos_;
      bool crlf = !at_end() && buffer_[pos_] == '\n';
      if (crlf) ++pos_;
      note_line_end(crlf);
    } else {
      break;
    }
  }
  row_line_ = line_;
  std::size_t count = 0;
  while (true) {
    if (count == row.size()) row.emplace_back();
    std::string& field = row[count++];
    field.clear();
    if (!at_end() && buffer_[pos_] == '"')
      read_quoted(field);
    else
      read_unquoted(field);
    if (at_end()) break;
    char c = buffer_[pos_++];
    if (c == delimiter_) continue;
    if (c == '\n') {
      note_line_end(false);
    } else {  // '\r'
      bool crlf = !at_end() && buffer_[pos_] == '\n';
      if (crlf) ++pos_;
      note_line_end(crlf);
    }
    break;
  }
  row.resize(count);
  if (width_ == 0) {
    width_ = count;
  } else if (count != width_) {
    throw CsvError(name_, row_line_,
                   std::to_string(count) + (count == 1 ? " field" : " fields") + ", header has " +
                       std::to_string(width_));
  }
  return true;
}

std::optional<std::size_t> invalid_utf8_at(std::string_view text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return std::nullopt;
  return util::first_invalid_utf8(text);
}

std::string invalid_byte(std::string_view text, std::size_t at) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(text[at]);
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 15] + " at position " + std::to_string(at + 1);
}

std::string lossy_utf8(std::string_view text) {
  std::string out;
  while (auto at = invalid_utf8_at(text)) {
    out.append(text.substr(0, *at));
    out.append("\xEF\xBF\xBD");
    text.remove_prefix(*at + 1);
  }
  out.append(text);
  return out;
}

void check_header(const std::vector<std::string>& header, const std::string& name, std::size_t line) {
  std::unordered_map<std::string_view, std::size_t> seen;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (auto at = invalid_utf8_at(header[i]))
      throw CsvError(name, line,
                     "column " + std::to_string(i + 1) + " of the header is not valid UTF-8 (" +
                         invalid_byte(header[i], *at) + ")");
    auto [it, inserted] = seen.try_emplace(header[i], i);
    if (!inserted)
      throw CsvError(name, line,
                     "column '" + header[i] + "' appears twice in the header (columns " +
                         std::to_string(it->second + 1) + " and " + std::to_string(i + 1) + ")");
  }
}

std::optional<InvalidCell> first_invalid_cell(const std::vector<std::string>& row) {
  for (std::size_t i = 0; i < row.size(); ++i)
    if (auto at = invalid_utf8_at(row[i])) return InvalidCell{i, *at};
  return std::nullopt;
}

bool needs_quotes(std::string_view field, char delimiter) {
  if (field.empty()) return false;
  if (field.front() == ' ' || field.front() == '\t' || field.back() == ' ' || field.back() == '\t') return true;
  // A byte order mark at the start of the file is not data: a field that begins with one is
  // quoted, or as the first field written it would be read back without it.
  if (field.starts_with("\xEF\xBB\xBF")) return true;
  return std::any_of(field.begin(), field.end(),
                     [delimiter](char c) { return c == delimiter || c == '"' || c == '\n' || c == '\r'; });
}

CsvWriter::CsvWriter(std::ostream& out, char delimiter, std::string_view line_end)
    : out_(out), delimiter_(delimiter), line_end_(line_end) {}

void CsvWriter::write_bom() { out_.write("\xEF\xBB\xBF", 3); }

void CsvWriter::write_field(std::string_view field) {
  if (!needs_quotes(field, delimiter_)) {
    out_.write(field.data(), static_cast<std::streamsize>(field.size()));
    return;
  }
  out_.put('"');
  std::size_t start = 0;
  while (true) {
    auto quote = field.find('"', start);
    auto piece = field.substr(start, quote == std::string_view::npos ? std::string_view::npos : quote - start + 1);
    out_.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    if (quote == std::string_view::npos) break;
    out_.put('"');  // double it
    start = quote + 1;
  }
  out_.put('"');
}

void CsvWriter::write_row(std::span<const std::string> fields) {
  if (fields.size() == 1 && fields[0].empty()) {
    out_.write("\"\"", 2);
  } else {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) out_.put(delimiter_);
      write_field(fields[i]);
    }
  }
  out_.write(line_end_.data(), static_cast<std::streamsize>(line_end_.size()));
}

}  // namespace synctool::connectors::csv
