// Rendering for people: aligned tables and the run report.
#pragma once

#include "engine/plan.hpp"
#include "engine/report.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace synctool::report {

// Columns padded to the widest cell by display width (UTF-8 aware, wide characters count
// two); a column whose cells are numbers (or "-" for none) is right-aligned. Control characters in a cell (a message's line
// breaks) become spaces, so that every row stays on one line.
std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
// `text` with control characters replaced by spaces.
std::string table_cell(std::string_view text);
// Columns `text` takes on a terminal.
std::size_t display_width(std::string_view text);

// The report of one run. Its error, if any, is not part of it: the command prints that once,
// on stderr.
std::string render_run_report(const engine::RunReport& report);
// A bidirectional baseline's "possible duplicate" lines ("" when there are none).
std::string render_possible_duplicates(const engine::RunReport& report);
// One planned action as `diff` prints it (several lines for an update).
std::string render_action(const engine::Action& action);
std::string render_diff_totals(const engine::RunReport& report);
std::string describe_exit_code(int code);
// A JSON value as a short human string: strings quoted, null as (empty).
std::string render_value(const nlohmann::json& value);
// A row in messages: its match key, or "source record 'ID' (no match key)".
std::string describe_row(const std::string& key, const std::string& source_id);

}  // namespace synctool::report
