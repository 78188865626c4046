#include "engine/compiled_sync.hpp"

#include "spec/loader.hpp"
#include "util/hash.hpp"
#include "util/json_path.hpp"

#include <algorithm>

namespace synctool::engine {

namespace {

Filter parse_filter(const spec::SyncSpec& sync) {
  try {
    return Filter::parse(sync.source.filter);
  } catch (const FilterSyntaxError& e) {
    spec::Location where = sync.source.filter_where;
    // The location points at the string's opening quote; the column is inside it.
    if (where.column > 0) where.column += e.column();
    throw spec::SpecError({spec::SpecProblem{where, std::string("[source] filter: ") + e.what()}});
  }
}

connectors::ObjectRef make_object(const spec::EndpointSpec& endpoint, const std::string& match_field,
                                  bool destination) {
  connectors::ObjectRef ref;
  ref.destination = destination;
  ref.name = endpoint.object;
  ref.options = endpoint.options;
  ref.key_field = endpoint.key.empty() ? match_field : endpoint.key;
  return ref;
}

std::string top_level(const std::string& path) { return path.substr(0, path.find('.')); }

std::uint64_t compute_mapping_seed(const spec::SyncSpec& sync) {
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& f : sync.field_map) {
    nlohmann::json transforms = nlohmann::json::array();
    for (const auto& t : f.transforms) transforms.push_back({static_cast<int>(t.kind), t.value});
    fields.push_back({f.source, f.destination, transforms});
  }
  nlohmann::json schema = nlohmann::json::array();
  for (const auto& f : sync.schema) schema.push_back({f.name, static_cast<int>(f.type), f.required, f.options});
  nlohmann::json seed = {SYNCTOOL_VERSION, fields,         schema,          sync.match.source, sync.match.destination,
                         sync.match.normalize, sync.source.filter, sync.source.fields, sync.source.key,
                         spec::to_string(sync.mode)};
  return util::fnv1a64(seed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

CompiledSync::CompiledSync(const spec::SyncSpec& sync)
    : sync_(sync),
      filter_(parse_filter(sync)),
      mapper_(sync),
      schema_(sync.schema),
      source_object_(make_object(sync.source, sync.match.source,
                                  sync.direction == spec::Direction::bidirectional)),
      destination_object_(make_object(sync.destination, sync.match.destination, true)) {
  mapping_seed_ = compute_mapping_seed(sync);
  source_object_.fields = mapper_.source_read_fields(filter_.fields());
  destination_object_.fields = destination_read_fields();
  for (const auto& field : sync.schema)
    destination_object_.schema.push_back({field.name, spec::to_string(field.type), field.options});
  if (!sync.source.fields.empty()) {
    std::vector<spec::SpecProblem> problems;
    for (const auto& field : filter_.fields()) {
      if (std::find(sync.source.fields.begin(), sync.source.fields.end(), top_level(field)) ==
          sync.source.fields.end())
        problems.push_back({sync.source.filter_where,
                            "[source] filter uses field '" + field + "', which is not in source.fields"});
    }
    if (!problems.empty()) throw spec::SpecError(std::move(problems));
  }
  if (sync.direction == spec::Direction::bidirectional) {
    std::vector<spec::SpecProblem> problems;
    for (const auto& field : filter_.fields()) {
      auto mapping = std::find_if(sync.field_map.begin(), sync.field_map.end(), [&](const spec::FieldMapping& m) {
        return m.source == field && m.direction != spec::FieldDirection::to_destination;
      });
      if (mapping == sync.field_map.end())
        problems.push_back({sync.source.filter_where,
                            "[source] filter uses field '" + field +
                                "', which [field_map] does not map both ways: a bidirectional sync applies the filter "
                                "to the destination's records too, read back under the source's field names"});
      else
        filter_paths_.emplace_back(field, mapping->destination);
    }
    if (!problems.empty()) throw spec::SpecError(std::move(problems));
  }
}

bool CompiledSync::destination_in_scope(const nlohmann::json& projected) const {
  if (filter_.matches_everything()) return true;
  nlohmann::json as_source = nlohmann::json::object();
  for (const auto& [source_path, destination_path] : filter_paths_) {
    auto value = util::json_get_path(projected, destination_path);
    if (value) util::json_set_path(as_source, source_path, *value);
  }
  return filter_.matches(as_source);
}

nlohmann::json CompiledSync::project_destination(const nlohmann::json& destination_fields) const {
  nlohmann::json values = mapper_.project_destination(destination_fields);
  schema_.normalize(values);
  return values;
}

std::vector<std::string> CompiledSync::destination_read_fields() const {
  std::vector<std::string> fields;
  auto add = [&](const std::string& path) {
    auto name = top_level(path);
    if (std::find(fields.begin(), fields.end(), name) == fields.end()) fields.push_back(name);
  };
  add(destination_object_.key_field);
  add(sync_.match.destination);
  for (const auto& path : mapper_.destination_paths()) add(path);
  return fields;
}

}  // namespace synctool::engine
