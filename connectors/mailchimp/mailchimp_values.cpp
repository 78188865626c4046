#include "connectors/mailchimp/mailchimp_values.hpp"

#include "util/clock.hpp"
#include "util/decimal.hpp"
#include "util/hash.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace synctool::connectors::mailchimp {

namespace {

constexpr std::string_view kMergePrefix = "merge_fields.";

std::string scalar_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return util::json_dump(value);
}

std::string shown(const Json& value) {
  std::string text = value.is_string() ? "'" + value.get<std::string>() + "'" : util::json_dump(value);
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

// A number merge field takes a JSON number (or numeric text) and answers it as a JSON number,
// so it holds what a double holds: a value the double cannot hold exactly is refused here
// rather than rounded there. Integers that fit 64 bits go as integers, the rest as doubles.
Json number_value(const MergeField& field, const Json& value, std::string& problem) {
  if (value.is_null()) return "";
  auto refuse = [&](const std::string& why) {
    problem = "merge field " + field.tag + " (number) cannot hold " + shown(value) + ": " + why;
    return Json();
  };
  std::optional<std::string> canonical;
  if (value.is_number_integer() || value.is_number_unsigned()) canonical = value.dump();
  else if (value.is_number_float()) return value;  // a double holds itself
  else if (value.is_string()) {
    const std::string text = util::trim(value.get<std::string>());
    if (text.empty()) return "";
    canonical = util::canonical_decimal(text);
    if (!canonical) return refuse("it is not a number");
  } else {
    return refuse("it is not a number");
  }
  if (!util::double_holds(*canonical))
    return refuse("Mailchimp keeps numbers as doubles (about 15 significant digits), which would round it");
  if (util::is_integral_decimal(*canonical)) {
    std::int64_t whole = 0;
    auto [end, error] = std::from_chars(canonical->data(), canonical->data() + canonical->size(), whole);
    if (error == std::errc() && end == canonical->data() + canonical->size()) return whole;
  }
  // from_chars, not stod: stod throws for subnormal numbers, which a double holds all the same.
  double real = 0;
  std::from_chars(canonical->data(), canonical->data() + canonical->size(), real);
  return real;
}

// Whether month/day (and year, 0 for none) is a day the calendar has; a birthday has no year
// and may be February 29.
bool real_day(int year, int month, int day) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", year == 0 ? 2000 : year, month, day);
  return util::parse_iso8601(text).has_value();
}

// Reads "12/31/2025" as month 12, day 31, year 2025 for the format "MM/DD/YYYY"; false when
// the text does not have the format's shape.
bool read_date(const std::string& text, const std::string& format, int& year, int& month, int& day) {
  if (text.size() != format.size()) return false;
  year = month = day = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    char f = format[i], c = text[i];
    if (f == 'Y' || f == 'M' || f == 'D') {
      if (c < '0' || c > '9') return false;
      int& part = f == 'Y' ? year : f == 'M' ? month : day;
      part = part * 10 + (c - '0');
    } else if (c != f) {
      return false;
    }
  }
  return true;
}

// A date or birthday merge field takes text in ISO form (2025-12-31) or the field's own
// format (MM/DD/YYYY, DD/MM/YYYY, MM/DD, DD/MM). A day the calendar does not have (February
// 30) is refused here, never shifted into the next month.
Json date_value(const MergeField& field, const Json& value, std::string& problem) {
  if (value.is_null()) return "";
  if (!value.is_string()) {
    problem = "merge field " + field.tag + " (" + field.type + ") cannot hold " + shown(value) + ": it is not a date";
    return Json();
  }
  const std::string text = util::trim(value.get<std::string>());
  if (text.empty()) return "";
  int year = 0, month = 0, day = 0;
  bool shaped = false, real = false;
  if (text.size() >= 10 && read_date(text.substr(0, 10), "YYYY-MM-DD", year, month, day)) {
    shaped = true;
    real = util::parse_iso8601(text).has_value();
  } else {
    std::string format = field.date_format;
    if (format.empty()) format = field.type == "birthday" ? "MM/DD" : "MM/DD/YYYY";
    if (read_date(text, format, year, month, day)) shaped = true, real = real_day(year, month, day);
  }
  if (shaped && !real) {
    problem = "merge field " + field.tag + " (" + field.type + ") cannot hold " + shown(value) +
              ": it is not a day the calendar has";
    return Json();
  }
  return text;  // other shapes go as they are: Mailchimp's answer names what it refuses
}

Json to_wire(const MergeField& field, const Json& value, std::string& problem) {
  if (field.type == "number") return number_value(field, value, problem);
  if (field.type == "date" || field.type == "birthday") return date_value(field, value, problem);
  if (field.type == "address") return value.is_null() ? Json("") : value;  // an object or ""
  return scalar_text(value);
}

const MergeField* find_tag(const std::vector<MergeField>& fields, const std::string& tag) {
  for (const auto& field : fields)
    if (field.tag == tag) return &field;
  return nullptr;
}

bool blank(const Json& value) {
  if (value.is_null()) return true;
  if (value.is_string()) return util::trim(value.get<std::string>()).empty();
  return false;
}

}  // namespace

MergeField MergeField::from_json(const Json& definition) {
  MergeField field;
  field.tag = definition.value("tag", "");
  field.name = definition.value("name", field.tag);
  field.type = definition.value("type", "text");
  field.required = definition.value("required", false);
  if (auto options = definition.find("options"); options != definition.end() && options->is_object()) {
    if (auto choices = options->find("choices"); choices != options->end() && choices->is_array())
      for (const auto& choice : *choices)
        if (choice.is_string()) field.choices.push_back(choice.get<std::string>());
    if (auto format = options->find("date_format"); format != options->end() && format->is_string())
      field.date_format = util::to_upper(format->get<std::string>());
  }
  return field;
}

const std::vector<std::string>& writable_member_fields() {
  static const std::vector<std::string> fields = {"email_address", "status", "email_type", "language", "vip"};
  return fields;
}

const std::vector<MemberField>& other_member_fields() {
  static const std::vector<MemberField> fields = {
      {"tags", "json"},          {"last_changed", "datetime"},  {"email_type", "enumeration"},
      {"language", "string"},    {"vip", "bool"},               {"member_rating", "number"},
      {"timestamp_signup", "datetime"}, {"timestamp_opt", "datetime"}, {"ip_signup", "string"},
      {"ip_opt", "string"},      {"source", "string"},          {"unique_email_id", "string"},
      {"web_id", "number"},      {"full_name", "string"},       {"unsubscribe_reason", "string"},
      {"email_client", "string"}, {"tags_count", "number"},     {"contact_id", "string"},
      {"consents_to_one_to_one_messaging", "bool"}, {"interests", "json"}, {"location", "json"},
      {"stats", "json"},         {"marketing_permissions", "json"}, {"last_note", "json"},
  };
  return fields;
}

const std::vector<std::string>& new_member_statuses() {
  static const std::vector<std::string> statuses = {"subscribed", "pending", "unsubscribed", "transactional"};
  return statuses;
}

std::string subscriber_hash(const std::string& email) { return util::md5_hex(util::to_lower(util::trim(email))); }

std::string address_problem(const std::string& email) {
  auto refuse = [&](const std::string& why) { return "'" + email + "' is not an address Mailchimp takes: " + why; };
  auto at = email.find('@');
  if (at == std::string::npos || email.find('@', at + 1) != std::string::npos) return refuse("it needs exactly one '@'");
  if (email.find_first_of(" \t\r\n") != std::string::npos) return refuse("it contains a space");
  const std::string local = email.substr(0, at), domain = email.substr(at + 1);
  if (local.empty() || domain.empty()) return refuse("a part before or after '@' is empty");
  if (email.find("..") != std::string::npos) return refuse("it has two dots in a row");
  if (local.front() == '.' || local.back() == '.') return refuse("its local part starts or ends with a dot");
  auto labels = util::split(domain, '.');
  if (labels.size() < 2) return refuse("its domain has no top-level domain");
  for (const auto& label : labels)
    if (label.empty()) return refuse("its domain has an empty label");
  const std::string tld = util::to_lower(labels.back());
  bool letters = std::all_of(tld.begin(), tld.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || static_cast<unsigned char>(c) >= 0x80;  // IDN top-level domains too
  });
  if (tld.size() < 2 || !letters) return refuse("its top-level domain '." + labels.back() + "' does not exist");
  for (const auto* reserved : {"invalid", "test", "example", "localhost"})
    if (tld == reserved) return refuse("'." + tld + "' is reserved and never delivers");
  // The domains reserved for examples (RFC 2606), and every domain under them: Mailchimp
  // refuses them as "fake or invalid".
  const std::string lower_domain = util::to_lower(domain);
  for (const std::string reserved : {"example.com", "example.org", "example.net"})
    if (lower_domain == reserved || util::ends_with(lower_domain, "." + reserved))
      return refuse("'" + reserved + "' is reserved for examples and never delivers (Mailchimp calls such an address "
                    "fake)");
  return "";
}

std::string mailchimp_time(std::int64_t epoch_ms) {
  std::int64_t seconds = epoch_ms / 1000 - (epoch_ms % 1000 < 0 ? 1 : 0);
  std::string text = util::format_iso8601(seconds * 1000);  // 2025-10-21T15:41:36.000Z
  auto dot = text.find('.');
  if (dot != std::string::npos) text.resize(dot);
  else if (!text.empty() && text.back() == 'Z') text.pop_back();
  return text + "+00:00";
}

std::string synctool_type(const MergeField& field) {
  if (field.type == "number") return "number";
  if (field.type == "radio" || field.type == "dropdown") return "enumeration";
  if (field.type == "address") return "json";
  return "string";
}

Json member_fields(const Json& member) {
  Json fields = Json::object();
  if (!member.is_object()) return fields;
  for (const auto& [key, value] : member.items()) {
    if (key == "_links" || key == "id" || key == "list_id") continue;
    if (key == "tags" && value.is_array()) {
      Json names = Json::array();
      for (const auto& tag : value)
        if (tag.is_object() && tag.contains("name")) names.push_back(tag["name"]);
      fields["tags"] = std::move(names);
      continue;
    }
    fields[key] = value;
  }
  return fields;
}

std::string member_entry(const Json& fields, const std::vector<MergeField>& merge_fields, bool creating,
                         Json& entry, bool& config) {
  config = false;
  entry = Json::object();
  Json given = Json::object();  // merge tag -> value as the engine gave it
  for (const auto& [key, value] : fields.items()) {
    if (key == "merge_fields") {
      if (!value.is_object()) {
        config = true;
        return "'merge_fields' must be written as merge_fields.TAG fields, not as one value";
      }
      for (const auto& [tag, v] : value.items()) given[tag] = v;
    } else if (util::starts_with(key, kMergePrefix)) {
      given[key.substr(kMergePrefix.size())] = value;
    } else if (std::find(writable_member_fields().begin(), writable_member_fields().end(), key) !=
               writable_member_fields().end()) {
      entry[key] = value.is_string() || value.is_boolean() ? value : Json(scalar_text(value));
    } else {
      config = true;
      return "members have no writable field '" + key + "' (write " + util::join(writable_member_fields(), ", ") +
             ", or merge fields as merge_fields.TAG)";
    }
  }

  Json wire = Json::object();
  for (const auto& [tag, value] : given.items()) {
    const MergeField* field = find_tag(merge_fields, tag);
    if (!field) {
      std::vector<std::string> tags;
      for (const auto& f : merge_fields) tags.push_back(f.tag);
      config = true;
      std::string message = "the audience has no merge field '" + tag + "'";
      if (auto hint = util::closest_match(tag, tags); !hint.empty()) message += " (did you mean '" + hint + "'?)";
      return message + "; its merge fields are " + util::join(tags, ", ");
    }
    std::string problem;
    Json converted = to_wire(*field, value, problem);
    if (!problem.empty()) return problem;
    wire[field->tag] = std::move(converted);
  }
  // A required merge field needs a value when the member may be new, and may never be emptied.
  for (const auto& field : merge_fields) {
    if (!field.required) continue;
    auto it = wire.find(field.tag);
    if (it == wire.end() ? creating : blank(*it))
      return "required merge field " + field.tag + " (" + field.name + ") has no value";
  }
  if (!wire.empty()) entry["merge_fields"] = std::move(wire);
  return "";
}

}  // namespace synctool::connectors::mailchimp
