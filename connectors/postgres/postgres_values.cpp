#include "connectors/postgres/postgres_values.hpp"

#include "util/decimal.hpp"
#include "util/strings.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

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

// A number by the value model: an integer that fits 64 bits as a JSON integer, a decimal that
// a double holds exactly as a JSON double, any other as its canonical decimal text
// (numeric(30,2) 12345678901234567.80 -> "12345678901234567.8"). NaN and Infinity, which have
// no JSON number, stay as the server wrote them.
Json exact_number(std::string_view text) {
  auto decimal = util::canonical_decimal(text);
  if (!decimal) return std::string(text);
  if (util::is_integral_decimal(*decimal))
    if (auto whole = whole_number(*decimal)) return *whole;
  if (util::double_holds(*decimal)) {
    double value = 0;
    auto [end, ec] = std::from_chars(decimal->data(), decimal->data() + decimal->size(), value);
    if (ec == std::errc() && end == decimal->data() + decimal->size() && std::isfinite(value)) return value;
  }
  return *decimal;
}

// A value as the canonical decimal of the number it is, or nullopt when it is none: JSON
// numbers, and text the server would read as a number (it ignores surrounding spaces).
std::optional<std::string> numeric_text(const Json& value) {
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) return util::canonical_decimal(value.get<double>());
  if (value.is_string()) return util::canonical_decimal(util::trim(value.get_ref<const std::string&>()));
  return std::nullopt;
}

// Whether a float4 holds the canonical decimal: its shortest form is that decimal.
bool float_holds(const std::string& canonical) {
  float value = 0;
  auto [end, ec] = std::from_chars(canonical.data(), canonical.data() + canonical.size(), value);
  if (ec != std::errc() || end != canonical.data() + canonical.size() || !std::isfinite(value)) return false;
  char buffer[64];
  auto [last, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error != std::errc()) return false;
  return util::canonical_decimal(std::string_view(buffer, static_cast<std::size_t>(last - buffer))) == canonical;
}

// Digits before the point, without leading zeros ("0.5" has none), and after it.
std::pair<std::size_t, std::size_t> digit_counts(const std::string& canonical) {
  std::string_view digits(canonical);
  if (digits.starts_with('-')) digits.remove_prefix(1);
  const auto point = digits.find('.');
  std::string_view whole = digits.substr(0, point);
  if (whole == "0") whole = {};
  return {whole.size(), point == std::string_view::npos ? 0 : digits.size() - point - 1};
}

bool fits_integer(const std::string& canonical, std::int64_t low, std::int64_t high) {
  if (!util::is_integral_decimal(canonical)) return false;
  auto whole = whole_number(canonical);
  return whole && *whole >= low && *whole <= high;
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
    case ValueKind::number:
      return exact_number(text);
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

NumericLimits numeric_limits(int typmod) {
  NumericLimits limits;
  // numeric's typmod: ((precision << 16) | (scale & 0x7ff)) + 4, the scale an 11-bit signed
  // number (negative since PostgreSQL 15); -1 when the column has neither.
  if (typmod < 4) return limits;
  const int packed = typmod - 4;
  limits.precision = (packed >> 16) & 0xffff;
  int scale = packed & 0x7ff;
  if (scale & 0x400) scale -= 0x800;
  limits.scale = scale;
  return limits;
}

bool column_holds_value(Oid type, int typmod, const nlohmann::json& value) {
  if (type != oid::int2 && type != oid::int4 && type != oid::int8 && type != oid::float4 && type != oid::float8 &&
      type != oid::numeric)
    return true;
  // Text that is no number the server converts or refuses itself (a row error, never rounded).
  auto decimal = numeric_text(value);
  if (!decimal) return true;
  switch (type) {
    case oid::int2:
      return fits_integer(*decimal, -32768, 32767);
    case oid::int4:
      return fits_integer(*decimal, -2147483648LL, 2147483647LL);
    case oid::int8:
      return fits_integer(*decimal, INT64_MIN, INT64_MAX);
    case oid::float4:
      return float_holds(*decimal);
    case oid::float8:
      return util::double_holds(*decimal);
    default:
      break;
  }
  const NumericLimits limits = numeric_limits(typmod);
  if (!limits.precision) return true;  // numeric without a precision holds every decimal
  const auto [whole, fraction] = digit_counts(*decimal);
  // A fraction longer than the scale would be rounded; a negative scale rounds to tens,
  // hundreds...: the value must then end in that many zeros.
  if (limits.scale >= 0) {
    if (fraction > static_cast<std::size_t>(limits.scale)) return false;
  } else {
    const auto zeros = static_cast<std::size_t>(-limits.scale);
    const std::string_view digits(*decimal);
    if (fraction > 0) return false;
    if (digits != "0" && (digits.size() <= zeros || digits.substr(digits.size() - zeros).find_first_not_of('0') !=
                                                        std::string_view::npos))
      return false;
  }
  // The server refuses what overflows (numeric field overflow): said here before any write.
  return static_cast<std::int64_t>(whole) <= static_cast<std::int64_t>(*limits.precision) - limits.scale;
}

}  // namespace synctool::connectors::postgres
