// `synctool schema SYNC [--apply]`: compare the sync's declared [schema] with the destination's
// fields and print one WILL CREATE / WILL ALTER line per difference; --apply makes them.
#include "cli/commands.hpp"
#include "engine/report.hpp"

namespace synctool::cli {

int cmd_schema(Context& ctx, const std::string& name, bool apply) {
  auto loaded = ctx.load_sync(name);
  const auto& sync = *loaded.spec;
  auto& out = ctx.out();
  if (sync.manage_schema.empty()) {
    return usage_error(out, sync.file.filename().string() + ": sync '" + name +
                                "' does not manage its destination's schema; add manage_schema (e.g. "
                                "manage_schema = \"properties\") and a [schema] table");
  }
  const auto& object = loaded.compiled->destination_object();
  std::vector<connectors::SchemaChange> changes;
  try {
    auto destination = ctx.open_connector(sync.destination.connection);
    changes = destination->schema_plan(object, object.schema);
    if (apply && !changes.empty()) destination->schema_apply(object, changes);
  } catch (const connectors::ConnectorError& e) {
    return command_error(out, engine::exit_code::connection,
                         name + ": destination '" + sync.destination.connection + "': " + e.what());
  }

  if (out.json()) {
    auto list = nlohmann::json::array();
    for (const auto& c : changes)
      list.push_back({{"action", c.kind == connectors::SchemaChange::Kind::create ? "create" : "alter"},
                      {"field", c.field},
                      {"summary", c.summary},
                      {"definition", c.definition}});
    out.print_json({{"sync", name}, {"object", object.name}, {"applied", apply}, {"changes", list}, {"exit_code", 0}});
    return engine::exit_code::ok;
  }
  for (const auto& c : changes) {
    std::string verb = c.kind == connectors::SchemaChange::Kind::create ? "CREATE" : "ALTER";
    out.print((apply ? "" : "WILL ") + verb + " " + object.name + "." + c.field + ": " + c.summary + "\n");
  }
  if (changes.empty())
    out.print("schema of " + object.name + " already matches the " + std::to_string(sync.schema.size()) +
              " declared field(s)\n");
  else if (!apply)
    out.print(std::to_string(changes.size()) + " change(s); run `synctool schema " + name + " --apply` to make them\n");
  else
    out.print(std::to_string(changes.size()) + " change(s) applied\n");
  return engine::exit_code::ok;
}

}  // namespace synctool::cli
