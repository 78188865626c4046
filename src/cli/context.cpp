#include "cli/context.hpp"

#include "cli/connector_catalog.hpp"
#include "connectors/registry.hpp"
#include "engine/report.hpp"
#include "state/lmdb_store.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"

#include <iostream>

namespace synctool::cli {

void Output::add_secrets(const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) redactor_.add(s);
}

void Output::print(const std::string& text) const { std::cout << redactor_.apply(text) << std::flush; }

void Output::print_json(const nlohmann::json& value) const {
  std::cout << redactor_.apply(util::json_dump(value, 2)) << "\n"
            << std::flush;
}

void Output::note(const std::string& text) const { std::cerr << redactor_.apply(text) << std::flush; }

void Output::error(const std::string& what) const {
  std::cerr << "synctool: error: " << redactor_.apply(what) << "\n" << std::flush;
}

const spec::ProjectSpec& Context::project() {
  if (!project_) {
    auto file = spec::find_project_file(options_.config);
    project_ = std::make_unique<spec::ProjectSpec>(spec::load_project(file, connector_catalog(), connector_type_names()));
    out_.add_secrets(project_->secrets);
  }
  return *project_;
}

LoadedSync Context::load_sync(const std::string& name) {
  const auto& p = project();
  LoadedSync loaded;
  loaded.spec = std::make_unique<spec::SyncSpec>(spec::load_sync(spec::sync_file(p, name), p, connector_catalog()));
  loaded.compiled = std::make_unique<engine::CompiledSync>(*loaded.spec);
  return loaded;
}

std::vector<std::string> Context::all_sync_names() {
  std::vector<std::string> names;
  for (const auto& file : spec::all_sync_files(project())) names.push_back(file.stem().string());
  return names;
}

std::filesystem::path Context::state_dir(const std::string& sync_name) { return project().state_dir / sync_name; }

std::unique_ptr<state::StateStore> Context::open_state_read_only(const std::string& sync_name) {
  return state::open_lmdb_store(state_dir(sync_name), true);
}

std::unique_ptr<state::StateStore> Context::open_state(const std::string& sync_name) {
  return state::open_lmdb_store(state_dir(sync_name), false);
}

std::unique_ptr<connectors::Connector> Context::open_connector(const std::string& connection_name,
                                                               net::TokenCache* token_cache,
                                                               connectors::push::PushSpool* push_spool) {
  auto config = connection_config(connection_name);
  config.token_cache = token_cache;
  config.push_spool = push_spool;
  return connectors::make_connector(config);
}

connectors::ConnectionConfig Context::connection_config(const std::string& connection_name) {
  const auto& p = project();
  auto it = p.connections.find(connection_name);
  if (it == p.connections.end())
    throw connectors::ConnectorError(connectors::ErrorKind::config,
                                     "connection '" + connection_name + "' is not defined in " + p.file.string());
  connectors::ConnectionConfig config;
  config.name = it->second.name;
  config.type = it->second.type;
  config.settings = it->second.settings;
  config.base_dir = p.base_dir.string();
  config.clock = &util::system_clock();
  config.redactor = out_.shared_redactor();
  config.rate_dir = (p.state_dir / ".rate").string();
  Output* warn_out = &out_;
  config.warn = [warn_out](const std::string& line) { warn_out->note("synctool: warning: " + line + "\n"); };
  if (out_.verbose()) {
    Output* out = &out_;
    // Connectors start their lines with the connection's name themselves.
    config.log = [out](const std::string& line) { out->note(line + "\n"); };
  }
  return config;
}

std::string display_path(const std::string& file) {
  if (file.empty()) return file;
  std::error_code ec;
  auto relative = std::filesystem::path(file).lexically_proximate(std::filesystem::current_path(ec));
  if (ec || relative.empty() || relative.string().starts_with("..")) return file;
  return relative.string();
}

int report_spec_error(Output& out, const spec::SpecError& original) {
  std::vector<spec::SpecProblem> shown = original.problems();
  for (auto& p : shown) p.where.file = display_path(p.where.file);
  const spec::SpecError error(std::move(shown));
  if (out.json()) {
    auto problems = nlohmann::json::array();
    for (const auto& p : error.problems())
      problems.push_back({{"file", p.where.file}, {"line", p.where.line}, {"column", p.where.column},
                          {"message", p.message}});
    out.print_json({{"ok", false}, {"problems", problems}, {"exit_code", engine::exit_code::usage}});
  }
  for (const auto& p : error.problems()) out.error(p.to_string());
  return engine::exit_code::usage;
}

}  // namespace synctool::cli
