// The bytes of one entry of the `records` table (state format version 3): everything the
// state knows of one match key, in one value, read in the order a run needs it.
//
//   flags (1 byte: kHasLink, kHasBase, kPackedHash)
//   values digest    (8 raw bytes when kPackedHash: 16 lowercase hex digits packed; else a text)
//   source id, destination id, source modified, destination modified (texts)
//   full key         (a text; empty unless the table key is the hashed form of a long key)
//   base values      (CBOR, to the end; only with kHasBase)
//
// A text is its length (LEB128) and its bytes. An unchanged record is recognised from the
// first few bytes: the digest, then the ids, and the base values are never decoded.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::state::detail {

struct RecordView {
  static constexpr std::uint8_t kHasLink = 0x01;
  static constexpr std::uint8_t kHasBase = 0x02;
  static constexpr std::uint8_t kPackedHash = 0x04;

  std::uint8_t flags = 0;
  std::string_view hash;  // packed (8 bytes) when flags has kPackedHash: use hash_text()
  std::string_view source_id;
  std::string_view destination_id;
  std::string_view source_modified;
  std::string_view destination_modified;
  std::string_view full_key;
  std::string_view values;  // CBOR

  bool has_link() const { return (flags & kHasLink) != 0; }
  bool has_base() const { return (flags & kHasBase) != 0; }
  std::string hash_text() const;
  // The base values; throws nlohmann::json::exception when the CBOR is not valid.
  nlohmann::json decode_values() const;
};

// Parses `bytes` into `out` (views into `bytes`); false when they are not a record this
// module writes (a flag it does not know, a text past the end, neither link nor base).
bool parse_record(std::string_view bytes, RecordView& out);

// What a record is made of, for writing. `values_cbor` is the CBOR of the base values
// (ignored without a base).
struct RecordParts {
  bool has_link = false;
  std::string_view source_id;
  std::string_view destination_id;
  bool has_base = false;
  std::string_view hash;
  std::string_view source_modified;
  std::string_view destination_modified;
  std::string_view full_key;
};

// Writes the record into `out` (replacing its contents) and returns where its values go:
// the caller appends the CBOR of the base values when it has them.
void encode_record_head(const RecordParts& parts, std::vector<std::uint8_t>& out);

}  // namespace synctool::state::detail
