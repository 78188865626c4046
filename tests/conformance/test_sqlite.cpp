#include "conformance/conformance.hpp"
#include "connectors/sqlite/sqlite_db.hpp"
#include "support/temp_dir.hpp"
#include "util/clock.hpp"

#include <catch2/catch.hpp>

#include <fstream>

namespace synctool::testing {

namespace {

using connectors::ConnectionConfig;
using connectors::ConnectorError;
using connectors::ErrorKind;
using connectors::Json;
using connectors::ObjectRef;
using connectors::OpKind;
using connectors::Page;
using connectors::Record;
using connectors::WriteOp;
using connectors::sqlite::Database;
using connectors::sqlite::Statement;

constexpr const char* kContactsTable =
    "CREATE TABLE contacts(email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, updated_at TEXT, "
    "deleted_at TEXT)";
// The conformance suite's table: the contacts, and two columns for JSON text.
constexpr const char* kConformanceTable =
    "CREATE TABLE contacts(email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, updated_at TEXT, "
    "deleted_at TEXT, address TEXT, tags TEXT)";

// A clock the test moves by hand; the connector stamps soft deletes with it.
class ManualClock final : public util::Clock {
 public:
  std::int64_t now_ms() const override { return now_; }
  std::int64_t steady_ms() const override { return now_; }
  void sleep_ms(std::int64_t ms) const override { now_ += ms; }
  void advance(std::int64_t ms) { now_ += ms; }

 private:
  mutable std::int64_t now_ = *util::parse_iso8601("2026-03-01T12:00:00Z");
};

// The timestamp form the connector writes: fixed width, with milliseconds.
std::string stamp(std::int64_t ms) {
  auto text = util::format_iso8601(ms);
  if (text.find('.') == std::string::npos) text.insert(text.size() - 1, ".000");
  return text;
}

// A database file with the contacts table, a connection to it and a clock.
struct SqliteFixture {
  TempDir dir;
  ManualClock clock;
  std::filesystem::path file() const { return dir.path() / "crm.sqlite"; }

  explicit SqliteFixture(const char* schema = kContactsTable) {
    Database database(file().string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
    if (schema) database.exec(schema);
  }

  ConnectionConfig config(Json settings = Json::object()) const {
    ConnectionConfig config;
    config.name = "crm";
    config.type = "sqlite";
    config.settings = settings.empty() ? Json{{"path", "crm.sqlite"}} : std::move(settings);
    config.base_dir = dir.path().string();
    config.clock = &clock;
    return config;
  }
  std::unique_ptr<connectors::Connector> connector(Json settings = Json::object()) const {
    return connectors::make_connector(config(std::move(settings)));
  }
  void exec(const std::string& sql) const {
    Database database(file().string(), SQLITE_OPEN_READWRITE, 1000);
    database.exec(sql);
  }
  // The first column of the first row as text ("NULL" for NULL).
  std::string query(const std::string& sql) const {
    Database database(file().string(), SQLITE_OPEN_READWRITE, 1000);
    Statement statement(database.get(), sql);
    if (!statement.step()) return "(no row)";
    return statement.column_text(0).value_or("NULL");
  }
  // Sets updated_at of the row to the clock's next second.
  void touch(const std::string& email) {
    clock.advance(1000);
    Database database(file().string(), SQLITE_OPEN_READWRITE, 1000);
    Statement statement(database.get(), "UPDATE contacts SET updated_at = ? WHERE email = ?");
    statement.bind_text(1, stamp(clock.now_ms()));
    statement.bind_text(2, email);
    statement.run();
  }
};

ObjectRef contacts(Json options = Json::object()) {
  ObjectRef object;
  object.name = "contacts";
  object.key_field = "email";
  object.options = std::move(options);
  object.destination = true;
  return object;
}

const Json kIncremental = {{"cursor_column", "updated_at"}, {"soft_delete_column", "deleted_at"}};

ConnectorError error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const ConnectorError& e) {
    return e;
  }
  FAIL("expected a ConnectorError");
  return ConnectorError(ErrorKind::record, "");
}

std::vector<ConnectionConfig> bad_sqlite_configs(const ConformanceFixture& fixture) {
  std::ofstream(std::filesystem::path(fixture.config.base_dir) / "not-a-db.sqlite") << "this is not a database file";
  std::vector<ConnectionConfig> bad(4, fixture.config);
  bad[0].settings = {{"path", "missing.sqlite"}};
  bad[1].settings = {{"path", "not-a-db.sqlite"}};
  bad[2].settings = Json::object();
  bad[3].settings = {{"path", "crm.sqlite"}, {"busy_timeout_ms", "soon"}};
  return bad;
}

ConformanceFixture sqlite_fixture(Json object_options) {
  auto sqlite = std::make_shared<SqliteFixture>(kConformanceTable);
  ConformanceFixture fixture;
  fixture.config = sqlite->config();
  fixture.object = contacts(std::move(object_options));
  fixture.touch = [raw = sqlite.get()](const std::string& id) { raw->touch(id); };
  fixture.keep_alive = sqlite;
  return fixture;
}

}  // namespace

TEST_CASE("sqlite connector with a cursor and soft deletes passes the conformance suite", "[conformance][sqlite]") {
  ConformanceOptions options;
  options.name = "sqlite (cursor_column, soft_delete_column)";
  options.make_fixture = [] { return sqlite_fixture(kIncremental); };
  options.bad_configs = bad_sqlite_configs;
  options.capabilities.incremental_read = true;
  options.capabilities.tombstones = true;
  options.capabilities.native_upsert = true;
  options.capabilities.hard_delete = true;
  options.capabilities.archive = true;
  options.capabilities.max_batch = 5000;
  options.capabilities.max_lookup = 500;
  options.capabilities.unique_ids = false;
  options.json_text_fields = {"address", "tags"};
  run_conformance(options);
}

TEST_CASE("sqlite connector on a plain table passes the conformance suite", "[conformance][sqlite]") {
  ConformanceOptions options;
  options.name = "sqlite (plain table)";
  options.make_fixture = [] { return sqlite_fixture(Json::object()); };
  options.bad_configs = bad_sqlite_configs;
  options.capabilities.incremental_read = false;
  options.capabilities.tombstones = false;
  options.capabilities.native_upsert = true;
  options.capabilities.hard_delete = true;
  options.capabilities.archive = false;
  options.capabilities.max_batch = 5000;
  options.capabilities.max_lookup = 500;
  options.capabilities.unique_ids = false;
  options.json_text_fields = {"address", "tags"};
  run_conformance(options);
}

TEST_CASE("sqlite write leaves a table's own updated_at alone: it is user data", "[sqlite]") {
  SqliteFixture db;
  auto connector = db.connector();
  auto object = contacts(kIncremental);
  auto results = connector->write(object, {op(OpKind::create, "", {{"email", "a@x"}, {"updated_at", "2020-01-01"}}),
                                           op(OpKind::create, "", {{"email", "b@x"}, {"first_name", "B"}})});
  REQUIRE(results[0].ok);
  REQUIRE(results[1].ok);
  results = connector->write(object, {op(OpKind::update, "a@x", {{"first_name", "A"}}),
                                      op(OpKind::upsert, "", {{"email", "b@x"}, {"last_name", "Bee"}})});
  REQUIRE(results[0].ok);
  REQUIRE(results[1].ok);
  CHECK(db.query("SELECT updated_at FROM contacts WHERE email = 'a@x'") == "2020-01-01");
  CHECK(db.query("SELECT updated_at FROM contacts WHERE email = 'b@x'") == "NULL");
  CHECK(db.query("SELECT first_name FROM contacts WHERE email = 'a@x'") == "A");
}

TEST_CASE("sqlite: a missing table or database file is a config error naming it", "[sqlite]") {
  SqliteFixture db(nullptr);
  auto connector = db.connector();
  auto error = error_of([&] { read_all(*connector, contacts()); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK_THAT(error.what(), Catch::EndsWith("crm.sqlite: no such table: contacts"));
  error = error_of([&] { connector->write(contacts(), {op(OpKind::create, "", {{"email", "a@x"}})}); });
  CHECK_THAT(error.what(), Catch::Contains("no such table: contacts"));

  auto missing = db.connector({{"path", "other.sqlite"}});
  error = error_of([&] { missing->check(); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK_THAT(error.what(), Catch::EndsWith("other.sqlite: no such database file"));
  CHECK_FALSE(std::filesystem::exists(db.dir.path() / "other.sqlite"));

  auto creating = db.connector({{"path", "other.sqlite"}, {"create", true}});
  CHECK_NOTHROW(creating->check());
  CHECK(std::filesystem::exists(db.dir.path() / "other.sqlite"));
}

TEST_CASE("sqlite create_table creates the table and adds columns on write", "[sqlite]") {
  SqliteFixture db(nullptr);
  auto connector = db.connector();
  auto object = contacts({{"create_table", true}, {"soft_delete_column", "deleted_at"}});
  connectors::ReadRequest request;
  request.fields = {"email", "first_name"};
  CHECK(read_all(*connector, object, request).empty());
  CHECK(connector->lookup(object, "email", {"a@x"}).empty());

  auto results = connector->write(object, {op(OpKind::create, "", {{"email", "a@x"}, {"first_name", "A"}})});
  REQUIRE(results[0].ok);
  results = connector->write(object, {op(OpKind::upsert, "", {{"email", "b@x"}, {"phone", 5551234}})});
  REQUIRE(results[0].ok);
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 2);
  CHECK(records[0].fields == Json{{"email", "a@x"}, {"first_name", "A"}, {"deleted_at", nullptr}, {"phone", nullptr}});
  // Created columns are TEXT, so the number is stored as text.
  CHECK(records[1].fields["phone"] == "5551234");
  auto description = connector->describe(object);
  REQUIRE(description.fields.size() == 4);
  CHECK(description.fields[0].name == "email");
  CHECK(description.fields[0].unique);
}

TEST_CASE("sqlite write: an unknown column is a per-row error naming it", "[sqlite]") {
  SqliteFixture db;
  auto connector = db.connector();
  auto results = connector->write(contacts(), {op(OpKind::create, "", {{"email", "a@x"}, {"nickname", "Al"}}),
                                               op(OpKind::create, "", {{"email", "b@x"}})});
  CHECK_FALSE(results[0].ok);
  CHECK(results[0].error == "no column 'nickname' in table contacts");
  CHECK(results[1].ok);
  CHECK(db.query("SELECT count(*) FROM contacts") == "1");
}

TEST_CASE("sqlite write: a constraint violation fails only its row, with SQLite's message", "[sqlite]") {
  SqliteFixture db("CREATE TABLE contacts(email TEXT PRIMARY KEY, age INTEGER CHECK (age >= 0))");
  auto connector = db.connector();
  auto results = connector->write(contacts(), {op(OpKind::create, "", {{"email", "a@x"}, {"age", 3}}),
                                               op(OpKind::create, "", {{"email", "b@x"}, {"age", -1}}),
                                               op(OpKind::create, "", {{"email", "a@x"}, {"age", 4}}),
                                               op(OpKind::create, "", {{"email", "c@x"}})});
  CHECK(results[0].ok);
  CHECK_THAT(results[1].error, Catch::Contains("CHECK constraint failed"));
  CHECK_THAT(results[2].error, Catch::Contains("UNIQUE constraint failed: contacts.email"));
  CHECK(results[3].ok);
  CHECK(db.query("SELECT group_concat(email) FROM (SELECT email FROM contacts ORDER BY email)") == "a@x,c@x");
}

TEST_CASE("sqlite read: values keep their SQLite types", "[sqlite]") {
  SqliteFixture db("CREATE TABLE contacts(email TEXT PRIMARY KEY, age INTEGER, score REAL, photo BLOB, note)");
  db.exec("INSERT INTO contacts VALUES ('a@x', 42, 1.5, x'000102ff', NULL)");
  auto connector = db.connector();
  auto records = read_all(*connector, contacts());
  REQUIRE(records.size() == 1);
  CHECK(records[0].id == "a@x");
  CHECK(records[0].fields == Json{{"email", "a@x"}, {"age", 42}, {"score", 1.5}, {"photo", "AAEC/w=="}, {"note", nullptr}});
  CHECK_FALSE(records[0].modified_at);

  auto results = connector->write(contacts(), {op(OpKind::update, "a@x", {{"age", 43}, {"score", 2}, {"note", true}})});
  REQUIRE(results[0].ok);
  CHECK(db.query("SELECT typeof(age) || typeof(score) || note FROM contacts") == "integerreal1");
}

TEST_CASE("sqlite source: a query with a cursor column reads incrementally", "[sqlite]") {
  SqliteFixture db;
  db.exec(
      "INSERT INTO contacts (email, first_name, updated_at) VALUES "
      "('a@x', 'A', '2026-01-01T00:00:00.000Z'), ('b@x', 'B', '2026-01-02T00:00:00.000Z'), "
      "('c@x', 'C', '2026-01-03T00:00:00.000Z'), ('d@x', 'D', NULL)");
  auto connector = db.connector();
  ObjectRef object;
  object.name = "customers";
  object.key_field = "email";
  object.options = {{"query", "SELECT email, upper(first_name) AS name, updated_at FROM contacts;"},
                    {"cursor_column", "updated_at"}};
  CHECK(connector->capabilities(object).incremental_read);
  CHECK_FALSE(connector->capabilities(object).tombstones);

  connectors::ReadRequest request;
  request.since = "2026-01-02T00:00:00.000Z";
  std::vector<Page> pages;
  connector->read(object, request, [&](Page&& page) { pages.push_back(std::move(page)); });
  REQUIRE(pages.size() == 1);
  REQUIRE(pages[0].records.size() == 2);
  CHECK(pages[0].records[0].id == "b@x");
  CHECK(pages[0].records[0].fields["name"] == "B");
  CHECK(pages[0].records[0].modified_at == "2026-01-02T00:00:00.000Z");
  CHECK(pages[0].records[1].id == "c@x");
  CHECK(pages[0].cursor == "2026-01-03T00:00:00.000Z");

  request.since.reset();
  request.page_size = 2;
  pages.clear();
  connector->read(object, request, [&](Page&& page) { pages.push_back(std::move(page)); });
  REQUIRE(pages.size() == 2);
  // Ordered by the cursor (NULL first), so each page's cursor is safe to resume from.
  CHECK(pages[0].records[0].id == "d@x");
  CHECK(pages[0].cursor == "2026-01-01T00:00:00.000Z");
  CHECK(pages[1].cursor == "2026-01-03T00:00:00.000Z");

  auto description = connector->describe(object);
  REQUIRE(description.fields.size() == 3);
  CHECK(description.fields[1].name == "name");
  auto found = connector->lookup(object, "name", {"C"});
  REQUIRE(found.size() == 1);
  CHECK(found[0].id == "c@x");
}

TEST_CASE("sqlite: a database locked past the busy timeout is a transient error", "[sqlite]") {
  SqliteFixture db;
  Database other(db.file().string(), SQLITE_OPEN_READWRITE, 0);
  other.exec("BEGIN IMMEDIATE");
  auto connector = db.connector({{"path", "crm.sqlite"}, {"busy_timeout_ms", 50}});
  auto error = error_of([&] { connector->write(contacts(), {op(OpKind::create, "", {{"email", "a@x"}})}); });
  CHECK(error.kind() == ErrorKind::transient);
  CHECK_THAT(error.what(), Catch::Contains("locked"));
  other.exec("ROLLBACK");
  auto results = connector->write(contacts(), {op(OpKind::create, "", {{"email", "a@x"}})});
  CHECK(results[0].ok);
}

TEST_CASE("sqlite: identifiers with quotes and spaces are quoted, values bound", "[sqlite]") {
  SqliteFixture db(R"(CREATE TABLE "odd ""table""" ("e-mail" TEXT PRIMARY KEY, "first name" TEXT))");
  auto connector = db.connector();
  ObjectRef object;
  object.name = "odd \"table\"";
  object.key_field = "e-mail";
  const std::string nasty = "x'); DROP TABLE \"odd \"\"table\"\"\"; --";
  auto results = connector->write(object, {op(OpKind::create, "", {{"e-mail", "a@x"}, {"first name", nasty}})});
  REQUIRE(results[0].ok);
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 1);
  CHECK(records[0].fields["first name"] == nasty);
  CHECK(connector->lookup(object, "first name", {nasty}).size() == 1);
}

TEST_CASE("sqlite: without a key field, rowids are the native ids", "[sqlite]") {
  SqliteFixture db("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)");
  auto connector = db.connector();
  ObjectRef object;
  object.name = "notes";
  auto results = connector->write(object, {op(OpKind::create, "", {{"body", "one"}}),
                                           op(OpKind::create, "", {{"body", "two"}})});
  REQUIRE(results[0].ok);
  CHECK(results[0].id == "1");
  CHECK(results[1].id == "2");
  results = connector->write(object, {op(OpKind::update, "2", {{"body", "TWO"}}), op(OpKind::remove, "1")});
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 1);
  CHECK(records[0].id == "2");
  CHECK(records[0].fields == Json{{"id", 2}, {"body", "TWO"}});
  CHECK(connector->lookup(object, connectors::kNativeIdField, {"2"}).size() == 1);

  // With the INTEGER PRIMARY KEY as the key field, creates may leave it to SQLite.
  object.key_field = "id";
  results = connector->write(object, {op(OpKind::create, "", {{"body", "three"}})});
  REQUIRE(results[0].ok);
  CHECK(results[0].id == "3");
}

TEST_CASE("sqlite upsert without a unique key updates, else inserts", "[sqlite]") {
  SqliteFixture db("CREATE TABLE contacts(email TEXT, name TEXT)");
  auto connector = db.connector();
  auto results = connector->write(contacts(), {op(OpKind::upsert, "", {{"email", "a@x"}, {"name", "A"}}),
                                               op(OpKind::upsert, "", {{"email", "a@x"}, {"name", "Ay"}}),
                                               op(OpKind::upsert, "", {{"email", "b@x"}})});
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK(results[2].ok);
  CHECK(db.query("SELECT count(*) FROM contacts") == "2");
  CHECK(db.query("SELECT name FROM contacts WHERE email = 'a@x'") == "Ay");
}

TEST_CASE("sqlite lookup splits long value lists into chunks", "[sqlite]") {
  SqliteFixture db;
  db.exec(
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1199) "
      "INSERT INTO contacts (email) SELECT 'p' || i || '@x' FROM n");
  auto connector = db.connector();
  std::vector<std::string> values;
  for (int i = 0; i < 1300; ++i) values.push_back("p" + std::to_string(i) + "@x");
  CHECK(connector->lookup(contacts(), "email", values).size() == 1200);
}

TEST_CASE("sqlite: soft deletes stamp the column, reads skip them, writes revive them", "[sqlite]") {
  SqliteFixture db;
  auto connector = db.connector();
  auto object = contacts(kIncremental);
  REQUIRE(connector->write(object, {op(OpKind::create, "", {{"email", "a@x"}})})[0].ok);
  REQUIRE(connector->write(object, {op(OpKind::remove, "a@x")})[0].ok);
  CHECK(db.query("SELECT deleted_at FROM contacts") == "2026-03-01T12:00:00.000Z");
  CHECK(db.query("SELECT count(*) FROM contacts") == "1");
  CHECK(read_all(*connector, object).empty());
  auto found = connector->lookup(object, "email", {"a@x"});
  REQUIRE(found.size() == 1);
  CHECK(found[0].deleted);

  REQUIRE(connector->write(object, {op(OpKind::upsert, "", {{"email", "a@x"}, {"first_name", "Back"}})})[0].ok);
  CHECK(db.query("SELECT deleted_at FROM contacts") == "NULL");
  CHECK(read_all(*connector, object).size() == 1);
}

TEST_CASE("sqlite settings: a bad value is an error naming its key, found without opening the file", "[sqlite]") {
  SqliteFixture db(nullptr);
  auto setting_of = [&](Json settings) {
    try {
      db.connector(std::move(settings));
    } catch (const ConnectorError& e) {
      CHECK(e.kind() == ErrorKind::config);
      return e.setting() + ": " + e.what();
    }
    return std::string("no error");
  };
  CHECK(setting_of({{"path", "new.sqlite"}, {"busy_timeout_ms", "fast"}}) ==
        "busy_timeout_ms: sqlite: connection 'crm': `busy_timeout_ms` must be a whole number of milliseconds from 0 "
        "to 3600000 (got \"fast\")");
  CHECK_THAT(setting_of({{"path", "new.sqlite"}, {"busy_timeout_ms", -1}}), Catch::StartsWith("busy_timeout_ms: "));
  CHECK_THAT(setting_of({{"path", "new.sqlite"}, {"create", "yes"}}), Catch::StartsWith("create: "));
  CHECK_THAT(setting_of({{"path", 7}}), Catch::StartsWith("path: "));
  CHECK(setting_of({{"path", "new.sqlite"}, {"create", true}, {"busy_timeout_ms", 10}}) == "no error");
  CHECK_FALSE(std::filesystem::exists(db.dir.path() / "new.sqlite"));
}

TEST_CASE("sqlite check_options: endpoint keys are checked without the database, naming the key", "[sqlite]") {
  SqliteFixture db(nullptr);
  auto connector = db.connector({{"path", "never-opened.sqlite"}, {"create", true}});
  auto setting_of = [&](Json options) {
    try {
      connector->check_options(contacts(std::move(options)));
    } catch (const ConnectorError& e) {
      CHECK(e.kind() == ErrorKind::config);
      return e.setting();
    }
    return std::string("no error");
  };
  CHECK(setting_of({{"query", 5}}) == "query");
  CHECK(setting_of({{"query", " ;"}}) == "query");
  CHECK(setting_of({{"cursor_column", ""}}) == "cursor_column");
  CHECK(setting_of({{"soft_delete_column", Json::array()}}) == "soft_delete_column");
  CHECK(setting_of({{"create_table", "yes"}}) == "create_table");
  CHECK(setting_of({{"query", "SELECT 1"}, {"create_table", true}}) == "create_table");
  CHECK(setting_of({{"query", "SELECT * FROM nowhere"}, {"cursor_column", "updated_at"}}) == "no error");
  CHECK_FALSE(std::filesystem::exists(db.dir.path() / "never-opened.sqlite"));
}

TEST_CASE("sqlite probe: a missing table, a broken query or a missing column shows", "[sqlite]") {
  SqliteFixture db;
  auto connector = db.connector();
  CHECK_NOTHROW(connector->probe(contacts(kIncremental)));
  auto error = error_of([&] { connector->probe(contacts({{"cursor_column", "updatedat"}})); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK(error.setting() == "cursor_column");
  CHECK_THAT(error.what(), Catch::EndsWith("`cursor_column`: table contacts has no column 'updatedat' (did you mean "
                                           "'updated_at'?)"));
  error = error_of([&] { connector->probe(contacts({{"soft_delete_column", "deleted"}})); });
  CHECK_THAT(error.what(), Catch::Contains("has no column 'deleted'"));
  ObjectRef people = contacts();
  people.name = "people";
  CHECK_THAT(error_of([&] { connector->probe(people); }).what(), Catch::EndsWith("no such table: people"));
  people.options = {{"create_table", true}};
  CHECK_NOTHROW(connector->probe(people));

  ObjectRef model;
  model.name = "model";
  model.key_field = "email";
  model.options = {{"query", "SELECT email, upper(first_name) AS name FROM contcts"}};
  CHECK_THAT(error_of([&] { connector->probe(model); }).what(), Catch::Contains("no such table: contcts"));
  model.options = {{"query", "SELECT email AS mail FROM contacts"}};
  CHECK_THAT(error_of([&] { connector->probe(model); }).what(),
             Catch::Contains("query 'model' has no column 'email' (the key) (did you mean 'mail'?)"));
  model.options = {{"query", "SELECT email, upper(first_name) AS name FROM contacts"}};
  CHECK_NOTHROW(connector->probe(model));
}

TEST_CASE("sqlite: a column name that is no column is an error, never a string literal", "[sqlite]") {
  SqliteFixture db;
  db.exec("INSERT INTO contacts (email, first_name) VALUES ('a@x', 'A')");
  auto connector = db.connector();
  connectors::ReadRequest request;
  request.fields = {"email", "firstname"};
  auto error = error_of([&] { read_all(*connector, contacts(), request); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK_THAT(error.what(), Catch::EndsWith("table contacts has no column 'firstname' (did you mean 'first_name'?)"));
  error = error_of([&] { connector->lookup(contacts(), "firstname", {"A"}); });
  CHECK_THAT(error.what(), Catch::Contains("has no column 'firstname'"));
  // Today's silent loss: a misspelled soft-delete column read every row as deleted.
  error = error_of([&] { read_all(*connector, contacts({{"soft_delete_column", "deleted"}})); });
  CHECK_THAT(error.what(), Catch::Contains("`soft_delete_column`: table contacts has no column 'deleted'"));
  error = error_of([&] { connector->write(contacts({{"soft_delete_column", "deleted"}}), {op(OpKind::remove, "a@x")}); });
  CHECK_THAT(error.what(), Catch::Contains("has no column 'deleted'"));
  ObjectRef by_mail = contacts();
  by_mail.key_field = "mail";
  error = error_of([&] { connector->write(by_mail, {op(OpKind::remove, "a@x")}); });
  CHECK_THAT(error.what(), Catch::Contains("has no column 'mail' (the key)"));
  CHECK(db.query("SELECT count(*) FROM contacts") == "1");
  // Names compare without regard to case, as SQLite's do.
  request.fields = {"EMAIL", "First_Name"};
  auto records = read_all(*connector, contacts(), request);
  REQUIRE(records.size() == 1);
  CHECK(records[0].fields["First_Name"] == "A");
}

TEST_CASE("sqlite describe: the columns, compared without case; create_table takes new fields", "[sqlite]") {
  SqliteFixture db;
  auto connector = db.connector();
  auto description = connector->describe(contacts());
  CHECK(description.case_insensitive);
  CHECK_FALSE(description.accepts_new_fields);
  REQUIRE(description.fields.size() == 5);
  CHECK(description.fields[1].name == "first_name");
  CHECK(connector->describe(contacts({{"create_table", true}})).accepts_new_fields);
  ObjectRef model;
  model.name = "model";
  model.key_field = "email";
  model.options = {{"query", "SELECT email, length(first_name) AS size FROM contacts"}};
  description = connector->describe(model);
  REQUIRE(description.fields.size() == 2);
  CHECK(description.fields[0].type == "string");
  CHECK(description.fields[1].name == "size");
  CHECK_FALSE(description.accepts_new_fields);
}

TEST_CASE("sqlite: rows that share a key are each a record, named by rowid", "[sqlite]") {
  SqliteFixture db("CREATE TABLE contacts(email TEXT, name TEXT); CREATE TABLE notes(body TEXT)");
  db.exec("INSERT INTO contacts VALUES ('a@x', 'First'), ('b@x', 'B'), ('a@x', 'Second')");
  auto connector = db.connector();
  CHECK_FALSE(connector->capabilities(contacts()).unique_ids);
  auto records = read_all(*connector, contacts());
  REQUIRE(records.size() == 3);
  CHECK(records[0].id == "a@x");
  CHECK(records[0].origin == "rowid 1");
  CHECK(records[2].id == "a@x");
  CHECK(records[2].origin == "rowid 3");
  CHECK(records[2].fields == Json{{"email", "a@x"}, {"name", "Second"}});
  CHECK(connector->lookup(contacts(), "email", {"a@x"}).size() == 2);

  ObjectRef notes;
  notes.name = "notes";  // no key: rowids are the ids, which never repeat
  CHECK(connector->capabilities(notes).unique_ids);
  ObjectRef model = contacts({{"query", "SELECT email FROM contacts"}});
  CHECK_FALSE(connector->capabilities(model).unique_ids);
}

TEST_CASE("sqlite create_table types columns from the declared schema", "[sqlite]") {
  SqliteFixture db(nullptr);
  auto connector = db.connector();
  auto object = contacts({{"create_table", true}, {"soft_delete_column", "deleted_at"}});
  object.schema = {{"email", "email", {}},      {"age", "number", {}}, {"vip", "bool", {}},
                   {"born", "date", {}},        {"seen", "datetime", {}}, {"tags", "multiselect", {"a", "b"}},
                   {"extra", "json", {}},       {"plan", "enumeration", {"free", "pro"}},
                   {"address.city", "string", {}}};
  auto results = connector->write(object, {op(OpKind::upsert, "", {{"email", "a@x"}, {"age", 9}, {"vip", true},
                                                                   {"born", "2001-02-03"},
                                                                   {"seen", "2026-01-01T10:00:00Z"},
                                                                   {"tags", {"a", "b"}}, {"extra", {{"k", 1.5}}},
                                                                   {"address", {{"city", "Oslo"}}}, {"note", 5}}),
                                           op(OpKind::upsert, "", {{"email", "b@x"}, {"age", "10"}, {"vip", false}})});
  INFO(results[0].error);
  REQUIRE(results[0].ok);
  REQUIRE(results[1].ok);
  CHECK(db.query("SELECT group_concat(name || ':' || type, ',') FROM pragma_table_info('contacts')") ==
        "email:TEXT,age:NUMERIC,vip:BOOLEAN,born:TEXT,seen:TEXT,tags:TEXT,extra:TEXT,plan:TEXT,address:TEXT,"
        "note:TEXT,deleted_at:TEXT");
  // Numbers compare as numbers: as text, '9' would be the larger.
  CHECK(db.query("SELECT max(age) FROM contacts") == "10");
  CHECK(db.query("SELECT typeof(age) FROM contacts WHERE email = 'b@x'") == "integer");
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 2);
  CHECK(records[0].fields["age"] == 9);
  CHECK(records[0].fields["vip"] == true);
  CHECK(records[1].fields["vip"] == false);
  CHECK(records[0].fields["born"] == "2001-02-03");
  CHECK(records[0].fields["tags"] == R"(["a","b"])");
  CHECK(records[0].fields["extra"] == R"({"k":1.5})");
  CHECK(records[0].fields["address"] == R"({"city":"Oslo"})");
  CHECK(records[0].fields["note"] == "5");  // not declared: TEXT
  auto description = connector->describe(object);
  std::map<std::string, std::string> types;
  for (const auto& field : description.fields) types[field.name] = field.type;
  CHECK(types["age"] == "number");
  CHECK(types["vip"] == "bool");

  // An existing table keeps its types; only missing columns are added, typed.
  object.schema.push_back({"score", "number", {}});
  object.schema[1].type = "string";
  results = connector->write(object, {op(OpKind::upsert, "", {{"email", "c@x"}, {"score", 1.25}, {"age", 3}})});
  REQUIRE(results[0].ok);
  CHECK(db.query("SELECT type FROM pragma_table_info('contacts') WHERE name = 'age'") == "NUMERIC");
  CHECK(db.query("SELECT type FROM pragma_table_info('contacts') WHERE name = 'score'") == "NUMERIC");
}

TEST_CASE("sqlite write: a value its column cannot hold exactly is rejected for its row", "[sqlite]") {
  SqliteFixture db(
      "CREATE TABLE accounts(email TEXT PRIMARY KEY, amount NUMERIC, ratio REAL, count INTEGER, label TEXT, "
      "anything)");
  auto connector = db.connector();
  ObjectRef object = contacts();
  object.name = "accounts";
  auto write = [&](Json fields) {
    fields["email"] = "a@x";
    auto problem = connector->write_problem(object, op(OpKind::upsert, "", fields));
    auto result = connector->write(object, {op(OpKind::upsert, "", fields)})[0];
    CHECK(result.error == problem);
    return problem;
  };
  CHECK(write({{"amount", "12345678901234567.89"}}) ==
        "column amount (NUMERIC) cannot hold 12345678901234567.89 exactly");
  CHECK(write({{"count", "18446744073709551617"}}) ==
        "column count (INTEGER) cannot hold 18446744073709551617 exactly");
  CHECK(write({{"ratio", 9007199254740993}}) == "column ratio (REAL) cannot hold 9007199254740993 exactly");
  CHECK(write({{"ratio", "0.1000000000000000055511151231257827"}}) ==
        "column ratio (REAL) cannot hold 0.1000000000000000055511151231257827 exactly");
  CHECK(db.query("SELECT count(*) FROM accounts") == "0");

  // What the columns hold exactly goes in, in the form they hold it.
  CHECK(write({{"amount", "12345678901234567"},
               {"ratio", "0.30000000000000004"},
               {"count", "1e3"},
               {"label", 0.30000000000000004},
               {"anything", "12345678901234567.89"}})
            .empty());
  CHECK(db.query("SELECT typeof(amount) || ' ' || amount FROM accounts") == "integer 12345678901234567");
  CHECK(db.query("SELECT typeof(count) || ' ' || count FROM accounts") == "integer 1000");
  CHECK(db.query("SELECT typeof(label) || ' ' || label FROM accounts") == "text 0.30000000000000004");
  CHECK(db.query("SELECT typeof(anything) || ' ' || anything FROM accounts") == "text 12345678901234567.89");
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 1);
  CHECK(records[0].fields["ratio"] == 0.30000000000000004);
  CHECK(write({{"label", 1e16}, {"amount", 2.5}}).empty());
  CHECK(db.query("SELECT label || ' ' || amount FROM accounts") == "10000000000000000 2.5");

  // A field the table does not have: no row could be written.
  auto error = error_of([&] { connector->write_problem(object, op(OpKind::upsert, "", {{"amont", 1}})); });
  CHECK_THAT(error.what(), Catch::Contains("table accounts has no column 'amont' (did you mean 'amount'?)"));
}

// Writes keep one prepared statement per table and field set, and reuse it for every row of
// that shape in every later batch: nothing of one row may reach another.
TEST_CASE("sqlite write: statements kept per field set carry nothing between rows or batches", "[sqlite]") {
  SqliteFixture db;
  auto connector = db.connector();
  auto object = contacts();
  auto row = [&](const std::string& email) {
    return db.query("SELECT coalesce(first_name, 'NULL') || '/' || coalesce(last_name, 'NULL') FROM contacts WHERE "
                    "email = '" + email + "'");
  };
  auto all_ok = [](const std::vector<connectors::WriteResult>& results) {
    for (const auto& result : results) {
      INFO(result.error);
      CHECK(result.ok);
    }
  };
  all_ok(connector->write(object,
                          {op(OpKind::upsert, "", {{"email", "a@x"}, {"first_name", "A"}, {"last_name", "Alpha"}}),
                           op(OpKind::upsert, "", {{"email", "e@x"}, {"first_name", "E"}, {"last_name", "Echo"}})}));
  // {email, first_name} after {email, first_name, last_name}: last_name is neither written nor cleared.
  all_ok(connector->write(object, {op(OpKind::upsert, "", {{"email", "b@x"}, {"first_name", "B"}}),
                                   op(OpKind::upsert, "", {{"email", "a@x"}, {"first_name", "A2"}})}));
  CHECK(row("b@x") == "B/NULL");
  CHECK(row("a@x") == "A2/Alpha");
  // Shapes alternating within one batch.
  all_ok(connector->write(object, {op(OpKind::upsert, "", {{"email", "c@x"}, {"last_name", "C"}}),
                                   op(OpKind::upsert, "", {{"email", "d@x"}, {"first_name", "D"}}),
                                   op(OpKind::upsert, "", {{"email", "c@x"}, {"first_name", "C2"}}),
                                   op(OpKind::create, "", {{"email", "f@x"}}),
                                   op(OpKind::upsert, "", {{"email", "d@x"}, {"last_name", "Delta"}})}));
  CHECK(row("c@x") == "C2/C");
  CHECK(row("d@x") == "D/Delta");
  CHECK(row("f@x") == "NULL/NULL");
  // Updates by id, of two shapes, in two batches.
  all_ok(connector->write(object, {op(OpKind::update, "e@x", {{"first_name", "X"}, {"last_name", "Y"}})}));
  all_ok(connector->write(object, {op(OpKind::update, "e@x", {{"last_name", "Z"}}),
                                   op(OpKind::update, "a@x", {{"first_name", "A3"}, {"last_name", "Alpha3"}}),
                                   op(OpKind::update, "b@x", {{"last_name", "Bravo"}})}));
  CHECK(row("e@x") == "X/Z");
  CHECK(row("a@x") == "A3/Alpha3");
  CHECK(row("b@x") == "B/Bravo");
  CHECK(db.query("SELECT count(*) FROM contacts") == "6");

  // The same without a unique key: an update by key, else an insert.
  SqliteFixture plain("CREATE TABLE contacts(email TEXT, first_name TEXT, last_name TEXT)");
  auto other = plain.connector();
  all_ok(other->write(object, {op(OpKind::upsert, "", {{"email", "a@x"}, {"first_name", "A"}, {"last_name", "Alpha"}}),
                               op(OpKind::upsert, "", {{"email", "b@x"}, {"first_name", "B"}})}));
  all_ok(other->write(object, {op(OpKind::upsert, "", {{"email", "a@x"}, {"first_name", "A2"}}),
                               op(OpKind::upsert, "", {{"email", "c@x"}, {"last_name", "C"}}),
                               op(OpKind::upsert, "", {{"email", "b@x"}})}));
  CHECK(plain.query("SELECT group_concat(email || ':' || coalesce(first_name, 'NULL') || '/' || "
                    "coalesce(last_name, 'NULL'), ' ') FROM (SELECT * FROM contacts ORDER BY email)") ==
        "a@x:A2/Alpha b@x:B/NULL c@x:NULL/C");
}

TEST_CASE("sqlite write: a row failing mid-batch fails alone; the rows after it write their own values", "[sqlite]") {
  SqliteFixture db(
      "CREATE TABLE contacts(email TEXT PRIMARY KEY, name TEXT, age INTEGER CHECK (age >= 0), amount NUMERIC)");
  auto connector = db.connector();
  auto results = connector->write(
      contacts(), {op(OpKind::upsert, "", {{"email", "a@x"}, {"name", "A"}, {"age", 1}}),
                   op(OpKind::upsert, "", {{"email", "b@x"}, {"name", "B"}, {"age", -1}}),  // CHECK fails
                   op(OpKind::upsert, "", {{"email", "c@x"}, {"name", "C"}, {"age", 3}}),
                   op(OpKind::upsert, "", {{"email", "d@x"}, {"name", "D"}, {"amount", "12345678901234567.89"}}),
                   op(OpKind::upsert, "", {{"email", "e@x"}, {"name", "E"}, {"nickname", "Ee"}}),
                   op(OpKind::upsert, "", {{"email", "f@x"}, {"name", "F"}, {"amount", "2.5"}}),
                   op(OpKind::upsert, "", {{"email", "g@x"}, {"name", "G"}, {"age", 7}})});
  REQUIRE(results.size() == 7);
  CHECK(results[0].ok);
  CHECK_THAT(results[1].error, Catch::Contains("CHECK constraint failed"));
  CHECK(results[2].ok);
  CHECK(results[3].error == "column amount (NUMERIC) cannot hold 12345678901234567.89 exactly");
  CHECK(results[4].error == "no column 'nickname' in table contacts");
  CHECK(results[5].ok);
  CHECK(results[6].ok);
  for (std::size_t i : {1, 3, 4}) CHECK(results[i].error_kind == ErrorKind::record);
  CHECK(db.query("SELECT group_concat(email || ':' || name || ':' || coalesce(age, 'NULL') || ':' || "
                 "coalesce(amount, 'NULL'), ' ') FROM (SELECT * FROM contacts ORDER BY email)") ==
        "a@x:A:1:NULL c@x:C:3:NULL f@x:F:NULL:2.5 g@x:G:7:NULL");

  // Updates: the failing row's values reach neither its row nor the next.
  results = connector->write(contacts(), {op(OpKind::update, "a@x", {{"name", "A2"}, {"age", -5}}),
                                          op(OpKind::update, "c@x", {{"name", "C2"}, {"age", 30}}),
                                          op(OpKind::update, "zz@x", {{"name", "Z"}, {"age", 1}}),
                                          op(OpKind::update, "g@x", {{"name", "G2"}, {"age", 70}})});
  CHECK_THAT(results[0].error, Catch::Contains("CHECK constraint failed"));
  CHECK(results[1].ok);
  CHECK(results[2].error == "no row with email = zz@x");
  CHECK(results[3].ok);
  CHECK(db.query("SELECT group_concat(email || ':' || name || ':' || coalesce(age, 'NULL'), ' ') FROM "
                 "(SELECT * FROM contacts ORDER BY email)") == "a@x:A:1 c@x:C2:30 f@x:F:NULL g@x:G2:70");
}

TEST_CASE("sqlite write: a conflict clause that rolls the batch back fails it whole; the next one writes", "[sqlite]") {
  SqliteFixture db("CREATE TABLE contacts(email TEXT PRIMARY KEY ON CONFLICT ROLLBACK, name TEXT)");
  auto connector = db.connector();
  REQUIRE(connector->write(contacts(), {op(OpKind::create, "", {{"email", "a@x"}, {"name", "A"}})})[0].ok);
  auto error = error_of([&] {
    connector->write(contacts(), {op(OpKind::create, "", {{"email", "b@x"}, {"name", "B"}}),
                                  op(OpKind::create, "", {{"email", "a@x"}, {"name", "again"}})});
  });
  CHECK(error.kind() == ErrorKind::config);
  CHECK_THAT(error.what(), Catch::Contains("table contacts: a conflict clause rolled back the batch"));
  CHECK(db.query("SELECT group_concat(email || ':' || name) FROM contacts") == "a@x:A");
  auto results = connector->write(contacts(), {op(OpKind::create, "", {{"email", "b@x"}, {"name", "B"}}),
                                               op(OpKind::update, "a@x", {{"name", "A2"}})});
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK(db.query("SELECT group_concat(email || ':' || name, ' ') FROM (SELECT * FROM contacts ORDER BY email)") ==
        "a@x:A2 b@x:B");
}

TEST_CASE("sqlite create_table: columns added by a later batch are written by the shapes made before", "[sqlite]") {
  SqliteFixture db(nullptr);
  auto connector = db.connector();
  auto object = contacts({{"create_table", true}});
  REQUIRE(connector->write(object, {op(OpKind::upsert, "", {{"email", "a@x"}, {"first_name", "A"}})})[0].ok);
  REQUIRE(connector->write(object, {op(OpKind::upsert, "", {{"email", "b@x"}, {"phone", "555"}})})[0].ok);
  auto results = connector->write(object, {op(OpKind::upsert, "", {{"email", "c@x"}, {"first_name", "C"}}),
                                           op(OpKind::upsert, "", {{"email", "a@x"}, {"phone", "111"}})});
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK(db.query("SELECT group_concat(email || ':' || coalesce(first_name, 'NULL') || ':' || coalesce(phone, 'NULL'), "
                 "' ') FROM (SELECT * FROM contacts ORDER BY email)") == "a@x:A:111 b@x:NULL:555 c@x:C:NULL");
}

TEST_CASE("sqlite read: records hold the query's columns by name, whatever their order", "[sqlite]") {
  SqliteFixture db(
      "CREATE TABLE contacts(email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, vip BOOLEAN, n INT)");
  db.exec("INSERT INTO contacts VALUES ('a@x', 'A', 'Alpha', 1, NULL), ('b@x', NULL, 'Bravo', 0, 2), "
          "('c@x', 'C', NULL, 2, 3)");
  auto connector = db.connector();
  ObjectRef object = contacts({{"query", "SELECT last_name AS z, first_name AS a, email, first_name AS n, "
                                         "last_name AS n, vip FROM contacts ORDER BY email"}});
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 3);
  // SQLite names the second "n" of the subquery "n:1".
  CHECK(records[0].fields ==
        Json{{"a", "A"}, {"email", "a@x"}, {"n", "A"}, {"n:1", "Alpha"}, {"vip", true}, {"z", "Alpha"}});
  CHECK(records[1].fields ==
        Json{{"a", nullptr}, {"email", "b@x"}, {"n", nullptr}, {"n:1", "Bravo"}, {"vip", false}, {"z", "Bravo"}});
  CHECK(records[2].fields ==
        Json{{"a", "C"}, {"email", "c@x"}, {"n", "C"}, {"n:1", nullptr}, {"vip", 2}, {"z", nullptr}});
  CHECK(records[2].id == "c@x");

  // Native ids: integers as SQLite prints them, NULL as "".
  SqliteFixture numbers("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); CREATE TABLE tags(k, v TEXT)");
  numbers.exec("INSERT INTO notes VALUES (-9223372036854775808, 'min'), (9223372036854775807, 'max')");
  numbers.exec("INSERT INTO tags VALUES (NULL, 'none'), (1.5, 'real'), (x'41', 'blob')");
  auto reader = numbers.connector();
  ObjectRef notes;
  notes.name = "notes";
  records = read_all(*reader, notes);
  REQUIRE(records.size() == 2);
  CHECK(records[0].id == "-9223372036854775808");
  CHECK(records[1].id == "9223372036854775807");
  ObjectRef tags;
  tags.name = "tags";
  tags.key_field = "k";
  records = read_all(*reader, tags);
  REQUIRE(records.size() == 3);
  CHECK(records[0].id == "");
  CHECK(records[0].origin == "rowid 1");
  CHECK(records[1].id == "1.5");
  CHECK(records[2].id == "A");
  CHECK(records[2].fields["k"] == "QQ==");
}

TEST_CASE("sqlite write: the key's value, as its text, is the written row's id", "[sqlite]") {
  SqliteFixture db("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); CREATE TABLE codes(code TEXT PRIMARY KEY)");
  auto connector = db.connector();
  ObjectRef notes;
  notes.name = "notes";
  notes.key_field = "id";
  auto results = connector->write(notes, {op(OpKind::upsert, "", {{"id", Json::parse("42")}, {"body", "unsigned"}}),
                                          op(OpKind::upsert, "", {{"id", -7}, {"body", "negative"}}),
                                          op(OpKind::upsert, "", {{"id", "8"}, {"body", "text"}}),
                                          op(OpKind::create, "", {{"id", Json::parse("9223372036854775807")}}),
                                          op(OpKind::update, "8", {{"id", 8}, {"body", "eight"}})});
  std::vector<std::string> ids;
  for (const auto& result : results) ids.push_back(result.ok ? result.id : result.error);
  CHECK(ids == std::vector<std::string>{"42", "-7", "8", "9223372036854775807", "8"});
  CHECK(db.query("SELECT group_concat(id || ':' || typeof(id), ' ') FROM notes") ==
        "-7:integer 8:integer 42:integer 9223372036854775807:integer");
  ObjectRef codes;
  codes.name = "codes";
  codes.key_field = "code";
  results = connector->write(codes, {op(OpKind::upsert, "", {{"code", Json::parse("5")}}),
                                     op(OpKind::upsert, "", {{"code", 2.5}}), op(OpKind::upsert, "", {{"code", "x"}})});
  ids.clear();
  for (const auto& result : results) ids.push_back(result.ok ? result.id : result.error);
  CHECK(ids == std::vector<std::string>{"5", "2.5", "x"});
}

}  // namespace synctool::testing
