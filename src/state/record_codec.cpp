#include "state/record_codec.hpp"

namespace synctool::state::detail {

namespace {

constexpr std::uint8_t kKnownFlags =
    RecordView::kHasLink | RecordView::kHasBase | RecordView::kPackedHash | RecordView::kDestinationIsKey |
                                    RecordView::kHasSourceDigest;
constexpr std::size_t kPackedHashBytes = 8;

void append_text(std::vector<std::uint8_t>& out, std::string_view text) {
  std::uint64_t n = text.size();
  do {
    auto byte = static_cast<std::uint8_t>(n & 0x7f);
    n >>= 7;
    out.push_back(n ? static_cast<std::uint8_t>(byte | 0x80) : byte);
  } while (n);
  out.insert(out.end(), text.begin(), text.end());
}

bool read_text(std::string_view& rest, std::string_view& text) {
  std::uint64_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (rest.empty() || shift > 56) return false;
    const auto byte = static_cast<std::uint8_t>(rest.front());
    rest.remove_prefix(1);
    n |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) break;
  }
  if (n > rest.size()) return false;
  text = rest.substr(0, static_cast<std::size_t>(n));
  rest.remove_prefix(static_cast<std::size_t>(n));
  return true;
}

// A CBOR item's head: its major type and its argument in the shortest form.
void append_cbor_head(std::vector<std::uint8_t>& out, std::uint8_t major, std::uint64_t n) {
  const auto type = static_cast<std::uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<std::uint8_t>(type | n));
    return;
  }
  const int bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffULL ? 4 : 8;
  out.push_back(static_cast<std::uint8_t>(type | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// A digest of 16 lowercase hex digits (what engine::values_hash gives) is stored as 8 bytes.
bool packable(std::string_view hash) {
  if (hash.size() != 2 * kPackedHashBytes) return false;
  for (char c : hash)
    if (hex_digit(c) < 0) return false;
  return true;
}

}  // namespace

std::string RecordView::hash_text() const {
  if (!(flags & kPackedHash)) return std::string(hash);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(hash.size() * 2, '0');
  for (std::size_t i = 0; i < hash.size(); ++i) {
    const auto byte = static_cast<std::uint8_t>(hash[i]);
    text[2 * i] = kHex[byte >> 4];
    text[2 * i + 1] = kHex[byte & 0xf];
  }
  return text;
}

nlohmann::json RecordView::decode_values() const {
  if (!has_base()) return nlohmann::json::object();
  auto decoded = nlohmann::json::from_cbor(values.begin(), values.end());
  if (!key_field.empty() && decoded.is_object()) decoded[std::string(key_field)] = std::string(key);
  return decoded;
}

bool parse_record(std::string_view bytes, std::string_view key, RecordView& out) {
  if (bytes.empty()) return false;
  out = RecordView{};
  out.flags = static_cast<std::uint8_t>(bytes.front());
  if ((out.flags & ~kKnownFlags) != 0 || !(out.flags & (RecordView::kHasLink | RecordView::kHasBase))) return false;
  std::string_view rest = bytes.substr(1);
  if (out.flags & RecordView::kPackedHash) {
    if (rest.size() < kPackedHashBytes) return false;
    out.hash = rest.substr(0, kPackedHashBytes);
    rest.remove_prefix(kPackedHashBytes);
  } else if (!read_text(rest, out.hash)) {
    return false;
  }
  if (out.flags & RecordView::kHasSourceDigest) {
    if (rest.size() < 8 || !out.has_base()) return false;
    for (int i = 7; i >= 0; --i) out.source_digest = out.source_digest << 8 | static_cast<std::uint8_t>(rest[i]);
    if (out.source_digest == 0) return false;
    rest.remove_prefix(8);
  }
  if (!read_text(rest, out.source_id) || !read_text(rest, out.destination_id) ||
      !read_text(rest, out.source_modified) || !read_text(rest, out.destination_modified) ||
      !read_text(rest, out.full_key) || !read_text(rest, out.key_field))
    return false;
  out.key = key.empty() ? out.full_key : key;
  if (out.flags & RecordView::kDestinationIsKey) {
    if (!out.destination_id.empty()) return false;
    out.destination_id = out.key;
  }
  if (out.has_base()) {
    if (rest.empty()) return false;
    out.values = rest;
  } else if (!rest.empty()) {
    return false;
  }
  return true;
}

void encode_record(const RecordParts& parts, std::string_view key, const nlohmann::json* values,
                   std::string_view values_cbor, std::vector<std::uint8_t>& out) {
  out.clear();
  std::uint8_t flags = 0;
  if (parts.has_link) flags |= RecordView::kHasLink;
  if (parts.has_base) flags |= RecordView::kHasBase;
  const bool packed = packable(parts.hash);
  if (packed) flags |= RecordView::kPackedHash;
  const bool destination_is_key = !key.empty() && parts.destination_id == key;
  if (destination_is_key) flags |= RecordView::kDestinationIsKey;
  const bool has_source_digest = parts.has_base && parts.source_digest != 0;
  if (has_source_digest) flags |= RecordView::kHasSourceDigest;
  // The field holding the key is left out of the values (the first such, in key order).
  std::string_view key_field = parts.key_field;
  const nlohmann::json* skipped = nullptr;
  if (parts.has_base && values) {
    key_field = {};
    if (values->is_object() && !key.empty())
      for (auto it = values->begin(); it != values->end(); ++it)
        if (it->is_string() && it->get_ref<const std::string&>() == key) {
          key_field = it.key();
          skipped = &*it;
          break;
        }
  }
  out.push_back(flags);
  if (packed) {
    for (std::size_t i = 0; i < kPackedHashBytes; ++i)
      out.push_back(static_cast<std::uint8_t>(hex_digit(parts.hash[2 * i]) << 4 | hex_digit(parts.hash[2 * i + 1])));
  } else {
    append_text(out, parts.hash);
  }
  if (has_source_digest)
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(parts.source_digest >> (8 * i)));
  append_text(out, parts.source_id);
  append_text(out, destination_is_key ? std::string_view() : parts.destination_id);
  append_text(out, parts.source_modified);
  append_text(out, parts.destination_modified);
  append_text(out, parts.full_key);
  append_text(out, parts.has_base ? key_field : std::string_view());
  if (!parts.has_base) return;
  if (!values) {
    out.insert(out.end(), values_cbor.begin(), values_cbor.end());
  } else if (!skipped) {
    nlohmann::json::to_cbor(*values, out);
  } else {
    // The map nlohmann writes, one entry short: a head, then each entry's key and value.
    append_cbor_head(out, 5, values->size() - 1);
    for (auto it = values->begin(); it != values->end(); ++it) {
      if (&*it == skipped) continue;
      append_cbor_head(out, 3, it.key().size());
      out.insert(out.end(), it.key().begin(), it.key().end());
      nlohmann::json::to_cbor(*it, out);
    }
  }
}

}  // namespace synctool::state::detail
