#include "state/lmdb_support.hpp"

#include "util/hash.hpp"

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

}  // namespace synctool::state::detail
