// One function per command; app.cpp wires them to the command line.
#pragma once

#include "cli/context.hpp"

#include <string>
#include <vector>

namespace synctool::cli {

struct SyncSelection {
  std::vector<std::string> names;
  bool all = false;
};

struct RunFlags {
  bool full = false;
  bool resync = false;
  bool force = false;
};

int cmd_check(Context& ctx, const std::vector<std::string>& names, bool connect);
int cmd_diff(Context& ctx, const std::string& name, const RunFlags& flags);
int cmd_run(Context& ctx, const SyncSelection& selection, const RunFlags& flags);
int cmd_status(Context& ctx);
int cmd_runs(Context& ctx, const std::string& name, std::size_t limit);
int cmd_state_show(Context& ctx, const std::string& name);
int cmd_state_reset(Context& ctx, const std::string& name);
int cmd_schema(Context& ctx, const std::string& name, bool apply);

}  // namespace synctool::cli
