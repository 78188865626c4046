// `synctool init SOURCE_TYPE DESTINATION_TYPE`: a project to start from: synctool.toml with a
// connection of each type and syncs/SOURCE-DESTINATION.toml between them. What a connection of
// a type looks like (its keys with comments, credentials as ${VARIABLE}, a default object and
// how it spells a person's email and names) is the connector's own (InitTemplate in its
// registration); this file only puts the pieces together.
#include "cli/commands.hpp"
#include "connectors/registry.hpp"
#include "engine/report.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace synctool::cli {

namespace {

namespace fs = std::filesystem;

struct Side {
  const connectors::ConnectorType* type;
  std::string connection;  // its [connections.NAME] name
  std::string env;         // the prefix of its environment variables
};

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string fill(const std::string& text, const Side& side) {
  return replace_all(replace_all(text, "{ENV}", side.env), "{name}", side.connection);
}

// A field name as a TOML key: bare when it can be (email), else quoted (merge_fields.FNAME,
// which bare would be a nested table).
std::string toml_key(const std::string& name) {
  bool bare = !name.empty();
  for (char c : name) bare = bare && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  return bare ? name : "\"" + name + "\"";
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

std::string project_toml(const std::vector<Side>& sides, const std::string& command) {
  std::string out = "# Written by `" + command + "`. Where synctool keeps its state and the systems the syncs\n"
                    "# in syncs/ connect. Any text may take ${VARIABLE} from the environment (${VARIABLE:-fallback}\n"
                    "# when it may be unset): keep credentials there, never in this file. synctool never prints\n"
                    "# them. `synctool check` names every variable that is not set.\n"
                    "state_dir = \".synctool\"          # one folder per sync (runs, links, cursors); keep it\n";
  for (std::size_t i = 0; i < sides.size(); ++i) {
    const auto& side = sides[i];
    const auto& init = side.type->init_template;
    out += "\n[connections." + side.connection + "]\n";
    out += "type = \"" + std::string(side.type->type) + "\"\n";
    out += fill(init.connection, side);
    if (i == 1) out += fill(init.connection_as_destination, side);
  }
  return out;
}

std::string sync_toml(const std::vector<Side>& sides, const std::string& sync, const std::string& command) {
  const auto& from = sides[0].type->init_template;
  const auto& to = sides[1].type->init_template;
  auto endpoint = [](const Side& side, const std::string& keys) {
    return "connection = \"" + side.connection + "\"\nobject     = \"" + side.type->init_template.object + "\"\n" +
           fill(keys, side);
  };
  std::string out = "# Written by `" + command + "`: records of connection '" + sides[0].connection +
                    "' kept in step in\n# connection '" + sides[1].connection + "', matched by email address.\n";
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"check", "validates every file (and names unset variables)"},
      {"check --connect", "also reaches both systems with the credentials"},
      {"diff " + sync, "exactly what a run would do, without writing"},
      {"run " + sync, "the first run matches existing records (baseline)"}};
  std::size_t width = 0;
  for (const auto& [line, _] : commands) width = std::max(width, line.size());
  for (const auto& [line, what] : commands) out += "#   synctool " + pad(line, width) + "  " + what + "\n";
  out += "title     = \"" + sides[0].connection + " to " + sides[1].connection + "\"\n";
  out += "direction = \"one-way\"              # or \"bidirectional\": both systems edit ([conflicts])\n";
  out += "mode      = \"upsert\"               # create and update, never delete; or mirror, append\n";
  out += "schedule  = \"*/30 * * * *\"         # cron or an interval (\"15m\"), for schedulers\n";
  out += "full_sync_every = \"24h\"            # a full reconciliation repairs what incremental runs miss\n";
  out += "\n[source]\n" + endpoint(sides[0], from.source_keys);
  out += "\n[destination]\n" + endpoint(sides[1], to.destination_keys);
  out += "\n[match]                              # how a source record finds its destination record\n";
  out += "source      = \"" + from.email + "\"\n";
  out += "destination = \"" + to.email + "\"\n";
  out += "normalize   = [\"trim\", \"lowercase\"]\n";
  out += "\n[field_map]                          # source field = destination field\n";
  out += toml_key(from.email) + " = \"" + to.email + "\"\n";
  out += toml_key(from.first_name) + " = { to = \"" + to.first_name + "\", transform = [\"trim\"] }\n";
  out += toml_key(from.last_name) + " = { to = \"" + to.last_name + "\", transform = [\"trim\"] }\n";
  return out;
}

// The variables a TOML text's values take without a fallback (comments aside): those `check`
// requires, in order of appearance.
std::vector<std::string> required_variables(const std::string& text) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    // The comment starts at the first '#' outside a quoted text.
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) quoted = !quoted;
      if (line[i] == '#' && !quoted) {
        line.resize(i);
        break;
      }
    }
    // ${NAME}, not ${NAME:-fallback} (nor $${, a literal).
    for (auto at = line.find("${"); at != std::string::npos; at = line.find("${", at + 2)) {
      if (at > 0 && line[at - 1] == '$') continue;
      auto close = line.find('}', at);
      if (close == std::string::npos) break;
      auto name = line.substr(at + 2, close - at - 2);
      bool plain = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
      for (char c : name) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
      if (plain && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

struct File {
  fs::path path;
  std::string text;
  bool data = false;  // a data file: written only where none exists, even with --force
};

// Writes through a temporary file beside it, so that a failed write leaves no half file.
std::string write_file(const File& file) {
  std::error_code ec;
  fs::create_directories(file.path.parent_path().empty() ? fs::path(".") : file.path.parent_path(), ec);
  if (ec) return "cannot create the folder " + file.path.parent_path().string() + ": " + ec.message();
  auto temporary = file.path;
  temporary += ".init-tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << file.text;
    out.flush();
    if (!out) return "cannot write " + temporary.string() + ": " + std::strerror(errno);
  }
  fs::rename(temporary, file.path, ec);
  if (ec) {
    fs::remove(temporary, ec);
    return "cannot write " + file.path.string() + ": " + ec.message();
  }
  return "";
}

}  // namespace

int cmd_init(Context& ctx, const InitOptions& options) {
  auto& out = ctx.out();
  if (options.types.size() != 2)
    return usage_error(out, "init takes two connection types, the source's and the destination's (e.g. `synctool "
                            "init hubspot mailchimp`)");
  std::vector<std::string> known;
  for (const auto& type : connectors::connector_types()) known.emplace_back(type.type);
  std::vector<Side> sides;
  for (const auto& name : options.types) {
    const auto* type = connectors::find_connector_type(name);
    if (!type) {
      std::string message = "unknown connection type '" + name + "'";
      if (auto hint = util::closest_match(name, known); !hint.empty()) message += " (did you mean '" + hint + "'?)";
      return usage_error(out, message + " (known types: " + util::join(known, ", ") + ")");
    }
    sides.push_back({type, name, ""});
  }
  if (sides[1].type->source_only)
    return usage_error(out, "a " + options.types[1] + " connection can only be a source (synctool only reads it); "
                            "name it first, e.g. `synctool init " + options.types[1] + " " + options.types[0] + "`");
  // One type on both sides (sqlite to sqlite): two connections, named by their role.
  if (options.types[0] == options.types[1]) {
    sides[0].connection += "_source";
    sides[1].connection += "_destination";
  }
  for (auto& side : sides) side.env = upper(side.connection);

  const std::string sync = options.types[0] + "-" + options.types[1];
  const std::string command = "synctool init " + options.types[0] + " " + options.types[1];
  const fs::path dir = options.dir.empty() ? fs::path(".") : fs::path(options.dir);
  auto at = [&](const std::string& relative) { return options.dir.empty() ? fs::path(relative) : dir / relative; };

  std::vector<File> files = {{at("synctool.toml"), project_toml(sides, command)},
                             {at("syncs/" + sync + ".toml"), sync_toml(sides, sync, command)}};
  auto variables = required_variables(files[0].text);
  std::set<std::string> data_paths;
  for (const auto& side : sides)
    for (const auto& [relative, text] : side.type->init_template.files)
      if (data_paths.insert(fill(relative, side)).second) files.push_back({at(fill(relative, side)), text, true});

  // Nothing is written unless every file can be: an existing project is never half replaced.
  std::vector<std::string> existing;
  for (const auto& file : files) {
    std::error_code ec;
    if (!file.data && fs::exists(fs::symlink_status(file.path, ec))) existing.push_back(file.path.string());
  }
  if (!existing.empty() && !options.force)
    return usage_error(out, util::join(existing, ", ") + (existing.size() == 1 ? " exists" : " exist") +
                                ": init does not overwrite (--force replaces " +
                                (existing.size() == 1 ? "it" : "them") + "; data files are never replaced)");

  std::vector<std::string> written, kept;
  for (const auto& file : files) {
    std::error_code ec;
    if (file.data && fs::exists(fs::symlink_status(file.path, ec))) {
      kept.push_back(file.path.string());
      continue;
    }
    if (auto problem = write_file(file); !problem.empty())
      return command_error(out, engine::exit_code::local_failure, problem);
    written.push_back(file.path.string());
  }

  if (out.json()) {
    out.print_json({{"ok", true}, {"sync", sync}, {"written", written}, {"kept", kept}, {"variables", variables}});
    return engine::exit_code::ok;
  }
  std::string text = "wrote " + util::join(written, ", ") + "\n";
  if (!kept.empty()) text += "kept " + util::join(kept, ", ") + " (existing data)\n";
  std::string cd = options.dir.empty() ? "" : "cd " + options.dir + " && ";
  if (!variables.empty())
    text += "set " + util::join(variables, ", ") + " (an environment file, mode 0600, or your scheduler's secrets), then:\n";
  else
    text += "then:\n";
  text += "  " + cd + "synctool check                 # validates the files\n";
  text += "  " + cd + "synctool check --connect       # reaches both systems\n";
  text += "  " + cd + "synctool diff " + sync + "\n";
  out.print(text);
  return engine::exit_code::ok;
}

}  // namespace synctool::cli
