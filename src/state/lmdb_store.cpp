#include "state/lmdb_store.hpp"

#include "state/fault_guard.hpp"
#include "state/local_errors.hpp"
#include "state/lmdb_support.hpp"
#include "state/record_codec.hpp"

#include <lmdb.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <type_traits>
#include <unordered_map>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <utility>

namespace synctool::state {

namespace {

using detail::check;
using detail::fail;
using detail::fail_damaged;
using detail::StoredKey;
using detail::to_val;
using detail::to_view;
using detail::Where;
using nlohmann::json;

// `links` and `base` held a key's link and base values in two entries up to format version 2;
// they are only read now: a read-only open of an older state reads them, a writable open
// moves them into `records`. kFirstLegacyDb and after are never created.
enum Db : std::size_t {
  kMeta, kRecords, kSourceIds, kDestinationIds, kPending, kFailed, kConflicts, kRuns, kHistory,
  kSpool, kDeliveryIds, kPushed, kLinks, kBase, kDbCount
};
constexpr std::size_t kFirstLegacyDb = kLinks;
constexpr std::array<const char*, kDbCount> kDbNames = {"meta",    "records",   "source_ids",   "destination_ids",
                                                        "pending", "failed",    "conflicts",    "runs",
                                                        "history", "spool",     "delivery_ids", "pushed",
                                                        "links",   "base"};

// Version 3 keeps one `records` entry per match key (link, digest and base values together,
// record_codec.hpp) and reverse indexes only where a sync needs them. Version 2 keyed `runs`
// by run sequence number; version 1 keyed it by start time in milliseconds (two runs in the
// same millisecond overwrote each other, and a clock set back reordered the history). A
// writable open upgrades 1 and 2 to 4; a read-only open reads all four. Version 4 adds the
// source digest to records (record_codec.hpp): a version 3 state is a version 4 state without
// them, so upgrading it is rewriting its version (an older synctool then refuses it instead of
// reading a flag it does not know as damage).
constexpr const char* kFormatVersion = "4";
constexpr const char* kFormatVersionNoSourceDigests = "3";
constexpr const char* kFormatVersionSplitRecords = "2";
constexpr const char* kFormatVersionTimeKeyedRuns = "1";
// Scratch table for the runs upgrade, dropped in the same transaction.
constexpr const char* kUpgradeRunsDb = "runs.upgrade";
// Set while an upgrade from version 1 or 2 moves links and base values into `records`, a batch per
// transaction: a read-only open of a state caught half-way refuses it (the next run finishes).
constexpr const char* kUpgradingMeta = "upgrading_to";
constexpr std::size_t kUpgradeBatch = 20000;
// Whether a reverse index is kept: "0" when dropped (a state without the entry keeps both, as
// versions 1 and 2 did).
constexpr const char* kSourceIndexMeta = "index.source_ids";
constexpr const char* kDestinationIndexMeta = "index.destination_ids";
// Virtual address space only: without MDB_WRITEMAP the file grows with the data, so a map
// this large costs nothing and leaves room for millions of records.
constexpr std::size_t kMapSize = sizeof(void*) >= 8 ? (std::size_t{64} << 30) : (std::size_t{1} << 30);
constexpr unsigned kMaxDbs = 16;
// How much a write or delete counts towards handing the map's pages back (ResidentPages).
constexpr unsigned kWriteTickWeight = 8;
// How much a lookup in another order than the keys' counts: each maps a leaf page far from the
// last one, and the kernel maps 16 pages around each fault (fault-around), so 4,096 lookups of
// a source in its own order mapped 100 MB of a 135 MB state.
constexpr unsigned kScatteredReadTickWeight = 16;

// Stored field names are short. Links and base values (format versions 1 and 2) are only read.
json to_json(const PendingIntent& p) {
  json j = {{"side", p.side}, {"v", p.values}, {"t", p.sent_at_ms}};
  if (p.remove) j["d"] = true;
  return j;
}
json to_json(const FailedRow& f) {
  return {{"s", f.source_id}, {"e", f.error},         {"k", f.kind},
          {"n", f.attempts},  {"f", f.first_seen_ms}, {"l", f.last_seen_ms}, {"dd", f.delete_id}};
}
json to_json(const Conflict& c) {
  return {{"s", c.source_values}, {"d", c.destination_values}, {"t", c.seen_ms}, {"b", c.base_values},
          {"r", c.resolution}};
}

template <typename T>
T from_json(const json& j);

template <>
Link from_json<Link>(const json& j) {
  return {j.value("s", std::string()), j.value("d", std::string())};
}
template <>
BaseValue from_json<BaseValue>(const json& j) {
  return {j.value("v", json::object()), j.value("h", std::string()), j.value("sm", std::string()),
          j.value("dm", std::string())};
}
template <>
PendingIntent from_json<PendingIntent>(const json& j) {
  return {j.value("side", std::string()), j.value("v", json::object()), j.value("t", std::int64_t{0}),
          j.value("d", false)};
}
template <>
FailedRow from_json<FailedRow>(const json& j) {
  return {j.value("s", std::string()), j.value("e", std::string()),  j.value("k", std::string()),
          j.value("n", 0),             j.value("f", std::int64_t{0}), j.value("l", std::int64_t{0}),
          j.value("dd", std::string())};
}
template <>
Conflict from_json<Conflict>(const json& j) {
  return {j.value("s", json::object()), j.value("d", json::object()), j.value("t", std::int64_t{0}),
          j.value("b", json::object()), j.contains("r") ? j["r"] : json()};
}

// A link read straight off its bytes (a map of two texts, "d" and "s"), without a JSON
// document in between; nullopt for anything else, which the general decode then judges.
std::optional<Link> read_link(const MDB_val& stored_key, const MDB_val& data) {
  if (detail::is_hashed(stored_key)) return std::nullopt;
  thread_local std::vector<std::pair<std::string_view, std::string_view>> entries;
  if (!detail::read_cbor_text_map(data, entries) || entries.size() != 2 || entries[0].first != "d" ||
      entries[1].first != "s")
    return std::nullopt;
  return Link{std::string(entries[1].second), std::string(entries[0].second)};
}

// Decodes a record, turning a wrong shape into the same "corrupt" error as bad CBOR.
template <typename T>
T decode_record(const json& j, const Where& where, std::string_view table) {
  if (!j.is_object()) fail_damaged(where, "holds a corrupt value in " + std::string(table) + ": not an object");
  try {
    return from_json<T>(j);
  } catch (const json::exception& e) {
    fail_damaged(where, "holds a corrupt value in " + std::string(table) + ": " + e.what());
  }
}

// Big-endian so that LMDB's byte order is numeric order (run sequence numbers; in format
// version 1, start times).
std::array<char, 8> run_key(std::uint64_t v) {
  std::array<char, 8> key{};
  for (int i = 7; i >= 0; --i) {
    key[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return key;
}

std::uint64_t run_key_value(const MDB_val& k);

// `history` keys: the run's sequence number (big-endian, so that one run's entries lie together
// and runs sort in order) and then the record's key as StoredKey stores it (a long one hashed;
// its full text is then kept in the value).
std::string history_key(std::uint64_t run, std::string_view key) {
  auto prefix = run_key(run);
  detail::StoredKey stored(key);
  std::string out(prefix.data(), prefix.size());
  out += to_view(stored.val());
  return out;
}

// `history` values: when the entry was written (8 bytes, big-endian milliseconds: what pruning
// reads without decoding the rest), then CBOR {"w": writes} plus {"k": full key} for a hashed key.
std::string encode_history(std::string_view key, const HistoryEntry& entry) {
  auto at = run_key(static_cast<std::uint64_t>(entry.at_ms));
  json body = {{"w", entry.writes}};
  if (key.size() > detail::kMaxRawKey) body["k"] = key;
  std::string out(at.data(), at.size());
  json::to_cbor(body, out);
  return out;
}

std::int64_t history_time(const MDB_val& v) {
  return v.mv_size < 8 ? 0 : static_cast<std::int64_t>(run_key_value(v));
}

// The entry and, for a hashed key, its full text ("" otherwise).
std::pair<std::string, HistoryEntry> decode_history(const MDB_val& v, const Where& where) {
  if (v.mv_size < 8) fail_damaged(where, "holds a corrupt entry in history (too short)");
  std::pair<std::string, HistoryEntry> out;
  out.second.at_ms = history_time(v);
  try {
    const auto* bytes = static_cast<const std::uint8_t*>(v.mv_data);
    auto body = json::from_cbor(bytes + 8, bytes + v.mv_size);
    out.second.writes = body.at("w");
    if (auto k = body.find("k"); k != body.end()) out.first = k->get<std::string>();
  } catch (const json::exception& e) {
    fail_damaged(where, std::string("holds a corrupt entry in history: ") + e.what());
  }
  return out;
}

// `spool` values: when the delivery was taken in (8 bytes, big-endian milliseconds), then CBOR
// {"r": rows} plus {"i": delivery id} when the sender gave one. Keys: the sequence number,
// big-endian.
std::string encode_spooled(const SpooledDelivery& delivery) {
  auto at = run_key(static_cast<std::uint64_t>(delivery.at_ms));
  json body = {{"r", delivery.rows}};
  if (!delivery.delivery_id.empty()) body["i"] = delivery.delivery_id;
  std::string out(at.data(), at.size());
  json::to_cbor(body, out);
  return out;
}

SpooledDelivery decode_spooled(const MDB_val& v, const Where& where) {
  if (v.mv_size < 8) fail_damaged(where, "holds a corrupt delivery in spool (too short)");
  SpooledDelivery out;
  out.at_ms = history_time(v);
  try {
    const auto* bytes = static_cast<const std::uint8_t*>(v.mv_data);
    auto body = json::from_cbor(bytes + 8, bytes + v.mv_size);
    out.rows = std::move(body.at("r"));
    if (!out.rows.is_array()) fail_damaged(where, "holds a corrupt delivery in spool: its rows are not a list");
    if (auto i = body.find("i"); i != body.end()) out.delivery_id = i->get<std::string>();
  } catch (const json::exception& e) {
    fail_damaged(where, std::string("holds a corrupt delivery in spool: ") + e.what());
  }
  return out;
}

// `delivery_ids` values: the delivery's sequence number and when it was taken in, 8 bytes each.
std::string encode_delivery_id(std::uint64_t sequence, std::int64_t at_ms) {
  auto a = run_key(sequence), b = run_key(static_cast<std::uint64_t>(at_ms));
  return std::string(a.data(), a.size()) + std::string(b.data(), b.size());
}

std::uint64_t run_key_value(const MDB_val& k) {
  std::uint64_t v = 0;
  const auto* bytes = static_cast<const unsigned char*>(k.mv_data);
  for (std::size_t i = 0; i < k.mv_size && i < 8; ++i) v = (v << 8) | bytes[i];
  return v;
}

json parse_run(const MDB_val& v, const Where& where) {
  try {
    return json::parse(to_view(v));
  } catch (const json::exception& e) {
    fail_damaged(where, std::string("holds a corrupt run record: ") + e.what());
  }
}

bool clears_with_sync_state(std::string_view meta_name) {
  return meta_name.starts_with("cursor.") || meta_name == meta::baseline_done || meta_name == meta::identity_hash ||
         meta_name == meta::last_full_sync;
}

// An open LMDB environment and the fault guards over its maps, which go before the maps do.
struct Environment {
  MDB_env* env = nullptr;
  detail::MappedFileGuard data_guard;
  detail::MappedFileGuard lock_guard;
  detail::AssertionWatch assertions;
  Environment(MDB_env* e, const Where& where) : env(e), assertions(e, where) {}
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    data_guard = detail::MappedFileGuard();
    lock_guard = detail::MappedFileGuard();
    mdb_env_close(env);
  }
};
using EnvPtr = std::unique_ptr<Environment>;

int data_fd(MDB_env* env, const Where& where) {
  mdb_filehandle_t fd;
  check(where, mdb_env_get_fd(env, &fd), "read the environment");
  return fd;
}

// Aborts a transaction that was not committed.
struct TxnGuard {
  MDB_txn* txn = nullptr;
  TxnGuard() = default;
  TxnGuard(const TxnGuard&) = delete;
  TxnGuard& operator=(const TxnGuard&) = delete;
  ~TxnGuard() {
    if (txn) mdb_txn_abort(txn);
  }
  MDB_txn* release() { return std::exchange(txn, nullptr); }
};

struct CursorGuard {
  MDB_cursor* cursor = nullptr;
  CursorGuard() = default;
  CursorGuard(const CursorGuard&) = delete;
  CursorGuard& operator=(const CursorGuard&) = delete;
  ~CursorGuard() {
    if (cursor) mdb_cursor_close(cursor);
  }
};

struct Dbis {
  std::array<MDB_dbi, kDbCount> dbi{};
  // A read-only open of an environment created by an interrupted first run may lack some
  // databases; they read as empty.
  std::array<bool, kDbCount> present{};
  // Format version 1 or 2 opened read-only: links and base values are in `links` and `base`.
  bool legacy = false;
};

class LmdbWriteTxn;

bool same_stored_key(const MDB_val& stored_key, std::string_view key) {
  StoredKey expected(key);
  return to_view(expected.val()) == to_view(stored_key);
}

// Reads go through one cached read-only transaction (cheap point lookups) that is reset after
// every commit and renewed on the next read, so reads always see the latest committed state.
// Iterations use their own snapshot so that committing from inside a callback is safe.
// Single-threaded; a WriteTxn must not outlive its store.
//
// Every value or key read from the map is checked to lie inside the file's committed pages
// before it is copied: a damaged node can claim a size that runs past the end of the file,
// where reading would raise SIGBUS.
class LmdbStore final : public StateStore {
 public:
  LmdbStore(Where where, EnvPtr env, bool read_only, Dbis dbis)
      : where_(std::move(where)), env_(std::move(env)), read_only_(read_only), dbis_(dbis), legacy_(dbis.legacy) {
    resident_.attach(env_->env);
    refresh_data_end();
    load_indexes();
  }

  ~LmdbStore() override {
    if (reader_) mdb_txn_abort(reader_);
  }

  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  std::optional<Link> get_link(const std::string& key) const override {
    if (legacy_) return get_record<Link>(kLinks, key);
    detail::RecordView record;
    if (!find_record(key, record) || !record.has_link()) return std::nullopt;
    return Link{std::string(record.source_id), std::string(record.destination_id)};
  }
  std::optional<std::string> key_for_source_id(const std::string& id) const override {
    return key_for_id(kSourceIds, id);
  }
  std::optional<std::string> key_for_destination_id(const std::string& id) const override {
    return key_for_id(kDestinationIds, id);
  }
  std::optional<BaseValue> get_base(const std::string& key) const override {
    if (legacy_) return get_record<BaseValue>(kBase, key);
    detail::RecordView record;
    if (!find_record(key, record) || !record.has_base()) return std::nullopt;
    return base_of(record);
  }
  std::optional<std::string> get_base_hash(const std::string& key) const override {
    if (legacy_) return legacy_base_hash(key);
    detail::RecordView record;
    if (!find_record(key, record) || !record.has_base()) return std::nullopt;
    return record.hash_text();
  }
  std::optional<RecordSummary> get_summary(const std::string& key) const override {
    if (legacy_) return StateStore::get_summary(key);
    detail::RecordView record;
    if (!find_record(key, record)) return std::nullopt;
    RecordSummary summary;
    if (record.has_link()) summary.link = Link{std::string(record.source_id), std::string(record.destination_id)};
    if (record.has_base()) summary.base_hash = record.hash_text();
    summary.source_digest = record.source_digest;
    return summary;
  }
  bool source_unchanged(const std::string& key, std::string_view source_id, std::uint64_t digest) const override {
    if (legacy_) return StateStore::source_unchanged(key, source_id, digest);
    resident_.tick(kScatteredReadTickWeight - 1);  // asked in the source's order (lookup() adds 1)
    detail::RecordView record;
    if (!find_record(key, record)) return false;
    return record.has_link() && record.has_base() && record.source_digest == digest && digest != 0 &&
           record.source_id == source_id && !record.destination_id.empty();
  }
  IdIndexes id_indexes() const override { return indexes_; }
  std::optional<PendingIntent> get_pending(const std::string& key) const override {
    return get_record<PendingIntent>(kPending, key);
  }
  std::optional<FailedRow> get_failed(const std::string& key) const override {
    return get_record<FailedRow>(kFailed, key);
  }
  std::optional<std::string> get_meta(const std::string& name) const override { return get_string(kMeta, name); }

  void for_each_link(const std::function<bool(const std::string&, const Link&)>& fn) const override {
    if (legacy_) return scan_records<Link>(kLinks, fn);
    scan_stored_records([&](const std::string& key, const detail::RecordView& record) {
      if (!record.has_link()) return true;
      return fn(key, Link{std::string(record.source_id), std::string(record.destination_id)});
    });
  }
  void for_each_pending(const std::function<bool(const std::string&, const PendingIntent&)>& fn) const override {
    scan_records<PendingIntent>(kPending, fn);
  }
  void for_each_failed(const std::function<bool(const std::string&, const FailedRow&)>& fn) const override {
    scan_records<FailedRow>(kFailed, fn);
  }
  void for_each_conflict(const std::function<bool(const std::string&, const Conflict&)>& fn) const override {
    scan_records<Conflict>(kConflicts, fn);
  }

  std::vector<nlohmann::json> runs(std::size_t limit) const override {
    std::vector<json> out;
    if (!dbis_.present[kRuns]) return out;
    CursorGuard cursor;
    check(where_, mdb_cursor_open(reader(), dbis_.dbi[kRuns], &cursor.cursor), "read runs");
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_LAST);
    while (rc == MDB_SUCCESS && (limit == 0 || out.size() < limit)) {
      require_in_file(v, "runs");
      require_in_file(k, "runs");
      out.push_back(parse_run(v, where_));
      if (out.back().is_object()) out.back()["run"] = run_key_value(k);
      k = v = MDB_val{};
      rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_PREV);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) fail(where_, rc, "read runs");
    return out;
  }

  std::uint64_t last_run_sequence() const override {
    std::uint64_t last = 0;
    if (auto text = get_meta(meta::run_sequence)) {
      auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), last);
      if (ec != std::errc() || end != text->data() + text->size())
        fail_damaged(where_, "holds a corrupt run sequence number in meta");
    }
    if (!dbis_.present[kRuns]) return last;
    CursorGuard cursor;
    check(where_, mdb_cursor_open(reader(), dbis_.dbi[kRuns], &cursor.cursor), "read runs");
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_LAST);
    if (rc == MDB_SUCCESS) {
      require_in_file(k, "runs");
      last = std::max(last, run_key_value(k));
    } else if (rc != MDB_NOTFOUND) {
      fail(where_, rc, "read runs");
    }
    return last;
  }

  std::optional<HistoryEntry> get_history(std::uint64_t run, const std::string& key) const override {
    if (!dbis_.present[kHistory]) return std::nullopt;
    auto stored = history_key(run, key);
    MDB_val k = to_val(stored);
    MDB_val v{};
    int rc = mdb_get(reader(), dbis_.dbi[kHistory], &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(where_, rc, "read history");
    require_in_file(v, "history");
    return decode_history(v, where_).second;
  }

  void for_each_history(std::uint64_t run,
                        const std::function<bool(const std::string&, const HistoryEntry&)>& fn) const override {
    if (!dbis_.present[kHistory]) return;
    TxnGuard txn;  // a snapshot of its own: the callback may commit
    check(where_, mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn.txn), "begin a read");
    CursorGuard cursor;
    check(where_, mdb_cursor_open(txn.txn, dbis_.dbi[kHistory], &cursor.cursor), "read history");
    const auto run_prefix = run_key(run);
    const std::string prefix(run_prefix.data(), run_prefix.size());
    MDB_val k = to_val(prefix);
    MDB_val v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_SET_RANGE);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
      require_in_file(k, "history");
      require_in_file(v, "history");
      if (k.mv_size <= prefix.size() || to_view(k).substr(0, prefix.size()) != prefix) return;
      auto [key, entry] = decode_history(v, where_);
      if (key.empty()) key = std::string(to_view(k).substr(prefix.size()));
      if (!fn(key, entry)) return;
      k = v = MDB_val{};
    }
    if (rc != MDB_NOTFOUND) fail(where_, rc, "read history");
  }

  std::uint64_t for_each_spooled(std::uint64_t from,
                                 const std::function<bool(std::uint64_t, const SpooledDelivery&)>& fn) const override {
    TxnGuard txn;  // a snapshot of its own: the callback may commit
    check(where_, mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn.txn), "begin a read");
    const std::uint64_t next = next_spool_sequence(txn.txn);
    if (!dbis_.present[kSpool]) return next;
    CursorGuard cursor;
    check(where_, mdb_cursor_open(txn.txn, dbis_.dbi[kSpool], &cursor.cursor), "read spool");
    auto start = run_key(from);
    MDB_val k{start.size(), start.data()}, v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_SET_RANGE);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
      require_in_file(k, "spool");
      require_in_file(v, "spool");
      if (k.mv_size != 8) fail_damaged(where_, "holds a corrupt key in spool");
      resident_.tick();
      if (!fn(run_key_value(k), decode_spooled(v, where_))) return next;
      k = v = MDB_val{};
    }
    if (rc != MDB_NOTFOUND) fail(where_, rc, "read spool");
    return next;
  }

  std::uint64_t for_each_pushed(
      const std::function<bool(const std::string&, const nlohmann::json&)>& fn) const override {
    TxnGuard txn;
    check(where_, mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn.txn), "begin a read");
    const std::uint64_t next = next_spool_sequence(txn.txn);
    if (!dbis_.present[kPushed]) return next;
    CursorGuard cursor;
    check(where_, mdb_cursor_open(txn.txn, dbis_.dbi[kPushed], &cursor.cursor), "read pushed");
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
      require_in_file(k, "pushed");
      require_in_file(v, "pushed");
      resident_.tick();
      auto entry = detail::decode_entry(k, v, where_, kDbNames[kPushed]);
      if (!fn(entry.key, entry.value)) return next;
      k = v = MDB_val{};
    }
    if (rc != MDB_NOTFOUND) fail(where_, rc, "read pushed");
    return next;
  }

  std::optional<nlohmann::json> get_pushed(const std::string& id) const override {
    if (id.empty()) return std::nullopt;
    StoredKey stored(id);
    auto v = lookup(kPushed, stored);
    if (!v) return std::nullopt;
    return detail::decode_value(stored.val(), *v, where_, kDbNames[kPushed]);
  }
  std::size_t spooled_count() const override { return count(kSpool); }
  std::size_t pushed_count() const override { return count(kPushed); }

  std::size_t link_count() const override { return count(legacy_ ? kLinks : kRecords); }
  std::size_t failed_count() const override { return count(kFailed); }
  std::size_t pending_count() const override { return count(kPending); }

  std::unique_ptr<WriteTxn> begin() override;

  // Reads every entry of every database, and LMDB's list of free pages, checking what each
  // holds. Throws StateError(damaged) at the first problem.
  void verify() const;

 private:
  friend class LmdbWriteTxn;

  MDB_txn* reader() const {
    if (!reader_) {
      check(where_, mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &reader_), "begin a read");
      reader_live_ = true;
    } else if (!reader_live_) {
      check(where_, mdb_txn_renew(reader_), "renew a read");
      reader_live_ = true;
    }
    return reader_;
  }

  void after_commit() {
    writing_ = false;
    refresh_data_end();
    if (reader_live_) {
      mdb_txn_reset(reader_);
      reader_live_ = false;
    }
    scanned_ids_[0].reset();
    scanned_ids_[1].reset();
    load_indexes();
  }

  // Which reverse indexes are kept (meta; an older state keeps both).
  void load_indexes() {
    if (legacy_) return;
    auto kept = [&](const char* name) { return get_string(kMeta, name) != "0"; };
    indexes_ = {kept(kSourceIndexMeta), kept(kDestinationIndexMeta)};
  }

  // meta spool_next as `txn` sees it (1 when absent).
  std::uint64_t next_spool_sequence(MDB_txn* txn, bool in_write = false) const {
    StoredKey name(meta::spool_next);
    MDB_val k = name.val();
    MDB_val v{};
    int rc = mdb_get(txn, dbis_.dbi[kMeta], &k, &v);
    if (rc == MDB_NOTFOUND) return 1;
    check(where_, rc, "read meta");
    require_in_file(v, "meta", in_write);
    std::uint64_t next = 0;
    auto text = to_view(v);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), next);
    if (ec != std::errc() || end != text.data() + text.size() || next == 0)
      fail_damaged(where_, "holds a corrupt spool sequence number in meta");
    return next;
  }

  // The record of `key` in `out` (views valid until the next commit); false when there is none.
  bool find_record(const std::string& key, detail::RecordView& out) const {
    if (key.empty()) return false;
    StoredKey stored(key);
    auto v = lookup(kRecords, stored);
    if (!v) return false;
    parse_stored(stored.val(), *v, out);
    return true;
  }

  // `stored_key` as LMDB holds it: a long key's hashed form says nothing, its record holds it.
  void parse_stored(const MDB_val& stored_key, const MDB_val& v, detail::RecordView& out) const {
    const auto key = detail::is_hashed(stored_key) ? std::string_view() : to_view(stored_key);
    if (!detail::parse_record(to_view(v), key, out)) fail_damaged(where_, "holds a corrupt value in records");
    if (out.key.empty()) fail_damaged(where_, "holds a long key without its full text in records");
  }

  BaseValue base_of(const detail::RecordView& record) const {
    BaseValue base;
    try {
      base.values = record.decode_values();
    } catch (const json::exception& e) {
      fail_damaged(where_, std::string("holds corrupt base values in records: ") + e.what());
    }
    if (!base.values.is_object()) fail_damaged(where_, "holds corrupt base values in records: not an object");
    base.hash = record.hash_text();
    base.source_modified = record.source_modified;
    base.destination_modified = record.destination_modified;
    base.source_digest = record.source_digest;
    return base;
  }

  // Format versions 1 and 2: the digest read off the base entry's CBOR.
  std::optional<std::string> legacy_base_hash(const std::string& key) const {
    if (key.empty()) return std::nullopt;
    StoredKey stored(key);
    auto v = lookup(kBase, stored);
    if (!v) return std::nullopt;
    if (!stored.hashed())
      if (auto hash = detail::cbor_top_level_string(*v, "h")) return hash;
    // A long key's wrapped entry, or a record without its digest: the whole decode says why.
    return decode_record<BaseValue>(detail::decode_value(stored.val(), *v, where_, kDbNames[kBase]), where_,
                                    kDbNames[kBase])
        .hash;
  }

  // A side's id -> key: from its reverse index when kept; otherwise from one scan of the records
  // (a read-only open of a sync whose runs do not keep the index, e.g. `diff` after the spec
  // started to need it), kept until the next commit.
  std::optional<std::string> key_for_id(Db index, const std::string& id) const {
    const bool source = index == kSourceIds;
    if (legacy_ || (source ? indexes_.source : indexes_.destination)) return get_string(index, id);
    if (id.empty()) return std::nullopt;
    auto& scanned = scanned_ids_[source ? 0 : 1];
    if (!scanned) {
      scanned.emplace();
      scan_stored_records([&](const std::string& key, const detail::RecordView& record) {
        auto side_id = source ? record.source_id : record.destination_id;
        if (record.has_link() && !side_id.empty()) (*scanned)[std::string(side_id)] = key;
        return true;
      });
    }
    auto it = scanned->find(id);
    if (it == scanned->end()) return std::nullopt;
    return it->second;
  }

  // Every record with its real key (a long key's is inside its record), in key order.
  void scan_stored_records(const std::function<bool(const std::string&, const detail::RecordView&)>& fn) const {
    if (!dbis_.present[kRecords]) return;
    std::string key;
    detail::RecordView record;
    scan_raw(dbis_.dbi[kRecords], kDbNames[kRecords], [&](const MDB_val& k, const MDB_val& v) {
      parse_stored(k, v, record);
      key.assign(record.key);
      return fn(key, record);
    });
  }

  // The end of the committed pages of the newest meta (LMDB reads no page past it).
  void refresh_data_end() const {
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(env_->env, &info) == MDB_SUCCESS && mdb_env_stat(env_->env, &st) == MDB_SUCCESS)
      data_end_ = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  }

  // Bytes that LMDB hands back must lie inside the file's committed pages. A write
  // transaction's own pages are in memory (`in_write` allows that); a read transaction has
  // nothing outside the map. Callers clear `v` before the LMDB call: a damaged page can make
  // LMDB report success without setting it (a page flagged LEAF2 returns keys only).
  void require_in_file(const MDB_val& v, std::string_view table, bool in_write = false) const {
    const auto begin = env_->data_guard.begin();
    const auto at = reinterpret_cast<std::uintptr_t>(v.mv_data);
    if (v.mv_data == nullptr)
      fail_damaged(where_, "is damaged: LMDB found an entry of " + std::string(table) + " without its bytes");
    if (begin == 0) return;  // the map was not found: nothing to check against
    if (at < begin || at >= env_->data_guard.end()) {
      if (in_write) return;
      fail_damaged(where_, "is damaged: an entry of " + std::string(table) + " points outside the file");
    }
    const std::uint64_t offset = at - begin;
    if (v.mv_size <= data_end_ && offset <= data_end_ - v.mv_size) return;
    refresh_data_end();  // another process may have committed since
    if (v.mv_size <= data_end_ && offset <= data_end_ - v.mv_size) return;
    fail_damaged(where_, "is damaged: an entry of " + std::string(table) + " at byte " + std::to_string(offset) +
                             " claims " + std::to_string(v.mv_size) + " bytes, past the end of its data at byte " +
                             std::to_string(data_end_));
  }

  // The raw value under `key`, viewed in the cached read transaction (valid until the next
  // commit).
  std::optional<MDB_val> lookup(Db db, const StoredKey& key) const {
    if (!dbis_.present[db]) return std::nullopt;
    MDB_val k = key.val();
    MDB_val v{};
    resident_.tick();  // before the read: the returned view must stay mapped while it is used
    int rc = mdb_get(reader(), dbis_.dbi[db], &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(where_, rc, std::string("read ") + kDbNames[db]);
    require_in_file(v, kDbNames[db]);
    return v;
  }

  // An empty key can never have been stored, so reading one is simply a miss.
  std::optional<std::string> get_string(Db db, const std::string& key) const {
    if (key.empty()) return std::nullopt;
    StoredKey stored(key);
    auto v = lookup(db, stored);
    if (!v) return std::nullopt;
    return std::string(to_view(*v));
  }

  template <typename T>
  std::optional<T> get_record(Db db, const std::string& key) const {
    if (key.empty()) return std::nullopt;
    StoredKey stored(key);
    auto v = lookup(db, stored);
    if (!v) return std::nullopt;
    if constexpr (std::is_same_v<T, Link>)
      if (auto link = read_link(stored.val(), *v)) return link;
    return decode_record<T>(detail::decode_value(stored.val(), *v, where_, kDbNames[db]), where_, kDbNames[db]);
  }

  // Calls fn(key, value) for every entry of `db` in a snapshot of its own, both checked to lie
  // in the file.
  void scan_raw(MDB_dbi dbi, std::string_view table,
                const std::function<bool(const MDB_val&, const MDB_val&)>& fn) const {
    TxnGuard txn;
    check(where_, mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn.txn), "begin a read");
    CursorGuard cursor;
    check(where_, mdb_cursor_open(txn.txn, dbi, &cursor.cursor), "read " + std::string(table));
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
      require_in_file(k, table);
      require_in_file(v, table);
      if (!fn(k, v)) return;
      resident_.tick();
      k = v = MDB_val{};
      rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) fail(where_, rc, "read " + std::string(table));
  }

  template <typename T>
  void scan_records(Db db, const std::function<bool(const std::string&, const T&)>& fn) const {
    if (!dbis_.present[db]) return;
    std::string key;  // one buffer for every key of the fast path
    scan_raw(dbis_.dbi[db], kDbNames[db], [&](const MDB_val& k, const MDB_val& v) {
      if constexpr (std::is_same_v<T, Link>) {
        if (auto link = read_link(k, v)) {
          key.assign(static_cast<const char*>(k.mv_data), k.mv_size);
          return fn(key, *link);
        }
      }
      auto entry = detail::decode_entry(k, v, where_, kDbNames[db]);
      return fn(entry.key, decode_record<T>(entry.value, where_, kDbNames[db]));
    });
  }

  std::size_t count(Db db) const {
    if (!dbis_.present[db]) return 0;
    MDB_stat st;
    check(where_, mdb_stat(reader(), dbis_.dbi[db], &st), std::string("count ") + kDbNames[db]);
    return st.ms_entries;
  }

  Where where_;
  EnvPtr env_;
  bool read_only_;
  Dbis dbis_;
  mutable MDB_txn* reader_ = nullptr;
  mutable bool reader_live_ = false;
  mutable std::uint64_t data_end_ = 0;
  bool writing_ = false;
  mutable detail::ResidentPages resident_;
  bool legacy_ = false;  // an older format's links and base tables (a read-only open)
  IdIndexes indexes_;
  mutable std::optional<std::unordered_map<std::string, std::string>> scanned_ids_[2];
};

void LmdbStore::verify() const {
  {
    // The structure of every page first (LMDB follows what it finds), in a snapshot of its
    // own: the caller keeps writers out.
    TxnGuard txn;
    check(where_, mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn.txn), "begin a read");
    detail::check_pages(data_fd(env_->env, where_), where_);
  }
  for (std::size_t i = 0; i < kDbCount; ++i) {
    if (!dbis_.present[i]) continue;
    const Db db = static_cast<Db>(i);
    scan_raw(dbis_.dbi[db], kDbNames[db], [&](const MDB_val& k, const MDB_val& v) {
      switch (db) {
        case kMeta:
        case kSourceIds:
        case kDestinationIds:
          break;  // plain bytes
        case kRuns:
          parse_run(v, where_);
          break;
        case kSpool:
          if (k.mv_size != 8) fail_damaged(where_, "holds a corrupt key in spool");
          decode_spooled(v, where_);
          break;
        case kDeliveryIds:
          if (v.mv_size != 16) fail_damaged(where_, "holds a corrupt entry in delivery_ids");
          break;
        case kPushed:
          detail::decode_entry(k, v, where_, kDbNames[db]);
          break;
        case kHistory:
          decode_history(v, where_);
          break;
        case kRecords: {
          detail::RecordView record;
          parse_stored(k, v, record);
          if (record.has_base()) base_of(record);
          if (detail::is_hashed(k) && (record.full_key.empty() || !same_stored_key(k, record.full_key)))
            fail_damaged(where_, "holds a long key in records whose full text does not match it");
          break;
        }
        case kLinks:
          decode_record<Link>(detail::decode_entry(k, v, where_, kDbNames[db]).value, where_, kDbNames[db]);
          break;
        case kBase:
          decode_record<BaseValue>(detail::decode_entry(k, v, where_, kDbNames[db]).value, where_, kDbNames[db]);
          break;
        case kPending:
          decode_record<PendingIntent>(detail::decode_entry(k, v, where_, kDbNames[db]).value, where_, kDbNames[db]);
          break;
        case kFailed:
          decode_record<FailedRow>(detail::decode_entry(k, v, where_, kDbNames[db]).value, where_, kDbNames[db]);
          break;
        case kConflicts:
          decode_record<Conflict>(detail::decode_entry(k, v, where_, kDbNames[db]).value, where_, kDbNames[db]);
          break;
        case kDbCount:
          break;
      }
      return true;
    });
  }
}

class LmdbWriteTxn final : public WriteTxn {
 public:
  LmdbWriteTxn(LmdbStore& store, MDB_txn* txn) : store_(store), txn_(txn) { store_.writing_ = true; }

  ~LmdbWriteTxn() override {
    if (txn_) {
      mdb_txn_abort(txn_);
      store_.writing_ = false;
    }
  }

  LmdbWriteTxn(const LmdbWriteTxn&) = delete;
  LmdbWriteTxn& operator=(const LmdbWriteTxn&) = delete;

  void put_link(const std::string& key, const Link& link) override {
    StoredKey stored(key);
    detail::RecordView old;
    const bool found = get_stored_record(stored, old);
    if (found && old.has_link()) drop_changed_reverse(old, link, key);
    detail::RecordParts parts;
    if (found) parts = parts_of(old);
    parts.has_link = true;
    parts.source_id = link.source_id;
    parts.destination_id = link.destination_id;
    write_record(stored, key, parts, found && old.has_base() ? old.values : std::string_view(), nullptr);
    put_reverse_entries(link, key);
  }

  void erase_link(const std::string& key) override {
    StoredKey stored(key);
    detail::RecordView old;
    if (!get_stored_record(stored, old) || !old.has_link()) return;
    drop_reverse_entries(old, key);
    if (!old.has_base()) return del(kRecords, stored);
    auto parts = parts_of(old);
    parts.has_link = false;
    parts.source_id = parts.destination_id = {};
    write_record(stored, key, parts, old.values, nullptr);
  }

  void put_base(const std::string& key, const BaseValue& base) override {
    StoredKey stored(key);
    detail::RecordView old;
    detail::RecordParts parts;
    if (get_stored_record(stored, old)) parts = parts_of(old);
    set_base(parts, base);
    write_record(stored, key, parts, {}, &base.values);
  }

  void erase_base(const std::string& key) override {
    StoredKey stored(key);
    detail::RecordView old;
    if (!get_stored_record(stored, old) || !old.has_base()) return;
    if (!old.has_link()) return del(kRecords, stored);
    auto parts = parts_of(old);
    parts.has_base = false;
    parts.hash = parts.source_modified = parts.destination_modified = {};
    parts.source_digest = 0;
    write_record(stored, key, parts, {}, nullptr);
  }

  void set_source_digest(const std::string& key, std::uint64_t digest) override {
    StoredKey stored(key);
    detail::RecordView old;
    if (!get_stored_record(stored, old) || !old.has_base() || old.source_digest == digest) return;
    auto parts = parts_of(old);
    parts.source_digest = digest;
    write_record(stored, key, parts, old.values, nullptr);
  }

  // One write: without reverse indexes the old record is not even read.
  void put_record(const std::string& key, const Link& link, const BaseView& base) override {
    StoredKey stored(key);
    const auto& indexes = store_.indexes_;
    if (indexes.source || indexes.destination) {
      detail::RecordView old;
      if (get_stored_record(stored, old) && old.has_link()) drop_changed_reverse(old, link, key);
    }
    detail::RecordParts parts;
    parts.has_link = true;
    parts.source_id = link.source_id;
    parts.destination_id = link.destination_id;
    parts.has_base = true;
    parts.hash = base.hash;
    parts.source_modified = base.source_modified;
    parts.destination_modified = base.destination_modified;
    parts.source_digest = base.source_digest;
    write_record(stored, key, parts, {}, &base.values);
    put_reverse_entries(link, key);
  }

  void erase_record(const std::string& key) override {
    StoredKey stored(key);
    const auto& indexes = store_.indexes_;
    if (indexes.source || indexes.destination) {
      detail::RecordView old;
      if (!get_stored_record(stored, old)) return;
      if (old.has_link()) drop_reverse_entries(old, key);
    }
    del(kRecords, stored);
  }

  // Builds an index the sync now needs from the records, or empties one it no longer needs.
  void keep_id_indexes(IdIndexes wanted) override {
    auto& kept = store_.indexes_;
    for (const bool source : {true, false}) {
      const bool want = source ? wanted.source : wanted.destination;
      bool& has = source ? kept.source : kept.destination;
      if (want == has) continue;
      const Db index = source ? kSourceIds : kDestinationIds;
      check(store_.where_, mdb_drop(live(), dbi(index), 0), std::string("clear ") + kDbNames[index]);
      if (want) {
        std::vector<std::pair<std::string, std::string>> entries;  // id -> key
        CursorGuard cursor;
        check(store_.where_, mdb_cursor_open(live(), dbi(kRecords), &cursor.cursor), "read records");
        MDB_val k{}, v{};
        detail::RecordView record;
        int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
        for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
          store_.require_in_file(k, "records", true);
          store_.require_in_file(v, "records", true);
          store_.parse_stored(k, v, record);
          const auto id = source ? record.source_id : record.destination_id;
          if (record.has_link() && !id.empty()) entries.emplace_back(id, record.key);
          k = v = MDB_val{};
        }
        if (rc != MDB_NOTFOUND) fail(store_.where_, rc, "read records");
        for (const auto& [id, key] : entries) put_reverse(index, id, key);
      }
      set_meta(source ? kSourceIndexMeta : kDestinationIndexMeta, want ? "1" : "0");
      has = want;
    }
  }

  void put_pending(const std::string& key, const PendingIntent& intent) override {
    put(kPending, key, to_json(intent));
  }
  void erase_pending(const std::string& key) override { del(kPending, StoredKey(key)); }
  void put_failed(const std::string& key, const FailedRow& row) override { put(kFailed, key, to_json(row)); }
  void erase_failed(const std::string& key) override { del(kFailed, StoredKey(key)); }
  void put_conflict(const std::string& key, const Conflict& conflict) override {
    put(kConflicts, key, to_json(conflict));
  }
  void erase_conflict(const std::string& key) override { del(kConflicts, StoredKey(key)); }

  void set_meta(const std::string& name, const std::string& value) override {
    put_bytes(kMeta, StoredKey(name), to_val(value));
  }
  void erase_meta(const std::string& name) override { del(kMeta, StoredKey(name)); }

  // The run is stored under the next run sequence number; its start time is in the report.
  void put_run(std::int64_t /*started_ms*/, const nlohmann::json& report) override {
    const std::uint64_t sequence = last_run_sequence() + 1;
    auto key = run_key(sequence);
    MDB_val k{key.size(), key.data()};
    std::string text = report.dump();
    MDB_val v = to_val(text);
    check(store_.where_, mdb_put(live(), dbi(kRuns), &k, &v, 0), "write runs");
    set_meta(meta::run_sequence, std::to_string(sequence));
  }

  void put_history(std::uint64_t run, const std::string& key, const HistoryEntry& entry) override {
    auto stored = history_key(run, key);
    auto text = encode_history(key, entry);
    MDB_val k = to_val(stored);
    MDB_val v = to_val(text);
    // A run writes its entries in key order most of the time: appending skips the search.
    int rc = mdb_put(live(), dbi(kHistory), &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST) rc = mdb_put(live(), dbi(kHistory), &k, &v, 0);
    check(store_.where_, rc, "write history");
  }

  std::size_t prune_history(std::int64_t cutoff_ms) override {
    CursorGuard cursor;
    check(store_.where_, mdb_cursor_open(live(), dbi(kHistory), &cursor.cursor), "read history");
    std::size_t pruned = 0;
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
      store_.require_in_file(v, "history", true);
      if (history_time(v) >= cutoff_ms) return pruned;
      check(store_.where_, mdb_cursor_del(cursor.cursor, 0), "prune history");
      ++pruned;
      k = v = MDB_val{};
      rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);  // the oldest left
    }
    if (rc != MDB_NOTFOUND) fail(store_.where_, rc, "prune history");
    return pruned;
  }

  SpoolAppend spool(const SpooledDelivery& delivery) override {
    std::optional<StoredKey> id;
    if (!delivery.delivery_id.empty()) {
      id.emplace(delivery.delivery_id);
      MDB_val k = id->val();
      MDB_val v{};
      int rc = mdb_get(live(), dbi(kDeliveryIds), &k, &v);
      if (rc == MDB_SUCCESS) {
        store_.require_in_file(v, "delivery_ids", true);
        if (v.mv_size != 16) fail_damaged(store_.where_, "holds a corrupt entry in delivery_ids");
        return {run_key_value(v), true};
      }
      if (rc != MDB_NOTFOUND) fail(store_.where_, rc, "read delivery_ids");
    }
    const std::uint64_t sequence = store_.next_spool_sequence(live(), true);
    auto key = run_key(sequence);
    auto text = encode_spooled(delivery);
    MDB_val k{key.size(), key.data()};
    MDB_val v = to_val(text);
    // Sequence numbers only grow: every delivery goes at the end.
    int rc = mdb_put(live(), dbi(kSpool), &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST) fail_damaged(store_.where_, "holds a spool delivery past its next sequence number");
    check(store_.where_, rc, "write spool");
    if (id) put_bytes(kDeliveryIds, *id, to_val(encode_delivery_id(sequence, delivery.at_ms)));
    set_meta(meta::spool_next, std::to_string(sequence + 1));
    return {sequence, false};
  }

  void put_pushed(const std::string& id, const nlohmann::json& row) override { put(kPushed, id, row); }
  void erase_pushed(const std::string& id) override { del(kPushed, StoredKey(id)); }

  std::size_t drain_spool(std::uint64_t before, std::int64_t ids_cutoff_ms) override {
    std::size_t drained = 0;
    {
      CursorGuard cursor;
      check(store_.where_, mdb_cursor_open(live(), dbi(kSpool), &cursor.cursor), "read spool");
      MDB_val k{}, v{};
      int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
      while (rc == MDB_SUCCESS && run_key_value(k) < before) {
        check(store_.where_, mdb_cursor_del(cursor.cursor, 0), "drain spool");
        ++drained;
        k = v = MDB_val{};
        rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
      }
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) fail(store_.where_, rc, "drain spool");
    }
    // Delivery ids are few (one per delivery in the window) and in no time order: one pass
    // that notes the old ones, then their deletes.
    std::vector<std::string> doomed;
    {
      CursorGuard cursor;
      check(store_.where_, mdb_cursor_open(live(), dbi(kDeliveryIds), &cursor.cursor), "read delivery_ids");
      MDB_val k{}, v{};
      int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
      for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
        store_.require_in_file(k, "delivery_ids", true);
        store_.require_in_file(v, "delivery_ids", true);
        if (v.mv_size != 16) fail_damaged(store_.where_, "holds a corrupt entry in delivery_ids");
        MDB_val at{8, static_cast<char*>(v.mv_data) + 8};
        if (static_cast<std::int64_t>(run_key_value(at)) < ids_cutoff_ms) doomed.emplace_back(to_view(k));
        k = v = MDB_val{};
      }
      if (rc != MDB_NOTFOUND) fail(store_.where_, rc, "read delivery_ids");
    }
    for (const auto& stored : doomed) {
      MDB_val k = to_val(stored);
      check(store_.where_, mdb_del(live(), dbi(kDeliveryIds), &k, nullptr), "prune delivery_ids");
    }
    return drained;
  }

  void clear_sync_state() override {
    for (Db db : {kRecords, kSourceIds, kDestinationIds, kPending, kFailed, kConflicts})
      check(store_.where_, mdb_drop(live(), dbi(db), 0), std::string("clear ") + kDbNames[db]);
    std::vector<std::string> doomed;
    {
      CursorGuard cursor;
      check(store_.where_, mdb_cursor_open(live(), dbi(kMeta), &cursor.cursor), "read meta");
      MDB_val k{}, v{};
      int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
      for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
        store_.require_in_file(k, "meta", true);
        if (clears_with_sync_state(to_view(k))) doomed.emplace_back(to_view(k));
        k = v = MDB_val{};
      }
      if (rc != MDB_NOTFOUND) fail(store_.where_, rc, "read meta");
    }
    for (const auto& name : doomed) del(kMeta, StoredKey(name));
  }

  void commit() override {
    MDB_txn* txn = live();
    txn_ = nullptr;
    // LMDB frees the transaction whether or not the commit succeeds, and a failed commit
    // changes nothing: the meta page that makes a transaction visible is written last.
    int rc = mdb_txn_commit(txn);
    store_.after_commit();
    if (rc != MDB_SUCCESS)
      fail(store_.where_, rc, "commit",
           "nothing of this transaction was kept: the state is as the last commit left it");
  }

 private:
  MDB_txn* live() {
    if (!txn_) throw std::logic_error(store_.where_.what + ": transaction already committed");
    return txn_;
  }
  MDB_dbi dbi(Db db) const { return store_.dbis_.dbi[db]; }

  // The highest run sequence number used: the meta's, or the last key's if that is higher
  // (the meta is written with every run, so they agree unless the file was edited).
  std::uint64_t last_run_sequence() {
    std::uint64_t last = 0;
    StoredKey name(meta::run_sequence);
    MDB_val k = name.val();
    MDB_val v{};
    int rc = mdb_get(live(), dbi(kMeta), &k, &v);
    if (rc == MDB_SUCCESS) {
      store_.require_in_file(v, "meta", true);
      auto text = to_view(v);
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), last);
      if (ec != std::errc() || end != text.data() + text.size())
        fail_damaged(store_.where_, "holds a corrupt run sequence number in meta");
    } else if (rc != MDB_NOTFOUND) {
      fail(store_.where_, rc, "read meta");
    }
    CursorGuard cursor;
    check(store_.where_, mdb_cursor_open(live(), dbi(kRuns), &cursor.cursor), "read runs");
    MDB_val rk{}, rv{};
    rc = mdb_cursor_get(cursor.cursor, &rk, &rv, MDB_LAST);
    if (rc == MDB_SUCCESS) {
      store_.require_in_file(rk, "runs", true);
      last = std::max(last, run_key_value(rk));
    } else if (rc != MDB_NOTFOUND) {
      fail(store_.where_, rc, "read runs");
    }
    return last;
  }

  // The record stored under `stored` in this transaction (views valid until the next write).
  bool get_stored_record(const StoredKey& stored, detail::RecordView& out) {
    MDB_val k = stored.val();
    MDB_val v{};
    int rc = mdb_get(live(), dbi(kRecords), &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    check(store_.where_, rc, "read records");
    store_.require_in_file(v, "records", true);
    store_.parse_stored(k, v, out);
    return true;
  }

  detail::RecordParts parts_of(const detail::RecordView& record) {
    detail::RecordParts parts;
    parts.has_link = record.has_link();
    parts.source_id = record.source_id;
    parts.destination_id = record.destination_id;
    parts.has_base = record.has_base();
    parts.source_modified = record.source_modified;
    parts.destination_modified = record.destination_modified;
    parts.source_digest = record.source_digest;
    parts.key_field = record.key_field;
    if (record.flags & detail::RecordView::kPackedHash) {
      hash_text_ = record.hash_text();
      parts.hash = hash_text_;
    } else {
      parts.hash = record.hash;
    }
    return parts;
  }

  static void set_base(detail::RecordParts& parts, const BaseValue& base) {
    parts.has_base = true;
    parts.hash = base.hash;
    parts.source_modified = base.source_modified;
    parts.destination_modified = base.destination_modified;
    parts.source_digest = base.source_digest;
  }

  // Writes a record: its head from `parts`, then its base values as `values` (JSON) or as the
  // CBOR `values_cbor` of the old record. The old record's bytes are read before the write.
  void write_record(const StoredKey& stored, const std::string& key, detail::RecordParts parts,
                    std::string_view values_cbor, const json* values) {
    if (stored.hashed()) parts.full_key = key;
    detail::encode_record(parts, key, values, values_cbor, buffer_);
    MDB_val k = stored.val();
    MDB_val v = to_val(buffer_);
    store_.resident_.tick(kWriteTickWeight);
    // Records arrive in key order on a baseline: appended, LMDB fills each page instead of
    // splitting it in half (a state half the size). A key that is not the last goes the
    // usual way; after a run of those, this transaction stops trying.
    if (append_misses_ < kAppendMissesBeforeGivingUp) {
      int rc = mdb_put(live(), dbi(kRecords), &k, &v, MDB_APPEND);
      if (rc == MDB_SUCCESS) {
        append_misses_ = 0;
        return;
      }
      if (rc != MDB_KEYEXIST) check(store_.where_, rc, "write records");
      ++append_misses_;
      v = to_val(buffer_);
    }
    check(store_.where_, mdb_put(live(), dbi(kRecords), &k, &v, 0), "write records");
  }

  void put_reverse_entries(const Link& link, const std::string& key) {
    if (store_.indexes_.source && !link.source_id.empty()) put_reverse(kSourceIds, link.source_id, key);
    if (store_.indexes_.destination && !link.destination_id.empty())
      put_reverse(kDestinationIds, link.destination_id, key);
  }
  void drop_reverse_entries(const detail::RecordView& old, const std::string& key) {
    if (store_.indexes_.source) drop_reverse(kSourceIds, old.source_id, key);
    if (store_.indexes_.destination) drop_reverse(kDestinationIds, old.destination_id, key);
  }
  // Before a new link replaces `old`: drops the reverse entries of the ids that change. The
  // ids are copied first: dropping writes, and `old` views the map.
  void drop_changed_reverse(const detail::RecordView& old, const Link& link, const std::string& key) {
    std::string source_id(old.source_id), destination_id(old.destination_id);
    if (store_.indexes_.source && source_id != link.source_id) drop_reverse(kSourceIds, source_id, key);
    if (store_.indexes_.destination && destination_id != link.destination_id)
      drop_reverse(kDestinationIds, destination_id, key);
  }

  void put(Db db, const std::string& key, const json& value) { put(db, StoredKey(key), key, value); }
  void put(Db db, const StoredKey& stored, const std::string& key, const json& value) {
    detail::encode_value(stored, key, value, buffer_);
    put_bytes(db, stored, to_val(buffer_));
  }
  void put_bytes(Db db, const StoredKey& stored, MDB_val v) {
    MDB_val k = stored.val();
    // The descent reads mapped pages; a big batch must not pile them up (2,000 scattered
    // updates left 58 MB of the map resident when these counted as one operation each).
    store_.resident_.tick(kWriteTickWeight);
    check(store_.where_, mdb_put(live(), dbi(db), &k, &v, 0), std::string("write ") + kDbNames[db]);
  }

  void del(Db db, const StoredKey& stored) {
    // An empty table (no pending intent, no failed row: the usual case) is not even descended.
    MDB_stat st;
    if (mdb_stat(live(), dbi(db), &st) == MDB_SUCCESS && st.ms_entries == 0) return;
    MDB_val k = stored.val();
    store_.resident_.tick(kWriteTickWeight);
    int rc = mdb_del(live(), dbi(db), &k, nullptr);
    if (rc != MDB_NOTFOUND) check(store_.where_, rc, std::string("delete from ") + kDbNames[db]);
  }

  // Reverse entries map an id to its match key as plain bytes; nothing iterates them, so a
  // hashed id needs no copy of the full id.
  void put_reverse(Db db, const std::string& id, const std::string& key) {
    put_bytes(db, StoredKey(id), to_val(key));
  }

  // Removes id -> key, unless the id has since been linked to another key.
  void drop_reverse(Db db, std::string_view id, const std::string& key) {
    if (id.empty()) return;
    StoredKey stored(id);
    MDB_val k = stored.val();
    MDB_val v{};
    int rc = mdb_get(live(), dbi(db), &k, &v);
    if (rc == MDB_NOTFOUND) return;
    check(store_.where_, rc, std::string("read ") + kDbNames[db]);
    store_.require_in_file(v, kDbNames[db], true);
    if (to_view(v) == key) del(db, stored);
  }

  static constexpr int kAppendMissesBeforeGivingUp = 16;
  LmdbStore& store_;
  MDB_txn* txn_;
  std::vector<std::uint8_t> buffer_;
  int append_misses_ = 0;
  std::string hash_text_;  // a packed digest spelled out, while parts view it
};

std::unique_ptr<WriteTxn> LmdbStore::begin() {
  if (read_only_) throw std::logic_error(where_.what + ": opened read-only, cannot write");
  // A second write transaction in the same thread would deadlock on LMDB's writer mutex.
  if (writing_) throw std::logic_error(where_.what + ": a write transaction is already open");
  MDB_txn* txn = nullptr;
  check(where_, mdb_txn_begin(env_->env, nullptr, 0, &txn), "begin a write");
  return std::make_unique<LmdbWriteTxn>(*this, txn);
}

// Format version 1 keyed runs by start time; re-keys them 1..n in their current (time)
// order and records n as the last run sequence, through a scratch database so that no new
// key can meet an old one. Part of the caller's transaction: all or nothing.
void upgrade_time_keyed_runs(MDB_txn* txn, const Dbis& dbis, const Where& where) {
  MDB_dbi scratch;
  check(where, mdb_dbi_open(txn, kUpgradeRunsDb, MDB_CREATE, &scratch), "upgrade runs");
  std::uint64_t sequence = 0;
  auto copy = [&](MDB_dbi from, MDB_dbi to, bool renumber) {
    CursorGuard cursor;
    check(where, mdb_cursor_open(txn, from, &cursor.cursor), "upgrade runs");
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
      if (!k.mv_data || !v.mv_data) fail_damaged(where, "is damaged: LMDB found a run without its bytes");
      parse_run(v, where);  // a damaged record is found now, not carried over
      std::array<char, 8> key{};
      MDB_val nk = k;
      if (renumber) {
        key = run_key(++sequence);
        nk = MDB_val{key.size(), key.data()};
      }
      // APPEND: keys arrive in ascending order, and LMDB checks it.
      check(where, mdb_put(txn, to, &nk, &v, MDB_APPEND), "upgrade runs");
      k = v = MDB_val{};
    }
    if (rc != MDB_NOTFOUND) fail(where, rc, "upgrade runs");
  };
  copy(dbis.dbi[kRuns], scratch, true);
  check(where, mdb_drop(txn, dbis.dbi[kRuns], 0), "upgrade runs");
  copy(scratch, dbis.dbi[kRuns], false);
  check(where, mdb_drop(txn, scratch, 1), "upgrade runs");
  const std::string last = std::to_string(sequence);
  MDB_val k = to_val(std::string_view(meta::run_sequence));
  MDB_val v = to_val(last);
  check(where, mdb_put(txn, dbis.dbi[kMeta], &k, &v, 0), "upgrade runs");
}

// Format version 2 to 3: moves each key's link and base value into one `records` entry, a
// batch per transaction so that memory stays bounded on a large state. A crash between
// batches leaves version 2 with the upgrade marked as under way: the next writable open goes
// on where it stopped, a read-only open refuses to read the half-moved state.
void upgrade_split_records(MDB_env* env, Dbis& dbis, const Where& where) {
  const std::string_view marker_name(kUpgradingMeta);
  std::vector<std::uint8_t> buffer;
  for (;;) {
    TxnGuard txn;
    check(where, mdb_txn_begin(env, nullptr, 0, &txn.txn), "begin the upgrade");
    MDB_val mk = to_val(marker_name), mv = to_val(std::string_view(kFormatVersion));
    check(where, mdb_put(txn.txn, dbis.dbi[kMeta], &mk, &mv, 0), "upgrade records");
    std::size_t moved = 0;
    for (Db from : {kLinks, kBase}) {
      if (!dbis.present[from]) continue;
      CursorGuard cursor;
      check(where, mdb_cursor_open(txn.txn, dbis.dbi[from], &cursor.cursor), "upgrade records");
      while (moved < kUpgradeBatch) {
        MDB_val k{}, v{};
        int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND) break;
        check(where, rc, "upgrade records");
        if (!k.mv_data || !v.mv_data) fail_damaged(where, "is damaged: an entry without its bytes");
        const std::string stored_key(to_view(k));
        auto entry = detail::decode_entry(k, v, where, kDbNames[from]);
        std::optional<Link> link;
        std::optional<BaseValue> base;
        if (from == kLinks) {
          link = decode_record<Link>(entry.value, where, kDbNames[kLinks]);
          if (dbis.present[kBase]) {
            MDB_val bk = to_val(stored_key), bv{};
            int brc = mdb_get(txn.txn, dbis.dbi[kBase], &bk, &bv);
            if (brc == MDB_SUCCESS) {
              base = decode_record<BaseValue>(detail::decode_value(bk, bv, where, kDbNames[kBase]), where,
                                              kDbNames[kBase]);
              check(where, mdb_del(txn.txn, dbis.dbi[kBase], &bk, nullptr), "upgrade records");
            } else if (brc != MDB_NOTFOUND) {
              fail(where, brc, "upgrade records");
            }
          }
        } else {
          base = decode_record<BaseValue>(entry.value, where, kDbNames[kBase]);
        }
        detail::RecordParts parts;
        if (link) {
          parts.has_link = true;
          parts.source_id = link->source_id;
          parts.destination_id = link->destination_id;
        }
        if (base) {
          parts.has_base = true;
          parts.hash = base->hash;
          parts.source_modified = base->source_modified;
          parts.destination_modified = base->destination_modified;
        }
        if (detail::is_hashed(k)) parts.full_key = entry.key;
        detail::encode_record(parts, entry.key, base ? &base->values : nullptr, {}, buffer);
        check(where, mdb_cursor_del(cursor.cursor, 0), "upgrade records");
        MDB_val rk = to_val(stored_key), rv = to_val(buffer);
        check(where, mdb_put(txn.txn, dbis.dbi[kRecords], &rk, &rv, 0), "upgrade records");
        ++moved;
      }
    }
    const bool done = moved < kUpgradeBatch;
    if (done) {
      for (Db legacy : {kLinks, kBase}) {
        if (dbis.present[legacy]) check(where, mdb_drop(txn.txn, dbis.dbi[legacy], 1), "upgrade records");
        dbis.present[legacy] = false;
      }
      check(where, mdb_del(txn.txn, dbis.dbi[kMeta], &mk, nullptr), "upgrade records");
      MDB_val vk = to_val(std::string_view(meta::format_version)), vv = to_val(std::string_view(kFormatVersion));
      check(where, mdb_put(txn.txn, dbis.dbi[kMeta], &vk, &vv, 0), "upgrade records");
    }
    int rc = mdb_txn_commit(txn.release());
    if (rc != MDB_SUCCESS) fail(where, rc, "commit the upgrade", "the state is as the last commit left it");
    if (done) return;
  }
}

// Opens every named database (creating them when writable) and checks, writes or upgrades the
// format version. Before a writable open changes anything, while it holds LMDB's writer lock,
// every page is checked (check_pages): LMDB's own writes trust the pages they copy.
Dbis open_databases(MDB_env* env, const Where& where, bool read_only) {
  Dbis dbis;
  TxnGuard txn;
  check(where, mdb_txn_begin(env, nullptr, read_only ? MDB_RDONLY : 0, &txn.txn), "begin setup");
  if (!read_only) detail::check_pages(data_fd(env, where), where);
  for (std::size_t i = 0; i < kDbCount; ++i) {
    const bool only_if_there = read_only || i >= kFirstLegacyDb;
    int rc = mdb_dbi_open(txn.txn, kDbNames[i], only_if_there ? 0 : MDB_CREATE, &dbis.dbi[i]);
    if (rc == MDB_NOTFOUND && only_if_there) continue;
    // A named database is an entry of the main one: an entry that is no database is damage.
    if (rc == MDB_INCOMPATIBLE)
      fail_damaged(where, std::string("is damaged: its database ") + kDbNames[i] + " is not one");
    check(where, rc, std::string("open ") + kDbNames[i]);
    dbis.present[i] = true;
  }
  bool split_records = false;  // links and base values still in `links` and `base`
  if (dbis.present[kMeta]) {
    MDB_val k = to_val(std::string_view(meta::format_version));
    MDB_val v{};
    int rc = mdb_get(txn.txn, dbis.dbi[kMeta], &k, &v);
    std::string_view write_version;
    if (rc == MDB_SUCCESS && !v.mv_data)
      fail_damaged(where, "is damaged: LMDB found its format version without its bytes");
    if (rc == MDB_SUCCESS) {
      const std::string found(to_view(v).substr(0, 64));
      if (found == kFormatVersionTimeKeyedRuns || found == kFormatVersionSplitRecords) {
        split_records = true;
        if (found == kFormatVersionTimeKeyedRuns && !read_only) {
          upgrade_time_keyed_runs(txn.txn, dbis, where);
          write_version = kFormatVersionSplitRecords;
        }
        MDB_val mk = to_val(std::string_view(kUpgradingMeta)), mv{};
        if (read_only && mdb_get(txn.txn, dbis.dbi[kMeta], &mk, &mv) == MDB_SUCCESS)
          throw StateError(where.what +
                           ": its upgrade to state format version " + kFormatVersion +
                           " was interrupted half-way; the next `synctool run` of this sync finishes it (nothing "
                           "was lost), and it can be read after that");
      } else if (found == kFormatVersionNoSourceDigests) {
        if (!read_only) write_version = kFormatVersion;
      } else if (found != kFormatVersion) {
        throw StateError(where.what + ": unsupported state format version \"" + found +
                         "\" (this synctool reads versions 1 to " + kFormatVersion + "; a newer synctool wrote it)");
      }
    } else if (rc == MDB_NOTFOUND) {
      if (!read_only) write_version = kFormatVersion;
    } else {
      fail(where, rc, "read meta");
    }
    if (!write_version.empty()) {
      MDB_val version = to_val(write_version);
      check(where, mdb_put(txn.txn, dbis.dbi[kMeta], &k, &version, 0), "write meta");
    }
  }
  // Committing (rather than aborting) keeps the database handles open, also for a read txn.
  int rc = mdb_txn_commit(txn.release());
  if (rc != MDB_SUCCESS) fail(where, rc, "commit setup", "nothing was changed");
  if (split_records && read_only) dbis.legacy = true;
  if (split_records && !read_only) upgrade_split_records(env, dbis, where);
  return dbis;
}

// Opens the LMDB environment in `where.dir` (whose data file exists) and guards its maps.
EnvPtr open_environment(const Where& where, bool read_only) {
  MDB_env* raw = nullptr;
  check(where, mdb_env_create(&raw), "create the environment");
  auto env = std::make_unique<Environment>(raw, where);
  check(where, mdb_env_set_maxdbs(raw, kMaxDbs), "configure the environment");
  check(where, mdb_env_set_mapsize(raw, kMapSize), "configure the environment");
  // Default sync-on-commit (no MDB_NOSYNC / MDB_NOMETASYNC): a commit survives power loss.
  // MDB_NOTLS lets the cached read transaction coexist with iteration snapshots.
  unsigned flags = MDB_NOTLS | (read_only ? MDB_RDONLY : 0u);
  check(where, mdb_env_open(raw, where.dir.c_str(), flags, 0600), "open");
  mdb_filehandle_t fd;
  check(where, mdb_env_get_fd(raw, &fd), "open");
  env->data_guard = detail::MappedFileGuard(fd, where.data_file(), where.what, where.advice);
  env->lock_guard = detail::MappedFileGuard(-1, where.dir / "lock.mdb", where.what, where.advice);
  // check_data_file() saw this before LMDB mapped it; the meta LMDB now uses must agree.
  MDB_envinfo info;
  MDB_stat st;
  check(where, mdb_env_info(raw, &info), "open");
  check(where, mdb_env_stat(raw, &st), "open");
  struct stat file {};
  if (::fstat(fd, &file) != 0) detail::throw_errno(where.what, errno, "read " + where.data_file().string(), where.dir);
  const std::uint64_t data_end = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  if (static_cast<std::uint64_t>(file.st_size) < data_end)
    fail_damaged(where, "is truncated: " + std::to_string(file.st_size) + " bytes, but its last page ends at " +
                            std::to_string(data_end));
  return env;
}

// Folders "creating-<pid>-XXXXXX" that a process which no longer runs left behind.
void remove_abandoned_creations(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("creating-")) continue;
    const auto rest = std::string_view(name).substr(9);
    long pid = 0;
    auto [end, parse_error] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
    if (parse_error != std::errc() || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::filesystem::remove_all(entry.path(), ec);
  }
}

// Creates the environment whole: in a folder of its own first, then linked into place as
// data.mdb. An open that fails half-way (a full disk, a kill) leaves no data.mdb behind, so
// an existing data.mdb that is short or empty was damaged afterwards, never half-created.
// link() does not replace: when two processes create at once, the first one's file stays.
void create_environment(const Where& where) {
  std::string pattern = (where.dir / ("creating-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    detail::throw_errno(where.what, errno, "create a folder in " + where.dir.string(), where.dir);
  const std::filesystem::path folder = pattern;
  struct Cleanup {
    std::filesystem::path folder;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(folder, ec);
    }
  } cleanup{folder};
  Where fresh{where.what, folder, where.advice, where.dir};
  detail::reserve_lock_file(fresh, false);
  {
    EnvPtr env = open_environment(fresh, false);
    open_databases(env->env, fresh, false);
  }
  if (::link((folder / "data.mdb").c_str(), where.data_file().c_str()) != 0 && errno != EEXIST)
    detail::throw_errno(where.what, errno, "create " + where.data_file().string(), where.dir);
  int dir_fd = ::open(where.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    // The new name must survive a power loss as the file's contents do (committed above).
    int rc = ::fsync(dir_fd);
    int err = errno;
    ::close(dir_fd);
    if (rc != 0) detail::throw_errno(where.what, err, "create " + where.data_file().string(), where.dir);
  }
}

Where where_for(const std::filesystem::path& dir) {
  return Where{"state " + dir.string(), dir, detail::reset_advice(dir)};
}

std::unique_ptr<LmdbStore> open_store(const std::filesystem::path& dir, bool read_only) {
  const Where where = where_for(dir);
  if (read_only) {
    struct stat st {};
    if (::stat(where.data_file().c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return nullptr;
      detail::throw_errno(where.what, errno, "read " + where.data_file().string(), dir);
    }
  } else {
    detail::make_state_directory(dir, where.what);
    remove_abandoned_creations(dir);
    struct stat st {};
    if (::stat(where.data_file().c_str(), &st) != 0) {
      if (errno != ENOENT) detail::throw_errno(where.what, errno, "read " + where.data_file().string(), dir);
      create_environment(where);
    }
  }
  detail::check_data_file(where);
  detail::reserve_lock_file(where, read_only);
  EnvPtr env = open_environment(where, read_only);
  // Free reader slots left by killed processes so they do not pin old pages forever.
  int dead = 0;
  check(where, mdb_reader_check(env->env, &dead), "check readers");
  Dbis dbis = open_databases(env->env, where, read_only);
  return std::make_unique<LmdbStore>(where, std::move(env), read_only, dbis);
}

}  // namespace

std::unique_ptr<StateStore> open_lmdb_store(const std::filesystem::path& dir, bool read_only) {
  return open_store(dir, read_only);
}

void verify_lmdb_store(const std::filesystem::path& dir) {
  auto store = open_store(dir, true);
  if (store) store->verify();
}

namespace {
// The checking child exits with this plus the StateProblem it met.
constexpr int kCheckProblemBase = 20;
}  // namespace

StateCheck check_lmdb_store(const std::filesystem::path& dir) {
  return run_on_lmdb_store_in_child(dir, [&] { verify_lmdb_store(dir); });
}

StateCheck run_on_lmdb_store_in_child(const std::filesystem::path& dir, const std::function<void()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw StateError("state " + dir.string() + ": cannot start the process that opens it: " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw StateError("state " + dir.string() + ": cannot start the process that opens it: " + std::strerror(err));
  }
  if (pid == 0) {
    // The child: its stderr (where a fault in a map is reported) goes to the parent, and its
    // exit status says what kind of problem it met.
    ::dup2(fds[1], STDERR_FILENO);
    int code = 0;
    std::string message;
    try {
      body();
    } catch (const StateError& e) {
      message = e.what();
      code = kCheckProblemBase + static_cast<int>(e.problem());
    } catch (const std::exception& e) {
      message = e.what();
      code = kCheckProblemBase + static_cast<int>(StateProblem::other);
    }
    for (std::size_t done = 0; done < message.size();) {
      ssize_t n = ::write(STDERR_FILENO, message.data() + done, message.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string output;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // The fault handler's message starts like every error line; the check reports it bare.
  constexpr std::string_view kPrefix = "synctool: error: ";
  if (output.starts_with(kPrefix)) output.erase(0, kPrefix.size());
  while (!output.empty() && output.back() == '\n') output.pop_back();
  // The advice to run `state reset` is for other commands: the caller is resetting.
  const std::string advice = "; " + detail::reset_advice(dir);
  if (output.ends_with(advice)) output.resize(output.size() - advice.size());
  StateCheck result;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return result;
  result.healthy = false;
  result.message = output;
  result.problem = StateProblem::damaged;  // a fault in the map, or a crash inside LMDB
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code >= kCheckProblemBase && code <= kCheckProblemBase + static_cast<int>(StateProblem::io))
    result.problem = static_cast<StateProblem>(code - kCheckProblemBase);
  if (WIFSIGNALED(status))
    result.message = "state " + dir.string() + ": reading " + (dir / "data.mdb").string() + " ended with signal " +
                     std::to_string(WTERMSIG(status)) + (output.empty() ? "" : ": " + output);
  return result;
}

void remove_lmdb_store(const std::filesystem::path& dir) {
  const Where where = where_for(dir);
  for (const char* name : {"data.mdb", "lock.mdb"}) {
    const auto file = dir / name;
    if (::unlink(file.c_str()) != 0 && errno != ENOENT)
      detail::throw_errno(where.what, errno, "remove " + file.string(), dir);
  }
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace synctool::state
