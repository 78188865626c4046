#include "connectors/settings.hpp"

#include "util/clock.hpp"

namespace synctool::connectors {

ConnectionSettings::ConnectionSettings(const ConnectionConfig& config, std::string vendor)
    : config_(config), vendor_(std::move(vendor)) {}

std::string ConnectionSettings::text(const std::string& key) const {
  auto it = config_.settings.find(key);
  if (it == config_.settings.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

void ConnectionSettings::fail(const std::string& what) const {
  throw ConnectorError(ErrorKind::config, vendor_ + ": connection '" + config_.name + "': " + what);
}

void ConnectionSettings::fail(const std::string& key, const std::string& what) const {
  throw ConnectorError(ErrorKind::config, vendor_ + ": connection '" + config_.name + "': " + what, key);
}

std::int64_t ConnectionSettings::duration_ms(const std::string& key, std::int64_t fallback_ms) const {
  auto it = config_.settings.find(key);
  if (it == config_.settings.end()) return fallback_ms;
  if (it->is_number()) return static_cast<std::int64_t>(it->get<double>() * 1000);
  if (it->is_string())
    if (auto ms = util::parse_duration(it->get<std::string>()); ms && *ms > 0) return *ms;
  fail(key, "'" + key + "' must be a duration such as \"30s\" or \"2m\"");
}

std::int64_t ConnectionSettings::integer(const std::string& key, std::int64_t fallback, std::int64_t low,
                                         std::int64_t high) const {
  auto it = config_.settings.find(key);
  if (it == config_.settings.end()) return fallback;
  std::int64_t value = 0;
  if (it->is_number_integer()) {
    value = it->get<std::int64_t>();
  } else if (it->is_string() && !it->get<std::string>().empty() && it->get<std::string>().size() < 18 &&
             it->get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
    value = std::stoll(it->get<std::string>());
  } else {
    fail(key, "'" + key + "' must be a whole number");
  }
  if (value < low || value > high)
    fail(key, "'" + key + "' must be between " + std::to_string(low) + " and " + std::to_string(high));
  return value;
}

bool ConnectionSettings::flag(const std::string& key, bool fallback) const {
  auto it = config_.settings.find(key);
  if (it == config_.settings.end()) return fallback;
  if (!it->is_boolean()) fail(key, "'" + key + "' must be true or false");
  return it->get<bool>();
}

std::string endpoint_text(const ObjectRef& object, const std::string& key) {
  auto it = object.options.find(key);
  if (it == object.options.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

bool endpoint_flag(const std::string& vendor, const ObjectRef& object, const std::string& key, bool fallback) {
  auto it = object.options.find(key);
  if (it == object.options.end()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  throw ConnectorError(ErrorKind::config, vendor + ": '" + key + "' must be true or false", key);
}

std::int64_t endpoint_duration_ms(const std::string& vendor, const ObjectRef& object, const std::string& key,
                                  std::int64_t fallback_ms) {
  auto text = endpoint_text(object, key);
  if (text.empty()) return fallback_ms;
  if (text == "0" || text == "0s") return 0;
  auto ms = util::parse_duration(text);
  if (!ms)
    throw ConnectorError(ErrorKind::config,
                         vendor + ": '" + key + "' must be a duration such as \"2m\" (got '" + text + "')", key);
  return *ms;
}

}  // namespace synctool::connectors
