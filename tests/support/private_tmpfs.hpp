// A tmpfs of its own for a child process: a real full disk (ENOSPC from the kernel) for the
// tests of state failures, without touching the machine's file systems.
#pragma once

#include <filesystem>
#include <string>

namespace synctool::testing {

// To be called in a child process (it changes the caller's namespaces): enters a mount
// namespace of its own (as root, or unprivileged through a user namespace) and mounts a tmpfs
// with `options` (e.g. "size=256k") on `mount_point`. Returns "" or why it cannot.
std::string mount_private_tmpfs(const std::filesystem::path& mount_point, const std::string& options);

}  // namespace synctool::testing
