#include "state/staging.hpp"

#include "state/fault_guard.hpp"
#include "state/local_errors.hpp"
#include "state/lmdb_support.hpp"

#include <lmdb.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

namespace synctool::state {

namespace {

using detail::check;
using detail::fail;
using detail::StoredKey;
using detail::to_val;
using detail::Where;
using nlohmann::json;

// Puts are grouped into large transactions: a commit per put would dominate the cost.
constexpr std::size_t kBatchPuts = 50'000;
constexpr std::size_t kBatchBytes = std::size_t{64} << 20;
// With MDB_WRITEMAP LMDB sizes the file to the whole map (sparse), so start modestly and
// double between batches, keeping room for at least a few batches beyond twice the data.
constexpr std::size_t kInitialMapSize = std::size_t{1} << 30;
constexpr std::size_t kHeadroom = 4 * kBatchBytes;

struct CursorGuard {
  MDB_cursor* cursor = nullptr;
  CursorGuard() = default;
  CursorGuard(const CursorGuard&) = delete;
  CursorGuard& operator=(const CursorGuard&) = delete;
  ~CursorGuard() {
    if (cursor) mdb_cursor_close(cursor);
  }
};

std::filesystem::path make_temp_folder(const std::filesystem::path& parent) {
  const std::string where = "staging " + parent.string();
  detail::make_state_directory(parent, where);
  std::string pattern = (parent / "staging-XXXXXX").string();
  // mkdtemp creates the folder with mode 0700.
  if (!::mkdtemp(pattern.data())) detail::throw_errno(where, errno, "create a folder in " + parent.string(), parent);
  return pattern;
}

// What a damaged or unwritable staging file means for the user.
constexpr const char* kStagingAdvice =
    "it holds only this run's scratch data, and the state is as its last commit left it";

// Scratch data for one run: durability is traded for speed (no syncs; a crash simply loses
// the staging folder, which the next run never reads). Not thread-safe. A for_each() before
// seal() reads a snapshot taken at its start; puts made from its callback do not appear in it.
class DiskStaging final : public Staging {
 public:
  explicit DiskStaging(const std::filesystem::path& parent)
      : folder_(make_temp_folder(parent)), where_{"staging " + folder_.string(), folder_, kStagingAdvice} {
    try {
      open();
    } catch (...) {
      close();
      throw;
    }
  }

  ~DiskStaging() override { close(); }

  DiskStaging(const DiskStaging&) = delete;
  DiskStaging& operator=(const DiskStaging&) = delete;

  std::optional<std::string> put(const std::string& key, std::string_view value) override {
    if (sealed_) throw std::logic_error(where_.what + ": put() after seal()");
    StoredKey stored(key);
    encode(stored, key, value);
    const std::size_t bytes = buffer_.size() + key.size();
    if (writer_ && batch_puts_ > 0 && batch_bytes_ + bytes > kBatchBytes) commit_batch();
    if (!writer_) begin_batch(bytes);

    MDB_val k = stored.val();
    MDB_val v{buffer_.size(), buffer_.data()};
    std::optional<std::string> previous;
    // One B-tree descent in the common case: NOOVERWRITE either inserts or hands back the
    // existing value.
    int rc = mdb_put(writer_, dbi_, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
      previous = std::string(decode(k, v).second);
      v = MDB_val{buffer_.size(), buffer_.data()};
      rc = mdb_put(writer_, dbi_, &k, &v, 0);
    } else if (rc == MDB_SUCCESS) {
      ++count_;
    }
    check(where_, rc, "stage a record");

    resident_.tick();
    ++batch_puts_;
    batch_bytes_ += bytes;
    if (batch_puts_ >= kBatchPuts || batch_bytes_ >= kBatchBytes) commit_batch();
    return previous;
  }

  std::optional<std::string> get(const std::string& key) const override {
    if (key.empty()) return std::nullopt;
    StoredKey stored(key);
    MDB_val k = stored.val();
    MDB_val v;
    resident_.tick();
    int rc = mdb_get(reading_txn(), dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(where_, rc, "read staging");
    return std::string(decode(k, v).second);
  }

  bool contains(const std::string& key) const override {
    if (key.empty()) return false;
    StoredKey stored(key);
    MDB_val k = stored.val();
    MDB_val v;
    resident_.tick();
    int rc = mdb_get(reading_txn(), dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    check(where_, rc, "read staging");
    return true;
  }

  std::size_t size() const override { return count_; }

  void for_each(const std::function<bool(const std::string&, std::string_view)>& fn) const override {
    MDB_txn* own = nullptr;
    if (!sealed_) {
      if (writer_) commit_batch();
      check(where_, mdb_txn_begin(env_, nullptr, MDB_RDONLY, &own), "begin a read");
    }
    struct Scope {
      const DiskStaging& self;
      MDB_txn* own;
      ~Scope() {
        if (own) mdb_txn_abort(own);
        --self.scanning_;
      }
    } scope{*this, own};
    ++scanning_;

    CursorGuard cursor;
    check(where_, mdb_cursor_open(own ? own : reader_, dbi_, &cursor.cursor), "read staging");
    MDB_val k, v;
    std::string key;  // one buffer for every key: no allocation per record
    int rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
      auto [original, value] = decode(k, v);
      key.assign(original);
      if (!fn(key, value)) return;
      resident_.tick();
      rc = mdb_cursor_get(cursor.cursor, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) fail(where_, rc, "read staging");
  }

  void seal() override {
    if (sealed_) return;
    if (writer_) commit_batch();
    check(where_, mdb_txn_begin(env_, nullptr, MDB_RDONLY, &reader_), "begin a read");
    sealed_ = true;
  }

 private:
  void open() {
    detail::reserve_lock_file(where_, false);
    check(where_, mdb_env_create(&env_), "create the environment");
    assertions_ = std::make_unique<detail::AssertionWatch>(env_, where_);
    check(where_, mdb_env_set_mapsize(env_, map_size_), "configure the environment");
    // MDB_NOTLS: a for_each snapshot may be open while the write transaction is.
    const unsigned flags = MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_NOTLS | MDB_NORDAHEAD;
    check(where_, mdb_env_open(env_, folder_.c_str(), flags, 0600), "open");
    guard_maps();
    resident_.attach(env_);
    MDB_txn* txn = nullptr;
    check(where_, mdb_txn_begin(env_, nullptr, 0, &txn), "begin setup");
    int rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
    if (rc != MDB_SUCCESS) {
      mdb_txn_abort(txn);
      fail(where_, rc, "open the table");
    }
    check(where_, mdb_txn_commit(txn), "commit setup");
  }

  // With MDB_WRITEMAP the data file is sparse and written through the map: on a full disk
  // the write that needs a new block raises SIGBUS, which the guard turns into exit 7 with a
  // message. Called again whenever the map moves (growing it remaps).
  void guard_maps() const {
    data_guard_ = detail::MappedFileGuard();
    lock_guard_ = detail::MappedFileGuard();
    mdb_filehandle_t fd;
    check(where_, mdb_env_get_fd(env_, &fd), "open");
    data_guard_ = detail::MappedFileGuard(fd, where_.data_file(), where_.what, where_.advice);
    lock_guard_ = detail::MappedFileGuard(-1, folder_ / "lock.mdb", where_.what, where_.advice);
  }

  void close() noexcept {
    if (writer_) mdb_txn_abort(writer_);
    if (reader_) mdb_txn_abort(reader_);
    writer_ = reader_ = nullptr;
    resident_.attach(nullptr);
    data_guard_ = detail::MappedFileGuard();
    lock_guard_ = detail::MappedFileGuard();
    if (env_) mdb_env_close(env_);
    env_ = nullptr;
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }

  // Grows the map while no transaction is open (LMDB's condition for resizing), so that
  // the next batch, plus `incoming` bytes, cannot run out of room.
  void begin_batch(std::size_t incoming) const {
    if (scanning_ == 0) {
      MDB_envinfo info;
      MDB_stat st;
      check(where_, mdb_env_info(env_, &info), "read the environment");
      check(where_, mdb_env_stat(env_, &st), "read the environment");
      const std::size_t used = (info.me_last_pgno + 1) * st.ms_psize;
      std::size_t wanted = map_size_;
      while (wanted < 2 * used + kHeadroom + 4 * incoming) wanted *= 2;
      if (wanted != map_size_) {
        check(where_, mdb_env_set_mapsize(env_, wanted), "grow the map");
        map_size_ = wanted;
        guard_maps();
      }
    }
    check(where_, mdb_txn_begin(env_, nullptr, 0, &writer_), "begin a write");
  }

  void commit_batch() const {
    MDB_txn* txn = std::exchange(writer_, nullptr);
    batch_puts_ = 0;
    batch_bytes_ = 0;
    check(where_, mdb_txn_commit(txn), "commit staged records");
  }

  // The stored form of a value: the bytes themselves, or for a key stored hashed (longer than
  // LMDB's key limit) the original key first, behind its length (4 bytes, little-endian).
  void encode(const StoredKey& stored, const std::string& key, std::string_view value) {
    buffer_.clear();
    if (stored.hashed()) {
      const auto length = static_cast<std::uint32_t>(key.size());
      for (int shift = 0; shift < 32; shift += 8) buffer_.push_back(static_cast<char>((length >> shift) & 0xff));
      buffer_.append(key);
    }
    buffer_.append(value);
  }

  // The original key and the value of a stored entry.
  std::pair<std::string_view, std::string_view> decode(const MDB_val& k, const MDB_val& v) const {
    std::string_view stored_key(static_cast<const char*>(k.mv_data), k.mv_size);
    std::string_view data(static_cast<const char*>(v.mv_data), v.mv_size);
    if (!detail::is_hashed(k)) return {stored_key, data};
    std::uint32_t length = 0;
    if (data.size() >= 4)
      for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(data[static_cast<std::size_t>(i)]);
    if (data.size() < 4 || data.size() - 4 < length)
      detail::fail_damaged(where_, "holds a corrupt value in staging: a long-key entry without its key");
    return {data.substr(4, length), data.substr(4 + length)};
  }

  // Before seal() reads go through the write transaction, which sees its own uncommitted puts.
  MDB_txn* reading_txn() const {
    if (sealed_) return reader_;
    if (!writer_) begin_batch(0);
    return writer_;
  }

  std::filesystem::path folder_;
  Where where_;
  MDB_env* env_ = nullptr;
  mutable detail::MappedFileGuard data_guard_;
  mutable detail::MappedFileGuard lock_guard_;
  std::unique_ptr<detail::AssertionWatch> assertions_;
  MDB_dbi dbi_ = 0;
  // Mutable: reads before seal() open or commit the batch transaction.
  mutable MDB_txn* writer_ = nullptr;
  mutable std::size_t batch_puts_ = 0;
  mutable std::size_t batch_bytes_ = 0;
  mutable std::size_t map_size_ = kInitialMapSize;
  mutable int scanning_ = 0;
  mutable detail::ResidentPages resident_;
  MDB_txn* reader_ = nullptr;
  std::size_t count_ = 0;
  bool sealed_ = false;
  std::string buffer_;
};

class MemoryStaging final : public Staging {
 public:
  std::optional<std::string> put(const std::string& key, std::string_view value) override {
    if (sealed_) throw std::logic_error("staging: put() after seal()");
    if (key.empty()) throw std::invalid_argument("state: a key must not be empty");
    auto [it, inserted] = table_.try_emplace(key, value);
    if (inserted) return std::nullopt;
    return std::exchange(it->second, std::string(value));
  }
  std::optional<std::string> get(const std::string& key) const override {
    auto it = table_.find(key);
    if (it == table_.end()) return std::nullopt;
    return it->second;
  }
  bool contains(const std::string& key) const override { return table_.contains(key); }
  std::size_t size() const override { return table_.size(); }
  void for_each(const std::function<bool(const std::string&, std::string_view)>& fn) const override {
    for (const auto& [key, value] : table_)
      if (!fn(key, value)) return;
  }
  void seal() override { sealed_ = true; }

 private:
  std::map<std::string, std::string> table_;
  bool sealed_ = false;
};

}  // namespace

std::unique_ptr<Staging> make_disk_staging(const std::filesystem::path& parent) {
  return std::make_unique<DiskStaging>(parent);
}

std::unique_ptr<Staging> make_memory_staging() { return std::make_unique<MemoryStaging>(); }

}  // namespace synctool::state
