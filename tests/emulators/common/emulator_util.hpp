// Small helpers the local API emulators share (HubSpot, Mailchimp): clocks, civil dates, ISO 8601,
// strings, base64, UUIDs. Only the emulators use this folder: they share no code with synctool
// itself, so a misreading of an API in a connector does not hide the same misreading in its
// emulator. What differs between the vendors (date formats, number rules) stays in their folders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace synctool::emulators::common {

// Clocks (milliseconds).
std::int64_t wall_ms();
std::int64_t steady_ms();
void sleep_ms(std::int64_t ms);
std::int64_t floor_div(std::int64_t a, std::int64_t b);  // rounds towards minus infinity

// Civil dates (proleptic Gregorian): days since 1970-01-01 and back.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d);
// An ISO 8601 date or date-time (seconds and fractions optional), with Z or a +hh:mm / +hhmm
// offset (none: UTC), as epoch milliseconds; nullopt when malformed.
std::optional<std::int64_t> parse_iso_ms(std::string_view s);

// Strings.
std::string lower(std::string_view s);  // ASCII
// Unicode's lower case, code point by code point ("ÅSA" -> "åsa"), as vendors compare text
// without regard to case; bytes that are not UTF-8 stay as they are.
std::string lower_unicode(std::string_view s);
std::string trim(std::string_view s);   // spaces, tabs, CR, LF
std::vector<std::string> split(std::string_view s, char sep);
std::vector<std::string> split_path(std::string_view path);  // the non-empty segments
inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
// A decimal number: optional sign, digits, optional fraction, optional exponent (-12, 3.5, 1e3).
bool is_decimal(std::string_view s);
// Base64 in the standard or the URL alphabet; stops at '='. nullopt on another character.
std::optional<std::string> base64_decode(std::string_view in);
std::string uuid4();  // random, version 4

// JSON text; invalid UTF-8 is replaced rather than thrown on.
inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace synctool::emulators::common
