#include "engine/applier.hpp"

#include "engine/history.hpp"
#include "engine/values.hpp"

#include <system_error>

namespace synctool::engine {

namespace {

bool is_delete(connectors::OpKind kind) {
  return kind == connectors::OpKind::remove || kind == connectors::OpKind::archive;
}

// State changes are committed in groups so a baseline that links a million existing records
// does not pay one fsync per record, nor one per destination batch. Deferring them is safe:
// the state may lag behind the destination, never lead it (a create that is not idempotent is
// announced by its own committed intent before it is sent), and a run that ends early commits
// what the destination confirmed.
constexpr std::size_t kStateChangesPerCommit = 20000;
// LMDB copies every page a transaction dirties into memory of its own (2,000 updates in one
// transaction: 8 MB of copies, by heaptrack), and scattered changes dirty a page each. They
// weigh this much more, so that one transaction holds at most 1,000 of them, and the run commits
// as soon as it holds a transaction's worth (10,000 confirmed updates held to the end of a
// mirror run were its peak memory).
constexpr std::size_t kScatteredChangeWeight = 20;

// Counts a rejected or failed row, and lists it while the list has room. A row is new when its
// key had no failed row before this run: only new problems make a run exit 1.
void note_problem(RunReport& report, std::vector<RowProblem>& list, const Action& action, const std::string& reason) {
  bool is_new = !action.retry;
  if (is_new) ++report.new_problems;
  if (list.size() < RunReport::kMaxListedProblems)
    list.push_back({action.key, action.source_id.empty() ? action.origin : action.source_id, reason, is_new});
}

// Where a failed row is kept: its match key, or for a record without one its source id (or,
// where ids are not unique, where it was read) behind a NUL byte (state/store.hpp).
std::string failure_key(const Action& action) {
  if (!action.key.empty()) return action.key;
  return state::unkeyed_failure_key(action.source_id.empty() ? action.origin : action.source_id);
}

// Remembers the action's record as synced: its link and, as base values, what was written
// (lent, not copied: a failed commit is applied again from the same action).
void put_synced(state::WriteTxn& txn, const Action& action, const std::string& destination_id) {
  const std::string hash = action.values_hash.empty() ? values_hash(action.values) : std::string();
  txn.put_record(action.key, {action.source_id, destination_id},
                 state::BaseView{action.values, hash.empty() ? std::string_view(action.values_hash) : hash,
                                 action.source_modified, {}, action.source_digest});
}

}  // namespace

Applier::~Applier() {
  // The sending thread uses the batch's ops: it finishes before they go.
  if (in_flight_ && in_flight_->sent.valid()) in_flight_->sent.wait();
}

void Applier::add(Action&& action) {
  const bool checked = action.kind == Action::Kind::create && action.checked_as_create;
  if ((action.kind == Action::Kind::create || action.kind == Action::Kind::update) && !checked &&
      !check_when_sending()) {
    // A row the destination is known to refuse is rejected here, so diff predicts it and no
    // request is spent on it.
    reject_if_refused(in_.destination, in_.sync.destination_object(), take_op(action), action);
  }
  if (in_.observer) in_.observer->on_action(action);
  auto& counts = in_.report.destination;
  switch (action.kind) {
    case Action::Kind::unchanged:
      ++counts.unchanged;
      if (action.retry && !dry_run()) {
        auto key = action.key;
        state_changes_.emplace_back([key](state::WriteTxn& txn) { txn.erase_failed(key); });
      }
      if (action.refresh_source_digest && !dry_run()) {
        state_changes_.push_back({[key = std::move(action.key), digest = action.source_digest](state::WriteTxn& txn) {
                                    txn.set_source_digest(key, digest);
                                  },
                                  true});
        ++scattered_changes_;
      }
      break;
    case Action::Kind::link:
    case Action::Kind::skip:
      ++(action.kind == Action::Kind::skip ? counts.skipped : counts.unchanged);
      if (!dry_run()) {
        state_changes_.emplace_back([a = std::move(action)](state::WriteTxn& txn) {
          put_synced(txn, a, a.destination_id);
          txn.erase_pending(a.key);
          if (a.retry) txn.erase_failed(a.key);
        });
      }
      break;
    case Action::Kind::reject:
      ++counts.rejected;
      note_problem(in_.report, in_.report.rejected, action, action.reason);
      if (!dry_run()) record_failure(state_changes_, action, action.reason, "reject");
      break;
    case Action::Kind::create:
    case Action::Kind::update:
    case Action::Kind::remove:
      if (dry_run()) {
        if (action.kind == Action::Kind::create) ++counts.created;
        if (action.kind == Action::Kind::update) ++counts.updated;
        if (action.kind == Action::Kind::remove) ++counts.deleted;
        break;
      }
      batch_.push_back(std::move(action));
      if (batch_.size() >= std::max<std::size_t>(1, in_.destination_caps.max_batch)) write_batch();
      break;
  }
  if (state_weight() >= kStateChangesPerCommit) {
    commit_state_changes();
    stop_if_requested();
  }
}

std::size_t Applier::state_weight() const {
  return state_changes_.size() + scattered_changes_ * (kScatteredChangeWeight - 1);
}

void Applier::finish() {
  write_batch();
  collect(true);
  commit_state_changes();
}

void Applier::settle() { collect(true); }

void Applier::commit_confirmed() {
  collect(false);  // sent: what the destination answered is kept
  batch_.clear();  // never sent: nothing of it happened
  commit_state_changes();
}

void Applier::commit_state_changes() {
  if (state_changes_.empty() || dry_run()) return;
  auto txn = in_.store->begin();
  std::size_t weight = 0;
  for (auto& change : state_changes_) {
    change.apply(*txn);
    weight += change.scattered ? kScatteredChangeWeight : 1;
    if (weight >= kStateChangesPerCommit) {
      txn->commit();
      txn = in_.store->begin();
      weight = 0;
    }
  }
  txn->commit();
  state_changes_.clear();
  scattered_changes_ = 0;
}

void Applier::record_failure(std::vector<StateChange>& changes, const Action& action, const std::string& error,
                             const char* kind) {
  state::FailedRow row;
  const std::string key = failure_key(action);
  if (action.retry)
    if (auto previous = in_.store->get_failed(key)) row = *previous;
  auto now = in_.clock.now_ms();
  if (row.attempts == 0) row.first_seen_ms = now;
  row.attempts += 1;
  row.last_seen_ms = now;
  row.error = in_.redact ? in_.redact(error) : error;
  row.kind = kind;
  row.source_id = action.source_id;
  row.delete_id = action.kind == Action::Kind::remove ? action.destination_id : "";
  changes.emplace_back([key, row](state::WriteTxn& txn) { txn.put_failed(key, row); });
}

connectors::WriteOp Applier::take_op(Action& action) const {
  connectors::WriteOp op;
  op.key = action.key;
  op.id = action.destination_id;
  switch (action.kind) {
    case Action::Kind::create:
      op.kind = in_.destination_caps.native_upsert ? connectors::OpKind::upsert : connectors::OpKind::create;
      break;
    case Action::Kind::update: op.kind = connectors::OpKind::update; break;
    default: {
      // A destination without soft delete gets a hard delete when archiving was asked for, and
      // the other way round; the spec's choice wins where the system offers both.
      bool archive = in_.sync.spec().deletes.propagate == spec::DeletePropagation::archive;
      if (archive && !in_.destination_caps.archive) archive = false;
      if (!archive && !in_.destination_caps.hard_delete) archive = true;
      op.kind = archive ? connectors::OpKind::archive : connectors::OpKind::remove;
      return op;  // a delete writes no values
    }
  }
  op.fields = std::move(action.values);
  op.prepared = std::move(action.prepared);
  return op;
}

void Applier::write_batch() {
  if (batch_.empty()) return;
  collect(true);  // one batch out at a time
  std::vector<connectors::WriteOp> ops;
  ops.reserve(batch_.size());
  std::vector<bool> check(batch_.size(), false);
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    const auto& action = batch_[i];
    const bool checked = action.kind == Action::Kind::create && action.checked_as_create;
    check[i] = check_when_sending() && !checked &&
               (action.kind == Action::Kind::create || action.kind == Action::Kind::update);
    // The values travel in the ops (moved, not copied) and come back to their actions in collect().
    ops.push_back(take_op(batch_[i]));
  }

  // A create that is not idempotent is announced first: if the process dies after the
  // destination created the record but before the link is committed, the next run finds the
  // intent and looks the record up instead of creating it twice. (One the sending thread finds
  // unwritable is rejected, and its intent taken back, when the batch is collected.) A delete is
  // announced too: if the process dies after it went through, the link names a record that is
  // gone, and the next run that writes the key (the source has it again) looks it up instead of
  // updating nothing, or taking it for unchanged.
  {
    bool announced = false;
    auto txn = in_.store->begin();
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind == connectors::OpKind::create) {
        txn->put_pending(batch_[i].key, {"destination", ops[i].fields, in_.clock.now_ms()});
      } else if (is_delete(ops[i].kind)) {
        txn->put_pending(batch_[i].key, {"destination", nlohmann::json::object(), in_.clock.now_ms(), true});
      } else {
        continue;
      }
      announced = true;
    }
    if (announced) txn->commit();
  }

  auto& flight = in_flight_.emplace(InFlight{std::move(batch_), std::move(ops), {}});
  batch_.clear();
  auto job = [&destination = in_.destination, &object = in_.sync.destination_object(), &ops = flight.ops, check] {
    return send(destination, object, ops, check);
  };
  if (send_in_background()) {
    try {
      flight.sent = std::async(std::launch::async, job);
      return;
    } catch (const std::system_error&) {
      // No thread to be had: sent from this one, below.
    }
  }
  std::promise<Sent> here;
  here.set_value(job());
  flight.sent = here.get_future();
  collect(true);
}

Applier::Sent Applier::send(connectors::Connector& destination, const connectors::ObjectRef& object,
                            std::vector<connectors::WriteOp>& ops, const std::vector<bool>& check) {
  Sent sent;
  sent.problems.resize(ops.size());
  std::size_t refused = 0;
  try {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (!check[i]) continue;
      sent.problems[i] = destination.write_problem(object, ops[i]);
      refused += sent.problems[i].empty() ? 0 : 1;
    }
  } catch (...) {
    sent.fatal = std::current_exception();  // a field the destination lacks: a run-ending error, as in add()
    sent.nothing_sent = true;
    return sent;
  }
  try {
    if (refused == 0) {
      sent.results = destination.write(object, ops);
    } else if (refused < ops.size()) {
      std::vector<connectors::WriteOp> writable;
      writable.reserve(ops.size() - refused);
      for (std::size_t i = 0; i < ops.size(); ++i)
        if (sent.problems[i].empty()) writable.push_back(std::move(ops[i]));
      try {
        sent.results = destination.write(object, writable);
      } catch (...) {
        for (std::size_t i = 0, j = 0; i < ops.size(); ++i)
          if (sent.problems[i].empty()) ops[i] = std::move(writable[j++]);
        throw;
      }
      for (std::size_t i = 0, j = 0; i < ops.size(); ++i)
        if (sent.problems[i].empty()) ops[i] = std::move(writable[j++]);
    }
    if (sent.results.size() != ops.size() - refused)
      sent.batch_error = "the destination answered " + std::to_string(sent.results.size()) + " results for " +
                         std::to_string(ops.size() - refused) + " writes";
  } catch (const connectors::ConnectorError& e) {
    if (e.kind() == connectors::ErrorKind::config || e.kind() == connectors::ErrorKind::quota)
      sent.fatal = std::current_exception();
    else
      sent.batch_error = e.what();
  } catch (...) {
    sent.fatal = std::current_exception();
  }
  return sent;
}

void Applier::collect(bool rethrow) {
  if (!in_flight_) return;
  Sent sent = in_flight_->sent.get();
  InFlight flight = std::move(*in_flight_);
  in_flight_.reset();
  if (sent.fatal) {
    if (sent.nothing_sent) {
      // Refused while checking, before a write: the creates were never sent.
      for (std::size_t i = 0; i < flight.ops.size(); ++i)
        if (flight.ops[i].kind == connectors::OpKind::create || is_delete(flight.ops[i].kind))
          state_changes_.emplace_back([key = flight.actions[i].key](state::WriteTxn& txn) { txn.erase_pending(key); });
    }
    if (rethrow) std::rethrow_exception(sent.fatal);
    return;  // the run ends for another reason already; other creates keep their intents
  }
  auto& actions = flight.actions;
  auto& ops = flight.ops;
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (actions[i].kind != Action::Kind::remove) actions[i].values = std::move(ops[i].fields);

  auto& counts = in_.report.destination;
  std::vector<StateChange> changes = std::move(state_changes_);
  state_changes_.clear();
  const std::int64_t now_ms = in_.history_run != 0 ? in_.clock.now_ms() : 0;
  std::size_t next_result = 0;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    Action& action = actions[i];  // moved into its state change once it succeeded
    if (!sent.problems[i].empty()) {
      // Refused by write_problem() on the sending thread: a reject, as add() would have made it.
      action.kind = Action::Kind::reject;
      action.reason = std::move(sent.problems[i]);
      ++counts.rejected;
      note_problem(in_.report, in_.report.rejected, action, action.reason);
      record_failure(changes, action, action.reason, "reject");
      if (ops[i].kind == connectors::OpKind::create)
        changes.emplace_back([key = action.key](state::WriteTxn& txn) { txn.erase_pending(key); });
      continue;
    }
    if (!sent.batch_error.empty()) {
      // Outcome unknown: creates keep their intent so the next run looks them up.
      ++counts.failed;
      note_problem(in_.report, in_.report.failed, action, sent.batch_error);
      record_failure(changes, action, sent.batch_error, "transient");
      continue;
    }
    const auto& result = sent.results[next_result++];
    if (!result.ok) {
      ++counts.failed;
      note_problem(in_.report, in_.report.failed, action, result.error);
      record_failure(changes, action, result.error, connectors::to_string(result.error_kind));
      // Refused as a row: nothing happened at the destination, so no intent stands.
      if ((action.kind == Action::Kind::create || action.kind == Action::Kind::remove) &&
          result.error_kind == connectors::ErrorKind::record)
        changes.emplace_back([key = action.key](state::WriteTxn& txn) { txn.erase_pending(key); });
      continue;
    }
    if (action.kind == Action::Kind::remove) {
      ++counts.deleted;
      ++scattered_changes_;
      std::optional<state::HistoryEntry> history;
      if (in_.history_run != 0) {
        auto base = in_.store->get_base(action.key);
        history = state::HistoryEntry{now_ms, nlohmann::json::array({history_write(
                                                  Side::destination, ops[i].kind, action.destination_id, action,
                                                  action.values, base ? &base->values : nullptr)})};
      }
      changes.push_back({[key = std::move(action.key), retry = action.retry, history = std::move(history),
                          run = in_.history_run](state::WriteTxn& txn) {
                           txn.erase_record(key);
                           txn.erase_pending(key);
                           if (retry) txn.erase_failed(key);
                           if (history) txn.put_history(run, key, *history);
                         },
                         true});
      continue;
    }
    if (action.kind == Action::Kind::create) ++counts.created;
    if (action.kind == Action::Kind::update) ++counts.updated;
    std::string destination_id = result.id.empty() ? action.destination_id : result.id;
    const bool scattered = action.kind == Action::Kind::update;
    scattered_changes_ += scattered ? 1 : 0;
    changes.push_back({[a = std::move(action), destination_id = std::move(destination_id), op = ops[i].kind,
                        run = in_.history_run, now_ms](state::WriteTxn& txn) mutable {
      put_synced(txn, a, destination_id);
      txn.erase_pending(a.key);
      if (a.retry) txn.erase_failed(a.key);
      if (run != 0) {
        // A create's values are the base values just stored, and stay so until a later run
        // writes the record (whose entry then holds them as "before"): the entry leaves them
        // out, which keeps a baseline's history small (engine/history.hpp).
        auto write = history_write(Side::destination, op, destination_id, a, nlohmann::json(), nullptr);
        write.erase("after");
        state::HistoryEntry entry{now_ms, nlohmann::json::array()};
        entry.writes.push_back(std::move(write));
        txn.put_history(run, a.key, entry);
      }
    }, scattered});
  }
  if (in_.log)
    in_.log("wrote a batch of " + std::to_string(actions.size()) + " to the destination" +
            (sent.batch_error.empty() ? "" : " (failed: " + sent.batch_error + ")"));
  state_changes_ = std::move(changes);
  if (state_weight() >= kStateChangesPerCommit) commit_state_changes();
  if (rethrow) stop_if_requested();
}

}  // namespace synctool::engine
