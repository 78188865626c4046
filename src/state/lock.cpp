#include "state/lock.hpp"

#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace synctool::state {

std::optional<SyncLock> SyncLock::try_acquire(const std::filesystem::path& dir) {
  util::create_private_directory(dir);
  const auto file = dir / "lock";
  int fd = -1;
  do {
    fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw std::runtime_error("cannot create lock file " + file.string() + ": " + std::strerror(errno));

  // flock belongs to the open file description: it conflicts with any other open of the
  // file, in this process or another, and dies with the process.
  int rc = -1;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::nullopt;
    throw std::runtime_error("cannot lock " + file.string() + ": " + std::strerror(err));
  }
  return SyncLock(fd);
}

SyncLock::SyncLock(SyncLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

SyncLock& SyncLock::operator=(SyncLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

// Closing the only descriptor of the open file description releases the lock.
SyncLock::~SyncLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace synctool::state
