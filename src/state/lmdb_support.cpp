#include "state/lmdb_support.hpp"

#include "state/fault_guard.hpp"
#include "state/local_errors.hpp"
#include "util/hash.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <stdexcept>

namespace synctool::state::detail {

using nlohmann::json;

bool is_damage(int rc) {
  switch (rc) {
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_PANIC:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
      return true;
    default:
      return false;
  }
}

void fail(const Where& where, int rc, std::string_view doing, std::string_view consequence) {
  std::string message = where.what + ": cannot ";
  message += doing;
  message += ": ";
  StateProblem problem = StateProblem::other;
  if (is_damage(rc)) {
    message += where.data_file().string() + " is damaged (" + mdb_strerror(rc) + ")";
    problem = StateProblem::damaged;
  } else if (rc > 0) {  // an errno
    // LMDB reports a write the disk cut short as EIO: on a disk with no room left, that is
    // a full disk.
    struct statvfs disk {};
    if (rc == EIO && ::statvfs(where.reason_dir().c_str(), &disk) == 0 && (disk.f_bavail == 0 || disk.f_bfree == 0))
      rc = ENOSPC;
    message += errno_reason(rc, where.reason_dir());
    problem = errno_problem(rc);
  } else {
    message += mdb_strerror(rc);
  }
  if (!consequence.empty()) {
    message += "; ";
    message += consequence;
  }
  if (problem == StateProblem::damaged && !where.advice.empty()) message += "; " + where.advice;
  throw StateError(message, problem);
}

void fail_damaged(const Where& where, std::string_view detail) {
  std::string message = where.what + ": " + where.data_file().string() + " ";
  message += detail;
  if (!where.advice.empty()) message += "; " + where.advice;
  throw StateError(message, StateProblem::damaged);
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

// Closes a file descriptor at the end of its scope.
struct FileCloser {
  int fd;
  ~FileCloser() { ::close(fd); }
};

json parse(const MDB_val& data, const Where& where, std::string_view table) {
  auto* first = static_cast<const std::uint8_t*>(data.mv_data);
  try {
    return json::from_cbor(first, first + data.mv_size);
  } catch (const json::exception& e) {
    fail_damaged(where, "holds a corrupt value in " + std::string(table) + ": " + e.what());
  }
}

json unwrap(json&& wrapped, const Where& where, std::string_view table) {
  if (!wrapped.is_object() || !wrapped.contains("k") || !wrapped.contains("v") || !wrapped["k"].is_string())
    fail_damaged(where, "holds a corrupt value in " + std::string(table) + ": a long-key entry without its key");
  return wrapped;
}

}  // namespace

json decode_value(const MDB_val& stored_key, const MDB_val& data, const Where& where, std::string_view table) {
  if (!is_hashed(stored_key)) return parse(data, where, table);
  json wrapped = unwrap(parse(data, where, table), where, table);
  return std::move(wrapped["v"]);
}

namespace {

// Walks a CBOR value with nlohmann's SAX interface until the top-level entry `name` is read.
class TopLevelString final : public nlohmann::json_sax<json> {
 public:
  explicit TopLevelString(std::string_view name) : name_(name) {}
  std::optional<std::string> found;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t& text) override {
    if (depth_ == 1 && wanted_) {
      found = std::move(text);
      return false;  // done: the rest of the map is never decoded
    }
    return value();
  }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(true); }
  bool key(string_t& key) override {
    wanted_ = depth_ == 1 && key == name_;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool value() { return !(depth_ == 1 && wanted_); }  // the entry is there but is not text: give up
  bool open(bool object) {
    if (depth_ == 0 && !object) return false;  // not a map
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  std::string_view name_;
  int depth_ = 0;
  bool wanted_ = false;
};

}  // namespace

namespace {

// The head of a CBOR item at `p`: its major type and its argument; false past the end or for
// an indefinite length.
bool read_cbor_head(const std::uint8_t*& p, const std::uint8_t* end, std::uint8_t& major, std::uint64_t& n) {
  if (p >= end) return false;
  major = static_cast<std::uint8_t>(*p >> 5);
  const std::uint8_t info = *p & 0x1f;
  ++p;
  if (info < 24) {
    n = info;
    return true;
  }
  if (info > 27) return false;
  const std::size_t bytes = std::size_t{1} << (info - 24);
  if (static_cast<std::size_t>(end - p) < bytes) return false;
  n = 0;
  for (std::size_t i = 0; i < bytes; ++i) n = (n << 8) | *p++;
  return true;
}

bool read_cbor_text(const std::uint8_t*& p, const std::uint8_t* end, std::string_view& text) {
  std::uint8_t major = 0;
  std::uint64_t n = 0;
  if (!read_cbor_head(p, end, major, n) || major != 3 || n > static_cast<std::uint64_t>(end - p)) return false;
  text = std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  p += n;
  return true;
}

}  // namespace


bool read_cbor_text_map(const MDB_val& data, std::vector<std::pair<std::string_view, std::string_view>>& entries) {
  entries.clear();
  const auto* p = static_cast<const std::uint8_t*>(data.mv_data);
  const auto* end = p + data.mv_size;
  std::uint8_t major = 0;
  std::uint64_t n = 0;
  if (!read_cbor_head(p, end, major, n) || major != 5 || n > data.mv_size) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string_view key, value;
    if (!read_cbor_text(p, end, key) || !read_cbor_text(p, end, value)) return false;
    entries.emplace_back(key, value);
  }
  return p == end;
}

std::optional<std::string> cbor_top_level_string(const MDB_val& data, std::string_view name) {
  auto* first = static_cast<const std::uint8_t*>(data.mv_data);
  TopLevelString sax(name);
  try {
    json::sax_parse(first, first + data.mv_size, &sax, nlohmann::json::input_format_t::cbor);
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return std::move(sax.found);
}

Entry decode_entry(const MDB_val& stored_key, const MDB_val& data, const Where& where, std::string_view table) {
  if (!is_hashed(stored_key)) return {std::string(to_view(stored_key)), parse(data, where, table)};
  json wrapped = unwrap(parse(data, where, table), where, table);
  return {wrapped["k"].get<std::string>(), std::move(wrapped["v"])};
}

namespace {

// LMDB 0.9's page header and meta page (mdb.c: MDB_page, MDB_meta, MDB_db on a 64-bit
// build): the page flags at byte 10, then the meta from byte 16.
constexpr std::size_t kPageFlagsAt = 10;
constexpr std::uint16_t kMetaPageFlag = 0x08;  // P_META
constexpr std::size_t kMagicAt = 16;
constexpr std::size_t kVersionAt = 20;
constexpr std::size_t kPageSizeAt = 40;  // mm_dbs[FREE_DBI].md_pad
constexpr std::size_t kLastPageAt = 136;
constexpr std::size_t kTxnIdAt = 144;
constexpr std::size_t kMetaBytes = 152;
constexpr std::uint32_t kMagic = 0xBEEFC0DE;
constexpr std::uint32_t kDataVersion = 1;
static_assert(sizeof(void*) == 8 && sizeof(std::size_t) == 8, "the meta layout above is LMDB's on 64-bit builds");

template <typename T>
T field(const unsigned char* page, std::size_t at) {
  T value;
  std::memcpy(&value, page + at, sizeof value);
  return value;
}

struct Meta {
  std::uint32_t page_size;
  std::uint64_t last_page;
  std::uint64_t txn_id;
};

// Reads and checks the meta page at `offset` as LMDB does, plus what LMDB takes on trust.
Meta read_meta(int fd, std::uint64_t offset, std::uint64_t file_size, const Where& where) {
  unsigned char page[kMetaBytes];
  ssize_t n;
  do {
    n = ::pread(fd, page, sizeof page, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno(where.what, errno, "read " + where.data_file().string(), where.reason_dir());
  if (static_cast<std::size_t>(n) < sizeof page) {
    fail_damaged(where, "is truncated: " + std::to_string(file_size) + " bytes, too short for its meta page at byte " +
                            std::to_string(offset));
  }
  if (!(field<std::uint16_t>(page, kPageFlagsAt) & kMetaPageFlag) || field<std::uint32_t>(page, kMagicAt) != kMagic)
    fail_damaged(where, "is not an LMDB data file (no meta page at byte " + std::to_string(offset) + ")");
  if (auto version = field<std::uint32_t>(page, kVersionAt); version != kDataVersion)
    fail_damaged(where, "has LMDB data version " + std::to_string(version) + ", but this LMDB reads version " +
                            std::to_string(kDataVersion));
  Meta meta{field<std::uint32_t>(page, kPageSizeAt), field<std::uint64_t>(page, kLastPageAt),
            field<std::uint64_t>(page, kTxnIdAt)};
  const bool power_of_two = meta.page_size != 0 && (meta.page_size & (meta.page_size - 1)) == 0;
  if (!power_of_two || meta.page_size < 512 || meta.page_size > 65536)
    fail_damaged(where, "is damaged: its meta page at byte " + std::to_string(offset) + " gives a page size of " +
                            std::to_string(meta.page_size));
  return meta;
}

}  // namespace

DataFileHeader check_data_file(const Where& where) {
  const auto file = where.data_file();
  int fd;
  do {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno(where.what, errno, "open " + file.string(), where.reason_dir());
  const FileCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno(where.what, errno, "read " + file.string(), where.reason_dir());
  DataFileHeader header;
  header.file_size = static_cast<std::uint64_t>(st.st_size);
  // synctool creates a data file whole (see lmdb_store.cpp), so an empty one was emptied.
  if (header.file_size == 0) fail_damaged(where, "is truncated: 0 bytes");
  Meta first = read_meta(fd, 0, header.file_size, where);
  Meta second = read_meta(fd, first.page_size, header.file_size, where);
  const Meta& used = second.txn_id > first.txn_id ? second : first;
  header.page_size = used.page_size;
  header.last_page = used.last_page;
  header.txn_id = used.txn_id;
  if (header.last_page >= header.file_size / header.page_size) {
    const bool overflows = header.last_page > (std::uint64_t{1} << 48);
    fail_damaged(where,
                 "is truncated: " + std::to_string(header.file_size) + " bytes, but its last page ends at " +
                     (overflows ? "page " + std::to_string(header.last_page) : std::to_string(header.data_end())));
  }
  return header;
}

namespace {

// LMDB 0.9's page and node layout (mdb.c: MDB_page, MDB_node, MDB_db) on a 64-bit
// little-endian build.
constexpr std::size_t kPageHeader = 16;  // PAGEHDRSZ
constexpr std::size_t kNodeHeader = 8;   // NODESIZE
constexpr std::size_t kDbRecord = 48;    // sizeof(MDB_db)
constexpr std::uint16_t kBranch = 0x01, kLeaf = 0x02, kOverflow = 0x04;
constexpr std::uint16_t kBigData = 0x01, kSubData = 0x02, kDupData = 0x04;
constexpr std::uint64_t kNoPage = ~std::uint64_t{0};  // P_INVALID: an empty database
constexpr std::size_t kMaxKey = 511;
constexpr int kMaxDepth = 32;                          // CURSOR_STACK
constexpr std::size_t kFreeDbAt = 40, kMainDbAt = 88;  // mm_dbs[FREE_DBI], mm_dbs[MAIN_DBI] in a meta page
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the node layout above is LMDB's on little-endian builds");

template <typename T>
T read_at(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

struct DbRecord {
  std::uint16_t flags = 0;
  std::uint16_t depth = 0;
  std::uint64_t branch_pages = 0, leaf_pages = 0, overflow_pages = 0, entries = 0, root = kNoPage;
};

DbRecord db_record(const unsigned char* at) {
  return {read_at<std::uint16_t>(at + 4),  read_at<std::uint16_t>(at + 6),  read_at<std::uint64_t>(at + 8),
          read_at<std::uint64_t>(at + 16), read_at<std::uint64_t>(at + 24), read_at<std::uint64_t>(at + 32),
          read_at<std::uint64_t>(at + 40)};
}

// Reads pages with pread rather than through the map: a walk over the whole file through the
// map would make every page resident (and the kernel maps neighbours of each page read).
//
// Branch pages are read one by one as the walk meets them (a few hundred in a file of tens of
// thousands of pages). A page at the depth its database records as a leaf is only claimed
// when met, and checked later with the other leaves in file order: they are read in runs of
// up to kChunkBytes, one pread per run instead of one per page (a state of a million links
// has some 50,000 leaves; a pread of 4 KB each was most of a no-change run's time). Whether
// such a page really is a leaf, and everything else about it, is checked then as it was in
// the walk, so the checks are the same; only which of several damaged pages is named first
// may differ.
class PageChecker {
 public:
  PageChecker(int fd, std::uint32_t page_size, std::uint64_t last_page, const Where& where)
      : fd_(fd), page_size_(page_size), last_page_(last_page), where_(where), reached_(last_page + 1, false) {}

  void check_db(const DbRecord& db, const std::string& name, bool main, bool free) {
    if (db.root == kNoPage && (db.depth != 0 || db.entries != 0))
      bad_db(name, "is empty but records " + std::to_string(db.entries) + " entries");
    dbs_.push_back({db, name, main, free, {}});
    if (db.root != kNoPage) descend(db.root, db.root, 1, dbs_.back());
  }

  // Checks the leaves met so far (and those of the databases they hold), then each database's
  // counts of pages and entries.
  void finish() {
    while (!leaves_.empty()) {
      std::vector<Leaf> leaves = std::move(leaves_);
      leaves_.clear();
      std::sort(leaves.begin(), leaves.end(), [](const Leaf& a, const Leaf& b) { return a.page < b.page; });
      for (std::size_t first = 0; first < leaves.size();) {
        // A run: leaves close enough together that reading the pages between them costs less
        // than another read, within one chunk.
        std::size_t last = first;
        while (last + 1 < leaves.size() && leaves[last + 1].page - leaves[last].page <= kMaxGapPages &&
               (leaves[last + 1].page - leaves[first].page + 1) * page_size_ <= kChunkBytes)
          ++last;
        const std::uint64_t from = leaves[first].page;
        chunk_.resize(static_cast<std::size_t>((leaves[last].page - from + 1) * page_size_));
        chunk_offset_ = 0;
        chunk_valid_ = 0;
        read(from * page_size_, chunk_.data(), chunk_.size());
        chunk_offset_ = from * page_size_;
        chunk_valid_ = chunk_.size();
        for (std::size_t i = first; i <= last; ++i) {
          const Leaf& leaf = leaves[i];
          const unsigned char* p = chunk_.data() + (leaf.page - from) * page_size_;
          if (read_at<std::uint64_t>(p) != leaf.page)
            bad(leaf.page, "says it is page " + std::to_string(read_at<std::uint64_t>(p)));
          check_page(p, leaf.page, leaf.level, *leaf.db);
        }
        chunk_valid_ = 0;
        first = last + 1;
      }
    }
    for (const auto& state : dbs_) {
      const DbRecord& db = state.db;
      const Counts& counts = state.counts;
      if (counts.branch != db.branch_pages || counts.leaf != db.leaf_pages || counts.overflow != db.overflow_pages ||
          counts.entries != db.entries)
        bad_db(state.name, "records " + std::to_string(db.entries) + " entries in " + std::to_string(db.leaf_pages) +
                               " leaf pages, but holds " + std::to_string(counts.entries) + " in " +
                               std::to_string(counts.leaf));
    }
  }

  // Pages LMDB's free list names must not be in use: it would hand them out and overwrite them.
  void check_free_pages() {
    for (std::uint64_t page : free_pages_) {
      if (page < 2 || page > last_page_)
        bad_db("LMDB's free page list",
               "names page " + std::to_string(page) + ", outside pages 2.." + std::to_string(last_page_));
      if (reached_[page]) bad_db("LMDB's free page list", "names page " + std::to_string(page) + ", which is in use");
    }
  }

 private:
  // Leaves are read in runs of at most this many bytes, skipping no more than kMaxGapPages
  // pages between two of them (free or overflow pages, read for nothing).
  static constexpr std::uint64_t kChunkBytes = std::uint64_t{1} << 20;
  static constexpr std::uint64_t kMaxGapPages = 16;

  struct Counts {
    std::uint64_t branch = 0, leaf = 0, overflow = 0, entries = 0;
  };
  struct DbState {
    DbRecord db;
    std::string name;
    bool main = false, free = false;
    Counts counts;
  };
  struct Leaf {
    std::uint64_t page;
    int level;
    DbState* db;
  };

  [[noreturn]] void bad(std::uint64_t page, const std::string& what) const {
    fail_damaged(where_, "is damaged: page " + std::to_string(page) + " " + what);
  }
  [[noreturn]] void bad_db(const std::string& name, const std::string& what) const {
    fail_damaged(where_, "is damaged: " + name + " " + what);
  }

  void read(std::uint64_t offset, unsigned char* into, std::size_t size) const {
    // Inside the run of leaves being checked (an overflow page next to its leaf): no read.
    if (offset >= chunk_offset_ && offset - chunk_offset_ <= chunk_valid_ &&
        size <= chunk_valid_ - (offset - chunk_offset_)) {
      std::memcpy(into, chunk_.data() + (offset - chunk_offset_), size);
      return;
    }
    std::size_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd_, into + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno(where_.what, errno, "read " + where_.data_file().string(), where_.reason_dir());
      if (n == 0) fail_damaged(where_, "is truncated: byte " + std::to_string(offset + done) + " is missing");
      done += static_cast<std::size_t>(n);
    }
  }

  // Marks `page` as reached (from page `from`).
  void mark(std::uint64_t page, std::uint64_t from) {
    if (page < 2 || page > last_page_)
      bad(from, "points at page " + std::to_string(page) + ", outside pages 2.." + std::to_string(last_page_));
    if (reached_[page]) bad(from, "points at page " + std::to_string(page) + ", which is reached twice");
    reached_[page] = true;
  }

  // Marks `page` as reached (from page `from`) and reads it into `into` (`bytes` of it).
  void claim(std::uint64_t page, std::uint64_t from, unsigned char* into, std::size_t bytes) {
    mark(page, from);
    read(page * page_size_, into, bytes);
    if (read_at<std::uint64_t>(into) != page)
      bad(page, "says it is page " + std::to_string(read_at<std::uint64_t>(into)));
  }

  // Meets `page` (pointed at from page `from`) at `level` of `db`'s tree: a branch is read and
  // checked now, a leaf is claimed and left for finish().
  void descend(std::uint64_t page, std::uint64_t from, int level, DbState& db) {
    if (level >= db.db.depth) {
      mark(page, from);
      leaves_.push_back({page, level, &db});
      return;
    }
    std::vector<unsigned char> buffer(page_size_);
    claim(page, from, buffer.data(), buffer.size());
    check_page(buffer.data(), page, level, db);
  }

  void check_page(const unsigned char* p, std::uint64_t page, int level, DbState& state) {
    const DbRecord& db = state.db;
    const std::string& name = state.name;
    const bool main = state.main, free = state.free;
    Counts& counts = state.counts;
    const auto flags = read_at<std::uint16_t>(p + 10);
    const auto lower = read_at<std::uint16_t>(p + 12);
    const auto upper = read_at<std::uint16_t>(p + 14);
    const bool branch = flags == kBranch, leaf = flags == kLeaf;
    if (!branch && !leaf)
      bad(page, "of " + name + " has the flags " + std::to_string(flags) + ", not a branch or leaf");
    if (level > kMaxDepth || (leaf && level != db.depth) || (branch && level >= db.depth))
      bad(page,
          "of " + name + " is at depth " + std::to_string(level) + " of a tree of depth " + std::to_string(db.depth));
    if (lower < kPageHeader || upper > page_size_ || lower > upper || (lower % 2) != 0)
      bad(page, "has the bounds " + std::to_string(lower) + ".." + std::to_string(upper));
    const std::size_t keys = (lower - kPageHeader) / 2;
    if (keys == 0) bad(page, "of " + name + " is empty");
    (branch ? counts.branch : counts.leaf) += 1;
    for (std::size_t i = 0; i < keys; ++i) {
      const auto at = read_at<std::uint16_t>(p + kPageHeader + 2 * i);
      if (at < upper || at + kNodeHeader > page_size_) bad(page, "has a node at byte " + std::to_string(at));
      const unsigned char* node = p + at;
      const auto lo = read_at<std::uint16_t>(node), hi = read_at<std::uint16_t>(node + 2);
      const auto node_flags = read_at<std::uint16_t>(node + 4);
      const auto key_size = read_at<std::uint16_t>(node + 6);
      const std::size_t key_end = at + kNodeHeader + key_size;
      if (key_size > kMaxKey || key_end > page_size_ || (leaf && key_size == 0))
        bad(page, "has a key of " + std::to_string(key_size) + " bytes at byte " + std::to_string(at));
      if (branch) {
        const std::uint64_t child = lo | (std::uint64_t{hi} << 16) | (std::uint64_t{node_flags} << 32);
        descend(child, page, level + 1, state);
        continue;
      }
      ++counts.entries;
      const std::uint64_t data_size = lo | (std::uint64_t{hi} << 16);
      if (node_flags & kDupData || (node_flags & kSubData && !main) || node_flags & ~(kBigData | kSubData))
        bad(page, "of " + name + " has a node with the flags " + std::to_string(node_flags));
      const unsigned char* data = node + kNodeHeader + key_size;
      std::vector<unsigned char> big;
      if (node_flags & kBigData) {
        if (key_end + 8 > page_size_) bad(page, "has a node past its end at byte " + std::to_string(at));
        const auto first = read_at<std::uint64_t>(data);
        unsigned char header[kPageHeader];
        claim(first, page, header, sizeof header);
        const auto pages = read_at<std::uint32_t>(header + 12);
        if (read_at<std::uint16_t>(header + 10) != kOverflow || pages == 0 || pages > last_page_ ||
            first + pages - 1 > last_page_ || data_size > std::uint64_t{pages} * page_size_ - kPageHeader)
          bad(first, "is not the overflow page of " + std::to_string(data_size) + " bytes its node says");
        for (std::uint64_t extra = 1; extra < pages; ++extra) {
          if (reached_[first + extra])
            bad(first, "covers page " + std::to_string(first + extra) + ", which is reached twice");
          reached_[first + extra] = true;
        }
        counts.overflow += pages;
        if (free || node_flags & kSubData) {
          big.resize(data_size);
          read(first * page_size_ + kPageHeader, big.data(), big.size());
          data = big.data();
        }
      } else if (key_end + data_size > page_size_) {
        bad(page, "has a value of " + std::to_string(data_size) + " bytes past its end at byte " + std::to_string(at));
      }
      if (node_flags & kSubData) {
        if (data_size != kDbRecord) bad(page, "has a database record of " + std::to_string(data_size) + " bytes");
        const DbRecord sub = db_record(data);
        const std::string sub_name(reinterpret_cast<const char*>(node + kNodeHeader), key_size);
        if (sub.flags != 0) bad_db("database " + sub_name, "has the flags " + std::to_string(sub.flags));
        check_db(sub, "database " + sub_name, false, false);
      }
      if (free) {
        // An entry of the free list: a count, then that many page numbers.
        if (data_size < 8 || data_size % 8 != 0 || read_at<std::uint64_t>(data) != data_size / 8 - 1)
          bad(page, "holds a damaged entry of LMDB's free page list");
        for (std::uint64_t k = 1; k < data_size / 8; ++k) free_pages_.push_back(read_at<std::uint64_t>(data + 8 * k));
      }
    }
  }

  int fd_;
  std::uint32_t page_size_;
  std::uint64_t last_page_;
  const Where& where_;
  std::vector<bool> reached_;
  std::vector<std::uint64_t> free_pages_;
  std::deque<DbState> dbs_;  // a deque: leaves point at their database's entry
  std::vector<Leaf> leaves_;
  // The run of leaves being checked, read at chunk_offset_ (chunk_valid_ bytes of it; 0 when
  // no run is being checked).
  std::vector<unsigned char> chunk_;
  std::uint64_t chunk_offset_ = 0;
  std::size_t chunk_valid_ = 0;
};

}  // namespace

void check_pages(int fd, const Where& where) {
  // The meta LMDB uses: the one with the higher transaction id (mdb_env_pick_meta).
  const auto read_meta_page = [&](std::uint64_t offset) {
    std::array<unsigned char, kMetaBytes> page{};
    std::size_t done = 0;
    while (done < page.size()) {
      ssize_t n = ::pread(fd, page.data() + done, page.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno(where.what, errno, "read " + where.data_file().string(), where.reason_dir());
      if (n == 0) fail_damaged(where, "is truncated: its meta page at byte " + std::to_string(offset) + " is missing");
      done += static_cast<std::size_t>(n);
    }
    return page;
  };
  const auto first = read_meta_page(0);
  const auto page_size = read_at<std::uint32_t>(first.data() + kPageSizeAt);
  const auto second = read_meta_page(page_size);
  const auto& meta = read_at<std::uint64_t>(second.data() + kTxnIdAt) > read_at<std::uint64_t>(first.data() + kTxnIdAt)
                         ? second
                         : first;
  PageChecker checker(fd, page_size, read_at<std::uint64_t>(meta.data() + kLastPageAt), where);
  checker.check_db(db_record(meta.data() + kFreeDbAt), "LMDB's free page list", false, true);
  checker.check_db(db_record(meta.data() + kMainDbAt), "the main database", true, false);
  checker.finish();
  checker.check_free_pages();
}

void on_lmdb_assertion(MDB_env* env, const char* message) {
  const auto* watch = static_cast<const AssertionWatch*>(mdb_env_get_userctx(env));
  std::string text =
      watch ? watch->before_ + message + watch->after_ : std::string("synctool: error: LMDB: ") + message + "\n";
  for (std::size_t done = 0; done < text.size();) {
    ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::_exit(kFaultExitCode);
}

AssertionWatch::AssertionWatch(MDB_env* env, const Where& where)
    : before_("synctool: error: " + where.what + ": " + where.data_file().string() + " is damaged (LMDB: "),
      after_(")" + (where.advice.empty() ? std::string() : "; " + where.advice) + "\n") {
  mdb_env_set_userctx(env, this);
  mdb_env_set_assert(env, on_lmdb_assertion);
}

namespace {

// LMDB's lock file with its default 126 reader slots (MDB_txninfo and 125 more MDB_reader
// of 64 bytes each): LMDB grows a smaller file to this size and uses a larger one whole.
constexpr off_t kLockFileBytes = 8192;

}  // namespace

void reserve_lock_file(const Where& where, bool read_only) {
  const auto file = where.dir / "lock.mdb";
  int fd;
  do {
    fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    // LMDB reads a read-only environment on a read-only file system without a lock file.
    if (read_only && errno == EROFS) return;
    throw_errno(where.what, errno, "open its lock file " + file.string(), where.reason_dir());
  }
  const FileCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno(where.what, errno, "read " + file.string(), where.reason_dir());
  // Allocates only the blocks a sparse file lacks: the reader table's contents stay as they
  // are (another process may be using them). A file system without fallocate keeps LMDB's
  // own behaviour.
  int rc;
  do {
    rc = ::fallocate(fd, 0, 0, std::max<off_t>(st.st_size, kLockFileBytes));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
    throw_errno(where.what, errno, "make room for its lock file " + file.string(), where.reason_dir());
}

void ResidentPages::release() {
  count_ = 0;
  if (!env_) return;
  MDB_envinfo info;
  if (mdb_env_info(env_, &info) != MDB_SUCCESS) return;
  if (env_ != ranges_env_ || info.me_mapsize != ranges_map_size_) {
    ranges_.clear();
    ranges_env_ = env_;
    ranges_map_size_ = info.me_mapsize;
    // mdb_env_info() reports the map address only for MDB_FIXEDMAP environments, so the
    // mapping is found by the data file's device and inode.
    mdb_filehandle_t fd;
    struct stat file;
    if (mdb_env_get_fd(env_, &fd) != MDB_SUCCESS || ::fstat(fd, &file) != 0) return;
    for (const auto& m : mappings_of(file.st_dev, file.st_ino))
      ranges_.push_back({reinterpret_cast<void*>(m.start), m.end - m.start});
  }
  // Advice only: a failure changes nothing but the resident set, so it is ignored.
  for (const auto& range : ranges_) ::madvise(range.start, range.length, MADV_DONTNEED);
}

}  // namespace synctool::state::detail
