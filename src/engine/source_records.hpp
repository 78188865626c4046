// What a run read from its source, by match key: the staging table of the records it must
// plan, and, beside it, the records an incremental run knew unchanged by their source digest,
// which are never staged. Those cost 8 bytes of memory each (their key's hash, to find a key
// read twice) and a sequential line in a scratch file (read back only for such a key).
#pragma once

#include "engine/staged_record.hpp"
#include "state/staging.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace synctool::engine {

// A set of 64-bit key hashes (open addressing, linear probing; 0 is stored as 1).
class KeyHashSet {
 public:
  // False when the hash was already in the set.
  bool insert(std::uint64_t hash);
  bool contains(std::uint64_t hash) const;
  std::size_t size() const { return count_; }

 private:
  void grow();
  std::vector<std::uint64_t> slots_;
  std::size_t count_ = 0;
};

std::uint64_t key_hash(std::string_view key);

class SourceRecords final : public state::Staging {
 public:
  // `unique_ids`: the source's native ids are unique, so the same id read twice under one key
  // is one record read again (a page re-read), not a duplicate.
  SourceRecords(const std::filesystem::path& scratch_dir, bool unique_ids);
  ~SourceRecords() override;
  SourceRecords(const SourceRecords&) = delete;
  SourceRecords& operator=(const SourceRecords&) = delete;

  // Adds a record under its key. A second record with the same key marks both as duplicates,
  // unless it is the same record read again (the same id where the connector's ids are unique).
  void stage(const std::string& key, const StagedRecord& record);
  // A record known unchanged (StagedRecord::State::unchanged): kept out of the staging table
  // unless another record shares its key.
  void add_unchanged(const std::string& key, const std::string& id, const std::string& origin);
  // Records added by add_unchanged() that stayed out of the staging table: planned as
  // unchanged without an action.
  std::size_t unstaged_unchanged() const { return unchanged_count_ - unchanged_staged_; }

  // state::Staging: the staging table, except that contains() also answers for the unstaged
  // unchanged records (by their key's 64-bit hash: a key that is not there is taken for one
  // of them about once in 2^64 / (number of them) lookups, which can only keep a delete, an
  // intent or a failed row one run longer). seal() first stages the unchanged records whose
  // key another record shares, so the planner sees them as duplicates.
  std::optional<std::string> put(const std::string& key, std::string_view value) override;
  std::optional<std::string> get(const std::string& key) const override { return staging_->get(key); }
  bool contains(const std::string& key) const override;
  std::size_t size() const override { return staging_->size(); }
  void for_each(const std::function<bool(const std::string&, std::string_view)>& fn) const override {
    staging_->for_each(fn);
  }
  void seal() override;

 private:
  void note_key(const std::string& key);
  void write_log(std::string_view text);

  std::unique_ptr<state::Staging> staging_;
  std::filesystem::path scratch_dir_;
  bool unique_ids_;
  KeyHashSet seen_;        // every key added so far
  KeyHashSet unchanged_;   // keys of unstaged unchanged records
  KeyHashSet contested_;   // keys added twice: their unchanged records are staged at seal()
  std::FILE* log_ = nullptr;  // key, id and origin of each unstaged unchanged record
  std::size_t unchanged_count_ = 0;
  std::size_t unchanged_staged_ = 0;
};

}  // namespace synctool::engine
