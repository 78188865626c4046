// What the planner decides for one record. `diff` renders these; `run` applies them. Both
// come from the same Planner, so a dry run predicts exactly what a run does.
#pragma once

#include "connectors/connector.hpp"

#include <nlohmann/json.hpp>

#include <any>
#include <stdexcept>
#include <string>
#include <vector>

namespace synctool::engine {

struct FieldChange {
  std::string field;  // destination path
  nlohmann::json old_value;
  nlohmann::json new_value;
  std::string rule;  // bidirectional: what decided the value ("changed at the source", "most recent wins")
  // Bidirectional merges: what the rule weighed (kept in the record's history).
  bool merged = false;
  nlohmann::json base_value, source_value, destination_value;
};

// The two systems of a sync. One-way syncs write only to the destination.
enum class Side { source, destination };
const char* to_string(Side side);

struct Action {
  enum class Kind {
    create,     // not at the destination: create it
    update,     // linked and different: write the changed values
    link,       // found at the destination with equal values: remember the link, write nothing
    unchanged,  // linked and equal to the base values: nothing to do
    remove,     // mirror mode: gone from the source, delete (or archive) at the destination
    reject,     // not writable: duplicate key, schema violation, missing key
    skip,       // append mode: at the destination already (or changed since); append never touches it
  };
  Kind kind = Kind::unchanged;
  std::string key;
  std::string source_id;
  std::string origin;  // where the source record was read ("line 17"), for messages
  std::string destination_id;
  nlohmann::json values = nlohmann::json::object();  // mapped values to write / remember
  std::string values_hash;  // values_hash(values) where the planner knew it; else empty
  std::string source_modified;
  // engine::source_digest of the source record behind `values` (0 = none): stored with them
  // as base values. refresh_source_digest: an unchanged record whose stored digest differs
  // (a state written before digests, or a change to a field nothing maps), stored anew so the
  // next incremental run knows it unchanged at once.
  std::uint64_t source_digest = 0;
  bool refresh_source_digest = false;
  std::vector<FieldChange> changes;  // update: field by field, old -> new
  // Where the action writes: the destination, or in a bidirectional sync either side (then
  // `destination_id` is the written record's id on that side and `values` use its field names).
  Side target = Side::destination;
  bool two_way = false;  // planned by a bidirectional sync: diff shows its direction
  std::string reason;                // reject: why
  bool retry = false;                // this key had a failed row before
  bool linked = false;               // state already links source_id and destination_id
  // The destination's write_problem() passed for these values as a create (the planner asks
  // before looking an unlinked record up); the applier does not ask again.
  bool checked_as_create = false;
  // What the destination built while checking the values (WriteOp::prepared), handed to its write.
  std::any prepared;
};

const char* to_string(Action::Kind kind);

// Asks the destination whether it refuses `op`, which carries `action`'s values (moved in)
// and gives them back with what the check prepared; a refused action becomes a reject with
// the destination's reason. Returns whether it was refused.
bool reject_if_refused(connectors::Connector& destination, const connectors::ObjectRef& object,
                       connectors::WriteOp op, Action& action);

// Thrown at a batch boundary once SIGINT or SIGTERM asked the run to stop (util/interrupt.hpp):
// the runner commits what the destination confirmed and records the run as interrupted.
class RunInterrupted : public std::runtime_error {
 public:
  explicit RunInterrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

// Throws RunInterrupted when a stop was requested.
void stop_if_requested();

// Receives every planned action in key order (deletes after creates and updates).
class PlanObserver {
 public:
  virtual ~PlanObserver() = default;
  virtual void on_action(const Action& action) = 0;
};

}  // namespace synctool::engine
