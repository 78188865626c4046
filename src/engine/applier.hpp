// Applies planned actions: batches writes to the destination's maximum, records a create
// intent before sending a create that is not idempotent, and commits links, base values and
// failures of each batch in one state transaction after the destination confirmed it.
// In a dry run it only counts.
//
// A run sends each batch from a second thread while this one plans the next (both cores: the
// destination, or the server it talks to, works while the planner reads staging and state),
// where the destination allows it (Capabilities::write_in_background). At most one batch is
// out; it is collected before the next is sent, and before anybody else calls the destination
// (settle()), so a connector is never used by two threads at once. The sending thread asks
// write_problem() too, since only the thread that writes may touch the connector's caches; a
// dry run (and diff's observer), or a destination written from this thread, is asked here as
// the actions arrive.
#pragma once

#include "connectors/connector.hpp"
#include "engine/compiled_sync.hpp"
#include "engine/plan.hpp"
#include "engine/report.hpp"
#include "state/store.hpp"
#include "util/clock.hpp"

#include <exception>
#include <functional>
#include <future>
#include <optional>
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
  // The run's sequence number, under which each confirmed write goes into its record's history
  // (engine/history.hpp); 0 keeps none (a dry run, history_days = 0).
  std::uint64_t history_run = 0;
};

class Applier {
 public:
  explicit Applier(ApplyInputs inputs) : in_(inputs) {}
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;
  ~Applier();

  void add(Action&& action);
  // Waits for the batch being sent and takes in its results: afterwards the caller may use the
  // destination itself (the planner's checks and lookups). Throws what finish() would.
  void settle();
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

  // What the sending thread found: per op of the batch, why the destination refuses it (empty:
  // it was sent), the results of those sent in order, or why the whole batch failed.
  struct Sent {
    std::vector<std::string> problems;
    std::vector<connectors::WriteResult> results;
    std::string batch_error;      // transient: the outcome of every op sent is unknown
    std::exception_ptr fatal;     // config, quota or anything unexpected: ends the run
    bool nothing_sent = false;    // fatal came from a check, before any write
  };
  struct InFlight {
    std::vector<Action> actions;
    std::vector<connectors::WriteOp> ops;
    std::future<Sent> sent;
  };

  bool dry_run() const { return in_.store == nullptr; }
  // Batches go out from a second thread, which also checks their rows with write_problem()
  // (see the class comment).
  bool send_in_background() const {
    return !dry_run() && in_.observer == nullptr && in_.destination_caps.write_in_background;
  }
  bool check_when_sending() const { return send_in_background(); }
  // Sends batch_ (from a second thread) once the batch before it is collected.
  void write_batch();
  // Takes in the results of the batch being sent; `rethrow`: a fatal error is thrown (else
  // dropped: the run is ending for another reason already).
  void collect(bool rethrow);
  static Sent send(connectors::Connector& destination, const connectors::ObjectRef& object,
                   std::vector<connectors::WriteOp>& ops, const std::vector<bool>& check);
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
  std::optional<InFlight> in_flight_;  // the batch the second thread is sending
  std::vector<StateChange> state_changes_;  // what is not committed yet (confirmed writes, links, rejects)
  std::size_t scattered_changes_ = 0;        // how many of them are scattered
};

}  // namespace synctool::engine
