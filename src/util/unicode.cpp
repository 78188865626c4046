#include "util/unicode.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace synctool::util {

namespace {

struct FreeDeleter {
  void operator()(utf8proc_uint8_t* p) const { std::free(p); }
};

std::optional<std::string> map(std::string_view text, int options) {
  if (text.empty()) return std::string();
  utf8proc_uint8_t* out = nullptr;
  auto length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                             static_cast<utf8proc_ssize_t>(text.size()), &out,
                             static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  std::unique_ptr<utf8proc_uint8_t, FreeDeleter> owned(out);
  if (length < 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(length));
}

template <typename Mapping>
std::optional<std::string> map_code_points(std::string_view text, Mapping mapping) {
  std::string out;
  out.reserve(text.size());
  auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto remaining = static_cast<utf8proc_ssize_t>(text.size());
  while (remaining > 0) {
    utf8proc_int32_t code_point = 0;
    auto used = utf8proc_iterate(p, remaining, &code_point);
    if (used <= 0 || code_point < 0) return std::nullopt;
    utf8proc_uint8_t buffer[4];
    auto written = utf8proc_encode_char(mapping(code_point), buffer);
    out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(written));
    p += used;
    remaining -= used;
  }
  return out;
}

bool all_ascii(std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

// ASCII text maps to itself under NFC, and its case folding is its lowercase: the common case
// (an email address, an id) needs no decoding.
std::string ascii_mapped(std::string_view text, char (*mapping)(char)) {
  std::string out(text);
  for (char& c : out) c = mapping(c);
  return out;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  auto* start = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto* p = start;
  auto remaining = static_cast<utf8proc_ssize_t>(text.size());
  while (remaining > 0) {
    // ASCII needs no decoding: most text is mostly ASCII.
    if (*p < 0x80) {
      ++p, --remaining;
      continue;
    }
    utf8proc_int32_t code_point = 0;
    auto used = utf8proc_iterate(p, remaining, &code_point);
    if (used <= 0 || code_point < 0) return static_cast<std::size_t>(p - start);
    p += used;
    remaining -= used;
  }
  return std::nullopt;
}

bool valid_utf8(std::string_view text) { return !first_invalid_utf8(text).has_value(); }

std::string repair_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (auto bad = first_invalid_utf8(text)) {
    out.append(text.substr(0, *bad));
    out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
    text.remove_prefix(*bad + 1);
  }
  out.append(text);
  return out;
}

std::optional<std::string> fold_case(std::string_view text) {
  if (all_ascii(text)) return ascii_mapped(text, ascii_lower);
  return map(text, UTF8PROC_CASEFOLD);
}

std::optional<std::string> unicode_lower(std::string_view text) {
  if (all_ascii(text)) return ascii_mapped(text, ascii_lower);
  return map_code_points(text, [](utf8proc_int32_t c) { return utf8proc_tolower(c); });
}

std::optional<std::string> unicode_upper(std::string_view text) {
  if (all_ascii(text)) return ascii_mapped(text, ascii_upper);
  return map_code_points(text, [](utf8proc_int32_t c) { return utf8proc_toupper(c); });
}

std::optional<std::string> nfc(std::string_view text) {
  if (all_ascii(text)) return std::string(text);
  return map(text, UTF8PROC_COMPOSE);
}

}  // namespace synctool::util
