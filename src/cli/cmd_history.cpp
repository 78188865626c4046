// `synctool history SYNC KEY`: every write synctool made to one record in the kept history
// (history_days), newest first, with the fields before -> after and, for two-way merges, the
// rule that decided and what it weighed. `synctool revert SYNC RUN` undoes one run's writes
// (engine/revert.hpp); --dry-run only prints the plan.
#include "cli/commands.hpp"
#include "cli/sync_session.hpp"
#include "engine/revert.hpp"
#include "report/text.hpp"
#include "state/lock.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace synctool::cli {

namespace {

std::string shown(const nlohmann::json& value) { return value.is_null() ? "(empty)" : util::json_dump(value); }

std::string render_write(const nlohmann::json& w) {
  std::string id = w.value("id", "");
  std::string out = fmt::format("    {} {}{}\n", w.value("side", ""), w.value("op", ""), id.empty() ? "" : " (id " + id + ")");
  const std::string op = w.value("op", "");
  if (op == "create") {
    const auto after = w.value("after", nlohmann::json());
    for (const auto& item : after.items()) out += fmt::format("        {}: {}\n", item.key(), shown(item.value()));
  } else if (op == "update") {
    const auto changes = w.value("changes", nlohmann::json::array());
    for (const auto& c : changes) {
      out += fmt::format("        {}: {} -> {}", c.value("field", ""), shown(c.value("before", nlohmann::json())),
                         shown(c.value("after", nlohmann::json())));
      if (c.contains("rule"))
        out += fmt::format("   [{}; base {}, source {}, destination {}]", c.value("rule", ""),
                           shown(c.value("base", nlohmann::json())), shown(c.value("source", nlohmann::json())),
                           shown(c.value("destination", nlohmann::json())));
      out += "\n";
    }
  } else {
    const auto before = w.value("before", nlohmann::json());
    if (before.is_object())
      for (const auto& item : before.items()) out += fmt::format("        {}: {} (before)\n", item.key(), shown(item.value()));
  }
  return out;
}

}  // namespace

int cmd_history(Context& ctx, const std::string& name, const std::string& key, std::size_t limit) {
  LoadedSync loaded;
  try {
    loaded = ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  const auto& spec = *loaded.spec;
  // The key as the state keeps it: normalized the way [match] says.
  const std::string normalized = loaded.compiled->mapper().normalize_key(key);
  auto entries = nlohmann::json::array();
  if (auto store = ctx.open_state_read_only(name)) {
    // A one-way create's entry leaves its values out (engine/history.hpp): they are rebuilt
    // here from the record's values now, undoing each later write, newest first.
    auto base = store->get_base(normalized);
    nlohmann::json values = base ? base->values : nlohmann::json::object();
    auto unwind = [&values](nlohmann::json& writes) {
      for (auto& w : writes) {
        const std::string op = w.value("op", "");
        if (op == "update") {
          for (const auto& c : w.value("changes", nlohmann::json::array()))
            util::json_set_path(values, c.value("field", ""), c.value("before", nlohmann::json()));
        } else if (op == "create") {
          if (!w.contains("after") && w.value("side", "") == "destination") w["after"] = values;
        } else if (w.value("before", nlohmann::json()).is_object()) {
          values = w["before"];
        }
      }
    };
    for (const auto& run : store->runs(0)) {
      const auto sequence = run.value("run", std::uint64_t{0});
      if (sequence == 0) continue;
      auto entry = store->get_history(sequence, normalized);
      if (!entry && normalized != key) entry = store->get_history(sequence, key);
      if (!entry) continue;
      unwind(entry->writes);
      entries.push_back({{"run", sequence},
                         {"run_kind", run.value("kind", "")},
                         {"run_started_at", run.value("started_at", "")},
                         {"at", util::format_iso8601(entry->at_ms)},
                         {"writes", entry->writes}});
      if (limit != 0 && entries.size() >= limit) break;
    }
  }
  if (ctx.out().json()) {
    ctx.out().print_json({{"sync", name}, {"key", normalized}, {"history_days", spec.history_days}, {"entries", entries}});
    return engine::exit_code::ok;
  }
  if (entries.empty()) {
    ctx.out().print(fmt::format("{}  {}: no writes in the kept history (history_days = {})\n", name, normalized,
                                spec.history_days));
    return engine::exit_code::ok;
  }
  std::string out = fmt::format("{}  {}: {} run(s) wrote it, newest first\n", name, normalized, entries.size());
  for (const auto& e : entries) {
    out += fmt::format("  run {}  {}  ({} run started {})\n", e["run"].get<std::uint64_t>(), e["at"].get<std::string>(),
                       e["run_kind"].get<std::string>(), e["run_started_at"].get<std::string>());
    for (const auto& w : e["writes"]) out += render_write(w);
  }
  ctx.out().print(out);
  return engine::exit_code::ok;
}

namespace {

nlohmann::json step_json(const engine::RevertStep& step) {
  nlohmann::json j = {{"key", step.key},
                      {"side", engine::to_string(step.side)},
                      {"undoes", step.undoes},
                      {"op", connectors::to_string(step.op)}};
  if (!step.id.empty()) j["id"] = step.id;
  if (step.op == connectors::OpKind::update) {
    auto changes = nlohmann::json::array();
    for (const auto& c : step.changes) changes.push_back({{"field", c.field}, {"now", c.old_value}, {"restored", c.new_value}});
    j["changes"] = changes;
  } else if (step.op != connectors::OpKind::remove && step.op != connectors::OpKind::archive) {
    j["values"] = step.fields;
  }
  return j;
}

std::string render_step(const engine::RevertStep& step) {
  const char* side = engine::to_string(step.side);
  switch (step.op) {
    case connectors::OpKind::update: {
      std::string out = fmt::format("~ {} update  {}  (id {}; undoes an update)\n", side, step.key, step.id);
      for (const auto& c : step.changes)
        out += fmt::format("      {}: {} -> {}\n", c.field, shown(c.old_value), shown(c.new_value));
      return out;
    }
    case connectors::OpKind::remove:
    case connectors::OpKind::archive:
      return fmt::format("- {} {}  {}  (id {}; undoes a create)\n", side,
                         step.op == connectors::OpKind::remove ? "delete" : "archive", step.key, step.id);
    default: {
      std::string out = fmt::format("+ {} create  {}  (undoes a {})\n", side, step.key, step.undoes);
      for (const auto& item : step.fields.items()) out += fmt::format("      {}: {}\n", item.key(), shown(item.value()));
      return out;
    }
  }
}

}  // namespace

int cmd_revert(Context& ctx, const std::string& name, std::uint64_t run, bool dry_run) {
  auto& out = ctx.out();
  LoadedSync loaded;
  try {
    loaded = ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(out, e);
  }
  const auto dir = ctx.state_dir(name);
  std::error_code ec;
  if (!std::filesystem::exists(dir / "data.mdb", ec))
    return usage_error(out, "'" + name + "' has never run: there is nothing to revert");
  auto store = dry_run ? ctx.open_state_read_only(name) : ctx.open_state(name);
  std::optional<state::SyncLock> lock;
  if (!dry_run) {
    lock = state::SyncLock::try_acquire(dir);
    if (!lock)
      return command_error(out, engine::exit_code::locked,
                           "a run of '" + name + "' holds the lock " + (dir / "lock").string() + "; nothing was reverted");
  }
  StateTokenCache source_tokens(*store, loaded.spec->source.connection, !dry_run);
  StateTokenCache destination_tokens(*store, loaded.spec->destination.connection, !dry_run);
  try {
    auto source = ctx.open_connector(loaded.spec->source.connection, &source_tokens);
    auto destination = ctx.open_connector(loaded.spec->destination.connection, &destination_tokens);
    engine::RevertInputs inputs{*loaded.compiled, *source, *destination, *store, util::system_clock()};
    auto plan = engine::plan_revert(inputs, run);
    std::string text;
    auto steps = nlohmann::json::array();
    for (const auto& step : plan.steps) {
      steps.push_back(step_json(step));
      if (!out.json()) text += render_step(step);
    }
    auto refused = nlohmann::json::array();
    for (const auto& r : plan.refused) {
      refused.push_back({{"key", r.key}, {"side", engine::to_string(r.side)}, {"reason", r.reason}});
      if (!out.json()) text += fmt::format("! refused {}  {}: {}\n", engine::to_string(r.side), r.key, r.reason);
    }
    text += fmt::format("revert run {} ({}): {} write(s) to undo, {} refused, {} already undone\n", run,
                        plan.run_started_at, plan.steps.size(), plan.refused.size(), plan.already_undone);
    if (dry_run) {
      if (out.json())
        out.print_json({{"sync", name}, {"run", run}, {"dry_run", true}, {"steps", steps}, {"refused", refused},
                        {"already_undone", plan.already_undone}});
      else
        out.print(text);
      return plan.refused.empty() ? engine::exit_code::ok : engine::exit_code::rows_failed;
    }
    auto report = engine::apply_revert(inputs, plan);
    if (out.json()) {
      out.print_json({{"sync", name}, {"run", run}, {"dry_run", false}, {"steps", steps}, {"refused", refused},
                      {"already_undone", plan.already_undone}, {"report", report.to_json()}});
    } else {
      out.print(text);
      out.print(report::render_run_report(report));
    }
    if (!report.error.empty()) out.error(name + ": " + report.error);
    return report.exit_code;
  } catch (const engine::RevertError& e) {
    return usage_error(out, e.what());
  } catch (const connectors::ConnectorError& e) {
    return command_error(out, engine::exit_code::connection, e.what());
  }
}

}  // namespace synctool::cli
