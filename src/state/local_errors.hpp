// Local failures of the state and the staging table as StateError: what the operating system
// or LMDB said, turned into a sentence that names the folder or file and says what the user
// can do (a full disk, a read-only file system, a missing permission, a damaged file).
#pragma once

#include "state/store.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace synctool::state::detail {

// What an errno means for a folder of synctool's own, e.g. "the disk holding /srv/state is
// full (No space left on device)". `path` is the folder or file it happened to.
std::string errno_reason(int err, const std::filesystem::path& path);
// The problem kind an errno belongs to.
StateProblem errno_problem(int err);

// Throws StateError "<where>: cannot <doing>: <errno_reason>".
[[noreturn]] void throw_errno(const std::string& where, int err, std::string_view doing,
                              const std::filesystem::path& path);

// Creates `dir` and its missing parents, the last one 0700 (like util::create_private_directory),
// throwing StateError that names the folder that could not be created and why.
void make_state_directory(const std::filesystem::path& dir, const std::string& where);

// `synctool state reset <sync>` for the sync whose state folder is `dir`.
std::string reset_advice(const std::filesystem::path& dir);

}  // namespace synctool::state::detail
