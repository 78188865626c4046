// Time: an injectable clock (tests fake it) and ISO 8601 / epoch conversions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::util {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual std::int64_t now_ms() const = 0;
  // Monotonic milliseconds for measuring durations and pacing.
  virtual std::int64_t steady_ms() const = 0;
  // Returns early when a stop was requested (util/interrupt.hpp): callers look at it after.
  virtual void sleep_ms(std::int64_t ms) const = 0;
};

// The real clock; for tests, SYNCTOOL_TEST_NOW (ISO 8601) sets the wall clock's time when the
// process first reads it (see clock.cpp).
class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override;
  std::int64_t steady_ms() const override;
  void sleep_ms(std::int64_t ms) const override;
};

const Clock& system_clock();

// "2026-11-22T13:15:54.123Z" (milliseconds shown only when non-zero).
std::string format_iso8601(std::int64_t epoch_ms);
// Accepts "YYYY-MM-DD", "YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM]". Without a zone: UTC.
std::optional<std::int64_t> parse_iso8601(std::string_view text);
// "15m", "24h", "30s", "7d", "1h30m" -> milliseconds.
std::optional<std::int64_t> parse_duration(std::string_view text);

}  // namespace synctool::util
