#include "connectors/mailchimp/mailchimp_values.hpp"

#include "util/clock.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cstdlib>

namespace synctool::connectors::mailchimp {

namespace {

constexpr std::string_view kMergePrefix = "merge_fields.";

std::string scalar_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

// A number merge field takes a JSON number; numeric text is converted, other text is sent as
// it is so that Mailchimp's own validation message reaches the report.
Json number_value(const Json& value) {
  if (value.is_number() || value.is_null()) return value.is_null() ? Json("") : value;
  if (!value.is_string()) return value;
  const std::string text = util::trim(value.get<std::string>());
  if (text.empty()) return "";
  char* end = nullptr;
  double parsed = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return value;
  if (text.find_first_of(".eE") == std::string::npos) {
    long long whole = std::strtoll(text.c_str(), &end, 10);
    if (end == text.c_str() + text.size()) return whole;
  }
  return parsed;
}

Json to_wire(const MergeField& field, const Json& value) {
  if (field.type == "number") return number_value(value);
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
  if (auto options = definition.find("options"); options != definition.end() && options->is_object())
    if (auto choices = options->find("choices"); choices != options->end() && choices->is_array())
      for (const auto& choice : *choices)
        if (choice.is_string()) field.choices.push_back(choice.get<std::string>());
  return field;
}

const std::vector<std::string>& writable_member_fields() {
  static const std::vector<std::string> fields = {"email_address", "status", "email_type", "language", "vip"};
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
    wire[field->tag] = to_wire(*field, value);
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
