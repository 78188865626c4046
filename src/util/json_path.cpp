#include "util/json_path.hpp"

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

std::string json_to_text(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

}  // namespace synctool::util
