// Inclusion filters over source records:
//   lifecyclestage = 'customer' and (country in ('DE', 'FR') or score > 10) and phone is not empty
// Operators: = != < > <= >= in, not in, is empty, is not empty, and, or, not, parentheses.
// Literals: 'single' or "double" quoted strings, numbers, true, false, null. Field names are
// dotted paths; quote odd names with backticks (`first name`). Comparison is numeric when both
// sides are numbers (or numeric text), else by text (byte-wise); booleans equal "true"/"false"
// in any case. Keywords are case-insensitive. Strings escape their quote by doubling it ('it''s')
// or with a backslash. A missing field reads as null: `= null` and `!= 'x'` hold for it, while
// < > <= >= never do. `is empty` holds for missing, null, blank text and empty arrays/objects.
// Parentheses and `not` nest at most 200 deep; deeper input is a syntax error, not a crash.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::engine {

class FilterSyntaxError : public std::runtime_error {
 public:
  FilterSyntaxError(int column, const std::string& message) : std::runtime_error(message), column_(column) {}
  int column() const { return column_; }  // 1-based column in the expression text

 private:
  int column_;
};

class Filter {
 public:
  // Throws FilterSyntaxError. An empty or all-blank text matches every record.
  static Filter parse(std::string_view text);
  bool matches(const nlohmann::json& fields) const;
  // True for the empty filter: every record matches without being looked at.
  bool matches_everything() const { return !root_; }
  // Field paths the expression reads, for validation against source.fields.
  const std::vector<std::string>& fields() const { return fields_; }

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::vector<std::string> fields_;
};

}  // namespace synctool::engine
