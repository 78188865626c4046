#include "util/json_path.hpp"

#include <charconv>
#include <system_error>

namespace synctool::util {

const nlohmann::json* json_get_path(const nlohmann::json& root, std::string_view path) {
  const nlohmann::json* node = &root;
  while (true) {
    if (!node->is_object()) return nullptr;
    auto dot = path.find('.');
    std::string_view step = path.substr(0, dot);
    auto it = node->find(step);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string_view::npos) return node;
    path.remove_prefix(dot + 1);
  }
}

void json_set_path(nlohmann::json& root, std::string_view path, nlohmann::json value) {
  nlohmann::json* node = &root;
  while (true) {
    if (!node->is_object()) *node = nlohmann::json::object();
    auto dot = path.find('.');
    const auto step = path.substr(0, dot);
    // Looked up by view (the object's map compares transparently): a name is copied only
    // when it is new.
    auto& object = node->get_ref<nlohmann::json::object_t&>();
    auto it = object.find(step);
    if (it == object.end()) it = object.emplace(std::string(step), nullptr).first;
    if (dot == std::string_view::npos) {
      it->second = std::move(value);
      return;
    }
    node = &it->second;
    path.remove_prefix(dot + 1);
  }
}

namespace {

bool holds_double(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::number_float: return true;
    case nlohmann::json::value_t::object:
    case nlohmann::json::value_t::array:
      for (const auto& item : value)
        if (holds_double(item)) return true;
      return false;
    default: return false;
  }
}

bool number_char(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'; }

// Rewrites the doubles of dumped JSON text: every number token outside a string that has a
// point or an exponent. Grisu2 text reads back as the very double, so from_chars recovers it.
std::string shorten_doubles(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c, ++i;
      continue;
    }
    if (!number_char(c)) {
      out += c, ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && number_char(text[end])) ++end;
    const std::string_view token(text.data() + i, end - i);
    double value = 0;
    auto parsed = std::from_chars(token.data(), token.data() + token.size(), value);
    char buffer[64];
    std::to_chars_result printed{};
    if (token.find_first_of(".eE") != std::string_view::npos && parsed.ec == std::errc() &&
        parsed.ptr == token.data() + token.size() &&
        (printed = std::to_chars(buffer, buffer + sizeof buffer, value)).ec == std::errc()) {
      const std::string_view shortest(buffer, static_cast<std::size_t>(printed.ptr - buffer));
      out += shortest;
      if (shortest.find_first_of(".e") == std::string_view::npos) out += ".0";  // stays a double
    } else {
      out += token;
    }
    i = end;
  }
  return out;
}

}  // namespace

std::string json_dump(const nlohmann::json& value, int indent) {
  std::string text = value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
  return holds_double(value) ? shorten_doubles(text) : text;
}

std::string json_to_text(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  return json_dump(value);
}

}  // namespace synctool::util
