// HubSpot's wire format: every property value travels as a string (numbers, booleans,
// dates and `;`-joined multi-select values too). These functions convert between that and
// typed JSON values, guided by the property's definition.
#pragma once

#include "connectors/connector.hpp"

#include <string>
#include <vector>

namespace synctool::connectors::hubspot {

// A property definition from GET /crm/v3/properties/{type}.
struct Property {
  std::string name;
  std::string label;
  std::string type;        // string, number, date, datetime, enumeration, bool
  std::string field_type;  // text, textarea, number, date, select, checkbox, booleancheckbox...
  std::string group;
  bool unique = false;     // hasUniqueValue
  bool read_only = false;  // modificationMetadata.readOnlyValue or calculated
  std::vector<std::string> options;

  bool multi_select() const { return type == "enumeration" && field_type == "checkbox"; }
  static Property from_json(const Json& definition);
};

// Wire value (a string or null) -> typed value: numbers exactly (a JSON integer when it fits
// 64 bits, a JSON double only when the double holds the decimal exactly, else the canonical
// decimal text: "12345678901234567.89" stays those digits), bool as true/false, datetimes as
// ISO 8601 text, dates as YYYY-MM-DD, multi-select as an array of strings. Anything that does
// not parse stays text. `property` may be null (unknown: stays as it is).
Json from_wire(const Property* property, const Json& wire);

// Typed value -> wire text: numbers as their canonical decimal text (never an exponent, never
// a rounded double), booleans "true"/"false", arrays `;`-joined, datetimes as epoch
// milliseconds, dates as midnight UTC in epoch milliseconds, null as "" (which clears the
// property). A value value_problem() refuses is sent as it is (callers check first).
std::string to_wire(const Property* property, const Json& value);

// Why `value` cannot be written to `property` as it is ("" when it can): text that is not a
// number for a number property, not a date (2024-02-30 is none) for a date or datetime, not
// true or false for a bool. "property amount (number) cannot hold 'abc': it is not a number".
std::string value_problem(const Property& property, const Json& value);

// The synctool field type (FieldInfo::type) of a HubSpot property.
std::string synctool_type(const Property& property);

// The HubSpot type and fieldType for a declared synctool field type; false when HubSpot has
// no property type that holds it (json).
bool hubspot_type_for(const std::string& synctool_type, std::string& type, std::string& field_type);

// The schema types HubSpot properties can hold, for spec validation.
const std::vector<std::string>& manageable_types();

// "" when `name` can be a HubSpot property's internal name (lower-case letters, digits and
// underscores, starting with a letter, at most 100 characters); else why not.
std::string property_name_problem(const std::string& name);

}  // namespace synctool::connectors::hubspot
