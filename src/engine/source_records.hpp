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
#include <unordered_set>
#include <vector>

namespace synctool::engine {

// Key hashes with a mark each (open addressing, linear probing, filled to at most 3/4). A
// hash is kept in 63 bits, the lowest bit holding the mark: 8 bytes a key.
class KeyHashSet {
 public:
  // Room for `n` keys without growing (growing holds the old and the new table at once).
  void reserve(std::size_t n);
  // Adds the hash (marked if `mark`; a mark once set stays). False when it was already there.
  bool insert(std::uint64_t hash, bool mark = false);
  bool contains(std::uint64_t hash) const { return find(hash) != nullptr; }
  bool marked(std::uint64_t hash) const {
    const auto* slot = find(hash);
    return slot && (*slot & 1) != 0;
  }
  std::size_t size() const { return count_; }

 private:
  const std::uint64_t* find(std::uint64_t hash) const;
  std::size_t home(std::uint64_t stored) const {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(stored) * slots_.size()) >> 64);
  }
  static std::uint64_t stored_form(std::uint64_t hash) { return (hash & ~std::uint64_t{1}) | 2; }
  void rehash(std::size_t slots);
  std::vector<std::uint64_t> slots_;
  std::size_t count_ = 0;
};

std::uint64_t key_hash(std::string_view key);

class SourceRecords final : public state::Staging {
 public:
  // `unique_ids`: the source's native ids are unique, so the same id read twice under one key
  // is one record read again (a page re-read), not a duplicate.
  // `expected_unchanged`: about how many records add_unchanged() may see (the state's links),
  // so that the key set is sized once; 0 when this run never calls it (a baseline or full run,
  // which then keeps no key set at all).
  SourceRecords(const std::filesystem::path& scratch_dir, bool unique_ids, std::size_t expected_unchanged);
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
  bool track_keys_;
  KeyHashSet seen_;        // every key added so far, marked when an unstaged unchanged record has it
  KeyHashSet contested_;   // keys added twice: their unchanged records are staged at seal()
  // Keys whose last record read was staged after an unchanged one: the same record changed since
  // (a push source's spool holds each delivery of a record), so its staged copy stands at seal().
  std::unordered_set<std::uint64_t> staged_last_;
  std::FILE* log_ = nullptr;  // key, id and origin of each unstaged unchanged record
  std::size_t unchanged_count_ = 0;
  std::size_t unchanged_staged_ = 0;
};

}  // namespace synctool::engine
