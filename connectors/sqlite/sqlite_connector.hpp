// SQLite connector: tables (or a SELECT) in one database file.
#pragma once

#include "connectors/registry.hpp"

namespace synctool::connectors {

const ConnectorType& sqlite_connector_type();

}  // namespace synctool::connectors
