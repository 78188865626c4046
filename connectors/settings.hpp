// Reading a connection's settings and an endpoint's options with errors that name the
// connection and the key: what every connector's constructor and option parsing share.
#pragma once

#include "connectors/connector.hpp"
#include "connectors/registry.hpp"

#include <cstdint>
#include <string>

namespace synctool::connectors {

// A connection's settings (after ${ENV} interpolation), read with clear errors.
class ConnectionSettings {
 public:
  ConnectionSettings(const ConnectionConfig& config, std::string vendor);

  std::string text(const std::string& key) const;  // "" when absent
  // "30s", "2m", or a number of seconds.
  std::int64_t duration_ms(const std::string& key, std::int64_t fallback_ms) const;
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t low, std::int64_t high) const;
  bool flag(const std::string& key, bool fallback) const;
  // Throws ConnectorError(config): "<vendor>: connection '<name>': <what>".
  [[noreturn]] void fail(const std::string& what) const;
  // The same, naming the key at fault (ConnectorError::setting), so `check` can show its line.
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

  const ConnectionConfig& config() const { return config_; }
  // The connection's name, or the vendor's when it has none.
  std::string name() const { return config_.name.empty() ? vendor_ : config_.name; }

 private:
  const ConnectionConfig& config_;
  std::string vendor_;
};

// Endpoint options ([source] / [destination] keys) of an object. Malformed values throw
// ConnectorError(config) naming the key (ConnectorError::setting).
std::string endpoint_text(const ObjectRef& object, const std::string& key);  // "" when absent
bool endpoint_flag(const std::string& vendor, const ObjectRef& object, const std::string& key, bool fallback);
// A duration option such as lookback = "2m"; "0" and "0s" mean none.
std::int64_t endpoint_duration_ms(const std::string& vendor, const ObjectRef& object, const std::string& key,
                                  std::int64_t fallback_ms);

}  // namespace synctool::connectors
