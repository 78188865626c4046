// Loading and validating synctool.toml and syncs/NAME.toml.
#include "engine/compiled_sync.hpp"
#include "spec/loader.hpp"
#include "spec/spec.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace synctool::spec;
using synctool::testing::TempDir;

namespace {

const ConnectorKeys kCsvKeys{{"path"}, {"path"}, {"delimiter"}, {"delimiter"}};
const ConnectorKeys kSqliteKeys{{"path"}, {"path"}, {"query", "cursor_column"}, {"soft_delete_column", "create_table"}};
const std::vector<std::string> kKnownTypes{"csv", "sqlite"};

const ConnectorKeys* fake_catalog(const std::string& type) {
  if (type == "csv") return &kCsvKeys;
  if (type == "sqlite") return &kSqliteKeys;
  return nullptr;
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

EnvLookup default_env() { return env_of({{"WAREHOUSE_DB", "/srv/warehouse.db"}}); }

void write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

const char* const kProjectToml = R"(state_dir = ".state"

[connections.crm_export]
type = "csv"
path = "data/export"

[connections.warehouse]
type = "sqlite"
path = "${WAREHOUSE_DB}"
)";

// The smallest valid sync; error tests start from copies of it.
const char* const kMinimalSync = R"([source]
connection = "crm_export"
object = "contacts"

[destination]
connection = "warehouse"
object = "contacts"

[match]
source = "email"
destination = "email"

[field_map]
email = "email"
)";

// A temporary project folder holding kProjectToml.
struct Project {
  TempDir dir;
  fs::path file = dir / "synctool.toml";

  explicit Project(const std::string& toml = kProjectToml) { write_file(file, toml); }

  ProjectSpec load(const EnvLookup& env = default_env()) const {
    return load_project(file, fake_catalog, kKnownTypes, env);
  }
  fs::path write_sync(const std::string& name, const std::string& toml) const {
    fs::path path = dir / "syncs" / (name + ".toml");
    write_file(path, toml);
    return path;
  }
  SyncSpec load_sync_text(const std::string& name, const std::string& toml) const {
    ProjectSpec project = load();
    return load_sync(write_sync(name, toml), project, fake_catalog, default_env());
  }
};

template <typename F>
std::vector<SpecProblem> problems_of(F&& load) {
  try {
    load();
  } catch (const SpecError& e) {
    return e.problems();
  }
  FAIL("expected a SpecError");
  return {};
}

// The problems a project file keeps in its connections; loading it must not fail.
std::vector<SpecProblem> connection_problems_of(const Project& project, const EnvLookup& env = default_env()) {
  ProjectSpec loaded = project.load(env);
  auto problems = connection_problems(loaded);
  if (problems.empty()) FAIL("expected problems in the connections");
  return problems;
}

// The one problem whose message contains `text`.
SpecProblem find_problem(const std::vector<SpecProblem>& problems, const std::string& text) {
  std::vector<SpecProblem> found;
  for (const auto& p : problems)
    if (p.message.find(text) != std::string::npos) found.push_back(p);
  INFO("looking for: " << text);
  for (const auto& p : problems) INFO("problem: " << p.to_string());
  if (found.size() != 1) {
    std::string all;
    for (const auto& p : problems) all += p.to_string() + "\n";
    FAIL("expected exactly one problem containing '" << text << "', got " << found.size() << ":\n" << all);
  }
  return found.front();
}

std::vector<SpecProblem> sync_problems(const std::string& toml, const std::string& name = "contacts") {
  Project project;
  return problems_of([&] { project.load_sync_text(name, toml); });
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

// Runs a test body in another working directory.
struct WorkingDirectory {
  fs::path saved = fs::current_path();
  explicit WorkingDirectory(const fs::path& dir) { fs::current_path(dir); }
  ~WorkingDirectory() { fs::current_path(saved); }
};

}  // namespace

TEST_CASE("a full valid spec loads every section", "[spec]") {
  Project project;
  const std::string sync_toml = R"(name      = "contacts"
title     = "Contacts into the warehouse"
direction = "one-way"
mode      = "mirror"
schedule  = "*/30 * * * *"
full_sync_every = "24h"

[source]
connection = "crm_export"
object     = "contacts"
fields     = ["email", "first_name", "last_name", "age", "address", "status"]
filter     = "status = 'active'"
key        = "id"
delimiter  = ";"

[destination]
connection = "warehouse"
object     = "people"
soft_delete_column = "deleted_at"
create_table = true

[match]
source      = "email"
destination = "email_address"
normalize   = ["trim", "lowercase"]

[field_map]
email      = "email_address"
first_name = { to = "first_name", transform = ["trim"] }
last_name  = { to = "last_name", transform = ["trim", "uppercase"], default = "Unknown" }
"address.city" = "city"
origin     = { to = "source_system", constant = "crm" }

[schema]
email_address = { type = "email", required = true }
age    = { type = "number" }
status = { type = "enumeration", options = ["active", "inactive"] }

[deletes]
propagate = "archive"
max       = "10%"

[conflicts]
strategy = "source-wins"
owners   = { phone = "destination" }
)";
  ProjectSpec p = project.load();
  fs::path file = project.write_sync("contacts", sync_toml);
  SyncSpec s = load_sync(file, p, fake_catalog, default_env());

  CHECK(s.file == file);
  CHECK(s.name == "contacts");
  CHECK(s.title == "Contacts into the warehouse");
  CHECK(s.direction == Direction::one_way);  // bidirectional specs: the [two-way] cases
  CHECK(s.mode == Mode::mirror);
  CHECK(s.schedule == "*/30 * * * *");
  REQUIRE(s.full_sync_every_ms);
  CHECK(*s.full_sync_every_ms == 24 * 3600 * 1000LL);

  CHECK(s.source.connection == "crm_export");
  CHECK(s.source.object == "contacts");
  CHECK(s.source.fields == std::vector<std::string>{"email", "first_name", "last_name", "age", "address", "status"});
  CHECK(s.source.filter == "status = 'active'");
  CHECK(s.source.filter_where.line == 12);
  CHECK(s.source.filter_where.column == 14);
  CHECK(s.source.key == "id");
  CHECK(s.source.options == nlohmann::json{{"delimiter", ";"}});
  CHECK(s.source.where.line == 8);

  CHECK(s.destination.connection == "warehouse");
  CHECK(s.destination.object == "people");
  CHECK(s.destination.options == nlohmann::json{{"soft_delete_column", "deleted_at"}, {"create_table", true}});

  CHECK(s.match.source == "email");
  CHECK(s.match.destination == "email_address");
  CHECK(s.match.normalize == std::vector<std::string>{"trim", "lowercase"});

  // Entries keep the order of the file.
  REQUIRE(s.field_map.size() == 5);
  CHECK(s.field_map[0].source == "email");
  CHECK(s.field_map[0].destination == "email_address");
  CHECK(s.field_map[0].transforms.empty());
  CHECK(s.field_map[0].where.line == 28);
  CHECK(s.field_map[0].where.column == 1);
  CHECK(s.field_map[1].source == "first_name");
  REQUIRE(s.field_map[1].transforms.size() == 1);
  CHECK(s.field_map[1].transforms[0].kind == Transform::Kind::trim);
  const auto& last = s.field_map[2];
  REQUIRE(last.transforms.size() == 3);
  CHECK(last.transforms[0].kind == Transform::Kind::trim);
  CHECK(last.transforms[1].kind == Transform::Kind::uppercase);
  CHECK(last.transforms[2].kind == Transform::Kind::default_value);
  CHECK(last.transforms[2].value == "Unknown");
  CHECK(s.field_map[3].source == "address.city");
  CHECK(s.field_map[3].destination == "city");
  const auto& origin = s.field_map[4];
  CHECK(origin.source.empty());
  CHECK(origin.destination == "source_system");
  REQUIRE(origin.transforms.size() == 1);
  CHECK(origin.transforms[0].kind == Transform::Kind::constant);
  CHECK(origin.transforms[0].value == "crm");

  REQUIRE(s.schema.size() == 3);
  CHECK(s.schema[0].name == "email_address");
  CHECK(s.schema[0].type == FieldType::email);
  CHECK(s.schema[0].required);
  CHECK(s.schema[1].type == FieldType::number);
  CHECK_FALSE(s.schema[1].required);
  CHECK(s.schema[2].type == FieldType::enumeration);
  CHECK(s.schema[2].options == std::vector<std::string>{"active", "inactive"});

  CHECK(s.deletes.propagate == DeletePropagation::archive);
  CHECK(s.deletes.max_is_percent);
  CHECK(s.deletes.max_value == 10);
  CHECK(s.conflicts.strategy == ConflictStrategy::source_wins);
  CHECK(s.conflicts.owners == std::map<std::string, std::string>{{"phone", "destination"}});
}

TEST_CASE("a minimal sync gets the documented defaults", "[spec]") {
  Project project;
  SyncSpec s = project.load_sync_text("crm-to-warehouse", kMinimalSync);
  CHECK(s.name == "crm-to-warehouse");
  CHECK(s.direction == Direction::one_way);
  CHECK(s.mode == Mode::upsert);
  CHECK(s.schedule.empty());
  CHECK_FALSE(s.full_sync_every_ms);
  CHECK(s.source.fields.empty());
  CHECK(s.source.filter.empty());
  CHECK(s.source.options == nlohmann::json::object());
  CHECK(s.deletes.propagate == DeletePropagation::remove);
  CHECK(s.deletes.max_is_percent);
  CHECK(s.deletes.max_value == 5);
  CHECK(s.conflicts.strategy == ConflictStrategy::most_recent_wins);
}

TEST_CASE("the project file resolves folders against its own folder and interpolates settings", "[spec]") {
  Project project;
  ProjectSpec p = project.load();
  fs::path base = fs::absolute(project.dir.path()).lexically_normal();
  CHECK(p.file == project.file);
  CHECK(p.base_dir == base);
  CHECK(p.state_dir == base / ".state");
  CHECK(p.syncs_dir == base / "syncs");
  REQUIRE(p.connections.size() == 2);
  const auto& csv = p.connections.at("crm_export");
  CHECK(csv.type == "csv");
  CHECK(csv.settings == nlohmann::json{{"path", "data/export"}});
  CHECK(csv.where.line == 3);
  CHECK(p.connections.at("warehouse").settings["path"] == "/srv/warehouse.db");
  CHECK(p.secrets.empty());  // `path` is not a credential
}

TEST_CASE("state_dir and syncs_dir default to .synctool and syncs", "[spec]") {
  Project project("[connections.a]\ntype = \"csv\"\npath = \"x\"\n");
  ProjectSpec p = project.load();
  CHECK(p.state_dir == p.base_dir / ".synctool");
  CHECK(p.syncs_dir == p.base_dir / "syncs");
  Project custom("state_dir = \"/var/lib/synctool\"\nsyncs_dir = \"specs\"\n");
  ProjectSpec q = custom.load();
  CHECK(q.state_dir == "/var/lib/synctool");
  CHECK(q.syncs_dir == q.base_dir / "specs");
}

TEST_CASE("a TOML syntax error is one problem with the parser's line and column", "[spec]") {
  auto problems = sync_problems("title = \"x\"\n[source]\nconnection = \n");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].where.line == 3);
  CHECK(problems[0].where.column == 14);
  CHECK(problems[0].message.find("TOML syntax error") != std::string::npos);
  CHECK(problems[0].message.find("expected value") != std::string::npos);
  CHECK(problems[0].to_string().find("contacts.toml:3:14: TOML syntax error") != std::string::npos);
}

TEST_CASE("an unknown key names its table and suggests the closest key", "[spec]") {
  auto problems = sync_problems(replaced(kMinimalSync, "object = \"contacts\"\n", "object = \"contacts\"\nfiter = \"x\"\n"));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "unknown key 'fiter' in [source] (did you mean 'filter'?)");
  CHECK(problems[0].where.line == 4);
  CHECK(problems[0].where.column == 1);
}

TEST_CASE("an unknown key without a close match lists the allowed keys", "[spec]") {
  auto problems = sync_problems("colour = \"blue\"\n" + std::string(kMinimalSync));
  auto p = find_problem(problems, "unknown key 'colour' at the top level");
  CHECK(p.message.find("allowed keys: name, title, direction") != std::string::npos);
  CHECK(p.where.line == 1);
  CHECK(p.where.column == 1);
}

TEST_CASE("a misspelt section header is reported as an unknown table", "[spec]") {
  auto problems = sync_problems(replaced(kMinimalSync, "[destination]", "[destinaton]"));
  REQUIRE(problems.size() == 2);
  auto table = find_problem(problems, "unknown table [destinaton] (did you mean [destination]?)");
  CHECK(table.where.line == 5);
  CHECK(table.where.column == 2);
  find_problem(problems, "missing [destination] table");
}

TEST_CASE("unknown keys are reported at every level", "[spec]") {
  std::string toml = std::string(kMinimalSync) +
                     "first_name = { to = \"first_name\", tranform = [\"trim\"] }\n"  // line 15
                     "\n[deletes]\nmaxx = 3\n";                                           // line 18
  toml = replaced(toml, "destination = \"email\"\n", "destination = \"email\"\nnormalise = [\"trim\"]\n");
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 3);
  auto normalize = find_problem(problems, "unknown key 'normalise' in [match] (did you mean 'normalize'?)");
  CHECK(normalize.where.line == 12);
  auto transform =
      find_problem(problems, "unknown key 'tranform' in the [field_map] entry first_name (did you mean 'transform'?)");
  CHECK(transform.where.line == 16);
  CHECK(transform.where.column == 35);
  auto max = find_problem(problems, "unknown key 'maxx' in [deletes] (did you mean 'max'?)");
  CHECK(max.where.line == 19);
}

TEST_CASE("an unknown connection type suggests a known one", "[spec]") {
  Project project("[connections.crm_export]\ntype = \"csvv\"\npath = \"x\"\n");
  auto problems = connection_problems_of(project);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "unknown connection type 'csvv' (did you mean 'csv'?)");
  CHECK(problems[0].where.line == 2);
  CHECK(problems[0].where.column == 8);
}

TEST_CASE("an unknown connection type far from any known one lists the known types", "[spec]") {
  Project project("[connections.crm]\ntype = \"oracle\"\n");
  auto problems = connection_problems_of(project);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "unknown connection type 'oracle' (known types: csv, sqlite)");
}

TEST_CASE("a connection without a type or a required key is an error naming the key", "[spec]") {
  Project project("[connections.a]\npath = \"x\"\n\n[connections.b]\ntype = \"sqlite\"\n");
  auto problems = connection_problems_of(project);
  REQUIRE(problems.size() == 2);
  auto type = find_problem(problems, "[connections.a] is missing required key 'type' (one of: csv, sqlite)");
  CHECK(type.where.line == 1);
  CHECK(type.where.column == 1);
  auto path = find_problem(problems, "[connections.b] is missing required key 'path'");
  CHECK(path.where.line == 4);
}

TEST_CASE("connection keys are checked against the catalog, common keys always allowed", "[spec]") {
  Project ok("[connections.api]\ntype = \"csv\"\npath = \"x\"\nbase_url = \"http://127.0.0.1:9000\"\n"
             "rate_limit = \"190/10s\"\nmax_in_flight = 4\n");
  auto p = ok.load();
  CHECK(p.connections.at("api").settings ==
        nlohmann::json{{"path", "x"}, {"base_url", "http://127.0.0.1:9000"}, {"rate_limit", "190/10s"}, {"max_in_flight", 4}});

  Project bad("[connections.api]\ntype = \"csv\"\npath = \"x\"\npth = \"y\"\nrate_limit = \"fast\"\nmax_in_flight = 0\n");
  auto problems = connection_problems_of(bad);
  REQUIRE(problems.size() == 3);
  CHECK(find_problem(problems, "unknown key 'pth' in [connections.api] (did you mean 'path'?)").where.line == 4);
  auto rate = find_problem(problems, "[connections.api] rate_limit: expected requests per period");
  CHECK(rate.message.find("'fast'") != std::string::npos);
  CHECK(rate.where.line == 5);
  CHECK(rate.where.column == 14);
  CHECK(find_problem(problems, "max_in_flight: expected a whole number of at least 1").where.line == 6);
}

TEST_CASE("missing [source] and [destination] tables and their required keys are errors", "[spec]") {
  auto missing_tables = sync_problems("[match]\nsource = \"email\"\ndestination = \"email\"\n[field_map]\nemail = \"email\"\n");
  REQUIRE(missing_tables.size() == 2);
  auto source = find_problem(missing_tables, "missing [source] table");
  CHECK(source.where.line == 0);
  CHECK(source.to_string().find("contacts.toml: missing [source] table: add [source] with 'connection'") !=
        std::string::npos);
  find_problem(missing_tables, "missing [destination] table");

  auto missing_keys = sync_problems(replaced(replaced(kMinimalSync, "connection = \"crm_export\"\n", ""),
                                             "object = \"contacts\"\n\n[match]", "\n[match]"));
  REQUIRE(missing_keys.size() == 2);
  auto connection = find_problem(missing_keys, "[source] is missing required key 'connection'");
  CHECK(connection.where.line == 1);
  CHECK(connection.where.column == 1);
  auto object = find_problem(missing_keys, "[destination] is missing required key 'object'");
  CHECK(object.where.line == 4);
}

TEST_CASE("a misspelt common key is reported even while the connection is unknown", "[spec]") {
  auto problems = sync_problems(replaced(kMinimalSync, "connection = \"crm_export\"\nobject = \"contacts\"\n",
                                         "connection = \"crm\"\nobject = \"contacts\"\nfiter = \"a = 1\"\n"));
  REQUIRE(problems.size() == 2);
  auto typo = find_problem(problems, "unknown key 'fiter' in [source] (did you mean 'filter'?)");
  CHECK(typo.where.line == 4);
  CHECK(typo.where.column == 1);
}

TEST_CASE("a source connection not defined in synctool.toml suggests the closest name", "[spec]") {
  auto problems = sync_problems(replaced(kMinimalSync, "\"crm_export\"", "\"crm_exprt\""));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("[source] connection 'crm_exprt' is not defined in ") == 0);
  CHECK(problems[0].message.find("synctool.toml (did you mean 'crm_export'?)") != std::string::npos);
  CHECK(problems[0].where.line == 2);
  CHECK(problems[0].where.column == 14);

  auto far = sync_problems(replaced(kMinimalSync, "\"crm_export\"", "\"zzz\""));
  REQUIRE(far.size() == 1);
  CHECK(far[0].message.find("(defined: crm_export, warehouse)") != std::string::npos);
}

TEST_CASE("endpoint options are checked against the connection type's source or destination keys", "[spec]") {
  // `query` is a sqlite source key, not a destination key; `delimiter` belongs to csv.
  std::string toml = replaced(kMinimalSync, "object = \"contacts\"\n\n[match]",
                              "object = \"contacts\"\nquery = \"select 1\"\ndelimiter = \",\"\n\n[match]");
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 2);
  auto query = find_problem(problems, "unknown key 'query' in [destination]");
  CHECK(query.where.line == 8);
  CHECK(query.message.find("allowed keys: connection, object, key, soft_delete_column, create_table") !=
        std::string::npos);
  find_problem(problems, "unknown key 'delimiter' in [destination]");
}

TEST_CASE("a field_map source field missing from source.fields is an error naming it", "[spec]") {
  std::string toml = replaced(kMinimalSync, "object = \"contacts\"\n\n[destination]",
                              "object = \"contacts\"\nfields = [\"email\"]\n\n[destination]");
  toml += "age = \"age\"\n\"address.city\" = \"city\"\n";
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 2);
  auto age = find_problem(problems, "[field_map] maps source field 'age', which is not in [source] fields");
  CHECK(age.where.line == 16);
  CHECK(age.where.column == 1);
  auto city = find_problem(problems, "source field 'address.city'");
  CHECK(city.where.line == 17);
}

TEST_CASE("the match source field must be among source.fields", "[spec]") {
  std::string toml = replaced(kMinimalSync, "object = \"contacts\"\n\n[destination]",
                              "object = \"contacts\"\nfields = [\"mail\"]\n\n[destination]");
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 2);
  auto match = find_problem(problems, "[match] source field 'email' is not in [source] fields");
  CHECK(match.where.line == 11);
  CHECK(match.where.column == 10);
  CHECK(find_problem(problems, "[field_map] maps source field 'email'").where.line == 15);
}

TEST_CASE("a match key that field_map does not carry to the destination is an error with the fix", "[spec]") {
  auto problems = sync_problems(replaced(kMinimalSync, "email = \"email\"\n", "name = \"name\"\n"));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("the match key is not mapped") != std::string::npos);
  CHECK(problems[0].message.find("add  email = \"email\"  to [field_map]") != std::string::npos);
  CHECK(problems[0].where.line == 10);
  CHECK(problems[0].where.column == 10);

  // Mapped, but to another destination field.
  auto elsewhere = sync_problems(replaced(kMinimalSync, "email = \"email\"\n", "email = \"mail\"\n"));
  REQUIRE(elsewhere.size() == 1);
  CHECK(elsewhere[0].message.find("(it is mapped only to 'mail')") != std::string::npos);

  // No [field_map] at all.
  auto none = sync_problems(replaced(kMinimalSync, "\n[field_map]\nemail = \"email\"\n", ""));
  REQUIRE(none.size() == 1);
  CHECK(none[0].message.find("the match key is not mapped") != std::string::npos);
}

TEST_CASE("a sync without [match] is an error explaining what match is for", "[spec]") {
  auto problems = sync_problems(replaced(kMinimalSync, "[match]\nsource = \"email\"\ndestination = \"email\"\n", ""));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("missing [match] table: add [match] with 'source' and 'destination'") == 0);
  CHECK(problems[0].where.line == 0);

  auto partial = sync_problems(replaced(kMinimalSync, "destination = \"email\"\n", ""));
  REQUIRE(partial.size() == 1);
  CHECK(partial[0].message.find("[match] is missing required key 'destination'") == 0);
  CHECK(partial[0].where.line == 9);
}

TEST_CASE("bad enumerated values name the value and list the allowed ones", "[spec]") {
  std::string toml = "direction = \"oneway\"\nmode = \"sync\"\n" + std::string(kMinimalSync);
  toml = replaced(toml, "destination = \"email\"\n", "destination = \"email\"\nnormalize = [\"trim\", \"casefold\"]\n");
  toml += "name = { to = \"name\", transform = [\"capitalize\"] }\n";
  toml += "\n[schema]\nemail = { type = \"text\" }\n";
  toml += "\n[deletes]\npropagate = \"remove\"\n";
  toml += "\n[conflicts]\nstrategy = \"newest-wins\"\nowners = { phone = \"dest\" }\n";
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 8);

  auto direction = find_problem(problems, "direction: 'oneway' is not valid; expected one of 'one-way', "
                                          "'bidirectional' (did you mean 'one-way'?)");
  CHECK(direction.where.line == 1);
  CHECK(direction.where.column == 13);
  CHECK(find_problem(problems, "mode: 'sync' is not valid; expected one of 'upsert', 'mirror', 'append'").where.line ==
        2);
  auto normalize = find_problem(problems, "[match] normalize: 'casefold' is not valid; expected one of 'trim', "
                                          "'lowercase', 'uppercase'");
  CHECK(normalize.where.line == 14);
  CHECK(normalize.where.column == 22);
  CHECK(find_problem(problems, "[field_map] name transform: 'capitalize' is not valid").where.line == 18);
  auto type = find_problem(problems, "[schema] email type: 'text' is not valid; expected one of 'string', 'number', "
                                     "'bool', 'datetime', 'email', 'enumeration'");
  CHECK(type.where.line == 21);
  find_problem(problems, "[deletes] propagate: 'remove' is not valid; expected one of 'ignore', 'archive', 'delete'");
  find_problem(problems, "[conflicts] strategy: 'newest-wins' is not valid; expected one of 'most-recent-wins', "
                         "'source-wins', 'destination-wins', 'manual'");
  find_problem(problems, "[conflicts] owners.phone: 'dest' is not valid; expected one of 'source', 'destination'");
}

TEST_CASE("a value of the wrong type says what was expected", "[spec]") {
  std::string toml = replaced(kMinimalSync, "object = \"contacts\"\n\n[destination]",
                              "object = \"contacts\"\nfields = \"email\"\n\n[destination]");
  toml = "title = 3\n" + toml;
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 2);
  auto fields = find_problem(problems, "[source] fields: expected an array of strings");
  CHECK(fields.message.find("got a string") != std::string::npos);
  CHECK(fields.where.line == 5);
  CHECK(fields.where.column == 10);
  CHECK(find_problem(problems, "title: expected a string, got a whole number").where.line == 1);

  auto items = sync_problems(replaced(kMinimalSync, "object = \"contacts\"\n\n[destination]",
                                      "object = \"contacts\"\nfields = [\"email\", 7]\n\n[destination]"));
  REQUIRE(items.size() == 1);
  CHECK(items[0].message.find("[source] fields: expected a string, got a whole number") == 0);
  CHECK(items[0].where.column == 20);
}

TEST_CASE("deletes.max accepts a percentage or a count and rejects anything else", "[spec]") {
  Project project;
  auto with_max = [&](const std::string& value) {
    return std::string(kMinimalSync) + "\n[deletes]\nmax = " + value + "\n";
  };
  SyncSpec count = project.load_sync_text("contacts", with_max("12"));
  CHECK_FALSE(count.deletes.max_is_percent);
  CHECK(count.deletes.max_value == 12);
  SyncSpec percent = project.load_sync_text("contacts", with_max("\"2.5%\""));
  CHECK(percent.deletes.max_is_percent);
  CHECK(percent.deletes.max_value == 2.5);
  SyncSpec zero = project.load_sync_text("contacts", with_max("0"));
  CHECK(zero.deletes.max_value == 0);

  for (const std::string bad : {"\"150%\"", "-1", "\"lots\"", "\"5\"", "1.5", "\"%\""}) {
    INFO(bad);
    auto problems = sync_problems(with_max(bad));
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].message.find("[deletes] max: expected a percentage of linked records such as \"5%\"") == 0);
    CHECK(problems[0].where.line == 17);
    CHECK(problems[0].where.column == 7);
  }
}

TEST_CASE("schedule and full_sync_every must have a valid shape", "[spec]") {
  Project project;
  for (const std::string good : {"*/30 * * * *", "15m", "1h30m", "0 3 * * 1-5", "5,35 0-23/2 1 1,6 0"}) {
    INFO(good);
    CHECK(project.load_sync_text("contacts", "schedule = \"" + good + "\"\n" + kMinimalSync).schedule == good);
  }
  for (const std::string bad : {"*/30 * * *", "61 * * * *", "every hour", "* * * * mon", "*/0 * * * *", "5-1 * * * *"}) {
    INFO(bad);
    auto problems = sync_problems("schedule = \"" + bad + "\"\n" + kMinimalSync);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].message.find("schedule '" + bad + "' is not valid: ") == 0);
    CHECK(problems[0].where.line == 1);
    CHECK(problems[0].where.column == 12);
  }
  auto range = sync_problems("schedule = \"0 24 * * *\"\n" + std::string(kMinimalSync));
  CHECK(range[0].message.find("hour field: 24 is out of range 0-23") != std::string::npos);

  auto duration = sync_problems("full_sync_every = \"daily\"\n" + std::string(kMinimalSync));
  REQUIRE(duration.size() == 1);
  CHECK(duration[0].message.find("full_sync_every 'daily' is not a duration; write it like \"24h\"") == 0);
  CHECK(duration[0].where.column == 19);
}

TEST_CASE("a name that differs from the file name is an error", "[spec]") {
  auto problems = sync_problems("name = \"contacts-v2\"\n" + std::string(kMinimalSync), "contacts");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("name 'contacts-v2' does not match the file name 'contacts.toml'") == 0);
  CHECK(problems[0].where.line == 1);
  CHECK(problems[0].where.column == 8);
}

TEST_CASE("field_map entries must be a name or a table with 'to'", "[spec]") {
  std::string toml = std::string(kMinimalSync) + "a = { transform = [\"trim\"] }\nb = 3\nc = { to = \"c\", default = 1, constant = 2 }\n";
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 3);
  auto a = find_problem(problems, "[field_map] a is missing required key 'to'");
  CHECK(a.where.line == 15);
  CHECK(a.where.column == 5);
  auto b = find_problem(problems, "[field_map] b: expected a destination field name such as \"email\"");
  CHECK(b.message.find("got a whole number") != std::string::npos);
  find_problem(problems, "'default' has no effect together with 'constant'");
}

TEST_CASE("two field_map entries writing the same destination field are an error", "[spec]") {
  auto problems = sync_problems(std::string(kMinimalSync) + "mail = \"email\"\n");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message ==
        "[field_map] destination field 'email' is already mapped from 'email' (line 14); map each destination "
        "field once");
  CHECK(problems[0].where.line == 15);
}

TEST_CASE("an enumeration in [schema] needs options, and options need an enumeration", "[spec]") {
  std::string toml = std::string(kMinimalSync) +
                     "\n[schema]\nstatus = { type = \"enumeration\" }\nemail = { type = \"email\", options = [\"a\"] }\n";
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 2);
  auto status = find_problem(problems, "[schema] status: type 'enumeration' needs a non-empty list of allowed values");
  CHECK(status.where.line == 17);
  CHECK(find_problem(problems, "'options' only applies to types 'enumeration' and 'multiselect', not 'email'").where.line == 18);
}

TEST_CASE("${NAME} is replaced from the environment and $${ stays literal", "[spec]") {
  // A connector type with credential keys.
  const ConnectorKeys api_keys{{"path", "api_token", "dsn"}, {}, {}, {}};
  ConnectorCatalog catalog = [&](const std::string& type) { return type == "api" ? &api_keys : nullptr; };
  Project project(
      "[connections.api]\ntype = \"api\"\npath = \"$${HOME}/${DIR}/x\"\napi_token = \"Bearer ${API_TOKEN}\"\n"
      "dsn = \"${DSN}\"\n");
  ProjectSpec p = load_project(project.file, catalog,
                               env_of({{"DIR", "data"}, {"API_TOKEN", "s3cr3t-t0ken"}, {"DSN", "pg://u:pw@h/db"}}));
  const auto& settings = p.connections.at("api").settings;
  CHECK(settings["path"] == "${HOME}/data/x");
  CHECK(settings["api_token"] == "Bearer s3cr3t-t0ken");
  CHECK(settings["dsn"] == "pg://u:pw@h/db");
  // Credential-looking keys: the substituted value and the whole resulting value are secrets.
  CHECK(p.secrets == std::vector<std::string>{"s3cr3t-t0ken", "Bearer s3cr3t-t0ken", "pg://u:pw@h/db"});
}

TEST_CASE("${NAME:-fallback} takes the fallback when NAME is unset or empty", "[spec]") {
  const ConnectorKeys api_keys{{"path", "base_url", "api_token"}, {}, {}, {}};
  ConnectorCatalog catalog = [&](const std::string& type) { return type == "api" ? &api_keys : nullptr; };
  Project project(
      "[connections.api]\ntype = \"api\"\npath = \"${DIR:-data}/x\"\nbase_url = \"${API_URL:-https://api.example.com}\"\n"
      "api_token = \"${API_TOKEN:-}\"\n");
  ProjectSpec unset = load_project(project.file, catalog, env_of({}));
  CHECK(unset.connections.at("api").settings["path"] == "data/x");
  CHECK(unset.connections.at("api").settings["base_url"] == "https://api.example.com");
  CHECK(unset.connections.at("api").settings["api_token"] == "");
  ProjectSpec empty = load_project(project.file, catalog, env_of({{"DIR", ""}, {"API_URL", "http://127.0.0.1:9"}}));
  CHECK(empty.connections.at("api").settings["path"] == "data/x");
  CHECK(empty.connections.at("api").settings["base_url"] == "http://127.0.0.1:9");
}

TEST_CASE("an unset environment variable is named with its location and a set one never shows", "[spec]") {
  Project project("[connections.warehouse]\ntype = \"sqlite\"\npath = \"x.db\"\n\n\n\ntoken = \"${WAREHOUSE_TOKEN}\"\n");
  auto problems = connection_problems_of(project, env_of({}));
  REQUIRE(problems.size() == 2);  // the unset variable, and `token` is not a sqlite key
  auto unset = find_problem(problems, "environment variable WAREHOUSE_TOKEN is not set");
  CHECK(unset.to_string() == project.file.string() + ":7:9: environment variable WAREHOUSE_TOKEN is not set");

  // A value from the environment is quoted as written, never as substituted.
  const std::string secret = "hunter2-very-secret";
  Project leaky("[connections.warehouse]\ntype = \"${SECRET}\"\npath = \"x\"\nrate_limit = \"${SECRET}\"\n"
                "password = \"${SECRET}\"\n");
  {
    const SpecError e(connection_problems_of(leaky, env_of({{"SECRET", secret}})));
    CHECK(std::string(e.what()).find(secret) == std::string::npos);
    CHECK(std::string(e.what()).find("unknown connection type '${SECRET}'") != std::string::npos);
    for (const auto& p : e.problems()) CHECK(p.to_string().find(secret) == std::string::npos);
  }

  auto sync = sync_problems("title = \"${SECRET}\"\ndirection = \"${WAREHOUSE_DB}\"\n" + std::string(kMinimalSync));
  REQUIRE(sync.size() == 2);
  find_problem(sync, "environment variable SECRET is not set");
  auto direction = find_problem(sync, "direction: '${WAREHOUSE_DB}' is not valid");
  CHECK(direction.message.find("/srv/warehouse.db") == std::string::npos);
}

TEST_CASE("malformed ${ references are errors", "[spec]") {
  auto problems = sync_problems("title = \"a ${unclosed\"\n" + std::string(kMinimalSync));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("unterminated '${'") == 0);
  auto bad_name = sync_problems("title = \"${1X}\"\n" + std::string(kMinimalSync));
  REQUIRE(bad_name.size() == 1);
  CHECK(bad_name[0].message.find("'${1X}' is not a valid environment variable reference") == 0);
}

TEST_CASE("every problem in a file is reported at once, in file order", "[spec]") {
  std::string toml = "mode = \"upsrt\"\n" + replaced(kMinimalSync, "object = \"contacts\"\n", "object = \"contacts\"\nfiter = \"x\"\n");
  toml += "\n[deletes]\nmax = \"500%\"\n";
  auto problems = sync_problems(toml);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0].message.find("mode: 'upsrt'") == 0);
  CHECK(problems[1].message.find("unknown key 'fiter'") == 0);
  CHECK(problems[2].message.find("[deletes] max") == 0);
  CHECK(problems[0].where.line < problems[1].where.line);
  CHECK(problems[1].where.line < problems[2].where.line);
}

TEST_CASE("a SpecError's message lists every problem, one per line", "[spec]") {
  SpecError error({SpecProblem{{"a.toml", 3, 7}, "first"}, SpecProblem{{"b.toml", 0, 0}, "second"},
                   SpecProblem{{"", 0, 0}, "third"}});
  CHECK(std::string(error.what()) == "a.toml:3:7: first\nb.toml: second\nthird");
  CHECK(SpecProblem{{"c.toml", 4, 0}, "x"}.to_string() == "c.toml:4: x");
}

TEST_CASE("the identity hash changes with what identifies records and nothing else", "[spec]") {
  Project project;
  SyncSpec base = project.load_sync_text("contacts", kMinimalSync);
  SyncSpec retitled = project.load_sync_text("contacts", "title = \"Renamed\"\n" + std::string(kMinimalSync) +
                                                             "first = \"first\"\n");
  CHECK(base.identity_hash() == retitled.identity_hash());
  CHECK(base.identity_hash().size() == 64);
  SyncSpec normalized = project.load_sync_text(
      "contacts", replaced(kMinimalSync, "destination = \"email\"\n", "destination = \"email\"\nnormalize = [\"lowercase\"]\n"));
  CHECK(base.identity_hash() != normalized.identity_hash());
  SyncSpec other_object = project.load_sync_text("contacts", replaced(kMinimalSync, "object = \"contacts\"\n\n[match]",
                                                                      "object = \"people\"\n\n[match]"));
  CHECK(base.identity_hash() != other_object.identity_hash());
}

TEST_CASE("enumerations print as they are written in a spec", "[spec]") {
  CHECK(std::string(to_string(Direction::one_way)) == "one-way");
  CHECK(std::string(to_string(Direction::bidirectional)) == "bidirectional");
  CHECK(std::string(to_string(Mode::upsert)) == "upsert");
  CHECK(std::string(to_string(Mode::mirror)) == "mirror");
  CHECK(std::string(to_string(Mode::append)) == "append");
  CHECK(std::string(to_string(DeletePropagation::ignore)) == "ignore");
  CHECK(std::string(to_string(DeletePropagation::archive)) == "archive");
  CHECK(std::string(to_string(DeletePropagation::remove)) == "delete");
  CHECK(std::string(to_string(ConflictStrategy::most_recent_wins)) == "most-recent-wins");
  CHECK(std::string(to_string(ConflictStrategy::source_wins)) == "source-wins");
  CHECK(std::string(to_string(ConflictStrategy::destination_wins)) == "destination-wins");
  CHECK(std::string(to_string(ConflictStrategy::manual)) == "manual");
  CHECK(std::string(to_string(FieldType::string)) == "string");
  CHECK(std::string(to_string(FieldType::number)) == "number");
  CHECK(std::string(to_string(FieldType::boolean)) == "bool");
  CHECK(std::string(to_string(FieldType::datetime)) == "datetime");
  CHECK(std::string(to_string(FieldType::email)) == "email");
  CHECK(std::string(to_string(FieldType::enumeration)) == "enumeration");
}

TEST_CASE("find_project_file uses --config or ./synctool.toml", "[spec]") {
  Project project;
  CHECK(find_project_file(project.file.string()) == project.file);
  CHECK(find_project_file(project.dir.path().string()) == project.dir.path() / "synctool.toml");
  auto missing = problems_of([&] { find_project_file((project.dir / "nope.toml").string()); });
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].message.find("nope.toml does not exist") != std::string::npos);

  {
    WorkingDirectory cwd(project.dir.path());
    CHECK(find_project_file("") == "synctool.toml");
  }
  TempDir empty;
  WorkingDirectory cwd(empty.path());
  auto none = problems_of([] { find_project_file(""); });
  REQUIRE(none.size() == 1);
  CHECK(none[0].message.find("no synctool.toml in ") == 0);
  CHECK(none[0].message.find("; pass --config") != std::string::npos);
}

TEST_CASE("sync names resolve to files in syncs_dir with a hint for typos", "[spec]") {
  Project project;
  project.write_sync("contacts", kMinimalSync);
  project.write_sync("accounts", kMinimalSync);
  write_file(project.dir / "syncs" / "notes.txt", "not a sync");
  ProjectSpec p = project.load();

  auto files = all_sync_files(p);
  REQUIRE(files.size() == 2);
  CHECK(files[0].filename() == "accounts.toml");
  CHECK(files[1].filename() == "contacts.toml");
  CHECK(sync_file(p, "contacts") == p.syncs_dir / "contacts.toml");

  auto typo = problems_of([&] { sync_file(p, "contcts"); });
  REQUIRE(typo.size() == 1);
  CHECK(typo[0].message == "unknown sync 'contcts' (did you mean 'contacts'?)");
  auto far = problems_of([&] { sync_file(p, "zzz"); });
  CHECK(far[0].message == "unknown sync 'zzz' (defined syncs: accounts, contacts)");
  auto escape = problems_of([&] { sync_file(p, "../synctool"); });
  CHECK(escape[0].message.find("unknown sync '../synctool'") == 0);
}

TEST_CASE("a connection with an unset variable fails only the syncs that use it, at their connection line",
          "[spec]") {
  Project project;  // warehouse.path is "${WAREHOUSE_DB}"
  ProjectSpec p = project.load(env_of({}));  // not set on this machine: the project still loads
  const auto& warehouse = p.connections.at("warehouse");
  REQUIRE(warehouse.problems.size() == 1);
  CHECK(warehouse.problems[0].to_string() == project.file.string() + ":9:8: environment variable WAREHOUSE_DB is not set");
  CHECK(warehouse.type == "sqlite");
  CHECK_FALSE(warehouse.settings.contains("path"));
  CHECK(p.connections.at("crm_export").problems.empty());
  CHECK(connection_problems(p).size() == 1);

  // A sync between two good connections loads.
  const std::string csv_only = replaced(kMinimalSync, "connection = \"warehouse\"", "connection = \"crm_export\"");
  auto good = load_sync(project.write_sync("exports", csv_only), p, fake_catalog, env_of({}));
  CHECK(good.destination.connection == "crm_export");

  // A sync writing to the broken connection names it at its own line, quoting the cause.
  auto problems = problems_of([&] { load_sync(project.write_sync("contacts", kMinimalSync), p, fake_catalog, env_of({})); });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].where.file == (project.dir / "syncs" / "contacts.toml").string());
  CHECK(problems[0].where.line == 6);
  CHECK(problems[0].where.column == 14);
  CHECK(problems[0].message == "[destination] connection 'warehouse' cannot be used: " + project.file.string() +
                                   ":9:8: environment variable WAREHOUSE_DB is not set");
}

TEST_CASE("every problem inside a connection's table stays with that connection; others fail the project",
          "[spec]") {
  Project project("state_dir = \".state\"\nconnections.plain = 5\n\n[connections.crm_export]\ntype = \"csv\"\n"
                  "path = \"x\"\n\n[connections.bad]\ntype = \"csv\"\npth = \"x\"\nmax_in_flight = 0\n");
  ProjectSpec p = project.load();
  CHECK(p.connections.at("crm_export").problems.empty());
  const auto& plain = p.connections.at("plain");
  REQUIRE(plain.problems.size() == 1);
  CHECK(plain.problems[0].message.find("[connections.plain]: expected a table") == 0);
  CHECK(plain.where.line == 2);
  const auto& bad = p.connections.at("bad");
  REQUIRE(bad.problems.size() == 3);  // the typo, the missing path, the bad max_in_flight
  CHECK(bad.problems[0].where.line == 8);  // missing 'path': at the table's header
  CHECK(bad.problems[1].where.line == 10);
  CHECK(bad.problems[2].where.line == 11);
  auto all = connection_problems(p);
  REQUIRE(all.size() == 4);
  CHECK(all[0].where.line == 2);  // in file order across connections
  CHECK(all[3].where.line == 11);

  auto sync = problems_of([&] {
    load_sync(project.write_sync("contacts", replaced(kMinimalSync, "\"warehouse\"", "\"plain\"")), p, fake_catalog,
              default_env());
  });
  REQUIRE(sync.size() == 1);
  CHECK(sync[0].message.find("[destination] connection 'plain' cannot be used: ") == 0);

  // A problem outside the connections is the project's own.
  Project broken("stat_dir = \".state\"\n[connections.crm_export]\ntype = \"csv\"\npath = \"x\"\n");
  auto problems = problems_of([&] { broken.load(); });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("unknown key 'stat_dir'") == 0);
}

TEST_CASE("the loader records where every connection and endpoint key is written", "[spec]") {
  Project project("[connections.crm_export]\ntype = \"csv\"\n  rate_limit = \"10/s\"\npath = \"x\"\n\n"
                  "[connections.warehouse]\ntype = \"sqlite\"\npath = \"${WAREHOUSE_DB}\"\n");
  ProjectSpec p = project.load();
  const auto& crm = p.connections.at("crm_export").key_where;
  REQUIRE(crm.size() == 3);
  CHECK(crm.at("type").line == 2);
  CHECK(crm.at("rate_limit").line == 3);
  CHECK(crm.at("rate_limit").column == 3);
  CHECK(crm.at("rate_limit").file == project.file.string());
  CHECK(crm.at("path").line == 4);
  CHECK(p.connections.at("warehouse").key_where.at("path").line == 8);

  auto sync = load_sync(project.write_sync("contacts", replaced(kMinimalSync, "object = \"contacts\"\n\n[match]",
                                                                "object = \"contacts\"\ncreate_table = \"yes\"\n\n[match]")),
                        p, fake_catalog, default_env());
  CHECK(sync.source.key_where.at("connection").line == 2);
  CHECK(sync.source.key_where.at("object").line == 3);
  CHECK(sync.destination.key_where.at("object").line == 7);
  CHECK(sync.destination.key_where.at("create_table").line == 8);
  CHECK(sync.destination.key_where.at("create_table").column == 1);
  CHECK(sync.destination.key_where.size() == 3);
}

namespace {

// A connector type that manages its schema, as HubSpot does.
const ConnectorKeys kCrmKeys = [] {
  ConnectorKeys keys{{"token"}, {}, {}, {}};
  keys.schema_mode = "properties";
  keys.schema_types = {"string", "number", "bool", "enumeration"};
  keys.schema_name_problem = [](const std::string& name) -> std::string {
    return name.find('.') == std::string::npos ? "" : "property names cannot contain dots";
  };
  return keys;
}();

const ConnectorKeys* schema_catalog(const std::string& type) {
  if (type == "crm") return &kCrmKeys;
  return fake_catalog(type);
}

const char* const kSchemaProject = R"([connections.crm_export]
type = "csv"
path = "data/export"

[connections.crm]
type = "crm"
token = "t"

[connections.warehouse]
type = "sqlite"
path = "w.db"
)";

std::string schema_sync(const std::string& destination, const std::string& manage, const std::string& schema) {
  return manage + "\n" + R"([source]
connection = "crm_export"
object = "contacts"

[destination]
connection = ")" + destination + R"("
object = "contacts"

[match]
source = "email"
destination = "email"

[field_map]
email = "email"
plan = "plan"

)" + schema;
}

std::vector<SpecProblem> schema_problems(const std::string& toml) {
  Project project(kSchemaProject);
  auto p = load_project(project.file, schema_catalog, {"csv", "sqlite", "crm"}, default_env());
  auto file = project.write_sync("s", toml);
  return problems_of([&] { load_sync(file, p, schema_catalog, default_env()); });
}

}  // namespace

TEST_CASE("manage_schema is accepted when the destination manages that kind of schema", "[spec][schema]") {
  Project project(kSchemaProject);
  auto p = load_project(project.file, schema_catalog, {"csv", "sqlite", "crm"}, default_env());
  auto file = project.write_sync(
      "s", schema_sync("crm", "manage_schema = \"properties\"",
                       "[schema]\nplan = { type = \"enumeration\", options = [\"free\", \"pro\"] }\n"));
  auto sync = load_sync(file, p, schema_catalog, default_env());
  CHECK(sync.manage_schema == "properties");
  REQUIRE(sync.schema.size() == 1);
  CHECK(sync.schema[0].type == FieldType::enumeration);
}

TEST_CASE("manage_schema errors name the type the destination cannot hold, the mode and the field name",
          "[spec][schema]") {
  auto json_type = schema_problems(schema_sync("crm", "manage_schema = \"properties\"",
                                               "[schema]\nplan = { type = \"json\" }\n"));
  auto p = find_problem(json_type, "cannot hold type 'json'");
  CHECK(p.where.line == 19);

  auto no_schema = schema_problems(schema_sync("crm", "manage_schema = \"properties\"", ""));
  find_problem(no_schema, "needs a [schema] table");

  auto wrong_mode = schema_problems(schema_sync("crm", "manage_schema = \"columns\"",
                                                "[schema]\nplan = { type = \"string\" }\n"));
  find_problem(wrong_mode, "manages 'properties', not 'columns'");

  auto unmanaged = schema_problems(schema_sync("warehouse", "manage_schema = \"properties\"",
                                               "[schema]\nplan = { type = \"string\" }\n"));
  find_problem(unmanaged, "cannot manage its schema");

  auto dotted = schema_problems(schema_sync("crm", "manage_schema = \"properties\"",
                                            "[schema]\n\"a.b\" = { type = \"string\" }\n"));
  find_problem(dotted, "property names cannot contain dots");
}

TEST_CASE("multiselect needs options like enumeration; date and json take none", "[spec][schema]") {
  auto missing = schema_problems(schema_sync("warehouse", "", "[schema]\nplan = { type = \"multiselect\" }\n"));
  find_problem(missing, "type 'multiselect' needs a non-empty list");
  auto stray = schema_problems(
      schema_sync("warehouse", "", "[schema]\nplan = { type = \"date\", options = [\"x\"] }\n"));
  find_problem(stray, "'options' only applies to types 'enumeration' and 'multiselect', not 'date'");
}

TEST_CASE("bidirectional: field directions, [conflicts] empty and baseline are read", "[spec][two-way]") {
  Project project;
  const std::string toml = "direction = \"bidirectional\"\n" + std::string(kMinimalSync) +
                           "name = { to = \"full_name\", direction = \"to-destination\", transform = [\"trim\"] }\n"
                           "status = { to = \"status\", direction = \"to-source\" }\n"
                           "phone = \"phone\"\n"
                           "[conflicts]\nstrategy = \"manual\"\nempty = \"ignore\"\nbaseline = \"destination\"\n"
                           "owners = { phone = \"destination\" }\n";
  SyncSpec s = project.load_sync_text("contacts", toml);
  CHECK(s.direction == Direction::bidirectional);
  REQUIRE(s.field_map.size() == 4);
  CHECK(s.field_map[0].direction == FieldDirection::both);
  CHECK(s.field_map[1].direction == FieldDirection::to_destination);
  CHECK(s.field_map[2].direction == FieldDirection::to_source);
  CHECK(s.conflicts.strategy == ConflictStrategy::manual);
  CHECK(s.conflicts.ignore_empty);
  CHECK(s.conflicts.baseline == BaselineWinner::destination);
  CHECK(s.conflicts.owners.at("phone") == "destination");
}

TEST_CASE("bidirectional: what cannot flow back is a spec error naming the line", "[spec][two-way]") {
  const std::string two_way = "direction = \"bidirectional\"\n";
  SECTION("a transform on a field written back") {
    auto problems = sync_problems(two_way + kMinimalSync + "name = { to = \"full_name\", transform = [\"trim\"] }\n");
    auto p = find_problem(problems, "transforms and defaults cannot be reversed");
    CHECK(p.where.line == 16);  // its [field_map] line
  }
  SECTION("a constant written back") {
    auto problems = sync_problems(two_way + kMinimalSync + "x = { to = \"tier\", constant = \"gold\" }\n");
    find_problem(problems, "a constant can only be written to the destination");
  }
  SECTION("the match field given a direction") {
    auto problems = sync_problems(two_way + replaced(kMinimalSync, "email = \"email\"",
                                                     "email = { to = \"email\", direction = \"to-source\" }"));
    find_problem(problems, "the match field must be written both ways");
  }
  SECTION("append mode") {
    auto problems = sync_problems("mode = \"append\"\n" + two_way + kMinimalSync);
    find_problem(problems, "cannot be bidirectional");
  }
  SECTION("an owner of a field nothing maps") {
    auto problems = sync_problems(two_way + kMinimalSync + "[conflicts]\nowners = { phnoe = \"source\" }\n");
    find_problem(problems, "owners.phnoe: no [field_map] entry maps a field of that name");
  }
  SECTION("to-source on a one-way sync") {
    auto problems = sync_problems(std::string(kMinimalSync) + "status = { to = \"status\", direction = \"to-source\" }\n");
    find_problem(problems, "needs direction = \"bidirectional\"");
  }
  SECTION("unknown values") {
    auto problems = sync_problems(two_way + kMinimalSync + "[conflicts]\nempty = \"skip\"\nbaseline = \"newest\"\n");
    find_problem(problems, "[conflicts] empty");
    find_problem(problems, "[conflicts] baseline");
  }
}

TEST_CASE("bidirectional: a filter may only read fields [field_map] writes back to the source", "[spec][two-way]") {
  Project project;
  auto with_filter = [](const std::string& filter, const std::string& extra) {
    return "direction = \"bidirectional\"\n" +
           replaced(kMinimalSync, "object = \"contacts\"\n", "object = \"contacts\"\nfilter = \"" + filter + "\"\n") +
           extra;
  };
  SyncSpec ok = project.load_sync_text("contacts", with_filter("stage = 'customer'", "stage = \"lifecycle\"\n"));
  synctool::engine::CompiledSync compiled(ok);
  CHECK(compiled.destination_in_scope({{"lifecycle", "customer"}}));
  CHECK_FALSE(compiled.destination_in_scope({{"lifecycle", "lead"}}));
  CHECK_FALSE(compiled.destination_in_scope(nlohmann::json::object()));

  for (const std::string& extra : {std::string(), std::string("stage = { to = \"lifecycle\", direction = \"to-destination\" }\n")}) {
    SyncSpec s = project.load_sync_text("contacts", with_filter("stage = 'customer'", extra));
    try {
      synctool::engine::CompiledSync refused(s);
      FAIL("a filter on a field not written back was accepted");
    } catch (const synctool::spec::SpecError& e) {
      CHECK_THAT(e.what(), Catch::Contains("[source] filter uses field 'stage', which [field_map] does not map both ways"));
    }
  }
}
