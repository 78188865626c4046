#include "connectors/salesforce/salesforce_values.hpp"

#include "util/clock.hpp"
#include "util/decimal.hpp"
#include "util/strings.hpp"

#include <cctype>

namespace synctool::connectors::salesforce {

namespace {

bool is_number_type(const std::string& type) {
  return type == "double" || type == "currency" || type == "percent" || type == "int" || type == "long";
}
bool is_text_type(const std::string& type) {
  return type == "string" || type == "email" || type == "phone" || type == "url" || type == "textarea" ||
         type == "picklist" || type == "combobox" || type == "encryptedstring";
}

std::string text_of(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// Characters of UTF-8 text as Salesforce's field lengths count them: UTF-16 code units (Java
// strings), so a character beyond the Basic Multilingual Plane (an emoji) counts twice.
std::size_t utf16_length(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
    if (c >= 0xF0) ++n;  // the lead byte of a 4-byte sequence: a surrogate pair
  }
  return n;
}

// The address shape Salesforce accepts: a local part, one '@', a dotted domain whose last
// label has two or more letters; no spaces.
bool plausible_email(const std::string& text) {
  const auto at = text.find('@');
  if (at == std::string::npos || at == 0 || text.find('@', at + 1) != std::string::npos) return false;
  if (text.find_first_of(" \t\r\n,;<>()[]\\\"") != std::string::npos) return false;
  const std::string domain = text.substr(at + 1);
  const auto dot = domain.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 3 > domain.size() || domain.find("..") != std::string::npos)
    return false;
  for (std::size_t i = dot + 1; i < domain.size(); ++i)
    if (!std::isalpha(static_cast<unsigned char>(domain[i]))) return false;
  return text.front() != '.' && text[at - 1] != '.';
}

}  // namespace

Field Field::from_json(const Json& d) {
  Field f;
  f.name = d.value("name", "");
  f.type = d.value("type", "string");
  f.nillable = d.value("nillable", true);
  f.createable = d.value("createable", false);
  f.updateable = d.value("updateable", false);
  f.defaulted_on_create = d.value("defaultedOnCreate", false);
  f.external_id = d.value("externalId", false);
  f.unique = d.value("unique", false);
  if (auto it = d.find("length"); it != d.end() && it->is_number_integer() && it->get<std::int64_t>() > 0)
    f.length = static_cast<std::size_t>(it->get<std::int64_t>());
  if (auto it = d.find("picklistValues"); it != d.end() && it->is_array())
    for (const auto& v : *it)
      if (v.is_object() && v.value("active", true) && v.contains("value") && v["value"].is_string())
        f.picklist_values.push_back(v["value"].get<std::string>());
  return f;
}

std::string synctool_type(const Field& field) {
  const std::string& t = field.type;
  if (t == "email") return "email";
  if (t == "boolean") return "bool";
  if (is_number_type(t)) return "number";
  if (t == "date") return "date";
  if (t == "datetime") return "datetime";
  if (t == "picklist") return "enumeration";
  if (t == "multipicklist") return "multiselect";
  if (t == "address" || t == "location") return "json";
  if (is_text_type(t) || t == "id" || t == "reference") return "string";
  return "unknown";
}

std::string value_problem(const Field& field, const Json& value) {
  if (value.is_null()) return "";
  const std::string& t = field.type;
  const std::string what = "field " + field.name + " (" + t + ") cannot hold ";
  if (is_number_type(t)) {
    if (value.is_number()) return "";
    // Empty text (an empty cell) is no value: written as null, which clears the field.
    if (value.is_string() && util::trim(value.get<std::string>()).empty()) return "";
    auto canonical = value.is_string() ? util::canonical_decimal(value.get<std::string>()) : std::nullopt;
    if (!canonical) return what + "'" + util::squeeze(text_of(value), 60) + "': it is not a number";
    if ((t == "int" || t == "long") && !util::is_integral_decimal(*canonical))
      return what + "'" + *canonical + "': it is not a whole number";
    if (!util::double_holds(*canonical)) return what + "'" + *canonical + "' exactly";
    return "";
  }
  if (t == "boolean") {
    if (value.is_boolean()) return "";
    // Empty text is no value: written as null, which a checkbox saves as false.
    if (value.is_string() && util::trim(value.get<std::string>()).empty()) return "";
    const std::string text = util::to_lower(text_of(value));
    if (text == "true" || text == "false") return "";
    return what + "'" + util::squeeze(text_of(value), 60) + "': it is not true or false";
  }
  if (t == "date" || t == "datetime") {
    const std::string text = text_of(value);
    if (text.empty() || util::parse_iso8601(text)) return "";
    return what + "'" + util::squeeze(text, 60) + "': it is not a " + (t == "date" ? "date" : "date and time");
  }
  if (t == "email" && value.is_string() && !value.get<std::string>().empty() &&
      !plausible_email(value.get<std::string>()))
    return "INVALID_EMAIL_ADDRESS: " + field.name + ": invalid email address: " + util::squeeze(text_of(value), 80);
  if (field.length > 0 && (is_text_type(t) || t == "multipicklist") && value.is_string()) {
    const std::size_t n = utf16_length(value.get<std::string>());
    if (n > field.length)
      return "STRING_TOO_LONG: " + field.name + " holds at most " + std::to_string(field.length) + " characters, the value has " +
             std::to_string(n);
  }
  return "";
}

Json to_wire(const Field& field, const Json& value) {
  if (value.is_null()) return value;
  const std::string& t = field.type;
  if (is_number_type(t) && value.is_string()) {
    if (util::trim(value.get<std::string>()).empty()) return nullptr;
    auto canonical = util::canonical_decimal(value.get<std::string>());
    if (!canonical) return value;
    if (util::is_integral_decimal(*canonical) && canonical->size() < 19) return Json(std::stoll(*canonical));
    return Json(std::stod(*canonical));
  }
  if (t == "boolean" && value.is_string()) {
    if (util::trim(value.get<std::string>()).empty()) return nullptr;
    const std::string text = util::to_lower(value.get<std::string>());
    if (text == "true" || text == "false") return Json(text == "true");
  }
  if (t == "multipicklist" && value.is_array()) {
    std::string joined;
    for (const auto& item : value) {
      if (!joined.empty()) joined += ';';
      joined += text_of(item);
    }
    return Json(joined);
  }
  if (t == "datetime" && value.is_string()) {
    if (auto ms = util::parse_iso8601(value.get<std::string>())) return Json(util::format_iso8601(*ms));
  }
  if (t == "date" && value.is_string() && value.get<std::string>().size() > 10) {
    if (auto ms = util::parse_iso8601(value.get<std::string>())) return Json(util::format_iso8601(*ms).substr(0, 10));
  }
  if ((is_text_type(t) || t == "id" || t == "reference") && !value.is_string()) return Json(text_of(value));
  return value;
}

Json record_fields(const Json& record) {
  Json fields = Json::object();
  if (!record.is_object()) return fields;
  for (auto it = record.begin(); it != record.end(); ++it)
    if (it.key() != "attributes") fields[it.key()] = it.value();
  return fields;
}

std::string soql_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: out += c;
    }
  }
  return out + "'";
}

std::string soql_datetime(std::int64_t epoch_ms) {
  std::string text = util::format_iso8601(epoch_ms - ((epoch_ms % 1000) + 1000) % 1000);
  // format_iso8601 writes milliseconds ("...:05.000Z"); SOQL literals take whole seconds.
  if (auto dot = text.find('.'); dot != std::string::npos) text = text.substr(0, dot) + "Z";
  return text;
}

std::optional<std::int64_t> parse_datetime(const std::string& text) { return util::parse_iso8601(text); }

std::string api_name_problem(const std::string& name) {
  if (name.empty()) return "an API name cannot be empty";
  if (!std::isalpha(static_cast<unsigned char>(name.front()))) return "'" + name + "' must start with a letter";
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return "'" + name + "' may hold only letters, digits and underscores";
  return "";
}

std::string case_safe_id(const std::string& id) {
  if (id.size() != 15) return id;
  static constexpr const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  std::string suffix;
  for (int block = 0; block < 3; ++block) {
    int bits = 0;
    for (int i = 0; i < 5; ++i) {
      char c = id[static_cast<std::size_t>(block * 5 + i)];
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += kAlphabet[bits];
  }
  return id + suffix;
}

}  // namespace synctool::connectors::salesforce
