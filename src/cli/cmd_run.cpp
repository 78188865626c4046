#include "cli/commands.hpp"
#include "cli/sync_session.hpp"
#include "report/text.hpp"

#include <algorithm>

namespace synctool::cli {

int cmd_run(Context& ctx, const SyncSelection& selection, const RunFlags& flags) {
  std::vector<std::string> names = selection.names;
  try {
    if (selection.all) names = ctx.all_sync_names();
    if (names.empty()) {
      ctx.out().error("name a sync to run, or pass --all");
      return engine::exit_code::usage;
    }
    // Validate every named sync before running any, so a typo does nothing at all.
    for (const auto& name : names) ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }

  engine::RunOptions options;
  options.full = flags.full;
  options.resync = flags.resync;
  options.force = flags.force;
  int worst = engine::exit_code::ok;
  auto reports = nlohmann::json::array();
  for (const auto& name : names) {
    engine::RunReport report;
    try {
      report = run_one_sync(ctx, name, options, nullptr);
    } catch (const spec::SpecError& e) {
      return report_spec_error(ctx.out(), e);
    }
    worst = std::max(worst, report.exit_code);
    if (ctx.out().json()) {
      reports.push_back(report.to_json());
    } else {
      ctx.out().print(report::render_run_report(report));
    }
    if (!report.error.empty()) ctx.out().error(name + ": " + report.error);
  }
  if (ctx.out().json()) {
    if (reports.size() == 1)
      ctx.out().print_json(reports[0]);
    else
      ctx.out().print_json({{"runs", reports}, {"exit_code", worst}});
  }
  return worst;
}

}  // namespace synctool::cli
