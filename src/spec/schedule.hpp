// The shape of a sync's `schedule`: a 5-field cron expression or an interval such as "15m".
#pragma once

#include <string>
#include <string_view>

namespace synctool::spec {

// "" when `schedule` is a valid interval or 5-field cron expression (numbers, '*', ',', '-'
// and '/' steps); otherwise why it is not, for a message.
std::string schedule_problem(std::string_view schedule);

}  // namespace synctool::spec
