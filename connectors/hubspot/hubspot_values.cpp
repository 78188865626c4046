#include "connectors/hubspot/hubspot_values.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace synctool::connectors::hubspot {

namespace {

bool all_digits(const std::string& text) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<Json> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::int64_t integer = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), integer);
  if (error == std::errc() && end == text.data() + text.size()) return Json(integer);
  char* stop = nullptr;
  double real = std::strtod(text.c_str(), &stop);
  if (stop != text.c_str() + text.size() || !std::isfinite(real)) return std::nullopt;
  for (char c : text)  // strtod also takes hex, "inf" and leading spaces; HubSpot numbers do not
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
      return std::nullopt;
  return Json(real);
}

std::string number_text(const Json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return value.dump();
  double d = value.get<double>();
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return std::to_string(static_cast<std::int64_t>(d));
  return value.dump();
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
    if (auto number = parse_number(text)) return *number;
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
  if (value.is_number()) return number_text(value);
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
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
  return value.dump();  // an object: HubSpot has no structured values, send its JSON text
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
