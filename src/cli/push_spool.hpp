// A push source's spool in the sync's state (state db `spool`, `delivery_ids`, `pushed`), as the
// push connector reads it (connectors/push/push_spool.hpp), and how `synctool ingest` adds a
// delivery to it.
#pragma once

#include "connectors/push/push_spool.hpp"
#include "state/store.hpp"
#include "util/clock.hpp"

namespace synctool::cli {

// Reads for a run or diff. A writable spool first drains what the last run applied: the
// deliveries before the committed source cursor (every row of them is applied or kept in
// `failed`, whose retry reads the latest row), and the delivery ids older than
// `delivery_ids_kept_ms`.
class StatePushSpool final : public connectors::push::PushSpool {
 public:
  StatePushSpool(state::StateStore& store, bool writable, std::int64_t delivery_ids_kept_ms, const util::Clock& clock);

  std::uint64_t read_deliveries(
      std::uint64_t from,
      const std::function<void(std::uint64_t, std::int64_t, std::vector<connectors::push::PushRow>&&)>& fn) override;
  std::uint64_t read_latest(const std::function<bool(connectors::push::PushRow&&, std::int64_t)>& fn) override;
  std::optional<std::pair<connectors::push::PushRow, std::int64_t>> latest(const std::string& id) override;

 private:
  void drain_applied();

  state::StateStore& store_;
  bool writable_;
  std::int64_t delivery_ids_kept_ms_;
  const util::Clock& clock_;
  bool drained_ = false;
};

// How many deliveries of a push source's spool no run has applied yet (from the source cursor
// on); nullopt for a state that never took a delivery.
std::optional<std::size_t> spool_waiting(const state::StateStore& store);

// Spools one delivery in one transaction: the delivery under the next sequence number and each
// row as its record's latest (a tombstone removes it). A delivery whose id was spooled before
// changes nothing (`duplicate`). When this returns, the delivery is on disk.
state::SpoolAppend spool_delivery(state::StateStore& store, const connectors::push::Delivery& delivery,
                                  std::int64_t at_ms);

}  // namespace synctool::cli
