// Unicode text through utf8proc (Debian's libutf8proc): validity, case folding and mapping,
// NFC. Every function takes UTF-8 and answers nullopt (or false) for text that is not.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace synctool::util {

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or stray bytes).
bool valid_utf8(std::string_view text);

// The byte offset of the first malformed sequence, or nullopt when the text is valid UTF-8.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

// `text` with every malformed byte replaced by U+FFFD, for showing and storing text that must
// be UTF-8 (JSON) whatever a source held.
std::string repair_utf8(std::string_view text);

// Full Unicode case folding, for comparing text without regard to case: "ÅSA" -> "åsa",
// "Straße" -> "strasse". Match keys use it (`normalize = ["lowercase"]`).
std::optional<std::string> fold_case(std::string_view text);

// Unicode's simple lower / upper case mapping, code point by code point ("ÅSA" -> "åsa"):
// the `lowercase` / `uppercase` transforms of values, which keep their length in characters.
std::optional<std::string> unicode_lower(std::string_view text);
std::optional<std::string> unicode_upper(std::string_view text);

// Canonical composition (NFC): "e" + U+0301 -> "é", so the two spellings compare equal.
std::optional<std::string> nfc(std::string_view text);

}  // namespace synctool::util
