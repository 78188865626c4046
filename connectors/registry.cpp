#include "connectors/registry.hpp"

#include "connectors/answer_guard.hpp"
#include "connectors/csv/csv_connector.hpp"
#include "connectors/hubspot/hubspot_connector.hpp"
#include "connectors/mailchimp/mailchimp_connector.hpp"
#include "connectors/postgres/postgres_connector.hpp"
#include "connectors/push/push_connector.hpp"
#include "connectors/salesforce/salesforce_connector.hpp"
#include "connectors/sqlite/sqlite_connector.hpp"
#include "util/strings.hpp"

namespace synctool::connectors {

const std::vector<ConnectorType>& connector_types() {
  static const std::vector<ConnectorType> types = {
      csv_connector_type(),
      hubspot_connector_type(),
      mailchimp_connector_type(),
      postgres_connector_type(),
      push_connector_type(),
      salesforce_connector_type(),
      sqlite_connector_type(),
  };
  return types;
}

const ConnectorType* find_connector_type(const std::string& type) {
  for (const auto& entry : connector_types())
    if (type == entry.type) return &entry;
  return nullptr;
}

std::unique_ptr<Connector> make_connector(const ConnectionConfig& config) {
  if (const auto* entry = find_connector_type(config.type)) return guard_answers(entry->make(config));
  std::vector<std::string> known;
  for (const auto& entry : connector_types()) known.emplace_back(entry.type);
  std::string message = "unknown connection type '" + config.type + "'";
  if (!config.name.empty()) message = "connection '" + config.name + "': " + message;
  if (auto hint = util::closest_match(config.type, known); !hint.empty())
    message += " (did you mean '" + hint + "'?)";
  else
    message += " (known types: " + util::join(known, ", ") + ")";
  throw ConnectorError(ErrorKind::config, message);
}

}  // namespace synctool::connectors
