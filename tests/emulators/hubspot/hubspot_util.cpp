// Small helpers of the HubSpot emulator: dates, numbers, cursors, form decoding, fault JSON.
// Declared in hubspot_internal.hpp; what both emulators need is in emulators/common.
#include <cstdio>
#include <cstdlib>

#include "emulators/hubspot/hubspot_internal.hpp"

namespace synctool::emulators::hubspot_detail {

std::string iso_ms(std::int64_t ms) {
  const std::int64_t days = floor_div(ms, 86400000);
  std::int64_t rem = ms - days * 86400000;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  const auto hh = static_cast<int>(rem / 3600000);
  rem %= 3600000;
  const auto mi = static_cast<int>(rem / 60000);
  rem %= 60000;
  const auto ss = static_cast<int>(rem / 1000);
  const auto mss = static_cast<int>(rem % 1000);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), m, d, hh,
                mi, ss, mss);
  return buf;
}

std::string iso_date(std::int64_t ms) { return iso_ms(ms).substr(0, 10); }

std::optional<std::int64_t> parse_int64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return std::nullopt;
  }
  std::int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return neg ? -v : v;
}

std::optional<std::uint64_t> parse_id(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// Epoch milliseconds (digits) or ISO 8601.
std::optional<std::int64_t> parse_time_value(std::string_view s) {
  if (auto v = parse_int64(s)) return v;
  return parse_iso_ms(s);
}

// A number as HubSpot accepts it: optional sign, digits, optional fraction, optional exponent.
std::optional<double> parse_number(std::string_view s) {
  if (!common::is_decimal(s)) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}

std::string base64url(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8) |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
  } else if (i + 2 == in.size()) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
  }
  return out;
}

// List cursors are opaque to clients: base64url of "id:<next id>". Plain digits are accepted too.
std::string encode_cursor(std::uint64_t id) { return base64url("id:" + std::to_string(id)); }

std::optional<std::uint64_t> decode_cursor(std::string_view s) {
  if (auto v = parse_id(s)) return v;
  auto raw = common::base64_decode(s);
  if (!raw || raw->rfind("id:", 0) != 0) return std::nullopt;
  return parse_id(std::string_view(*raw).substr(3));
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int a = hex(s[i + 1]), b = hex(s[i + 2]);
      if (a < 0 || b < 0) {
        out += s[i];
      } else {
        out += static_cast<char>(a * 16 + b);
        i += 2;
      }
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace synctool::emulators::hubspot_detail

namespace synctool::emulators {

HubspotFaults hubspot_faults_from_json(const nlohmann::json& j) {
  return common::read_fault_settings(j, "rate_429", &HubspotFaults::rate_429);
}

nlohmann::json hubspot_faults_to_json(const HubspotFaults& f) {
  nlohmann::json j = common::fault_fields_to_json(f);
  j["include_oauth"] = f.include_oauth;
  return j;
}

}  // namespace synctool::emulators
