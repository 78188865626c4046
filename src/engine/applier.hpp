// Applies planned actions: batches writes to the destination's maximum, records a create
// intent before sending a create that is not idempotent, and commits links, base values and
// failures of each batch in one state transaction after the destination confirmed it.
// In a dry run it only counts.
#pragma once

#include "connectors/connector.hpp"
#include "engine/compiled_sync.hpp"
#include "engine/plan.hpp"
#include "engine/report.hpp"
#include "state/store.hpp"
#include "util/clock.hpp"

#include <functional>
#include <vector>

namespace synctool::engine {

struct ApplyInputs {
  const CompiledSync& sync;
  state::StateStore* store;  // null in a dry run
  connectors::Connector& destination;
  const connectors::Capabilities& destination_caps;
  const util::Clock& clock;
  RunReport& report;
  PlanObserver* observer;  // may be null
  const std::function<std::string(std::string_view)>& redact;  // may be empty
  const std::function<void(const std::string&)>& log;          // may be empty
};

class Applier {
 public:
  explicit Applier(ApplyInputs inputs) : in_(inputs) {}

  void add(Action&& action);
  // Writes what is still buffered. Throws ConnectorError(config) if the destination refused
  // the whole batch for a reason that retrying will not fix. After every committed batch it
  // throws RunInterrupted when a stop was requested (SIGINT / SIGTERM).
  void finish();
  // A run that stops early: commits the state changes of what the destination confirmed and
  // those that need no write (links of records found equal, rejects), and drops the writes
  // not yet sent.
  void commit_confirmed();

 private:
  struct StateChange {
    std::function<void(state::WriteTxn&)> apply;
    // Rewrites a record already in the state (an update, a delete): its page is somewhere in
    // the middle of the tables, where a new record's lands next to the one before.
    bool scattered = false;
  };

  bool dry_run() const { return in_.store == nullptr; }
  void write_batch();
  void commit_state_changes();
  // What the uncommitted changes weigh (kScatteredChangeWeight for a scattered one): they are
  // committed once it reaches a transaction's worth, so memory holds at most that many.
  std::size_t state_weight() const;
  void record_failure(std::vector<StateChange>& changes, const Action& action, const std::string& error,
                      const char* kind);
  // The write an action asks for; its values are moved into the op (give them back after).
  connectors::WriteOp take_op(Action& action) const;

  ApplyInputs in_;
  std::vector<Action> batch_;
  std::vector<StateChange> state_changes_;  // what is not committed yet (confirmed writes, links, rejects)
  std::size_t scattered_changes_ = 0;        // how many of them are scattered
};

}  // namespace synctool::engine
