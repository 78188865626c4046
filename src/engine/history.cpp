#include "engine/history.hpp"

#include "engine/report.hpp"
#include "util/clock.hpp"

#include <limits>
#include <optional>

namespace synctool::engine {

namespace {

const char* op_name(connectors::OpKind op) {
  switch (op) {
    case connectors::OpKind::create:
    case connectors::OpKind::upsert: return "create";
    case connectors::OpKind::update: return "update";
    case connectors::OpKind::remove: return "delete";
    case connectors::OpKind::archive: return "archive";
  }
  return "update";
}

nlohmann::json change_json(const FieldChange& change) {
  nlohmann::json j = {{"field", change.field}, {"before", change.old_value}, {"after", change.new_value}};
  if (change.merged) {
    j["rule"] = change.rule;
    j["base"] = change.base_value;
    j["source"] = change.source_value;
    j["destination"] = change.destination_value;
  }
  return j;
}

}  // namespace

nlohmann::json history_write(Side side, connectors::OpKind op, const std::string& id, const Action& action,
                             const nlohmann::json& written, const nlohmann::json* before) {
  // An upsert that found the record is an update (the action says which it was planned as).
  const char* name = op == connectors::OpKind::upsert && action.kind == Action::Kind::update ? "update" : op_name(op);
  nlohmann::json j = {{"side", to_string(side)}, {"op", name}, {"id", id}};
  if (std::string_view(name) == "create") {
    j["after"] = written;
  } else if (std::string_view(name) == "update") {
    auto changes = nlohmann::json::array();
    for (const auto& change : action.changes) changes.push_back(change_json(change));
    j["changes"] = std::move(changes);
  } else {
    j["before"] = before ? *before : nlohmann::json();
  }
  return j;
}

nlohmann::json values_after_create(const nlohmann::json& write, const state::StateStore& store, const std::string& key) {
  if (auto after = write.find("after"); after != write.end()) return *after;
  auto base = store.get_base(key);
  return base ? base->values : nlohmann::json::object();
}

std::uint64_t reserve_run_sequence(state::StateStore& store, const std::string& sync) {
  const std::uint64_t next = store.last_run_sequence() + 1;
  std::optional<std::int64_t> first_write_ms;
  store.for_each_history(next, [&](const std::string&, const state::HistoryEntry& entry) {
    first_write_ms = entry.at_ms;
    return false;
  });
  if (!first_write_ms) return next;
  RunReport killed;
  killed.sync = sync;
  killed.started_ms = *first_write_ms;
  killed.started_at = util::format_iso8601(*first_write_ms);
  killed.exit_code = 137;
  killed.error =
      "ended without recording its report (the process was killed or the machine stopped); the writes it "
      "confirmed are in its history (synctool history, synctool revert)";
  auto stored = killed.to_json();
  stored["kind"] = "unknown";
  stored["killed"] = true;
  auto txn = store.begin();
  txn->put_run(killed.started_ms, stored);
  txn->commit();
  return next + 1;
}

std::int64_t history_cutoff_ms(const spec::SyncSpec& sync, std::int64_t now_ms) {
  if (sync.history_days <= 0) return std::numeric_limits<std::int64_t>::max();
  return now_ms - static_cast<std::int64_t>(sync.history_days) * 24 * 3600 * 1000;
}

}  // namespace synctool::engine
