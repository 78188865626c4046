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

std::optional<Json> storable(Affinity affinity, const Json& value) {
  switch (affinity) {
    case Affinity::blob:
      return value;
    case Affinity::text:
      if (value.is_number_float())
        if (auto decimal = util::canonical_decimal(value.get<double>())) return Json(*decimal);
      return value;
    case Affinity::integer:
    case Affinity::numeric: {
      if (value.is_number_integer() && !value.is_number_unsigned()) return value;
      if (value.is_number_float() || value.is_boolean()) return value;  // a double SQLite keeps or makes integral
      auto decimal = numeric_text(value);
      if (!decimal) return value;  // text that is not a number stays text
      if (util::is_integral_decimal(*decimal))
        if (auto whole = int64_of(*decimal)) return Json(*whole);
      if (auto number = exact_double(*decimal)) return Json(*number);
      return std::nullopt;
    }
    case Affinity::real: {
      if (value.is_number_float() || value.is_boolean()) return value;
      auto decimal = numeric_text(value);
      if (!decimal) return value;
      if (auto number = exact_double(*decimal)) return Json(*number);
      return std::nullopt;
    }
  }
  return value;
}

std::string cannot_hold(const std::string& column, std::string_view declared, const Json& value) {
  return "column " + column + " (" + (declared.empty() ? std::string("no type") : std::string(declared)) +
         ") cannot hold " + value_text(value) + " exactly";
}

}  // namespace synctool::connectors::sqlite
