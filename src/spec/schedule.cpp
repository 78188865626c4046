#include "spec/schedule.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

#include <charconv>
#include <sstream>
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

}  // namespace

std::string schedule_problem(std::string_view schedule) {
  std::string text = util::trim(schedule);
  if (text.empty()) return "it is empty";
  if (auto interval = util::parse_duration(text)) {
    if (*interval <= 0) return "an interval must be longer than zero";
    return "";
  }
  std::istringstream words(text);
  std::vector<std::string> fields;
  for (std::string word; words >> word;) fields.push_back(word);
  if (fields.size() == 1)
    return "it is neither an interval such as \"15m\" or \"1h30m\" nor a 5-field cron expression";
  if (fields.size() != 5)
    return "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has " +
           std::to_string(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    for (const auto& item : util::split(fields[i], ',')) {
      std::string problem = item_problem(item, kCronFields[i]);
      if (!problem.empty()) return std::string(kCronFields[i].name) + " field: " + problem;
    }
  }
  return "";
}

}  // namespace synctool::spec
