// The fields a sync names, checked against the fields the two objects really have: a field
// the spec names that the object lacks is an error before anything is read or written, never
// an empty value in every record (a misspelled source field would blank the destination, a
// filter on a missing column would match nothing, a missing destination property would fail
// every write one by one).
#pragma once

#include "connectors/connector.hpp"
#include "engine/compiled_sync.hpp"
#include "spec/loader.hpp"

#include <string>
#include <vector>

namespace synctool::engine {

// Every field of the sync that `source` / `destination` do not have, located in the spec
// (the [field_map] line, the [match] table, the filter...) with a did-you-mean where one is
// close. `source_label` / `destination_label` name the objects in messages ("csv connection
// 'crm', object 'contacts'"). An object that accepts new fields is not checked; a nested
// path ("address.city") needs only its first step where the object does not list nested
// fields itself.
std::vector<spec::SpecProblem> field_problems(const CompiledSync& sync, const connectors::ObjectDescription& source,
                                              const connectors::ObjectDescription& destination,
                                              const std::string& source_label, const std::string& destination_label);

}  // namespace synctool::engine
