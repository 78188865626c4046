// Where a push source's rows wait between `synctool ingest` and `synctool run`: the spool of
// deliveries (the source's changes, in the order they arrived) and the latest row of every
// record (what a full read returns). It lives in the sync's state; the command that opens the
// state hands the connector a PushSpool over it (cli/push_spool.hpp), so that the connector
// knows nothing of LMDB.
#pragma once

#include "connectors/push/push_payload.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace synctool::connectors::push {

class PushSpool {
 public:
  virtual ~PushSpool() = default;

  // Calls fn(sequence, at_ms, rows) for every delivery from sequence `from` on, in order, in
  // one snapshot (`at_ms`: when `ingest` took it in); returns the sequence number the next
  // delivery gets as of that snapshot (where a reader of it resumes). Deliveries that arrive
  // meanwhile are left for the next read.
  virtual std::uint64_t read_deliveries(
      std::uint64_t from, const std::function<void(std::uint64_t, std::int64_t, std::vector<PushRow>&&)>& fn) = 0;
  // Calls fn(row, at_ms) for the latest row of every record pushed and not deleted since, in id
  // order, in one snapshot, until fn returns false; returns the next sequence number as of that
  // snapshot.
  virtual std::uint64_t read_latest(const std::function<bool(PushRow&&, std::int64_t)>& fn) = 0;
  // The latest row of one record and when it arrived; nullopt when none was pushed or it was
  // deleted since.
  virtual std::optional<std::pair<PushRow, std::int64_t>> latest(const std::string& id) = 0;
};

// How a row is kept in the state: {"i": id, "f": fields}, plus "d": true for a tombstone and,
// as a record's latest row, "t": when it arrived (ms).
Json spool_form(const PushRow& row, std::int64_t at_ms = 0);
// The row back (and "t", 0 when absent); throws PayloadError when `stored` is not such an object.
PushRow row_from_spool(Json&& stored, std::int64_t* at_ms = nullptr);

}  // namespace synctool::connectors::push
