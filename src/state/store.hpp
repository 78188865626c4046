// The state of one sync (DESIGN section 3): links, base values, cursors, pending create
// intents, failed rows, conflicts and run history. StateStore is an interface so the engine
// can be tested in memory (memory_store.hpp); lmdb_store.hpp is the real one.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::state {

// What kind of local failure a StateError is. `damaged` is the only kind that
// `synctool state reset` answers by removing the state files: the others (a full disk, a
// read-only file system, a missing permission, an I/O error) are the machine's, not the
// file's, and removing the state would not fix them.
enum class StateProblem { other, damaged, no_space, read_only, permission, io };

// The state cannot be read or written: the file is corrupt or truncated, the disk is full,
// a permission is missing. A local failure (exit 7), never retried by the run.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  StateError(const std::string& what, StateProblem problem) : std::runtime_error(what), problem_(problem) {}
  StateProblem problem() const { return problem_; }

 private:
  StateProblem problem_ = StateProblem::other;
};

// Which records are the same record. Either id may be empty while only one side is known.
struct Link {
  std::string source_id;
  std::string destination_id;
};

// The last values synctool saw agreeing on both sides, in destination field names (the
// mapped record), with a digest for quick comparison and each side's modification time.
struct BaseValue {
  nlohmann::json values = nlohmann::json::object();
  std::string hash;
  std::string source_modified;
  std::string destination_modified;
  // engine::source_digest of the source record these values were mapped from; 0 = unknown.
  std::uint64_t source_digest = 0;
};

// Base values lent to one write (put_record) instead of copied into a BaseValue.
struct BaseView {
  const nlohmann::json& values;
  std::string_view hash;
  std::string_view source_modified;
  std::string_view destination_modified;
  std::uint64_t source_digest = 0;
};

// What a run compares a record by: its link and the digest of its base values, read without
// decoding the values.
struct RecordSummary {
  std::optional<Link> link;
  std::optional<std::string> base_hash;
  std::uint64_t source_digest = 0;  // of the source record behind the base values; 0 = unknown
};

// Which reverse indexes (a side's native id -> match key) the state keeps. A sync needs one
// only where records of that side arrive by native id alone (tombstones, records the filter
// leaves out); key_for_*_id() answers without it too, from a scan of the records.
struct IdIndexes {
  bool source = true;
  bool destination = true;
  bool operator==(const IdIndexes&) const = default;
};

// A create (or delete) that was sent but not yet confirmed. Resolved by lookup on the next run.
struct PendingIntent {
  std::string side;  // "destination" (or "source" when bidirectional writes back)
  nlohmann::json values = nlohmann::json::object();
  std::int64_t sent_at_ms = 0;
  // A delete: the record's link may name a record that is gone (the delete went through, the
  // run died before its commit), so the next run that writes the key looks it up first.
  bool remove = false;
};

struct FailedRow {
  std::string source_id;
  std::string error;
  std::string kind;  // "record" | "transient" | "reject"
  int attempts = 0;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  // The destination record a failed delete was to remove. Incremental runs retry it from here:
  // a record the source no longer has is not re-read, and may never have been linked.
  std::string delete_id;
};

// Fields of one record that both sides changed to different values under strategy = "manual",
// each keyed by its destination path (a flat object: {"merge_fields.FNAME": ...}).
struct Conflict {
  nlohmann::json source_values = nlohmann::json::object();
  nlohmann::json destination_values = nlohmann::json::object();
  std::int64_t seen_ms = 0;
  nlohmann::json base_values = nlohmann::json::object();  // what both sides agreed on before
  // Set by `synctool conflicts resolve`: the value each field is to take on both sides (the
  // next run writes it); null while the conflict waits.
  nlohmann::json resolution;
};

// One record's writes in one run (DESIGN section 3, `history`): what `synctool history` shows
// and `synctool revert` undoes. `writes` is an array of objects, one per write:
//   {"side": "destination"|"source", "op": "create"|"update"|"delete"|"archive", "id": ...,
//    "after": {...} (create), "before": {...} (delete, archive: the values it had),
//    "changes": [{"field", "before", "after", and for two-way merges "rule", "base", "source",
//                 "destination"}] (update)}
struct HistoryEntry {
  std::int64_t at_ms = 0;
  nlohmann::json writes = nlohmann::json::array();
};

// One delivery of a push source as the spool keeps it (DESIGN section 3, `spool`): its rows in
// the connector's form, when `synctool ingest` took it in, and the sender's delivery id ("" when
// the sender gives none).
struct SpooledDelivery {
  std::int64_t at_ms = 0;
  std::string delivery_id;
  nlohmann::json rows = nlohmann::json::array();
};

// What WriteTxn::spool() did: the delivery's sequence number, or (duplicate) the number of the
// earlier delivery with the same id, when nothing was written.
struct SpoolAppend {
  std::uint64_t sequence = 0;
  bool duplicate = false;
};

// A failed row whose record has no match key (the field is empty) is kept in `failed` under
// its source id behind a NUL byte: no match key contains one (the mapper refuses them).
inline std::string unkeyed_failure_key(std::string_view source_id) {
  std::string key(1, '\0');
  key += source_id;
  return key;
}
inline bool is_unkeyed_failure_key(std::string_view key) { return !key.empty() && key.front() == '\0'; }

// One atomic group of changes. Nothing is visible to readers until commit(); destroying an
// uncommitted transaction discards it.
class WriteTxn {
 public:
  virtual ~WriteTxn() = default;
  virtual void put_link(const std::string& key, const Link& link) = 0;  // maintains reverse ids
  virtual void erase_link(const std::string& key) = 0;
  virtual void put_base(const std::string& key, const BaseValue& base) = 0;
  virtual void erase_base(const std::string& key) = 0;
  // A record's link and base values at once (one write where the store keeps them together).
  virtual void put_record(const std::string& key, const Link& link, const BaseView& base) {
    put_link(key, link);
    put_base(key, BaseValue{base.values, std::string(base.hash), std::string(base.source_modified),
                            std::string(base.destination_modified), base.source_digest});
  }
  // Records that the source record with this digest maps to the key's base values (a record
  // found unchanged the slow way). Nothing happens when the key has no base values.
  virtual void set_source_digest(const std::string& key, std::uint64_t digest) = 0;
  virtual void erase_record(const std::string& key) {
    erase_link(key);
    erase_base(key);
  }
  // Builds the reverse indexes `wanted` asks for that are missing and drops the others.
  virtual void keep_id_indexes(IdIndexes wanted) = 0;
  virtual void put_pending(const std::string& key, const PendingIntent& intent) = 0;
  virtual void erase_pending(const std::string& key) = 0;
  virtual void put_failed(const std::string& key, const FailedRow& row) = 0;
  virtual void erase_failed(const std::string& key) = 0;
  virtual void put_conflict(const std::string& key, const Conflict& conflict) = 0;
  virtual void erase_conflict(const std::string& key) = 0;
  virtual void set_meta(const std::string& name, const std::string& value) = 0;
  virtual void erase_meta(const std::string& name) = 0;
  // Records a run under the next run sequence number (`started_ms` is kept inside the report
  // only: two runs with the same start time are two runs).
  virtual void put_run(std::int64_t started_ms, const nlohmann::json& report) = 0;
  // A record's writes in run number `run` (the sequence number put_run will give that run).
  virtual void put_history(std::uint64_t run, const std::string& key, const HistoryEntry& entry) = 0;
  // Removes the history of the oldest runs, entry by entry in run order, up to the first entry
  // written at or after `cutoff_ms`; returns how many entries went.
  virtual std::size_t prune_history(std::int64_t cutoff_ms) = 0;
  // Push sources. Appends a delivery under the next spool sequence number (1, 2, ...; never
  // reused, also once drained), and remembers its delivery id; a delivery whose id was spooled
  // before writes nothing and comes back as a duplicate.
  virtual SpoolAppend spool(const SpooledDelivery& delivery) = 0;
  // The latest row pushed for a record (`pushed`: what a full read of a push source returns).
  virtual void put_pushed(const std::string& id, const nlohmann::json& row) = 0;
  virtual void erase_pushed(const std::string& id) = 0;
  // Removes the deliveries before sequence `before` (applied: the source cursor is past them)
  // and forgets the delivery ids taken in before `ids_cutoff_ms`; returns how many deliveries
  // went.
  virtual std::size_t drain_spool(std::uint64_t before, std::int64_t ids_cutoff_ms) = 0;
  // Removes every link, base value, pending intent, failed row, conflict and cursor; keeps runs,
  // history and what push sources delivered (the spool and the pushed rows: the source's data).
  virtual void clear_sync_state() = 0;
  virtual void commit() = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  virtual std::optional<Link> get_link(const std::string& key) const = 0;
  virtual std::optional<std::string> key_for_source_id(const std::string& id) const = 0;
  virtual std::optional<std::string> key_for_destination_id(const std::string& id) const = 0;
  virtual std::optional<BaseValue> get_base(const std::string& key) const = 0;
  // Only the digest of the base values: what an unchanged record is compared by, without
  // decoding the values themselves.
  virtual std::optional<std::string> get_base_hash(const std::string& key) const {
    auto base = get_base(key);
    if (!base) return std::nullopt;
    return std::move(base->hash);
  }
  // The link and base digest in one lookup; nullopt when the state has neither.
  virtual std::optional<RecordSummary> get_summary(const std::string& key) const {
    RecordSummary summary{get_link(key), std::nullopt};
    if (auto base = get_base(key)) {
      summary.base_hash = std::move(base->hash);
      summary.source_digest = base->source_digest;
    }
    if (!summary.link && !summary.base_hash) return std::nullopt;
    return summary;
  }
  // Whether `key` is linked to `source_id` at the destination and its base values were mapped
  // from a source record whose engine::source_digest is `digest`: the fast path of an
  // incremental run, answered without building any text.
  virtual bool source_unchanged(const std::string& key, std::string_view source_id, std::uint64_t digest) const {
    auto summary = get_summary(key);
    return summary && summary->link && summary->link->source_id == source_id &&
           !summary->link->destination_id.empty() && summary->base_hash && digest != 0 && summary->source_digest == digest;
  }
  virtual IdIndexes id_indexes() const = 0;
  virtual std::optional<PendingIntent> get_pending(const std::string& key) const = 0;
  virtual std::optional<FailedRow> get_failed(const std::string& key) const = 0;
  virtual std::optional<std::string> get_meta(const std::string& name) const = 0;

  // Iteration in ascending key order. Return false from the callback to stop early.
  virtual void for_each_link(const std::function<bool(const std::string&, const Link&)>& fn) const = 0;
  virtual void for_each_pending(const std::function<bool(const std::string&, const PendingIntent&)>& fn) const = 0;
  virtual void for_each_failed(const std::function<bool(const std::string&, const FailedRow&)>& fn) const = 0;
  virtual void for_each_conflict(const std::function<bool(const std::string&, const Conflict&)>& fn) const = 0;
  // Runs, most recently recorded first (by run sequence, whatever their clocks said), at
  // most `limit` (0 = all). Each report carries its sequence number as "run".
  virtual std::vector<nlohmann::json> runs(std::size_t limit) const = 0;
  // The sequence number of the last run recorded (0: none yet); the next run is this + 1.
  virtual std::uint64_t last_run_sequence() const = 0;

  // History (see HistoryEntry): one record's entry of one run, and every entry of one run in
  // key order.
  virtual std::optional<HistoryEntry> get_history(std::uint64_t run, const std::string& key) const = 0;
  virtual void for_each_history(std::uint64_t run,
                                const std::function<bool(const std::string&, const HistoryEntry&)>& fn) const = 0;

  // Push sources: the deliveries from sequence `from` on, in order, and the latest row of every
  // record pushed, in id order; each in a snapshot of its own (the callback may commit; an ingest
  // that commits meanwhile is not seen), and each returns the sequence number the next delivery
  // gets as of its snapshot: where a reader of that snapshot resumes.
  virtual std::uint64_t for_each_spooled(std::uint64_t from,
                                         const std::function<bool(std::uint64_t, const SpooledDelivery&)>& fn) const = 0;
  virtual std::uint64_t for_each_pushed(
      const std::function<bool(const std::string&, const nlohmann::json&)>& fn) const = 0;
  virtual std::optional<nlohmann::json> get_pushed(const std::string& id) const = 0;
  virtual std::size_t spooled_count() const = 0;
  virtual std::size_t pushed_count() const = 0;

  // Keys the state holds a link or base values for.
  virtual std::size_t link_count() const = 0;
  virtual std::size_t failed_count() const = 0;
  virtual std::size_t pending_count() const = 0;

  // Throws std::logic_error on a read-only store.
  virtual std::unique_ptr<WriteTxn> begin() = 0;
};

// Well-known meta names.
namespace meta {
inline constexpr const char* format_version = "format_version";
inline constexpr const char* identity_hash = "identity_hash";
inline constexpr const char* source_cursor = "cursor.source";
inline constexpr const char* destination_cursor = "cursor.destination";
inline constexpr const char* last_full_sync = "last_full_sync";     // ISO 8601
inline constexpr const char* last_run = "last_run";                 // ISO 8601
inline constexpr const char* baseline_done = "baseline_done";       // "1" once a baseline completed
inline constexpr const char* paused = "paused";
// The sequence number of the last run recorded (decimal): `runs` is keyed by it, not by
// wall time, so a clock that jumps back never reorders or overwrites the history.
inline constexpr const char* run_sequence = "run_sequence";
// The sequence number the next spooled delivery gets (decimal; absent: 1).
inline constexpr const char* spool_next = "spool_next";
// "oauth_token.<connection>": a refreshed OAuth token, sealed (see net/oauth.hpp).
inline constexpr const char* oauth_token_prefix = "oauth_token.";
}  // namespace meta

}  // namespace synctool::state
