// Rendering for people: aligned tables and the run report.
#pragma once

#include "engine/plan.hpp"
#include "engine/report.hpp"

#include <string>
#include <vector>

namespace synctool::report {

// Columns padded to the widest cell; numeric-looking cells right-aligned.
std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

std::string render_run_report(const engine::RunReport& report);
// One planned action as `diff` prints it (several lines for an update).
std::string render_action(const engine::Action& action);
std::string render_diff_totals(const engine::RunReport& report);
std::string describe_exit_code(int code);
// A JSON value as a short human string: strings quoted, null as (empty).
std::string render_value(const nlohmann::json& value);

}  // namespace synctool::report
