#include "state/record_codec.hpp"

namespace synctool::state::detail {

namespace {

constexpr std::uint8_t kKnownFlags = RecordView::kHasLink | RecordView::kHasBase | RecordView::kPackedHash;
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
  return nlohmann::json::from_cbor(values.begin(), values.end());
}

bool parse_record(std::string_view bytes, RecordView& out) {
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
  if (!read_text(rest, out.source_id) || !read_text(rest, out.destination_id) ||
      !read_text(rest, out.source_modified) || !read_text(rest, out.destination_modified) ||
      !read_text(rest, out.full_key))
    return false;
  if (out.has_base()) {
    if (rest.empty()) return false;
    out.values = rest;
  } else if (!rest.empty()) {
    return false;
  }
  return true;
}

void encode_record_head(const RecordParts& parts, std::vector<std::uint8_t>& out) {
  out.clear();
  std::uint8_t flags = 0;
  if (parts.has_link) flags |= RecordView::kHasLink;
  if (parts.has_base) flags |= RecordView::kHasBase;
  const bool packed = packable(parts.hash);
  if (packed) flags |= RecordView::kPackedHash;
  out.push_back(flags);
  if (packed) {
    for (std::size_t i = 0; i < kPackedHashBytes; ++i)
      out.push_back(static_cast<std::uint8_t>(hex_digit(parts.hash[2 * i]) << 4 | hex_digit(parts.hash[2 * i + 1])));
  } else {
    append_text(out, parts.hash);
  }
  append_text(out, parts.source_id);
  append_text(out, parts.destination_id);
  append_text(out, parts.source_modified);
  append_text(out, parts.destination_modified);
  append_text(out, parts.full_key);
}

}  // namespace synctool::state::detail
