#include "state/local_errors.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace synctool::state::detail {

StateProblem errno_problem(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return StateProblem::no_space;
    case EROFS:
      return StateProblem::read_only;
    case EACCES:
    case EPERM:
      return StateProblem::permission;
    case EIO:
      return StateProblem::io;
    default:
      return StateProblem::other;
  }
}

std::string errno_reason(int err, const std::filesystem::path& path) {
  const std::string text = std::strerror(err);
  switch (err) {
    case ENOSPC:
      return "the disk holding " + path.string() + " is full (" + text + ")";
    case EDQUOT:
      return "the disk quota for " + path.string() + " is used up (" + text + ")";
    case EROFS:
      return path.string() + " is on a read-only file system (" + text + ")";
    case EACCES:
    case EPERM:
      return "this user may not write or read " + path.string() + " (" + text + ")";
    case EIO:
      return "the disk holding " + path.string() + " reported an I/O error (" + text + ")";
    default:
      return path.string() + ": " + text;
  }
}

void throw_errno(const std::string& where, int err, std::string_view doing, const std::filesystem::path& path) {
  std::string message = where + ": cannot ";
  message += doing;
  message += ": " + errno_reason(err, path);
  throw StateError(message, errno_problem(err));
}

void make_state_directory(const std::filesystem::path& dir, const std::string& where) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    struct stat st {};
    if (partial.empty() || (::stat(partial.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
      throw_errno(where, errno, "create the folder " + partial.string(), partial);
  }
  // Folders that already existed keep their mode, except the last, which is made private. A
  // folder of another owner cannot be changed; if it cannot be used either, opening the files
  // in it says so.
  ::chmod(dir.c_str(), 0700);
}

std::string reset_advice(const std::filesystem::path& dir) {
  return "restore it from a backup, or run `synctool state reset " + dir.filename().string() +
         "` (the run history is lost with it; the next run is a baseline)";
}

}  // namespace synctool::state::detail
