// The one table that maps a connection's `type = "..."` to a connector factory.
#pragma once

#include "connectors/connector.hpp"

#include <memory>
#include <string>
#include <vector>

namespace synctool::util {
class Clock;
}

namespace synctool::connectors {

// What a factory gets: the connection's settings after ${ENV} interpolation.
struct ConnectionConfig {
  std::string name;              // the [connections.NAME] name, for messages
  std::string type;
  Json settings = Json::object();  // every key of the connection table but `type`
  std::string base_dir;          // folder of synctool.toml; relative paths resolve against it
  const util::Clock* clock = nullptr;
};

using ConnectorFactory = std::unique_ptr<Connector> (*)(const ConnectionConfig& config);

struct ConnectorType {
  const char* type;
  ConnectorFactory make;
  // Keys a connection of this type accepts, and those it requires (for spec validation).
  std::vector<std::string> connection_keys;
  std::vector<std::string> required_connection_keys;
  // Extra keys an endpoint ([source] / [destination]) of this type accepts.
  std::vector<std::string> source_keys;
  std::vector<std::string> destination_keys;
};

const std::vector<ConnectorType>& connector_types();
const ConnectorType* find_connector_type(const std::string& type);
// Throws ConnectorError(config) for an unknown type.
std::unique_ptr<Connector> make_connector(const ConnectionConfig& config);

}  // namespace synctool::connectors
