// How records are kept in a run's staging tables (state/staging.hpp), keyed by match key.
#pragma once

#include "state/staging.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::engine {

struct StagedRecord {
  enum class State {
    live,      // a record to sync
    deleted,   // a tombstone from the source
    excluded,  // read, but the filter leaves it out
    rejected,  // cannot be written (schema violation, unreadable record); `reason` says why
    // Live, and by its source digest the record the state's base values were mapped from
    // (an incremental run's fast path): staged without values, planned as unchanged.
    unchanged,
  };
  State state = State::live;
  std::string id;                       // native id
  std::string origin;                   // where it was read ("line 17"), "" when the id says it
  nlohmann::json values;                // mapped values (source) / projected values (destination)
  std::string modified;                 // modified_at
  std::string reason;                   // rejected: why
  std::uint64_t source_digest = 0;      // engine::source_digest of the source record; 0 = none
  // Every record sharing this key (>= 2 when duplicated): native ids and, beside them, where
  // each was read (ids repeat where a connector's ids are not unique, e.g. CSV key columns).
  std::vector<std::string> duplicate_ids;
  std::vector<std::string> duplicate_origins;

  // Filled by decode(): engine::values_hash(values), read off the stored bytes (they are the
  // values' CBOR) instead of encoding the values again.
  std::string values_hash;
  // decode(bytes, false) leaves `values` null and keeps their CBOR here, a view into the
  // bytes (valid while they are): an unchanged record is told by its digest and never decoded.
  std::string_view values_cbor;

  bool duplicated() const { return duplicate_ids.size() > 1; }
  // "'id'" or "line 17": how a message names the i-th duplicate.
  std::string duplicate_label(std::size_t i) const;

  // The staged form: the state, the texts and the duplicate lists behind their lengths, then
  // the values as CBOR. Compact, and decoded without building a JSON document around them.
  std::string encode() const;
  // Throws state::StateError (damaged) when the bytes are not what encode() writes.
  static StagedRecord decode(std::string_view bytes, bool with_values = true);
  // Decodes the values decode(bytes, false) left in values_cbor.
  void decode_values();
  // Only the state, from the first byte: for counts and filters that need nothing else.
  static State decode_state(std::string_view bytes);

  // What tells a record unchanged, read off the bytes without building anything: views into
  // them, valid while they are.
  struct Peek {
    State state = State::live;
    bool duplicated = false;
    std::string_view id;
    std::string_view values_cbor;
    // values_hash as decode() gives it (16 hex digits, "" without values).
    std::string values_hash() const;
  };
  // Throws state::StateError (damaged) when the bytes are not what encode() writes.
  static Peek peek(std::string_view bytes);
};

// Adds a record to a staging table under its key. A second record with the same key marks both
// as duplicates, unless it is the same record read again (the same id where the connector's ids
// are unique: `unique_ids`).
void add_staged(state::Staging& staging, const std::string& key, const StagedRecord& record, bool unique_ids);

}  // namespace synctool::engine
