#include "connectors/push/push_payload.hpp"

#include "util/json_path.hpp"
#include "util/strings.hpp"
#include "util/unicode.hpp"

#include <algorithm>
#include <utility>

namespace synctool::connectors::push {

namespace {

constexpr std::size_t kMaxIdBytes = 1024;

// A body path split into its steps: "$.data.items[*]" -> {"data", "items"}, each.
struct BodyPath {
  std::vector<std::string> steps;
  bool each = false;
};

std::string body_path_problem(std::string_view path, bool each_allowed, BodyPath* parsed) {
  if (path.empty()) return "the path is empty (\"$\" is the body itself)";
  if (path.front() != '$') return "the path does not start with \"$\" (\"$.events[*]\", \"$\")";
  BodyPath out;
  std::size_t i = 1;
  while (i < path.size()) {
    if (path.substr(i) == "[*]") {
      if (!each_allowed) return "\"[*]\" does not belong here: the path names one value";
      out.each = true;
      break;
    }
    if (path[i] != '.')
      return "unexpected '" + std::string(1, path[i]) + "' at byte " + std::to_string(i) +
             " (steps are \".name\"; only a final \"[*]\" may follow them)";
    const std::size_t start = ++i;
    while (i < path.size() && path[i] != '.' && path[i] != '[' && path[i] != ']') ++i;
    if (i == start) return "an empty name after the '.' at byte " + std::to_string(start - 1);
    out.steps.emplace_back(path.substr(start, i - start));
  }
  if (parsed) *parsed = std::move(out);
  return "";
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string in_quotes(std::string_view text) { return util::squeeze(util::json_dump(Json(std::string(text))), 80); }

std::string shown(const Json& value) { return util::squeeze(util::json_dump(value), 80); }

std::string kind_of(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    default: return "a value of another kind";
  }
}

std::optional<std::string> integer_text(const Json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  return std::nullopt;
}

// Refuses nesting deeper than `max_depth` before nlohmann builds anything. Counts brackets
// outside strings; on text that is JSON up to any point this agrees with the parser there, so
// nothing the parser builds is deeper than what is counted.
void check_depth(std::string_view body, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        throw PayloadError("the body is nested more than " + std::to_string(max_depth) + " levels deep (at byte " +
                           std::to_string(i) + ")");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

// "unexpected end of input; expected ']'" out of nlohmann's message, without its "last read"
// echo of the input (the byte position says where).
std::string parse_reason(const std::string& what) {
  std::string reason = what;
  if (auto id_end = reason.find("] "); reason.starts_with("[json.exception.") && id_end != std::string::npos)
    reason = reason.substr(id_end + 2);
  if (auto dash = reason.find(" - "); dash != std::string::npos) reason = reason.substr(dash + 3);
  if (auto last_read = reason.find("; last read: "); last_read != std::string::npos) {
    auto expected = reason.rfind("; expected ");
    std::string tail = expected != std::string::npos && expected > last_read ? reason.substr(expected) : "";
    reason = reason.substr(0, last_read) + tail;
  }
  return util::squeeze(reason, 160);
}

Json parse_body(std::string_view body, const ParseLimits& limits) {
  if (body.size() > limits.max_body_bytes)
    throw PayloadError("the body is " + std::to_string(body.size()) + " bytes (at most " +
                       std::to_string(limits.max_body_bytes) + " accepted)");
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) throw PayloadError("the body is empty");
  if (auto bad = util::first_invalid_utf8(body))
    throw PayloadError("the body holds invalid UTF-8 at byte " + std::to_string(*bad));
  check_depth(body, limits.max_depth);
  try {
    return Json::parse(body.begin(), body.end());
  } catch (const Json::parse_error& e) {
    const std::size_t at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, body.size());
    throw PayloadError("the body is not JSON: syntax error at byte " + std::to_string(at) +
                       (at == body.size() ? " (its end)" : "") + ": " + parse_reason(e.what()));
  } catch (const Json::exception& e) {
    throw PayloadError("the body is not JSON: " + parse_reason(e.what()));
  }
}

// The step names of `path` up to and including step `count`, for messages: "data.items".
std::string steps_text(const BodyPath& path, std::size_t count) {
  std::vector<std::string> steps(path.steps.begin(), path.steps.begin() + static_cast<std::ptrdiff_t>(count));
  return util::join(steps, ".");
}

// The value a body path names, or nullptr where a step is missing or not an object.
Json* find_in_body(Json& body, const BodyPath& path) {
  Json* node = &body;
  for (const auto& step : path.steps) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(step);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::optional<std::string> delivery_id(Json& body, const PayloadFormat& format, const Headers& headers) {
  if (format.delivery_id.empty()) return std::nullopt;
  std::string id;
  if (format.delivery_id.front() == '$') {
    BodyPath path;
    body_path_problem(format.delivery_id, false, &path);
    const Json* value = find_in_body(body, path);
    if (!value) return std::nullopt;
    const std::string where = "the delivery id at " + in_quotes(format.delivery_id);
    if (value->is_string()) id = value->get<std::string>();
    else if (auto text = integer_text(*value)) id = *text;
    else throw PayloadError(where + " is " + kind_of(*value) + " (" + shown(*value) + "), not a string or an integer");
    if (id.empty()) throw PayloadError(where + " is empty");
    if (id.size() > kMaxIdBytes)
      throw PayloadError(where + " is " + std::to_string(id.size()) + " bytes (at most " +
                         std::to_string(kMaxIdBytes) + ")");
    return id;
  }
  const std::string* value = find_header(headers, format.delivery_id);
  if (!value) return std::nullopt;
  const std::string where = "the " + format.delivery_id + " header";
  if (value->empty()) throw PayloadError(where + " is empty");
  if (value->size() > kMaxIdBytes)
    throw PayloadError(where + " is " + std::to_string(value->size()) + " bytes (at most " +
                       std::to_string(kMaxIdBytes) + ")");
  if (!util::valid_utf8(*value)) throw PayloadError(where + " is not UTF-8");
  return *value;
}

PushRow make_row(Json&& row, std::size_t number, const PayloadFormat& format,
                 const std::vector<std::string>& required_fields) {
  const std::string where = "row " + std::to_string(number);
  if (!row.is_object()) throw PayloadError(where + ": " + kind_of(row) + ", not an object");
  PushRow out;
  const Json* key = util::json_get_path(row, format.key);
  if (!key) throw PayloadError(where + ": no key at " + in_quotes(format.key));
  if (key->is_string()) {
    out.id = key->get<std::string>();
    if (out.id.empty()) throw PayloadError(where + ": the key is empty");
    if (out.id.size() > kMaxIdBytes)
      throw PayloadError(where + ": the key is " + std::to_string(out.id.size()) + " bytes (at most " +
                         std::to_string(kMaxIdBytes) + ")");
  } else if (auto text = integer_text(*key)) {
    out.id = std::move(*text);
  } else {
    throw PayloadError(where + ": the key at " + in_quotes(format.key) + " is " + kind_of(*key) + " (" + shown(*key) +
                       "), not a string or an integer");
  }
  if (!format.tombstone.empty()) {
    const Json* flag = util::json_get_path(row, format.tombstone);
    if (flag && flag->is_boolean()) out.deleted = flag->get<bool>();
    else if (flag && !flag->is_null())
      throw PayloadError(where + " (key " + in_quotes(out.id) + "): " + in_quotes(format.tombstone) + " is " +
                         shown(*flag) + ", not true or false");
  }
  if (!out.deleted)
    for (const auto& field : required_fields)
      if (!util::json_get_path(row, field))
        throw PayloadError(where + " (key " + in_quotes(out.id) + "): no field " + in_quotes(field) +
                           " that the sync reads");
  out.fields = std::move(row);
  return out;
}

void require_well_formed(std::string_view what, const std::string& problem) {
  if (!problem.empty()) throw std::invalid_argument("push payload format: " + std::string(what) + ": " + problem);
}

}  // namespace

std::string rows_path_problem(std::string_view path) { return body_path_problem(path, true, nullptr); }

std::string field_path_problem(std::string_view path) {
  if (path.empty()) return "the path is empty";
  if (path == "$" || path.starts_with("$.") || path.starts_with("$["))
    return "a field path is relative to the row: \"id\", not \"$.id\"";
  std::size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    if ((dot == std::string_view::npos ? path.size() : dot) == start)
      return "an empty name at byte " + std::to_string(start) + " (steps are separated by one '.')";
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

std::string delivery_id_problem(std::string_view text) {
  if (text.empty()) return "";
  if (text.front() == '$') {
    BodyPath path;
    if (auto problem = body_path_problem(text, false, &path); !problem.empty()) return problem;
    if (path.steps.empty()) return "a delivery id path names a value inside the body (\"$.id\"), not the body itself";
    return "";
  }
  for (std::size_t i = 0; i < text.size(); ++i)
    if (!is_token_char(text[i]))
      return "neither a body path (\"$.id\") nor a header name: " +
             (text[i] == ' ' ? std::string("a space") : "'" + std::string(1, text[i]) + "'") + " at byte " +
             std::to_string(i);
  return "";
}

Delivery parse_delivery(std::string_view body, const PayloadFormat& format, const Headers& headers,
                        const std::vector<std::string>& required_fields, const ParseLimits& limits) {
  BodyPath rows_path;
  require_well_formed("rows", body_path_problem(format.rows, true, &rows_path));
  require_well_formed("key", field_path_problem(format.key));
  if (!format.tombstone.empty()) require_well_formed("tombstone", field_path_problem(format.tombstone));
  require_well_formed("delivery_id", delivery_id_problem(format.delivery_id));
  for (const auto& field : required_fields) require_well_formed("field", field_path_problem(field));

  Json document = parse_body(body, limits);
  Delivery delivery;
  delivery.id = delivery_id(document, format, headers);

  const std::string rows_setting = " (rows = " + in_quotes(format.rows) + ")";
  Json* node = &document;
  for (std::size_t i = 0; i < rows_path.steps.size(); ++i) {
    const std::string parent = i == 0 ? "the body" : "the body's " + in_quotes(steps_text(rows_path, i));
    if (!node->is_object()) throw PayloadError(parent + " is " + kind_of(*node) + ", not an object" + rows_setting);
    auto it = node->find(rows_path.steps[i]);
    if (it == node->end()) throw PayloadError(parent + " has no " + in_quotes(rows_path.steps[i]) + rows_setting);
    node = &*it;
  }
  if (!rows_path.each) {
    delivery.rows.push_back(make_row(std::move(*node), 1, format, required_fields));
    return delivery;
  }
  if (!node->is_array()) {
    const std::string what =
        rows_path.steps.empty() ? "the body" : "the body's " + in_quotes(steps_text(rows_path, rows_path.steps.size()));
    throw PayloadError(what + " is " + kind_of(*node) + ", not an array" + rows_setting);
  }
  auto& rows = node->get_ref<Json::array_t&>();
  if (rows.size() > limits.max_rows)
    throw PayloadError("the body holds " + std::to_string(rows.size()) + " rows (at most " +
                       std::to_string(limits.max_rows) + " in one delivery)");
  delivery.rows.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    delivery.rows.push_back(make_row(std::move(rows[i]), i + 1, format, required_fields));
  return delivery;
}

}  // namespace synctool::connectors::push
