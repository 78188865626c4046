#include "util/decimal.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>

namespace synctool::util {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::string> canonical_decimal(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool negative = false;
  if (i < n && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  std::string digits;  // every mantissa digit, the point removed
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < n && is_digit(text[i])) digits += text[i++], ++int_digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && is_digit(text[i])) digits += text[i++], ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return std::nullopt;
  std::int64_t exponent = 0;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exponent_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) exponent_negative = text[i++] == '-';
    std::size_t exponent_digits = 0;
    while (i < n && is_digit(text[i])) {
      // Anything beyond the length cap makes the number unacceptable; stop counting early so
      // that a thousand-digit exponent cannot overflow.
      if (exponent < 1'000'000) exponent = exponent * 10 + (text[i] - '0');
      ++i, ++exponent_digits;
    }
    if (exponent_digits == 0) return std::nullopt;
    if (exponent_negative) exponent = -exponent;
  }
  if (i != n) return std::nullopt;

  // The value is 0.<digits> x 10^point: strip what does not change it.
  std::int64_t point = static_cast<std::int64_t>(int_digits) + exponent;
  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return std::string("0");
  point -= static_cast<std::int64_t>(first);
  std::size_t last = digits.find_last_not_of('0');
  std::string_view significant(digits.data() + first, last - first + 1);
  const auto count = static_cast<std::int64_t>(significant.size());

  // Size of the result before building it: a huge exponent is refused, not expanded.
  std::int64_t length = negative ? 1 : 0;
  if (point <= 0)
    length += 2 - point + count;
  else if (point >= count)
    length += point;
  else
    length += count + 1;
  if (length > static_cast<std::int64_t>(kMaxDecimalLength)) return std::nullopt;

  std::string out;
  out.reserve(static_cast<std::size_t>(length));
  if (negative) out += '-';
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-point), '0');
    out += significant;
  } else if (point >= count) {
    out += significant;
    out.append(static_cast<std::size_t>(point - count), '0');
  } else {
    out.append(significant.substr(0, static_cast<std::size_t>(point)));
    out += '.';
    out.append(significant.substr(static_cast<std::size_t>(point)));
  }
  return out;
}

std::optional<std::string> canonical_decimal(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return std::nullopt;
  return canonical_decimal(std::string_view(buffer, static_cast<std::size_t>(end - buffer)));
}

bool double_holds(std::string_view canonical) {
  double value = 0;
  auto [end, ec] = std::from_chars(canonical.data(), canonical.data() + canonical.size(), value);
  if (ec != std::errc() || end != canonical.data() + canonical.size()) return false;
  auto back = canonical_decimal(value);
  return back && *back == canonical;
}

}  // namespace synctool::util
