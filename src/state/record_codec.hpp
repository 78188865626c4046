// The bytes of one entry of the `records` table (state format versions 3 and 4): everything the
// state knows of one match key, in one value, read in the order a run needs it.
//
//   flags (1 byte: kHasLink, kHasBase, kPackedHash, kDestinationIsKey, kHasSourceDigest)
//   values digest    (8 raw bytes when kPackedHash: 16 lowercase hex digits packed; else a text)
//   source digest    (8 bytes, little-endian, only with kHasSourceDigest: format version 4)
//   source id, destination id, source modified, destination modified (texts; the destination
//                    id is left empty when it is the match key itself, kDestinationIsKey)
//   full key         (a text; empty unless the table key is the hashed form of a long key)
//   key field        (a text: the top-level field of the base values that held the match key
//                    and was left out of them; empty when none was)
//   base values      (CBOR, to the end; only with kHasBase)
//
// A text is its length (LEB128) and its bytes. An unchanged record is recognised from the
// first few bytes: the digest, then the ids, and the base values are never decoded. The match
// key, which every destination record holds in its match field and many systems use as their
// id, is stored once: as the table's key.
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
  static constexpr std::uint8_t kDestinationIsKey = 0x08;
  // The digest of the source record the base values were mapped from (engine::source_digest):
  // an incremental run that reads the same record again knows it unchanged without mapping it.
  static constexpr std::uint8_t kHasSourceDigest = 0x10;

  std::uint8_t flags = 0;
  std::string_view key;   // the match key: the one parse_record() was given, or the full key
  std::string_view hash;  // packed (8 bytes) when flags has kPackedHash: use hash_text()
  std::uint64_t source_digest = 0;  // 0: none (kHasSourceDigest not set)
  std::string_view source_id;
  std::string_view destination_id;
  std::string_view source_modified;
  std::string_view destination_modified;
  std::string_view full_key;
  std::string_view key_field;
  std::string_view values;  // CBOR, without key_field

  bool has_link() const { return (flags & kHasLink) != 0; }
  bool has_base() const { return (flags & kHasBase) != 0; }
  std::string hash_text() const;
  // The base values (key_field put back); throws nlohmann::json::exception when the CBOR is
  // not valid.
  nlohmann::json decode_values() const;
};

// Parses `bytes`, the record stored under `key` (the full match key; empty when the table
// key is a long key's hashed form: the record's own full key is used), into `out`: views into
// `bytes` and `key`. False when they are not a record this module writes (a flag it does not
// know, a text past the end, neither link nor base).
bool parse_record(std::string_view bytes, std::string_view key, RecordView& out);

// What a record is made of, for writing.
struct RecordParts {
  bool has_link = false;
  std::string_view source_id;
  std::string_view destination_id;
  bool has_base = false;
  std::string_view hash;
  std::uint64_t source_digest = 0;  // with has_base; 0 = none
  std::string_view source_modified;
  std::string_view destination_modified;
  std::string_view full_key;   // set when the table key is the hashed form of `key`
  std::string_view key_field;  // with values_cbor: the field left out of it
};

// Writes the record stored under the match key `key` into `out` (replacing its contents). Its
// base values (with has_base) are `values`, or when that is null the CBOR `values_cbor` of an
// earlier record, taken as it is with parts.key_field.
void encode_record(const RecordParts& parts, std::string_view key, const nlohmann::json* values,
                   std::string_view values_cbor, std::vector<std::uint8_t>& out);

}  // namespace synctool::state::detail
