// The one table that maps a connection's `type = "..."` to a connector factory.
#pragma once

#include "connectors/connector.hpp"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace synctool::util {
class Clock;
}
namespace synctool::net {
class Redactor;
class TokenCache;
}

namespace synctool::connectors::push {
class PushSpool;
}

namespace synctool::connectors {

// What a factory gets: the connection's settings after ${ENV} interpolation.
struct ConnectionConfig {
  std::string name;              // the [connections.NAME] name, for messages
  std::string type;
  Json settings = Json::object();  // every key of the connection table but `type`
  std::string base_dir;          // folder of synctool.toml; relative paths resolve against it
  const util::Clock* clock = nullptr;
  // Masks secrets in what the connector logs or reports; a connector adds credentials it
  // obtains at run time (refreshed OAuth tokens). May be null.
  net::Redactor* redactor = nullptr;
  // Progress lines for --verbose (already redacted by the connector). May be empty.
  std::function<void(const std::string&)> log;
  // Keeps a refreshed OAuth token between runs (in the sync's state, sealed). May be null.
  net::TokenCache* token_cache = nullptr;
  // Folder of the rate budgets shared with other synctool processes (<state_dir>/.rate);
  // empty: each process paces itself alone.
  std::string rate_dir;
  // Warnings that do not stop anything (a rate budget that cannot be shared). May be empty.
  std::function<void(const std::string&)> warn;
  // A push source's spool in the sync's state (push connections only; null where no sync's state
  // is open, e.g. `synctool check`).
  push::PushSpool* push_spool = nullptr;
};

using ConnectorFactory = std::unique_ptr<Connector> (*)(const ConnectionConfig& config);

// What `synctool init` writes for a connection of this type: TOML lines with comments that say
// what to change. In every text, `{name}` stands for the connection's name and `{ENV}` for the
// prefix of its environment variables (the name in upper case: `${{ENV}_TOKEN}` becomes
// `${HUBSPOT_TOKEN}`). Credentials are always `${VARIABLE}` without a fallback, so that
// `synctool check` names the variable while it is unset.
struct InitTemplate {
  std::string connection{};                 // the keys of [connections.NAME] after `type`
  std::string connection_as_destination{};  // added when the sync writes to it (e.g. create = true)
  std::string object{};                     // a sensible default object
  std::string source_keys{};                // [source] lines after connection and object
  std::string destination_keys{};           // [destination] lines after connection and object
  // The default object's fields for a person: the match key (an email address) and the
  // names, as this type spells them (`email_address`, `merge_fields.FNAME`...).
  std::string email{}, first_name{}, last_name{};
  // Files `init` creates beside synctool.toml so that a project of file-based types runs
  // as generated (a CSV folder with its header row); path relative to the project folder ->
  // content. `{name}` as above.
  std::vector<std::pair<std::string, std::string>> files{};
};

struct ConnectorType {
  const char* type;
  ConnectorFactory make;
  // Keys a connection of this type accepts, and those it requires (for spec validation).
  std::vector<std::string> connection_keys;
  std::vector<std::string> required_connection_keys;
  // Extra keys an endpoint ([source] / [destination]) of this type accepts.
  std::vector<std::string> source_keys;
  std::vector<std::string> destination_keys;
  // Schema management (`manage_schema = "..."` in a sync): the mode's name ("properties",
  // "" when the connector cannot manage schemas), the declared field types it can hold, and
  // a check of a declared field name ("" when fine, else why not).
  std::string schema_mode{};
  std::vector<std::string> schema_types{};
  std::string (*schema_name_problem)(const std::string& name) = nullptr;
  // The scaffold `synctool init TYPE TYPE` writes for it.
  InitTemplate init_template{};
  // synctool can only read it (a push source): never a destination or a bidirectional side.
  bool source_only = false;
};

const std::vector<ConnectorType>& connector_types();
const ConnectorType* find_connector_type(const std::string& type);
// Throws ConnectorError(config) for an unknown type.
std::unique_ptr<Connector> make_connector(const ConnectionConfig& config);

}  // namespace synctool::connectors
