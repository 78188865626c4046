#include "state/lock.hpp"

#include "state/local_errors.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace synctool::state {

std::optional<SyncLock> SyncLock::try_acquire(const std::filesystem::path& dir) {
  const std::string where = "state " + dir.string();
  detail::make_state_directory(dir, where);
  const auto file = dir / "lock";
  int fd = -1;
  do {
    fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) detail::throw_errno(where, errno, "create the lock file " + file.string(), dir);

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
    detail::throw_errno(where, err, "lock " + file.string(), dir);
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
