// Small pieces several connectors share: per-row write results, values as text and SQL text
// clean-up.
#pragma once

#include "connectors/connector.hpp"
#include "util/decimal.hpp"
#include "util/json_path.hpp"

#include <cctype>
#include <string>

namespace synctool::connectors {

// The row was written; `id` is its native id.
inline WriteResult row_ok(std::string id) {
  WriteResult result;
  result.ok = true;
  result.id = std::move(id);
  return result;
}

// The system refused this row (and only this row) for `message`.
inline WriteResult row_error(std::string message) {
  WriteResult result;
  result.error_kind = ErrorKind::record;
  result.error = std::move(message);
  return result;
}

// A value as the text a file cell or a native id holds: strings as they are, null as "", a
// double as its canonical decimal (1e16 -> "10000000000000000", never "1e+16"), integers,
// booleans, objects and arrays in their JSON form.
inline std::string value_text(const Json& value) {
  if (value.is_number_float())
    if (auto decimal = util::canonical_decimal(value.get<double>())) return *decimal;
  return util::json_to_text(value);
}

// A `query` as a subquery: the semicolons and whitespace a user may end it with removed.
inline std::string strip_trailing_semicolons(std::string sql) {
  while (!sql.empty() && (sql.back() == ';' || std::isspace(static_cast<unsigned char>(sql.back())))) sql.pop_back();
  return sql;
}

}  // namespace synctool::connectors
