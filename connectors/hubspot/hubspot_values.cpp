#include "connectors/hubspot/hubspot_values.hpp"

#include "util/clock.hpp"
#include "util/decimal.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>

namespace synctool::connectors::hubspot {

namespace {

bool all_digits(const std::string& text) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// A number by the value model: a JSON integer when it fits 64 bits, a double only when the
// double holds it exactly, else its canonical decimal text ("12345678901234567.89").
Json exact_number(const std::string& canonical) {
  if (util::is_integral_decimal(canonical)) {
    std::int64_t integer = 0;
    auto [end, error] = std::from_chars(canonical.data(), canonical.data() + canonical.size(), integer);
    if (error == std::errc() && end == canonical.data() + canonical.size()) return Json(integer);
    std::uint64_t unsigned_integer = 0;
    auto [uend, uerror] = std::from_chars(canonical.data(), canonical.data() + canonical.size(), unsigned_integer);
    if (uerror == std::errc() && uend == canonical.data() + canonical.size()) return Json(unsigned_integer);
  }
  if (util::double_holds(canonical)) {
    // from_chars, not stod: stod throws for subnormal numbers, which a double holds all the same.
    double real = 0;
    std::from_chars(canonical.data(), canonical.data() + canonical.size(), real);
    return Json(real);
  }
  return Json(canonical);
}

// HubSpot's numbers are decimal text: digits, an optional sign and fraction, perhaps an
// exponent. Spaces, hex, "inf" and the like are not numbers.
std::optional<std::string> wire_number(const std::string& text) { return util::canonical_decimal(text); }

// The canonical decimal text of a JSON number, never in exponent notation.
std::string number_text(const Json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return value.dump();
  if (auto text = util::canonical_decimal(value.get<double>())) return *text;
  return value.dump();  // not finite: JSON has no such number, so this is never reached
}

constexpr std::int64_t kDayMs = 86'400'000;

}  // namespace

Property Property::from_json(const Json& definition) {
  Property p;
  p.name = definition.value("name", "");
  p.label = definition.value("label", "");
  p.type = definition.value("type", "string");
  p.field_type = definition.value("fieldType", "text");
  p.group = definition.value("groupName", "");
  p.unique = definition.value("hasUniqueValue", false);
  p.read_only = definition.value("calculated", false);
  if (auto it = definition.find("modificationMetadata"); it != definition.end() && it->is_object())
    p.read_only = p.read_only || it->value("readOnlyValue", false);
  if (auto it = definition.find("options"); it != definition.end() && it->is_array())
    for (const auto& option : *it)
      if (option.is_object() && option.contains("value") && option["value"].is_string())
        p.options.push_back(option["value"].get<std::string>());
  return p;
}

Json from_wire(const Property* property, const Json& wire) {
  if (!wire.is_string() || !property) return wire;
  const std::string& text = wire.get_ref<const std::string&>();
  const std::string& type = property->type;
  if (type == "number") {
    if (auto canonical = wire_number(text)) return exact_number(*canonical);
    return text.empty() ? Json(nullptr) : wire;
  }
  if (type == "bool") {
    if (text == "true") return true;
    if (text == "false") return false;
    return text.empty() ? Json(nullptr) : wire;
  }
  if (type == "datetime") {
    if (all_digits(text)) return util::format_iso8601(std::stoll(text));
    return text.empty() ? Json(nullptr) : wire;
  }
  if (type == "date") {
    if (all_digits(text)) return util::format_iso8601(std::stoll(text)).substr(0, 10);
    if (text.size() > 10 && text[10] == 'T') {
      if (auto ms = util::parse_iso8601(text); ms && *ms % kDayMs == 0) return text.substr(0, 10);
    }
    return text.empty() ? Json(nullptr) : wire;
  }
  if (property->multi_select()) {
    if (text.empty()) return Json(nullptr);
    Json values = Json::array();
    for (auto& part : util::split(text, ';'))
      if (!part.empty()) values.push_back(part);
    return values;
  }
  return wire;
}

std::string to_wire(const Property* property, const Json& value) {
  if (value.is_null()) return "";
  std::string type = property ? property->type : "";
  if (value.is_array()) {
    std::vector<std::string> parts;
    for (const auto& item : value) parts.push_back(item.is_string() ? item.get<std::string>() : to_wire(nullptr, item));
    return util::join(parts, ";");
  }
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (type == "bool" && value.is_number_integer() && (value.get<std::int64_t>() == 0 || value.get<std::int64_t>() == 1))
    return value.get<std::int64_t>() == 1 ? "true" : "false";
  if (value.is_number()) return number_text(value);
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (type == "number") {
      if (auto canonical = util::canonical_decimal(util::trim(text))) return *canonical;
    }
    if (type == "datetime" && !all_digits(text)) {
      if (auto ms = util::parse_iso8601(text)) return std::to_string(*ms);
    }
    if (type == "date" && !all_digits(text)) {
      if (auto ms = util::parse_iso8601(text)) return std::to_string(*ms - ((*ms % kDayMs) + kDayMs) % kDayMs);
    }
    if (type == "bool") {
      auto lower = util::to_lower(util::trim(text));
      if (lower == "true" || lower == "1" || lower == "yes") return "true";
      if (lower == "false" || lower == "0" || lower == "no") return "false";
    }
    return text;
  }
  return util::json_dump(value);  // an object: HubSpot has no structured values, send its JSON text
}

std::string value_problem(const Property& property, const Json& value) {
  if (value.is_null()) return "";
  auto refuse = [&](const std::string& why) {
    std::string shown = value.is_string() ? "'" + value.get<std::string>() + "'" : util::json_dump(value);
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    return "property " + property.name + " (" + property.type + ") cannot hold " + shown + ": " + why;
  };
  const std::string text = value.is_string() ? util::trim(value.get<std::string>()) : std::string();
  if (value.is_string() && text.empty()) return "";  // clears the property
  const std::string& type = property.type;
  if (type == "number") {
    if (value.is_number()) return "";
    if (!value.is_string() || !util::canonical_decimal(text)) return refuse("it is not a number");
    return "";
  }
  if (type == "date" || type == "datetime") {
    // Epoch milliseconds; a date property holds days, given as midnight UTC.
    std::optional<std::int64_t> epoch_ms;
    if (value.is_number_integer()) epoch_ms = value.get<std::int64_t>();
    else if (value.is_string() && all_digits(text)) epoch_ms = std::stoll(text);
    else if (!value.is_string()) return refuse("it is not a date");
    if (epoch_ms) {
      if (type == "date" && *epoch_ms % kDayMs != 0) return refuse("it is not midnight UTC (a date property holds days)");
      return "";
    }
    if (util::parse_iso8601(text)) return "";
    return refuse(type == "date" ? "it is not a date such as 2025-01-31 (or not a day the calendar has)"
                                 : "it is not a date and time such as 2025-01-31T09:30:00Z (or not a day the "
                                   "calendar has)");
  }
  if (type == "bool") {
    if (value.is_boolean()) return "";
    auto lower = util::to_lower(text);
    if (value.is_string() && (lower == "true" || lower == "1" || lower == "yes" || lower == "false" ||
                              lower == "0" || lower == "no"))
      return "";
    if (value.is_number_integer() && (value.get<std::int64_t>() == 0 || value.get<std::int64_t>() == 1)) return "";
    return refuse("it is not true or false");
  }
  return "";
}

std::string synctool_type(const Property& property) {
  if (property.type == "number") return "number";
  if (property.type == "bool") return "bool";
  if (property.type == "date") return "date";
  if (property.type == "datetime") return "datetime";
  if (property.type == "enumeration") {
    if (property.field_type == "booleancheckbox") return "bool";
    return property.multi_select() ? "multiselect" : "enumeration";
  }
  if (property.name == "email") return "email";
  return "string";
}

bool hubspot_type_for(const std::string& synctool, std::string& type, std::string& field_type) {
  if (synctool == "string" || synctool == "email") type = "string", field_type = "text";
  else if (synctool == "number") type = "number", field_type = "number";
  else if (synctool == "bool") type = "bool", field_type = "booleancheckbox";
  else if (synctool == "date") type = "date", field_type = "date";
  else if (synctool == "datetime") type = "datetime", field_type = "date";
  else if (synctool == "enumeration") type = "enumeration", field_type = "select";
  else if (synctool == "multiselect") type = "enumeration", field_type = "checkbox";
  else return false;
  return true;
}

const std::vector<std::string>& manageable_types() {
  static const std::vector<std::string> types = {"string", "number",      "bool",       "date",
                                                 "datetime", "email",     "enumeration", "multiselect"};
  return types;
}

std::string property_name_problem(const std::string& name) {
  if (name.empty()) return "a HubSpot property needs a name";
  if (name.size() > 100) return "HubSpot property names have at most 100 characters";
  if (!(name[0] >= 'a' && name[0] <= 'z'))
    return "HubSpot property names start with a lower-case letter ('" + name + "' does not)";
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return "HubSpot property names hold only lower-case letters, digits and underscores ('" + name + "' does not)";
  return "";
}

}  // namespace synctool::connectors::hubspot
