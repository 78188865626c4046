// Every connector that make_connector() builds is wrapped in an answer guard: an answer whose
// fields have an unexpected JSON type (a status that is a number, `results` that is not a
// list) surfaces inside a connector as nlohmann's json::exception wherever the field is read.
// The guard turns it, at the one seam all calls pass through, into a transient ConnectorError
// that names the connector, the call and the object, so the engine treats it like any other
// bad answer (the batch fails and is retried next run; a read stops the run with exit 3).
#pragma once

#include "connectors/connector.hpp"

#include <memory>

namespace synctool::connectors {

std::unique_ptr<Connector> guard_answers(std::unique_ptr<Connector> inner);

}  // namespace synctool::connectors
