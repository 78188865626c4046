// Mailchimp Marketing API v3 connector: the members of an audience, over the HTTP layer in
// src/net (auth, connection limit, retries). API behaviour: ../shared/API-FACTS.md.
#pragma once

#include "connectors/registry.hpp"

namespace synctool::connectors {

const ConnectorType& mailchimp_connector_type();

}  // namespace synctool::connectors
