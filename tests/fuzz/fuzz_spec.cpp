// The spec loading path: TOML text -> ProjectSpec / SyncSpec -> CompiledSync, as `synctool
// check` does it (src/spec: toml_reader, toml_guard, loader, spec; the filter and field map
// compiled by src/engine/compiled_sync). Text that mentions a project key ("connections",
// "state_dir", "syncs_dir") is loaded as synctool.toml, any other as a sync of a fixed project
// that has a connection of every type.
//
// Documented: spec::SpecError. Its problems must each name the file, and a TOML syntax error
// must name a line: "a bad spec ends with a clear error naming file and line, not a crash".
// A project that loads keeps its connections' problems in them: those must name the file too,
// and every recorded key location must be a line of the file. The fixed project has a
// connection whose variable is unset ("offline"), for syncs that use a broken connection.
#include "fuzz_support.hpp"

#include "cli/connector_catalog.hpp"
#include "engine/compiled_sync.hpp"
#include "spec/loader.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace synctool;

namespace {

constexpr std::string_view kTarget = "fuzz_spec";

const char* const kProject = R"(state_dir = ".synctool"

[connections.crm_export]
type = "csv"
path = "exports"

[connections.warehouse]
type = "sqlite"
path = "${WAREHOUSE_DB}"

[connections.pg]
type = "postgres"
url = "${PG_URL}"

[connections.hubspot]
type = "hubspot"
token = "${HUBSPOT_TOKEN:-}"

[connections.mailchimp]
type = "mailchimp"
api_key = "${MAILCHIMP_API_KEY}"

[connections.offline]
type = "sqlite"
path = "${OFFLINE_DB}"
)";


std::optional<std::string> environment(const std::string& name) {
  static const std::map<std::string, std::string> env = {{"WAREHOUSE_DB", "/srv/warehouse.db"},
                                                         {"PG_URL", "postgresql://sync@db/warehouse"},
                                                         {"HUBSPOT_TOKEN", "pat-na1-secret"},
                                                         {"MAILCHIMP_API_KEY", "0123abcd-us6"},
                                                         {"EMPTY", ""}};
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

struct Folder {
  fs::path root;
  fs::path project_file;  // the fixed project
  fs::path sync_file;     // <root>/syncs/fuzz.toml: the input as a sync
  fs::path input_project; // <root>/other/synctool.toml: the input as a project

  Folder() {
    std::string tmpl = (fs::temp_directory_path() / "synctool-fuzz-spec-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) fuzz::violated(kTarget, "cannot make a temporary folder");
    root = tmpl;
    project_file = root / "synctool.toml";
    sync_file = root / "syncs" / "fuzz.toml";
    input_project = root / "other" / "synctool.toml";
    fs::create_directories(sync_file.parent_path());
    fs::create_directories(input_project.parent_path());
    std::ofstream(project_file, std::ios::binary) << kProject;
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

Folder& folder() {
  static Folder f;
  return f;
}

void write(const fs::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

void check_problems(const spec::SpecError& error, const fs::path& file) {
  if (error.problems().empty()) fuzz::violated(kTarget, "a SpecError without problems");
  for (const auto& problem : error.problems()) {
    std::string text = problem.to_string();
    if (problem.where.file != file.string())
      fuzz::violated(kTarget, "a problem that does not name the file: " + text);
    if (problem.message.starts_with("TOML syntax error") && problem.where.line <= 0)
      fuzz::violated(kTarget, "a TOML syntax error without a line: " + text);
  }
}

void check_locations(const std::map<std::string, spec::Location>& where, const fs::path& file) {
  for (const auto& [key, location] : where)
    if (location.file != file.string() || location.line <= 0)
      fuzz::violated(kTarget, "key '" + key + "' recorded at no line of the file");
}

void check_project(const spec::ProjectSpec& project, const fs::path& file) {
  for (const auto& [name, connection] : project.connections) {
    for (const auto& problem : connection.problems)
      if (problem.where.file != file.string())
        fuzz::violated(kTarget, "a connection problem that does not name the file: " + problem.to_string());
    check_locations(connection.key_where, file);
  }
}

const spec::ProjectSpec& fixed_project() {
  static const spec::ProjectSpec project =
      spec::load_project(folder().project_file, cli::connector_catalog(), cli::connector_type_names(), &environment);
  return project;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::as_text(data, size);
  const Folder& f = folder();
  const auto& project = fixed_project();
  bool as_project = false;
  for (std::string_view key : {"connections", "state_dir", "syncs_dir"})
    as_project = as_project || text.find(key) != std::string_view::npos;
  if (as_project) {
    write(f.input_project, text);
    try {
      check_project(spec::load_project(f.input_project, cli::connector_catalog(), cli::connector_type_names(),
                                       &environment),
                    f.input_project);
    } catch (const spec::SpecError& e) {
      check_problems(e, f.input_project);
    }
    return 0;
  }

  write(f.sync_file, text);
  try {
    spec::SyncSpec sync = spec::load_sync(f.sync_file, project, cli::connector_catalog(), &environment);
    if (sync.source.connection == "offline" || sync.destination.connection == "offline")
      fuzz::violated(kTarget, "a sync using a connection with problems loaded");
    check_locations(sync.source.key_where, f.sync_file);
    check_locations(sync.destination.key_where, f.sync_file);
    engine::CompiledSync compiled(sync);
    (void)compiled.destination_read_fields();
  } catch (const spec::SpecError& e) {
    check_problems(e, f.sync_file);
  }
  return 0;
}
