// `synctool revert SYNC RUN`: the inverse of one run's confirmed writes, planned from the
// record history (engine/history.hpp) and checked against what each side holds now.
//
// Each write of the run is undone on the side it went to: a create is deleted, an update writes
// the fields' earlier values back, a delete or archive creates the record again from the values
// it had. A record is refused (listed, left alone) when a later run wrote it, or when the side
// no longer holds what the run wrote (someone changed it since, or it is gone).
//
// What the state learns: in a one-way sync, the base values of a reverted update take the
// earlier values back and a deleted create loses its link, so the next incremental run does
// not write the run's values again (a full run compares the source with the destination and
// does, if the source still says so). A two-way sync's base stays as the run left it, so the
// next run sees the reverted side changed and carries the earlier values to the other side
// too: the change is undone on both sides.
#pragma once

#include "connectors/connector.hpp"
#include "engine/compiled_sync.hpp"
#include "engine/plan.hpp"
#include "engine/report.hpp"
#include "state/store.hpp"
#include "util/clock.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace synctool::engine {

struct RevertInputs {
  const CompiledSync& sync;
  connectors::Connector& source;
  connectors::Connector& destination;
  state::StateStore& store;
  const util::Clock& clock;
};

// One inverse write.
struct RevertStep {
  std::string key;
  Side side = Side::destination;
  std::string undoes;            // what the run did: create, update, delete, archive
  connectors::OpKind op = connectors::OpKind::update;  // what undoes it
  std::string id;                // the record's id on that side (empty for a create)
  nlohmann::json fields = nlohmann::json::object();    // values to write (update, create)
  std::vector<FieldChange> changes;                    // update: field, now -> restored
};

struct RevertRefusal {
  std::string key;
  Side side = Side::destination;
  std::string reason;
};

struct RevertPlan {
  std::uint64_t run = 0;
  std::string run_started_at;
  std::vector<RevertStep> steps;
  std::vector<RevertRefusal> refused;
  std::size_t already_undone = 0;  // writes whose inverse needs nothing (a created record already gone)
};

// Thrown when the run cannot be reverted at all (unknown run, no history kept): a usage error.
class RevertError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads the run's history and each written record's current values on its side. Throws
// RevertError, ConnectorError, StateError.
RevertPlan plan_revert(const RevertInputs& in, std::uint64_t run);

// Sends the steps in batches of each side's maximum, records each confirmed one in the state
// and the history of a run of kind "revert", which is recorded like any run; returns its report
// (exit 1 when a step failed or a record was refused). Throws ConnectorError, StateError.
RunReport apply_revert(const RevertInputs& in, RevertPlan& plan);

}  // namespace synctool::engine
