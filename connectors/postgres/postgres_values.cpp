#include "connectors/postgres/postgres_values.hpp"

#include "util/strings.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace synctool::connectors::postgres {

namespace {

using Json = nlohmann::json;

bool digits(std::string_view text, std::size_t from, std::size_t count) {
  if (from + count > text.size()) return false;
  for (std::size_t i = from; i < from + count; ++i)
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  return true;
}

std::optional<std::int64_t> whole_number(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Significant digits of a decimal's text ("0.00120" has 3).
std::size_t significant_digits(std::string_view text) {
  std::size_t count = 0;
  bool leading = true;
  std::size_t trailing_zeros = 0;
  for (char c : text) {
    if (c == 'e' || c == 'E') break;
    if (!std::isdigit(static_cast<unsigned char>(c))) continue;
    if (leading && c == '0') continue;
    leading = false;
    ++count;
    trailing_zeros = c == '0' ? trailing_zeros + 1 : 0;
  }
  const bool fractional = text.find('.') != std::string_view::npos;
  return fractional ? count - trailing_zeros : count;
}

Json number_or_text(std::string_view text, bool exact_only) {
  if (auto whole = whole_number(text)) return *whole;
  if (exact_only && significant_digits(text) > 15) return std::string(text);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  // NaN and Infinity have no JSON number: they stay text.
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::string(text);
  return value;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea's hex output ("\x0102ff") as base64; any other form stays text.
Json bytea_json(std::string_view text) {
  if (!text.starts_with("\\x") || text.size() % 2) return std::string(text);
  std::string bytes;
  bytes.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    int high = hex_value(text[i]), low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::string(text);
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  return util::base64_encode(bytes.data(), bytes.size());
}

}  // namespace

ValueKind value_kind(Oid type, char category) {
  switch (type) {
    case oid::int2:
    case oid::int4:
    case oid::int8:
    case oid::oid:
      return ValueKind::integer;
    case oid::float4:
    case oid::float8:
    case oid::numeric:
      return ValueKind::number;
    case oid::boolean:
      return ValueKind::boolean;
    case oid::json:
    case oid::jsonb:
      return ValueKind::json;
    case oid::timestamptz:
      return ValueKind::timestamptz;
    case oid::timestamp:
      return ValueKind::timestamp;
    case oid::bytea:
      return ValueKind::bytea;
    default:
      break;
  }
  if (read_as_json(category)) return ValueKind::json;
  if (category == 'N') return ValueKind::number;  // domains over numbers, money-like types
  if (category == 'B') return ValueKind::boolean;
  return ValueKind::text;
}

bool read_as_json(char category) { return category == 'A' || category == 'C' || category == 'R'; }

Json to_json(ValueKind kind, std::string_view text) {
  switch (kind) {
    case ValueKind::integer:
      return number_or_text(text, true);
    case ValueKind::number:
      return number_or_text(text, true);
    case ValueKind::boolean:
      if (text == "t" || text == "true") return true;
      if (text == "f" || text == "false") return false;
      return std::string(text);
    case ValueKind::json: {
      auto parsed = Json::parse(text.begin(), text.end(), nullptr, false);
      if (parsed.is_discarded()) return std::string(text);
      return parsed;
    }
    case ValueKind::timestamptz:
    case ValueKind::timestamp:
      return iso_timestamp(text, false);
    case ValueKind::bytea:
      return bytea_json(text);
    case ValueKind::text:
      break;
  }
  return std::string(text);
}

std::string iso_timestamp(std::string_view text, bool fixed_width) {
  // YYYY-MM-DD HH:MM:SS[.ffffff][+00]
  if (text.size() < 19 || !digits(text, 0, 4) || text[4] != '-' || !digits(text, 5, 2) || text[7] != '-' ||
      !digits(text, 8, 2) || text[10] != ' ' || !digits(text, 11, 2) || text[13] != ':' || !digits(text, 14, 2) ||
      text[16] != ':' || !digits(text, 17, 2))
    return std::string(text);
  std::size_t pos = 19;
  std::string fraction;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) fraction += text[pos++];
  }
  std::string_view zone = text.substr(pos);
  if (!zone.empty() && zone != "+00" && zone != "+00:00") return std::string(text);
  if (fraction.size() > 6) return std::string(text);
  fraction.resize(6, '0');
  if (!fixed_width) {
    if (fraction == "000000") fraction.clear();
    else if (fraction.ends_with("000")) fraction.resize(3);
  }
  std::string iso(text.substr(0, 19));
  iso[10] = 'T';
  if (!fraction.empty()) iso += "." + fraction;
  if (!zone.empty()) iso += "Z";
  return iso;
}

std::string field_type(ValueKind kind, Oid type) {
  switch (kind) {
    case ValueKind::integer:
    case ValueKind::number:
      return "number";
    case ValueKind::boolean:
      return "bool";
    case ValueKind::json:
      return "json";
    case ValueKind::timestamptz:
    case ValueKind::timestamp:
      return "datetime";
    case ValueKind::bytea:
      return "unknown";
    case ValueKind::text:
      break;
  }
  return type == oid::date ? "datetime" : "string";
}

std::string column_type_for(const std::string& declared) {
  if (declared == "number") return "numeric";
  if (declared == "bool") return "boolean";
  if (declared == "date") return "date";
  if (declared == "datetime") return "timestamptz";
  if (declared == "multiselect") return "text[]";
  if (declared == "json") return "jsonb";
  return "text";  // string, email, enumeration
}

bool column_holds(const std::string& declared, Oid type, char category) {
  if (declared == "number") return category == 'N';
  if (declared == "bool") return category == 'B';
  if (declared == "date") return category == 'D';
  if (declared == "datetime") return type == oid::timestamptz || type == oid::timestamp;
  if (declared == "multiselect") return category == 'A';
  if (declared == "json") return type == oid::json || type == oid::jsonb;
  return category == 'S' || category == 'E';  // string, email, enumeration
}

}  // namespace synctool::connectors::postgres
