#include "support/private_tmpfs.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace synctool::testing {

namespace fs = std::filesystem;

namespace {

bool write_proc_file(const char* file, const std::string& text) {
  int fd = ::open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

}  // namespace

std::string mount_private_tmpfs(const fs::path& mount_point, const std::string& options) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (uid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
  } else {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
      return std::string("unshare(CLONE_NEWUSER | CLONE_NEWNS): ") + std::strerror(errno) +
             " (unprivileged user namespaces are disabled on this kernel)";
    if (!write_proc_file("/proc/self/setgroups", "deny") ||
        !write_proc_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !write_proc_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
      return std::string("cannot map the user into its namespace: ") + std::strerror(errno);
  }
  // Private, so that nothing mounted here shows outside.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("cannot make the mounts private: ") + std::strerror(errno);
  std::error_code ec;
  fs::create_directories(mount_point, ec);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, options.c_str()) != 0)
    return std::string("cannot mount a tmpfs: ") + std::strerror(errno);
  return "";
}

}  // namespace synctool::testing
