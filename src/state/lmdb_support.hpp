// Internal helpers shared by the LMDB state store and the disk staging table: error
// reporting, MDB_val conversions, the long-key rule and the CBOR value encoding.
//
// Long keys: LMDB rejects keys over 511 bytes, but match keys come from user data and may be
// longer. A key of up to kMaxRawKey bytes is stored as is; a longer one is stored as its first
// kMaxRawKey bytes, a NUL and the SHA-256 of the whole key (kHashedKeySize bytes, so the two
// forms never collide: the length tells them apart), and its value is wrapped as
// {"k": full key, "v": value} so iteration can return the real key. Ordering consequence:
// long keys still sort correctly against every key that differs within the first kMaxRawKey
// bytes, but long keys sharing those bytes sort by hash among themselves.
#pragma once

#include <lmdb.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::state::detail {

inline constexpr std::size_t kMaxRawKey = 400;
inline constexpr std::size_t kHashedKeySize = kMaxRawKey + 1 + 64;

// Whose environment an error belongs to, for its message.
struct Where {
  std::string what;           // "state /srv/.synctool/contacts", "staging /tmp/..."
  std::filesystem::path dir;  // the environment's folder
  std::string advice;         // what to do about a damaged file
  // The folder a system error names, when not `dir` (a state being created in a folder of
  // its own still names the state's folder).
  std::filesystem::path shown_dir{};
  std::filesystem::path data_file() const { return dir / "data.mdb"; }
  const std::filesystem::path& reason_dir() const { return shown_dir.empty() ? dir : shown_dir; }
};

// Whether an LMDB return code says the file itself is damaged (rather than the disk, the
// permissions or the caller).
bool is_damage(int rc);

// Throws StateError "<what>: cannot <doing>: <reason>[; <consequence>][; <advice>]": the reason
// names the folder for a system error (a full disk, a read-only file system, a permission)
// and the data file for damage, and the advice follows damage only.
[[noreturn]] void fail(const Where& where, int rc, std::string_view doing, std::string_view consequence = {});
inline void check(const Where& where, int rc, std::string_view doing) {
  if (rc != MDB_SUCCESS) fail(where, rc, doing);
}
// Throws StateError(damaged) "<what>: <data file> is damaged: <detail>; <advice>".
[[noreturn]] void fail_damaged(const Where& where, std::string_view detail);

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline MDB_val to_val(const std::vector<std::uint8_t>& b) {
  return MDB_val{b.size(), const_cast<std::uint8_t*>(b.data())};
}
inline std::string_view to_view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

// The stored form of a key. Not copyable: val() may point into the object itself.
class StoredKey {
 public:
  // Throws std::invalid_argument for an empty key (LMDB cannot store one).
  explicit StoredKey(std::string_view key);
  StoredKey(const StoredKey&) = delete;
  StoredKey& operator=(const StoredKey&) = delete;
  MDB_val val() const { return to_val(view_); }
  bool hashed() const { return !hashed_.empty(); }

 private:
  std::string hashed_;
  std::string_view view_;
};

inline bool is_hashed(const MDB_val& stored_key) { return stored_key.mv_size > kMaxRawKey; }

// Serializes `value` as CBOR into `out` (replacing its contents), wrapped with the full key
// when the key is stored hashed.
void encode_value(const StoredKey& stored, std::string_view key, const nlohmann::json& value,
                  std::vector<std::uint8_t>& out);
// The value stored under `stored_key` in `table`; throws StateError(damaged) "... holds a
// corrupt value in <table> ..." when the bytes are not the CBOR this module writes.
nlohmann::json decode_value(const MDB_val& stored_key, const MDB_val& data, const Where& where, std::string_view table);
// The text stored under `name` in the CBOR map `data`, read without decoding the rest of the
// map: the scan stops at that entry. nullopt when the bytes are not such a map or the entry is
// missing or not text (the caller then decodes the whole value, which names the damage).
std::optional<std::string> cbor_top_level_string(const MDB_val& data, std::string_view name);
// The entries of a CBOR map whose keys and values are all text, as views into `data`; false
// when the bytes are anything else (the caller then decodes them the general way).
bool read_cbor_text_map(const MDB_val& data, std::vector<std::pair<std::string_view, std::string_view>>& entries);
// The original key and the value of an entry met while iterating.
struct Entry {
  std::string key;
  nlohmann::json value;
};
Entry decode_entry(const MDB_val& stored_key, const MDB_val& data, const Where& where, std::string_view table);

// What the two meta pages at the start of an LMDB data file say (LMDB 0.9's on-disk format,
// MDB_DATA_VERSION 1), read with pread before LMDB maps the file: a meta page with a page
// size LMDB would divide by, or a last page past the end of the file, crashes the process
// once mapped. LMDB uses the meta with the higher transaction id.
struct DataFileHeader {
  std::uint64_t file_size = 0;
  std::uint32_t page_size = 0;
  std::uint64_t last_page = 0;  // of the meta LMDB will use
  std::uint64_t txn_id = 0;
  std::uint64_t data_end() const { return (last_page + 1) * page_size; }
};
// Throws StateError(damaged) naming the file when it is not an LMDB data file this LMDB
// reads, or is shorter than its last page; StateError of the errno's kind when it cannot be
// read.
DataFileHeader check_data_file(const Where& where);

// LMDB (built with its assertions, as Debian's is) calls abort() when a check inside it fails,
// and damage to a page makes some fail (e.g. "Assertion 'IS_LEAF(mp)' failed"). Once
// watched, a failed assertion in `env` writes "synctool: error: <what>: <data file> is
// damaged (LMDB: <assertion>); <advice>" and ends the process with exit 7, as a fault in the
// map does (fault_guard.hpp): a C callback cannot throw through LMDB. The watch must not
// outlive `env`; it is released with it.
void on_lmdb_assertion(MDB_env* env, const char* message);

class AssertionWatch {
 public:
  AssertionWatch() = default;
  AssertionWatch(MDB_env* env, const Where& where);
  AssertionWatch(const AssertionWatch&) = delete;
  AssertionWatch& operator=(const AssertionWatch&) = delete;

 private:
  friend void on_lmdb_assertion(MDB_env* env, const char* message);
  std::string before_;
  std::string after_;
};

// Checks the structure of every page the meta LMDB uses reaches, in the data file open as
// `fd` (LMDB 0.9's page format): each page's number, kind and bounds, every node inside its
// page, branches pointing at pages of the file, one depth for all leaves, the page and entry
// counts each database records, overflow pages inside the file, no page reached twice, and
// LMDB's list of free pages naming none that is in use. LMDB checks little of this itself:
// a write that copies a page whose bounds are damaged overflows LMDB's own buffers. Call it
// while holding LMDB's writer lock (inside a write transaction), or while no other process
// writes, so that no page changes under it. Throws StateError(damaged) naming the page.
void check_pages(int fd, const Where& where);

// LMDB maps lock.mdb and writes its reader table through the map: on a full disk a sparse
// lock file raises SIGBUS inside mdb_env_open. Allocating its blocks first (posix_fallocate)
// turns that into ENOSPC, thrown as StateError(no_space) naming the folder. Creates the lock
// file if missing; on a read-only file system a read-only open needs none and is let through.
void reserve_lock_file(const Where& where, bool read_only);

// Keeps a large scan or a million point reads from showing up as resident memory: every
// kEvery operations it tells the kernel that this process no longer needs the environment's
// mapped pages (MADV_DONTNEED). LMDB maps its file MAP_SHARED, so the pages stay in the page
// cache and the next access maps them back without reading the disk; only the process's
// resident set stops growing with the data. Call tick() between LMDB calls, never while a
// pointer into the map is being read.
class ResidentPages {
 public:
  static constexpr unsigned kEvery = 4096;
  explicit ResidentPages(MDB_env* env = nullptr) : env_(env) {}
  void attach(MDB_env* env) {
    env_ = env;
    ranges_env_ = nullptr;  // another environment may be mapped where this one was
    ranges_.clear();
  }
  // `weight`: how many operations' worth of pages this one maps. A put into a write
  // transaction reads its whole path (root, branches, leaf) scattered through the file.
  void tick(unsigned weight = 1) {
    count_ += weight;
    if (count_ >= kEvery) release();
  }
  void release();

 private:
  struct Range {
    void* start;
    std::size_t length;
  };
  MDB_env* env_ = nullptr;
  unsigned count_ = 0;
  // Where the map lies, found once in /proc/self/maps and again only when the map was resized
  // (reading /proc/self/maps every time cost 5-7% of a large run).
  std::vector<Range> ranges_;
  std::size_t ranges_map_size_ = 0;
  MDB_env* ranges_env_ = nullptr;
};

}  // namespace synctool::state::detail
