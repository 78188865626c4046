#include "state/lmdb_support.hpp"

#include "util/hash.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>

#include <stdexcept>

namespace synctool::state::detail {

using nlohmann::json;

void fail(const std::string& where, int rc, std::string_view doing) {
  std::string message = where + ": " + mdb_strerror(rc);
  if (!doing.empty()) {
    message += " (";
    message += doing;
    message += ")";
  }
  throw std::runtime_error(message);
}

StoredKey::StoredKey(std::string_view key) {
  if (key.empty()) throw std::invalid_argument("state: a key must not be empty");
  if (key.size() <= kMaxRawKey) {
    view_ = key;
    return;
  }
  hashed_.reserve(kHashedKeySize);
  hashed_.append(key.substr(0, kMaxRawKey));
  hashed_.push_back('\0');
  hashed_.append(util::sha256_hex(key));
  view_ = hashed_;
}

void encode_value(const StoredKey& stored, std::string_view key, const json& value, std::vector<std::uint8_t>& out) {
  out.clear();
  if (stored.hashed()) {
    json::to_cbor(json{{"k", key}, {"v", value}}, out);
  } else {
    json::to_cbor(value, out);
  }
}

namespace {

json parse(const MDB_val& data, const std::string& where) {
  auto* first = static_cast<const std::uint8_t*>(data.mv_data);
  try {
    return json::from_cbor(first, first + data.mv_size);
  } catch (const json::exception& e) {
    throw std::runtime_error(where + ": corrupt stored value: " + e.what());
  }
}

json unwrap(json&& wrapped, const std::string& where) {
  if (!wrapped.is_object() || !wrapped.contains("k") || !wrapped.contains("v") || !wrapped["k"].is_string())
    throw std::runtime_error(where + ": corrupt stored value: long-key entry without its key");
  return wrapped;
}

}  // namespace

json decode_value(const MDB_val& stored_key, const MDB_val& data, const std::string& where) {
  if (!is_hashed(stored_key)) return parse(data, where);
  json wrapped = unwrap(parse(data, where), where);
  return std::move(wrapped["v"]);
}

Entry decode_entry(const MDB_val& stored_key, const MDB_val& data, const std::string& where) {
  if (!is_hashed(stored_key)) return {std::string(to_view(stored_key)), parse(data, where)};
  json wrapped = unwrap(parse(data, where), where);
  return {wrapped["k"].get<std::string>(), std::move(wrapped["v"])};
}

void ResidentPages::release() {
  count_ = 0;
  if (!env_) return;
  // mdb_env_info() reports the map address only for MDB_FIXEDMAP environments, so the
  // mapping is found by the data file's device and inode. Advice only: any failure changes
  // nothing but the resident set, so it is ignored.
  mdb_filehandle_t fd;
  struct stat file;
  if (mdb_env_get_fd(env_, &fd) != MDB_SUCCESS || ::fstat(fd, &file) != 0) return;
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return;
  char line[4096];
  while (std::fgets(line, sizeof line, maps)) {
    unsigned long start = 0, end = 0, offset = 0, inode = 0;
    unsigned major = 0, minor = 0;
    char perms[8];
    if (std::sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms, &offset, &major, &minor, &inode) != 7)
      continue;
    if (inode == file.st_ino && makedev(major, minor) == file.st_dev)
      ::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
  }
  std::fclose(maps);
}

}  // namespace synctool::state::detail
