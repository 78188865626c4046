// What `synctool run` does after each sync's run besides printing the report: writes the
// sync's Prometheus metrics (metrics_dir, --metrics-file) and posts a change of its health
// to the [notify] webhook.
#pragma once

#include "cli/context.hpp"
#include "engine/report.hpp"

namespace synctool::cli {

// Never throws and never changes the run's exit code: a metrics file that cannot be written
// or a webhook that fails is a warning on stderr. A run that found the sync locked (exit 5)
// writes and posts nothing: the run holding the lock will.
void after_run(Context& ctx, const engine::RunReport& report);

// `pause` / `resume`: sets synctool_sync_paused in the sync's metrics file (metrics_dir), if it
// has one, so that an alert on an ageing last success can leave a paused sync out at once
// rather than after its next run, which a pause prevents. The rest of the file stays the last
// run's. Never throws: a file that cannot be rewritten is a warning.
void refresh_paused_metric(Context& ctx, const std::string& sync, bool paused);

}  // namespace synctool::cli
