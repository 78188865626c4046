#include "cli/commands.hpp"
#include "engine/report.hpp"

namespace synctool::cli {

namespace {

// Collects problems of every sync instead of stopping at the first.
void collect(std::vector<spec::SpecProblem>& problems, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const spec::SpecError& e) {
    problems.insert(problems.end(), e.problems().begin(), e.problems().end());
  }
}

}  // namespace

int cmd_check(Context& ctx, const std::vector<std::string>& names, bool connect) {
  std::vector<spec::SpecProblem> problems;
  std::vector<std::string> checked;
  try {
    ctx.project();
  } catch (const spec::SpecError& e) {
    // Without a valid project file the syncs cannot be checked against its connections.
    return report_spec_error(ctx.out(), e);
  }
  // The whole project (no names): every connection's problems too, used by a sync or not. The
  // syncs named report those of the connections they use (load_sync).
  if (names.empty()) problems = spec::connection_problems(ctx.project());
  std::vector<std::string> targets = names;
  collect(problems, [&] {
    if (targets.empty()) targets = ctx.all_sync_names();
  });
  std::vector<LoadedSync> loaded;
  for (const auto& name : targets) {
    collect(problems, [&] {
      loaded.push_back(ctx.load_sync(name));
      checked.push_back(name);
    });
  }
  if (!problems.empty()) return report_spec_error(ctx.out(), spec::SpecError(problems));

  nlohmann::json connections = nlohmann::json::array();
  int code = engine::exit_code::ok;
  if (connect) {
    // Each connection used by a checked sync: reachable, and its objects describable.
    for (const auto& sync : loaded) {
      for (const auto* endpoint : {&sync.spec->source, &sync.spec->destination}) {
        const auto& object = endpoint == &sync.spec->source ? sync.compiled->source_object()
                                                            : sync.compiled->destination_object();
        std::string label = sync.spec->name + " " + (endpoint == &sync.spec->source ? "source" : "destination");
        try {
          auto connector = ctx.open_connector(endpoint->connection);
          connector->check();
          if (endpoint == &sync.spec->source) connector->describe(object);
          connections.push_back({{"sync", sync.spec->name}, {"connection", endpoint->connection}, {"ok", true}});
          if (!ctx.out().json()) ctx.out().print("ok: " + label + " (" + endpoint->connection + ")\n");
        } catch (const connectors::ConnectorError& e) {
          code = engine::exit_code::connection;
          connections.push_back(
              {{"sync", sync.spec->name}, {"connection", endpoint->connection}, {"ok", false}, {"error", e.what()}});
          ctx.out().error(label + " (" + endpoint->connection + "): " + e.what());
        }
      }
    }
  }
  if (ctx.out().json()) {
    ctx.out().print_json({{"ok", code == 0}, {"syncs", checked}, {"connections", connections}, {"exit_code", code}});
  } else if (code == 0) {
    ctx.out().print("ok: " + std::to_string(checked.size()) + " sync(s) checked, no problems\n");
  }
  return code;
}

}  // namespace synctool::cli
