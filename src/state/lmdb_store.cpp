#include "state/lmdb_store.hpp"

#include "state/lmdb_support.hpp"
#include "util/fs.hpp"

#include <lmdb.h>

#include <array>
#include <stdexcept>
#include <utility>

namespace synctool::state {

namespace {

using detail::check;
using detail::fail;
using detail::StoredKey;
using detail::to_val;
using detail::to_view;
using nlohmann::json;

enum Db : std::size_t { kMeta, kLinks, kSourceIds, kDestinationIds, kBase, kPending, kFailed, kConflicts, kRuns, kDbCount };
constexpr std::array<const char*, kDbCount> kDbNames = {
    "meta", "links", "source_ids", "destination_ids", "base", "pending", "failed", "conflicts", "runs"};

constexpr const char* kFormatVersion = "1";
// Virtual address space only: without MDB_WRITEMAP the file grows with the data, so a map
// this large costs nothing and leaves room for millions of records.
constexpr std::size_t kMapSize = sizeof(void*) >= 8 ? (std::size_t{64} << 30) : (std::size_t{1} << 30);
constexpr unsigned kMaxDbs = 16;

// Stored field names are short because every record pays for them.
json to_json(const Link& l) { return {{"s", l.source_id}, {"d", l.destination_id}}; }
json to_json(const BaseValue& b) {
  return {{"v", b.values}, {"h", b.hash}, {"sm", b.source_modified}, {"dm", b.destination_modified}};
}
json to_json(const PendingIntent& p) { return {{"side", p.side}, {"v", p.values}, {"t", p.sent_at_ms}}; }
json to_json(const FailedRow& f) {
  return {{"s", f.source_id}, {"e", f.error},         {"k", f.kind},
          {"n", f.attempts},  {"f", f.first_seen_ms}, {"l", f.last_seen_ms}, {"dd", f.delete_id}};
}
json to_json(const Conflict& c) { return {{"s", c.source_values}, {"d", c.destination_values}, {"t", c.seen_ms}}; }

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
  return {j.value("side", std::string()), j.value("v", json::object()), j.value("t", std::int64_t{0})};
}
template <>
FailedRow from_json<FailedRow>(const json& j) {
  return {j.value("s", std::string()), j.value("e", std::string()),  j.value("k", std::string()),
          j.value("n", 0),             j.value("f", std::int64_t{0}), j.value("l", std::int64_t{0}),
          j.value("dd", std::string())};
}
template <>
Conflict from_json<Conflict>(const json& j) {
  return {j.value("s", json::object()), j.value("d", json::object()), j.value("t", std::int64_t{0})};
}

// Decodes a record, turning a wrong shape into the same "corrupt" error as bad CBOR.
template <typename T>
T decode_record(const json& j, const std::string& where) {
  if (!j.is_object()) throw std::runtime_error(where + ": corrupt stored value: not an object");
  try {
    return from_json<T>(j);
  } catch (const json::exception& e) {
    throw std::runtime_error(where + ": corrupt stored value: " + e.what());
  }
}

// Big-endian so that LMDB's byte order is chronological order (start times are >= 0).
std::array<char, 8> run_key(std::int64_t started_ms) {
  auto v = static_cast<std::uint64_t>(started_ms);
  std::array<char, 8> key{};
  for (int i = 7; i >= 0; --i) {
    key[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return key;
}

bool clears_with_sync_state(std::string_view meta_name) {
  return meta_name.starts_with("cursor.") || meta_name == meta::baseline_done || meta_name == meta::identity_hash ||
         meta_name == meta::last_full_sync;
}

struct EnvCloser {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
using EnvPtr = std::unique_ptr<MDB_env, EnvCloser>;

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
};

class LmdbWriteTxn;

// Reads go through one cached read-only transaction (cheap point lookups) that is reset after
// every commit and renewed on the next read, so reads always see the latest committed state.
// Iterations use their own snapshot so that committing from inside a callback is safe.
// Single-threaded; a WriteTxn must not outlive its store.
class LmdbStore final : public StateStore {
 public:
  LmdbStore(std::filesystem::path dir, EnvPtr env, bool read_only, Dbis dbis)
      : where_("state " + dir.string()), env_(std::move(env)), read_only_(read_only), dbis_(dbis) {
    resident_.attach(env_.get());
  }

  ~LmdbStore() override {
    if (reader_) mdb_txn_abort(reader_);
  }

  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  std::optional<Link> get_link(const std::string& key) const override { return get_record<Link>(kLinks, key); }
  std::optional<std::string> key_for_source_id(const std::string& id) const override {
    return get_string(kSourceIds, id);
  }
  std::optional<std::string> key_for_destination_id(const std::string& id) const override {
    return get_string(kDestinationIds, id);
  }
  std::optional<BaseValue> get_base(const std::string& key) const override {
    return get_record<BaseValue>(kBase, key);
  }
  std::optional<PendingIntent> get_pending(const std::string& key) const override {
    return get_record<PendingIntent>(kPending, key);
  }
  std::optional<FailedRow> get_failed(const std::string& key) const override {
    return get_record<FailedRow>(kFailed, key);
  }
  std::optional<std::string> get_meta(const std::string& name) const override { return get_string(kMeta, name); }

  void for_each_link(const std::function<bool(const std::string&, const Link&)>& fn) const override {
    scan_records<Link>(kLinks, fn);
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
    check(where_, mdb_cursor_open(reader(), dbis_.dbi[kRuns], &cursor.cursor), "reading runs");
    MDB_val k, v;
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_LAST);
    while (rc == MDB_SUCCESS && (limit == 0 || out.size() < limit)) {
      try {
        out.push_back(json::parse(to_view(v)));
      } catch (const json::exception& e) {
        throw std::runtime_error(where_ + ": corrupt run record: " + e.what());
      }
      rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_PREV);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) fail(where_, rc, "reading runs");
    return out;
  }

  std::size_t link_count() const override { return count(kLinks); }
  std::size_t failed_count() const override { return count(kFailed); }
  std::size_t pending_count() const override { return count(kPending); }

  std::unique_ptr<WriteTxn> begin() override;

 private:
  friend class LmdbWriteTxn;

  MDB_txn* reader() const {
    if (!reader_) {
      check(where_, mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &reader_), "beginning a read");
      reader_live_ = true;
    } else if (!reader_live_) {
      check(where_, mdb_txn_renew(reader_), "renewing a read");
      reader_live_ = true;
    }
    return reader_;
  }

  void after_commit() {
    writing_ = false;
    if (reader_live_) {
      mdb_txn_reset(reader_);
      reader_live_ = false;
    }
  }

  // The raw value under `key`, viewed in the cached read transaction (valid until the next
  // commit).
  std::optional<MDB_val> lookup(Db db, const StoredKey& key) const {
    if (!dbis_.present[db]) return std::nullopt;
    MDB_val k = key.val();
    MDB_val v;
    resident_.tick();  // before the read: the returned view must stay mapped while it is used
    int rc = mdb_get(reader(), dbis_.dbi[db], &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(where_, rc, kDbNames[db]);
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
    return decode_record<T>(detail::decode_value(stored.val(), *v, where_), where_);
  }

  template <typename T>
  void scan_records(Db db, const std::function<bool(const std::string&, const T&)>& fn) const {
    if (!dbis_.present[db]) return;
    TxnGuard txn;
    check(where_, mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &txn.txn), "beginning a read");
    CursorGuard cursor;
    check(where_, mdb_cursor_open(txn.txn, dbis_.dbi[db], &cursor.cursor), kDbNames[db]);
    MDB_val k, v;
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
      auto entry = detail::decode_entry(k, v, where_);
      if (!fn(entry.key, decode_record<T>(entry.value, where_))) return;
      resident_.tick();
      rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) fail(where_, rc, kDbNames[db]);
  }

  std::size_t count(Db db) const {
    if (!dbis_.present[db]) return 0;
    MDB_stat st;
    check(where_, mdb_stat(reader(), dbis_.dbi[db], &st), kDbNames[db]);
    return st.ms_entries;
  }

  std::string where_;
  EnvPtr env_;
  bool read_only_;
  Dbis dbis_;
  mutable MDB_txn* reader_ = nullptr;
  mutable bool reader_live_ = false;
  bool writing_ = false;
  mutable detail::ResidentPages resident_;
};

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
    if (auto old = get<Link>(kLinks, stored)) {
      if (old->source_id != link.source_id) drop_reverse(kSourceIds, old->source_id, key);
      if (old->destination_id != link.destination_id) drop_reverse(kDestinationIds, old->destination_id, key);
    }
    put(kLinks, stored, key, to_json(link));
    if (!link.source_id.empty()) put_reverse(kSourceIds, link.source_id, key);
    if (!link.destination_id.empty()) put_reverse(kDestinationIds, link.destination_id, key);
  }

  void erase_link(const std::string& key) override {
    StoredKey stored(key);
    auto old = get<Link>(kLinks, stored);
    if (!old) return;
    drop_reverse(kSourceIds, old->source_id, key);
    drop_reverse(kDestinationIds, old->destination_id, key);
    del(kLinks, stored);
  }

  void put_base(const std::string& key, const BaseValue& base) override { put(kBase, key, to_json(base)); }
  void erase_base(const std::string& key) override { del(kBase, StoredKey(key)); }
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

  void put_run(std::int64_t started_ms, const nlohmann::json& report) override {
    auto key = run_key(started_ms);
    MDB_val k{key.size(), key.data()};
    std::string text = report.dump();
    MDB_val v = to_val(text);
    check(store_.where_, mdb_put(live(), dbi(kRuns), &k, &v, 0), "writing runs");
  }

  void clear_sync_state() override {
    for (Db db : {kLinks, kSourceIds, kDestinationIds, kBase, kPending, kFailed, kConflicts})
      check(store_.where_, mdb_drop(live(), dbi(db), 0), kDbNames[db]);
    std::vector<std::string> doomed;
    {
      CursorGuard cursor;
      check(store_.where_, mdb_cursor_open(live(), dbi(kMeta), &cursor.cursor), "meta");
      MDB_val k, v;
      int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
      for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT)) {
        if (clears_with_sync_state(to_view(k))) doomed.emplace_back(to_view(k));
      }
      if (rc != MDB_NOTFOUND) fail(store_.where_, rc, "meta");
    }
    for (const auto& name : doomed) del(kMeta, StoredKey(name));
  }

  void commit() override {
    MDB_txn* txn = live();
    txn_ = nullptr;
    // LMDB frees the transaction whether or not the commit succeeds.
    int rc = mdb_txn_commit(txn);
    store_.after_commit();
    check(store_.where_, rc, "committing");
  }

 private:
  MDB_txn* live() {
    if (!txn_) throw std::logic_error(store_.where_ + ": transaction already committed");
    return txn_;
  }
  MDB_dbi dbi(Db db) const { return store_.dbis_.dbi[db]; }

  template <typename T>
  std::optional<T> get(Db db, const StoredKey& stored) {
    MDB_val k = stored.val();
    MDB_val v;
    int rc = mdb_get(live(), dbi(db), &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(store_.where_, rc, kDbNames[db]);
    return decode_record<T>(detail::decode_value(k, v, store_.where_), store_.where_);
  }

  void put(Db db, const std::string& key, const json& value) { put(db, StoredKey(key), key, value); }
  void put(Db db, const StoredKey& stored, const std::string& key, const json& value) {
    detail::encode_value(stored, key, value, buffer_);
    put_bytes(db, stored, to_val(buffer_));
  }
  void put_bytes(Db db, const StoredKey& stored, MDB_val v) {
    MDB_val k = stored.val();
    store_.resident_.tick();  // the descent reads mapped pages; a big batch must not pile them up
    check(store_.where_, mdb_put(live(), dbi(db), &k, &v, 0), kDbNames[db]);
  }

  void del(Db db, const StoredKey& stored) {
    MDB_val k = stored.val();
    store_.resident_.tick();
    int rc = mdb_del(live(), dbi(db), &k, nullptr);
    if (rc != MDB_NOTFOUND) check(store_.where_, rc, kDbNames[db]);
  }

  // Reverse entries map an id to its match key as plain bytes; nothing iterates them, so a
  // hashed id needs no copy of the full id.
  void put_reverse(Db db, const std::string& id, const std::string& key) {
    put_bytes(db, StoredKey(id), to_val(key));
  }

  // Removes id -> key, unless the id has since been linked to another key.
  void drop_reverse(Db db, const std::string& id, const std::string& key) {
    if (id.empty()) return;
    StoredKey stored(id);
    MDB_val k = stored.val();
    MDB_val v;
    int rc = mdb_get(live(), dbi(db), &k, &v);
    if (rc == MDB_NOTFOUND) return;
    check(store_.where_, rc, kDbNames[db]);
    if (to_view(v) == key) del(db, stored);
  }

  LmdbStore& store_;
  MDB_txn* txn_;
  std::vector<std::uint8_t> buffer_;
};

std::unique_ptr<WriteTxn> LmdbStore::begin() {
  if (read_only_) throw std::logic_error(where_ + ": opened read-only, cannot write");
  // A second write transaction in the same thread would deadlock on LMDB's writer mutex.
  if (writing_) throw std::logic_error(where_ + ": a write transaction is already open");
  MDB_txn* txn = nullptr;
  check(where_, mdb_txn_begin(env_.get(), nullptr, 0, &txn), "beginning a write");
  return std::make_unique<LmdbWriteTxn>(*this, txn);
}

// Opens every named database (creating them when writable) and checks or writes the format
// version, in one transaction.
Dbis open_databases(MDB_env* env, const std::string& where, bool read_only) {
  Dbis dbis;
  TxnGuard txn;
  check(where, mdb_txn_begin(env, nullptr, read_only ? MDB_RDONLY : 0, &txn.txn), "beginning setup");
  for (std::size_t i = 0; i < kDbCount; ++i) {
    int rc = mdb_dbi_open(txn.txn, kDbNames[i], read_only ? 0 : MDB_CREATE, &dbis.dbi[i]);
    if (rc == MDB_NOTFOUND && read_only) continue;
    check(where, rc, kDbNames[i]);
    dbis.present[i] = true;
  }
  if (dbis.present[kMeta]) {
    MDB_val k = to_val(std::string_view(meta::format_version));
    MDB_val v;
    int rc = mdb_get(txn.txn, dbis.dbi[kMeta], &k, &v);
    if (rc == MDB_SUCCESS) {
      if (to_view(v) != kFormatVersion)
        throw std::runtime_error(where + ": unsupported state format version \"" + std::string(to_view(v)) +
                                 "\" (this synctool reads version " + kFormatVersion + ")");
    } else if (rc == MDB_NOTFOUND) {
      if (!read_only) {
        MDB_val version = to_val(std::string_view(kFormatVersion));
        check(where, mdb_put(txn.txn, dbis.dbi[kMeta], &k, &version, 0), "meta");
      }
    } else {
      fail(where, rc, "meta");
    }
  }
  // Committing (rather than aborting) keeps the database handles open, also for a read txn.
  check(where, mdb_txn_commit(txn.release()), "committing setup");
  return dbis;
}

}  // namespace

std::unique_ptr<StateStore> open_lmdb_store(const std::filesystem::path& dir, bool read_only) {
  const std::string where = "state " + dir.string();
  if (read_only) {
    std::error_code ec;
    if (!std::filesystem::exists(dir / "data.mdb", ec)) return nullptr;
  } else {
    util::create_private_directory(dir);
  }

  MDB_env* raw = nullptr;
  check(where, mdb_env_create(&raw), "creating the environment");
  EnvPtr env(raw);
  check(where, mdb_env_set_maxdbs(env.get(), kMaxDbs), "configuring");
  check(where, mdb_env_set_mapsize(env.get(), kMapSize), "configuring");
  // Default sync-on-commit (no MDB_NOSYNC / MDB_NOMETASYNC): a commit survives power loss.
  // MDB_NOTLS lets the cached read transaction coexist with iteration snapshots.
  unsigned flags = MDB_NOTLS | (read_only ? MDB_RDONLY : 0u);
  check(where, mdb_env_open(env.get(), dir.c_str(), flags, 0600), "opening");
  // Free reader slots left by killed processes so they do not pin old pages forever.
  int dead = 0;
  check(where, mdb_reader_check(env.get(), &dead), "checking readers");

  Dbis dbis = open_databases(env.get(), where, read_only);
  return std::make_unique<LmdbStore>(dir, std::move(env), read_only, dbis);
}

}  // namespace synctool::state
