#include "engine/staged_record.hpp"

#include "state/store.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cstdio>

namespace synctool::engine {

namespace {

[[noreturn]] void corrupt() {
  throw state::StateError("staging holds a corrupt record (this run's scratch data; the state is as its last commit left it)",
                          state::StateProblem::damaged);
}

void put_length(std::string& out, std::size_t n) {
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

void put_text(std::string& out, const std::string& text) {
  put_length(out, text.size());
  out.append(text);
}

void put_list(std::string& out, const std::vector<std::string>& list) {
  put_length(out, list.size());
  for (const auto& text : list) put_text(out, text);
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  std::size_t length() {
    std::size_t n = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) corrupt();
      auto byte = static_cast<unsigned char>(rest_.front());
      rest_.remove_prefix(1);
      n |= static_cast<std::size_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return n;
    }
    corrupt();
  }
  std::string text() {
    std::size_t n = length();
    if (n > rest_.size()) corrupt();
    std::string out(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return out;
  }
  std::vector<std::string> list() {
    std::size_t n = length();
    if (n > rest_.size()) corrupt();  // every item takes at least its length byte
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(text());
    return out;
  }
  std::uint64_t u64() {
    if (rest_.size() < 8) corrupt();
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(rest_[static_cast<std::size_t>(i)]);
    rest_.remove_prefix(8);
    return n;
  }
  std::string_view view() {
    std::size_t n = length();
    if (n > rest_.size()) corrupt();
    auto out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }
  // Skips a list, returning how many items it had.
  std::size_t skip_list() {
    std::size_t n = length();
    if (n > rest_.size()) corrupt();
    for (std::size_t i = 0; i < n; ++i) view();
    return n;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

}  // namespace

std::string StagedRecord::duplicate_label(std::size_t i) const {
  const std::string& where = i < duplicate_origins.size() ? duplicate_origins[i] : std::string();
  return where.empty() ? "'" + duplicate_ids[i] + "'" : where;
}

std::string StagedRecord::encode() const {
  std::string out;
  out.reserve(64 + id.size() + origin.size() + modified.size());
  out.push_back(static_cast<char>(state));
  put_text(out, id);
  put_text(out, origin);
  put_text(out, modified);
  put_text(out, reason);
  put_list(out, duplicate_ids);
  put_list(out, duplicate_origins);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(source_digest >> (8 * i)));
  if (!values.is_null()) nlohmann::json::to_cbor(values, out);
  return out;
}

StagedRecord::State StagedRecord::decode_state(std::string_view bytes) {
  if (bytes.empty() || static_cast<unsigned char>(bytes.front()) > static_cast<unsigned char>(State::unchanged)) corrupt();
  return static_cast<State>(bytes.front());
}

void StagedRecord::decode_values() {
  if (values_cbor.empty()) return;
  try {
    values = nlohmann::json::from_cbor(values_cbor.begin(), values_cbor.end());
  } catch (const nlohmann::json::exception&) {
    corrupt();
  }
  values_cbor = {};
}

std::string StagedRecord::Peek::values_hash() const {
  if (values_cbor.empty()) return {};
  // The same digest engine::values_hash() computes: FNV-1a over the values' CBOR.
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t digest = util::fnv1a64(values_cbor);
  std::string hex(16, '0');
  for (int i = 15; i >= 0; --i, digest >>= 4) hex[static_cast<std::size_t>(i)] = kHex[digest & 0xf];
  return hex;
}

StagedRecord::Peek StagedRecord::peek(std::string_view bytes) {
  Peek p;
  p.state = decode_state(bytes);
  Reader in(bytes.substr(1));
  p.id = in.view();
  for (int text = 0; text < 3; ++text) in.view();  // origin, modified, reason
  p.duplicated = in.skip_list() > 1;
  in.skip_list();  // duplicate origins
  in.u64();        // source digest
  p.values_cbor = in.rest();
  return p;
}

StagedRecord StagedRecord::decode(std::string_view bytes, bool with_values) {
  StagedRecord r;
  r.state = decode_state(bytes);
  Reader in(bytes.substr(1));
  r.id = in.text();
  r.origin = in.text();
  r.modified = in.text();
  r.reason = in.text();
  r.duplicate_ids = in.list();
  r.duplicate_origins = in.list();
  r.source_digest = in.u64();
  auto cbor = in.rest();
  if (!cbor.empty()) {
    r.values_cbor = cbor;
    if (with_values) r.decode_values();
    // The same digest engine::values_hash() computes: FNV-1a over the values' CBOR.
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(util::fnv1a64(cbor)));
    r.values_hash = hex;
  }
  return r;
}

void add_staged(state::Staging& staging, const std::string& key, const StagedRecord& record, bool unique_ids) {
  auto previous = staging.put(key, record.encode());
  if (!previous) return;
  auto earlier = StagedRecord::decode(*previous);
  if (!earlier.duplicated()) {
    earlier.duplicate_ids = {earlier.id};
    earlier.duplicate_origins = {earlier.origin};
  }
  bool reread = unique_ids && std::find(earlier.duplicate_ids.begin(), earlier.duplicate_ids.end(), record.id) !=
                                  earlier.duplicate_ids.end();
  if (reread) {
    // The same record twice (a page read again): the newer copy, already stored, stands
    // unless the key is already shared by others.
    if (earlier.duplicate_ids.size() > 1) staging.put(key, earlier.encode());
    return;
  }
  earlier.duplicate_ids.push_back(record.id);
  earlier.duplicate_origins.push_back(record.origin);
  staging.put(key, earlier.encode());
}

}  // namespace synctool::engine
