#include "cli/push_spool.hpp"

#include <charconv>

namespace synctool::cli {

namespace push = connectors::push;

namespace {

// A row as the state holds it; a row that is not what spool_form() wrote is damage.
push::PushRow decode_row(nlohmann::json&& stored, std::string_view where, std::int64_t* at_ms = nullptr) {
  try {
    return push::row_from_spool(std::move(stored), at_ms);
  } catch (const push::PayloadError& e) {
    throw state::StateError("the state's " + std::string(where) + " holds a damaged row: " + e.what(),
                            state::StateProblem::damaged);
  }
}

}  // namespace

StatePushSpool::StatePushSpool(state::StateStore& store, bool writable, std::int64_t delivery_ids_kept_ms,
                               const util::Clock& clock)
    : store_(store), writable_(writable), delivery_ids_kept_ms_(delivery_ids_kept_ms), clock_(clock) {}

void StatePushSpool::drain_applied() {
  if (drained_ || !writable_) return;
  drained_ = true;
  std::uint64_t applied_before = 0;  // no cursor yet: nothing is known applied
  if (auto cursor = store_.get_meta(state::meta::source_cursor)) {
    auto [end, ec] = std::from_chars(cursor->data(), cursor->data() + cursor->size(), applied_before);
    if (ec != std::errc() || end != cursor->data() + cursor->size()) applied_before = 0;
  }
  auto txn = store_.begin();
  txn->drain_spool(applied_before, clock_.now_ms() - delivery_ids_kept_ms_);
  txn->commit();
}

std::uint64_t StatePushSpool::read_deliveries(
    std::uint64_t from, const std::function<void(std::uint64_t, std::int64_t, std::vector<push::PushRow>&&)>& fn) {
  drain_applied();
  return store_.for_each_spooled(from, [&](std::uint64_t sequence, const state::SpooledDelivery& delivery) {
    std::vector<push::PushRow> rows;
    rows.reserve(delivery.rows.size());
    for (const auto& row : delivery.rows) rows.push_back(decode_row(nlohmann::json(row), "spool"));
    fn(sequence, delivery.at_ms, std::move(rows));
    return true;
  });
}

std::uint64_t StatePushSpool::read_latest(const std::function<bool(push::PushRow&&, std::int64_t)>& fn) {
  drain_applied();
  return store_.for_each_pushed([&](const std::string&, const nlohmann::json& row) {
    std::int64_t at_ms = 0;
    auto decoded = decode_row(nlohmann::json(row), "pushed rows", &at_ms);
    return fn(std::move(decoded), at_ms);
  });
}

std::optional<std::pair<push::PushRow, std::int64_t>> StatePushSpool::latest(const std::string& id) {
  auto row = store_.get_pushed(id);
  if (!row) return std::nullopt;
  std::int64_t at_ms = 0;
  auto decoded = decode_row(std::move(*row), "pushed rows", &at_ms);
  return std::pair{std::move(decoded), at_ms};
}

std::optional<std::size_t> spool_waiting(const state::StateStore& store) {
  if (!store.get_meta(state::meta::spool_next)) return std::nullopt;
  std::uint64_t from = 1;
  if (auto cursor = store.get_meta(state::meta::source_cursor)) {
    auto [end, ec] = std::from_chars(cursor->data(), cursor->data() + cursor->size(), from);
    if (ec != std::errc() || end != cursor->data() + cursor->size()) from = 1;
  }
  std::size_t waiting = 0;
  store.for_each_spooled(from, [&](std::uint64_t, const state::SpooledDelivery&) {
    ++waiting;
    return true;
  });
  return waiting;
}

state::SpoolAppend spool_delivery(state::StateStore& store, const push::Delivery& delivery, std::int64_t at_ms) {
  state::SpooledDelivery spooled;
  spooled.at_ms = at_ms;
  spooled.delivery_id = delivery.id.value_or("");
  for (const auto& row : delivery.rows) spooled.rows.push_back(push::spool_form(row));
  auto txn = store.begin();
  auto result = txn->spool(spooled);
  if (result.duplicate) return result;  // the transaction goes unused
  for (std::size_t i = 0; i < delivery.rows.size(); ++i) {
    const auto& row = delivery.rows[i];
    if (row.deleted)
      txn->erase_pushed(row.id);
    else
      txn->put_pushed(row.id, push::spool_form(row, at_ms));
  }
  txn->commit();
  return result;
}

}  // namespace synctool::cli
