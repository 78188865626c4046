// Loading and validating specs. Every problem becomes a SpecProblem naming file:line:col;
// `synctool check` reports all of them at once.
#pragma once

#include "spec/spec.hpp"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace synctool::spec {

class SpecError : public std::runtime_error {
 public:
  explicit SpecError(std::vector<SpecProblem> problems);
  const std::vector<SpecProblem>& problems() const { return problems_; }

 private:
  std::vector<SpecProblem> problems_;
};

// The keys a connection type accepts, so validation can name unknown keys without the spec
// module knowing any connector. Filled by the caller from the connector registry.
struct ConnectorKeys {
  std::vector<std::string> connection_keys;
  std::vector<std::string> required_connection_keys;
  std::vector<std::string> source_keys;
  std::vector<std::string> destination_keys;
  // Schema management: the mode this type offers ("" for none), the declared types it can
  // hold, and a check of a field name ("" when fine).
  std::string schema_mode{};
  std::vector<std::string> schema_types{};
  std::function<std::string(const std::string& name)> schema_name_problem{};
  // synctool can only read connections of this type (a push source): never a destination, nor
  // a side of a bidirectional sync.
  bool source_only = false;
};
// nullptr means an unknown type.
using ConnectorCatalog = std::function<const ConnectorKeys*(const std::string& type)>;

// Connection keys that may carry credentials (names holding token, key, secret or password;
// url; dsn): their ${ENV} values are redacted from output.
bool is_secret_key(std::string_view key);

// Reads a value of the environment; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// Finds synctool.toml: `explicit_path` if given (a folder means its synctool.toml), else
// ./synctool.toml. Throws SpecError when there is none.
std::filesystem::path find_project_file(const std::string& explicit_path);

// Throws SpecError with every problem found outside the [connections.NAME] tables (a TOML
// syntax error, state_dir, syncs_dir, an unknown top-level key). A problem inside one
// connection's table (an unset ${VARIABLE}, an unknown type or key, a bad value) is kept in
// that ConnectionSpec's `problems` instead: it fails only the syncs that use the connection.
ProjectSpec load_project(const std::filesystem::path& file, const ConnectorCatalog& catalog,
                         const EnvLookup& env = process_environment());
// The same; `known_types` (every type the catalog knows, e.g. from the connector registry)
// lets an unknown `type` get a "did you mean" hint or the list of valid types.
ProjectSpec load_project(const std::filesystem::path& file, const ConnectorCatalog& catalog,
                         const std::vector<std::string>& known_types, const EnvLookup& env = process_environment());

// The problems of every connection of the project, in file order (`synctool check`).
std::vector<SpecProblem> connection_problems(const ProjectSpec& project);

// Loads one sync; validates it against the project (connections, their types' keys). A
// connection with problems that the sync uses is a problem of the sync, at its `connection`
// line, quoting the connection's own problem with its file and line.
SyncSpec load_sync(const std::filesystem::path& file, const ProjectSpec& project, const ConnectorCatalog& catalog,
                   const EnvLookup& env = process_environment());

// The sync file for a name: <syncs_dir>/<name>.toml. Throws SpecError if it does not exist.
std::filesystem::path sync_file(const ProjectSpec& project, const std::string& name);
// Every syncs/*.toml, sorted by name.
std::vector<std::filesystem::path> all_sync_files(const ProjectSpec& project);

}  // namespace synctool::spec
