// Issue 14 item 4, as a property over every connector pair and every declared [schema] type:
// a full run right after an unchanged baseline writes nothing, and after random edits to the
// source an incremental run plus a full run leave the destination equal to the source in one
// canonical form (and that full run writes nothing either).
//
// Each (source system, destination system, type) is a Catch2 section with systems of its own:
// a CSV folder, a SQLite file, a PostgreSQL schema ($SYNCTOOL_TEST_PG_URL; pairs with
// PostgreSQL are left out when it is unset), an in-process HubSpot, Mailchimp or Salesforce
// emulator (Salesforce: a custom object Item__c keyed by an email field Email__c). The
// sync is built in code and run in process through engine::run_sync, as `synctool run` would.
// A failing check names the pair, the type, the record and its values (for a full run that
// writes, every planned update with its old and new value), and the run seed:
// SYNCTOOL_PAIRS_SEED=<n> repeats a run exactly. At the end of each test case an overview lists
// its failing sections, one line per kind of failure with a first example.
#include "conformance/conformance.hpp"
#include "connectors/registry.hpp"
#include "connectors/sqlite/sqlite_db.hpp"
#include "emulators/hubspot/hubspot_emulator.hpp"
#include "emulators/mailchimp/mailchimp_emulator.hpp"
#include "emulators/salesforce/salesforce_emulator.hpp"
#include "engine/compiled_sync.hpp"
#include "engine/runner.hpp"
#include "state/memory_store.hpp"
#include "support/pg_test_server.hpp"
#include "support/temp_dir.hpp"
#include "util/clock.hpp"
#include "util/decimal.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

// The reporter interfaces, for the listener that prints the overview of failing sections.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace synctool::testing {

namespace {

using connectors::Json;
using spec::FieldType;

constexpr std::size_t kRecords = 30;  // per section: every hard case and some random values
constexpr std::size_t kEdits = 6;     // source records changed before the second full run
constexpr const char* kDomain = "fernwood-trading.com";
constexpr const char* kAudience = "pairs";
constexpr std::int64_t kStampBase = 1'767'225'600'000;  // 2026-01-01, the SQL sources' updated_at

// ---------------------------------------------------------------------------------------------
// Systems and types

enum class System { csv, sqlite, postgres, hubspot, mailchimp, salesforce };
constexpr System kSystems[] = {System::csv,     System::sqlite,    System::postgres,
                               System::hubspot, System::mailchimp, System::salesforce};

const char* system_name(System system) {
  switch (system) {
    case System::csv: return "csv";
    case System::sqlite: return "sqlite";
    case System::postgres: return "postgres";
    case System::hubspot: return "hubspot";
    case System::mailchimp: return "mailchimp";
    case System::salesforce: return "salesforce";
  }
  return "?";
}

struct TypeCase {
  FieldType type;
  const char* name;  // as [schema] spells it
  const char* code;  // short, for column names and merge tags (Mailchimp tags have 10 characters at most)
};

const std::vector<TypeCase>& all_types() {
  static const std::vector<TypeCase> types = {
      {FieldType::string, "string", "str"},       {FieldType::number, "number", "num"},
      {FieldType::boolean, "bool", "bool"},       {FieldType::date, "date", "date"},
      {FieldType::datetime, "datetime", "dt"},    {FieldType::email, "email", "email"},
      {FieldType::enumeration, "enumeration", "enum"}, {FieldType::multiselect, "multiselect", "multi"},
      {FieldType::json, "json", "json"},
  };
  return types;
}

const std::vector<std::string> kEnumOptions = {"free", "pro", "enterprise", "Über plan"};
const std::vector<std::string> kMultiOptions = {"alpha", "beta", "gamma", "delta", "épsilon"};

// Whether a system can hold values of a declared type at all (as a source or a destination).
bool holds_type(System system, FieldType type) {
  switch (system) {
    case System::csv:       // every value as text in a cell
    case System::sqlite:    // typed columns, JSON and lists as text
    case System::postgres:  // typed columns: numeric, boolean, date, timestamptz, text[], jsonb
      return true;
    case System::hubspot:
      // Properties hold strings, numbers, booleans, dates, date-times and (multi-)enumerations
      // but no structured value: `json` in HubSpot is a spec error (README, manage_schema).
      return type != FieldType::json;
    case System::mailchimp:
      // Merge fields are text, number, date, dropdown, address...: there is no multi-value
      // merge field and no field for an arbitrary JSON value (an address is the only object).
      // Booleans and date-times go into text merge fields, the usual way to keep them there.
      return type != FieldType::multiselect && type != FieldType::json;
    case System::salesforce:
      // Fields are text, email, picklist, checkbox, number, date, date-time...: none holds an
      // arbitrary JSON value (address and location are fixed compound fields). Salesforce has
      // multi-select picklists, but the emulator this suite runs against defines no
      // `multipicklist` field (its README lists the types it has), so multiselect waits for it.
      return type != FieldType::multiselect && type != FieldType::json;
  }
  return false;
}

// Whether a system can hold "no value" of a type. A Salesforce checkbox is true or false, never
// empty (describe: boolean fields are not nillable; null saves as false), so no Salesforce pair
// has empty booleans: as a source it reads back false; as a destination an empty source value
// is written as null and saved as false, and every full run after plans the update false ->
// null again (the engine compares null and false as different values; a limit of the pair,
// not of the connector, left to the sync's author: `default = false` on the mapping).
bool holds_empty(System system, FieldType type) {
  return !(system == System::salesforce && type == FieldType::boolean);
}

// Whether a destination can hold a nested path ("n_num.value"): a CSV cell or a SQL column
// holds the nested object as JSON text (or jsonb). HubSpot and Salesforce fields are flat; Mailchimp's
// merge fields are nested one level already (merge_fields.TAG), and only its address merge
// field goes deeper.
bool holds_nested(System system) {
  return system == System::csv || system == System::sqlite || system == System::postgres;
}

// Systems whose cells and columns hold a JSON value only as its text.
bool holds_json_as_text(System system) { return system == System::csv || system == System::sqlite; }

std::optional<std::int64_t> int64_of(const std::string& canonical) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(canonical.data(), canonical.data() + canonical.size(), value);
  if (ec != std::errc() || end != canonical.data() + canonical.size()) return std::nullopt;
  return value;
}

// A 64-bit integer or a double holds the canonical decimal exactly.
bool binary_holds(const std::string& canonical) { return int64_of(canonical) || util::double_holds(canonical); }

// Whether a source system keeps this number exactly, so that it may be seeded there: CSV text,
// PostgreSQL numeric and HubSpot's string wire values keep any decimal; SQLite's NUMERIC
// affinity keeps a 64-bit integer or a double; Mailchimp's number merge fields are doubles
// (its connector refuses 9007199254740993, which a double would round), and so are Salesforce's
// number fields (describe type `double`; its connector refuses what a double would round).
bool source_holds_number(System system, const std::string& canonical) {
  if (system == System::sqlite) return binary_holds(canonical);
  if (system == System::mailchimp || system == System::salesforce) return util::double_holds(canonical);
  return true;
}

// Whether a destination may refuse a value (reject or fail the row with its reason) instead of
// holding it: a number that a double cannot hold exactly, where numbers may be binary (a SQLite
// column typed REAL, HubSpot, Mailchimp and Salesforce numbers). A destination may as well hold such a
// number exactly (SQLite keeps 64-bit integers, and any decimal as text); what it must never
// do is bend it, which the content checks catch. Every other refusal fails the pair.
bool may_refuse(System destination, FieldType type, const Json& canonical) {
  if (type != FieldType::number || !canonical.is_string()) return false;
  switch (destination) {
    case System::sqlite:
    case System::hubspot:
    case System::mailchimp:
    case System::salesforce: return !util::double_holds(canonical.get_ref<const std::string&>());
    default: return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The canonical form: one value per meaning, whatever the system's spelling. The test keeps
// its own (it must not trust the engine's comparison it checks).

// Marks a value that is not of its type at all, so that it never equals a good one.
Json unparseable(const Json& value) { return Json{{"$unparseable", value}}; }

std::string plain_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<std::string> number_canonical(const Json& value) {
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) return util::canonical_decimal(value.get<double>());
  if (value.is_string()) return util::canonical_decimal(util::trim(value.get_ref<const std::string&>()));
  return std::nullopt;
}

// Numbers inside a JSON value as their canonical decimals, so that 2.50 equals 2.5.
Json json_canonical(const Json& value) {
  if (value.is_number()) {
    auto canonical = number_canonical(value);
    return Json{{"$number", canonical.value_or(value.dump())}};
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (const auto& item : value) out.push_back(json_canonical(item));
    return out;
  }
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& [key, item] : value.items()) out[key] = json_canonical(item);
    return out;
  }
  return value;
}

std::optional<std::vector<std::string>> multiselect_items(const Json& value) {
  std::vector<std::string> items;
  if (value.is_array()) {
    for (const auto& item : value) {
      if (item.is_structured()) return std::nullopt;
      items.push_back(plain_text(item));
    }
  } else if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    // A list as JSON text (how a cell may hold an array) or `;`-joined.
    if (auto parsed = Json::parse(text, nullptr, false); !parsed.is_discarded() && parsed.is_array())
      return multiselect_items(parsed);
    for (const auto& part : util::split(text, ';'))
      if (auto item = util::trim(part); !item.empty()) items.push_back(item);
  } else {
    return std::nullopt;
  }
  std::sort(items.begin(), items.end());
  return items;
}

// `json_text`: the value is a whole cell or column of a system that holds JSON only as text
// (CSV, SQLite), so text spelling a JSON object or array means that object or array. Elsewhere
// (a jsonb column, a member inside a nested JSON document) a string is a string.
Json canonical(FieldType type, const Json& value, bool json_text = false) {
  if (value.is_null()) return nullptr;
  if (value.is_string() && value.get_ref<const std::string&>().empty()) return nullptr;
  if (type != FieldType::string && value.is_string() && util::trim(value.get_ref<const std::string&>()).empty())
    return nullptr;
  switch (type) {
    case FieldType::string:
    case FieldType::enumeration:
      if (value.is_structured()) return unparseable(value);
      return plain_text(value);
    case FieldType::email:
      if (!value.is_string()) return unparseable(value);
      return util::trim(value.get_ref<const std::string&>());
    case FieldType::number: {
      if (value.is_boolean()) return unparseable(value);
      auto text = number_canonical(value);
      return text ? Json(*text) : unparseable(value);
    }
    case FieldType::boolean: {
      if (value.is_boolean()) return value;
      if (value.is_number_integer()) {
        if (value.get<std::int64_t>() == 1) return true;
        if (value.get<std::int64_t>() == 0) return false;
      }
      if (value.is_string()) {
        auto text = util::to_lower(util::trim(value.get_ref<const std::string&>()));
        if (text == "true" || text == "yes" || text == "1") return true;
        if (text == "false" || text == "no" || text == "0") return false;
      }
      return unparseable(value);
    }
    case FieldType::date: {
      std::optional<std::int64_t> ms;
      if (value.is_string()) ms = util::parse_iso8601(util::trim(value.get_ref<const std::string&>()));
      else if (value.is_number_integer()) ms = value.get<std::int64_t>();
      if (!ms || *ms % 86'400'000 != 0) return unparseable(value);
      return util::format_iso8601(*ms).substr(0, 10);
    }
    case FieldType::datetime: {
      std::optional<std::int64_t> ms;
      if (value.is_string()) ms = util::parse_iso8601(util::trim(value.get_ref<const std::string&>()));
      else if (value.is_number_integer()) ms = value.get<std::int64_t>();
      if (!ms) return unparseable(value);
      return *ms;
    }
    case FieldType::multiselect: {
      auto items = multiselect_items(value);
      if (!items) return unparseable(value);
      if (items->empty()) return nullptr;
      return *items;
    }
    case FieldType::json: {
      if (json_text && value.is_string()) {
        // JSON as text (a CSV cell, a text column) means the value it spells.
        auto parsed = Json::parse(value.get_ref<const std::string&>(), nullptr, false);
        if (!parsed.is_discarded() && parsed.is_structured()) return json_canonical(parsed);
      }
      return json_canonical(value);
    }
  }
  return value;
}

std::string shown(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

// At most `limit` bytes of the text (never cutting a UTF-8 sequence), "..." when cut.
std::string shortened(std::string text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

// The value at a dotted path, descending into JSON text on the way: a CSV cell or a SQL text
// column holding {"value": ...} holds the nested path "column.value".
Json value_at(const Json& record, const std::string& path) {
  Json node = record;
  for (const auto& step : util::split(path, '.')) {
    if (node.is_string()) {
      auto parsed = Json::parse(node.get_ref<const std::string&>(), nullptr, false);
      if (parsed.is_discarded()) return nullptr;
      node = std::move(parsed);
    }
    if (!node.is_object()) return nullptr;
    auto it = node.find(step);
    if (it == node.end()) return nullptr;
    node = *it;
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Values. A generated value is kept as a text source would spell it (null for an empty value):
// numbers as decimal text ("100.10"), booleans as "yes" / "TRUE" / "0"..., date-times as ISO
// 8601 with an offset; a multiselect value is a list in the order the source holds it; a json
// value is the JSON value itself.

std::string text_form(FieldType type, const Json& value) {
  if (value.is_null()) return "";
  if (type == FieldType::multiselect) {
    std::vector<std::string> items;
    for (const auto& item : value) items.push_back(item.get<std::string>());
    return util::join(items, ";");
  }
  if (type == FieldType::json) return value.dump();
  return value.get<std::string>();
}

// The number as a JSON number: an integer when it is one, else the double that holds it.
Json number_json(const std::string& canonical) {
  if (auto whole = int64_of(canonical)) return *whole;
  return std::stod(canonical);
}

bool canonical_bool(const Json& value) { return canonical(FieldType::boolean, value).get<bool>(); }

std::vector<Json> hard_cases(FieldType type) {
  switch (type) {
    case FieldType::string:
      return {"Zoë Ünicode 東京 🎉", "O'Brien; \"Jr.\"", "semi;colon;separated", "comma, and \"quotes\"",
              "line one\nline two", "  padded  ", "007", "2024-02-29", "naïve café", nullptr};
    case FieldType::number:
      return {"12345678901234567.89", "0", "-42", "-0.5", "0.1", "100.10", "9007199254740993", "-0.0",
              "3.14159", "-273.15", "1234567.891", nullptr};
    case FieldType::boolean:
      return {"true", "false", "TRUE", "False", "yes", "no", "1", "0", nullptr};
    case FieldType::date:
      return {"2024-02-29", "2000-02-29", "1969-12-31", "1960-06-15", "2100-02-28", "2023-01-01", nullptr};
    case FieldType::datetime:
      return {"2024-02-29T00:00:00Z",          "2024-02-29T23:30:00+05:30", "2023-12-31T22:15:30.123-08:00",
              "1969-12-31T23:59:59.999Z",      "2024-03-01T00:00:00+14:00", "2024-02-28T23:00:00-01:00",
              "2025-06-30T12:00:00.5+02:00",   nullptr};
    case FieldType::email:
      return {"ann.o'neil+tag@fernwood-trading.com", "Zoë.Ünicode@bücher.de", "  padded@fernwood.io  ",
              "UPPER.Case@Fernwood.IO", nullptr};
    case FieldType::enumeration:
      return {"free", "pro", "enterprise", "Über plan", nullptr};
    case FieldType::multiselect:
      return {Json::array({"beta", "alpha"}),
              Json::array({"épsilon"}),
              Json::array({"gamma", "delta", "alpha", "beta"}),
              Json::array({"alpha", "beta", "gamma", "delta", "épsilon"}),
              Json::array({"delta", "beta"}),
              nullptr};
    case FieldType::json:
      return {Json{{"plan", "pro"}, {"seats", 3}, {"tags", Json::array({"a", "b"})}, {"note", "Zoë; \"quoted\""}},
              Json::array({1, 2.5, "x", true}), Json{{"nested", {{"deep", Json::array({true, false, 0.1})}}}},
              Json{{"amount", -0.5}, {"empty", Json::object()}}, nullptr};
  }
  return {nullptr};
}

class ValueGenerator {
 public:
  ValueGenerator(std::mt19937& rng, FieldType type, System source, System destination)
      : rng_(rng), type_(type), source_(source), destination_(destination) {
    for (auto& value : hard_cases(type))
      if (pair_holds(value)) hard_.push_back(std::move(value));
  }

  // The i-th hard case while there are any, then random values.
  Json value(std::size_t i) { return i < hard_.size() ? hard_[i] : random(); }
  std::size_t hard_count() const { return hard_.size(); }

  // A random value the source can hold: hard cases come up now and then, empty values too.
  Json random() {
    for (;;) {
      Json value = pick(8) == 0 ? Json(nullptr) : pick(4) == 0 ? hard_[pick(hard_.size())] : fresh();
      if (pair_holds(value)) return value;
    }
  }

 private:
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  int between(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }

  // Whether the source can be seeded with the value and both systems can hold it at all.
  bool pair_holds(const Json& value) const {
    if (value.is_null()) return holds_empty(source_, type_) && holds_empty(destination_, type_);
    // Salesforce refuses an address with spaces around it (INVALID_EMAIL_ADDRESS), so it can
    // never hold one as a source. As a destination it must take the address without them.
    if (type_ == FieldType::email && source_ == System::salesforce)
      return util::trim(value.get_ref<const std::string&>()) == value.get_ref<const std::string&>();
    if (type_ != FieldType::number) return true;
    auto canonical = util::canonical_decimal(value.get<std::string>());
    return canonical && source_holds_number(source_, *canonical);
  }

  std::string word() {
    static const std::vector<std::string> words = {"Ada",   "Zoë",    "Ünal",     "東京",   "Øresund", "crème",
                                                   "brûlée", "O'Hara", "naïve",   "São",    "Łódź",    "🎉",
                                                   "plain", "text;",  "\"quoted\"", "comma,"};
    return words[pick(words.size())];
  }

  static std::string two(int n) { return (n < 10 ? "0" : "") + std::to_string(n); }

  std::string date() {
    int year = between(1950, 2060), month = between(1, 12);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = days[month - 1] + (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
    return std::to_string(year) + "-" + two(month) + "-" + two(between(1, last));
  }

  Json fresh() {
    switch (type_) {
      case FieldType::string: {
        std::string text = word();
        for (int n = between(0, 2); n > 0; --n) text += " " + word();
        return text;
      }
      case FieldType::number: {
        std::string text = (pick(3) == 0 ? "-" : "") + std::to_string(between(0, 999999));
        if (pick(2) == 0) text += "." + std::to_string(between(0, 9999));
        return text;
      }
      case FieldType::boolean: {
        static const std::vector<std::string> spellings = {"true", "false", "yes", "no", "1", "0", "TRUE", "FALSE"};
        return spellings[pick(spellings.size())];
      }
      case FieldType::date: return date();
      case FieldType::datetime: {
        static const std::vector<std::string> zones = {"Z", "+00:00", "+05:30", "-08:00", "+14:00", "-03:30", "+01:00"};
        std::string text = date() + "T" + two(between(0, 23)) + ":" + two(between(0, 59)) + ":" + two(between(0, 59));
        if (pick(2) == 0) text += "." + std::to_string(between(100, 999));
        return text + zones[pick(zones.size())];
      }
      case FieldType::email: {
        static const std::vector<std::string> domains = {kDomain, "mail.fernwood.io", "bücher.de"};
        static const std::vector<std::string> names = {"ann", "bo", "Chloé", "dmitri", "Eve", "fatima"};
        return names[pick(names.size())] + "." + std::to_string(between(1, 999)) + "@" + domains[pick(domains.size())];
      }
      case FieldType::enumeration: return kEnumOptions[pick(kEnumOptions.size())];
      case FieldType::multiselect: {
        std::vector<std::string> options = kMultiOptions;
        std::shuffle(options.begin(), options.end(), rng_);
        options.resize(1 + pick(options.size()));
        return options;
      }
      case FieldType::json: {
        Json value = {{"id", between(-1000, 1000)}, {"label", word()}};
        if (pick(2) == 0) value["items"] = Json::array({word(), between(0, 9), pick(2) == 0});
        if (pick(3) == 0) value["ratio"] = between(0, 100) / 4.0;
        return value;
      }
    }
    return nullptr;
  }

  std::mt19937& rng_;
  FieldType type_;
  System source_, destination_;
  std::vector<Json> hard_;
};

// ---------------------------------------------------------------------------------------------
// One section's systems

struct Row {
  std::string key;  // the match key (an email address), lower-case
  Json v;           // the value mapped to the flat destination field
  Json w;           // the value mapped to the nested destination path (when there is one)
};

// Field names of one (source, destination, type) case.
struct Layout {
  TypeCase type;
  bool nested = false;  // the destination holds a nested path: the source has a second field for it
  std::string column_v, column_w;  // source column / property / merge tag / field API names
  std::string source_v, source_w;  // source paths (merge_fields.VNUM for Mailchimp)
  std::string flat;                // destination path of v
  std::string nested_path;         // destination path of w ("n_num.value")

  Layout(System source, System destination, const TypeCase& t) : type(t), nested(holds_nested(destination)) {
    const std::string code = t.code;
    if (source == System::mailchimp) {
      column_v = "V" + util::to_upper(code);
      column_w = "W" + util::to_upper(code);
      source_v = "merge_fields." + column_v;
      source_w = "merge_fields." + column_w;
    } else {
      // Salesforce's custom fields are API names ending in __c.
      const std::string suffix = source == System::salesforce ? "__c" : "";
      source_v = column_v = "v_" + code + suffix;
      source_w = column_w = "w_" + code + suffix;
    }
    flat = destination == System::mailchimp    ? "merge_fields.F" + util::to_upper(code)
           : destination == System::salesforce ? "f_" + code + "__c"
                                                : "f_" + code;
    nested_path = "n_" + code + ".value";
  }
};

std::string sql_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

std::string csv_field(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// A HubSpot property definition for a declared type.
Json hubspot_property(const std::string& name, FieldType type) {
  Json property = {{"name", name}, {"label", name}, {"groupName", "contactinformation"}};
  auto options = [](const std::vector<std::string>& values) {
    Json list = Json::array();
    for (const auto& value : values) list.push_back({{"label", value}, {"value", value}, {"hidden", false}});
    return list;
  };
  switch (type) {
    case FieldType::number: property["type"] = "number", property["fieldType"] = "number"; break;
    case FieldType::boolean: property["type"] = "bool", property["fieldType"] = "booleancheckbox"; break;
    case FieldType::date: property["type"] = "date", property["fieldType"] = "date"; break;
    case FieldType::datetime: property["type"] = "datetime", property["fieldType"] = "date"; break;
    case FieldType::enumeration:
      property["type"] = "enumeration", property["fieldType"] = "select";
      property["options"] = options(kEnumOptions);
      break;
    case FieldType::multiselect:
      property["type"] = "enumeration", property["fieldType"] = "checkbox";
      property["options"] = options(kMultiOptions);
      break;
    default: property["type"] = "string", property["fieldType"] = "text"; break;
  }
  return property;
}

// A Mailchimp merge field for a declared type (booleans and date-times in text fields).
Json mailchimp_merge_field(const std::string& tag, FieldType type) {
  Json field = {{"tag", tag}, {"name", tag}, {"type", "text"}};
  if (type == FieldType::number) field["type"] = "number";
  if (type == FieldType::date) field["type"] = "date";
  if (type == FieldType::enumeration) field["type"] = "dropdown", field["options"] = {{"choices", kEnumOptions}};
  return field;
}

// HubSpot's wire text for a value (null: no value).
Json hubspot_wire(FieldType type, const Json& value) {
  if (value.is_null()) return nullptr;
  switch (type) {
    case FieldType::boolean: return canonical_bool(value) ? "true" : "false";
    case FieldType::datetime: return std::to_string(canonical(type, value).get<std::int64_t>());
    default: return text_form(type, value);
  }
}

// A Mailchimp merge field value (a number merge field takes a number; "" clears).
Json mailchimp_value(FieldType type, const Json& value) {
  if (value.is_null()) return "";
  if (type == FieldType::number) return number_json(canonical(type, value).get<std::string>());
  return text_form(type, value);
}

// A Salesforce custom field (describe's shape, as the emulator's define_field takes it) for a
// declared type. A real org's Number field would need precision 18 and a scale that keeps the
// values' decimals (e.g. Number(18, 6)); the emulator's `double` keeps any double.
Json salesforce_field(const std::string& name, FieldType type) {
  Json field = {{"name", name}, {"label", name}};
  switch (type) {
    case FieldType::number: field["type"] = "double"; break;
    case FieldType::boolean: field["type"] = "boolean"; break;
    case FieldType::date: field["type"] = "date"; break;
    case FieldType::datetime: field["type"] = "datetime"; break;
    case FieldType::email: field["type"] = "email"; break;
    case FieldType::enumeration: {
      field["type"] = "picklist";
      Json values = Json::array();
      for (const auto& value : kEnumOptions) values.push_back({{"value", value}, {"label", value}, {"active", true}});
      field["picklistValues"] = values;
      break;
    }
    default: field["type"] = "string", field["length"] = 255; break;
  }
  return field;
}

// The Salesforce object of the pairs: a custom object keyed by an email field (a custom object
// needs no LastName and has no duplicate rule; its Name defaults to the record's id).
constexpr const char* kSalesforceObject = "Item__c";
constexpr const char* kSalesforceKey = "Email__c";

Json salesforce_key_field() {
  return {{"name", kSalesforceKey}, {"label", kSalesforceKey}, {"type", "email"}, {"externalId", true}, {"unique", true}};
}

// Salesforce's JSON value for a field (null: no value): numbers as JSON numbers, booleans as
// JSON booleans, dates and date-times as ISO 8601 text.
Json salesforce_value(FieldType type, const Json& value) {
  if (value.is_null()) return nullptr;
  if (type == FieldType::number) return number_json(canonical(type, value).get<std::string>());
  if (type == FieldType::boolean) return canonical_bool(value);
  return text_form(type, value);
}

const char* sqlite_column_type(FieldType type) {
  switch (type) {
    case FieldType::number: return "NUMERIC";
    case FieldType::boolean: return "INTEGER";
    default: return "TEXT";
  }
}

// How a SQLite source holds the value: numbers as text for NUMERIC affinity to convert (as an
// import does), booleans as 0/1, lists and JSON as text.
Json sqlite_value(FieldType type, const Json& value) {
  if (value.is_null()) return nullptr;
  if (type == FieldType::boolean) return canonical_bool(value) ? 1 : 0;
  return text_form(type, value);
}

const char* postgres_column_type(FieldType type) {
  switch (type) {
    case FieldType::number: return "numeric";
    case FieldType::boolean: return "boolean";
    case FieldType::date: return "date";
    case FieldType::datetime: return "timestamptz";
    case FieldType::multiselect: return "text[]";
    case FieldType::json: return "jsonb";
    default: return "text";
  }
}

std::string postgres_literal(FieldType type, const Json& value) {
  if (value.is_null()) return "NULL";
  switch (type) {
    case FieldType::number: return sql_quote(value.get<std::string>()) + "::numeric";
    case FieldType::boolean: return canonical_bool(value) ? "true" : "false";
    case FieldType::datetime: return sql_quote(value.get<std::string>()) + "::timestamptz";
    case FieldType::date: return sql_quote(value.get<std::string>()) + "::date";
    case FieldType::multiselect: {
      std::vector<std::string> items;
      for (const auto& item : value) items.push_back(sql_quote(item.get<std::string>()));
      return "ARRAY[" + util::join(items, ", ") + "]::text[]";
    }
    case FieldType::json: return sql_quote(value.dump()) + "::jsonb";
    default: return sql_quote(value.get<std::string>());
  }
}

std::string sql_stamp(std::int64_t n) {
  auto text = util::format_iso8601(kStampBase + n * 1000);
  return text.substr(0, text.size() - 1) + ".000Z";
}

// One side of a pair: the system, its connection and object, and what the test needs to seed
// and change it natively.
class Side {
 public:
  Side(System system, bool source, PgTestSchema* pg) : system_(system), source_(source), pg_(pg) {
    config_.name = source ? "source" : "destination";
    config_.type = system_name(system);
    switch (system) {
      case System::csv:
        dir_ = std::make_unique<TempDir>();
        config_.settings = {{"path", dir_->path().string()}};
        object_ = "people";
        key_field_ = "email";
        break;
      case System::sqlite:
        dir_ = std::make_unique<TempDir>();
        config_.settings = {{"path", (dir_->path() / "people.db").string()}, {"create", true}};
        object_ = "people";
        key_field_ = "email";
        options_ = source ? Json{{"cursor_column", "updated_at"}} : Json{{"create_table", true}};
        break;
      case System::postgres:
        config_.settings = {{"url", pg->url()}, {"schema", pg->name()}};
        object_ = source ? "src_people" : "dst_people";
        key_field_ = "email";
        options_ = source ? Json{{"cursor_column", "updated_at"}} : Json{{"create_table", true}};
        break;
      case System::hubspot: {
        emulators::HubspotEmulatorOptions options;
        options.ten_second_limit = 5000;
        options.search_per_second = 1000;
        hubspot_ = std::make_unique<emulators::HubspotEmulator>(options);
        hubspot_->start();
        // No client-side pacing: the emulator's limits are high.
        config_.settings = {{"token", options.private_app_token},
                            {"base_url", hubspot_->base_url()},
                            {"rate_limit", "100000/10s"}};
        config_.clock = &clock_an_hour_ahead();
        object_ = "contacts";
        key_field_ = "email";
        break;
      }
      case System::mailchimp: {
        emulators::MailchimpEmulatorOptions options;
        mailchimp_ = std::make_unique<emulators::MailchimpEmulator>(options);
        mailchimp_->start();
        config_.settings = {{"api_key", options.api_key}, {"base_url", mailchimp_->base_url()}};
        config_.clock = &clock_an_hour_ahead();
        object_ = "members";
        key_field_ = "email_address";
        options_ = {{"list", kAudience}};
        break;
      }
      case System::salesforce: {
        const emulators::SalesforceEmulatorOptions options;
        salesforce_ = std::make_unique<emulators::SalesforceEmulator>(options);
        salesforce_->start();
        config_.settings = {{"login_url", salesforce_->base_url()},
                            {"client_id", options.client_id},
                            {"client_secret", options.client_secret},
                            {"refresh_token", options.refresh_token}};
        config_.clock = &clock_an_hour_ahead();
        object_ = kSalesforceObject;
        key_field_ = kSalesforceKey;
        break;
      }
    }
  }

  System system() const { return system_; }
  const std::string& object() const { return object_; }
  const Json& options() const { return options_; }
  const std::string& key_field() const { return key_field_; }

  connectors::ObjectRef object_ref() const {
    connectors::ObjectRef ref;
    ref.name = object_;
    ref.options = options_;
    ref.key_field = key_field_;
    ref.destination = !source_;
    return ref;
  }
  // The side's connector, made on first use and kept for the section: every run, read and
  // write of the section goes through it (a PostgreSQL connection costs a SCRAM handshake).
  connectors::Connector& connector() {
    if (!connector_) connector_ = connectors::make_connector(config_);
    return *connector_;
  }

  // Every record as the connector reads it, by lower-cased key.
  std::map<std::string, Json> read_all() {
    std::map<std::string, Json> records;
    connector().read(object_ref(), {}, [&](connectors::Page&& page) {
      for (auto& record : page.records) {
        if (record.deleted) continue;
        auto key = util::to_lower(plain_text(value_at(record.fields, key_field_)));
        records[key] = std::move(record.fields);
      }
    });
    return records;
  }

  // The destination's fields exist before the first run, where the system needs them made.
  void prepare_destination(const Layout& layout) {
    const FieldType type = layout.type.type;
    if (system_ == System::hubspot)
      hubspot_->load_seed({{"properties", {{"contacts", Json::array({hubspot_property(layout.flat, type)})}}}});
    if (system_ == System::mailchimp) {
      const std::string tag = layout.flat.substr(layout.flat.find('.') + 1);  // merge_fields.TAG
      Json list = {{"name", kAudience}, {"merge_fields", Json::array({mailchimp_merge_field(tag, type)})}};
      mailchimp_->load_seed({{"lists", Json::array({list})}});
    }
    if (system_ == System::salesforce)
      salesforce_->define_object(kSalesforceObject, Json::array({salesforce_key_field(), salesforce_field(layout.flat, type)}));
  }

  // Writes the source records the way the system is usually filled: a CSV file, SQL INSERTs,
  // the emulators' seeding API.
  void seed_source(const Layout& layout, const std::vector<Row>& rows) {
    const FieldType type = layout.type.type;
    switch (system_) {
      case System::csv: write_csv(layout, rows); break;
      case System::sqlite: {
        auto db = sqlite_db();
        db->exec("CREATE TABLE people (email TEXT PRIMARY KEY, updated_at TEXT, " + layout.column_v + " " +
                 sqlite_column_type(type) + ", " + layout.column_w + " " + sqlite_column_type(type) + ")");
        db->exec("BEGIN");  // one commit, not one per row
        for (const auto& row : rows) {
          connectors::sqlite::Statement insert(db->get(), "INSERT INTO people VALUES (?, ?, ?, ?)");
          insert.bind(1, row.key);
          insert.bind(2, sql_stamp(0));
          insert.bind(3, sqlite_value(type, row.v));
          insert.bind(4, layout.nested ? sqlite_value(type, row.w) : Json(nullptr));
          insert.run();
        }
        db->exec("COMMIT");
        break;
      }
      case System::postgres: {
        std::string sql = "CREATE TABLE src_people (email text PRIMARY KEY, updated_at timestamptz, " +
                          layout.column_v + " " + postgres_column_type(type) + ", " + layout.column_w + " " +
                          postgres_column_type(type) + ");";
        for (const auto& row : rows)
          sql += "INSERT INTO src_people VALUES (" + sql_quote(row.key) + ", " + sql_quote(sql_stamp(0)) + ", " +
                 postgres_literal(type, row.v) + ", " +
                 (layout.nested ? postgres_literal(type, row.w) : std::string("NULL")) + ");";
        pg_->exec(sql);
        break;
      }
      case System::hubspot: {
        Json properties = Json::array({hubspot_property(layout.column_v, type)});
        if (layout.nested) properties.push_back(hubspot_property(layout.column_w, type));
        Json contacts = Json::array();
        for (const auto& row : rows) {
          Json props = {{"email", row.key}};
          if (!row.v.is_null()) props[layout.column_v] = hubspot_wire(type, row.v);
          if (layout.nested && !row.w.is_null()) props[layout.column_w] = hubspot_wire(type, row.w);
          contacts.push_back({{"properties", props}});
        }
        hubspot_->load_seed({{"properties", {{"contacts", properties}}}, {"objects", {{"contacts", contacts}}}});
        break;
      }
      case System::mailchimp: {
        Json fields = Json::array({mailchimp_merge_field(layout.column_v, type)});
        if (layout.nested) fields.push_back(mailchimp_merge_field(layout.column_w, type));
        Json members = Json::array();
        for (const auto& row : rows) {
          Json merge = {{layout.column_v, mailchimp_value(type, row.v)}};
          if (layout.nested) merge[layout.column_w] = mailchimp_value(type, row.w);
          members.push_back({{"email_address", row.key}, {"status", "subscribed"}, {"merge_fields", merge}});
        }
        mailchimp_->load_seed(
            {{"lists", Json::array({{{"name", kAudience}, {"merge_fields", fields}, {"members", members}}})}});
        break;
      }
      case System::salesforce: {
        Json fields = Json::array({salesforce_key_field(), salesforce_field(layout.column_v, type)});
        if (layout.nested) fields.push_back(salesforce_field(layout.column_w, type));
        Json records = Json::array();
        for (const auto& row : rows) {
          Json record = {{kSalesforceKey, row.key}, {layout.column_v, salesforce_value(type, row.v)}};
          if (layout.nested) record[layout.column_w] = salesforce_value(type, row.w);
          records.push_back(std::move(record));
        }
        salesforce_->load_seed({{"objects", Json::array({{{"name", kSalesforceObject}, {"fields", fields}}})},
                                {"records", {{kSalesforceObject, records}}}});
        break;
      }
    }
  }

  // Changes the given rows at the source as a user or an integration would: the file rewritten,
  // SQL UPDATEs that move updated_at, API writes through the source's own connector.
  void edit_source(const Layout& layout, const std::vector<Row>& rows, const std::vector<std::size_t>& changed) {
    const FieldType type = layout.type.type;
    ++stamp_;
    switch (system_) {
      case System::csv: write_csv(layout, rows); break;
      case System::sqlite: {
        auto db = sqlite_db();
        db->exec("BEGIN");
        for (auto i : changed) {
          connectors::sqlite::Statement update(
              db->get(), "UPDATE people SET updated_at = ?, " + layout.column_v + " = ?, " + layout.column_w +
                             " = ? WHERE email = ?");
          update.bind(1, sql_stamp(stamp_));
          update.bind(2, sqlite_value(type, rows[i].v));
          update.bind(3, layout.nested ? sqlite_value(type, rows[i].w) : Json(nullptr));
          update.bind(4, rows[i].key);
          update.run();
        }
        db->exec("COMMIT");
        break;
      }
      case System::postgres: {
        std::string sql;
        for (auto i : changed)
          sql += "UPDATE src_people SET updated_at = " + sql_quote(sql_stamp(stamp_)) + ", " + layout.column_v +
                 " = " + postgres_literal(type, rows[i].v) + ", " + layout.column_w + " = " +
                 (layout.nested ? postgres_literal(type, rows[i].w) : std::string("NULL")) +
                 " WHERE email = " + sql_quote(rows[i].key) + ";";
        pg_->exec(sql);
        break;
      }
      case System::hubspot:
      case System::mailchimp: {
        std::vector<connectors::WriteOp> ops;
        for (auto i : changed) {
          connectors::WriteOp op;
          op.kind = connectors::OpKind::upsert;
          op.key = rows[i].key;
          op.fields[key_field_] = rows[i].key;
          auto value = [&](const Json& v) {
            // The connector converts to the wire format; a date-time goes as its ISO text.
            if (v.is_null()) return Json(nullptr);
            if (system_ == System::mailchimp) return mailchimp_value(type, v);
            return type == FieldType::multiselect ? v : Json(text_form(type, v));
          };
          op.fields[layout.source_v] = value(rows[i].v);
          if (layout.nested) op.fields[layout.source_w] = value(rows[i].w);
          ops.push_back(std::move(op));
        }
        check_edits(ops);
        break;
      }
      case System::salesforce: {
        // Updates by id (the object has no upsert without an external_id option): the ids
        // looked up by key first, as an integration would.
        std::vector<std::string> keys;
        for (auto i : changed) keys.push_back(rows[i].key);
        std::map<std::string, std::string> ids;
        for (const auto& record : connector().lookup(object_ref(), key_field_, keys))
          ids[util::to_lower(plain_text(record.fields.value(key_field_, Json())))] = record.id;
        std::vector<connectors::WriteOp> ops;
        for (auto i : changed) {
          connectors::WriteOp op;
          op.kind = connectors::OpKind::update;
          op.key = rows[i].key;
          op.id = ids[rows[i].key];
          REQUIRE(!op.id.empty());
          op.fields[layout.source_v] = salesforce_value(type, rows[i].v);
          if (layout.nested) op.fields[layout.source_w] = salesforce_value(type, rows[i].w);
          ops.push_back(std::move(op));
        }
        check_edits(ops);
        break;
      }
    }
  }

 private:
  std::unique_ptr<connectors::sqlite::Database> sqlite_db() const {
    return std::make_unique<connectors::sqlite::Database>((dir_->path() / "people.db").string(),
                                                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000);
  }

  // Writes edits through the source's own connector; every one must succeed.
  void check_edits(const std::vector<connectors::WriteOp>& ops) {
    auto results = connector().write(object_ref(), ops);
    REQUIRE(results.size() == ops.size());
    for (std::size_t k = 0; k < results.size(); ++k) {
      INFO("editing the source record " << ops[k].key << " (" << shown(ops[k].fields) << "): " << results[k].error);
      REQUIRE(results[k].ok);
    }
  }

  void write_csv(const Layout& layout, const std::vector<Row>& rows) const {
    std::ofstream out(dir_->path() / "people.csv", std::ios::binary | std::ios::trunc);
    out << "email," << layout.column_v << (layout.nested ? "," + layout.column_w : "") << "\r\n";
    for (const auto& row : rows) {
      out << csv_field(row.key) << "," << csv_field(text_form(layout.type.type, row.v));
      if (layout.nested) out << "," << csv_field(text_form(layout.type.type, row.w));
      out << "\r\n";
    }
    REQUIRE(out.good());
  }

  System system_;
  bool source_;
  PgTestSchema* pg_;
  connectors::ConnectionConfig config_;
  std::string object_;
  Json options_ = Json::object();
  std::string key_field_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<emulators::HubspotEmulator> hubspot_;
  std::unique_ptr<emulators::MailchimpEmulator> mailchimp_;
  std::unique_ptr<emulators::SalesforceEmulator> salesforce_;
  std::int64_t stamp_ = 0;
  std::unique_ptr<connectors::Connector> connector_;  // after what it talks to: destroyed first
};

// ---------------------------------------------------------------------------------------------
// One (source, destination, type) case

struct Recorder final : engine::PlanObserver {
  std::vector<engine::Action> actions;
  void on_action(const engine::Action& action) override { actions.push_back(action); }
};

bool is_write(const engine::Action& action) {
  return action.kind == engine::Action::Kind::create || action.kind == engine::Action::Kind::update ||
         action.kind == engine::Action::Kind::remove;
}

std::uint64_t base_seed() {
  static const std::uint64_t seed = []() -> std::uint64_t {
    if (const char* text = std::getenv("SYNCTOOL_PAIRS_SEED"); text && *text) return std::stoull(text);
    return static_cast<std::uint64_t>(std::random_device{}());
  }();
  return seed;
}

// One line per failing section of the running test case, printed by PairsSummary when the
// test case ends: the lead's overview of which pair and type fail, and how.
std::vector<std::string>& failing_sections() {
  static std::vector<std::string> sections;
  return sections;
}

class PairCase {
 public:
  PairCase(System source, System destination, const TypeCase& type)
      : layout_(source, destination, type),
        seed_(base_seed() ^ (std::hash<std::string>{}(std::string(system_name(source)) + ">" +
                                                      system_name(destination) + ":" + type.name))),
        rng_(static_cast<std::mt19937::result_type>(seed_)) {
    if (source == System::postgres || destination == System::postgres) pg_ = std::make_unique<PgTestSchema>();
    source_ = std::make_unique<Side>(source, true, pg_.get());
    destination_ = std::make_unique<Side>(destination, false, pg_.get());
    spec_ = std::make_unique<spec::SyncSpec>(make_spec());
    compiled_ = std::make_unique<engine::CompiledSync>(*spec_);
  }

  ~PairCase() {
    if (std::uncaught_exceptions() > 0)
      note("stopped early by a failed REQUIRE or an exception (see its message above)", "");
    if (problems_.empty()) return;
    std::string text = name() + " (SYNCTOOL_PAIRS_SEED=" + std::to_string(base_seed()) + ")";
    for (const auto& problem : problems_)
      text += "\n      " + problem.what + (problem.times > 1 ? " (" + std::to_string(problem.times) + " times)" : "") +
              (problem.example.empty() ? "" : ", e.g. " + problem.example);
    failing_sections().push_back(std::move(text));
  }

  void run() {
    INFO("SYNCTOOL_PAIRS_SEED=" << base_seed() << " (this section's generator seed " << seed_ << ")");
    ValueGenerator values(rng_, layout_.type.type, source_->system(), destination_->system());
    for (std::size_t i = 0; i < kRecords; ++i) {
      std::string key = "p" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "@" + kDomain;
      // w takes the hard cases in reverse order, so that each is also paired with another v.
      Json w = i < values.hard_count() ? values.value(values.hard_count() - 1 - i) : values.random();
      rows_.push_back({key, values.value(i), std::move(w)});
    }
    destination_->prepare_destination(layout_);
    source_->seed_source(layout_, rows_);
    check_source_reads("after seeding");

    // 1. The baseline creates every record, or refuses it for a genuine limit of the destination.
    auto baseline = run_sync(false, nullptr);
    REQUIRE(baseline.kind == engine::RunKind::baseline);
    std::set<std::string> refused = check_refusals("baseline", baseline);
    CHECK(baseline.destination.created + refused.size() == kRecords);
    CHECK(store_->link_count() + refused.size() == kRecords);

    // 2. A full run right after writes nothing, and the destination holds what the source holds
    //    (every hard case among it: the edits below may replace some).
    refused = check_full_run_writes_nothing("the full run right after the baseline", refused);
    check_destination(refused);

    // 3. Random edits, an incremental run, then a full run that again writes nothing, and the
    //    destination holds what the source holds.
    std::vector<std::size_t> order(rows_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng_);
    order.resize(kEdits);
    for (auto i : order) {
      rows_[i].v = values.random();
      if (layout_.nested) rows_[i].w = values.random();
    }
    source_->edit_source(layout_, rows_, order);
    check_source_reads("after the edits");
    auto incremental = run_sync(false, nullptr);
    REQUIRE(incremental.kind == engine::RunKind::incremental);
    refused = check_refusals("incremental run after the edits", incremental);
    refused = check_full_run_writes_nothing("the full run after the edits and an incremental run", refused);
    check_destination(refused);
  }

  std::string name() const {
    return std::string(system_name(source_->system())) + " -> " + system_name(destination_->system()) + ", " +
           layout_.type.name;
  }

 private:
  spec::SyncSpec make_spec() const {
    spec::SyncSpec s;
    s.name = std::string("pairs-") + system_name(source_->system()) + "-" + system_name(destination_->system()) + "-" +
             layout_.type.code;
    s.mode = spec::Mode::upsert;
    s.source = {"source", source_->object(), {}, "", {}, "", source_->options(), {}};
    s.destination = {"destination", destination_->object(), {}, "", {}, "", destination_->options(), {}};
    s.match.source = source_->key_field();
    s.match.destination = destination_->key_field();
    s.match.normalize = {"trim", "lowercase"};
    s.field_map = {{source_->key_field(), destination_->key_field(), {}, {}}, {layout_.source_v, layout_.flat, {}, {}}};
    std::vector<std::string> options;
    if (layout_.type.type == FieldType::enumeration) options = kEnumOptions;
    if (layout_.type.type == FieldType::multiselect) options = kMultiOptions;
    s.schema = {{layout_.flat, layout_.type.type, false, options, {}}};
    if (layout_.nested) {
      s.field_map.push_back({layout_.source_w, layout_.nested_path, {}, {}});
      s.schema.push_back({layout_.nested_path, layout_.type.type, false, options, {}});
    }
    return s;
  }

  engine::RunReport run_sync(bool full, engine::PlanObserver* observer) {
    engine::RunInputs in{*compiled_, source_->connector(), destination_->connector(), *store_, util::system_clock(),
                         scratch_.path(), observer, {}, {}, {}, {}};
    engine::RunOptions options;
    options.full = full;
    auto report = engine::run_sync(in, options);
    INFO("run: " << report.to_json().dump(-1, ' ', false, Json::error_handler_t::replace));
    REQUIRE((report.exit_code == engine::exit_code::ok || report.exit_code == engine::exit_code::rows_failed));
    return report;
  }

  const Row* row_of(const std::string& key) const {
    for (const auto& row : rows_)
      if (row.key == key) return &row;
    return nullptr;
  }

  std::string row_text(const Row& row) const {
    std::string text = layout_.source_v + " = " + shown(row.v);
    if (layout_.nested) text += ", " + layout_.source_w + " = " + shown(row.w);
    return text;
  }

  // Every rejected or failed row of a run must be one the destination may refuse (see
  // may_refuse); returns their keys.
  std::set<std::string> check_refusals(const char* run, const engine::RunReport& report) {
    std::set<std::string> keys;
    auto check = [&](const engine::RowProblem& problem, const char* what) {
      keys.insert(problem.key);
      const Row* row = row_of(problem.key);
      INFO(run << ": " << what << " " << problem.key << " (" << (row ? row_text(*row) : "not a seeded key")
               << "): " << problem.reason);
      const FieldType type = layout_.type.type;
      const System destination = destination_->system();
      bool genuine = row && (may_refuse(destination, type, canonical(type, row->v)) ||
                             (layout_.nested && may_refuse(destination, type, canonical(type, row->w))));
      CHECK(genuine);
      if (!genuine) note(std::string(run) + ": " + what + " for no genuine limit of the destination",
                         problem.key + " (" + (row ? row_text(*row) : "?") + "): " + problem.reason);
      if (genuine) WARN(system_name(destination) << " refused a value it cannot hold: " << row_text(*row) << ": "
                                                 << problem.reason);
    };
    for (const auto& problem : report.rejected) check(problem, "rejected");
    for (const auto& problem : report.failed) check(problem, "failed");
    CHECK(report.rejected.size() == report.destination.rejected + report.source.rejected);
    CHECK(report.failed.size() == report.destination.failed + report.source.failed);
    return keys;
  }

  // A planned write with the source record and, field by field, what it would change.
  std::string describe(const engine::Action& action, const std::string& separator = "\n      ") const {
    std::string text = std::string(engine::to_string(action.kind)) + " " + action.key;
    if (const Row* row = row_of(action.key)) text += " [source " + row_text(*row) + "]";
    for (const auto& change : action.changes)
      text += separator + change.field + ": " + shown(change.old_value) + " -> " + shown(change.new_value);
    if (action.kind == engine::Action::Kind::create) text += separator + "values " + shown(action.values);
    return text;
  }

  // A full run plans no create, update or delete, except tries again of rows that failed
  // before for a genuine limit (they are retried every run by design). One check per kind of
  // write and per destination path, so that a report tells the flat field from the nested
  // path. Returns the keys the run refused.
  std::set<std::string> check_full_run_writes_nothing(const char* what, const std::set<std::string>& refused) {
    Recorder recorder;
    auto report = run_sync(true, &recorder);
    REQUIRE(report.kind == engine::RunKind::full);
    auto refused_now = check_refusals(what, report);
    // "create", "delete", or the path an update changes -> the actions
    std::map<std::string, std::vector<const engine::Action*>> writes;
    for (const auto& action : recorder.actions) {
      if (!is_write(action) || refused.contains(action.key)) continue;
      if (action.kind != engine::Action::Kind::update) {
        writes[engine::to_string(action.kind)].push_back(&action);
        continue;
      }
      for (const auto& change : action.changes) writes[change.field].push_back(&action);
      if (action.changes.empty()) writes["update without changes"].push_back(&action);
    }
    std::vector<std::string> kinds = {"create", "delete", destination_->key_field(), layout_.flat};
    if (layout_.nested) kinds.push_back(layout_.nested_path);
    for (const auto& [kind, list] : writes)
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
    for (const auto& kind : kinds) {
      const auto& list = writes[kind];
      std::string listed;
      for (std::size_t i = 0; i < list.size() && i < 8; ++i) listed += "\n    " + describe(*list[i]);
      if (list.size() > 8) listed += "\n    ... and " + std::to_string(list.size() - 8) + " more";
      INFO(system_name(source_->system()) << " -> " << system_name(destination_->system()) << ", type "
                                          << layout_.type.name << ": " << what << " planned " << list.size() << " "
                                          << (kind == "create" || kind == "delete" ? kind + "(s)"
                                                                                   : "update(s) of " + kind)
                                          << " for " << kRecords << " unchanged records:" << listed);
      CHECK(list.empty());
      if (!list.empty())
        note(std::string(what) + " planned " + std::to_string(list.size()) + " " +
                 (kind == "create" || kind == "delete" ? kind + "(s)" : "update(s) of " + kind),
             shortened(describe(*list.front(), "; "), 240));
    }
    CHECK(report.destination.created + report.destination.updated + report.destination.deleted == 0);
    return refused_now;
  }

  // The source connector reads back what was seeded (values stay exact).
  void check_source_reads(const char* when) {
    const bool json_text = holds_json_as_text(source_->system());
    auto records = source_->read_all();
    CHECK(records.size() == rows_.size());
    const FieldType type = layout_.type.type;
    for (const auto& row : rows_) {
      auto found = records.find(row.key);
      INFO(system_name(source_->system()) << " source, type " << layout_.type.name << ", " << when << ": record "
                                          << row.key);
      REQUIRE(found != records.end());
      auto check = [&](const std::string& path, const Json& seeded) {
        Json read = value_at(found->second, path);
        INFO(path << " seeded " << shown(seeded) << ", read back " << shown(read));
        const bool same = canonical(type, read, json_text) == canonical(type, seeded);
        CHECK(same);
        if (!same)
          note("the source reads back another value at " + path, shown(seeded) + " read back as " + shown(read));
      };
      check(layout_.source_v, row.v);
      if (layout_.nested) check(layout_.source_w, row.w);
    }
  }

  // Every record the destination did not refuse holds the source's values, canonically: the
  // flat field as the system holds a whole value, the nested path as a member of a JSON document.
  void check_destination(const std::set<std::string>& refused) {
    const bool json_text = holds_json_as_text(destination_->system());
    auto records = destination_->read_all();
    const FieldType type = layout_.type.type;
    for (const auto& row : rows_) {
      if (refused.contains(row.key)) continue;
      auto found = records.find(row.key);
      INFO(system_name(source_->system()) << " -> " << system_name(destination_->system()) << ", type "
                                          << layout_.type.name << ": destination record " << row.key);
      REQUIRE(found != records.end());
      {
        Json flat = value_at(found->second, layout_.flat);
        INFO(layout_.flat << ": source " << shown(row.v) << ", destination " << shown(flat));
        const bool same = canonical(type, flat, json_text) == canonical(type, row.v);
        CHECK(same);
        if (!same)
          note("the destination holds another value at " + layout_.flat,
               "source " + shown(row.v) + ", destination " + shown(flat));
      }
      if (layout_.nested) {
        Json nested = value_at(found->second, layout_.nested_path);
        const std::string column = layout_.nested_path.substr(0, layout_.nested_path.find('.'));
        INFO(layout_.nested_path << ": source " << shown(row.w) << ", destination " << shown(nested)
                                 << " (its column: " << shown(found->second.value(column, Json())) << ")");
        const bool same = canonical(type, nested) == canonical(type, row.w);
        CHECK(same);
        if (!same)
          note("the destination holds another value at " + layout_.nested_path,
               "source " + shown(row.w) + ", destination " + shown(nested));
      }
    }
  }

  Layout layout_;
  std::uint64_t seed_;
  std::mt19937 rng_;
  std::unique_ptr<PgTestSchema> pg_;
  std::unique_ptr<Side> source_, destination_;
  std::unique_ptr<spec::SyncSpec> spec_;
  std::unique_ptr<engine::CompiledSync> compiled_;
  std::unique_ptr<state::StateStore> store_ = state::make_memory_store();
  TempDir scratch_;
  std::vector<Row> rows_;
  struct Problem {
    std::string what;
    std::size_t times = 0;
    std::string example;  // the first one
  };
  std::vector<Problem> problems_;  // in the order first seen


  // Counts a kind of failure for the overview, keeping its first example.
  void note(const std::string& what, const std::string& example) {
    auto it = std::find_if(problems_.begin(), problems_.end(), [&](const Problem& p) { return p.what == what; });
    if (it == problems_.end()) it = problems_.insert(problems_.end(), Problem{what, 0, example});
    ++it->times;
  }
};

// Prints the failing sections of each [pairs] test case at its end (Catch reports every failed
// check too, with its context; this is the overview).
class PairsSummary final : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    auto& sections = failing_sections();
    if (!sections.empty()) {
      stream << "\n" << stats.testInfo.name << ": " << sections.size() << " failing section(s)\n";
      for (const auto& section : sections) stream << "  " << section << "\n";
      stream << std::endl;
    }
    sections.clear();
  }
};

bool postgres_available() {
  const char* url = std::getenv("SYNCTOOL_TEST_PG_URL");
  return url && *url;
}

void run_pairs_from(System source) {
  const bool postgres = postgres_available();
  static bool warned = false;
  if (!postgres && !std::exchange(warned, true))
    WARN("pairs with postgres are left out: SYNCTOOL_TEST_PG_URL is unset (scripts/pg-server start DIR prints one)");
  for (System destination : kSystems) {
    if (!postgres && (source == System::postgres || destination == System::postgres)) continue;
    for (const auto& type : all_types()) {
      // A pair is tested for the types both of its systems hold (see holds_type).
      if (!holds_type(source, type.type) || !holds_type(destination, type.type)) continue;
      DYNAMIC_SECTION(system_name(source) << " -> " << system_name(destination) << ", " << type.name) {
        PairCase(source, destination, type).run();
      }
    }
  }
}

}  // namespace

CATCH_REGISTER_LISTENER(PairsSummary)

TEST_CASE("pairs from csv: a full run after an unchanged baseline writes nothing", "[pairs]") {
  run_pairs_from(System::csv);
}

TEST_CASE("pairs from sqlite: a full run after an unchanged baseline writes nothing", "[pairs]") {
  run_pairs_from(System::sqlite);
}

TEST_CASE("pairs from postgres: a full run after an unchanged baseline writes nothing", "[pairs]") {
  if (!postgres_available()) {
    WARN("left out: SYNCTOOL_TEST_PG_URL is unset");
    return;
  }
  run_pairs_from(System::postgres);
}

TEST_CASE("pairs from hubspot: a full run after an unchanged baseline writes nothing", "[pairs]") {
  run_pairs_from(System::hubspot);
}

TEST_CASE("pairs from mailchimp: a full run after an unchanged baseline writes nothing", "[pairs]") {
  run_pairs_from(System::mailchimp);
}

TEST_CASE("pairs from salesforce: a full run after an unchanged baseline writes nothing", "[pairs]") {
  run_pairs_from(System::salesforce);
}

}  // namespace synctool::testing
