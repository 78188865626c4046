// What a run's confirmed writes leave in each record's history (state::HistoryEntry), which
// `synctool history` shows and `synctool revert` undoes. Built by the one-way applier and the
// two-way pass once a side confirmed the write, committed with the batch's state changes.
#pragma once

#include "connectors/connector.hpp"
#include "engine/plan.hpp"
#include "spec/spec.hpp"
#include "state/store.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace synctool::engine {

// One write: its side, the operation sent ("create", "update", "delete", "archive"; an upsert
// that created is a "create"), the record's id on that side, and
//   create: "after", the values written; a one-way create leaves them out (the applier): they
//           are the record's base values until a later run writes it, and then that run's
//           entry holds them as "before" (values_after_create() reads them back);
//   update: "changes", field by field (before, after; for a merge also the rule and the base
//           and both sides' values it weighed);
//   delete / archive: "before", the values the record had (`before` may be null when unknown).
nlohmann::json history_write(Side side, connectors::OpKind op, const std::string& id, const Action& action,
                             const nlohmann::json& written, const nlohmann::json* before);

// The values a create wrote: its "after", or for a one-way create that left them out, the key's
// base values in `store` (what the create wrote, as long as no later run wrote the record).
nlohmann::json values_after_create(const nlohmann::json& write, const state::StateStore& store, const std::string& key);

// The sequence number the next run of `sync` is recorded under (its writes' history goes
// there). A run killed before it recorded its report left history under that number: that run
// is recorded first, as one that ended without a report (exit_code 137, what a shell shows for
// SIGKILL), so that its writes stay its own and can be reverted.
std::uint64_t reserve_run_sequence(state::StateStore& store, const std::string& sync);

// History entries written before this instant are pruned (history_days after `now_ms`).
std::int64_t history_cutoff_ms(const spec::SyncSpec& sync, std::int64_t now_ms);

// Whether the sync keeps history at all (history_days > 0).
inline bool keeps_history(const spec::SyncSpec& sync) { return sync.history_days > 0; }

}  // namespace synctool::engine
