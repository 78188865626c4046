// Salesforce's wire format: records travel as JSON with typed values (numbers, booleans,
// strings; dates as YYYY-MM-DD, datetimes as 2026-01-02T03:04:05.000+0000). These functions
// describe fields (from `describe`), convert values for writing, and quote SOQL.
#pragma once

#include "connectors/connector.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace synctool::connectors::salesforce {

// One field of GET /sobjects/{Type}/describe.
struct Field {
  std::string name;
  std::string type;  // string, email, phone, url, textarea, picklist, multipicklist, boolean,
                     // double, currency, percent, int, long, date, datetime, id, reference...
  bool nillable = true;
  bool createable = false;
  bool updateable = false;
  bool defaulted_on_create = false;
  bool external_id = false;
  bool unique = false;
  std::size_t length = 0;  // text fields: most characters; 0 when the field has no limit
  std::vector<std::string> picklist_values;

  // Needed on create: not nillable, createable, not defaulted (API-FACTS).
  bool required_on_create() const { return !nillable && createable && !defaulted_on_create; }
  static Field from_json(const Json& definition);
};

// The synctool field type (FieldInfo::type) of a Salesforce field.
std::string synctool_type(const Field& field);

// Why `value` cannot be written to `field` ("" when it can): text that is not a number for a
// number field, not a date, not true or false for a boolean, an address Salesforce refuses
// (INVALID_EMAIL_ADDRESS), more characters than the field holds (STRING_TOO_LONG).
std::string value_problem(const Field& field, const Json& value);

// A value as Salesforce takes it for `field`: numeric text as a number, "true"/"false" as a
// boolean, arrays of a multi-select picklist `;`-joined, datetimes as ISO 8601 UTC. Call
// value_problem() first: a value it refuses is passed on as it is.
Json to_wire(const Field& field, const Json& value);

// A record of a query answer without its `attributes`: the fields as they came.
Json record_fields(const Json& record);

// 'text' with backslashes, quotes and control characters escaped for a SOQL string literal.
std::string soql_quote(const std::string& text);
// A SOQL datetime literal (unquoted) of epoch milliseconds, to the second (SOQL has no finer).
std::string soql_datetime(std::int64_t epoch_ms);
// Epoch milliseconds of a Salesforce datetime ("2026-01-02T03:04:05.000+0000", also with
// "Z" or "+00:00"); nothing when it is none.
std::optional<std::int64_t> parse_datetime(const std::string& text);

// "" when `name` can be a field or object API name (letters, digits and underscores, starting
// with a letter, no double or trailing underscore except a `__c`/`__r`-style suffix).
std::string api_name_problem(const std::string& name);

// The 3-character suffix that makes a 15-character id case-safe, and the 18-character form of a
// 15-character id (18-character ids are returned as they are).
std::string case_safe_id(const std::string& id);

}  // namespace synctool::connectors::salesforce
