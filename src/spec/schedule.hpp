// A sync's `schedule`: a 5-field cron expression (or @hourly, @daily, @weekly, @monthly,
// @yearly) or an interval such as "15m", and when it next fires. Cron is evaluated in UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::spec {

// "" when `schedule` is a valid interval, macro or 5-field cron expression (numbers, '*', ','
// lists, '-' ranges and '/' steps; day of week 0-7, 0 and 7 both Sunday) that fires at least
// once; otherwise why it is not, for a message.
std::string schedule_problem(std::string_view schedule);

// A valid schedule, ready to evaluate.
class Schedule {
 public:
  // nullopt when schedule_problem() finds fault with `text`.
  static std::optional<Schedule> parse(std::string_view text);

  bool is_interval() const { return interval_ms_ > 0; }
  std::int64_t interval_ms() const { return interval_ms_; }

  // Cron: the first whole minute (UTC) strictly after `after_ms` that the expression matches.
  // Minute, hour and month must match; for the days, when both day of month and day of week
  // are restricted (anything but '*'), a day matching either is enough (the classic cron rule),
  // else the restricted one decides.
  // Interval: `after_ms` (the start of the last run) rounded down to the interval's unit (the
  // whole minute, or the whole second for an interval with seconds in it) plus the interval, so
  // that a run started a few seconds after a scheduler's tick is due again at the same tick.
  // nullopt only outside the years 1-9999.
  std::optional<std::int64_t> next_after(std::int64_t after_ms) const;

 private:
  friend std::string schedule_problem(std::string_view schedule);
  Schedule() = default;
  // Fills `into` from `text`: "" when valid, else why not (schedule_problem's answer).
  static std::string read(std::string_view text, Schedule& into);
  std::int64_t interval_ms_ = 0;
  // Cron: bit n set when value n matches (day of week 0-6, Sunday 0).
  std::uint64_t minutes_ = 0, hours_ = 0, days_ = 0, months_ = 0, weekdays_ = 0;
  bool days_restricted_ = false, weekdays_restricted_ = false;
};

}  // namespace synctool::spec
