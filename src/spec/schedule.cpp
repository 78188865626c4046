#include "spec/schedule.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

#include <chrono>
#include <charconv>
#include <sstream>
#include <utility>
#include <vector>

namespace synctool::spec {

namespace {

struct CronField {
  const char* name;
  int min;
  int max;
};

constexpr CronField kCronFields[] = {
    {"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}};

// The common shorthands, as cron and Kubernetes read them.
constexpr std::pair<std::string_view, std::string_view> kMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"}};

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMinutes = 1440;

bool parse_number(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "" or why one comma-separated item of a cron field is wrong.
std::string item_problem(std::string_view item, const CronField& field) {
  std::string_view range = item;
  if (auto slash = item.find('/'); slash != std::string_view::npos) {
    int step = 0;
    if (!parse_number(item.substr(slash + 1), step) || step < 1)
      return "step in '" + std::string(item) + "' must be a whole number of at least 1";
    range = item.substr(0, slash);
  }
  if (range == "*") return "";
  auto check = [&](std::string_view number) -> std::string {
    int value = 0;
    if (!parse_number(number, value)) {
      // Built with += : GCC 12 reports a false -Wrestrict for "literal" + std::string at -O2.
      std::string problem = "'";
      problem += number;
      problem += "' is not a number, '*', a range 'a-b' or a step '*/n'";
      return problem;
    }
    if (value < field.min || value > field.max)
      return std::to_string(value) + " is out of range " + std::to_string(field.min) + "-" +
             std::to_string(field.max);
    return "";
  };
  if (auto dash = range.find('-'); dash != std::string_view::npos) {
    std::string problem = check(range.substr(0, dash));
    if (problem.empty()) problem = check(range.substr(dash + 1));
    if (!problem.empty()) return problem;
    int from = 0, to = 0;
    parse_number(range.substr(0, dash), from);
    parse_number(range.substr(dash + 1), to);
    if (from > to) return "range '" + std::string(range) + "' runs backwards";
    return "";
  }
  return check(range);
}

// The values one valid item matches, as bits. "n/step" runs from n to the field's maximum.
std::uint64_t item_bits(std::string_view item, const CronField& field) {
  int step = 1;
  std::string_view range = item;
  if (auto slash = item.find('/'); slash != std::string_view::npos) {
    parse_number(item.substr(slash + 1), step);
    range = item.substr(0, slash);
  }
  int from = field.min, to = field.max;
  if (range != "*") {
    if (auto dash = range.find('-'); dash != std::string_view::npos) {
      parse_number(range.substr(0, dash), from);
      parse_number(range.substr(dash + 1), to);
    } else {
      parse_number(range, from);
      to = item.find('/') == std::string_view::npos ? from : field.max;
    }
  }
  std::uint64_t bits = 0;
  for (int v = from; v <= to; v += step) bits |= std::uint64_t{1} << v;
  return bits;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Days since 1970-01-01 of the first and last day evaluated: years 1 to 9999.
std::int64_t epoch_day(std::chrono::year_month_day date) {
  return std::chrono::sys_days(date).time_since_epoch().count();
}
const std::int64_t kFirstDay = epoch_day(std::chrono::year{1} / 1 / 1);
const std::int64_t kLastDay = epoch_day(std::chrono::year{9999} / 12 / 31);

// Far enough ahead that every schedule that fires at all fires within it from any day: a
// February 29th comes at most 8 years after the last (2096 -> 2104).
constexpr std::int64_t kSearchDays = 9 * 366;

// Interval numbers are bounded before util::parse_duration sees them: its sum has no
// overflow check.
std::string interval_shape_problem(std::string_view text) {
  std::size_t digits = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (++digits > 9) return "an interval's numbers have at most 9 digits";
    } else {
      digits = 0;
    }
  }
  if (text.size() > 40) return "an interval is at most 40 characters long";
  return "";
}

bool interval_shaped(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789smhd") == std::string_view::npos;
}

}  // namespace

std::string Schedule::read(std::string_view schedule, Schedule& into) {
  std::string text = util::trim(schedule);
  if (text.empty()) return "it is empty";
  if (interval_shaped(text)) {
    if (std::string problem = interval_shape_problem(text); !problem.empty()) return problem;
    if (auto interval = util::parse_duration(text)) {
      if (*interval <= 0) return "an interval must be longer than zero";
      into.interval_ms_ = *interval;
      return "";
    }
  }
  if (text.starts_with('@')) {
    for (const auto& [name, expansion] : kMacros)
      if (text == name) text = expansion;
    if (text.starts_with('@'))
      return "'" + text + "' is not one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually";
  }
  std::istringstream words(text);
  std::vector<std::string> fields;
  for (std::string word; words >> word;) fields.push_back(word);
  if (fields.size() == 1)
    return "it is neither an interval such as \"15m\" or \"1h30m\" nor a 5-field cron expression";
  if (fields.size() != 5)
    return "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has " +
           std::to_string(fields.size());
  std::uint64_t bits[5] = {};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    for (const auto& item : util::split(fields[i], ',')) {
      std::string problem = item_problem(item, kCronFields[i]);
      if (!problem.empty()) return std::string(kCronFields[i].name) + " field: " + problem;
      bits[i] |= item_bits(item, kCronFields[i]);
    }
  }
  into.interval_ms_ = 0;
  into.minutes_ = bits[0];
  into.hours_ = bits[1];
  into.days_ = bits[2];
  into.months_ = bits[3];
  constexpr std::uint64_t kSunday7 = std::uint64_t{1} << 7;
  into.weekdays_ = (bits[4] & ~kSunday7) | ((bits[4] & kSunday7) ? 1 : 0);
  auto restricted = [](const std::string& field) { return field != "*" && field != "*/1"; };
  into.days_restricted_ = restricted(fields[2]);
  into.weekdays_restricted_ = restricted(fields[4]);
  // Only a day of month that no chosen month has (30 February, 31 April) can make it never fire.
  if (!into.next_after(epoch_day(std::chrono::year{2000} / 1 / 1) * kDayMinutes * kMinuteMs))
    return "it never fires: none of its months has any of its days of month";
  return "";
}

std::string schedule_problem(std::string_view schedule) {
  Schedule ignored;
  return Schedule::read(schedule, ignored);
}

std::optional<Schedule> Schedule::parse(std::string_view text) {
  Schedule schedule;
  if (!read(text, schedule).empty()) return std::nullopt;
  return schedule;
}

std::optional<std::int64_t> Schedule::next_after(std::int64_t after_ms) const {
  static const std::int64_t kFirstMs = kFirstDay * kDayMinutes * kMinuteMs;
  static const std::int64_t kLastMs = (kLastDay + 1) * kDayMinutes * kMinuteMs - 1;
  if (after_ms < kFirstMs || after_ms > kLastMs) return std::nullopt;
  if (is_interval()) {
    const std::int64_t unit = interval_ms_ % kMinuteMs == 0 ? kMinuteMs : 1000;
    return floor_div(after_ms, unit) * unit + interval_ms_;
  }
  using namespace std::chrono;
  const std::int64_t first_minute = floor_div(after_ms, kMinuteMs) + 1;  // strictly after
  std::int64_t day = floor_div(first_minute, kDayMinutes);
  int minute_of_day = static_cast<int>(first_minute - day * kDayMinutes);
  const std::int64_t last = std::min(kLastDay, day + kSearchDays);
  for (; day <= last; ++day, minute_of_day = 0) {
    const sys_days date{days{day}};
    const year_month_day ymd{date};
    if (((months_ >> static_cast<unsigned>(ymd.month())) & 1) == 0) {
      // Skip to the month's last day; the loop's step goes on to the next month's first.
      day = epoch_day(year_month_day{ymd.year() / ymd.month() / std::chrono::last});
      continue;
    }
    const bool dom = (days_ >> static_cast<unsigned>(ymd.day())) & 1;
    const bool dow = (weekdays_ >> weekday{date}.c_encoding()) & 1;
    const bool either = days_restricted_ && weekdays_restricted_;  // the classic cron rule
    if (either ? !(dom || dow) : !(dom && dow)) continue;
    for (int hour = minute_of_day / 60, minute = minute_of_day % 60; hour < 24; ++hour, minute = 0) {
      if (((hours_ >> hour) & 1) == 0) continue;
      for (; minute < 60; ++minute)
        if ((minutes_ >> minute) & 1) return ((day * kDayMinutes) + hour * 60 + minute) * kMinuteMs;
    }
  }
  return std::nullopt;
}

}  // namespace synctool::spec
