// CSV connector: a folder of RFC 4180 files, one object per file (`contacts` = contacts.csv).
#pragma once

#include "connectors/registry.hpp"

namespace synctool::connectors {

const ConnectorType& csv_connector_type();

}  // namespace synctool::connectors
