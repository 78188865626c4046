#include "engine/source_records.hpp"

#include "state/local_errors.hpp"
#include "state/store.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <cstdlib>
#include <unistd.h>

namespace synctool::engine {

std::uint64_t key_hash(std::string_view key) {
  const std::uint64_t hash = XXH3_64bits(key.data(), key.size());
  return hash == 0 ? 1 : hash;
}

void KeyHashSet::reserve(std::size_t n) {
  const std::size_t wanted = n + n / 3 + 16;
  if (wanted > slots_.size()) rehash(wanted);
}

bool KeyHashSet::insert(std::uint64_t hash, bool mark) {
  if ((count_ + 1) * 4 > slots_.size() * 3) rehash(std::max<std::size_t>(1024, slots_.size() * 2));
  const std::uint64_t stored = stored_form(hash);
  for (std::size_t i = home(stored);; i = i + 1 == slots_.size() ? 0 : i + 1) {
    if ((slots_[i] & ~std::uint64_t{1}) == stored) {
      if (mark) slots_[i] |= 1;
      return false;
    }
    if (slots_[i] == 0) {
      slots_[i] = stored | (mark ? 1 : 0);
      ++count_;
      return true;
    }
  }
}

const std::uint64_t* KeyHashSet::find(std::uint64_t hash) const {
  if (slots_.empty()) return nullptr;
  const std::uint64_t stored = stored_form(hash);
  for (std::size_t i = home(stored);; i = i + 1 == slots_.size() ? 0 : i + 1) {
    if ((slots_[i] & ~std::uint64_t{1}) == stored) return &slots_[i];
    if (slots_[i] == 0) return nullptr;
  }
}

void KeyHashSet::rehash(std::size_t slots) {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(slots, 0);
  count_ = 0;
  for (auto stored : old) {
    if (stored == 0) continue;
    for (std::size_t i = home(stored & ~std::uint64_t{1});; i = i + 1 == slots_.size() ? 0 : i + 1)
      if (slots_[i] == 0) {
        slots_[i] = stored;
        ++count_;
        break;
      }
  }
}

namespace {

constexpr const char* kWhere = "the run's scratch data";

void put_u32(std::string& out, std::size_t n) {
  const auto v = static_cast<std::uint32_t>(n);
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

SourceRecords::SourceRecords(const std::filesystem::path& scratch_dir, bool unique_ids, std::size_t expected_unchanged)
    : staging_(state::make_disk_staging(scratch_dir)), scratch_dir_(scratch_dir), unique_ids_(unique_ids),
      track_keys_(expected_unchanged > 0) {
  if (track_keys_) seen_.reserve(expected_unchanged);
}

SourceRecords::~SourceRecords() {
  if (log_) std::fclose(log_);
}

void SourceRecords::note_key(const std::string& key) {
  if (!track_keys_) return;
  const auto hash = key_hash(key);
  if (!seen_.insert(hash)) contested_.insert(hash);
}

void SourceRecords::stage(const std::string& key, const StagedRecord& record) {
  note_key(key);
  if (track_keys_ && unique_ids_ && seen_.marked(key_hash(key))) staged_last_.insert(key_hash(key));
  add_staged(*staging_, key, record, unique_ids_);
}

std::optional<std::string> SourceRecords::put(const std::string& key, std::string_view value) {
  note_key(key);
  return staging_->put(key, value);
}

void SourceRecords::add_unchanged(const std::string& key, const std::string& id, const std::string& origin) {
  if (!track_keys_) throw std::logic_error("SourceRecords: add_unchanged() on a run that keeps no key set");
  const auto hash = key_hash(key);
  if (!seen_.insert(hash, true)) contested_.insert(hash);
  staged_last_.erase(hash);
  ++unchanged_count_;
  if (!log_) {
    // Unlinked at once: nothing is left behind if the run is killed.
    std::string pattern = (scratch_dir_ / "unchanged-XXXXXX").string();
    state::detail::make_state_directory(scratch_dir_, kWhere);
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) state::detail::throw_errno(kWhere, errno, "create a file in " + scratch_dir_.string(), scratch_dir_);
    ::unlink(pattern.c_str());
    log_ = ::fdopen(fd, "w+");
    if (!log_) {
      const int err = errno;
      ::close(fd);
      state::detail::throw_errno(kWhere, err, "open a file in " + scratch_dir_.string(), scratch_dir_);
    }
  }
  std::string entry;
  entry.reserve(12 + key.size() + id.size() + origin.size());
  put_u32(entry, key.size());
  entry += key;
  put_u32(entry, id.size());
  entry += id;
  put_u32(entry, origin.size());
  entry += origin;
  write_log(entry);
}

void SourceRecords::write_log(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), log_) != text.size())
    state::detail::throw_errno(kWhere, errno, "write a file in " + scratch_dir_.string(), scratch_dir_);
}

bool SourceRecords::contains(const std::string& key) const {
  // The set in memory first: on an incremental run nearly every key is an unchanged one.
  return (unchanged_count_ > 0 && seen_.marked(key_hash(key))) || staging_->contains(key);
}

void SourceRecords::seal() {
  if (log_ && contested_.size() > 0) {
    if (std::fflush(log_) != 0 || std::fseek(log_, 0, SEEK_SET) != 0)
      state::detail::throw_errno(kWhere, errno, "read back a file in " + scratch_dir_.string(), scratch_dir_);
    auto read_text = [&](std::string& out) {
      std::uint32_t n = 0;
      if (std::fread(&n, sizeof n, 1, log_) != 1) return false;
      out.resize(n);
      return n == 0 || std::fread(out.data(), 1, n, log_) == n;
    };
    std::string key;
    StagedRecord marker;
    marker.state = StagedRecord::State::unchanged;
    for (;;) {
      if (!read_text(key)) break;
      if (!read_text(marker.id) || !read_text(marker.origin))
        throw state::StateError(std::string(kWhere) + ": a file in " + scratch_dir_.string() + " was cut short",
                                state::StateProblem::damaged);
      const auto hash = key_hash(key);
      if (!contested_.contains(hash)) continue;
      ++unchanged_staged_;
      if (staged_last_.contains(hash)) {
        // Read unchanged, then changed: the changed copy of the same record stands.
        auto previous = staging_->put(key, marker.encode());
        if (previous) {
          auto later = StagedRecord::decode(*previous);
          if (!later.duplicated() && later.id == marker.id) {
            staging_->put(key, *previous);
            continue;
          }
          staging_->put(key, *previous);
        }
      }
      // Another record shares the key: staged, it is planned as that key's duplicate.
      add_staged(*staging_, key, marker, unique_ids_);
    }
  }
  staging_->seal();
}

}  // namespace synctool::engine
