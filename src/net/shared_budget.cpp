#include "net/shared_budget.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace synctool::net {

namespace {

// The file: a 64-byte header, then `capacity` slots of 8 bytes (steady ms of a start).
//   0 magic "syncrate"   8 u32 version   12 u32 capacity   16 u32 head (next slot written)
//  20 u32 count (slots in use)   24 i64 last_start (newest start)   32 i64 paused_until
//  40 16 bytes boot id   56 u64 FNV-1a of bytes 0..55
// Native byte order: the file never leaves the machine (its times mean nothing elsewhere).
constexpr char kMagic[8] = {'s', 'y', 'n', 'c', 'r', 'a', 't', 'e'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kChecksumAt = 56;
constexpr std::size_t kSlotSize = 8;
constexpr std::size_t kKeySize = 32;
// One read takes the header and the slots in the first 4 KB (a ring of 504 starts, HubSpot's
// 100 or 190 among them): a request costs a lock, one read and one write.
constexpr std::size_t kReadAhead = 4096;
// A start or pause further ahead than this was written by another clock (or is damage).
constexpr std::int64_t kFutureToleranceMs = 1000;
constexpr std::int64_t kLongestPauseMs = 7LL * 24 * 3600 * 1000;
// A lock held longer than this belongs to a stopped process (Ctrl-Z): stop sharing instead.
constexpr auto kLockPatience = std::chrono::seconds(5);

using Boot = std::array<unsigned char, 16>;

// This boot's id (/proc/sys/kernel/random/boot_id); zeros where there is none.
const Boot& boot_id() {
  static const Boot id = [] {
    Boot out{};
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string text;
    std::getline(in, text);
    std::size_t n = 0;
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int high = -1;
    for (char c : text) {
      int v = nibble(c);
      if (v < 0 || n >= out.size()) continue;
      if (high < 0) {
        high = v;
      } else {
        out[n++] = static_cast<unsigned char>(high << 4 | v);
        high = -1;
      }
    }
    return out;
  }();
  return id;
}

template <typename T>
void put(unsigned char* buf, std::size_t at, T value) {
  std::memcpy(buf + at, &value, sizeof value);
}

template <typename T>
T get(const unsigned char* buf, std::size_t at) {
  T value;
  std::memcpy(&value, buf + at, sizeof value);
  return value;
}

std::string errno_text(int err) { return std::strerror(err); }

bool write_all(int fd, const void* data, std::size_t size, off_t at) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    at += n;
  }
  return true;
}

// Bytes read (short at the end of the file), or -1.
ssize_t read_all(int fd, void* data, std::size_t size, off_t at) {
  auto* p = static_cast<unsigned char*>(data);
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, p + done, size - done, at + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

// One read: what the file holds of the first `size` bytes (a regular file answers whole).
ssize_t read_some(int fd, void* data, std::size_t size, off_t at) {
  ssize_t n;
  do n = ::pread(fd, data, size, at);
  while (n < 0 && errno == EINTR);
  return n;
}

off_t slot_offset(std::uint32_t index) { return static_cast<off_t>(kHeaderSize + std::size_t{index} * kSlotSize); }

// Writes a new random key to dir/key: through a private temporary file linked (or, replacing a
// damaged key, renamed) into place, so that no process ever reads half a key.
void make_key(const std::filesystem::path& key_file, bool replace) {
  unsigned char key[kKeySize];
  if (RAND_bytes(key, static_cast<int>(kKeySize)) != 1) throw std::runtime_error("no random bytes for the rate key");
  unsigned char salt[8];
  if (RAND_bytes(salt, sizeof salt) != 1) throw std::runtime_error("no random bytes for the rate key");
  auto tmp = key_file;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(get<std::uint64_t>(salt, 0));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp.string() + ": " + errno_text(errno));
  const bool written = write_all(fd, key, kKeySize, 0);
  const int write_error = errno;
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + tmp.string() + ": " + errno_text(write_error));
  }
  const int placed = replace ? ::rename(tmp.c_str(), key_file.c_str()) : ::link(tmp.c_str(), key_file.c_str());
  const int place_error = errno;
  ::unlink(tmp.c_str());
  if (placed != 0 && !(place_error == EEXIST && !replace))  // EEXIST: another process made it first
    throw std::runtime_error("cannot create " + key_file.string() + ": " + errno_text(place_error));
}

std::string read_key(const std::filesystem::path& dir) {
  const auto key_file = dir / "key";
  for (int attempt = 0; attempt < 3; ++attempt) {
    int fd = ::open(key_file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT) throw std::runtime_error("cannot read " + key_file.string() + ": " + errno_text(errno));
      make_key(key_file, false);
      continue;
    }
    unsigned char key[kKeySize + 1];
    ssize_t n = read_all(fd, key, sizeof key, 0);
    const int read_error = errno;
    ::close(fd);
    if (n < 0) throw std::runtime_error("cannot read " + key_file.string() + ": " + errno_text(read_error));
    if (static_cast<std::size_t>(n) == kKeySize) return std::string(reinterpret_cast<char*>(key), kKeySize);
    make_key(key_file, true);  // not a key of ours (damaged, or something else): a new one
  }
  throw std::runtime_error("cannot settle on a key in " + key_file.string());
}

}  // namespace

std::string shared_budget_name(const std::filesystem::path& dir, const std::string& identity,
                               const std::string& bucket) {
  const std::string key = read_key(dir);
  // The bucket cannot run into the identity: its length leads.
  const std::string message = "synctool rate budget v1\n" + std::to_string(bucket.size()) + ":" + bucket + "\n" + identity;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
            message.size(), out, &len))
    throw std::runtime_error("OpenSSL HMAC failed");
  static const char* hex = "0123456789abcdef";
  std::string name;
  for (unsigned int i = 0; i < len && i < 16; ++i) {  // 128 bits name a budget well enough
    name += hex[out[i] >> 4];
    name += hex[out[i] & 15];
  }
  return name;
}

struct SharedBudget::Ring {
  std::uint32_t capacity = 0, head = 0, count = 0;
  std::int64_t last_start = 0, paused_until = 0;
  Boot boot{};
  // The file's first bytes as read; `have` of them are current (0 after a reset or growth).
  std::array<unsigned char, kReadAhead> bytes{};
  std::size_t have = 0;
};

namespace {

void encode_header(const SharedBudget::Ring& ring, unsigned char* buf) {
  std::memset(buf, 0, kHeaderSize);
  std::memcpy(buf, kMagic, sizeof kMagic);
  put<std::uint32_t>(buf, 8, kVersion);
  put<std::uint32_t>(buf, 12, ring.capacity);
  put<std::uint32_t>(buf, 16, ring.head);
  put<std::uint32_t>(buf, 20, ring.count);
  put<std::int64_t>(buf, 24, ring.last_start);
  put<std::int64_t>(buf, 32, ring.paused_until);
  std::memcpy(buf + 40, ring.boot.data(), ring.boot.size());
  put<std::uint64_t>(buf, kChecksumAt,
                     util::fnv1a64(std::string_view(reinterpret_cast<const char*>(buf), kChecksumAt)));
}

// The header in ring.bytes; "" when sound, else what is wrong with it.
std::string decode_header(SharedBudget::Ring& ring, std::size_t read) {
  const unsigned char* buf = ring.bytes.data();
  if (read < kHeaderSize || std::memcmp(buf, kMagic, sizeof kMagic) != 0 || get<std::uint32_t>(buf, 8) != kVersion)
    return "is not a synctool rate file (or one of another version)";
  if (get<std::uint64_t>(buf, kChecksumAt) !=
      util::fnv1a64(std::string_view(reinterpret_cast<const char*>(buf), kChecksumAt)))
    return "failed its checksum";
  ring.capacity = get<std::uint32_t>(buf, 12);
  ring.head = get<std::uint32_t>(buf, 16);
  ring.count = get<std::uint32_t>(buf, 20);
  ring.last_start = get<std::int64_t>(buf, 24);
  ring.paused_until = get<std::int64_t>(buf, 32);
  std::memcpy(ring.boot.data(), buf + 40, ring.boot.size());
  if (ring.capacity == 0 || ring.capacity > static_cast<std::uint32_t>(SharedBudget::kMaxSlots) ||
      ring.head >= ring.capacity || ring.count > ring.capacity)
    return "holds an impossible ring";
  ring.have = read;
  return "";
}

// Written before the last reboot, or by another clock: its times mean nothing now.
bool stale(const SharedBudget::Ring& ring, std::int64_t now) {
  return ring.boot != boot_id() || ring.last_start > now + kFutureToleranceMs ||
         ring.paused_until > now + kLongestPauseMs;
}

}  // namespace

SharedBudget::SharedBudget(SharedBudgetOptions options, std::string bucket, std::string label, int requests,
                           std::int64_t window_ms, const util::Clock& clock)
    : options_(std::move(options)),
      bucket_(std::move(bucket)),
      label_(std::move(label)),
      requests_(requests),
      window_ms_(window_ms),
      clock_(clock) {
  if (options_.dir.empty()) state_ = State::off;
}

SharedBudget::~SharedBudget() {
  if (fd_ >= 0) ::close(fd_);
}

void SharedBudget::turn_off(const std::string& why) {
  state_ = State::off;
  if (fd_ >= 0) ::close(fd_);  // releases the lock too
  fd_ = -1;
  if (options_.warn)
    options_.warn(label_ + ": cannot share the rate budget with other synctool processes (" + why +
                  "); this run keeps to its own rate_limit only");
}

void SharedBudget::damaged(const std::string& what) {
  if (told_damage_ || !options_.warn) return;
  told_damage_ = true;
  options_.warn(label_ + ": the rate budget file " + file_.string() + " " + what + "; it was reset");
}

bool SharedBudget::open() {
  try {
    util::create_private_directory(options_.dir);
    file_ = options_.dir / shared_budget_name(options_.dir, options_.identity, bucket_);
  } catch (const std::exception& e) {
    turn_off(e.what());
    return false;
  }
  fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    turn_off("cannot open " + file_.string() + ": " + errno_text(errno));
    return false;
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    turn_off(file_.string() + " is not a regular file");
    return false;
  }
  state_ = State::open;
  return true;
}

template <typename Body>
bool SharedBudget::locked(Body&& body) {
  if (state_ == State::off) return false;
  if (state_ == State::closed && !open()) return false;
  // Always exclusive: even a read may find a file to reset or grow.
  const int operation = LOCK_EX | LOCK_NB;
  const auto give_up = std::chrono::steady_clock::now() + kLockPatience;
  while (::flock(fd_, operation) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      turn_off("cannot lock " + file_.string() + ": " + errno_text(errno));
      return false;
    }
    // The holder only reads and writes a few bytes; real time, whatever clock paces requests.
    if (std::chrono::steady_clock::now() > give_up) {
      turn_off(file_.string() + " stayed locked for " + std::to_string(kLockPatience.count()) +
               " s (a stopped synctool process?)");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const bool ok = body();
  if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  return ok;
}

bool SharedBudget::write_header(const Ring& ring) {
  unsigned char buf[kHeaderSize];
  encode_header(ring, buf);
  if (!write_all(fd_, buf, kHeaderSize, 0)) {
    turn_off("cannot write " + file_.string() + ": " + errno_text(errno));
    return false;
  }
  return true;
}

bool SharedBudget::reset(Ring& ring, std::uint32_t capacity) {
  ring.capacity = std::max<std::uint32_t>(1, capacity);
  ring.head = ring.count = 0;
  ring.last_start = ring.paused_until = 0;
  ring.have = 0;
  ring.boot = boot_id();
  // Shrinking first zeroes whatever was there; the new size holds every slot (sparse).
  if (::ftruncate(fd_, 0) != 0 || ::ftruncate(fd_, slot_offset(ring.capacity)) != 0) {
    turn_off("cannot size " + file_.string() + ": " + errno_text(errno));
    return false;
  }
  return write_header(ring);
}

bool SharedBudget::grow(Ring& ring, std::uint32_t capacity) {
  // The starts in use, oldest first, move to slots 0..count-1 of the larger ring.
  std::vector<std::int64_t> slots(ring.capacity);
  const std::size_t bytes = slots.size() * kSlotSize;
  ssize_t n = read_all(fd_, slots.data(), bytes, slot_offset(0));
  if (n < 0) {
    turn_off("cannot read " + file_.string() + ": " + errno_text(errno));
    return false;
  }
  if (static_cast<std::size_t>(n) != bytes) {
    damaged("was cut short");
    return reset(ring, capacity);
  }
  std::vector<std::int64_t> ordered;
  ordered.reserve(ring.count);
  for (std::uint32_t i = 0; i < ring.count; ++i)
    ordered.push_back(slots[(ring.head + ring.capacity - ring.count + i) % ring.capacity]);
  if (::ftruncate(fd_, slot_offset(capacity)) != 0) {
    turn_off("cannot size " + file_.string() + ": " + errno_text(errno));
    return false;
  }
  if (!ordered.empty() && !write_all(fd_, ordered.data(), ordered.size() * kSlotSize, slot_offset(0))) {
    turn_off("cannot write " + file_.string() + ": " + errno_text(errno));
    return false;
  }
  ring.capacity = capacity;
  ring.head = ring.count % capacity;
  ring.have = 0;
  return write_header(ring);
}

bool SharedBudget::load(Ring& ring, std::int64_t now) {
  const std::uint32_t wanted =
      requests_ > 0 && requests_ <= kMaxSlots ? static_cast<std::uint32_t>(requests_) : 1;
  ssize_t n = read_some(fd_, ring.bytes.data(), kReadAhead, 0);
  if (n < 0) {
    turn_off("cannot read " + file_.string() + ": " + errno_text(errno));
    return false;
  }
  if (n == 0) return reset(ring, wanted);  // new
  if (std::string problem = decode_header(ring, static_cast<std::size_t>(n)); !problem.empty()) {
    damaged(problem);
    return reset(ring, wanted);
  }
  if (stale(ring, now)) return reset(ring, std::max(wanted, ring.capacity));
  if (wanted > ring.capacity) return grow(ring, wanted);
  return true;
}

bool SharedBudget::deciding_slot(const Ring& ring, std::uint32_t& index) const {
  if (requests_ <= 0 || window_ms_ <= 0 || static_cast<std::uint32_t>(requests_) > ring.capacity ||
      ring.count < static_cast<std::uint32_t>(requests_))
    return false;
  // Starts are recorded in time order: the requests_-th newest decides whether one more fits.
  index = (ring.head + ring.capacity - static_cast<std::uint32_t>(requests_)) % ring.capacity;
  return true;
}

std::int64_t SharedBudget::wait_for(const Ring& ring, std::int64_t start, std::int64_t now) const {
  std::int64_t wait = ring.paused_until > now ? ring.paused_until - now : 0;
  if (start + window_ms_ > now) wait = std::max(wait, start + window_ms_ - now);
  return wait;
}

bool SharedBudget::wait_at(Ring& ring, std::int64_t now, std::int64_t& wait) {
  wait = ring.paused_until > now ? ring.paused_until - now : 0;
  std::uint32_t index = 0;
  if (!deciding_slot(ring, index)) return true;
  std::int64_t start = 0;
  const off_t at = slot_offset(index);
  std::size_t got = sizeof start;
  if (static_cast<std::size_t>(at) + sizeof start <= ring.have) {
    std::memcpy(&start, ring.bytes.data() + at, sizeof start);
  } else {
    ssize_t n = read_all(fd_, &start, sizeof start, at);
    if (n < 0) {
      turn_off("cannot read " + file_.string() + ": " + errno_text(errno));
      return false;
    }
    got = static_cast<std::size_t>(n);
  }
  if (got != sizeof start || start > ring.last_start) {
    damaged(got != sizeof start ? "was cut short" : "holds a start later than its newest");
    if (!reset(ring, ring.capacity)) return false;
    wait = 0;
    return true;
  }
  wait = wait_for(ring, start, now);
  return true;
}

std::int64_t SharedBudget::try_start() {
  std::int64_t result = 0;
  locked([&] {
    // The time is read under the lock, so that starts enter the ring in order.
    const std::int64_t now = clock_.steady_ms();
    Ring ring;
    if (!load(ring, now)) return false;
    std::int64_t wait = 0;
    if (!wait_at(ring, now, wait)) return false;
    if (wait > 0) {
      result = wait;
      return true;
    }
    if (requests_ <= 0 || static_cast<std::uint32_t>(requests_) > ring.capacity) return true;  // pauses only
    const std::int64_t start = std::max(now, ring.last_start);
    const off_t at = slot_offset(ring.head);
    ring.head = (ring.head + 1) % ring.capacity;
    ring.count = std::min(ring.count + 1, ring.capacity);
    ring.last_start = start;
    const std::size_t end = static_cast<std::size_t>(at) + sizeof start;
    if (end <= ring.have) {
      // Header and slot in one write of the bytes just read (a few hundred for HubSpot's ring).
      std::memcpy(ring.bytes.data() + at, &start, sizeof start);
      encode_header(ring, ring.bytes.data());
      if (write_all(fd_, ring.bytes.data(), end, 0)) return true;
      turn_off("cannot write " + file_.string() + ": " + errno_text(errno));
      return false;
    }
    // The slot first, then the header that counts it: a process killed in between leaves a
    // ring that over-counts (waits a little more), never one that under-counts.
    if (!write_all(fd_, &start, sizeof start, at)) {
      turn_off("cannot write " + file_.string() + ": " + errno_text(errno));
      return false;
    }
    return write_header(ring);
  });
  return result;
}

std::int64_t SharedBudget::delay() {
  if (state_ == State::off || (state_ == State::closed && !open())) return 0;
  {
    // Without the lock: one read is enough for an estimate (try_start decides under the lock).
    // A read that meets a write half done fails the checksum and is made again under the lock.
    const std::int64_t now = clock_.steady_ms();
    Ring ring;
    ssize_t n = read_some(fd_, ring.bytes.data(), kReadAhead, 0);
    std::uint32_t index = 0;
    if (n > 0 && decode_header(ring, static_cast<std::size_t>(n)).empty() && !stale(ring, now) &&
        (requests_ <= 0 || requests_ > kMaxSlots || static_cast<std::uint32_t>(requests_) <= ring.capacity)) {
      if (!deciding_slot(ring, index)) return ring.paused_until > now ? ring.paused_until - now : 0;
      const off_t at = slot_offset(index);
      if (static_cast<std::size_t>(at) + kSlotSize <= ring.have) {
        std::int64_t start = 0;
        std::memcpy(&start, ring.bytes.data() + at, sizeof start);
        if (start <= ring.last_start) return wait_for(ring, start, now);
      }
    }
  }
  std::int64_t result = 0;
  locked([&] {
    const std::int64_t now = clock_.steady_ms();
    Ring ring;
    if (!load(ring, now)) return false;
    return wait_at(ring, now, result);
  });
  return result;
}

void SharedBudget::pause_until(std::int64_t steady_until) {
  locked([&] {
    const std::int64_t now = clock_.steady_ms();
    Ring ring;
    if (!load(ring, now)) return false;
    steady_until = std::min(steady_until, now + kLongestPauseMs);
    if (steady_until <= ring.paused_until) return true;
    ring.paused_until = steady_until;
    return write_header(ring);
  });
}

}  // namespace synctool::net
