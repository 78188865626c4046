// PostgreSQL connector: tables (or a SELECT) in one database, over libpq.
#pragma once

#include "connectors/registry.hpp"

namespace synctool::connectors {

const ConnectorType& postgres_connector_type();

}  // namespace synctool::connectors
