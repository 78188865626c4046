// When a sync's schedule next fires: worked examples (month ends, leap years, steps, lists,
// ranges, the day-of-month / day-of-week rule, macros, intervals), and a property test against
// a minute-by-minute scan written independently of the implementation.
#include "spec/schedule.hpp"
#include "util/clock.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <ctime>
#include <random>
#include <sstream>
#include <vector>

using synctool::spec::Schedule;
using synctool::spec::schedule_problem;

namespace {

std::int64_t at(const std::string& iso) {
  auto ms = synctool::util::parse_iso8601(iso);
  REQUIRE(ms);
  return *ms;
}

// The next firing of `expression` after `iso`, as ISO 8601 ("none" when it never comes).
std::string next(const std::string& expression, const std::string& iso) {
  auto schedule = Schedule::parse(expression);
  INFO(expression << ": " << schedule_problem(expression));
  REQUIRE(schedule);
  auto fire = schedule->next_after(at(iso));
  return fire ? synctool::util::format_iso8601(*fire) : "none";
}

}  // namespace

TEST_CASE("cron: minutes, hours, steps, lists and ranges", "[spec][schedule]") {
  CHECK(next("* * * * *", "2026-12-07T10:00:00Z") == "2026-12-07T10:01:00Z");     // strictly after
  CHECK(next("* * * * *", "2026-12-07T10:00:59.999Z") == "2026-12-07T10:01:00Z");
  CHECK(next("0 * * * *", "2026-12-07T10:00:00Z") == "2026-12-07T11:00:00Z");
  CHECK(next("0 * * * *", "2026-12-07T09:59:59Z") == "2026-12-07T10:00:00Z");
  CHECK(next("*/15 * * * *", "2026-12-07T10:16:00Z") == "2026-12-07T10:30:00Z");
  CHECK(next("*/15 * * * *", "2026-12-07T23:50:00Z") == "2026-12-08T00:00:00Z");
  CHECK(next("10-50/15 * * * *", "2026-12-07T10:41:00Z") == "2026-12-07T11:10:00Z");  // 10, 25, 40
  CHECK(next("10-50/15 * * * *", "2026-12-07T10:39:00Z") == "2026-12-07T10:40:00Z");
  CHECK(next("5/20 * * * *", "2026-12-07T10:26:00Z") == "2026-12-07T10:45:00Z");      // n/step: n to 59
  CHECK(next("0 8,12,18 * * *", "2026-12-07T12:00:00Z") == "2026-12-07T18:00:00Z");
  CHECK(next("0 8,12,18 * * *", "2026-12-07T18:00:00Z") == "2026-12-08T08:00:00Z");
  CHECK(next("30 2-4 * * *", "2026-12-07T04:30:00Z") == "2026-12-08T02:30:00Z");
  CHECK(next("5,35 0-23/2 * * *", "2026-12-07T01:40:00Z") == "2026-12-07T02:05:00Z");
  CHECK(next("0 0 1 1 *", "2026-12-31T23:59:30Z") == "2027-01-01T00:00:00Z");  // year end
  CHECK(next("0 0 1 1 *", "1969-06-01T00:00:00Z") == "1970-01-01T00:00:00Z");  // before the epoch
}

TEST_CASE("cron: month ends and leap years", "[spec][schedule]") {
  CHECK(next("0 0 31 * *", "2026-04-15T00:00:00Z") == "2026-05-31T00:00:00Z");  // April has no 31st
  CHECK(next("0 0 31 * *", "2026-07-31T00:00:00Z") == "2026-08-31T00:00:00Z");
  CHECK(next("0 0 31 * *", "2026-08-31T00:00:00Z") == "2026-10-31T00:00:00Z");  // nor September
  CHECK(next("0 0 30 * *", "2026-02-01T00:00:00Z") == "2026-03-30T00:00:00Z");
  CHECK(next("0 0 29 2 *", "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00Z");
  CHECK(next("0 0 29 2 *", "2024-02-28T23:59:00Z") == "2024-02-29T00:00:00Z");
  CHECK(next("0 12 29 2 *", "2096-03-01T00:00:00Z") == "2104-02-29T12:00:00Z");  // 2100 is no leap year
  CHECK(next("0 0 29 2 *", "1999-03-01T00:00:00Z") == "2000-02-29T00:00:00Z");   // 2000 is one
  CHECK(next("59 23 28-31 2 *", "2027-02-28T23:59:00Z") == "2028-02-28T23:59:00Z");
  CHECK(next("59 23 28-31 2 *", "2028-02-28T23:59:00Z") == "2028-02-29T23:59:00Z");
}

TEST_CASE("cron: days of week, 0 and 7 both Sunday, and the day-of-month / day-of-week rule", "[spec][schedule]") {
  // 2026-12-07 is a Monday.
  CHECK(next("0 9 * * 1-5", "2026-12-04T10:00:00Z") == "2026-12-07T09:00:00Z");  // Friday -> Monday
  CHECK(next("0 0 * * 0", "2026-12-07T00:00:00Z") == "2026-12-13T00:00:00Z");
  CHECK(next("0 0 * * 7", "2026-12-07T00:00:00Z") == "2026-12-13T00:00:00Z");
  CHECK(next("0 0 * * 5-7", "2026-12-12T00:00:00Z") == "2026-12-13T00:00:00Z");  // Saturday -> Sunday
  CHECK(next("0 0 * * 5-7", "2026-12-13T00:00:00Z") == "2026-12-18T00:00:00Z");  // Sunday -> Friday
  // Both restricted: the 13th or a Friday, whichever comes first.
  CHECK(next("0 0 13 * 5", "2026-12-07T00:00:00Z") == "2026-12-11T00:00:00Z");
  CHECK(next("0 0 13 * 5", "2026-12-11T00:00:00Z") == "2026-12-13T00:00:00Z");
  CHECK(next("0 0 13 * 5", "2026-12-13T00:00:00Z") == "2026-12-18T00:00:00Z");
  // A step is a restriction too: the 1st, or a Sunday, Wednesday or Saturday.
  CHECK(next("0 0 1 * */3", "2026-12-31T00:00:00Z") == "2027-01-01T00:00:00Z");
  CHECK(next("0 0 1 * */3", "2026-12-07T00:00:00Z") == "2026-12-09T00:00:00Z");
  // Only one restricted: that one decides.
  CHECK(next("0 0 13 * *", "2026-12-07T00:00:00Z") == "2026-12-13T00:00:00Z");
  CHECK(next("0 0 * * 1", "2026-12-07T00:00:00Z") == "2026-12-14T00:00:00Z");
  CHECK(next("0 0 */1 * 1", "2026-12-07T00:00:00Z") == "2026-12-14T00:00:00Z");  // */1 is '*'
  // Restricted in a month that has neither: the next month's.
  CHECK(next("0 0 31 6 1", "2026-05-01T00:00:00Z") == "2026-06-01T00:00:00Z");
}

TEST_CASE("cron macros", "[spec][schedule]") {
  const std::string from = "2026-12-07T10:30:00Z";  // Monday
  CHECK(next("@hourly", from) == "2026-12-07T11:00:00Z");
  CHECK(next("@daily", from) == "2026-12-08T00:00:00Z");
  CHECK(next("@midnight", from) == "2026-12-08T00:00:00Z");
  CHECK(next("@weekly", from) == "2026-12-13T00:00:00Z");
  CHECK(next("@monthly", from) == "2027-01-01T00:00:00Z");
  CHECK(next("@yearly", from) == "2027-01-01T00:00:00Z");
  CHECK(next("@annually", "2027-01-01T00:00:00Z") == "2028-01-01T00:00:00Z");
  CHECK(schedule_problem(" @daily ").empty());
  CHECK(schedule_problem("@reboot").find("is not one of @hourly") != std::string::npos);
  CHECK_FALSE(schedule_problem("@Daily").empty());
}

TEST_CASE("intervals count from the last run's start, from its whole minute or second", "[spec][schedule]") {
  CHECK(next("15m", "2026-12-07T10:00:40.250Z") == "2026-12-07T10:15:00Z");
  CHECK(next("1h30m", "2026-12-07T10:00:00Z") == "2026-12-07T11:30:00Z");
  CHECK(next("90s", "2026-12-07T10:00:40.500Z") == "2026-12-07T10:02:10Z");
  CHECK(next("2d", "2026-12-31T23:00:10Z") == "2027-01-02T23:00:00Z");
  auto interval = Schedule::parse("15m");
  REQUIRE(interval);
  CHECK(interval->is_interval());
  CHECK(interval->interval_ms() == 15 * 60'000);
  CHECK_FALSE(Schedule::parse("0 * * * *")->is_interval());
}

TEST_CASE("schedules that cannot be evaluated are refused with the reason", "[spec][schedule]") {
  CHECK(schedule_problem("0 0 30 2 *").find("never fires") != std::string::npos);
  CHECK(schedule_problem("0 0 31 4,6,9,11 *").find("never fires") != std::string::npos);
  CHECK(schedule_problem("0 0 31 2,4 *").find("never fires") != std::string::npos);
  CHECK(schedule_problem("0 0 29 2 *").empty());
  CHECK(schedule_problem("0 0 30 2 1").empty());  // or any Monday
  CHECK(schedule_problem("0 0 * * 7").empty());
  CHECK(schedule_problem("0 0 * * 8").find("day of week field: 8 is out of range 0-7") == 0);
  CHECK(schedule_problem("0m").find("longer than zero") != std::string::npos);
  // Long numbers are refused before they could overflow.
  CHECK(schedule_problem("99999999999999999999999d").find("at most 9 digits") != std::string::npos);
  CHECK(schedule_problem(std::string(50, '1') + "m").find("at most 9 digits") != std::string::npos);
  CHECK(schedule_problem("1m1m1m1m1m1m1m1m1m1m1m1m1m1m1m1m1m1m1m1m1m").find("at most 40 characters") != std::string::npos);
  CHECK(schedule_problem("999999999d").empty());
  for (const char* bad : {"", "  ", "every hour", "* * * *", "61 * * * *", "*/0 * * * *", "5-1 * * * *", "* * * * mon"}) {
    INFO(bad);
    CHECK_FALSE(schedule_problem(bad).empty());
    CHECK_FALSE(Schedule::parse(bad));
  }
}

TEST_CASE("next_after answers nothing outside the years 1-9999 and never loops", "[spec][schedule]") {
  auto cron = Schedule::parse("0 0 29 2 *");
  REQUIRE(cron);
  CHECK_FALSE(cron->next_after(at("9999-12-31T23:59:00Z")));
  CHECK_FALSE(cron->next_after(std::numeric_limits<std::int64_t>::max()));
  CHECK_FALSE(cron->next_after(std::numeric_limits<std::int64_t>::min()));
  auto interval = Schedule::parse("15m");
  CHECK_FALSE(interval->next_after(std::numeric_limits<std::int64_t>::max()));
  CHECK(next("* * * * *", "0001-01-01T00:00:00Z") == "0001-01-01T00:01:00Z");
}

namespace {

// An oracle that shares nothing with the implementation: each field expanded to a table by the
// plain reading of cron's syntax, and each day's calendar fields from gmtime_r.
struct Oracle {
  std::array<bool, 60> minutes{};
  std::array<bool, 24> hours{};
  std::array<bool, 32> days{};
  std::array<bool, 13> months{};
  std::array<bool, 7> weekdays{};
  bool days_restricted = false, weekdays_restricted = false;

  template <std::size_t N>
  static void expand(const std::string& field, int min, int max, std::array<bool, N>& values) {
    std::stringstream items(field);
    for (std::string item; std::getline(items, item, ',');) {
      int step = 1;
      bool stepped = false;
      if (auto slash = item.find('/'); slash != std::string::npos) {
        step = std::stoi(item.substr(slash + 1));
        item = item.substr(0, slash);
        stepped = true;
      }
      int from = min, to = max;
      if (item != "*") {
        auto dash = item.find('-');
        from = std::stoi(item.substr(0, dash));
        to = dash == std::string::npos ? (stepped ? max : from) : std::stoi(item.substr(dash + 1));
      }
      for (int v = from; v <= to; v += step) values[static_cast<std::size_t>(v) % N] = true;  // day of week 7 -> 0
    }
  }

  explicit Oracle(const std::string& expression) {
    std::istringstream in(expression);
    std::string f[5];
    for (auto& field : f) in >> field;
    expand(f[0], 0, 59, minutes);
    expand(f[1], 0, 23, hours);
    expand(f[2], 1, 31, days);
    expand(f[3], 1, 12, months);
    expand(f[4], 0, 7, weekdays);
    days_restricted = f[2] != "*" && f[2] != "*/1";
    weekdays_restricted = f[4] != "*" && f[4] != "*/1";
  }

  bool day_matches(const std::tm& t) const {
    bool dom = days[static_cast<std::size_t>(t.tm_mday)], dow = weekdays[static_cast<std::size_t>(t.tm_wday)];
    bool day = days_restricted && weekdays_restricted ? dom || dow : dom && dow;
    return day && months[static_cast<std::size_t>(t.tm_mon + 1)];
  }

  // The first matching minute after `after_ms`, scanning minute by minute, at most `limit`.
  std::optional<std::int64_t> scan(std::int64_t after_ms, std::int64_t limit) const {
    std::int64_t minute = after_ms / 60'000 + 1;  // instants after 1970 only
    bool day = false;
    for (std::int64_t i = 0; i < limit; ++i, ++minute) {
      const std::int64_t of_day = minute % 1440;
      if (i == 0 || of_day == 0) {
        std::time_t seconds = static_cast<std::time_t>(minute * 60);
        std::tm t{};
        gmtime_r(&seconds, &t);
        day = day_matches(t);
      }
      if (day && hours[static_cast<std::size_t>(of_day / 60)] && minutes[static_cast<std::size_t>(of_day % 60)])
        return minute * 60'000;
    }
    return std::nullopt;
  }
};

std::string random_item(std::mt19937& random, int min, int max) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };
  int a = pick(min, max), b = pick(min, max);
  if (a > b) std::swap(a, b);
  const std::string step = std::to_string(pick(1, std::max(1, (max - min) / 2)));
  switch (pick(0, 6)) {
    case 0: return "*";
    case 1: return "*/" + step;
    case 2: return std::to_string(a) + "-" + std::to_string(b);
    case 3: return std::to_string(a) + "-" + std::to_string(b) + "/" + step;
    case 4: return std::to_string(a) + "/" + step;
    default: return std::to_string(a);
  }
}

std::string random_field(std::mt19937& random, int min, int max) {
  // '*' half the time, so that both the restricted and unrestricted day rules come up often.
  if (std::uniform_int_distribution<int>(0, 1)(random) == 0) return "*";
  std::string field = random_item(random, min, max);
  for (int extra = std::uniform_int_distribution<int>(0, 2)(random); extra > 0; --extra)
    field += "," + random_item(random, min, max);
  return field;
}

}  // namespace

TEST_CASE("property: next_after agrees with a minute-by-minute scan over random expressions and instants",
          "[spec][schedule]") {
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  const std::int64_t from = at("1995-01-01T00:00:00Z"), to = at("2110-01-01T00:00:00Z");
  constexpr std::int64_t kScanMinutes = 120 * 24 * 60;  // 120 days
  int compared = 0, beyond = 0;
  for (int round = 0; round < 400; ++round) {
    std::string expression = random_field(random, 0, 59) + " " + random_field(random, 0, 23) + " " +
                             random_field(random, 1, 31) + " " + random_field(random, 1, 12) + " " +
                             random_field(random, 0, 7);
    INFO(expression);
    auto schedule = Schedule::parse(expression);
    if (!schedule) {
      // The only refusal a generated expression can meet: days no chosen month has.
      CHECK(schedule_problem(expression).find("never fires") != std::string::npos);
      continue;
    }
    std::int64_t after = std::uniform_int_distribution<std::int64_t>(from, to)(random);
    // Instants on and around a minute's start too.
    if (round % 3 == 0) after -= after % 60'000;
    if (round % 3 == 1) after -= after % 60'000 + 1;
    INFO("after " << synctool::util::format_iso8601(after));
    auto expected = Oracle(expression).scan(after, kScanMinutes);
    auto actual = schedule->next_after(after);
    REQUIRE(actual);
    if (expected) {
      CHECK(synctool::util::format_iso8601(*actual) == synctool::util::format_iso8601(*expected));
      ++compared;
    } else {
      CHECK(*actual > after + kScanMinutes * 60'000);  // the scan window held no match
      ++beyond;
    }
  }
  CHECK(compared > 200);
  INFO(beyond);
}
