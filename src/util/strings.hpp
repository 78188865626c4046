// Small string helpers with no synctool knowledge.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace synctool::util {

std::string trim(std::string_view s);
std::string to_lower(std::string_view s);  // ASCII only; UTF-8 bytes >= 0x80 pass through
std::string to_upper(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);

// Edit distance (insertions, deletions, substitutions, and swaps of two neighbours), for "did
// you mean" hints.
std::size_t levenshtein(std::string_view a, std::string_view b);
// The candidate closest to `word` if it is close enough to be a plausible typo, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// One line for a message: whitespace runs collapsed to one space, cut to `limit` bytes (never
// inside a UTF-8 sequence) with "..." appended when cut.
std::string squeeze(std::string_view text, std::size_t limit);

// Standard base64 with padding.
std::string base64_encode(const void* data, std::size_t size);

}  // namespace synctool::util
