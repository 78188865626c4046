// Push connector: a source whose rows arrive on webhooks. `synctool ingest` verifies each
// delivery's signature and spools its rows in the sync's state; `synctool run` reads the spool
// as the source's changes (and the latest row of every record on full runs). A source only.
#pragma once

#include "connectors/push/push_payload.hpp"
#include "connectors/push/push_signature.hpp"
#include "connectors/registry.hpp"

#include <cstdint>

namespace synctool::connectors::push {

// A push connection's settings ([connections.NAME] with type = "push").
struct PushSettings {
  SignatureCheck signature;
  PayloadFormat format;
  // How long a delivery id is remembered, so that the sender's retry of it is a no-op.
  std::int64_t delivery_ids_kept_ms = 7LL * 24 * 3600 * 1000;
};

// Reads and checks the settings; throws ConnectorError(config) naming the key at fault.
PushSettings read_push_settings(const ConnectionConfig& config);

}  // namespace synctool::connectors::push

namespace synctool::connectors {

const ConnectorType& push_connector_type();

}  // namespace synctool::connectors
