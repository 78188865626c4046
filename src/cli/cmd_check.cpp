#include "cli/commands.hpp"
#include "engine/field_check.hpp"
#include "engine/report.hpp"

#include <map>

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

// Where a connection's key is written (its table when the key is not known).
spec::Location connection_location(const spec::ProjectSpec& project, const std::string& connection,
                                   const std::string& key) {
  auto it = project.connections.find(connection);
  if (it == project.connections.end()) return {project.file.string(), 0, 0};
  auto at = it->second.key_where.find(key);
  return at != it->second.key_where.end() ? at->second : it->second.where;
}

spec::Location endpoint_location(const spec::EndpointSpec& endpoint, const std::string& key) {
  auto at = endpoint.key_where.find(key);
  return at != endpoint.key_where.end() ? at->second : endpoint.where;
}

// The connectors of one `check`, made once per connection. Making one validates the
// connection's keys without any I/O; `--connect` then talks to the systems.
class Connectors {
 public:
  Connectors(Context& ctx, bool connect) : ctx_(ctx), connect_(connect) {}

  // The connector, or null when its settings are wrong (the problem is added once) or the
  // connection has problems the loader reported already (an unset variable...).
  connectors::Connector* get(const std::string& connection, std::vector<spec::SpecProblem>& problems) {
    auto it = made_.find(connection);
    if (it != made_.end()) return it->second.get();
    std::unique_ptr<connectors::Connector> connector;
    const auto& project = ctx_.project();
    auto defined = project.connections.find(connection);
    if (defined != project.connections.end() && defined->second.problems.empty()) {
      try {
        connector = ctx_.open_connector(connection);
      } catch (const connectors::ConnectorError& e) {
        auto where = connection_location(project, connection, e.setting());
        if (!connect_ && credential_not_set(defined->second, e.setting())) {
          // Checking a project where its secrets are not set (a CI job validating the specs):
          // worth saying, not an error; `check --connect` and every run need them.
          ctx_.out().note("synctool: note: " + display_path(where.file) + ":" + std::to_string(where.line) + ": " + e.what() +
                          " (not set here: only `check --connect` and runs need it)\n");
        } else {
          problems.push_back({where, "[connections." + connection + "] " + e.what()});
        }
      }
    }
    return made_.emplace(connection, std::move(connector)).first->second.get();
  }

 private:
  // A credential the connector needs whose value is empty or absent in this environment.
  static bool credential_not_set(const spec::ConnectionSpec& connection, const std::string& key) {
    if (key.empty() || !spec::is_secret_key(key)) return false;
    auto value = connection.settings.find(key);
    return value == connection.settings.end() || value->is_null() ||
           (value->is_string() && value->get<std::string>().empty());
  }

  Context& ctx_;
  bool connect_;
  std::map<std::string, std::unique_ptr<connectors::Connector>> made_;
};

struct Side {
  const char* name;  // "source" / "destination"
  const spec::EndpointSpec& endpoint;
  const connectors::ObjectRef& object;
};

std::string object_label(const connectors::Connector& connector, const std::string& connection,
                         const connectors::ObjectRef& object) {
  return connector.type() + " connection '" + connection + "', object '" + object.name + "'";
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

  // The connectors' own keys: each connection's settings and each endpoint's options, checked
  // by the connector that will read them, each problem at the key's line.
  Connectors made(ctx, connect);
  for (const auto& sync : loaded) {
    for (const Side side : {Side{"source", sync.spec->source, sync.compiled->source_object()},
                            Side{"destination", sync.spec->destination, sync.compiled->destination_object()}}) {
      auto* connector = made.get(side.endpoint.connection, problems);
      if (!connector) continue;
      try {
        connector->check_options(side.object);
      } catch (const connectors::ConnectorError& e) {
        problems.push_back({endpoint_location(side.endpoint, e.setting()), "[" + std::string(side.name) + "] " + e.what()});
      }
    }
  }
  if (!problems.empty()) return report_spec_error(ctx.out(), spec::SpecError(problems));

  nlohmann::json connections = nlohmann::json::array();
  int code = engine::exit_code::ok;
  if (connect) {
    // Each object a checked sync uses: reachable with these credentials, and holding every
    // field the sync names (what `run` checks first).
    for (const auto& sync : loaded) {
      std::vector<std::optional<connectors::ObjectDescription>> described;
      std::vector<std::string> labels;
      for (const Side side : {Side{"source", sync.spec->source, sync.compiled->source_object()},
                              Side{"destination", sync.spec->destination, sync.compiled->destination_object()}}) {
        std::string label = sync.spec->name + " " + side.name;
        const std::string& connection = side.endpoint.connection;
        auto* connector = made.get(connection, problems);
        described.emplace_back();
        labels.emplace_back();
        if (!connector) continue;
        try {
          connector->check();
          connector->probe(side.object);
          described.back() = connector->describe(side.object);
          labels.back() = object_label(*connector, connection, side.object);
          connections.push_back({{"sync", sync.spec->name}, {"side", side.name}, {"connection", connection}, {"ok", true}});
          if (!ctx.out().json()) ctx.out().print("ok: " + label + " (" + connection + ", " + side.object.name + ")\n");
        } catch (const connectors::ConnectorError& e) {
          code = engine::exit_code::connection;
          connections.push_back({{"sync", sync.spec->name},
                                 {"side", side.name},
                                 {"connection", connection},
                                 {"ok", false},
                                 {"error", e.what()}});
          ctx.out().error(label + " (" + connection + "): " + e.what());
        }
      }
      if (described[0] && described[1]) {
        auto missing = engine::field_problems(*sync.compiled, *described[0], *described[1], labels[0], labels[1]);
        problems.insert(problems.end(), missing.begin(), missing.end());
      }
    }
  }
  if (!problems.empty()) {
    // Fields the systems lack: the spec must change (exit 2, with every problem's line).
    code = engine::exit_code::most_severe(code, engine::exit_code::usage);
    if (ctx.out().json()) {
      auto list = nlohmann::json::array();
      for (const auto& p : problems)
        list.push_back({{"file", display_path(p.where.file)}, {"line", p.where.line}, {"column", p.where.column}, {"message", p.message}});
      ctx.out().print_json({{"ok", false}, {"syncs", checked}, {"connections", connections}, {"problems", list},
                            {"exit_code", code}});
    }
    for (auto p : problems) {
      p.where.file = display_path(p.where.file);
      ctx.out().error(p.to_string());
    }
    return code;
  }
  if (ctx.out().json()) {
    ctx.out().print_json({{"ok", code == 0}, {"syncs", checked}, {"connections", connections}, {"exit_code", code}});
  } else if (code == 0) {
    ctx.out().print("ok: " + std::to_string(checked.size()) + " sync(s) checked, no problems\n");
  }
  return code;
}

}  // namespace synctool::cli
