#include "util/clock.hpp"

#include "util/interrupt.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <thread>

namespace synctool::util {

namespace {

std::int64_t real_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A test hook (end-to-end tests of schedules cannot wait for one to come due):
// SYNCTOOL_TEST_NOW, an ISO 8601 time, is the wall-clock time when the process first asks for
// it; time then runs on from there at the real pace. Unset (or not a time): the real clock.
std::int64_t test_offset_ms() {
  static const std::int64_t offset = [] {
    const char* fake = std::getenv("SYNCTOOL_TEST_NOW");
    if (!fake || !*fake) return std::int64_t{0};
    auto at = parse_iso8601(fake);
    return at ? *at - real_now_ms() : std::int64_t{0};
  }();
  return offset;
}

}  // namespace

std::int64_t SystemClock::now_ms() const { return real_now_ms() + test_offset_ms(); }

std::int64_t SystemClock::steady_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void SystemClock::sleep_ms(std::int64_t ms) const {
  // In slices, so that a waiting run notices SIGINT / SIGTERM within a tenth of a second.
  constexpr std::int64_t kSlice = 100;
  while (ms > 0 && !stop_requested()) {
    std::int64_t step = std::min(ms, kSlice);
    std::this_thread::sleep_for(std::chrono::milliseconds(step));
    ms -= step;
  }
}

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

bool read_digits(std::string_view s, std::size_t& pos, std::size_t count, int& out) {
  if (pos + count > s.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  out = value;
  return true;
}

}  // namespace

std::string format_iso8601(std::int64_t epoch_ms) {
  std::int64_t days = epoch_ms >= 0 ? epoch_ms / 86400000 : (epoch_ms - 86399999) / 86400000;
  std::int64_t rem = epoch_ms - days * 86400000;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  int hh = static_cast<int>(rem / 3600000), mm = static_cast<int>(rem / 60000 % 60),
      ss = static_cast<int>(rem / 1000 % 60), ms = static_cast<int>(rem % 1000);
  char buf[40];
  if (y >= 0 && y <= 9999) {
    // Digit by digit: snprintf was a third of the schema check of a datetime column.
    auto put = [&buf](std::size_t at, unsigned value, std::size_t width) {
      for (std::size_t i = width; i-- > 0; value /= 10) buf[at + i] = static_cast<char>('0' + value % 10);
    };
    put(0, static_cast<unsigned>(y), 4);
    buf[4] = '-', put(5, m, 2), buf[7] = '-', put(8, d, 2), buf[10] = 'T';
    put(11, static_cast<unsigned>(hh), 2), buf[13] = ':', put(14, static_cast<unsigned>(mm), 2), buf[16] = ':';
    put(17, static_cast<unsigned>(ss), 2);
    std::size_t end = 19;
    if (ms) buf[19] = '.', put(20, static_cast<unsigned>(ms), 3), end = 23;
    buf[end] = 'Z';
    return std::string(buf, end + 1);
  }
  if (ms)
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), m, d, hh,
                  mm, ss, ms);
  else
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", static_cast<long long>(y), m, d, hh, mm,
                  ss);
  return buf;
}

std::optional<std::int64_t> parse_iso8601(std::string_view s) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!read_digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' || !read_digits(s, pos, 2, month) ||
      pos >= s.size() || s[pos++] != '-' || !read_digits(s, pos, 2, day))
    return std::nullopt;
  // An impossible date (2024-02-30) is not a date: never shifted into the next month.
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  std::int64_t offset_ms = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!read_digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' || !read_digits(s, pos, 2, minute))
      return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!read_digits(s, pos, 2, second)) return std::nullopt;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        std::size_t start = pos;
        int scale = 100;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (scale) millis += (s[pos] - '0') * scale;
          scale /= 10;
          ++pos;
        }
        if (pos == start) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (pos < s.size()) {
      char z = s[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        ++pos;
        int oh = 0, om = 0;
        if (!read_digits(s, pos, 2, oh)) return std::nullopt;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size() && !read_digits(s, pos, 2, om)) return std::nullopt;
        offset_ms = (oh * 3600000LL + om * 60000LL) * (z == '+' ? 1 : -1);
      }
    }
  }
  if (pos != s.size()) return std::nullopt;
  std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * 86400000LL + hour * 3600000LL + minute * 60000LL + second * 1000LL + millis - offset_ms;
}

std::optional<std::int64_t> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::int64_t n = 0;
    std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') n = n * 10 + (s[pos++] - '0');
    if (pos == start || pos >= s.size()) return std::nullopt;
    switch (s[pos++]) {
      case 's': total += n * 1000; break;
      case 'm': total += n * 60000; break;
      case 'h': total += n * 3600000; break;
      case 'd': total += n * 86400000; break;
      default: return std::nullopt;
    }
  }
  return total;
}

}  // namespace synctool::util
