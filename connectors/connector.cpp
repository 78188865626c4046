#include "connectors/connector.hpp"

namespace synctool::connectors {

void take_row_into_fields(Record& record) {
  if (!record.row) return;
  record.fields = record.row->to_json();
  record.row.reset();
}

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::config: return "config";
    case ErrorKind::transient: return "transient";
    case ErrorKind::record: return "record";
    case ErrorKind::quota: return "quota";
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

std::string Connector::write_problem(const ObjectRef&, const WriteOp&) { return ""; }

void Connector::probe(const ObjectRef& object) { describe(object); }

void Connector::check_options(const ObjectRef&) const {}

std::vector<SchemaChange> Connector::schema_plan(const ObjectRef& object, const std::vector<DeclaredField>&) {
  throw ConnectorError(ErrorKind::config, type() + ": cannot manage the schema of '" + object.name + "'");
}

void Connector::schema_apply(const ObjectRef& object, const std::vector<SchemaChange>&) {
  throw ConnectorError(ErrorKind::config, type() + ": cannot manage the schema of '" + object.name + "'");
}

}  // namespace synctool::connectors
