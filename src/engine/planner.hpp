// The one planner shared by `diff` and `run`: compares staged source records with the links
// and base values in state (and, on full runs, with the destination's records) and decides
// an Action per match key. Memory use does not grow with the object: it walks sorted staging
// tables and looks state up per key.
#pragma once

#include "connectors/connector.hpp"
#include "engine/compiled_sync.hpp"
#include "engine/plan.hpp"
#include "engine/staged_record.hpp"
#include "state/staging.hpp"
#include "state/store.hpp"
#include "util/clock.hpp"

#include <functional>
#include <optional>

namespace synctool::engine {

struct PlanInputs {
  const CompiledSync& sync;
  const state::StateStore& store;
  connectors::Connector& destination;          // for lookups before creates
  const connectors::Capabilities& destination_caps;
  const state::Staging& source;                // staged source records
  const state::Staging* destination_records;   // the whole destination, on full runs; else null
  bool source_complete;                        // `source` holds every source record (full scan)
  const util::Clock& clock;                    // waits out destination_caps.lookup_lag_ms
  std::function<void(const std::string&)> log;  // progress lines for -v; may be empty
  // Called before the planner asks the destination anything itself (checks and lookups), so
  // that nothing else is using it then (the applier's sending thread); may be empty.
  std::function<void()> settle_destination;
};

class Planner {
 public:
  explicit Planner(PlanInputs inputs)
      : in_(inputs), any_failed_(in_.store.failed_count() > 0), any_pending_(in_.store.pending_count() > 0) {}

  // The deletes the plan will contain, counted without any lookup (for the safeguards). Up to
  // kRememberedDeletes of them are kept for plan(), which then does not look for them again.
  std::size_t count_deletes();

  // Emits every action: per key in order, creates/updates/links/rejects first, then deletes.
  // Lookups at the destination are batched to the connector's maximum.
  void plan(const std::function<void(Action&&)>& sink);

 private:
  bool mirror_deletes() const;
  void plan_staged(const std::string& key, StagedRecord&& record, const std::function<void(Action&&)>& sink);
  void plan_against_destination(Action action, const std::optional<StagedRecord>& existing,
                                const std::function<void(Action&&)>& sink);
  void flush_lookups(const std::function<void(Action&&)>& sink);
  void wait_for_lookup_lag() const;
  void for_each_delete(const std::function<void(Action&&)>& sink) const;
  // Whether `key` had a failed row before this run (an empty table is never looked up).
  bool had_failed(const std::string& key) const { return any_failed_ && in_.store.get_failed(key).has_value(); }

  static constexpr std::size_t kRememberedDeletes = 20000;

  PlanInputs in_;
  bool any_failed_;
  bool any_pending_;
  std::vector<Action> awaiting_lookup_;  // unlinked records whose destination state is unknown
  std::optional<std::vector<Action>> counted_deletes_;  // found by count_deletes(), when few
};

}  // namespace synctool::engine
