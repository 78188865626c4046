// The spec loader's view of the connector registry: which keys each connection type accepts
// (for spec validation) and every type's name (for "did you mean"). Built here, in the layer
// that knows both, so that neither src/spec nor connectors/ needs to know the other. Depends on
// nothing else of the CLI (the fuzz build links it alone).
#pragma once

#include "spec/loader.hpp"

#include <string>
#include <vector>

namespace synctool::cli {

spec::ConnectorCatalog connector_catalog();
std::vector<std::string> connector_type_names();

}  // namespace synctool::cli
