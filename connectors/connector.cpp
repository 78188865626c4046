#include "connectors/connector.hpp"

namespace synctool::connectors {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::config: return "config";
    case ErrorKind::transient: return "transient";
    case ErrorKind::record: return "record";
  }
  return "unknown";
}

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::create: return "create";
    case OpKind::update: return "update";
    case OpKind::upsert: return "upsert";
    case OpKind::remove: return "remove";
    case OpKind::archive: return "archive";
  }
  return "unknown";
}

}  // namespace synctool::connectors
