// Small helpers of the HubSpot emulator: time, strings, cursors, fault JSON.
// Declared in hubspot_emulator.cpp (this file has no header of its own: the emulator's files
// are the only users).
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulators/hubspot/hubspot_emulator.hpp"

namespace synctool::emulators::hubspot_detail {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Reads exactly n digits at s[pos..]; advances pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, std::int64_t& out) {
  if (pos + n > s.size()) return false;
  std::int64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

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

std::optional<std::int64_t> parse_iso(std::string_view s) {
  std::size_t p = 0;
  std::int64_t y, mo, d;
  if (!digits(s, p, 4, y) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mo) || p >= s.size() ||
      s[p++] != '-' || !digits(s, p, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, static_cast<unsigned>(mo))) return std::nullopt;
  std::int64_t ms = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400000;
  if (p == s.size()) return ms;
  if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return std::nullopt;
  ++p;
  std::int64_t hh, mi, ss = 0, frac = 0;
  if (!digits(s, p, 2, hh) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, mi)) return std::nullopt;
  if (p < s.size() && s[p] == ':') {
    ++p;
    if (!digits(s, p, 2, ss)) return std::nullopt;
    if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
      ++p;
      std::size_t n = 0;
      std::int64_t scale = 100;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        if (n < 3) frac += (s[p] - '0') * scale;
        scale /= 10;
        ++n;
        ++p;
      }
      if (n == 0) return std::nullopt;
    }
  }
  if (hh > 23 || mi > 59 || ss > 60) return std::nullopt;
  ms += hh * 3600000 + mi * 60000 + ss * 1000 + frac;
  if (p == s.size()) return ms;  // no zone: UTC
  if (s[p] == 'Z' || s[p] == 'z') return p + 1 == s.size() ? std::optional<std::int64_t>(ms) : std::nullopt;
  if (s[p] != '+' && s[p] != '-') return std::nullopt;
  const int sign = s[p] == '+' ? 1 : -1;
  ++p;
  std::int64_t oh, om = 0;
  if (!digits(s, p, 2, oh)) return std::nullopt;
  if (p < s.size() && s[p] == ':') ++p;
  if (p < s.size() && !digits(s, p, 2, om)) return std::nullopt;
  if (p != s.size() || oh > 23 || om > 59) return std::nullopt;
  return ms - sign * (oh * 3600000 + om * 60000);
}

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
  return parse_iso(s);
}

// A number as HubSpot accepts it: optional minus, digits, optional fraction, optional exponent.
std::optional<double> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  if (s[i] == '-' || s[i] == '+') ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
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

std::optional<std::string> unbase64url(std::string_view in) {
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-' || c == '+') v = 62;
    else if (c == '_' || c == '/') v = 63;
    else return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

// List cursors are opaque to clients: base64url of "id:<next id>". Plain digits are accepted too.
std::string encode_cursor(std::uint64_t id) { return base64url("id:" + std::to_string(id)); }

std::optional<std::uint64_t> decode_cursor(std::string_view s) {
  if (auto v = parse_id(s)) return v;
  auto raw = unbase64url(s);
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

std::string uuid4() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0x0FFF),
                static_cast<unsigned>(((b >> 48) & 0x3FFF) | 0x8000),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

}  // namespace synctool::emulators::hubspot_detail

namespace synctool::emulators {

namespace {

template <typename T>
void read_field(const nlohmann::json& j, const char* name, T& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(std::string("faults: field '") + name + "' has the wrong type");
  }
}

void read_rate(const nlohmann::json& j, const char* name, double& out) {
  read_field(j, name, out);
  if (out < 0 || out > 1) throw std::invalid_argument(std::string("faults: ") + name + " must be within 0..1");
}

}  // namespace

HubspotFaults hubspot_faults_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("faults: expected a JSON object");
  static const std::vector<std::string> known{
      "rate_429", "rate_500", "rate_timeout", "timeout_ms", "rate_drop", "rate_lost_response", "rate_malformed",
      "slow_ms",  "paths",    "max_faults",   "seed",       "include_oauth"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      throw std::invalid_argument("faults: unknown field '" + it.key() + "'");
  HubspotFaults f;
  read_rate(j, "rate_429", f.rate_429);
  read_rate(j, "rate_500", f.rate_500);
  read_rate(j, "rate_timeout", f.rate_timeout);
  read_field(j, "timeout_ms", f.timeout_ms);
  read_rate(j, "rate_drop", f.rate_drop);
  read_rate(j, "rate_lost_response", f.rate_lost_response);
  read_rate(j, "rate_malformed", f.rate_malformed);
  read_field(j, "slow_ms", f.slow_ms);
  read_field(j, "paths", f.paths);
  read_field(j, "max_faults", f.max_faults);
  read_field(j, "seed", f.seed);
  read_field(j, "include_oauth", f.include_oauth);
  if (f.timeout_ms < 0 || f.slow_ms < 0) throw std::invalid_argument("faults: timeout_ms and slow_ms must be >= 0");
  return f;
}

nlohmann::json hubspot_faults_to_json(const HubspotFaults& f) {
  return {{"rate_429", f.rate_429},
          {"rate_500", f.rate_500},
          {"rate_timeout", f.rate_timeout},
          {"timeout_ms", f.timeout_ms},
          {"rate_drop", f.rate_drop},
          {"rate_lost_response", f.rate_lost_response},
          {"rate_malformed", f.rate_malformed},
          {"slow_ms", f.slow_ms},
          {"paths", f.paths},
          {"max_faults", f.max_faults},
          {"seed", f.seed},
          {"include_oauth", f.include_oauth}};
}

}  // namespace synctool::emulators
