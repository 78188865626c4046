#include "cli/connector_catalog.hpp"

#include "connectors/registry.hpp"

#include <map>

namespace synctool::cli {

spec::ConnectorCatalog connector_catalog() {
  // Built once from the registry.
  static const std::map<std::string, spec::ConnectorKeys> catalog = [] {
    std::map<std::string, spec::ConnectorKeys> m;
    for (const auto& type : connectors::connector_types())
      m[type.type] = {type.connection_keys, type.required_connection_keys, type.source_keys, type.destination_keys,
                      type.schema_mode, type.schema_types, type.schema_name_problem, type.source_only};
    return m;
  }();
  return [](const std::string& type) -> const spec::ConnectorKeys* {
    auto it = catalog.find(type);
    return it == catalog.end() ? nullptr : &it->second;
  };
}

std::vector<std::string> connector_type_names() {
  std::vector<std::string> names;
  for (const auto& type : connectors::connector_types()) names.emplace_back(type.type);
  return names;
}

}  // namespace synctool::cli
