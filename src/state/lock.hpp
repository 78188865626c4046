// One run per sync at a time: a non-blocking flock on <state dir>/<sync>/lock. The OS
// releases it when the process dies, so a killed run never leaves a stale lock.
#pragma once

#include <filesystem>
#include <optional>

namespace synctool::state {

class SyncLock {
 public:
  // nullopt if another process holds the lock. Throws StateError (naming the folder, and
  // saying whether the disk is full, read-only or not permitted) if the folder or the lock
  // file cannot be created or locked.
  static std::optional<SyncLock> try_acquire(const std::filesystem::path& dir);
  SyncLock(SyncLock&& other) noexcept;
  SyncLock& operator=(SyncLock&& other) noexcept;
  SyncLock(const SyncLock&) = delete;
  SyncLock& operator=(const SyncLock&) = delete;
  ~SyncLock();

 private:
  explicit SyncLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace synctool::state
