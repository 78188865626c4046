// Small helpers the emulators share: clocks, civil dates, ISO 8601, strings, base64, UUIDs.
#include "emulators/common/emulator_util.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <utf8proc.h>

namespace synctool::emulators::common {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void sleep_ms(std::int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

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

namespace {

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
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

}  // namespace

std::optional<std::int64_t> parse_iso_ms(std::string_view s) {
  std::size_t p = 0;
  std::int64_t y = 0, mo = 0, d = 0;
  if (!digits(s, p, 4, y) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mo) || p >= s.size() ||
      s[p++] != '-' || !digits(s, p, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, static_cast<unsigned>(mo))) return std::nullopt;
  std::int64_t ms = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400000;
  if (p == s.size()) return ms;
  if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return std::nullopt;
  ++p;
  std::int64_t hh = 0, mi = 0, ss = 0, frac = 0;
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
  const std::int64_t sign = s[p] == '+' ? 1 : -1;
  ++p;
  std::int64_t oh = 0, om = 0;
  if (!digits(s, p, 2, oh)) return std::nullopt;
  if (p < s.size() && s[p] == ':') ++p;
  if (p < s.size() && !digits(s, p, 2, om)) return std::nullopt;
  if (p != s.size() || oh > 23 || om > 59) return std::nullopt;
  return ms - sign * (oh * 3600000 + om * 60000);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string lower_unicode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto remaining = static_cast<utf8proc_ssize_t>(s.size());
  while (remaining > 0) {
    utf8proc_int32_t code_point = 0;
    auto used = utf8proc_iterate(p, remaining, &code_point);
    if (used <= 0 || code_point < 0) {  // not UTF-8: this byte as it is
      out += static_cast<char>(*p);
      ++p, --remaining;
      continue;
    }
    utf8proc_uint8_t buffer[4];
    auto written = utf8proc_encode_char(utf8proc_tolower(code_point), buffer);
    out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(written));
    p += used;
    remaining -= used;
  }
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

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  for (auto& s : split(path, '/'))
    if (!s.empty()) out.push_back(std::move(s));
  return out;
}

bool is_decimal(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = 0;
  if (s[i] == '-' || s[i] == '+') ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = 0;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
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

}  // namespace synctool::emulators::common
