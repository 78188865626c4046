#include "engine/two_way.hpp"

#include "engine/history.hpp"

#include "engine/duplicates.hpp"
#include "engine/merge.hpp"
#include "engine/staged_record.hpp"
#include "engine/values.hpp"
#include "state/staging.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_set>

namespace synctool::engine {

namespace {

using spec::FieldDirection;

// Keys planned and written together: their writes to each side go out in batches of the
// side's maximum, then one state transaction records what both sides confirmed.
constexpr std::size_t kChunkKeys = 1000;

Side other_side(Side side) { return side == Side::source ? Side::destination : Side::source; }

// One system of the sync, as the pass uses it.
struct SideIo {
  Side side;
  connectors::Connector& connector;
  const connectors::ObjectRef& object;
  connectors::Capabilities caps;
  SideCounts& counts;
  const char* cursor_meta;
  std::unique_ptr<state::Staging> staged;
  bool complete = true;     // read whole this run: a linked record it lacks is gone
  std::string last_cursor;  // the cursor of the last page read
  std::size_t live = 0;     // records read this run that are not tombstones
};

// What a side holds of one key this run.
struct Presence {
  enum class Kind {
    absent,     // never there as far as the state knows, and not read
    present,    // read this run (or found by a lookup), live
    unchanged,  // linked and not among the changes read: as the base values say
    deleted,    // linked and gone: a tombstone, or missing from a complete read
    ignored,    // deleted there on an earlier run while deletes do not flow: left so
    unusable,   // duplicated or rejected this run: the key waits
    excluded,   // read, and the filter leaves it out: the key is not synced while it is
  };
  Kind kind = Kind::absent;
  StagedRecord record;  // present: as read
  std::string id;       // the record's id on that side, where it has one
  bool live() const { return kind == Kind::present || kind == Kind::unchanged; }
};

// The writes one key needs, and what the state records once they are confirmed.
struct KeyPlan {
  std::string key;
  std::optional<state::Link> old_link;
  std::optional<state::BaseValue> old_base;
  state::Link link;     // ids once the writes are confirmed (creates fill theirs in)
  nlohmann::json base;  // base values to store then
  std::string source_modified, destination_modified;
  enum class Outcome { nothing, put, erase } outcome = Outcome::nothing;
  std::optional<state::Conflict> queue;  // manual conflicts to keep for `synctool conflicts`
  bool unqueue = false;                  // a queued conflict now settled
  int writes = 0, confirmed = 0;
  std::vector<std::string> errors;
  Side failed_side = Side::destination;
  connectors::ErrorKind error_kind = connectors::ErrorKind::record;
  bool outcome_unknown = false;  // a create in a batch whose answer was lost: keep its intent
  bool refused = false;          // a side refused a write before it was sent (write_problem): a reject
  nlohmann::json history = nlohmann::json::array();  // the confirmed writes (engine/history.hpp)
};

// A write of one key to one side.
struct PlannedWrite {
  std::size_t plan;  // index into the chunk's plans
  connectors::WriteOp op;
  Action action;     // for the report and diff
  bool refused = false;  // the side refuses it: not sent
};

std::optional<std::int64_t> modified_ms(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec == std::errc() && end == text.data() + text.size()) return ms;
    return std::nullopt;
  }
  return util::parse_iso8601(text);
}

nlohmann::json value_at_path(const nlohmann::json& values, const std::string& path) {
  const nlohmann::json* found = util::json_get_path(values, path);
  return found ? *found : nlohmann::json();
}

std::vector<MergeField> merge_fields(const spec::SyncSpec& sync) {
  std::vector<MergeField> fields;
  for (const auto& m : sync.field_map) {
    // The match field identifies the record; it is written on creates only, never rewritten.
    if (m.source == sync.match.source && m.destination == sync.match.destination) continue;
    fields.push_back({m.destination, m.source, m.direction});
  }
  return fields;
}

class TwoWayPass {
 public:
  TwoWayPass(const RunInputs& in, const RunOptions& options, RunReport& report, state::StateStore* writable)
      : in_(in),
        spec_(in.sync.spec()),
        options_(options),
        report_(report),
        writable_(writable),
        history_run_(writable && keeps_history(in.sync.spec()) ? report.run : 0),
        merger_(merge_fields(in.sync.spec()), in.sync.spec().conflicts),
        duplicates_(in.sync.mapper().destination_paths()),
        source_{Side::source, in.source, in.sync.source_object(), in.source.capabilities(in.sync.source_object()),
                report.source, state::meta::source_cursor, nullptr, true, {}, 0},
        destination_{Side::destination, in.destination, in.sync.destination_object(),
                     in.destination.capabilities(in.sync.destination_object()), report.destination,
                     state::meta::destination_cursor, nullptr, true, {}, 0} {}

  std::string run() {
    const state::IdIndexes wanted{source_.caps.tombstones, destination_.caps.tombstones};
    if (writable_ && in_.store.id_indexes() != wanted) {
      auto txn = writable_->begin();
      txn->keep_id_indexes(wanted);
      txn->commit();
    }
    in_.store.for_each_conflict([&](const std::string& key, const state::Conflict& conflict) {
      conflicts_.emplace(key, conflict);
      return true;
    });
    stage(source_);
    stage(destination_);
    stage_retries();
    source_.staged->seal();
    destination_.staged->seal();
    if (in_.log)
      in_.log(fmt::format("read {} source and {} destination records", report_.source.read, report_.destination.read));

    if (spec_.mode == spec::Mode::mirror && spec_.deletes.propagate != spec::DeletePropagation::ignore &&
        !options_.force) {
      auto message = safeguard_message();
      if (!message.empty()) return message;
    }

    plan_and_apply();
    if (report_.kind == RunKind::baseline) report_duplicates();
    finish_state();
    return "";
  }

 private:
  SideIo& io(Side side) { return side == Side::source ? source_ : destination_; }
  static const std::string& id_on(const state::Link& link, Side side) {
    return side == Side::source ? link.source_id : link.destination_id;
  }
  static std::string& id_on(state::Link& link, Side side) {
    return side == Side::source ? link.source_id : link.destination_id;
  }

  std::optional<std::string> key_of(Side side, const nlohmann::json& fields, std::string* problem = nullptr) const {
    return side == Side::source ? in_.sync.mapper().source_key(fields, problem) : in_.sync.mapper().destination_key(fields);
  }

  // A side's record in the common form (destination paths), or a reason it cannot be synced.
  StagedRecord staged_form(Side side, connectors::Record& record) const {
    StagedRecord staged;
    staged.id = record.id;
    staged.origin = record.origin;
    staged.modified = record.modified_at.value_or("");
    if (!record.problem.empty()) {
      staged.state = StagedRecord::State::rejected;
      staged.reason = record.problem;
      return staged;
    }
    if (side == Side::source) {
      if (!in_.sync.filter().matches(record.fields)) {
        staged.state = StagedRecord::State::excluded;
        return staged;
      }
      staged.values = in_.sync.mapper().map(record.fields);
      if (auto violation = in_.sync.schema().validate(staged.values)) {
        staged.state = StagedRecord::State::rejected;
        staged.reason = std::move(*violation);
      }
    } else {
      staged.values = in_.sync.project_destination(record.fields);
      if (!in_.sync.destination_in_scope(staged.values)) staged.state = StagedRecord::State::excluded;
    }
    return staged;
  }

  void stage_record(SideIo& side, connectors::Record& record) {
    ++side.counts.read;
    if (record.deleted) {
      std::optional<std::string> key = side.side == Side::source ? in_.store.key_for_source_id(record.id)
                                                                 : in_.store.key_for_destination_id(record.id);
      if (!key) key = key_of(side.side, record.fields);
      if (!key) return;  // never synced: nothing to carry over
      StagedRecord staged;
      staged.state = StagedRecord::State::deleted;
      staged.id = record.id;
      add_staged(*side.staged, *key, staged, side.caps.unique_ids);
      return;
    }
    std::string problem;
    auto key = key_of(side.side, record.fields, &problem);
    if (!key) {
      const std::string reason = !record.problem.empty() ? record.problem
                                 : !problem.empty()      ? problem
                                                         : "no value in the match field '" +
                                                          (side.side == Side::source ? spec_.match.source
                                                                                     : spec_.match.destination) +
                                                          "'";
      reject(side.side, state::unkeyed_failure_key(std::string(to_string(side.side)) + ":" + record.id), record.id,
             reason);
      return;
    }
    StagedRecord staged = staged_form(side.side, record);
    if (staged.state == StagedRecord::State::live) ++side.live;
    add_staged(*side.staged, *key, staged, side.caps.unique_ids);
  }

  void show_progress(const char* phase) const {
    if (!in_.progress) return;
    RunProgress progress;
    progress.phase = phase;
    progress.read = report_.source.read + report_.destination.read;
    progress.decided = decided_;
    progress.written = writes_confirmed(report_);
    in_.progress(progress);
  }

  void stage(SideIo& side) {
    side.staged = state::make_disk_staging(in_.scratch_dir);
    connectors::ReadRequest request;
    request.fields = side.side == Side::source ? in_.sync.mapper().source_read_fields({})
                                               : in_.sync.destination_read_fields();
    auto cursor = in_.store.get_meta(side.cursor_meta);
    if (report_.kind == RunKind::incremental && side.caps.incremental_read && cursor) request.since = *cursor;
    side.complete = !request.since.has_value();
    if (in_.log)
      in_.log(fmt::format("reading the {} {}", to_string(side.side),
                          request.since ? "changed since " + *request.since : std::string("in full")));
    side.connector.read(side.object, request, [&](connectors::Page&& page) {
      for (auto& record : page.records) stage_record(side, record);
      if (!page.cursor.empty()) side.last_cursor = page.cursor;
      show_progress("reading");
      stop_if_requested();
    });
  }

  // Keys whose writes failed before, or whose create was never confirmed, are read again by id
  // on a side read only for its changes (the cursor has moved past them).
  void stage_retries() {
    std::vector<std::string> keys;
    in_.store.for_each_failed([&](const std::string& key, const state::FailedRow&) {
      if (!state::is_unkeyed_failure_key(key)) keys.push_back(key);
      return true;
    });
    in_.store.for_each_pending([&](const std::string& key, const state::PendingIntent&) {
      keys.push_back(key);
      return true;
    });
    for (const auto& [key, conflict] : conflicts_)
      if (!conflict.resolution.is_null()) keys.push_back(key);
    for (SideIo* side : {&source_, &destination_}) {
      if (side->complete) continue;
      std::vector<std::string> ids;
      for (const auto& key : keys) {
        auto link = in_.store.get_link(key);
        if (link && !id_on(*link, side->side).empty() && !side->staged->contains(key))
          ids.push_back(id_on(*link, side->side));
      }
      const std::size_t chunk = std::max<std::size_t>(1, side->caps.max_lookup);
      for (std::size_t i = 0; i < ids.size(); i += chunk) {
        std::vector<std::string> part(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                      ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + chunk)));
        for (auto& record : side->connector.lookup(side->object, connectors::kNativeIdField, part))
          stage_record(*side, record);
      }
    }
  }

  Presence presence(SideIo& side, const std::string& key, const std::optional<state::Link>& link,
                    const std::optional<state::BaseValue>& base) const {
    return presence(side, side.staged->get(key), link, base);
  }

  // The same, from the side's staged bytes for the key (nullopt: not staged).
  Presence presence(const SideIo& side, const std::optional<std::string>& found, const std::optional<state::Link>& link,
                    const std::optional<state::BaseValue>& base) const {
    Presence p;
    const std::string linked_id = link ? id_on(*link, side.side) : std::string();
    if (found) {
      p.record = StagedRecord::decode(*found);
      p.id = p.record.id;
      if (p.record.duplicated() || p.record.state == StagedRecord::State::rejected)
        p.kind = Presence::Kind::unusable;
      else if (p.record.state == StagedRecord::State::deleted)
        // A tombstone read again (a look-back window) of a record whose delete was kept from
        // the other side earlier (the link lost this side's id, the base stayed): still gone.
        p.kind = !linked_id.empty() ? Presence::Kind::deleted
                 : link && base     ? Presence::Kind::ignored
                                    : Presence::Kind::absent;
      else if (p.record.state == StagedRecord::State::excluded)
        p.kind = Presence::Kind::excluded;
      else
        p.kind = Presence::Kind::present;
      return p;
    }
    if (!linked_id.empty()) {
      p.id = linked_id;
      p.kind = side.complete ? Presence::Kind::deleted : Presence::Kind::unchanged;
    } else if (link && base) {
      p.kind = Presence::Kind::ignored;
    }
    return p;
  }

  // How many linked records each side's deletes would remove from the other, and the abort
  // for a side that suddenly reads empty; "" when neither trips.
  std::string safeguard_message() {
    const std::size_t links = in_.store.link_count();
    std::map<Side, std::size_t> deletes;  // by the side the delete happened on
    auto count_key = [&](const std::string& key) {
      auto link = in_.store.get_link(key);
      if (!link) return;
      auto base = in_.store.get_base(key);
      auto s = presence(source_, key, link, base), d = presence(destination_, key, link, base);
      if (s.kind == Presence::Kind::deleted && d.live()) ++deletes[Side::source];
      if (d.kind == Presence::Kind::deleted && s.live()) ++deletes[Side::destination];
    };
    for (SideIo* side : {&source_, &destination_})
      side->staged->for_each([&](const std::string& key, std::string_view bytes) {
        if (StagedRecord::decode_state(bytes) == StagedRecord::State::deleted) count_key(key);
        return true;
      });
    for (const auto& key : linked_but_unread()) count_key(key);

    const auto& d = spec_.deletes;
    const double cap = d.max_is_percent ? std::floor(d.max_value * static_cast<double>(links) / 100.0) : d.max_value;
    for (SideIo* side : {&source_, &destination_}) {
      const std::size_t n = deletes[side->side];
      if (n == 0) continue;
      const char* name = to_string(side->side);
      if (side->complete && side->live == 0)
        return fmt::format(
            "the {} returned no records; refusing to delete {} record(s) of the {} (an empty side is usually an "
            "outage or a wrong object; run with --force if it is really meant to be empty)",
            name, n, to_string(other_side(side->side)));
      if (static_cast<double>(n) > cap)
        return fmt::format(
            "{} records deleted at the {} would be deleted at the {}, more than the limit of {} (deletes.max = {}{}, of "
            "{} linked records); nothing was deleted; check the {}, raise deletes.max or run with --force",
            n, name, to_string(other_side(side->side)), static_cast<std::uint64_t>(cap), d.max_value,
            d.max_is_percent ? "%" : "", links, name);
    }
    return "";
  }

  // Linked keys neither side read this run: on a side read whole, their record is gone.
  std::vector<std::string> linked_but_unread() {
    std::vector<std::string> keys;
    if (!source_.complete && !destination_.complete) return keys;
    in_.store.for_each_link([&](const std::string& key, const state::Link&) {
      if (!source_.staged->contains(key) && !destination_.staged->contains(key)) keys.push_back(key);
      return true;
    });
    return keys;
  }

  void plan_and_apply() {
    std::vector<std::string> chunk;
    auto add = [&](const std::string& key) {
      chunk.push_back(key);
      if (chunk.size() >= kChunkKeys) {
        run_chunk(chunk);
        decided_ += chunk.size();
        show_progress("writing");
        chunk.clear();
      }
    };
    // Keys read at the source, then those read only at the destination, then linked keys
    // neither read (gone from a side read whole). Staging tables are scratch, so writing the
    // state while walking them is safe; the state's own keys are collected first.
    auto leftovers = linked_but_unread();
    source_.staged->for_each([&](const std::string& key, std::string_view) {
      add(key);
      return true;
    });
    destination_.staged->for_each([&](const std::string& key, std::string_view) {
      if (!source_.staged->contains(key)) add(key);
      return true;
    });
    for (const auto& key : leftovers) add(key);
    if (!chunk.empty()) run_chunk(chunk);
  }

  void report_duplicates() {
    if (duplicates_.overflowed()) {
      note(fmt::format("possible duplicates not looked for: more than {} records on one side were unmatched",
                       DuplicateFinder::kMaxRecords));
      return;
    }
    for (auto& d : duplicates_.find()) {
      if (report_.possible_duplicates.size() >= RunReport::kMaxListedProblems) break;
      report_.possible_duplicates.push_back({std::move(d.source_key), std::move(d.destination_key), std::move(d.reason)});
    }
  }

  void reject(Side side, const std::string& key, const std::string& id, const std::string& reason) {
    ++io(side).counts.rejected;
    // A record without a match key is kept in `failed` under its id (store.hpp) and named by it.
    std::string shown_key = key;
    if (state::is_unkeyed_failure_key(key))
      shown_key = side == Side::source ? std::string() : "destination record '" + id + "' (no match key)";
    RowProblem problem{shown_key, id, fmt::format("{}: {}", to_string(side), reason), true};
    auto previous = in_.store.get_failed(key);
    problem.is_new = !previous.has_value();
    if (problem.is_new) ++report_.new_problems;
    if (report_.rejected.size() < RunReport::kMaxListedProblems) report_.rejected.push_back(problem);
    if (in_.observer) {
      Action action;
      action.kind = Action::Kind::reject;
      action.key = key;
      action.source_id = id;
      action.reason = problem.reason;
      action.target = side;
      action.two_way = true;
      in_.observer->on_action(action);
    }
    rejected_keys_.insert(key);
    state::FailedRow row;
    row.source_id = id;
    row.error = problem.reason;
    row.kind = "reject";
    row.attempts = previous ? previous->attempts + 1 : 1;
    row.first_seen_ms = previous ? previous->first_seen_ms : in_.clock.now_ms();
    row.last_seen_ms = in_.clock.now_ms();
    rejected_rows_.emplace_back(key, std::move(row));
  }

  void note(std::string line) {
    if (report_.notes.size() < RunReport::kMaxListedProblems) report_.notes.push_back(std::move(line));
  }

  // The values a create writes on `target`, in its own field names, from `from` (the common
  // form of the other side's record); `written` gets the same in the common form.
  connectors::Json create_fields(Side target, const nlohmann::json& from, nlohmann::json& written) const {
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& m : spec_.field_map) {
      const FieldDirection away = target == Side::destination ? FieldDirection::to_source : FieldDirection::to_destination;
      if (m.direction == away) continue;
      nlohmann::json value = value_at_path(from, m.destination);
      util::json_set_path(written, m.destination, value);
      util::json_set_path(fields, target == Side::destination ? m.destination : m.source, std::move(value));
    }
    return fields;
  }

  const std::string& source_name(const std::string& path) const {
    for (const auto& field : merger_.fields())
      if (field.path == path) return field.source_name;
    return path;
  }

  // Field values in destination paths as the source's own field names.
  connectors::Json source_fields(const nlohmann::json& by_path) const {
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& field : merger_.fields())
      if (const nlohmann::json* value = util::json_get_path(by_path, field.path))
        util::json_set_path(fields, field.source_name, *value);
    return fields;
  }

  void plan_write(std::vector<PlannedWrite>& writes, std::size_t plan_index, KeyPlan& plan, Side target,
                  connectors::OpKind kind, const std::string& id, connectors::Json fields, Action action) {
    connectors::WriteOp op;
    op.kind = kind;
    op.key = plan.key;
    op.id = id;
    op.fields = std::move(fields);
    action.key = plan.key;
    action.target = target;
    action.two_way = true;
    action.destination_id = id;
    writes.push_back({plan_index, std::move(op), std::move(action)});
    ++plan.writes;
  }

  void plan_create(std::vector<PlannedWrite>& writes, std::size_t index, KeyPlan& plan, Side target,
                   const Presence& from, const std::optional<state::BaseValue>& base) {
    const nlohmann::json& values = from.kind == Presence::Kind::present ? from.record.values : base->values;
    if (report_.kind == RunKind::baseline) duplicates_.add(other_side(target), plan.key, values);
    nlohmann::json written = nlohmann::json::object();
    auto fields = create_fields(target, values, written);
    plan.link = plan.old_link.value_or(state::Link{});
    id_on(plan.link, other_side(target)) = from.id;
    id_on(plan.link, target).clear();
    // What both sides hold afterwards: for a field that does not flow to `target`, what the
    // new record lacks (so that its emptiness there reads as no change next time).
    plan.base = written;
    (target == Side::source ? plan.source_modified : plan.destination_modified).clear();
    (target == Side::source ? plan.destination_modified : plan.source_modified) = from.record.modified;
    plan.outcome = KeyPlan::Outcome::put;
    Action action;
    action.kind = Action::Kind::create;
    action.values = fields;
    plan_write(writes, index, plan, target,
               io(target).caps.native_upsert ? connectors::OpKind::upsert : connectors::OpKind::create, "",
               std::move(fields), std::move(action));
  }

  void plan_merge(std::vector<PlannedWrite>& writes, std::size_t index, KeyPlan& plan, const Presence& s,
                  const Presence& d) {
    const auto& base = plan.old_base;
    SideValues sv{s.kind == Presence::Kind::present ? s.record.values : base->values,
                  modified_ms(s.kind == Presence::Kind::present ? s.record.modified : base->source_modified)};
    SideValues dv{d.kind == Presence::Kind::present ? d.record.values : base->values,
                  modified_ms(d.kind == Presence::Kind::present ? d.record.modified : base->destination_modified)};
    const bool linked = plan.old_link && !plan.old_link->source_id.empty() && !plan.old_link->destination_id.empty();
    const nlohmann::json* base_values = linked && base ? &base->values : nullptr;
    std::vector<std::string> queued;
    nlohmann::json resolved;
    if (auto it = conflicts_.find(plan.key); it != conflicts_.end()) {
      for (const auto& item : it->second.source_values.items()) queued.push_back(item.key());
      if (!it->second.resolution.is_null()) {
        for (const auto& item : it->second.resolution.items()) util::json_set_path(resolved, item.key(), item.value());
        plan.unqueue = true;
      }
    }
    auto result = merger_.merge(base_values, sv, dv, queued, resolved);

    plan.link = state::Link{s.id, d.id};
    plan.base = std::move(result.merged);
    // The match field's value rides along for `state show`; it is never merged.
    util::json_set_path(plan.base, spec_.match.destination, value_at_path(sv.values, spec_.match.destination));
    plan.source_modified = s.kind == Presence::Kind::present ? s.record.modified : base->source_modified;
    plan.destination_modified = d.kind == Presence::Kind::present ? d.record.modified : base->destination_modified;

    for (const auto& decision : result.decisions)
      if (decision.conflict) ++report_.conflicts_decided;
    // A record already waiting shows each side's value as it is now (what --take takes), and
    // gains any field that conflicts anew.
    const auto waiting = conflicts_.find(plan.key);
    if (waiting != conflicts_.end() && waiting->second.resolution.is_null()) {
      state::Conflict conflict = waiting->second;
      for (const auto& field : queued) {
        conflict.source_values[field] = value_at_path(sv.values, field);
        conflict.destination_values[field] = value_at_path(dv.values, field);
      }
      if (conflict.source_values != waiting->second.source_values ||
          conflict.destination_values != waiting->second.destination_values || !result.manual.empty())
        plan.queue = std::move(conflict);
    }
    if (!result.manual.empty()) {
      state::Conflict conflict = plan.queue.value_or(state::Conflict{});
      if (!plan.queue) conflict.seen_ms = in_.clock.now_ms();
      for (const auto& m : result.manual) {
        conflict.source_values[m.field] = m.source_value;
        conflict.destination_values[m.field] = m.destination_value;
        conflict.base_values[m.field] = m.base_value;
      }
      report_.conflicts_queued += result.manual.size();
      plan.queue = std::move(conflict);
    }

    auto changes_for = [&](Side target) {
      std::vector<FieldChange> changes;
      for (const auto& decision : result.decisions) {
        const nlohmann::json& now = target == Side::source ? decision.source_value : decision.destination_value;
        if (values_equal(decision.value, now)) continue;
        changes.push_back({target == Side::source ? source_name(decision.field) : decision.field, now, decision.value,
                           decision.conflict ? std::string("conflict, ") + to_string(decision.rule)
                                             : std::string(to_string(decision.rule)),
                           true, decision.base_value, decision.source_value, decision.destination_value});
      }
      return changes;
    };
    if (!result.to_destination.empty()) {
      Action action;
      action.kind = Action::Kind::update;
      action.changes = changes_for(Side::destination);
      plan_write(writes, index, plan, Side::destination, connectors::OpKind::update, d.id,
                 std::move(result.to_destination), std::move(action));
    }
    if (!result.to_source.empty()) {
      Action action;
      action.kind = Action::Kind::update;
      action.changes = changes_for(Side::source);
      plan_write(writes, index, plan, Side::source, connectors::OpKind::update, s.id, source_fields(result.to_source),
                 std::move(action));
    }
    const bool same_base = base && base->hash == values_hash(plan.base) && linked &&
                           plan.old_link->source_id == s.id && plan.old_link->destination_id == d.id;
    if (plan.writes > 0 || !same_base || plan.queue || plan.unqueue) plan.outcome = KeyPlan::Outcome::put;
    if (plan.writes == 0 && result.decisions.empty()) {
      ++report_.destination.unchanged;
      if (!linked && in_.observer) {
        Action action;
        action.kind = Action::Kind::link;
        action.key = plan.key;
        action.destination_id = d.id;
        in_.observer->on_action(action);
      }
    }
  }

  // `gone` lost the record (deleted there) while `kept` still has it.
  void plan_delete(std::vector<PlannedWrite>& writes, std::size_t index, KeyPlan& plan, Side gone,
                   const Presence& kept) {
    const auto& base = plan.old_base;
    const bool flows = spec_.mode == spec::Mode::mirror && spec_.deletes.propagate != spec::DeletePropagation::ignore;
    if (!flows) {
      // Deletes do not flow: the other side keeps its record, and the key remembers that this
      // side let it go, so that it is not created there again.
      plan.link = *plan.old_link;
      id_on(plan.link, gone).clear();
      plan.base = base ? base->values : nlohmann::json::object();
      if (base) plan.source_modified = base->source_modified, plan.destination_modified = base->destination_modified;
      plan.outcome = KeyPlan::Outcome::put;
      return;
    }
    bool edited = false;
    if (kept.kind == Presence::Kind::present && base)
      for (const auto& field : merger_.fields())
        if (field.direction != (gone == Side::source ? FieldDirection::to_source : FieldDirection::to_destination) &&
            !values_equal(value_at_path(kept.record.values, field.path), value_at_path(base->values, field.path)))
          edited = true;
    if (edited) {
      // The edit wins: the record is created again where it was deleted.
      ++report_.deletes_kept;
      note(fmt::format("{}: deleted at the {} while the {} edited it; kept, and created at the {} again", plan.key,
                       to_string(gone), to_string(other_side(gone)), to_string(gone)));
      plan_create(writes, index, plan, gone, kept, base);
      return;
    }
    plan.outcome = KeyPlan::Outcome::erase;
    const Side target = other_side(gone);
    const bool archive = spec_.deletes.propagate == spec::DeletePropagation::archive && io(target).caps.archive;
    Action action;
    action.kind = Action::Kind::remove;
    plan_write(writes, index, plan, target, archive ? connectors::OpKind::archive : connectors::OpKind::remove, kept.id,
               connectors::Json::object(), std::move(action));
  }

  // Before creating on a side not read whole this run (or where an earlier create may have
  // landed unconfirmed), looks the keys up there by the match field, so that a record that is
  // already there is linked instead of created twice.
  void look_up_before_creating(Side target, std::vector<std::pair<std::string, std::string>>& wanted,
                               std::map<std::string, StagedRecord>& found) {
    if (wanted.empty()) return;
    SideIo& side = io(target);
    wait_for_lookup_lag(target, wanted);
    const std::string& field = target == Side::source ? spec_.match.source : spec_.match.destination;
    const std::size_t chunk = std::max<std::size_t>(1, side.caps.max_lookup / 2);
    for (std::size_t i = 0; i < wanted.size(); i += chunk) {
      std::vector<std::string> values;
      std::unordered_set<std::string> keys;
      for (std::size_t j = i; j < std::min(wanted.size(), i + chunk); ++j) {
        keys.insert(wanted[j].first);
        values.push_back(wanted[j].first);
        if (wanted[j].second != wanted[j].first && !wanted[j].second.empty()) values.push_back(wanted[j].second);
      }
      for (auto& record : side.connector.lookup(side.object, field, values)) {
        auto key = key_of(target, record.fields);
        if (!key || !keys.contains(*key) || found.contains(*key)) continue;
        found.emplace(*key, staged_form(target, record));
      }
    }
  }

  // A side whose lookups lag behind its writes (HubSpot's search) would not find what an
  // earlier run created there unconfirmed: wait until the newest such create is old enough.
  void wait_for_lookup_lag(Side target, const std::vector<std::pair<std::string, std::string>>& wanted) {
    const std::int64_t lag = io(target).caps.lookup_lag_ms;
    if (lag <= 0 || in_.store.pending_count() == 0) return;
    std::int64_t newest = 0;
    std::size_t pending = 0;
    for (const auto& [key, raw] : wanted) {
      auto intent = in_.store.get_pending(key);
      if (!intent || intent->side != to_string(target)) continue;
      newest = std::max(newest, intent->sent_at_ms);
      ++pending;
    }
    const std::int64_t wait = newest + lag - in_.clock.now_ms();
    if (pending == 0 || wait <= 0) return;
    if (in_.log)
      in_.log(fmt::format("waiting {} ms before looking up {} unconfirmed create(s) at the {} (its lookups lag behind "
                          "its writes)",
                          wait, pending, to_string(target)));
    in_.clock.sleep_ms(std::min(wait, lag));
  }

  // Whether both sides hold the key's record exactly as its base values say, told by digests
  // alone (neither the staged values nor the base values are decoded): the key is linked on
  // both sides to the records read (or not read on a side read only for its changes, which
  // then holds it as the base says), no conflict waits or was resolved for it, and each
  // record read is live, alone under its key and has the digest of the base values.
  //
  // The full merge of such a key decides nothing: every field equals the base on both sides,
  // so nothing is written, the merged base is the base (what the digest compared) and the
  // links stay. It also stores nothing (same_base in plan_merge): not even the modification
  // times read now, which may be newer than the stored ones (a record touched without a
  // change of its values, or the echo of synctool's own write). Those stored times are read
  // only for a side not read this run, whose values are then the base's, so they can never
  // decide a conflict (that takes a change on both sides); skipping the merge is exact.
  // A digest (FNV-1a of the values' CBOR) equal by accident would take a changed record for
  // an unchanged one, the risk the one-way engine takes with the same digest.
  bool unchanged_by_digest(const std::string& key, const std::optional<std::string>& at_source,
                           const std::optional<std::string>& at_destination) const {
    if (conflicts_.contains(key)) return false;
    auto summary = in_.store.get_summary(key);
    if (!summary || !summary->link || !summary->base_hash) return false;
    const state::Link& link = *summary->link;
    if (link.source_id.empty() || link.destination_id.empty()) return false;
    auto as_base = [&](const SideIo& side, const std::optional<std::string>& bytes) {
      if (!bytes) return !side.complete;  // not read, and not gone: as the base says
      const auto record = StagedRecord::peek(*bytes);
      return record.state == StagedRecord::State::live && !record.duplicated && record.id == id_on(link, side.side) &&
             record.values_hash() == *summary->base_hash;
    };
    return as_base(source_, at_source) && as_base(destination_, at_destination);
  }

  void run_chunk(const std::vector<std::string>& keys) {
    std::vector<KeyPlan> plans(keys.size());
    std::vector<Presence> sources(keys.size()), destinations(keys.size());
    // Keys both sides hold as their base values say: nothing to plan (unchanged_by_digest).
    std::vector<bool> settled(keys.size(), false);
    std::vector<std::pair<std::string, std::string>> lookups[2];  // by target side: key, raw match value
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto& plan = plans[i];
      plan.key = keys[i];
      auto at_source = source_.staged->get(plan.key), at_destination = destination_.staged->get(plan.key);
      if (unchanged_by_digest(plan.key, at_source, at_destination)) {
        // Counted as plan_merge counts a key whose merge decided nothing. The plan stays, with
        // nothing to do, so that commit() clears a failed row the key may have had.
        if (at_source || at_destination) ++report_.destination.unchanged;
        settled[i] = true;
        continue;
      }
      plan.old_link = in_.store.get_link(plan.key);
      plan.old_base = in_.store.get_base(plan.key);
      sources[i] = presence(source_, at_source, plan.old_link, plan.old_base);
      destinations[i] = presence(destination_, at_destination, plan.old_link, plan.old_base);
      auto pending = in_.store.get_pending(plan.key);
      for (Side target : {Side::source, Side::destination}) {
        const Presence& there = target == Side::source ? sources[i] : destinations[i];
        const Presence& here = target == Side::source ? destinations[i] : sources[i];
        if (there.kind != Presence::Kind::absent || !here.live()) continue;
        const bool unsure = !io(target).complete || (pending && pending->side == to_string(target));
        if (!unsure) continue;
        const nlohmann::json& values = here.kind == Presence::Kind::present ? here.record.values : plan.old_base->values;
        auto raw = value_at_path(values, spec_.match.destination);
        lookups[target == Side::source ? 0 : 1].emplace_back(plan.key, raw.is_string() ? raw.get<std::string>() : "");
      }
    }
    std::map<std::string, StagedRecord> found[2];
    look_up_before_creating(Side::source, lookups[0], found[0]);
    look_up_before_creating(Side::destination, lookups[1], found[1]);

    std::vector<PlannedWrite> writes;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (settled[i]) continue;
      auto& plan = plans[i];
      Presence& s = sources[i];
      Presence& d = destinations[i];
      for (Side target : {Side::source, Side::destination}) {
        Presence& there = target == Side::source ? s : d;
        auto& map = found[target == Side::source ? 0 : 1];
        if (auto it = map.find(plan.key); it != map.end() && there.kind == Presence::Kind::absent) {
          there.kind = it->second.state == StagedRecord::State::live       ? Presence::Kind::present
                       : it->second.state == StagedRecord::State::excluded ? Presence::Kind::excluded
                                                                           : Presence::Kind::unusable;
          there.id = it->second.id;
          there.record = std::move(it->second);
        }
      }
      using K = Presence::Kind;
      // Out of the filter on either side (a record that left it, or one that never was in it):
      // neither written nor deleted, its link and base kept for when it comes back.
      if (s.kind == K::excluded || d.kind == K::excluded) continue;
      if (s.kind == K::unusable || d.kind == K::unusable) {
        const bool at_source = s.kind == K::unusable;
        const StagedRecord& record = at_source ? s.record : d.record;
        std::string reason = record.duplicated() ? "duplicate match key: records " +
                                                       [&] {
                                                         std::string list;
                                                         for (std::size_t k = 0; k < record.duplicate_ids.size(); ++k)
                                                           list += (k ? ", " : "") + record.duplicate_label(k);
                                                         return list;
                                                       }() +
                                                       " share it; none is synced until only one has it"
                                                 : record.reason;
        reject(at_source ? Side::source : Side::destination, plan.key, record.id, reason);
        continue;
      }
      if (s.live() && d.live()) {
        if (s.kind == K::unchanged && d.kind == K::unchanged && !conflict_resolved(plan.key)) continue;
        plan_merge(writes, i, plan, s, d);
      } else if (s.live() && d.kind == K::absent) {
        plan_create(writes, i, plan, Side::destination, s, plan.old_base);
      } else if (d.live() && s.kind == K::absent) {
        plan_create(writes, i, plan, Side::source, d, plan.old_base);
      } else if (s.live() && d.kind == K::deleted) {
        plan_delete(writes, i, plan, Side::destination, s);
      } else if (d.live() && s.kind == K::deleted) {
        plan_delete(writes, i, plan, Side::source, d);
      } else if (plan.old_link && !s.live() && !d.live() && (s.kind == K::deleted || d.kind == K::deleted)) {
        plan.outcome = KeyPlan::Outcome::erase;  // gone on both sides (or left only where deletes do not flow)
      }
    }
    apply(plans, writes);
  }

  bool conflict_resolved(const std::string& key) const {
    auto it = conflicts_.find(key);
    return it != conflicts_.end() && !it->second.resolution.is_null();
  }

  void count_confirmed(const PlannedWrite& write) {
    SideCounts& counts = io(write.action.target).counts;
    switch (write.action.kind) {
      case Action::Kind::create: ++counts.created; break;
      case Action::Kind::update: ++counts.updated; break;
      case Action::Kind::remove: ++counts.deleted; break;
      default: break;
    }
  }

  void apply(std::vector<KeyPlan>& plans, std::vector<PlannedWrite>& writes) {
    // What a side refuses (a value it cannot hold, an address Mailchimp calls fake) is a
    // reject, found before anything is sent, in a dry run too: diff predicts the run.
    for (auto& write : writes) {
      if (write.op.kind == connectors::OpKind::remove || write.op.kind == connectors::OpKind::archive) continue;
      SideIo& side = io(write.action.target);
      std::string problem = side.connector.write_problem(side.object, write.op);
      if (problem.empty()) continue;
      write.refused = true;
      auto& plan = plans[write.plan];
      plan.refused = true;
      plan.failed_side = write.action.target;
      plan.errors.push_back(fmt::format("{}: {}", to_string(write.action.target), problem));
      write.action.kind = Action::Kind::reject;
      write.action.reason = plan.errors.back();
    }
    for (auto& write : writes)
      if (in_.observer) in_.observer->on_action(write.action);
    if (!writable_) {
      for (const auto& write : writes)
        if (!write.refused) count_confirmed(write);
      for (auto& plan : plans)
        if (plan.refused) count_problem(plan);
      return;
    }
    // Creates are intents until confirmed: a run stopped before the answer looks them up.
    bool any_create = false;
    auto is_create = [](const PlannedWrite& write) {
      return !write.refused && (write.op.kind == connectors::OpKind::create || write.op.kind == connectors::OpKind::upsert);
    };
    for (const auto& write : writes) any_create = any_create || is_create(write);
    if (any_create) {
      auto txn = writable_->begin();
      for (const auto& write : writes)
        if (is_create(write))
          txn->put_pending(write.op.key,
                           {to_string(write.action.target), write.op.fields, in_.clock.now_ms()});
      txn->commit();
    }
    std::exception_ptr fatal;
    for (Side target : {Side::destination, Side::source}) {
      if (fatal) break;
      SideIo& side = io(target);
      std::vector<std::size_t> mine;
      for (std::size_t i = 0; i < writes.size(); ++i)
        if (writes[i].action.target == target && !writes[i].refused) mine.push_back(i);
      const std::size_t batch = std::max<std::size_t>(1, side.caps.max_batch);
      for (std::size_t start = 0; start < mine.size() && !fatal; start += batch) {
        std::vector<connectors::WriteOp> ops;
        const std::size_t end = std::min(mine.size(), start + batch);
        for (std::size_t k = start; k < end; ++k) ops.push_back(writes[mine[k]].op);
        try {
          auto results = side.connector.write(side.object, ops);
          for (std::size_t k = start; k < end; ++k) {
            auto& write = writes[mine[k]];
            auto& plan = plans[write.plan];
            const auto& result = results.at(k - start);
            if (result.ok) {
              if (write.action.kind == Action::Kind::create) id_on(plan.link, target) = result.id;
              ++plan.confirmed;
              count_confirmed(write);
              if (history_run_ != 0) record_history(plan, write, target, result.id);
            } else {
              plan.errors.push_back(fmt::format("{}: {}", to_string(target), result.error));
              plan.error_kind = result.error_kind;
              plan.failed_side = target;
            }
          }
        } catch (const connectors::ConnectorError& e) {
          if (e.kind() != connectors::ErrorKind::transient) {
            fatal = std::current_exception();
            break;
          }
          for (std::size_t k = start; k < end; ++k) {
            auto& plan = plans[writes[mine[k]].plan];
            plan.errors.push_back(fmt::format("{}: {}", to_string(target), e.what()));
            plan.error_kind = connectors::ErrorKind::transient;
            plan.failed_side = target;
            plan.outcome_unknown = true;
          }
        }
      }
    }
    commit(plans);
    if (fatal) std::rethrow_exception(fatal);
    stop_if_requested();
  }

  // A key whose write was refused (a reject) or failed, in the report.
  void count_problem(const KeyPlan& plan, std::optional<bool> failed_before = std::nullopt) {
    const bool is_new = !failed_before.value_or(in_.store.get_failed(plan.key).has_value());
    if (is_new) ++report_.new_problems;
    auto& list = plan.refused ? report_.rejected : report_.failed;
    auto& counts = io(plan.failed_side).counts;
    ++(plan.refused ? counts.rejected : counts.failed);
    if (list.size() < RunReport::kMaxListedProblems)
      list.push_back({plan.key, plan.link.source_id, util_join(plan.errors), is_new});
  }

  void record_history(KeyPlan& plan, const PlannedWrite& write, Side target, const std::string& created_id) {
    const std::string& id = write.action.kind == Action::Kind::create ? created_id : write.op.id;
    std::optional<nlohmann::json> before;
    if (write.op.kind == connectors::OpKind::remove || write.op.kind == connectors::OpKind::archive) {
      if (plan.old_base)
        before = target == Side::source ? nlohmann::json(source_fields(plan.old_base->values)) : plan.old_base->values;
    }
    plan.history.push_back(
        history_write(target, write.op.kind, id, write.action, write.op.fields, before ? &*before : nullptr));
  }

  void commit(std::vector<KeyPlan>& plans) {
    auto txn = writable_->begin();
    for (auto& plan : plans) {
      // The writes a side confirmed happened, also where another failed or was never sent.
      if (!plan.history.empty())
        txn->put_history(history_run_, plan.key, {in_.clock.now_ms(), std::move(plan.history)});
      if (plan.errors.empty() && plan.confirmed < plan.writes) continue;  // not sent: the run stopped first
      if (!plan.errors.empty()) {
        auto previous = in_.store.get_failed(plan.key);
        state::FailedRow row;
        row.source_id = plan.link.source_id;
        row.error = util_join(plan.errors);
        row.kind = plan.error_kind == connectors::ErrorKind::transient ? "transient" : "record";
        row.attempts = previous ? previous->attempts + 1 : 1;
        row.first_seen_ms = previous ? previous->first_seen_ms : in_.clock.now_ms();
        row.last_seen_ms = in_.clock.now_ms();
        if (plan.refused) row.kind = "reject";
        count_problem(plan, previous.has_value());
        txn->put_failed(plan.key, row);
        // A create whose answer was lost keeps its intent; a refused one is over.
        if (!plan.outcome_unknown) txn->erase_pending(plan.key);
        // Ids learned by confirmed creates are kept even though another write failed.
        if (plan.old_link && (plan.link.source_id != plan.old_link->source_id ||
                              plan.link.destination_id != plan.old_link->destination_id) &&
            !plan.link.source_id.empty() && !plan.link.destination_id.empty())
          txn->put_link(plan.key, plan.link);
        continue;
      }
      if (plan.outcome == KeyPlan::Outcome::nothing) {
        // Nothing to write any more: a row that failed or was rejected before is fine now (one
        // rejected again in this chunk is put back below).
        if (in_.store.get_failed(plan.key)) txn->erase_failed(plan.key);
        continue;
      }
      if (plan.outcome == KeyPlan::Outcome::erase) {
        if (plan.old_link || plan.old_base) txn->erase_record(plan.key);
      } else {
        txn->put_record(plan.key, plan.link,
                        state::BaseView{plan.base, values_hash(plan.base), plan.source_modified,
                                        plan.destination_modified, 0});
      }
      txn->erase_pending(plan.key);
      if (in_.store.get_failed(plan.key)) txn->erase_failed(plan.key);
      if (plan.queue)
        txn->put_conflict(plan.key, *plan.queue);
      else if (plan.unqueue || (conflicts_.contains(plan.key) && plan.outcome == KeyPlan::Outcome::erase))
        txn->erase_conflict(plan.key);
    }
    for (auto& [key, row] : rejected_rows_) txn->put_failed(key, row);
    rejected_rows_.clear();
    txn->commit();
  }

  static std::string util_join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
    return out;
  }

  // Every record read is now written, linked or recorded as failed: each side's cursor may
  // advance, and failed rows of records neither side has any more are let go.
  void finish_state() {
    if (!writable_) return;
    auto txn = writable_->begin();
    for (SideIo* side : {&source_, &destination_}) {
      if (side->caps.incremental_read && !side->last_cursor.empty()) {
        txn->set_meta(side->cursor_meta, side->last_cursor);
        if (in_.log) in_.log(fmt::format("{} cursor advanced to {}", to_string(side->side), side->last_cursor));
      }
    }
    txn->set_meta(state::meta::identity_hash, spec_.identity_hash());
    txn->set_meta(state::meta::baseline_done, "1");
    txn->set_meta(state::meta::last_run, report_.started_at);
    if (report_.kind != RunKind::incremental) txn->set_meta(state::meta::last_full_sync, report_.started_at);
    for (auto& [key, row] : rejected_rows_) txn->put_failed(key, row);
    if (source_.complete && destination_.complete) {
      std::vector<std::string> stale;
      in_.store.for_each_failed([&](const std::string& key, const state::FailedRow& row) {
        if (row.kind == "reject" && !rejected_keys_.contains(key) && !source_.staged->contains(key) &&
            !destination_.staged->contains(key) && !in_.store.get_link(key))
          stale.push_back(key);
        return true;
      });
      for (const auto& key : stale) txn->erase_failed(key);
    }
    txn->commit();
  }

  const RunInputs& in_;
  const spec::SyncSpec& spec_;
  const RunOptions& options_;
  RunReport& report_;
  state::StateStore* writable_;
  std::uint64_t history_run_;  // the run's sequence number for the history; 0: none kept
  std::uint64_t decided_ = 0;  // keys merged so far, for the progress line
  RecordMerger merger_;
  DuplicateFinder duplicates_;
  SideIo source_;
  SideIo destination_;
  std::map<std::string, state::Conflict> conflicts_;
  std::vector<std::pair<std::string, state::FailedRow>> rejected_rows_;
  std::unordered_set<std::string> rejected_keys_;  // failure keys rejected again this run
};

}  // namespace

std::string run_two_way(const RunInputs& in, const RunOptions& options, RunReport& report,
                        state::StateStore* writable) {
  return TwoWayPass(in, options, report, writable).run();
}

}  // namespace synctool::engine
