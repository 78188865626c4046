#include "engine/planner.hpp"

#include "engine/values.hpp"
#include "util/json_path.hpp"
#include "util/interrupt.hpp"
#include "util/strings.hpp"

#include <csignal>
#include <map>
#include <utility>

namespace synctool::engine {

const char* to_string(Side side) { return side == Side::source ? "source" : "destination"; }

const char* to_string(Action::Kind kind) {
  switch (kind) {
    case Action::Kind::create: return "create";
    case Action::Kind::update: return "update";
    case Action::Kind::link: return "link";
    case Action::Kind::unchanged: return "unchanged";
    case Action::Kind::remove: return "delete";
    case Action::Kind::reject: return "reject";
    case Action::Kind::skip: return "skip";
  }
  return "?";
}

bool reject_if_refused(connectors::Connector& destination, const connectors::ObjectRef& object,
                       connectors::WriteOp op, Action& action) {
  auto problem = destination.write_problem(object, op);
  action.values = std::move(op.fields);
  action.prepared = std::move(op.prepared);
  if (problem.empty()) return false;
  action.kind = Action::Kind::reject;
  action.reason = std::move(problem);
  return true;
}

RunInterrupted::RunInterrupted(int signal)
    : std::runtime_error(std::string("stopped by ") + (signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal") +
                         " at a batch boundary: what the destination confirmed is committed; the next run goes on "
                         "from there"),
      signal_(signal) {}

void stop_if_requested() {
  if (int signal = util::stop_signal()) throw RunInterrupted(signal);
}

namespace {

const nlohmann::json kNull;

const nlohmann::json& at_path(const nlohmann::json& values, const std::string& path) {
  const nlohmann::json* v = util::json_get_path(values, path);
  return v ? *v : kNull;
}

std::vector<FieldChange> changed_fields(const nlohmann::json& old_values, const nlohmann::json& new_values,
                                        const std::vector<std::string>& paths) {
  std::vector<FieldChange> changes;
  for (const auto& path : paths) {
    const auto& before = at_path(old_values, path);
    const auto& after = at_path(new_values, path);
    if (!values_equal(before, after)) {
      FieldChange change;
      change.field = path;
      change.old_value = before;
      change.new_value = after;
      changes.push_back(std::move(change));
    }
  }
  return changes;
}

std::string duplicate_list(const StagedRecord& record) {
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < record.duplicate_ids.size(); ++i) labels.push_back(record.duplicate_label(i));
  if (labels.size() == 2) return labels[0] + " and " + labels[1];
  return util::join(labels, ", ");
}

}  // namespace

bool Planner::mirror_deletes() const {
  const auto& sync = in_.sync.spec();
  return sync.mode == spec::Mode::mirror && sync.deletes.propagate != spec::DeletePropagation::ignore;
}

void Planner::plan(const std::function<void(Action&&)>& sink) {
  in_.source.for_each([&](const std::string& key, std::string_view staged) {
    // Tombstones and records the filter leaves out are planned with the deletes.
    auto state = StagedRecord::decode_state(staged);
    if (state == StagedRecord::State::deleted || state == StagedRecord::State::excluded) return true;
    plan_staged(key, StagedRecord::decode(staged, false), sink);
    return true;
  });
  flush_lookups(sink);
  if (counted_deletes_) {
    // Nothing the plan wrote since can change them: they are records the source does not hold.
    for (auto& action : *counted_deletes_) sink(std::move(action));
    counted_deletes_.reset();
  } else {
    for_each_delete(sink);
  }
}

void Planner::plan_staged(const std::string& key, StagedRecord&& record, const std::function<void(Action&&)>& sink) {
  if (record.state == StagedRecord::State::deleted || record.state == StagedRecord::State::excluded)
    return;  // handled with the deletes
  Action action;
  action.key = key;
  action.source_id = std::move(record.id);
  action.origin = std::move(record.origin);
  action.source_modified = std::move(record.modified);
  action.retry = had_failed(key);
  if (record.duplicated()) {
    action.kind = Action::Kind::reject;
    action.reason = "duplicate match key: source records " + duplicate_list(record) +
                    " share it; neither is written until the source has only one";
    sink(std::move(action));
    return;
  }
  if (record.state == StagedRecord::State::unchanged) {
    action.kind = Action::Kind::unchanged;  // known by its source digest: nothing to compare
    sink(std::move(action));
    return;
  }
  if (record.state == StagedRecord::State::rejected) {
    action.kind = Action::Kind::reject;
    action.reason = record.reason;
    sink(std::move(action));
    return;
  }
  // The values are decoded only where the action needs them: never for an unchanged record.
  bool values_taken = false;
  auto take_values = [&] {
    if (std::exchange(values_taken, true)) return;
    record.decode_values();
    action.values = std::move(record.values);
    if (action.values.is_null()) action.values = nlohmann::json::object();
  };
  action.source_digest = record.source_digest;
  action.values_hash = std::move(record.values_hash);
  if (action.values_hash.empty()) {
    take_values();
    action.values_hash = values_hash(action.values);
  }

  if (in_.destination_records) {
    take_values();
    std::optional<StagedRecord> existing;
    if (auto found = in_.destination_records->get(key)) existing = StagedRecord::decode(*found);
    plan_against_destination(std::move(action), existing, sink);
    return;
  }

  // One lookup gives the link and the digest: the base values are decoded only when the record
  // changed.
  auto summary = in_.store.get_summary(key);
  const auto* link = summary && summary->link ? &*summary->link : nullptr;
  // A delete of the linked record was sent and not confirmed: the link may name a record that is
  // gone. The destination is asked, as for a record not linked yet.
  bool delete_unconfirmed = false;
  if (link && any_pending_)
    if (auto intent = in_.store.get_pending(key)) delete_unconfirmed = intent->remove;
  if (link && !link->destination_id.empty() && !delete_unconfirmed) {
    action.destination_id = link->destination_id;
    action.linked = link->source_id == action.source_id;
    const auto& base_hash = summary->base_hash;
    bool same = base_hash && *base_hash == action.values_hash;
    if (in_.sync.spec().mode == spec::Mode::append) {
      // Append never touches an existing record: a change to it is skipped, and said so.
      action.kind = same ? Action::Kind::unchanged : Action::Kind::skip;
    } else if (same) {
      action.kind = link->source_id == action.source_id ? Action::Kind::unchanged : Action::Kind::link;
    } else {
      action.kind = Action::Kind::update;
    }
    if (action.kind != Action::Kind::unchanged) take_values();
    action.refresh_source_digest = action.kind == Action::Kind::unchanged && action.source_digest != 0 &&
                                   summary->source_digest != action.source_digest;
    if (action.kind == Action::Kind::update) {
      auto base = base_hash ? in_.store.get_base(key) : std::nullopt;
      action.changes = changed_fields(base ? base->values : nlohmann::json::object(), action.values,
                                      in_.sync.mapper().destination_paths());
    }
    sink(std::move(action));
    return;
  }

  // Not linked yet: find out whether the destination already has it before creating.
  take_values();
  awaiting_lookup_.push_back(std::move(action));
  if (awaiting_lookup_.size() >= std::max<std::size_t>(1, in_.destination_caps.max_lookup)) flush_lookups(sink);
}

void Planner::plan_against_destination(Action action, const std::optional<StagedRecord>& existing,
                                       const std::function<void(Action&&)>& sink) {
  const auto& paths = in_.sync.mapper().destination_paths();
  if (existing) {  // not a create: checked again as what it becomes
    action.checked_as_create = false;
    action.prepared.reset();
  }
  if (!existing) {
    action.kind = Action::Kind::create;
  } else if (existing->duplicated()) {
    action.kind = Action::Kind::reject;
    action.reason = "duplicate match key at the destination: records " + duplicate_list(*existing) +
                    " share it; merge them so that only one remains";
  } else {
    action.destination_id = existing->id;
    auto summary = in_.store.get_summary(action.key);
    if (summary && summary->link)
      action.linked = summary->link->source_id == action.source_id && summary->link->destination_id == existing->id;
    action.changes = changed_fields(existing->values, action.values, paths);
    if (!action.changes.empty() && in_.sync.spec().mode == spec::Mode::append) {
      action.kind = Action::Kind::skip;  // at the destination with other values: append leaves it
      action.changes.clear();
    } else if (!action.changes.empty()) {
      action.kind = Action::Kind::update;
    } else {
      action.changes.clear();
      // Equal: at most a new link.
      bool known = false;
      if (action.linked) known = summary->base_hash && *summary->base_hash == action.values_hash;
      // A record that had an intent is linked again, which clears the intent.
      if (known && any_pending_ && in_.store.get_pending(action.key)) known = false;
      action.kind = known ? Action::Kind::unchanged : Action::Kind::link;
      action.refresh_source_digest = known && action.source_digest != 0 && summary->source_digest != action.source_digest;
    }
  }
  sink(std::move(action));
}

void Planner::flush_lookups(const std::function<void(Action&&)>& sink) {
  if (awaiting_lookup_.empty()) return;
  if (in_.settle_destination) in_.settle_destination();
  // A row the destination is known to refuse needs no lookup (an incremental run would
  // otherwise look up every rejected row again): it is rejected here.
  std::vector<Action> writable;
  writable.reserve(awaiting_lookup_.size());
  for (auto& action : awaiting_lookup_) {
    connectors::WriteOp probe;
    probe.kind = in_.destination_caps.native_upsert ? connectors::OpKind::upsert : connectors::OpKind::create;
    probe.key = action.key;
    probe.fields = std::move(action.values);  // lent to the probe, not copied
    if (reject_if_refused(in_.destination, in_.sync.destination_object(), std::move(probe), action)) {
      sink(std::move(action));
      continue;
    }
    action.checked_as_create = true;
    writable.push_back(std::move(action));
  }
  awaiting_lookup_ = std::move(writable);
  if (awaiting_lookup_.empty()) return;
  std::vector<std::string> keys;
  keys.reserve(awaiting_lookup_.size());
  for (const auto& a : awaiting_lookup_) keys.push_back(a.key);
  stop_if_requested();
  wait_for_lookup_lag();
  const auto& mapper = in_.sync.mapper();
  auto found = in_.destination.lookup(in_.sync.destination_object(), in_.sync.spec().match.destination, keys);
  std::map<std::string, StagedRecord> by_key;
  for (auto& record : found) {
    auto key = mapper.destination_key(record.fields);
    if (!key) continue;
    auto [it, inserted] = by_key.try_emplace(*key);
    StagedRecord& staged = it->second;
    if (inserted) {
      staged.id = record.id;
      staged.origin = record.origin;
      staged.values = in_.sync.project_destination(record.fields);
      staged.modified = record.modified_at.value_or("");
    } else if (!in_.destination_caps.unique_ids || staged.id != record.id || staged.duplicated()) {
      if (staged.duplicate_ids.empty()) {
        staged.duplicate_ids.push_back(staged.id);
        staged.duplicate_origins.push_back(staged.origin);
      }
      staged.duplicate_ids.push_back(record.id);
      staged.duplicate_origins.push_back(record.origin);
    }
  }
  for (auto& action : awaiting_lookup_) {
    auto it = by_key.find(action.key);
    std::optional<StagedRecord> existing;
    if (it != by_key.end()) existing = it->second;
    plan_against_destination(std::move(action), existing, sink);
  }
  awaiting_lookup_.clear();
}

// A create sent by an earlier run whose answer never came (its pending intent remains) is looked
// up before anything is created again; where lookups lag behind writes, only once the lag has
// passed since it was sent, or the lookup would miss the record and it would be created twice.
void Planner::wait_for_lookup_lag() const {
  const std::int64_t lag = in_.destination_caps.lookup_lag_ms;
  if (lag <= 0 || in_.store.pending_count() == 0) return;
  std::int64_t newest = 0;
  std::size_t pending = 0;
  for (const auto& action : awaiting_lookup_) {
    if (auto intent = in_.store.get_pending(action.key); intent && !intent->remove) {
      newest = std::max(newest, intent->sent_at_ms);
      ++pending;
    }
  }
  const std::int64_t wait = newest + lag - in_.clock.now_ms();
  if (pending == 0 || wait <= 0) return;
  if (in_.log)
    in_.log("waiting " + std::to_string(wait) + " ms before looking up " + std::to_string(pending) +
            " unconfirmed create(s) of an earlier run (the destination's lookups lag behind its writes)");
  in_.clock.sleep_ms(std::min(wait, lag));
}

void Planner::for_each_delete(const std::function<void(Action&&)>& sink) const {
  if (!mirror_deletes()) return;
  auto emit = [&](const std::string& key, const std::string& destination_id, const std::string& source_id) {
    Action action;
    action.kind = Action::Kind::remove;
    action.key = key;
    action.destination_id = destination_id;
    action.source_id = source_id;
    action.retry = had_failed(key);
    sink(std::move(action));
  };
  // Tombstones and records the filter now leaves out.
  in_.source.for_each([&](const std::string& key, std::string_view staged) {
    auto state = StagedRecord::decode_state(staged);
    if (state != StagedRecord::State::deleted && state != StagedRecord::State::excluded) return true;
    auto record = StagedRecord::decode(staged);
    if (in_.destination_records) {
      if (auto found = in_.destination_records->get(key)) {
        auto existing = StagedRecord::decode(*found);
        if (existing.duplicated()) {
          for (const auto& id : existing.duplicate_ids) emit(key, id, record.id);
        } else {
          emit(key, existing.id, record.id);
        }
      }
    } else if (auto link = in_.store.get_link(key); link && !link->destination_id.empty()) {
      emit(key, link->destination_id, record.id);
    }
    return true;
  });
  // Records the complete source no longer has.
  if (in_.destination_records) {
    in_.destination_records->for_each([&](const std::string& key, std::string_view staged) {
      if (in_.source.contains(key)) return true;
      auto existing = StagedRecord::decode(staged);
      if (existing.duplicated()) {
        for (const auto& id : existing.duplicate_ids) emit(key, id, "");
      } else {
        emit(key, existing.id, "");
      }
      return true;
    });
    return;  // a baseline or full run: the destination's records are the whole truth
  }
  if (in_.source_complete) {
    in_.store.for_each_link([&](const std::string& key, const state::Link& link) {
      if (!link.destination_id.empty() && !in_.source.contains(key)) emit(key, link.destination_id, link.source_id);
      return true;
    });
  }
  // Deletes that failed on an earlier run, unless the loops above planned them again or the
  // source has the record again (then it is planned as a live record).
  in_.store.for_each_failed([&](const std::string& key, const state::FailedRow& row) {
    if (row.delete_id.empty()) return true;
    std::optional<StagedRecord> staged;
    if (auto found = in_.source.get(key)) staged = StagedRecord::decode(*found);
    bool live = staged && staged->state != StagedRecord::State::deleted &&
                staged->state != StagedRecord::State::excluded;
    if (live) return true;
    auto link = in_.store.get_link(key);
    bool linked = link && !link->destination_id.empty();
    if (linked && (staged || in_.source_complete)) return true;  // emitted above
    emit(key, linked ? link->destination_id : row.delete_id, row.source_id);
    return true;
  });
}

std::size_t Planner::count_deletes() {
  std::size_t count = 0;
  std::vector<Action> deletes;
  for_each_delete([&](Action&& action) {
    if (++count <= kRememberedDeletes) deletes.push_back(std::move(action));
  });
  if (count <= kRememberedDeletes) counted_deletes_ = std::move(deletes);
  return count;
}

}  // namespace synctool::engine
