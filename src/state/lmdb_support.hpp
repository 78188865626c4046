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
#include <string>
#include <string_view>
#include <vector>

namespace synctool::state::detail {

inline constexpr std::size_t kMaxRawKey = 400;
inline constexpr std::size_t kHashedKeySize = kMaxRawKey + 1 + 64;

// Throws std::runtime_error "<where>: <LMDB error text> (<doing>)".
[[noreturn]] void fail(const std::string& where, int rc, std::string_view doing);
inline void check(const std::string& where, int rc, std::string_view doing) {
  if (rc != MDB_SUCCESS) fail(where, rc, doing);
}

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
// The value stored under `stored_key`; throws std::runtime_error "<where>: corrupt ..." when
// the bytes are not the CBOR this module writes.
nlohmann::json decode_value(const MDB_val& stored_key, const MDB_val& data, const std::string& where);
// The original key and the value of an entry met while iterating.
struct Entry {
  std::string key;
  nlohmann::json value;
};
Entry decode_entry(const MDB_val& stored_key, const MDB_val& data, const std::string& where);

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
  void attach(MDB_env* env) { env_ = env; }
  void tick() {
    if (++count_ >= kEvery) release();
  }
  void release();

 private:
  MDB_env* env_ = nullptr;
  unsigned count_ = 0;
};

}  // namespace synctool::state::detail
