#include "connectors/sqlite/sqlite_values.hpp"

#include "connectors/connector_helpers.hpp"
#include "util/decimal.hpp"
#include "util/strings.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace synctool::connectors::sqlite {

namespace {

using Json = nlohmann::json;

bool contains(const std::string& upper, const char* part) { return upper.find(part) != std::string::npos; }

std::optional<std::int64_t> int64_of(const std::string& canonical) {
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(canonical.data(), canonical.data() + canonical.size(), number);
  if (ec != std::errc() || end != canonical.data() + canonical.size()) return std::nullopt;
  return number;
}

// Plain decimal integer text ("-42", no sign '+', spaces, leading zeros or exponent) that fits
// 64 bits, without the canonical-decimal round trip: what numeric_text() and int64_of() would
// make of it.
std::optional<std::int64_t> plain_int64(const std::string& text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  // 18 digits always fit; longer ones take the general path.
  if (digits.empty() || digits.size() > 18 || (digits.front() == '0' && digits.size() > 1)) return std::nullopt;
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  std::int64_t number = 0;
  std::from_chars(text.data(), text.data() + text.size(), number);
  return number;
}

// The double that holds the canonical decimal exactly, or nullopt.
std::optional<double> exact_double(const std::string& canonical) {
  if (!util::double_holds(canonical)) return std::nullopt;
  double number = 0;
  auto [end, ec] = std::from_chars(canonical.data(), canonical.data() + canonical.size(), number);
  if (ec != std::errc() || end != canonical.data() + canonical.size()) return std::nullopt;
  return number;
}

// A number, as its canonical decimal: JSON numbers, and text SQLite would take for one.
std::optional<std::string> numeric_text(const Json& value) {
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) return util::canonical_decimal(value.get<double>());
  if (value.is_string()) {
    // SQLite ignores the spaces around a number when it converts text.
    return util::canonical_decimal(util::trim(value.get_ref<const std::string&>()));
  }
  return std::nullopt;
}

}  // namespace

Affinity affinity_of(std::string_view declared) {
  const std::string type = util::to_upper(declared);
  if (contains(type, "INT")) return Affinity::integer;
  if (contains(type, "CHAR") || contains(type, "CLOB") || contains(type, "TEXT")) return Affinity::text;
  if (type.empty() || contains(type, "BLOB")) return Affinity::blob;
  if (contains(type, "REAL") || contains(type, "FLOA") || contains(type, "DOUB")) return Affinity::real;
  return Affinity::numeric;
}

std::string field_type(std::string_view declared) {
  const std::string type = util::to_upper(declared);
  if (contains(type, "BOOL")) return "bool";
  if (contains(type, "DATE") || contains(type, "TIME")) return "datetime";
  if (contains(type, "INT")) return "number";
  if (contains(type, "CHAR") || contains(type, "CLOB") || contains(type, "TEXT")) return "string";
  if (type.empty() || contains(type, "BLOB")) return "unknown";
  return "number";  // REAL, FLOAT, DOUBLE, NUMERIC, DECIMAL: SQLite's numeric affinities
}

std::string column_type_for(const std::string& declared) {
  if (declared == "number") return "NUMERIC";
  if (declared == "bool") return "BOOLEAN";
  return "TEXT";  // string, email, enumeration, date, datetime, multiselect, json
}

bool boolean_column(std::string_view declared) { return contains(util::to_upper(declared), "BOOL"); }

Fit fit(Affinity affinity, const Json& value, Json& converted) {
  auto to = [&](Json number) {
    converted = std::move(number);
    return Fit::converted;
  };
  switch (affinity) {
    case Affinity::blob:
      return Fit::as_is;
    case Affinity::text:
      if (value.is_number_float())
        if (auto decimal = util::canonical_decimal(value.get<double>())) return to(std::move(*decimal));
      return Fit::as_is;
    case Affinity::integer:
    case Affinity::numeric: {
      // Parsed JSON keeps non-negative integers unsigned; beyond int64 they take the general
      // path (a double holds 10000000000000000000 exactly).
      if (value.is_number_unsigned()) {
        auto number = value.get<std::uint64_t>();
        if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return to(static_cast<std::int64_t>(number));
      } else if (value.is_number_integer()) {
        return Fit::as_is;
      }
      if (value.is_number_float() || value.is_boolean()) return Fit::as_is;  // a double SQLite keeps or makes integral
      if (value.is_string())
        if (auto whole = plain_int64(value.get_ref<const std::string&>())) return to(*whole);
      auto decimal = numeric_text(value);
      if (!decimal) return Fit::as_is;  // text that is not a number stays text
      if (util::is_integral_decimal(*decimal))
        if (auto whole = int64_of(*decimal)) return to(*whole);
      if (auto number = exact_double(*decimal)) return to(*number);
      return Fit::refused;
    }
    case Affinity::real: {
      if (value.is_number_float() || value.is_boolean()) return Fit::as_is;
      auto decimal = numeric_text(value);
      if (!decimal) return Fit::as_is;
      if (auto number = exact_double(*decimal)) return to(*number);
      return Fit::refused;
    }
  }
  return Fit::as_is;
}

std::optional<Json> storable(Affinity affinity, const Json& value) {
  Json converted;
  switch (fit(affinity, value, converted)) {
    case Fit::as_is:
      return value;
    case Fit::converted:
      return converted;
    case Fit::refused:
      return std::nullopt;
  }
  return value;
}

std::string cannot_hold(const std::string& column, std::string_view declared, const Json& value) {
  return "column " + column + " (" + (declared.empty() ? std::string("no type") : std::string(declared)) +
         ") cannot hold " + value_text(value) + " exactly";
}

}  // namespace synctool::connectors::sqlite
