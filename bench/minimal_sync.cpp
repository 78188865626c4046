// minimal-sync: the yardstick scripts/bench measures synctool's incremental CSV -> SQLite runs
// against. It does what a hand-written one-way sync with no safety would do, and nothing more:
// stream-parse the CSV (RFC 4180), take KEY (trimmed, ASCII-lowercased) as the match key, hash
// the key and the row's mapped columns (64 bits each), compare with the key->hash state saved by
// the last run (16 bytes an entry), upsert the new and changed rows into TABLE with one prepared
// statement in one transaction, and save the new state. No staging, no crash guarantees beyond
// SQLite's own transaction, no type checks, no report beyond the counts.
//
//   minimal-sync CSV DB TABLE STATEFILE KEY [COLUMN...]
//
// TABLE has columns KEY and COLUMN... named as in the CSV's header, and a unique index on KEY.
// A missing STATEFILE is an empty state (a baseline: every row is written). Prints one JSON
// object: {"read": N, "created": N, "updated": N, "unchanged": N, "without_key": N}.
#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

class Failure : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A word-at-a-time multiply-xorshift hash with a splitmix64 finish. `seed` chains fields: the
// length goes in first, so ("ab", "c") and ("a", "bc") hash differently.
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) {
  constexpr std::uint64_t multiplier = 0x9E3779B97F4A7C15ULL;
  std::uint64_t h = (seed ^ bytes.size()) * multiplier;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * multiplier;
    h ^= h >> 32;
  }
  if (n > 0) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, n);
    h = (h ^ word) * multiplier;
    h ^= h >> 32;
  }
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBULL;
  return h ^ (h >> 31);
}

// Reads RFC 4180 records from a file descriptor through one growing buffer. A record is first
// delimited (a line end outside quotes), then split in place: a quoted field's doubled quotes
// are undone inside the buffer, so fields are views into it, valid until the next call.
class CsvReader {
 public:
  CsvReader(int fd, std::string name) : fd_(fd), name_(std::move(name)), buffer_(1 << 20) {}

  // The next non-empty record, or false at the end of the file.
  bool next(std::vector<std::string_view>& fields) {
    for (;;) {
      char* begin = buffer_.data() + begin_;
      char* end = buffer_.data() + end_;
      std::size_t lines = 0;
      char* record_end = find_record_end(begin, end, lines);
      if (record_end == nullptr) {
        if (fill()) continue;
        begin = buffer_.data() + begin_;  // fill() moved the unread bytes to the front
        end = buffer_.data() + end_;
        if (begin == end) return false;
        record_line_ = line_;
        if (open_quote_) throw Failure(where() + "a quoted field is still open at the end of the file");
        record_end = end;  // the last record has no line end
      }
      const std::size_t after = static_cast<std::size_t>(record_end - buffer_.data()) + (record_end < end ? 1 : 0);
      record_line_ = line_;
      line_ += lines + 1;
      begin_ = after;
      if (record_end > begin && record_end[-1] == '\r') --record_end;
      if (record_end == begin) continue;  // an empty line
      split(begin, record_end, fields);
      return true;
    }
  }

  std::string where() const { return name_ + ":" + std::to_string(record_line_) + ": "; }

 private:
  // The line end closing the record that starts at `p`, or null when the buffer holds no whole
  // record. `lines` counts the line ends inside quoted fields.
  char* find_record_end(char* p, char* end, std::size_t& lines) {
    bool quoted = false;
    for (;;) {
      auto* newline = static_cast<char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      char* scan_end = newline != nullptr ? newline : end;
      for (auto* q = static_cast<char*>(std::memchr(p, '"', static_cast<std::size_t>(scan_end - p))); q != nullptr;
           q = static_cast<char*>(std::memchr(q + 1, '"', static_cast<std::size_t>(scan_end - q - 1))))
        quoted = !quoted;
      open_quote_ = quoted;
      if (newline == nullptr) return nullptr;
      if (!quoted) return newline;
      ++lines;
      p = newline + 1;
    }
  }

  void split(char* p, char* end, std::vector<std::string_view>& fields) {
    fields.clear();
    for (;;) {
      if (p < end && *p == '"') {
        char* content = ++p;
        char* out = content;
        for (;;) {
          if (p == end) throw Failure(where() + "field " + std::to_string(fields.size() + 1) + " has no closing quote");
          if (*p == '"') {
            if (p + 1 < end && p[1] == '"') {
              *out++ = '"';
              p += 2;
              continue;
            }
            ++p;
            break;
          }
          *out++ = *p++;
        }
        fields.emplace_back(content, static_cast<std::size_t>(out - content));
        if (p < end && *p != ',')
          throw Failure(where() + "field " + std::to_string(fields.size()) + " has text after its closing quote");
      } else {
        auto* comma = static_cast<char*>(std::memchr(p, ',', static_cast<std::size_t>(end - p)));
        char* field_end = comma != nullptr ? comma : end;
        fields.emplace_back(p, static_cast<std::size_t>(field_end - p));
        p = field_end;
      }
      if (p == end) return;
      ++p;  // the comma; a comma last on the line leaves one more, empty field
    }
  }

  // Moves the unread bytes to the front, grows the buffer when they fill it, and reads more.
  // False at the end of the file.
  bool fill() {
    if (eof_) return false;
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    for (;;) {
      const ssize_t got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
      if (got > 0) {
        end_ += static_cast<std::size_t>(got);
        return true;
      }
      if (got == 0) {
        eof_ = true;
        return false;
      }
      if (errno != EINTR) throw Failure(name_ + ": " + std::strerror(errno));
    }
  }

  int fd_;
  std::string name_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool open_quote_ = false;
  std::size_t line_ = 1;
  std::size_t record_line_ = 0;
};

// The state in memory: key hash -> row hash, open addressing with linear probing. Key hashes of
// 0 are stored as 1, so that 0 marks an empty slot.
class HashIndex {
 public:
  struct Slot {
    std::uint64_t key;
    std::uint64_t row;
  };

  explicit HashIndex(std::size_t expected) {
    std::size_t capacity = 1024;
    while (capacity * 3 < expected * 4) capacity *= 2;
    slots_.assign(capacity, Slot{0, 0});
  }

  static std::uint64_t stored_key(std::uint64_t key) { return key == 0 ? 1 : key; }

  // The slot of `key`; a new one (row 0, `inserted` set) when the key was not there.
  Slot& find_or_insert(std::uint64_t key, bool& inserted) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    Slot& slot = probe(slots_, stored_key(key));
    inserted = slot.key == 0;
    if (inserted) {
      slot.key = stored_key(key);
      ++size_;
    }
    return slot;
  }

  const std::vector<Slot>& slots() const { return slots_; }

 private:
  static Slot& probe(std::vector<Slot>& slots, std::uint64_t key) {
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = key & mask;; i = (i + 1) & mask)
      if (slots[i].key == key || slots[i].key == 0) return slots[i];
  }

  void grow() {
    std::vector<Slot> bigger(slots_.size() * 2, Slot{0, 0});
    for (const Slot& slot : slots_)
      if (slot.key != 0) probe(bigger, slot.key) = slot;
    slots_.swap(bigger);
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

HashIndex load_state(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT) return HashIndex(0);
    throw Failure(path + ": " + std::strerror(errno));
  }
  struct stat info;
  if (::fstat(::fileno(file), &info) != 0 || info.st_size % sizeof(HashIndex::Slot) != 0) {
    std::fclose(file);
    throw Failure(path + ": not a state file (its size is not a multiple of 16 bytes)");
  }
  HashIndex index(static_cast<std::size_t>(info.st_size) / sizeof(HashIndex::Slot));
  HashIndex::Slot buffer[4096];
  std::size_t got;
  bool inserted;
  while ((got = std::fread(buffer, sizeof(HashIndex::Slot), 4096, file)) > 0)
    for (std::size_t i = 0; i < got; ++i) index.find_or_insert(buffer[i].key, inserted).row = buffer[i].row;
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) throw Failure(path + ": read error");
  return index;
}

// Written beside the old state and renamed over it (no fsync: a yardstick, not a safe tool).
void save_state(const std::string& path, const HashIndex& index) {
  const std::string temporary = path + ".new";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) throw Failure(temporary + ": " + std::strerror(errno));
  bool failed = false;
  for (const auto& slot : index.slots())
    if (slot.key != 0 && std::fwrite(&slot, sizeof slot, 1, file) != 1) failed = true;
  if (std::fclose(file) != 0 || failed) throw Failure(temporary + ": write error");
  if (std::rename(temporary.c_str(), path.c_str()) != 0) throw Failure(path + ": " + std::strerror(errno));
}

std::string quoted_name(std::string_view name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

class Database {
 public:
  explicit Database(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      const std::string message = path + ": " + sqlite3_errmsg(db_);
      sqlite3_close(db_);
      throw Failure(message);
    }
  }
  ~Database() {
    sqlite3_finalize(upsert_);
    sqlite3_close(db_);
  }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void execute(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }

  // INSERT INTO table (key, columns...) VALUES (?...) ON CONFLICT(key) DO UPDATE SET column = excluded.column...
  void prepare_upsert(std::string_view table, const std::vector<std::string>& columns) {
    std::string names, values, updates;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      names += (i > 0 ? ", " : "") + quoted_name(columns[i]);
      values += i > 0 ? ", ?" : "?";
      if (i > 0) updates += (i > 1 ? ", " : "") + quoted_name(columns[i]) + " = excluded." + quoted_name(columns[i]);
    }
    std::string sql = "INSERT INTO " + quoted_name(table) + " (" + names + ") VALUES (" + values + ") ON CONFLICT(" +
                      quoted_name(columns[0]) + ") DO " + (updates.empty() ? "NOTHING" : "UPDATE SET " + updates);
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &upsert_, nullptr) != SQLITE_OK) fail(sql);
  }

  void upsert(const std::vector<std::string_view>& values) {
    for (std::size_t i = 0; i < values.size(); ++i)
      sqlite3_bind_text(upsert_, static_cast<int>(i + 1), values[i].data(), static_cast<int>(values[i].size()),
                        SQLITE_STATIC);
    if (sqlite3_step(upsert_) != SQLITE_DONE) fail("the upsert of '" + std::string(values[0]) + "'");
    sqlite3_reset(upsert_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw Failure(std::string(sqlite3_db_filename(db_, "main")) + ": " + what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// KEY trimmed and ASCII-lowercased into `out`.
void normalize_key(std::string_view raw, std::string& out) {
  while (!raw.empty() && is_blank(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && is_blank(raw.back())) raw.remove_suffix(1);
  out.assign(raw);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

int run(int argc, char** argv) {
  const std::string csv_path = argv[1], db_path = argv[2], table = argv[3], state_path = argv[4];
  const std::vector<std::string> columns(argv + 5, argv + argc);  // the key first

  const int fd = ::open(csv_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Failure(csv_path + ": " + std::strerror(errno));
  CsvReader reader(fd, csv_path);
  std::vector<std::string_view> fields;
  if (!reader.next(fields)) throw Failure(csv_path + ": no header");
  if (fields[0].starts_with("\xEF\xBB\xBF")) fields[0].remove_prefix(3);
  const std::size_t width = fields.size();
  std::vector<std::size_t> positions;
  for (const auto& column : columns) {
    std::size_t i = 0;
    while (i < width && fields[i] != column) ++i;
    if (i == width) throw Failure(csv_path + ": the header has no column '" + column + "'");
    positions.push_back(i);
  }

  HashIndex state = load_state(state_path);
  Database db(db_path);
  db.prepare_upsert(table, columns);
  db.execute("BEGIN");

  std::uint64_t read = 0, created = 0, updated = 0, unchanged = 0, without_key = 0;
  std::string key;
  std::vector<std::string_view> values(columns.size());
  while (reader.next(fields)) {
    ++read;
    if (fields.size() != width)
      throw Failure(reader.where() + std::to_string(fields.size()) + " fields where the header has " + std::to_string(width));
    normalize_key(fields[positions[0]], key);
    if (key.empty()) {
      ++without_key;
      continue;
    }
    values[0] = key;
    std::uint64_t row_hash = hash_bytes(key, 0);
    for (std::size_t i = 1; i < positions.size(); ++i) {
      values[i] = fields[positions[i]];
      row_hash = hash_bytes(values[i], row_hash);
    }
    bool inserted;
    HashIndex::Slot& slot = state.find_or_insert(hash_bytes(key, 0x5EED), inserted);
    if (!inserted && slot.row == row_hash) {
      ++unchanged;
      continue;
    }
    slot.row = row_hash;
    ++(inserted ? created : updated);
    db.upsert(values);
  }
  ::close(fd);
  db.execute("COMMIT");
  save_state(state_path, state);
  std::printf("{\"read\": %llu, \"created\": %llu, \"updated\": %llu, \"unchanged\": %llu, \"without_key\": %llu}\n",
              static_cast<unsigned long long>(read), static_cast<unsigned long long>(created),
              static_cast<unsigned long long>(updated), static_cast<unsigned long long>(unchanged),
              static_cast<unsigned long long>(without_key));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: minimal-sync CSV DB TABLE STATEFILE KEY [COLUMN...]\n");
    return 2;
  }
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "minimal-sync: %s\n", e.what());
    return 1;
  }
}
