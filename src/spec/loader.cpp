#include "spec/loader.hpp"

#include "spec/schedule.hpp"
#include "spec/toml_reader.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace synctool::spec {

namespace fs = std::filesystem;
using detail::describe_type;
using detail::did_you_mean;
using detail::in_file_order;
using detail::quoted_list;
using detail::Text;
using detail::TomlReader;

bool is_secret_key(std::string_view key) {
  std::string k = util::to_lower(key);
  for (const char* word : {"token", "key", "secret", "password"})
    if (k.find(word) != std::string::npos) return true;
  return k == "url" || k == "dsn";
}

std::string SpecProblem::to_string() const {
  std::string out;
  if (!where.file.empty()) out += where.file + ":";
  if (where.line > 0) {
    out += std::to_string(where.line) + ":";
    if (where.column > 0) out += std::to_string(where.column) + ":";
  }
  if (!out.empty()) out += " ";
  return out + message;
}

namespace {

std::string join_problems(const std::vector<SpecProblem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += "\n";
    out += p.to_string();
  }
  return out;
}

}  // namespace

SpecError::SpecError(std::vector<SpecProblem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

namespace {

// A problem with no file position (the file itself is missing).
[[noreturn]] void throw_unlocated(std::string message) {
  std::vector<SpecProblem> problems(1);
  problems[0].message = std::move(message);
  throw SpecError(std::move(problems));
}

}  // namespace

std::filesystem::path find_project_file(const std::string& explicit_path) {
  std::error_code ec;
  if (!explicit_path.empty()) {
    fs::path path(explicit_path);
    // A folder means "the project in that folder", like `git -C`.
    if (fs::is_directory(path, ec)) {
      fs::path inside = path / "synctool.toml";
      if (fs::is_regular_file(inside, ec)) return inside;
      throw_unlocated("no synctool.toml in " + path.string());
    }
    if (!fs::exists(path, ec)) throw_unlocated("config file " + explicit_path + " does not exist");
    return path;
  }
  fs::path here = "synctool.toml";
  if (fs::is_regular_file(here, ec)) return here;
  fs::path cwd = fs::current_path(ec);
  throw_unlocated("no synctool.toml in " + cwd.string() + "; pass --config FILE or run synctool in the folder that holds it");
}

namespace {

const std::vector<std::string> kProjectKeys = {"state_dir", "syncs_dir", "connections", "metrics_dir", "notify"};
const std::vector<std::string> kNotifyKeys = {"url", "on"};
// A sync's health changes that [notify] can post (cli/run_observers.cpp decides them).
const std::vector<std::string> kNotifyEvents = {"failing", "recovered", "safeguard", "degraded"};
// Accepted for every connection type: they configure synctool's side of the connection.
const std::vector<std::string> kCommonConnectionKeys = {"type", "base_url", "rate_limit", "max_in_flight"};
const std::vector<std::string> kSyncKeys = {"name",   "title",       "direction", "mode",      "schedule",
                                            "full_sync_every", "source", "destination", "match", "field_map",
                                            "schema", "deletes",     "conflicts", "manage_schema", "history_days"};
const std::vector<std::string> kSourceKeys = {"connection", "object", "fields", "filter", "key"};
const std::vector<std::string> kDestinationKeys = {"connection", "object", "key"};
const std::vector<std::string> kTransforms = {"trim", "lowercase", "uppercase", "nfc"};
const std::vector<std::string> kDirections = {"one-way", "bidirectional"};
const std::vector<std::string> kModes = {"upsert", "mirror", "append"};
const std::vector<std::string> kPropagations = {"ignore", "archive", "delete"};
const std::vector<std::string> kStrategies = {"most-recent-wins", "source-wins", "destination-wins", "manual"};
// In the order of spec::FieldType.
const std::vector<std::string> kFieldTypes = {"string", "number",      "bool",        "datetime", "email",
                                              "enumeration", "date", "multiselect", "json"};
const std::vector<std::string> kSides = {"source", "destination"};
// In the order of spec::FieldDirection.
const std::vector<std::string> kFieldDirections = {"both", "to-destination", "to-source"};
const std::vector<std::string> kEmptyRules = {"sync", "ignore"};
// In the order of spec::BaselineWinner.
const std::vector<std::string> kBaselineWinners = {"most-recent", "source", "destination"};

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Keys whose value is itself a credential when written inline (not a URL, whose password
// connectors mask, nor a certificate or key file's path).
bool is_inline_credential(std::string_view key) {
  std::string k = util::to_lower(key);
  if (k == "url" || k == "dsn") return false;
  return !k.starts_with("ssl") || k == "sslpassword";
}

void add_secret(ProjectSpec& project, const std::string& value) {
  if (!value.empty() && !contains(project.secrets, value)) project.secrets.push_back(value);
}

// "190/10s" or "10/s": requests per period.
bool valid_rate_limit(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view count = text.substr(0, slash);
  long requests = 0;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), requests);
  if (ec != std::errc() || end != count.data() + count.size() || requests < 1) return false;
  std::string period(text.substr(slash + 1));
  if (!period.empty() && (period.front() < '0' || period.front() > '9')) period.insert(0, "1");
  auto ms = util::parse_duration(period);
  return ms && *ms > 0;
}

// A field_map / schema key as the user would write it in TOML.
std::string toml_key(const std::string& key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (bare) return key;
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// "" when `path` is a usable dotted field path, else why not.
std::string path_problem(std::string_view path) {
  if (path.empty()) return "is empty";
  for (const auto& part : util::split(path, '.'))
    if (part.empty()) return "has an empty part between dots";
  return "";
}

// Whether a dotted source path is covered by [source] fields (the path or its first step).
bool in_fields(const std::vector<std::string>& fields, const std::string& path) {
  return contains(fields, path) || contains(fields, path.substr(0, path.find('.')));
}

// Reads one [connections.NAME] table into `conn`, reporting its problems to `r`.
void read_connection_table(TomlReader& r, ProjectSpec& project, ConnectionSpec& conn, const toml::node& node,
                           const ConnectorCatalog& catalog, const std::vector<std::string>& known_types) {
  const std::string& name = conn.name;
  const std::string context = "[connections." + name + "]";
  const toml::table* table = r.table(node, context);
  if (!table) return;
  for (auto [key, value] : in_file_order(*table)) conn.key_where[std::string(key->str())] = r.at(*key);

  const ConnectorKeys* keys = nullptr;
  if (const toml::node* type = table->get("type")) {
    if (auto t = r.text(*type, context + " type")) {
      conn.type = t->value;
      keys = catalog ? catalog(conn.type) : nullptr;
      if (!keys) {
        std::string hint = did_you_mean(t->shown, known_types);
        if (hint.empty() && !known_types.empty()) hint = " (known types: " + util::join(known_types, ", ") + ")";
        r.report(t->where, "unknown connection type '" + t->shown + "'" + hint);
      }
    }
  } else {
    std::string hint = known_types.empty() ? "" : " (one of: " + util::join(known_types, ", ") + ")";
    r.report(conn.where, context + " is missing required key 'type'" + hint);
  }

  // Without a known type the keys cannot be judged; the type problem is reported already.
  if (keys) {
    std::vector<std::string> allowed = kCommonConnectionKeys;
    for (const auto& key : keys->connection_keys)
      if (!contains(allowed, key)) allowed.push_back(key);
    r.check_keys(*table, allowed, context);
    for (const auto& required : keys->required_connection_keys)
      if (!table->contains(required))
        r.report(conn.where, context + " is missing required key '" + required + "'");
  }

  for (auto [key, value] : in_file_order(*table)) {
    std::string k(key->str());
    if (k == "type") continue;
    const std::string what = context + " " + k;
    std::vector<std::string> substituted;
    auto json = r.to_json(*value, what, &substituted);
    if (is_secret_key(k)) {
      // A credential is a text; anything else would reach the service as its JSON form.
      if (json && !json->is_string()) {
        // (Not "token: ...": the redactor masks whatever follows a credential's name and a colon.)
        r.report(r.at(*value), what + " must be a text (a string such as \"${VARIABLE}\"), not " + describe_type(*value));
        continue;
      }
      for (const auto& s : substituted) add_secret(project, s);
      // Written into the spec itself rather than taken from the environment: still a secret.
      if (json && (!substituted.empty() || is_inline_credential(k))) add_secret(project, json->get<std::string>());
    }
    if (!json) continue;
    // Messages quote the text as written, never an interpolated value.
    const std::string raw = value->is_string() ? value->as_string()->get() : std::string();
    // base_url = "${X_BASE_URL:-}" with X_BASE_URL unset: the connector's own default.
    if (k == "base_url" && json->is_string() && json->get<std::string>().empty() && raw.find("${") != std::string::npos)
      continue;
    if (k == "base_url" && (!json->is_string() || json->get<std::string>().empty())) {
      r.report(r.at(*value), what + ": expected a URL such as \"http://127.0.0.1:8080\", got " +
                                 (value->is_string() ? std::string("an empty string") : describe_type(*value)));
      continue;
    }
    if (k == "rate_limit" && !(json->is_string() && valid_rate_limit(json->get<std::string>()))) {
      r.report(r.at(*value), what + ": expected requests per period such as \"190/10s\" or \"100/m\", got " +
                                 (value->is_string() ? "'" + raw + "'" : describe_type(*value)));
      continue;
    }
    if (k == "max_in_flight" && !(json->is_number_integer() && json->get<std::int64_t>() >= 1)) {
      r.report(r.at(*value), what + ": expected a whole number of at least 1, got " +
                                 (json->is_number_integer() ? json->dump() : describe_type(*value)));
      continue;
    }
    conn.settings[k] = std::move(*json);
  }
}

// A connection's problems stay with the connection (see ConnectionSpec::problems), so that one
// broken connection, such as one whose ${VARIABLE} is unset on this machine, stops only the
// syncs that use it.
void read_connection(TomlReader& r, ProjectSpec& project, const std::string& name, const toml::node& node,
                     const ConnectorCatalog& catalog, const std::vector<std::string>& known_types) {
  const std::size_t before = r.problem_count();
  ConnectionSpec conn;
  conn.name = name;
  conn.where = r.at(node);
  read_connection_table(r, project, conn, node, catalog, known_types);
  conn.problems = r.take_problems_since(before);
  project.connections[name] = std::move(conn);
}

void read_folder(TomlReader& r, const toml::table& root, const char* key, const fs::path& base_dir,
                 fs::path& out) {
  const toml::node* node = root.get(key);
  if (!node) return;
  auto t = r.text(*node, key);
  if (!t) return;
  if (t->value.empty()) {
    r.report(t->where, std::string(key) + ": expected a folder path, got an empty string");
    return;
  }
  // An absolute path replaces base_dir; a relative one resolves against it.
  out = (base_dir / t->value).lexically_normal();
}

// [notify] url = "${WEBHOOK}" and on = [...]. The url is a secret whatever its key's name
// says: a Slack webhook's path is its credential.
void read_notify(TomlReader& r, ProjectSpec& project, const toml::node& node) {
  const toml::table* table = r.table(node, "[notify]");
  if (!table) return;
  r.check_keys(*table, kNotifyKeys, "[notify]");
  const toml::node* url = table->get("url");
  if (!url) {
    r.report(r.at(node), "[notify] is missing required key 'url' (the webhook to post to, such as \"${WEBHOOK}\")");
  } else {
    std::vector<std::string> substituted;
    if (auto t = r.text(*url, "[notify] url", &substituted)) {
      for (const auto& s : substituted) add_secret(project, s);
      add_secret(project, t->value);
      const bool from_env = url->as_string()->get().find("${") != std::string::npos;
      if (t->value.empty() && !from_env)
        r.report(t->where, "[notify] url: expected an http:// or https:// URL, got an empty string");
      else if (!t->value.empty() && !t->value.starts_with("http://") && !t->value.starts_with("https://"))
        // Never quotes the value: it is the credential.
        r.report(t->where, "[notify] url: expected an http:// or https:// URL");
      else
        project.notify.url = t->value;  // "" from ${WEBHOOK:-} unset: notifications off
    }
  }
  project.notify.on = {"failing", "recovered", "safeguard"};
  if (const toml::node* on = table->get("on")) {
    if (auto events = r.texts(*on, "[notify] on")) {
      project.notify.on.clear();
      for (const auto& e : *events) {
        if (!contains(kNotifyEvents, e.value))
          r.report(e.where, "[notify] on: unknown event '" + e.shown + "'" + did_you_mean(e.shown, kNotifyEvents) +
                                " (events: " + quoted_list(kNotifyEvents) + ")");
        else if (!contains(project.notify.on, e.value))
          project.notify.on.push_back(e.value);
      }
    }
  }
}

}  // namespace

ProjectSpec load_project(const std::filesystem::path& file, const ConnectorCatalog& catalog, const EnvLookup& env) {
  return load_project(file, catalog, std::vector<std::string>{}, env);
}

ProjectSpec load_project(const std::filesystem::path& file, const ConnectorCatalog& catalog,
                         const std::vector<std::string>& known_types, const EnvLookup& env) {
  TomlReader r(file.string(), env);
  ProjectSpec project;
  project.file = file;
  std::error_code ec;
  fs::path absolute = fs::absolute(file, ec);
  project.base_dir = (ec ? file : absolute).parent_path().lexically_normal();
  project.state_dir = project.base_dir / ".synctool";
  project.syncs_dir = project.base_dir / "syncs";

  if (auto root = r.parse(file)) {
    r.check_keys(*root, kProjectKeys, "");
    read_folder(r, *root, "state_dir", project.base_dir, project.state_dir);
    read_folder(r, *root, "syncs_dir", project.base_dir, project.syncs_dir);
    read_folder(r, *root, "metrics_dir", project.base_dir, project.metrics_dir);
    if (const toml::node* notify = root->get("notify")) read_notify(r, project, *notify);
    if (const toml::node* node = root->get("connections")) {
      if (const toml::table* connections = r.table(*node, "connections"))
        for (auto [key, value] : in_file_order(*connections))
          read_connection(r, project, std::string(key->str()), *value, catalog, known_types);
    }
  }
  if (r.has_problems()) throw SpecError(r.take_problems());
  return project;
}

std::vector<SpecProblem> connection_problems(const ProjectSpec& project) {
  std::vector<SpecProblem> problems;
  for (const auto& [name, conn] : project.connections)
    problems.insert(problems.end(), conn.problems.begin(), conn.problems.end());
  std::stable_sort(problems.begin(), problems.end(), [](const SpecProblem& a, const SpecProblem& b) {
    return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
  });
  return problems;
}

namespace {

// Reads one sync file's tables into a SyncSpec, reporting every problem, then checks how the
// tables fit together (fields, match, field_map).
class SyncLoader {
 public:
  SyncLoader(TomlReader& r, const ProjectSpec& project, const ConnectorCatalog& catalog, SyncSpec& sync)
      : r_(r), project_(project), catalog_(catalog), sync_(sync) {}

  void load(const toml::table& root) {
    r_.check_keys(root, kSyncKeys, "");
    read_header(root);
    read_endpoint(root, "source", sync_.source);
    read_endpoint(root, "destination", sync_.destination);
    read_match(root);
    read_field_map(root);
    read_schema(root);
    read_manage_schema(root);
    read_deletes(root);
    read_conflicts(root);
    check_fields();
    check_identifier_mapped();
    check_two_way();
  }

 private:
  const toml::table* section(const toml::table& root, const char* key) {
    const toml::node* node = root.get(key);
    if (!node) return nullptr;
    std::string what = "[";  // appended, not "[" + key: GCC 12 warns (-Wrestrict) on that at -O2
    what += key;
    what += "]";
    return r_.table(*node, what);
  }

  // A string array whose items must each be one of `allowed`.
  std::optional<std::vector<std::string>> choices(const toml::node& node, const std::string& what,
                                                  const std::vector<std::string>& allowed) {
    const toml::array* array = node.as_array();
    if (!array) {
      r_.report(r_.at(node), what + ": expected an array of strings such as [\"" + allowed.front() + "\"], got " +
                                 describe_type(node));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (const toml::node& item : *array) {
      if (auto value = r_.choice(item, what, allowed))
        out.push_back(*value);
      else
        ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A dotted field path; reports a malformed one.
  std::optional<Text> field_path(const toml::node& node, const std::string& what) {
    auto t = r_.text(node, what);
    if (!t) return std::nullopt;
    std::string problem = path_problem(t->value);
    if (!problem.empty()) {
      r_.report(t->where, what + ": field name '" + t->shown + "' " + problem);
      return std::nullopt;
    }
    return t;
  }

  void read_header(const toml::table& root) {
    const std::string stem = sync_.file.stem().string();
    sync_.name = stem;
    if (const toml::node* node = root.get("name")) {
      if (auto t = r_.text(*node, "name"); t && t->value != stem)
        r_.report(t->where, "name '" + t->shown + "' does not match the file name '" +
                                sync_.file.filename().string() + "'; the file must be named '" + t->shown +
                                ".toml' (or remove the name line to use '" + stem + "')");
    }
    if (const toml::node* node = root.get("title"))
      if (auto t = r_.text(*node, "title")) sync_.title = t->value;
    if (const toml::node* node = root.get("direction"))
      if (auto value = r_.choice(*node, "direction", kDirections))
        sync_.direction = *value == "one-way" ? Direction::one_way : Direction::bidirectional;
    if (const toml::node* node = root.get("mode"))
      if (mode_where_ = r_.at(*node); auto value = r_.choice(*node, "mode", kModes))
        sync_.mode = *value == "upsert" ? Mode::upsert : *value == "mirror" ? Mode::mirror : Mode::append;
    if (const toml::node* node = root.get("schedule")) {
      if (auto t = r_.text(*node, "schedule")) {
        std::string problem = schedule_problem(t->value);
        if (problem.empty())
          sync_.schedule = util::trim(t->value);
        else
          r_.report(t->where, "schedule '" + t->shown + "' is not valid: " + problem +
                                  " (write a cron expression such as \"*/30 * * * *\" or an interval such as "
                                  "\"15m\")");
      }
    }
    if (const toml::node* node = root.get("full_sync_every")) {
      if (auto t = r_.text(*node, "full_sync_every")) {
        auto ms = util::parse_duration(util::trim(t->value));
        if (ms && *ms > 0)
          sync_.full_sync_every_ms = *ms;
        else
          r_.report(t->where, "full_sync_every '" + t->shown +
                                  "' is not a duration; write it like \"24h\", \"90m\" or \"1h30m\" "
                                  "(units s, m, h, d)");
      }
    }
    if (const toml::node* node = root.get("history_days")) {
      const auto* days = node->as_integer();
      if (days && days->get() >= 0 && days->get() <= 3650)
        sync_.history_days = static_cast<int>(days->get());
      else
        r_.report(r_.at(*node), "history_days must be a whole number of days from 0 (keep no history) to 3650");
    }
  }

  void read_endpoint(const toml::table& root, const char* key, EndpointSpec& out) {
    const bool is_source = std::string_view(key) == "source";
    const std::string context = "[" + std::string(key) + "]";
    if (!root.get(key)) {
      r_.report(r_.whole_file(), "missing " + context + " table: add " + context +
                                     " with 'connection' (a name from [connections] in " + project_name() +
                                     ") and 'object'");
      return;
    }
    const toml::table* table = section(root, key);
    if (!table) return;
    out.where = r_.at(*table);
    const std::vector<std::string>& base_keys = is_source ? kSourceKeys : kDestinationKeys;
    for (auto [k, value] : in_file_order(*table)) out.key_where[std::string(k->str())] = r_.at(*k);

    const ConnectorKeys* keys = nullptr;
    if (const toml::node* node = table->get("connection")) {
      if (auto t = r_.text(*node, context + " connection")) {
        out.connection = t->value;
        auto it = project_.connections.find(t->value);
        if (it == project_.connections.end()) {
          r_.report(t->where, context + " connection '" + t->shown + "' is not defined in " + project_name() +
                                  connection_hint(t->shown));
        } else {
          for (const auto& problem : it->second.problems)
            r_.report(t->where, context + " connection '" + t->shown + "' cannot be used: " + problem.to_string());
          if (catalog_) keys = catalog_(it->second.type);
          if (keys && keys->source_only && !is_source)
            r_.report(t->where, context + " connection '" + t->shown + "' is a " + it->second.type +
                                    " source: synctool only reads it, so it cannot be a destination");
          else if (keys && keys->source_only && sync_.direction == Direction::bidirectional)
            r_.report(t->where, context + " connection '" + t->shown + "' is a " + it->second.type +
                                    " source: synctool only reads it, so the sync must be direction = \"one-way\"");
        }
      }
    } else {
      r_.report(out.where, context + " is missing required key 'connection' (a name from [connections] in " +
                               project_name() + ")");
    }
    if (const toml::node* node = table->get("object")) {
      if (auto t = r_.text(*node, context + " object")) {
        if (t->value.empty())
          r_.report(t->where, context + " object: expected the name of a table, file or record type, got an "
                                        "empty string");
        out.object = t->value;
      }
    } else {
      r_.report(out.where, context + " is missing required key 'object' (the table, file or record type to " +
                               (is_source ? "read" : "write") + ")");
    }

    // Connector-specific keys can only be judged once the connection's type is known.
    if (keys) {
      std::vector<std::string> allowed = base_keys;
      for (const auto& k : is_source ? keys->source_keys : keys->destination_keys)
        if (!contains(allowed, k)) allowed.push_back(k);
      // Both sides of a bidirectional sync are read and written: each takes both kinds of key.
      if (sync_.direction == Direction::bidirectional)
        for (const auto& k : is_source ? keys->destination_keys : keys->source_keys)
          if (!contains(allowed, k)) allowed.push_back(k);
      r_.check_keys(*table, allowed, context);
    } else {
      // The connector's own keys are unknown until the connection is fixed, but a near miss
      // of a common key ("fiter") is a typo whatever the connector.
      for (auto [k, value] : in_file_order(*table)) {
        std::string name(k->str());
        if (contains(base_keys, name)) continue;
        std::string match = util::closest_match(name, base_keys);
        if (!match.empty())
          r_.report(r_.at(*k), "unknown key '" + name + "' in " + context + " (did you mean '" + match + "'?)");
      }
    }

    if (is_source) {
      if (const toml::node* node = table->get("fields")) read_fields(*node, out);
      if (const toml::node* node = table->get("filter")) {
        if (auto t = r_.text(*node, context + " filter")) {
          out.filter = t->value;
          out.filter_where = t->where;
        }
      }
    }
    if (const toml::node* node = table->get("key"))
      if (auto t = field_path(*node, context + " key")) out.key = t->value;

    for (auto [k, value] : in_file_order(*table)) {
      std::string name(k->str());
      if (contains(base_keys, name)) continue;
      if (auto json = r_.to_json(*value, context + " " + name)) out.options[name] = std::move(*json);
    }
  }

  void read_fields(const toml::node& node, EndpointSpec& out) {
    const std::string what = "[source] fields";
    if (!node.is_array()) {
      r_.report(r_.at(node), what + ": expected an array of strings such as [\"email\", \"name\"], got " +
                                 describe_type(node));
      return;
    }
    bool ok = true;
    for (const toml::node& item : *node.as_array()) {
      auto t = field_path(item, what);
      if (!t) {
        ok = false;
        continue;
      }
      if (contains(out.fields, t->value)) {
        r_.report(t->where, what + ": '" + t->shown + "' is listed twice");
        continue;
      }
      out.fields.push_back(t->value);
    }
    // A broken list would make every later "not in fields" check misleading.
    fields_checked_ = ok && !out.fields.empty();
  }

  void read_match(const toml::table& root) {
    if (!root.get("match")) {
      r_.report(r_.whole_file(),
                "missing [match] table: add [match] with 'source' and 'destination', the fields that identify "
                "the same record on both sides (for example source = \"email\" and destination = \"email\")");
      return;
    }
    const toml::table* table = section(root, "match");
    if (!table) return;
    MatchSpec& match = sync_.match;
    match.where = r_.at(*table);
    r_.check_keys(*table, {"source", "destination", "normalize"}, "[match]");
    bool ok = true;
    if (const toml::node* node = table->get("source")) {
      if (auto t = field_path(*node, "[match] source")) {
        match.source = t->value;
        match_source_where_ = t->where;
      } else {
        ok = false;
      }
    } else {
      r_.report(match.where, "[match] is missing required key 'source' (the source field that identifies a "
                             "record)");
      ok = false;
    }
    if (const toml::node* node = table->get("destination")) {
      if (auto t = field_path(*node, "[match] destination"))
        match.destination = t->value;
      else
        ok = false;
    } else {
      r_.report(match.where, "[match] is missing required key 'destination' (the destination field that holds "
                             "the same value)");
      ok = false;
    }
    if (const toml::node* node = table->get("normalize"))
      if (auto values = choices(*node, "[match] normalize", kTransforms)) match.normalize = std::move(*values);
    match_ok_ = ok;
  }

  void read_field_map(const toml::table& root) {
    if (!root.get("field_map")) return;
    const toml::table* table = section(root, "field_map");
    if (!table) {
      field_map_ok_ = false;
      return;
    }
    for (auto [key, value] : in_file_order(*table)) read_mapping(std::string(key->str()), r_.at(*key), *value);

    // Two mappings writing one destination field (or one inside the other) would overwrite
    // each other silently.
    for (std::size_t i = 0; i < sync_.field_map.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        const auto& a = sync_.field_map[j];
        const auto& b = sync_.field_map[i];
        bool same = a.destination == b.destination;
        bool nested = util::starts_with(b.destination, a.destination + ".") ||
                      util::starts_with(a.destination, b.destination + ".");
        if (!same && !nested) continue;
        std::string first = a.source.empty() ? "the constant at line " + std::to_string(a.where.line)
                                             : "'" + a.source + "' (line " + std::to_string(a.where.line) + ")";
        r_.report(b.where, same ? "[field_map] destination field '" + b.destination + "' is already mapped from " +
                                      first + "; map each destination field once"
                                : "[field_map] destination fields '" + a.destination + "' and '" + b.destination +
                                      "' overlap (one is inside the other; see " + first + ")");
        break;
      }
    }
  }

  void read_mapping(const std::string& key, const Location& where, const toml::node& value) {
    const std::string label = "[field_map] " + toml_key(key);
    std::string problem = path_problem(key);
    FieldMapping mapping;
    mapping.source = key;
    mapping.where = where;
    if (value.is_string()) {
      if (!problem.empty()) {
        r_.report(where, label + ": source field name '" + key + "' " + problem);
        return;
      }
      if (auto t = field_path(value, label)) {
        mapping.destination = t->value;
        sync_.field_map.push_back(std::move(mapping));
      }
      return;
    }
    const toml::table* entry = value.as_table();
    if (!entry) {
      r_.report(r_.at(value), label + ": expected a destination field name such as \"email\" or a table such as "
                                      "{ to = \"email\", transform = [\"trim\"] }, got " + describe_type(value));
      return;
    }
    r_.check_keys(*entry, {"to", "transform", "default", "constant", "direction"},
                  "the [field_map] entry " + toml_key(key));
    if (const toml::node* node = entry->get("direction")) {
      if (auto value = r_.choice(*node, label + " direction", kFieldDirections)) {
        mapping.direction = static_cast<FieldDirection>(
            std::find(kFieldDirections.begin(), kFieldDirections.end(), *value) - kFieldDirections.begin());
        direction_where_[key] = r_.at(*node);
      }
    }

    const toml::node* constant = entry->get("constant");
    const toml::node* fallback = entry->get("default");
    // For a constant the key is only a label, so its shape does not matter.
    if (!constant && !problem.empty()) {
      r_.report(where, label + ": source field name '" + key + "' " + problem);
      return;
    }
    bool ok = true;
    if (const toml::node* to = entry->get("to")) {
      if (auto t = field_path(*to, label + " to"))
        mapping.destination = t->value;
      else
        ok = false;
    } else {
      r_.report(r_.at(value), label + " is missing required key 'to' (the destination field)");
      ok = false;
    }
    if (constant) {
      mapping.source.clear();
      if (auto json = r_.to_json(*constant, label + " constant"))
        mapping.transforms.push_back(Transform{Transform::Kind::constant, std::move(*json)});
    }
    if (const toml::node* node = entry->get("transform")) {
      if (auto names = choices(*node, label + " transform", kTransforms)) {
        for (const auto& name : *names) {
          Transform::Kind kind = name == "trim"        ? Transform::Kind::trim
                                 : name == "lowercase" ? Transform::Kind::lowercase
                                 : name == "uppercase" ? Transform::Kind::uppercase
                                                       : Transform::Kind::nfc;
          mapping.transforms.push_back(Transform{kind, nullptr});
        }
      }
    }
    if (fallback) {
      if (constant) {
        r_.report(r_.at(*fallback), label + ": 'default' has no effect together with 'constant'; remove one of them");
      } else if (auto json = r_.to_json(*fallback, label + " default")) {
        // Last, so trimming cannot turn a filled-in default back into an empty value.
        mapping.transforms.push_back(Transform{Transform::Kind::default_value, std::move(*json)});
      }
    }
    if (ok) sync_.field_map.push_back(std::move(mapping));
  }

  void read_schema(const toml::table& root) {
    if (!root.get("schema")) return;
    const toml::table* table = section(root, "schema");
    if (!table) return;
    for (auto [key, value] : in_file_order(*table)) {
      std::string name(key->str());
      const std::string label = "[schema] " + toml_key(name);
      SchemaField field;
      field.name = name;
      field.where = r_.at(*key);
      std::string problem = path_problem(name);
      if (!problem.empty()) r_.report(field.where, label + ": field name '" + name + "' " + problem);
      const toml::table* entry = value->as_table();
      if (!entry) {
        r_.report(r_.at(*value), label + ": expected a table such as { type = \"string\", required = true }, got " +
                                     describe_type(*value));
        continue;
      }
      r_.check_keys(*entry, {"type", "required", "options"}, "the [schema] entry " + toml_key(name));
      std::optional<std::string> type;
      if (const toml::node* node = entry->get("type")) {
        type = r_.choice(*node, label + " type", kFieldTypes);
        if (type) {
          auto index = std::find(kFieldTypes.begin(), kFieldTypes.end(), *type) - kFieldTypes.begin();
          field.type = static_cast<FieldType>(index);
        }
      } else {
        r_.report(r_.at(*value), label + " is missing required key 'type' (one of " + quoted_list(kFieldTypes) + ")");
      }
      if (const toml::node* node = entry->get("required"))
        if (auto required = r_.boolean(*node, label + " required")) field.required = *required;
      const toml::node* options = entry->get("options");
      if (options) {
        if (auto values = r_.texts(*options, label + " options"))
          for (auto& v : *values) field.options.push_back(std::move(v.value));
      }
      bool no_options = !options || (options->is_array() && options->as_array()->empty());
      bool listed = type == "enumeration" || type == "multiselect";
      if (listed && no_options)
        r_.report(options ? r_.at(*options) : r_.at(*value),
                  label + ": type '" + *type + "' needs a non-empty list of allowed values, such as "
                          "options = [\"active\", \"inactive\"]");
      if (type && !listed && options)
        r_.report(r_.at(*options),
                  label + ": 'options' only applies to types 'enumeration' and 'multiselect', not '" + *type + "'");
      sync_.schema.push_back(std::move(field));
    }
  }

  // manage_schema = "properties": the destination's connector must manage schemas in that
  // mode and be able to hold every declared type and field name.
  void read_manage_schema(const toml::table& root) {
    const toml::node* node = root.get("manage_schema");
    if (!node) return;
    auto t = r_.text(*node, "manage_schema");
    if (!t) return;
    sync_.manage_schema_where = t->where;
    if (t->value.empty() || t->value == "off") return;
    sync_.manage_schema = t->value;
    if (sync_.schema.empty())
      r_.report(t->where, "manage_schema = '" + t->shown + "' needs a [schema] table that declares the fields");
    auto it = project_.connections.find(sync_.destination.connection);
    if (it == project_.connections.end() || !catalog_) return;  // reported with [destination]
    const ConnectorKeys* keys = catalog_(it->second.type);
    if (!keys) return;
    const std::string who = "the destination connection '" + it->first + "' (type " + it->second.type + ")";
    if (keys->schema_mode.empty()) {
      r_.report(t->where, "manage_schema: " + who + " cannot manage its schema; remove manage_schema");
      return;
    }
    if (t->value != keys->schema_mode) {
      r_.report(t->where, "manage_schema: " + who + " manages '" + keys->schema_mode + "', not '" + t->shown +
                              "' (use manage_schema = \"" + keys->schema_mode + "\")");
      return;
    }
    for (const auto& field : sync_.schema) {
      const char* type = to_string(field.type);
      if (!contains(keys->schema_types, type))
        r_.report(field.where, "[schema] " + toml_key(field.name) + ": " + it->second.type + " cannot hold type '" +
                                   type + "' (it can hold " + quoted_list(keys->schema_types) + ")");
      if (keys->schema_name_problem)
        if (auto problem = keys->schema_name_problem(field.name); !problem.empty())
          r_.report(field.where, "[schema] " + toml_key(field.name) + ": " + problem);
    }
  }

  void read_deletes(const toml::table& root) {
    if (!root.get("deletes")) return;
    const toml::table* table = section(root, "deletes");
    if (!table) return;
    r_.check_keys(*table, {"propagate", "max"}, "[deletes]");
    if (const toml::node* node = table->get("propagate")) {
      if (auto value = r_.choice(*node, "[deletes] propagate", kPropagations))
        sync_.deletes.propagate = *value == "ignore"    ? DeletePropagation::ignore
                                  : *value == "archive" ? DeletePropagation::archive
                                                        : DeletePropagation::remove;
    }
    if (const toml::node* node = table->get("max")) read_delete_cap(*node);
  }

  void read_delete_cap(const toml::node& node) {
    const std::string expected =
        "expected a percentage of linked records such as \"5%\" (0% to 100%) or a whole number of records "
        "such as 100";
    if (const auto* count = node.as_integer()) {
      if (count->get() < 0) {
        r_.report(r_.at(node), "[deletes] max: " + expected + ", got " + std::to_string(count->get()));
        return;
      }
      sync_.deletes.max_value = static_cast<double>(count->get());
      sync_.deletes.max_is_percent = false;
      return;
    }
    if (!node.is_string()) {
      r_.report(r_.at(node), "[deletes] max: " + expected + ", got " + describe_type(node));
      return;
    }
    auto t = r_.text(node, "[deletes] max");
    if (!t) return;
    std::string text = util::trim(t->value);
    if (util::ends_with(text, "%")) {
      std::string number = util::trim(std::string_view(text).substr(0, text.size() - 1));
      double percent = -1;
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), percent);
      if (!number.empty() && ec == std::errc() && end == number.data() + number.size() && percent >= 0 &&
          percent <= 100) {
        sync_.deletes.max_value = percent;
        sync_.deletes.max_is_percent = true;
        return;
      }
    }
    r_.report(t->where, "[deletes] max: " + expected + ", got '" + t->shown + "'");
  }

  void read_conflicts(const toml::table& root) {
    if (!root.get("conflicts")) return;
    const toml::table* table = section(root, "conflicts");
    if (!table) return;
    r_.check_keys(*table, {"strategy", "owners", "empty", "baseline"}, "[conflicts]");
    if (const toml::node* node = table->get("empty"))
      if (auto value = r_.choice(*node, "[conflicts] empty", kEmptyRules)) sync_.conflicts.ignore_empty = *value == "ignore";
    if (const toml::node* node = table->get("baseline")) {
      if (auto value = r_.choice(*node, "[conflicts] baseline", kBaselineWinners))
        sync_.conflicts.baseline = static_cast<BaselineWinner>(
            std::find(kBaselineWinners.begin(), kBaselineWinners.end(), *value) - kBaselineWinners.begin());
    }
    if (const toml::node* node = table->get("strategy")) {
      if (auto value = r_.choice(*node, "[conflicts] strategy", kStrategies)) {
        auto index = std::find(kStrategies.begin(), kStrategies.end(), *value) - kStrategies.begin();
        sync_.conflicts.strategy = static_cast<ConflictStrategy>(index);
      }
    }
    if (const toml::node* node = table->get("owners")) {
      if (const toml::table* owners = r_.table(*node, "[conflicts] owners")) {
        for (auto [key, value] : in_file_order(*owners)) {
          std::string field(key->str());
          if (auto side = r_.choice(*value, "[conflicts] owners." + toml_key(field), kSides)) {
            sync_.conflicts.owners[field] = *side;
            owner_where_[field] = r_.at(*value);
          }
        }
      }
    }
  }

  // Everything read from the source must be among source.fields when that list is given.
  void check_fields() {
    if (!fields_checked_) return;
    const auto& fields = sync_.source.fields;
    const std::string listed = "add it to fields in [source]";
    if (match_source_where_ && !in_fields(fields, sync_.match.source))
      r_.report(*match_source_where_, "[match] source field '" + sync_.match.source +
                                          "' is not in [source] fields; " + listed);
    for (const auto& mapping : sync_.field_map) {
      if (mapping.source.empty() || in_fields(fields, mapping.source)) continue;
      r_.report(mapping.where, "[field_map] maps source field '" + mapping.source +
                                   "', which is not in [source] fields; " + listed + " or remove this line");
    }
  }

  // The match key must travel to the destination, or created records could never be matched
  // again and every run would create duplicates.
  void check_identifier_mapped() {
    if (!match_ok_ || !field_map_ok_) return;
    const MatchSpec& match = sync_.match;
    std::vector<std::string> elsewhere;
    for (const auto& mapping : sync_.field_map) {
      if (mapping.source != match.source) continue;
      if (mapping.destination == match.destination) return;
      elsewhere.push_back(mapping.destination);
    }
    std::string message = "the match key is not mapped (no identifier mapped): [field_map] must map source field '" +
                          match.source + "' to destination field '" + match.destination +
                          "' so records can be matched on later runs";
    if (!elsewhere.empty()) message += " (it is mapped only to " + quoted_list(elsewhere) + ")";
    message += "; add  " + toml_key(match.source) + " = \"" + match.destination + "\"  to [field_map]";
    r_.report(match_source_where_ ? *match_source_where_ : match.where, message);
  }

  // What a bidirectional sync needs of the other tables (and what a one-way sync may not say).
  void check_two_way() {
    if (sync_.direction != Direction::bidirectional) {
      for (const auto& mapping : sync_.field_map)
        if (mapping.direction == FieldDirection::to_source)
          r_.report(where_of_direction(mapping), "[field_map] " + toml_key(mapping.source) +
                                                     ": direction = \"to-source\" needs direction = \"bidirectional\" "
                                                     "at the top of the sync");
      return;
    }
    if (sync_.mode == Mode::append)
      r_.report(mode_where_, "mode = \"append\" cannot be bidirectional: append only creates at the destination; use "
                     "\"upsert\" (no deletes) or \"mirror\" (deletes flow both ways under [deletes])");
    for (const auto& mapping : sync_.field_map) {
      const bool writes_back = mapping.direction != FieldDirection::to_destination;
      if (mapping.source.empty() && writes_back) {
        r_.report(where_of_direction(mapping), "[field_map] " + toml_key(mapping.source.empty() ? mapping.destination : mapping.source) +
                                                   ": a constant can only be written to the destination; add "
                                                   "direction = \"to-destination\"");
        continue;
      }
      if (writes_back && !mapping.transforms.empty())
        r_.report(where_of_direction(mapping),
                  "[field_map] " + toml_key(mapping.source) + ": transforms and defaults cannot be reversed, so a field "
                  "written back to the source may not have them; add direction = \"to-destination\" or remove them");
      if (mapping.source == sync_.match.source && mapping.destination == sync_.match.destination &&
          mapping.direction != FieldDirection::both)
        r_.report(where_of_direction(mapping), "[field_map] " + toml_key(mapping.source) +
                                                   ": the match field must be written both ways (records created on "
                                                   "either side need their key); remove its direction");
    }
    for (const auto& [field, side] : sync_.conflicts.owners) {
      bool known = false;
      for (const auto& mapping : sync_.field_map)
        if (mapping.destination == field || mapping.source == field) known = true;
      if (!known)
        r_.report(owner_where_[field], "[conflicts] owners." + toml_key(field) +
                                           ": no [field_map] entry maps a field of that name");
    }
  }

  Location where_of_direction(const FieldMapping& mapping) const {
    auto it = direction_where_.find(mapping.source);
    return it != direction_where_.end() ? it->second : mapping.where;
  }

  std::string project_name() const {
    return project_.file.empty() ? std::string("synctool.toml") : project_.file.string();
  }

  std::string connection_hint(const std::string& name) const {
    std::vector<std::string> names;
    for (const auto& [defined, conn] : project_.connections) names.push_back(defined);
    std::string hint = did_you_mean(name, names);
    if (!hint.empty()) return hint;
    if (names.empty()) return " (it defines no [connections.NAME] tables yet)";
    return " (defined: " + util::join(names, ", ") + ")";
  }

  TomlReader& r_;
  const ProjectSpec& project_;
  const ConnectorCatalog& catalog_;
  SyncSpec& sync_;
  bool fields_checked_ = false;
  bool match_ok_ = false;
  bool field_map_ok_ = true;
  std::optional<Location> match_source_where_;
  Location mode_where_;
  std::map<std::string, Location> direction_where_;  // [field_map] key -> where its direction is
  std::map<std::string, Location> owner_where_;      // [conflicts] owners key -> where
};

}  // namespace

SyncSpec load_sync(const std::filesystem::path& file, const ProjectSpec& project, const ConnectorCatalog& catalog,
                   const EnvLookup& env) {
  TomlReader r(file.string(), env);
  SyncSpec sync;
  sync.file = file;
  sync.name = file.stem().string();
  if (auto root = r.parse(file)) SyncLoader(r, project, catalog, sync).load(*root);
  if (r.has_problems()) throw SpecError(r.take_problems());
  return sync;
}

std::vector<std::filesystem::path> all_sync_files(const ProjectSpec& project) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(project.syncs_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    // The project file may live beside the syncs (syncs_dir = "."); it is not a sync.
    if (it->path().extension() == ".toml" && it->is_regular_file(type_ec) &&
        !fs::equivalent(it->path(), project.file, type_ec))
      files.push_back(it->path());
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

std::filesystem::path sync_file(const ProjectSpec& project, const std::string& name) {
  // A name is a file stem, never a path that could escape syncs_dir.
  bool plain = !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
               name.find('\\') == std::string::npos;
  fs::path file = project.syncs_dir / (name + ".toml");
  std::error_code ec;
  if (plain && fs::is_regular_file(file, ec)) return file;
  std::vector<std::string> names;
  for (const auto& f : all_sync_files(project)) names.push_back(f.stem().string());
  std::string hint = did_you_mean(name, names);
  if (hint.empty())
    hint = names.empty() ? " (there are no .toml files in " + project.syncs_dir.string() + ")"
                         : " (defined syncs: " + util::join(names, ", ") + ")";
  throw SpecError({SpecProblem{{}, "unknown sync '" + name + "'" + hint}});
}

}  // namespace synctool::spec
