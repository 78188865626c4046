// The typed destination schema ([schema] in a sync spec): coerces mapped values to their
// declared types and rejects a row with a reason that names the field.
#pragma once

#include "spec/spec.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace synctool::engine {

class SchemaValidator {
 public:
  explicit SchemaValidator(std::vector<spec::SchemaField> fields);

  // Coerces `record` in place (numeric text -> number, "yes"/"true"/"1" -> true, datetimes
  // -> ISO 8601 UTC, emails trimmed) and returns the first violation as a message such as
  // "field 'age': 'abc' is not a number", or nullopt when the record is valid.
  std::optional<std::string> validate(nlohmann::json& record) const;

  // The same coercions without judging: every declared field whose value coerces takes its
  // canonical form, the rest stay as they are. Applied to what the destination holds before
  // it is compared with what the source maps to, so that both sides compare in one form
  // ("a;b" and ["b", "a"] are one multiselect value, "42" and 42 one number).
  void normalize(nlohmann::json& record) const;

  bool empty() const { return fields_.empty(); }

 private:
  std::vector<spec::SchemaField> fields_;
};

// Whether text looks like an email address (local@domain.tld, no spaces).
bool is_valid_email(const std::string& text);

}  // namespace synctool::engine
