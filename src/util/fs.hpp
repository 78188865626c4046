// File helpers: atomic replace, private directories.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace synctool::util {

// Writes through `fill` into a temporary file beside `target`, fsyncs it and renames it over
// `target`, so readers see either the old file or the new one, never half of each.
void write_file_atomically(const std::filesystem::path& target, const std::function<void(std::ostream&)>& fill);
// Creates the directory (and parents) with mode 0700 for the last component.
void create_private_directory(const std::filesystem::path& dir);
std::string read_file(const std::filesystem::path& file);

}  // namespace synctool::util
