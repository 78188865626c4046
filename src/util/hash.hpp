// Hashing helpers (OpenSSL SHA-256 for stable digests, FNV-1a for in-memory sets).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace synctool::util {

std::string sha256_hex(std::string_view data);
std::string md5_hex(std::string_view data);
std::uint64_t fnv1a64(std::string_view data);

}  // namespace synctool::util
