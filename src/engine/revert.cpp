#include "engine/revert.hpp"

#include "engine/history.hpp"
#include "engine/values.hpp"
#include "util/json_path.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace synctool::engine {

namespace {

// One write of the run being reverted, as its history recorded it.
struct RecordedWrite {
  std::string key;
  Side side = Side::destination;
  std::string op;
  std::string id;
  nlohmann::json write;
};

Side side_named(const std::string& name) { return name == "source" ? Side::source : Side::destination; }

connectors::Connector& connector_of(const RevertInputs& in, Side side) {
  return side == Side::source ? in.source : in.destination;
}
const connectors::ObjectRef& object_of(const RevertInputs& in, Side side) {
  return side == Side::source ? in.sync.source_object() : in.sync.destination_object();
}
const std::string& match_field_of(const RevertInputs& in, Side side) {
  return side == Side::source ? in.sync.spec().match.source : in.sync.spec().match.destination;
}

// The leaves of a values object as dotted paths (the form [field_map] and the history use).
void leaves(const nlohmann::json& values, const std::string& prefix, std::vector<std::pair<std::string, nlohmann::json>>& out) {
  for (const auto& item : values.items()) {
    std::string path = prefix.empty() ? item.key() : prefix + "." + item.key();
    if (item.value().is_object() && !item.value().empty())
      leaves(item.value(), path, out);
    else
      out.emplace_back(std::move(path), item.value());
  }
}

nlohmann::json value_at(const nlohmann::json& fields, const std::string& path) {
  const auto* found = util::json_get_path(fields, path);
  return found ? *found : nlohmann::json();
}

std::string shown(const nlohmann::json& value) { return value.is_null() ? "(empty)" : value.dump(); }

// Looks `values` up on `side` by `field`, in chunks of the side's maximum.
std::vector<connectors::Record> look_up(const RevertInputs& in, Side side, const std::string& field,
                                        const std::vector<std::string>& values) {
  auto& connector = connector_of(in, side);
  const auto& object = object_of(in, side);
  const std::size_t chunk = std::max<std::size_t>(1, connector.capabilities(object).max_lookup);
  std::vector<connectors::Record> found;
  for (std::size_t i = 0; i < values.size(); i += chunk) {
    std::vector<std::string> part(values.begin() + static_cast<std::ptrdiff_t>(i),
                                  values.begin() + static_cast<std::ptrdiff_t>(std::min(values.size(), i + chunk)));
    for (auto& record : connector.lookup(object, field, part)) {
      connectors::take_row_into_fields(record);
      found.push_back(std::move(record));
    }
  }
  return found;
}

}  // namespace

RevertPlan plan_revert(const RevertInputs& in, std::uint64_t run) {
  const auto& spec = in.sync.spec();
  RevertPlan plan;
  plan.run = run;
  bool known = false;
  for (const auto& recorded : in.store.runs(0)) {
    if (recorded.value("run", std::uint64_t{0}) != run) continue;
    known = true;
    plan.run_started_at = recorded.value("started_at", "");
    if (recorded.value("kind", "") == "revert")
      plan.run_started_at += " (itself a revert: reverting it writes the run's values again)";
  }
  if (!known)
    throw RevertError(fmt::format("'{}' has no run {} (synctool runs {} lists them with their numbers)", spec.name, run,
                                  spec.name));

  std::vector<RecordedWrite> writes;
  std::unordered_set<std::string> keys;
  in.store.for_each_history(run, [&](const std::string& key, const state::HistoryEntry& entry) {
    keys.insert(key);
    for (const auto& write : entry.writes)
      writes.push_back({key, side_named(write.value("side", "")), write.value("op", ""), write.value("id", ""), write});
    return true;
  });
  if (writes.empty())
    throw RevertError(
        spec.history_days == 0
            ? fmt::format("'{}' keeps no history (history_days = 0), so run {} cannot be reverted", spec.name, run)
            : fmt::format("run {} of '{}' has no writes in the history: it wrote nothing, or it is older than "
                          "history_days = {} and its history was pruned",
                          run, spec.name, spec.history_days));

  // A record a later run wrote again would lose that write too: refused.
  std::map<std::string, std::uint64_t> written_later;
  const std::uint64_t last = in.store.last_run_sequence();
  for (std::uint64_t later = run + 1; later <= last; ++later)
    in.store.for_each_history(later, [&](const std::string& key, const state::HistoryEntry&) {
      if (keys.contains(key)) written_later.emplace(key, later);
      return true;
    });

  // What each side holds now: records by id (creates, updates), and by match value (deletes).
  std::map<Side, std::vector<std::string>> ids, match_values;
  for (const auto& w : writes) {
    if (written_later.contains(w.key)) continue;
    if (w.op == "create" || w.op == "update") {
      if (!w.id.empty()) ids[w.side].push_back(w.id);
    } else if (w.op == "delete") {
      match_values[w.side].push_back(w.key);
      auto original = value_at(w.write.value("before", nlohmann::json::object()), match_field_of(in, w.side));
      if (original.is_string() && original.get<std::string>() != w.key)
        match_values[w.side].push_back(original.get<std::string>());
    }
  }
  std::map<Side, std::unordered_map<std::string, connectors::Record>> by_id;
  std::map<Side, std::unordered_map<std::string, std::string>> id_by_key;
  for (auto& [side, list] : ids)
    for (auto& record : look_up(in, side, connectors::kNativeIdField, list)) by_id[side].emplace(record.id, std::move(record));
  for (auto& [side, list] : match_values) {
    const std::string& field = match_field_of(in, side);
    for (auto& record : look_up(in, side, field, list)) {
      id_by_key[side].emplace(in.sync.mapper().normalize_key(value_at(record.fields, field)), record.id);
    }
  }

  for (auto& w : writes) {
    auto refuse = [&](std::string reason) { plan.refused.push_back({w.key, w.side, std::move(reason)}); };
    if (auto later = written_later.find(w.key); later != written_later.end()) {
      refuse(fmt::format("run {} wrote it again since; revert that run first", later->second));
      continue;
    }
    auto& connector = connector_of(in, w.side);
    const auto caps = connector.capabilities(object_of(in, w.side));
    RevertStep step;
    step.key = w.key;
    step.side = w.side;
    step.undoes = w.op;
    step.id = w.id;
    if (w.op == "create" || w.op == "update") {
      auto current = by_id[w.side].find(w.id);
      if (current == by_id[w.side].end()) {
        if (w.op == "create") {
          ++plan.already_undone;  // the record the run created is gone already
        } else {
          refuse(fmt::format("the {} no longer has record {}", to_string(w.side), w.id));
        }
        continue;
      }
      const auto& now = current->second.fields;
      std::optional<std::string> changed;
      if (w.op == "create") {
        std::vector<std::pair<std::string, nlohmann::json>> written;
        leaves(values_after_create(w.write, in.store, w.key), "", written);
        for (const auto& [field, value] : written)
          if (!changed && !values_equal(value_at(now, field), value))
            changed = fmt::format("{} is {} now, the run wrote {}", field, shown(value_at(now, field)), shown(value));
        if (!changed) {
          if (caps.hard_delete)
            step.op = connectors::OpKind::remove;
          else if (caps.archive)
            step.op = connectors::OpKind::archive;
          else
            changed = "the " + std::string(to_string(w.side)) + " cannot delete records";
        }
      } else {
        step.op = connectors::OpKind::update;
        for (const auto& change : w.write.value("changes", nlohmann::json::array())) {
          const std::string field = change.value("field", "");
          const auto after = change.value("after", nlohmann::json());
          const auto before = change.value("before", nlohmann::json());
          const auto current_value = value_at(now, field);
          if (!values_equal(current_value, after)) {
            changed = fmt::format("{} is {} now, the run wrote {}", field, shown(current_value), shown(after));
            break;
          }
          util::json_set_path(step.fields, field, before);
          FieldChange restored;
          restored.field = field;
          restored.old_value = current_value;
          restored.new_value = before;
          step.changes.push_back(std::move(restored));
        }
      }
      if (changed) {
        refuse("changed since the run: " + *changed);
        continue;
      }
      if (w.op == "create") step.fields = now;  // what the delete removes, for the revert's own history
    } else {  // delete, archive
      auto before = w.write.value("before", nlohmann::json());
      if (!before.is_object() || before.empty()) {
        refuse("the run's history does not hold the values the record had");
        continue;
      }
      if (w.op == "delete") {
        if (auto again = id_by_key[w.side].find(w.key); again != id_by_key[w.side].end()) {
          refuse(fmt::format("the {} has it again (id {})", to_string(w.side), again->second));
          continue;
        }
      }
      step.op = caps.native_upsert ? connectors::OpKind::upsert : connectors::OpKind::create;
      step.id.clear();
      step.fields = std::move(before);
    }
    plan.steps.push_back(std::move(step));
  }
  return plan;
}

RunReport apply_revert(const RevertInputs& in, RevertPlan& plan) {
  const auto& spec = in.sync.spec();
  RunReport report;
  report.sync = spec.name;
  report.kind = RunKind::revert;
  report.direction = spec::to_string(spec.direction);
  report.mode = spec::to_string(spec.mode);
  report.started_ms = in.clock.now_ms();
  report.started_at = util::format_iso8601(report.started_ms);
  const auto started_steady = in.clock.steady_ms();
  report.run = reserve_run_sequence(in.store, spec.name);
  report.notes.push_back(fmt::format("reverts run {} ({})", plan.run, plan.run_started_at));
  const bool one_way = spec.direction == spec::Direction::one_way;
  const std::uint64_t history_run = keeps_history(spec) ? report.run : 0;

  for (const auto& refusal : plan.refused) {
    auto& counts = refusal.side == Side::source ? report.source : report.destination;
    ++counts.rejected;
    if (report.rejected.size() < RunReport::kMaxListedProblems)
      report.rejected.push_back({refusal.key, "", "not reverted: " + refusal.reason, true});
  }
  report.new_problems = plan.refused.size();

  std::exception_ptr fatal;
  for (Side side : {Side::destination, Side::source}) {
    if (fatal) break;
    auto& connector = connector_of(in, side);
    const auto& object = object_of(in, side);
    auto& counts = side == Side::source ? report.source : report.destination;
    std::vector<RevertStep*> mine;
    for (auto& step : plan.steps)
      if (step.side == side) mine.push_back(&step);
    const std::size_t batch = std::max<std::size_t>(1, connector.capabilities(object).max_batch);
    for (std::size_t start = 0; start < mine.size() && !fatal; start += batch) {
      const std::size_t end = std::min(mine.size(), start + batch);
      std::vector<connectors::WriteOp> ops;
      for (std::size_t i = start; i < end; ++i) {
        connectors::WriteOp op;
        op.kind = mine[i]->op;
        op.key = mine[i]->key;
        op.id = mine[i]->id;
        if (op.kind != connectors::OpKind::remove && op.kind != connectors::OpKind::archive) op.fields = mine[i]->fields;
        ops.push_back(std::move(op));
      }
      std::vector<connectors::WriteResult> results;
      std::string batch_error;
      try {
        for (std::size_t i = 0; i < ops.size() && batch_error.empty(); ++i)
          if (auto problem = connector.write_problem(object, ops[i]); !problem.empty())
            batch_error = fmt::format("{}: {}", ops[i].key, problem);
        if (batch_error.empty()) results = connector.write(object, ops);
      } catch (const connectors::ConnectorError& e) {
        if (e.kind() != connectors::ErrorKind::transient) fatal = std::current_exception();
        batch_error = e.what();
      }
      auto txn = in.store.begin();
      const std::int64_t now_ms = in.clock.now_ms();
      for (std::size_t i = start; i < end; ++i) {
        RevertStep& step = *mine[i];
        const connectors::WriteResult* result = results.size() == ops.size() ? &results[i - start] : nullptr;
        if (!result || !result->ok) {
          ++counts.failed;
          ++report.new_problems;
          if (report.failed.size() < RunReport::kMaxListedProblems)
            report.failed.push_back({step.key, "", result ? result->error : batch_error, true});
          continue;
        }
        const std::string id = result->id.empty() ? step.id : result->id;
        Action action;
        action.kind = step.op == connectors::OpKind::update ? Action::Kind::update : Action::Kind::create;
        action.changes = step.changes;
        if (step.op == connectors::OpKind::update) ++counts.updated;
        else if (step.op == connectors::OpKind::remove || step.op == connectors::OpKind::archive) ++counts.deleted;
        else ++counts.created;
        if (history_run != 0)
          txn->put_history(history_run, step.key,
                           {now_ms, nlohmann::json::array({history_write(side, step.op, id, action, step.fields,
                                                                         &step.fields)})});
        if (!one_way || side != Side::destination) continue;
        if (step.undoes == "create") {
          txn->erase_record(step.key);
        } else if (step.undoes == "update") {
          if (auto base = in.store.get_base(step.key)) {
            for (const auto& change : step.changes) util::json_set_path(base->values, change.field, change.new_value);
            base->hash = values_hash(base->values);
            base->source_digest = 0;  // the source record no longer maps to these values
            txn->put_base(step.key, *base);
          }
        }
      }
      txn->commit();
    }
  }
  report.duration_s = static_cast<double>(in.clock.steady_ms() - started_steady) / 1000.0;
  report.exit_code = report.new_problems > 0 ? exit_code::rows_failed : exit_code::ok;
  if (fatal) {
    try {
      std::rethrow_exception(fatal);
    } catch (const std::exception& e) {
      report.exit_code = exit_code::connection;
      report.error = e.what();
    }
  }
  auto txn = in.store.begin();
  txn->put_run(report.started_ms, report.to_json());
  txn->prune_history(history_cutoff_ms(spec, in.clock.now_ms()));
  txn->commit();
  return report;
}

}  // namespace synctool::engine
