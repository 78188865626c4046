// HubSpot CRM v3 connector: contacts, companies, deals and custom objects, over the HTTP
// layer in src/net (auth, rate limits, retries). API behaviour: ../shared/API-FACTS.md.
#pragma once

#include "connectors/registry.hpp"

namespace synctool::connectors {

const ConnectorType& hubspot_connector_type();

}  // namespace synctool::connectors
