#include "engine/schema.hpp"

#include "engine/values.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

namespace synctool::engine {

namespace {

using spec::FieldType;

// Epoch milliseconds accepted for datetimes: years 0001 to 9999, the range ISO 8601 text covers.
constexpr double kMinEpochMs = -62135596800000.0;
constexpr double kMaxEpochMs = 253402300799999.0;

bool is_blank(const nlohmann::json* v) {
  if (!v || v->is_null()) return true;
  return v->is_string() && util::trim(v->get_ref<const std::string&>()).empty();
}

// The offending value for a message, cut short so a huge cell cannot flood the report.
std::string shown(const nlohmann::json& value) {
  constexpr std::size_t kMax = 80;
  std::string text = value_text(value);
  std::size_t cut = text.size();
  if (cut > kMax) {
    cut = kMax;
    // Do not split a UTF-8 sequence: back up over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out = "'";
  out.append(text, 0, cut);
  out += cut < text.size() ? "...'" : "'";
  return out;
}

std::string problem(const spec::SchemaField& field, const nlohmann::json& value, const std::string& what) {
  return "field '" + field.name + "': " + shown(value) + " " + what;
}

const char* kind_name(const nlohmann::json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  return "a value";
}

std::optional<bool> parse_bool_text(const std::string& text) {
  std::string t = util::to_lower(util::trim(text));
  if (t == "true" || t == "yes" || t == "1" || t == "y") return true;
  if (t == "false" || t == "no" || t == "0" || t == "n") return false;
  return std::nullopt;
}

// Each coercion returns the converted value or an error message.
struct Outcome {
  nlohmann::json value;
  std::optional<std::string> error;
};

Outcome ok(nlohmann::json v) { return {std::move(v), std::nullopt}; }
Outcome bad(std::string message) { return {nullptr, std::move(message)}; }

Outcome to_string_type(const spec::SchemaField& f, const nlohmann::json& v) {
  if (v.is_string()) return ok(v);
  if (v.is_structured()) return bad("field '" + f.name + "': expected text, got " + kind_name(v));
  // A number as its plain decimal digits ("10000000000000000", never "1e+16").
  if (auto digits = decimal_text(v)) return ok(std::move(*digits));
  return ok(value_text(v));
}

// Exact: numeric text keeps every digit (values.hpp, exact_number).
Outcome to_number(const spec::SchemaField& f, const nlohmann::json& v) {
  if (v.is_number()) return ok(v);
  if (v.is_string()) {
    if (auto n = exact_number(util::trim(v.get_ref<const std::string&>()))) return ok(std::move(*n));
  }
  return bad(problem(f, v, "is not a number"));
}

Outcome to_bool(const spec::SchemaField& f, const nlohmann::json& v) {
  if (v.is_boolean()) return ok(v);
  if (v.is_number()) {
    auto order = compare_numbers(v, nlohmann::json(1));
    if (order == std::partial_ordering::equivalent) return ok(true);
    order = compare_numbers(v, nlohmann::json(0));
    if (order == std::partial_ordering::equivalent) return ok(false);
  }
  if (v.is_string()) {
    if (auto b = parse_bool_text(v.get_ref<const std::string&>())) return ok(*b);
  }
  return bad(problem(f, v, "is not a boolean (true/false, yes/no, 1/0)"));
}

Outcome to_datetime(const spec::SchemaField& f, const nlohmann::json& v) {
  if (v.is_string()) {
    if (auto ms = util::parse_iso8601(util::trim(v.get_ref<const std::string&>())))
      return ok(util::format_iso8601(*ms));
  } else if (v.is_number()) {
    // Epoch milliseconds, as many APIs (HubSpot among them) send timestamps.
    double d = v.get<double>();
    if (std::isfinite(d) && d >= kMinEpochMs && d <= kMaxEpochMs)
      return ok(util::format_iso8601(v.is_number_float() ? std::llround(d) : v.get<std::int64_t>()));
  }
  return bad(problem(f, v, "is not an ISO 8601 date or date-time"));
}

Outcome to_email(const spec::SchemaField& f, const nlohmann::json& v) {
  if (v.is_string()) {
    std::string text = util::trim(v.get_ref<const std::string&>());
    if (is_valid_email(text)) return ok(std::move(text));
  }
  return bad(problem(f, v, "is not a valid email address"));
}

Outcome to_enumeration(const spec::SchemaField& f, const nlohmann::json& v) {
  if (!v.is_structured()) {
    std::string text = value_text(v);
    for (const auto& option : f.options)
      if (option == text) return ok(std::move(text));
  }
  return bad(problem(f, v, "is not one of: " + util::join(f.options, ", ")));
}

Outcome to_date(const spec::SchemaField& f, const nlohmann::json& v) {
  if (v.is_string()) {
    std::string text = util::trim(v.get_ref<const std::string&>());
    // A date, or a date-time exactly at midnight UTC (how many systems export dates).
    if (auto ms = util::parse_iso8601(text); ms && (text.size() == 10 || *ms % 86'400'000 == 0))
      return ok(util::format_iso8601(*ms).substr(0, 10));
  }
  return bad(problem(f, v, "is not a date (YYYY-MM-DD)"));
}

// A set of option values: an array, JSON array text (how SQL and CSV destinations keep one),
// or text joined with ';' (HubSpot's and most exports' way). Kept sorted and without repeats,
// the one form in which two systems' copies of a set compare equal whatever their order.
Outcome to_multiselect(const spec::SchemaField& f, const nlohmann::json& v) {
  std::vector<std::string> values;
  auto add_items = [&](const nlohmann::json& array) {
    for (const auto& item : array) {
      if (item.is_structured()) return false;
      values.push_back(value_text(item));
    }
    return true;
  };
  if (v.is_array()) {
    if (!add_items(v)) return bad(problem(f, v, "is not a list of values"));
  } else if (v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    auto start = text.find_first_not_of(" \t\r\n");
    nlohmann::json array;
    if (start != std::string::npos && text[start] == '[') array = nlohmann::json::parse(text, nullptr, false);
    if (array.is_array()) {
      if (!add_items(array)) return bad(problem(f, v, "is not a list of values"));
    } else {
      for (auto& part : util::split(text, ';'))
        if (auto value = util::trim(part); !value.empty()) values.push_back(std::move(value));
    }
  } else {
    return bad(problem(f, v, "is not a list of values"));
  }
  for (const auto& value : values)
    if (std::find(f.options.begin(), f.options.end(), value) == f.options.end())
      return bad(problem(f, nlohmann::json(value), "is not one of: " + util::join(f.options, ", ")));
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return ok(nlohmann::json(values));
}

// Any value; text that holds a JSON object or array is that object or array, the one form in
// which a document kept as text (a CSV cell, a TEXT column) and one kept as JSON (jsonb)
// compare equal.
Outcome to_json_value(const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    auto start = text.find_first_not_of(" \t\r\n");
    if (start != std::string::npos && (text[start] == '{' || text[start] == '[')) {
      auto parsed = nlohmann::json::parse(text, nullptr, false);
      if (!parsed.is_discarded()) return ok(std::move(parsed));
    }
  }
  return ok(v);
}

Outcome coerce(const spec::SchemaField& f, const nlohmann::json& v) {
  switch (f.type) {
    case FieldType::string: return to_string_type(f, v);
    case FieldType::number: return to_number(f, v);
    case FieldType::boolean: return to_bool(f, v);
    case FieldType::datetime: return to_datetime(f, v);
    case FieldType::email: return to_email(f, v);
    case FieldType::enumeration: return to_enumeration(f, v);
    case FieldType::date: return to_date(f, v);
    case FieldType::multiselect: return to_multiselect(f, v);
    case FieldType::json: return to_json_value(v);
  }
  return ok(v);
}

}  // namespace

SchemaValidator::SchemaValidator(std::vector<spec::SchemaField> fields) : fields_(std::move(fields)) {}

std::optional<std::string> SchemaValidator::validate(nlohmann::json& record) const {
  for (const auto& field : fields_) {
    const nlohmann::json* value = util::json_get_path(record, field.name);
    if (is_blank(value)) {
      if (field.required) return "field '" + field.name + "' is required but empty";
      continue;  // an empty optional field has no type to check
    }
    Outcome outcome = coerce(field, *value);
    if (outcome.error) return outcome.error;
    util::json_set_path(record, field.name, std::move(outcome.value));
  }
  return std::nullopt;
}

void SchemaValidator::normalize(nlohmann::json& record) const {
  for (const auto& field : fields_) {
    const nlohmann::json* value = util::json_get_path(record, field.name);
    if (is_blank(value)) continue;
    Outcome outcome = coerce(field, *value);
    if (!outcome.error) util::json_set_path(record, field.name, std::move(outcome.value));
  }
}

bool is_valid_email(const std::string& text) {
  if (text.empty() || text.size() > 254) return false;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;  // whitespace and control characters
  }
  auto at = text.find('@');
  if (at == std::string::npos || text.find('@', at + 1) != std::string::npos) return false;
  std::string_view local(text.data(), at);
  std::string_view domain(text.data() + at + 1, text.size() - at - 1);
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  if (domain.find('.') == std::string_view::npos) return false;
  for (const auto& label : util::split(domain, '.'))
    if (label.empty()) return false;
  return true;
}

}  // namespace synctool::engine
