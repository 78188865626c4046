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
  auto sqlite = std::make_shared<SqliteFixture>();
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

}  // namespace synctool::testing
