// A sync spec turned into what the engine executes: the parsed filter, the mapper, the schema
// validator and the object references for both sides.
#pragma once

#include "connectors/connector.hpp"
#include "engine/filter.hpp"
#include "engine/mapping.hpp"
#include "engine/schema.hpp"
#include "spec/spec.hpp"

namespace synctool::engine {

class CompiledSync {
 public:
  // Throws spec::SpecError when the filter does not parse (with the filter's file:line:col),
  // names a field that is not among source.fields, or, on a bidirectional sync, a field that
  // [field_map] does not write back to the source.
  explicit CompiledSync(const spec::SyncSpec& sync);

  const spec::SyncSpec& spec() const { return sync_; }
  const Filter& filter() const { return filter_; }
  const RecordMapper& mapper() const { return mapper_; }
  const SchemaValidator& schema() const { return schema_; }
  const connectors::ObjectRef& source_object() const { return source_object_; }
  const connectors::ObjectRef& destination_object() const { return destination_object_; }
  // Top-level destination fields to read (the mapped paths' first steps).
  std::vector<std::string> destination_read_fields() const;
  // What a destination record holds of the mapped paths, in the form the source's mapped
  // values take (mapper projection, then the [schema]'s coercions without judging), so that
  // equal values compare equal whatever each system's spelling of them.
  nlohmann::json project_destination(const nlohmann::json& destination_fields) const;
  // Bidirectional syncs: whether a destination record, in the projected form, passes the
  // [source] filter once its values are put back under the source's field names (the form it
  // takes when it is written to the source). True when there is no filter.
  bool destination_in_scope(const nlohmann::json& projected) const;
  // Seeds engine::source_digest: a digest of everything that turns a source record into mapped,
  // validated values (field map, transforms, match, schema, filter) and of synctool's version,
  // so that a source digest stored under another mapping or version never matches.
  std::uint64_t mapping_seed() const { return mapping_seed_; }

 private:
  const spec::SyncSpec& sync_;
  Filter filter_;
  RecordMapper mapper_;
  SchemaValidator schema_;
  connectors::ObjectRef source_object_;
  connectors::ObjectRef destination_object_;
  std::uint64_t mapping_seed_ = 0;
  // Bidirectional syncs with a filter: each field the filter reads (a source path) and the
  // destination path [field_map] writes it back from.
  std::vector<std::pair<std::string, std::string>> filter_paths_;
};

}  // namespace synctool::engine
