// What every command shares: global flags, output with secret redaction, loading the project
// and its syncs, opening state and connectors.
#pragma once

#include "connectors/connector.hpp"
#include "connectors/registry.hpp"
#include "engine/compiled_sync.hpp"
#include "net/oauth.hpp"
#include "net/redact.hpp"
#include "spec/loader.hpp"
#include "state/store.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace synctool::cli {

struct GlobalOptions {
  std::string config;  // --config: path of synctool.toml
  bool json = false;   // --json: machine-readable output on stdout
  bool verbose = false;
  // --quiet: no progress line, and `run` prints no report for a sync that ended in sync (exit 0):
  // cron mails whatever a job prints.
  bool quiet = false;
  // --metrics-file: `run` of one sync writes its Prometheus metrics here (beside metrics_dir).
  std::string metrics_file;
};

// All output goes through here so that no secret can slip into it.
class Output {
 public:
  explicit Output(const GlobalOptions& options) : options_(options) {}
  void add_secrets(const std::vector<std::string>& secrets);
  const net::Redactor& redactor() const { return redactor_; }
  // For connectors that learn secrets at run time (refreshed OAuth tokens).
  net::Redactor* shared_redactor() { return &redactor_; }
  bool json() const { return options_.json; }
  bool verbose() const { return options_.verbose; }
  bool quiet() const { return options_.quiet; }
  void print(const std::string& text) const;         // stdout
  void print_json(const nlohmann::json& value) const;  // stdout, one document
  void note(const std::string& text) const;           // stderr
  void error(const std::string& what) const;          // stderr: "synctool: error: <what>"

 private:
  const GlobalOptions& options_;
  net::Redactor redactor_;
};

// A loaded sync: the spec and what the engine compiles from it.
struct LoadedSync {
  std::unique_ptr<spec::SyncSpec> spec;
  std::unique_ptr<engine::CompiledSync> compiled;
};

class Context {
 public:
  Context(const GlobalOptions& options, Output& out) : options_(options), out_(out) {}

  // Loads synctool.toml once; throws spec::SpecError.
  const spec::ProjectSpec& project();
  // Loads and compiles one sync by name; throws spec::SpecError.
  LoadedSync load_sync(const std::string& name);
  std::vector<std::string> all_sync_names();

  std::filesystem::path state_dir(const std::string& sync_name);
  // The sync's state for reading, or nullptr if it has never run.
  std::unique_ptr<state::StateStore> open_state_read_only(const std::string& sync_name);
  std::unique_ptr<state::StateStore> open_state(const std::string& sync_name);
  // What a connector of this connection is made from; throws ConnectorError(config) for a
  // connection that synctool.toml does not define.
  connectors::ConnectionConfig connection_config(const std::string& connection_name);
  // `token_cache` (may be null) keeps refreshed OAuth tokens between runs; `push_spool` (push
  // connections; may be null) is the sync's spool the connector reads.
  std::unique_ptr<connectors::Connector> open_connector(const std::string& connection_name,
                                                        net::TokenCache* token_cache = nullptr,
                                                        connectors::push::PushSpool* push_spool = nullptr);

  Output& out() { return out_; }
  const GlobalOptions& options() const { return options_; }

 private:
  const GlobalOptions& options_;
  Output& out_;
  std::unique_ptr<spec::ProjectSpec> project_;
};

// A spec file as the user would type it: relative to the working directory when inside it.
std::string display_path(const std::string& file);

// Exit code 2 and every problem printed: the common end of a command that met a spec error.
int report_spec_error(Output& out, const spec::SpecError& error);

}  // namespace synctool::cli
