// The PostgreSQL connector against a real server (tests/support/pg_test_server.hpp): the
// conformance suite, then what only a database has: types, keys, constraints, identifiers,
// schema management, lost connections and timeouts.
#include "conformance/conformance.hpp"
#include "support/fake_clock.hpp"
#include "support/pg_test_server.hpp"
#include "util/clock.hpp"

#include <catch2/catch.hpp>

#include <thread>

namespace synctool::testing {

namespace {

using connectors::ConnectionConfig;
using connectors::ConnectorError;
using connectors::ErrorKind;
using connectors::Json;
using connectors::ObjectRef;
using connectors::OpKind;
using connectors::Page;
using connectors::ReadRequest;
using connectors::Record;
using connectors::WriteOp;

constexpr const char* kContactsTable =
    "CREATE TABLE contacts(email text PRIMARY KEY, first_name text, last_name text, updated_at timestamptz, "
    "deleted_at timestamptz)";
// The conformance suite's table: the contacts, and two text columns for JSON text.
constexpr const char* kConformanceTable =
    "CREATE TABLE contacts(email text PRIMARY KEY, first_name text, last_name text, updated_at timestamptz, "
    "deleted_at timestamptz, address text, tags text)";
const std::int64_t kStart = *util::parse_iso8601("2026-03-01T12:00:00Z");

// A schema of its own on the test server, a connection to it and a clock for soft deletes.
struct PgFixture {
  PgTestSchema schema;
  FakeClock clock{kStart};

  explicit PgFixture(const char* ddl = kContactsTable) {
    if (ddl) schema.exec(ddl);
  }

  ConnectionConfig config(Json settings = Json::object()) const {
    ConnectionConfig config;
    config.name = "warehouse";
    config.type = "postgres";
    config.settings = {{"url", schema.url()}, {"schema", schema.name()}};
    for (auto& [key, value] : settings.items()) config.settings[key] = value;
    config.clock = &clock;
    return config;
  }
  std::unique_ptr<connectors::Connector> connector(Json settings = Json::object()) const {
    return connectors::make_connector(config(std::move(settings)));
  }
  // Sets updated_at of the row to the clock's next second.
  void touch(const std::string& email) {
    clock.advance(1000);
    schema.exec("UPDATE contacts SET updated_at = '" + util::format_iso8601(clock.now_ms()) + "' WHERE email = '" +
                email + "'");
  }
};

ObjectRef table(const std::string& name, Json options = Json::object(), const std::string& key = "email") {
  ObjectRef object;
  object.name = name;
  object.key_field = key;
  object.options = std::move(options);
  object.destination = true;
  return object;
}

const Json kIncremental = {{"cursor_column", "updated_at"}, {"soft_delete_column", "deleted_at"}, {"lookback", "0s"}};

ConnectorError error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const ConnectorError& e) {
    return e;
  }
  FAIL("expected a ConnectorError");
  return ConnectorError(ErrorKind::record, "");
}


std::vector<ConnectionConfig> bad_postgres_configs(const ConformanceFixture& fixture) {
  const std::string url = fixture.config.settings["url"];
  return with_settings(fixture, {
                                    Json{{"url", pg_url_with_password(url, "wrong-password")}},
                                    Json{{"url", pg_url_with_port(url, "1")}},
                                    Json{{"url", url.substr(0, url.rfind('/')) + "/no_such_database"}},
                                    Json{{"url", "postgresql://[broken"}},
                                    Json::object(),
                                    Json{{"url", url}, {"sslmode", "sometimes"}},
                                    Json{{"url", url}, {"schema", "no_such_schema_here"}},
                                });
}

ConformanceFixture postgres_fixture(Json object_options) {
  auto pg = std::make_shared<PgFixture>(kConformanceTable);
  ConformanceFixture fixture;
  fixture.config = pg->config();
  fixture.object = table("contacts", std::move(object_options));
  fixture.touch = [raw = pg.get()](const std::string& id) { raw->touch(id); };
  fixture.keep_alive = pg;
  return fixture;
}

ConformanceOptions postgres_options(std::string name, bool incremental) {
  ConformanceOptions options;
  options.name = std::move(name);
  options.bad_configs = bad_postgres_configs;
  options.capabilities.incremental_read = incremental;
  options.capabilities.tombstones = incremental;
  options.capabilities.native_upsert = true;
  options.capabilities.hard_delete = true;
  options.capabilities.archive = incremental;
  options.capabilities.max_batch = 5000;
  options.capabilities.max_lookup = 1000;
  options.capabilities.schema_management = true;
  options.capabilities.unique_ids = false;  // the key is the `email` column
  options.json_text_fields = {"address", "tags"};
  return options;
}

std::vector<Page> read_pages(connectors::Connector& connector, const ObjectRef& object, ReadRequest request = {}) {
  std::vector<Page> pages;
  connector.read(object, request, [&](Page&& page) { pages.push_back(std::move(page)); });
  return pages;
}

}  // namespace

TEST_CASE("postgres connector with a cursor and soft deletes passes the conformance suite",
          "[conformance][postgres]") {
  auto options = postgres_options("postgres (cursor_column, soft_delete_column)", true);
  options.make_fixture = [] { return postgres_fixture(kIncremental); };
  run_conformance(options);
}

TEST_CASE("postgres connector on a plain table passes the conformance suite", "[conformance][postgres]") {
  auto options = postgres_options("postgres (plain table)", false);
  options.make_fixture = [] { return postgres_fixture(Json::object()); };
  run_conformance(options);
}

TEST_CASE("postgres: connection problems are config errors that name the server, never the password",
          "[postgres]") {
  PgFixture db;
  const std::string password = pg_url_password(test_pg_url());
  auto message = [&](Json settings) {
    auto error = error_of([&] { db.connector(std::move(settings))->check(); });
    CHECK(error.kind() == ErrorKind::config);
    std::string text = error.what();
    CHECK(text.find(password) == std::string::npos);
    return text;
  };
  CHECK_THAT(message({{"url", pg_url_with_password(db.schema.url(), "wrong-password")}}),
             Catch::Contains("password authentication failed") && Catch::Contains("@127.0.0.1:"));
  CHECK_THAT(message({{"url", pg_url_with_port(db.schema.url(), "1")}}),
             Catch::Contains("cannot connect") && Catch::Contains("refused"));
  CHECK_THAT(message({{"url", db.schema.url().substr(0, db.schema.url().rfind('/')) + "/nowhere"}}),
             Catch::Contains("\"nowhere\" does not exist"));
  auto bad_url = error_of([&] { db.connector({{"url", "postgres://user:" + password + "@host:notaport/db"}})->check(); });
  CHECK(bad_url.kind() == ErrorKind::config);
  CHECK(std::string(bad_url.what()).find(password) == std::string::npos);
  CHECK_THAT(message({{"schema", Json()}, {"url", db.schema.url() + "?options=-csearch_path%3Dnope"}}),
             Catch::Contains("no current schema"));
  CHECK_THAT(message({{"schema", "nope"}}), Catch::Contains("no schema 'nope'"));
  // TLS options pass through to libpq: the test server speaks no TLS.
  CHECK_THAT(message({{"sslmode", "require"}}), Catch::Contains("SSL"));
}

TEST_CASE("postgres: a missing table or column is a config error naming it", "[postgres]") {
  PgFixture db;
  auto connector = db.connector();
  auto error = error_of([&] { read_all(*connector, table("people")); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK_THAT(error.what(), Catch::EndsWith("no such table: " + db.schema.name() + ".people"));
  error = error_of([&] { read_all(*connector, table("crm.people")); });
  CHECK_THAT(error.what(), Catch::Contains("set schema = \"crm\" and object = \"people\""));

  error = error_of([&] { read_all(*connector, table("contacts", {{"cursor_column", "updatedat"}})); });
  CHECK_THAT(error.what(), Catch::Contains("`cursor_column`: table " + db.schema.name() +
                                           ".contacts has no column 'updatedat' (did you mean 'updated_at'?)"));
  WriteOp write = op(OpKind::upsert, "", {{"email", "a@x"}, {"firstname", "A"}});
  error = error_of([&] { connector->write_problem(table("contacts"), write); });
  CHECK_THAT(error.what(), Catch::Contains("has no column 'firstname' (did you mean 'first_name'?)"));
  error = error_of([&] { connector->write(table("contacts"), {write}); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK(db.schema.query("SELECT count(*) FROM contacts") == "0");
  error = error_of([&] { connector->write(table("people"), {op(OpKind::upsert, "", {{"email", "a@x"}})}); });
  CHECK_THAT(error.what(), Catch::Contains("no such table"));
}

TEST_CASE("postgres write: constraint and type violations fail only their rows, with the server's message",
          "[postgres]") {
  PgFixture db(
      "CREATE TABLE teams(name text PRIMARY KEY); INSERT INTO teams VALUES ('red'); "
      "CREATE TABLE contacts(email text PRIMARY KEY, age integer CONSTRAINT adult CHECK (age >= 18), "
      "name text NOT NULL DEFAULT 'n/a', team text REFERENCES teams(name))");
  auto connector = db.connector();
  std::vector<WriteOp> ops;
  for (int i = 0; i < 200; ++i)
    ops.push_back(op(OpKind::upsert, "", {{"email", "p" + std::to_string(i) + "@x"}, {"age", 20 + i % 50}}));
  ops[17].fields["age"] = 3;
  ops[90].fields["age"] = "forty";
  ops[150].fields["age"] = 99999999999;
  auto results = connector->write(table("contacts"), ops);
  REQUIRE(results.size() == 200);
  CHECK_THAT(results[17].error, Catch::Contains("violates check constraint \"adult\""));
  CHECK_THAT(results[90].error, Catch::Contains("invalid input syntax for type integer: \"forty\""));
  // Told before the statement runs, as write_problem tells it.
  CHECK(results[150].error == "column age (integer) cannot hold 99999999999 exactly");
  int ok = 0;
  for (const auto& result : results) ok += result.ok;
  CHECK(ok == 197);
  CHECK(db.schema.query("SELECT count(*) FROM contacts") == "197");

  results = connector->write(table("contacts"), {op(OpKind::create, "", {{"email", "p1@x"}, {"age", 30}}),
                                                 op(OpKind::create, "", {{"email", "q@x"}, {"team", "blue"}}),
                                                 op(OpKind::create, "", {{"email", "r@x"}, {"name", nullptr}}),
                                                 op(OpKind::create, "", {{"email", "s@x"}, {"team", "red"}})});
  CHECK_THAT(results[0].error, Catch::Contains("duplicate key value violates unique constraint \"contacts_pkey\"") &&
                                   Catch::Contains("Key (email)=(p1@x) already exists"));
  CHECK_THAT(results[1].error, Catch::Contains("foreign key constraint"));
  CHECK_THAT(results[2].error, Catch::Contains("null value in column \"name\""));
  CHECK(results[3].ok);
  CHECK(results[0].error_kind == ErrorKind::record);
}

TEST_CASE("postgres: statements prepared by earlier batches keep working when the table changes under them",
          "[postgres]") {
  // Each write statement is prepared once per connection; another session altering, or
  // dropping and creating, the table in between must not break the next batch.
  PgFixture db;
  auto connector = db.connector();
  auto upsert = [&](const std::string& email, const std::string& name) {
    return connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", email}, {"first_name", name}})})[0];
  };
  REQUIRE(upsert("a@x", "A").ok);
  REQUIRE(connector->write(table("contacts"), {op(OpKind::update, "a@x", {{"first_name", "A2"}})})[0].ok);
  db.schema.exec("ALTER TABLE contacts ADD COLUMN extra text, ALTER COLUMN last_name TYPE varchar(20)");
  CHECK(upsert("b@x", "B").ok);
  CHECK(connector->write(table("contacts"), {op(OpKind::update, "b@x", {{"first_name", "B2"}})})[0].ok);
  db.schema.exec("DROP TABLE contacts");
  db.schema.exec(kContactsTable);
  auto again = upsert("c@x", "C");
  INFO(again.error);
  CHECK(again.ok);
  CHECK(connector->write(table("contacts"), {op(OpKind::update, "c@x", {{"first_name", "C2"}})})[0].ok);
  CHECK(connector->write(table("contacts"), {op(OpKind::remove, "c@x")})[0].ok);
  CHECK(db.schema.query("SELECT count(*) FROM contacts") == "0");
}

TEST_CASE("postgres: identifiers with quotes, spaces and SQL are quoted, values bound", "[postgres]") {
  PgFixture db(R"(CREATE TABLE "odd ""table""; DROP TABLE x; --" ("e-mail" text PRIMARY KEY, "first name" text,
                  "Select" text))");
  auto connector = db.connector();
  auto object = table("odd \"table\"; DROP TABLE x; --", Json::object(), "e-mail");
  const std::string nasty = "x'); DROP TABLE contacts; -- $1 \\ \" '";
  auto results = connector->write(
      object, {op(OpKind::upsert, "", {{"e-mail", "a@x"}, {"first name", nasty}, {"Select", "from"}})});
  INFO(results[0].error);
  REQUIRE(results[0].ok);
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 1);
  CHECK(records[0].fields["first name"] == nasty);
  CHECK(records[0].fields["Select"] == "from");
  CHECK(connector->lookup(object, "first name", {nasty}).size() == 1);
  CHECK(connector->write(object, {op(OpKind::update, "a@x", {{"Select", "where"}})})[0].ok);
  CHECK(connector->write(object, {op(OpKind::remove, "a@x")})[0].ok);
  CHECK(read_all(*connector, object).empty());

  // The same through a schema whose name needs quoting.
  db.schema.exec(R"(CREATE SCHEMA "my ""odd"" schema"; CREATE TABLE "my ""odd"" schema".contacts (email text PRIMARY KEY))");
  auto other = db.connector({{"schema", "my \"odd\" schema"}});
  CHECK(other->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "b@x"}})})[0].ok);
  CHECK(read_all(*other, table("contacts")).size() == 1);
  db.schema.exec(R"(DROP SCHEMA "my ""odd"" schema" CASCADE)");
}

TEST_CASE("postgres read: values keep their types", "[postgres]") {
  PgFixture db(
      "CREATE TABLE contacts(email text PRIMARY KEY, age integer, big bigint, score numeric(12,2), ratio float8, "
      "exact numeric, vip boolean, prefs jsonb, tags text[], seen timestamptz, local timestamp, born date, "
      "photo bytea, id uuid, note text)");
  db.schema.exec(
      "INSERT INTO contacts VALUES ('a@x', 42, 9007199254740993, 12.50, 1.5, 12345678901234567890.5, true, "
      "'{\"a\": [1, 2]}', ARRAY['x', 'y,z'], '2026-03-01 12:00:00.25+00', '2026-03-01 08:00:00', '1990-05-17', "
      "'\\x000102ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL)");
  auto connector = db.connector();
  auto records = read_all(*connector, table("contacts"));
  REQUIRE(records.size() == 1);
  const Json expected = {{"email", "a@x"},
                         {"age", 42},
                         {"big", 9007199254740993LL},
                         {"score", 12.5},
                         {"ratio", 1.5},
                         {"exact", "12345678901234567890.5"},
                         {"vip", true},
                         {"prefs", {{"a", {1, 2}}}},
                         {"tags", {"x", "y,z"}},
                         {"seen", "2026-03-01T12:00:00.250Z"},
                         {"local", "2026-03-01T08:00:00"},
                         {"born", "1990-05-17"},
                         {"photo", "AAEC/w=="},
                         {"id", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
                         {"note", nullptr}};
  CHECK(records[0].fields == expected);

  // What is read can be written back unchanged.
  Json copy = expected;
  copy["email"] = "b@x";
  copy.erase("photo");
  auto results = connector->write(table("contacts"), {op(OpKind::upsert, "", copy)});
  INFO(results[0].error);
  REQUIRE(results[0].ok);
  auto found = connector->lookup(table("contacts"), "email", {"b@x"});
  REQUIRE(found.size() == 1);
  copy["photo"] = nullptr;
  CHECK(found[0].fields == copy);

  auto description = connector->describe(table("contacts"));
  std::map<std::string, std::string> types;
  for (const auto& field : description.fields) types[field.name] = field.type;
  CHECK(types["age"] == "number");
  CHECK(types["vip"] == "bool");
  CHECK(types["prefs"] == "json");
  CHECK(types["seen"] == "datetime");
  CHECK(types["born"] == "datetime");
  CHECK(types["note"] == "string");
}

TEST_CASE("postgres source: a query model reads incrementally, looking back for late commits", "[postgres]") {
  PgFixture db;
  db.schema.exec(
      "INSERT INTO contacts (email, first_name, updated_at) VALUES "
      "('a@x', 'A', '2026-01-01T00:00:00Z'), ('b@x', 'B', '2026-01-02T00:00:00Z'), "
      "('c@x', 'C', '2026-01-03T00:00:00Z'), ('d@x', 'D', NULL), ('e@x', 'E', '2026-01-02T23:59:30Z')");
  auto connector = db.connector();
  ObjectRef object;
  object.name = "customers";
  object.key_field = "email";
  object.options = {{"query", "SELECT email, upper(first_name) AS name, updated_at FROM contacts;"},
                    {"cursor_column", "updated_at"},
                    {"lookback", "0s"}};
  CHECK(connector->capabilities(object).incremental_read);
  CHECK_FALSE(connector->capabilities(object).tombstones);

  ReadRequest request;
  request.since = "2026-01-02T00:00:00.000000Z";
  auto pages = read_pages(*connector, object, request);
  REQUIRE(pages.size() == 1);
  REQUIRE(pages[0].records.size() == 3);
  CHECK(pages[0].records[0].id == "b@x");
  CHECK(pages[0].records[0].fields["name"] == "B");
  CHECK(pages[0].records[0].modified_at == "2026-01-02T00:00:00.000000Z");
  CHECK(pages[0].cursor == "2026-01-03T00:00:00.000000Z");

  // The default lookback (1 minute) reads e@x (30 s before `since`) again, but the cursor
  // never goes back.
  object.options.erase("lookback");
  request.since = "2026-01-03T00:00:20.000000Z";
  pages = read_pages(*connector, object, request);
  REQUIRE(pages.size() == 1);
  REQUIRE(pages[0].records.size() == 2);
  CHECK(pages[0].records[0].id == "e@x");
  CHECK(pages[0].records[1].id == "c@x");
  CHECK(pages[0].cursor == "2026-01-03T00:00:20.000000Z");
  request.since = "2026-01-03T00:01:00.000000Z";
  pages = read_pages(*connector, object, request);
  REQUIRE(pages.size() == 1);
  REQUIRE(pages[0].records.size() == 1);
  CHECK(pages[0].records[0].id == "c@x");
  CHECK(pages[0].cursor == "2026-01-03T00:01:00.000000Z");

  request.since.reset();
  request.page_size = 2;
  pages = read_pages(*connector, object, request);
  REQUIRE(pages.size() == 3);
  // Ordered by the cursor (NULL first), so each page's cursor is safe to resume from.
  CHECK(pages[0].records[0].id == "d@x");
  CHECK(pages[0].cursor == "2026-01-01T00:00:00.000000Z");
  CHECK(pages[2].cursor == "2026-01-03T00:00:00.000000Z");

  auto found = connector->lookup(object, "name", {"C", "Z"});
  REQUIRE(found.size() == 1);
  CHECK(found[0].id == "c@x");
  CHECK(connector->lookup(object, connectors::kNativeIdField, {"a@x"}).size() == 1);
  auto error = error_of([&] { connector->write(object, {op(OpKind::upsert, "", {{"email", "z@x"}})}); });
  CHECK_THAT(error.what(), Catch::Contains("a `query` is read-only"));

  object.options["query"] = "SELECT email, email FROM contacts";
  error = error_of([&] { read_all(*connector, object); });
  CHECK_THAT(error.what(), Catch::Contains("returns two columns named 'email'"));
  object.options["query"] = "SELECT emial FROM contacts";
  error = error_of([&] { db.connector()->describe(object); });
  CHECK_THAT(error.what(), Catch::Contains("column \"emial\" does not exist"));
}

TEST_CASE("postgres: a large table streams in pages through a cursor", "[postgres]") {
  PgFixture db;
  db.schema.exec(
      "INSERT INTO contacts (email, first_name) SELECT 'p' || i || '@x', 'P' || i FROM generate_series(1, 20000) i");
  auto connector = db.connector();
  ReadRequest request;
  request.page_size = 1000;
  std::size_t pages = 0, records = 0, largest = 0;
  connector->read(table("contacts"), request, [&](Page&& page) {
    ++pages;
    records += page.records.size();
    largest = std::max(largest, page.records.size());
  });
  CHECK(pages == 20);
  CHECK(records == 20000);
  CHECK(largest == 1000);
  // A sink that throws ends the read; the connection stays usable.
  CHECK_THROWS_AS(connector->read(table("contacts"), request, [](Page&&) { throw std::runtime_error("stop"); }),
                  std::runtime_error);
  CHECK(read_all(*connector, table("contacts")).size() == 20000);
}

TEST_CASE("postgres: composite keys identify rows by a JSON array of their values", "[postgres]") {
  PgFixture db("CREATE TABLE members(tenant text, user_id integer, name text, PRIMARY KEY (tenant, user_id))");
  auto connector = db.connector();
  auto object = table("members", {{"key_columns", {"tenant", "user_id"}}}, "");
  auto results = connector->write(object, {op(OpKind::upsert, "", {{"tenant", "acme"}, {"user_id", 7}, {"name", "A"}}),
                                           op(OpKind::upsert, "", {{"tenant", "beta"}, {"user_id", 7}, {"name", "B"}})});
  REQUIRE(results[0].ok);
  CHECK(results[0].id == R"(["acme",7])");
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 2);
  CHECK(records[0].id == R"(["acme",7])");
  results = connector->write(object, {op(OpKind::update, R"(["beta",7])", {{"name", "Bee"}}),
                                      op(OpKind::update, R"(["beta",8])", {{"name", "Nobody"}}),
                                      op(OpKind::remove, R"(["acme",7])"), op(OpKind::update, "beta", {{"name", "?"}})});
  CHECK(results[0].ok);
  CHECK_THAT(results[1].error, Catch::Contains("no row with tenant, user_id"));
  CHECK(results[2].ok);
  CHECK_THAT(results[3].error, Catch::Contains("bad row id"));
  auto found = connector->lookup(object, connectors::kNativeIdField, {R"(["beta",7])", R"(["acme",7])"});
  REQUIRE(found.size() == 1);
  CHECK(found[0].fields["name"] == "Bee");
}

TEST_CASE("postgres: upsert without a unique index updates, else inserts; generated keys come back",
          "[postgres]") {
  PgFixture db("CREATE TABLE contacts(email text, name text); CREATE TABLE notes(id serial PRIMARY KEY, body text)");
  auto connector = db.connector();
  auto results = connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "a@x"}, {"name", "A"}}),
                                                      op(OpKind::upsert, "", {{"email", "a@x"}, {"name", "Ay"}}),
                                                      op(OpKind::upsert, "", {{"email", "b@x"}})});
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK(results[2].ok);
  CHECK(db.schema.query("SELECT count(*) FROM contacts") == "2");
  CHECK(db.schema.query("SELECT name FROM contacts WHERE email = 'a@x'") == "Ay");

  auto notes = table("notes", Json::object(), "id");
  results = connector->write(notes, {op(OpKind::create, "", {{"body", "one"}}), op(OpKind::create, "", {{"body", "two"}})});
  CHECK(results[0].id == "1");
  CHECK(results[1].id == "2");
  CHECK(connector->lookup(notes, connectors::kNativeIdField, {"2", "abc"}).size() == 1);
  CHECK(connector->lookup(notes, "id", {"x", "1", "y"}).size() == 1);
}

TEST_CASE("postgres create_table creates a typed table from the declared schema and adds columns", "[postgres]") {
  PgFixture db(nullptr);
  auto connector = db.connector();
  auto object = table("people", {{"create_table", true}, {"soft_delete_column", "deleted_at"}});
  object.schema = {{"email", "email", {}}, {"age", "number", {}}, {"vip", "bool", {}}, {"seen", "datetime", {}},
                   {"tags", "multiselect", {"a", "b"}}, {"extra", "json", {}}};
  CHECK(read_all(*connector, object).empty());
  CHECK(connector->lookup(object, "email", {"a@x"}).empty());
  CHECK(connector->write_problem(object, op(OpKind::upsert, "", {{"email", "a@x"}, {"city", "Oslo"}})).empty());
  auto results = connector->write(object, {op(OpKind::upsert, "", {{"email", "a@x"}, {"age", 41}, {"vip", true},
                                                                   {"seen", "2026-01-01T10:00:00Z"},
                                                                   {"tags", {"a", "b"}}, {"extra", {{"k", 1}}}})});
  INFO(results[0].error);
  REQUIRE(results[0].ok);
  CHECK(db.schema.query("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM "
                        "information_schema.columns WHERE table_schema = current_schema() AND table_name = 'people'") ==
        "email:text,age:numeric,vip:boolean,seen:timestamp with time zone,tags:ARRAY,extra:jsonb,"
        "deleted_at:timestamp with time zone");
  results = connector->write(object, {op(OpKind::upsert, "", {{"email", "b@x"}, {"city", "Oslo"}})});
  REQUIRE(results[0].ok);
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 2);
  CHECK(records[0].fields["tags"] == Json{"a", "b"});
  CHECK(records[0].fields["seen"] == "2026-01-01T10:00:00Z");
  CHECK(records[1].fields["city"] == "Oslo");
}

TEST_CASE("postgres schema management plans and applies new tables, new columns and type changes",
          "[postgres]") {
  PgFixture db(nullptr);
  auto connector = db.connector();
  auto object = table("leads");
  std::vector<connectors::DeclaredField> declared = {{"email", "email", {}}, {"score", "number", {}}};
  auto changes = connector->schema_plan(object, declared);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].summary == "text, primary key (new table)");
  CHECK(changes[1].summary == "numeric (new table)");
  connector->schema_apply(object, changes);
  CHECK(connector->schema_plan(object, declared).empty());

  db.schema.exec("ALTER TABLE leads ALTER COLUMN score TYPE text; INSERT INTO leads VALUES ('a@x', '12.5')");
  declared.push_back({"since", "date", {}});
  changes = connector->schema_plan(object, declared);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].kind == connectors::SchemaChange::Kind::alter);
  CHECK(changes[0].summary == "numeric (was text)");
  CHECK(changes[1].summary == "date");
  connector->schema_apply(object, changes);
  CHECK(db.schema.query("SELECT score + 1 FROM leads") == "13.5");
  CHECK(connector->schema_plan(object, declared).empty());

  // A change the data cannot take fails whole, naming the value.
  db.schema.exec("INSERT INTO leads (email, since) VALUES ('b@x', '2026-01-01')");
  declared[2].type = "bool";
  auto error = error_of([&] { connector->schema_apply(object, connector->schema_plan(object, declared)); });
  CHECK_THAT(error.what(), Catch::Contains("boolean"));
  CHECK(db.schema.query("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = 'leads' AND column_name = 'since'") == "date");
}

TEST_CASE("postgres: a write whose connection was lost is retried on a new connection", "[postgres]") {
  PgFixture db;
  auto connector = db.connector({{"application_name", "synctool-lost-test"}});
  REQUIRE(connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "a@x"}})})[0].ok);
  db.schema.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'synctool-lost-test'");
  auto results = connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "b@x"}})});
  CHECK(results[0].ok);
  CHECK(db.schema.query("SELECT count(*) FROM contacts") == "2");
}

TEST_CASE("postgres: without retries a lost connection is a transient error, and the next call reconnects",
          "[postgres]") {
  PgFixture db;
  auto connector = db.connector({{"application_name", "synctool-lost-test"}, {"max_retries", 0}});
  REQUIRE(connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "a@x"}})})[0].ok);
  db.schema.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'synctool-lost-test'");
  auto error = error_of([&] { connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "b@x"}})}); });
  CHECK(error.kind() == ErrorKind::transient);
  auto results = connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "b@x"}})});
  CHECK(results[0].ok);
  CHECK(db.schema.query("SELECT count(*) FROM contacts") == "2");
}

// A deferred trigger ends its own backend at COMMIT: the client has sent COMMIT and hears only
// that the connection is gone, and cannot know whether the batch landed.
TEST_CASE("postgres: a connection lost during COMMIT is retried for upserts, never for plain inserts",
          "[postgres]") {
  PgFixture db;
  const std::string s = db.schema.name();
  db.schema.exec("CREATE SEQUENCE " + s + ".commits; CREATE FUNCTION " + s +
                 ".die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF nextval('" + s + ".commits') <= 2 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
                 "RETURN NULL; END $$; CREATE CONSTRAINT TRIGGER die AFTER INSERT ON " + s +
                 ".contacts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION " + s + ".die_at_commit()");
  auto connector = db.connector();
  auto error = error_of([&] { connector->write(table("contacts"), {op(OpKind::create, "", {{"email", "a@x"}})}); });
  CHECK(error.kind() == ErrorKind::transient);
  CHECK(db.schema.query("SELECT last_value FROM " + s + ".commits") == "1");  // not sent again
  auto results = connector->write(table("contacts"), {op(OpKind::upsert, "", {{"email", "b@x"}})});
  CHECK(results[0].ok);
  CHECK(db.schema.query("SELECT last_value FROM " + s + ".commits") == "3");  // lost once, then committed
  CHECK(db.schema.query("SELECT string_agg(email, ',') FROM contacts") == "b@x");
}

TEST_CASE("postgres: a statement that outlives statement_timeout is a transient error", "[postgres]") {
  PgFixture db;
  db.schema.exec("INSERT INTO contacts (email) VALUES ('a@x')");
  PgTestSchema other;  // a second session holding the row's lock
  other.exec("BEGIN; SELECT 1 FROM " + db.schema.name() + ".contacts WHERE email = 'a@x' FOR UPDATE");
  auto connector = db.connector({{"statement_timeout", "1s"}, {"max_retries", 0}});
  auto error =
      error_of([&] { connector->write(table("contacts"), {op(OpKind::update, "a@x", {{"first_name", "A"}})}); });
  CHECK(error.kind() == ErrorKind::transient);
  CHECK_THAT(error.what(), Catch::Contains("statement timeout"));
  other.exec("ROLLBACK");
  CHECK(connector->write(table("contacts"), {op(OpKind::update, "a@x", {{"first_name", "A"}})})[0].ok);
}

TEST_CASE("postgres settings: a bad value is an error naming its key, found without connecting", "[postgres]") {
  PgFixture db(nullptr);
  auto setting_of = [&](Json settings) {
    ConnectionConfig config = db.config();
    config.settings = std::move(settings);
    try {
      connectors::make_connector(config);
    } catch (const ConnectorError& e) {
      CHECK(e.kind() == ErrorKind::config);
      return e.setting();
    }
    return std::string("no error");
  };
  const std::string unreachable = pg_url_with_port(db.schema.url(), "1");
  CHECK(setting_of(Json::object()) == "url");
  CHECK(setting_of({{"url", "postgresql://[broken"}}) == "url");
  CHECK(setting_of({{"url", unreachable}, {"sslmode", "sometimes"}}) == "sslmode");
  CHECK(setting_of({{"url", unreachable}, {"connect_timeout", "soon"}}) == "connect_timeout");
  CHECK(setting_of({{"url", unreachable}, {"statement_timeout", "long"}}) == "statement_timeout");
  CHECK(setting_of({{"url", unreachable}, {"max_retries", "many"}}) == "max_retries");
  CHECK(setting_of({{"url", unreachable}, {"retry_for", "soon"}}) == "retry_for");
  // A server that refuses connections is no setting's fault, and only check() finds it.
  CHECK(setting_of({{"url", unreachable}, {"sslmode", "disable"}}) == "no error");
}

TEST_CASE("postgres check_options: endpoint keys are checked without connecting, naming the key", "[postgres]") {
  PgFixture db(nullptr);
  auto connector = db.connector({{"url", pg_url_with_port(db.schema.url(), "1")}});
  auto setting_of = [&](Json options) {
    try {
      connector->check_options(table("contacts", std::move(options)));
    } catch (const ConnectorError& e) {
      CHECK(e.kind() == ErrorKind::config);
      return e.setting();
    }
    return std::string("no error");
  };
  CHECK(setting_of({{"query", ""}}) == "query");
  CHECK(setting_of({{"query", ";"}}) == "query");
  CHECK(setting_of({{"schema", 5}}) == "schema");
  CHECK(setting_of({{"cursor_column", Json::array()}}) == "cursor_column");
  CHECK(setting_of({{"key_columns", Json::array()}}) == "key_columns");
  CHECK(setting_of({{"key_columns", "tenant"}}) == "key_columns");
  CHECK(setting_of({{"lookback", "a while"}}) == "lookback");
  CHECK(setting_of({{"create_table", "yes"}}) == "create_table");
  CHECK(setting_of({{"query", "SELECT 1"}, {"create_table", true}}) == "create_table");
  CHECK(setting_of({{"query", "SELECT * FROM nowhere"}, {"cursor_column", "x"}, {"lookback", "5m"}}) == "no error");
}

TEST_CASE("postgres probe: a missing table, a broken query, a missing column or privilege shows", "[postgres]") {
  PgFixture db;
  auto connector = db.connector();
  CHECK_NOTHROW(connector->probe(table("contacts", kIncremental)));
  auto error = error_of([&] { connector->probe(table("contacts", {{"cursor_column", "updatedat"}})); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK_THAT(error.what(), Catch::Contains("`cursor_column`: table " + db.schema.name() +
                                           ".contacts has no column 'updatedat' (did you mean 'updated_at'?)"));
  CHECK_THAT(error_of([&] { connector->probe(table("contacts", Json::object(), "mail")); }).what(),
             Catch::Contains("has no column 'mail'"));
  CHECK_THAT(error_of([&] { connector->probe(table("people")); }).what(), Catch::Contains("no such table"));
  CHECK_NOTHROW(connector->probe(table("people", {{"create_table", true}})));
  ObjectRef model = table("model", {{"query", "SELECT email, upper(first_name) AS name FROM contcts"}});
  model.destination = false;
  CHECK_THAT(error_of([&] { connector->probe(model); }).what(), Catch::Contains("\"contcts\" does not exist"));
  model.options["query"] = "SELECT email, upper(first_name) AS name FROM contacts";
  CHECK_NOTHROW(connector->probe(model));
  model.destination = true;
  CHECK_THAT(error_of([&] { connector->probe(model); }).what(), Catch::Contains("a `query` is read-only"));

  // The owner gives up its own privileges (the test's role may not create roles): first
  // reading the table, then writing it, then creating tables in the schema.
  ObjectRef source = table("contacts");
  source.destination = false;
  db.schema.exec("REVOKE SELECT ON contacts FROM CURRENT_USER");
  error = error_of([&] { connector->probe(source); });
  CHECK(error.kind() == ErrorKind::config);
  CHECK_THAT(error.what(), Catch::Contains("permission denied for table contacts"));
  db.schema.exec("GRANT SELECT ON contacts TO CURRENT_USER; REVOKE INSERT ON contacts FROM CURRENT_USER");
  CHECK_NOTHROW(connector->probe(source));
  error = error_of([&] { connector->probe(table("contacts")); });
  CHECK_THAT(error.what(), Catch::Contains("no privilege to insert into table " + db.schema.name() + ".contacts"));
  db.schema.exec("REVOKE CREATE ON SCHEMA " + db.schema.name() + " FROM CURRENT_USER");
  error = error_of([&] { connector->probe(table("people", {{"create_table", true}})); });
  CHECK_THAT(error.what(), Catch::Contains("no privilege to create table people in schema " + db.schema.name()));
}

TEST_CASE("postgres: ids are unique only when they are the primary key; describe says what takes new fields",
          "[postgres]") {
  PgFixture db;
  auto connector = db.connector();
  CHECK_FALSE(connector->capabilities(table("contacts")).unique_ids);
  CHECK(connector->capabilities(table("contacts", Json::object(), "")).unique_ids);
  CHECK_FALSE(connector->capabilities(table("contacts", {{"key_columns", {"email"}}}, "")).unique_ids);
  CHECK_FALSE(connector->capabilities(table("m", {{"query", "SELECT 1 AS email"}}, "")).unique_ids);
  auto description = connector->describe(table("contacts"));
  CHECK_FALSE(description.accepts_new_fields);
  CHECK_FALSE(description.case_insensitive);
  CHECK(connector->describe(table("contacts", {{"create_table", true}})).accepts_new_fields);
  CHECK(connector->describe(table("people", {{"create_table", true}})).accepts_new_fields);
}

TEST_CASE("postgres write: a value its column cannot hold exactly is rejected for its row", "[postgres]") {
  PgFixture db(
      "CREATE TABLE accounts(email text PRIMARY KEY, amount numeric(10,2), total numeric, ratio double precision, "
      "weight real, count integer, small smallint, big bigint, hundreds numeric(4,-2), label text)");
  auto connector = db.connector();
  auto object = table("accounts");
  auto write = [&](Json fields) {
    fields["email"] = "a@x";
    auto problem = connector->write_problem(object, op(OpKind::upsert, "", fields));
    auto result = connector->write(object, {op(OpKind::upsert, "", fields)})[0];
    CHECK(result.error == problem);
    return problem;
  };
  CHECK(write({{"amount", 1.005}}) == "column amount (numeric(10,2)) cannot hold 1.005 exactly");
  CHECK(write({{"amount", "123456789.5"}}) == "column amount (numeric(10,2)) cannot hold 123456789.5 exactly");
  CHECK(write({{"ratio", 9007199254740993}}) ==
        "column ratio (double precision) cannot hold 9007199254740993 exactly");
  CHECK(write({{"ratio", "12345678901234567.89"}}) ==
        "column ratio (double precision) cannot hold 12345678901234567.89 exactly");
  CHECK(write({{"weight", 16777217}}) == "column weight (real) cannot hold 16777217 exactly");
  CHECK(write({{"count", 1.5}}) == "column count (integer) cannot hold 1.5 exactly");
  CHECK(write({{"small", 40000}}) == "column small (smallint) cannot hold 40000 exactly");
  CHECK(write({{"big", "9223372036854775808"}}) == "column big (bigint) cannot hold 9223372036854775808 exactly");
  CHECK(write({{"hundreds", 1250}}) == "column hundreds (numeric(4,-2)) cannot hold 1250 exactly");
  CHECK(db.schema.query("SELECT count(*) FROM accounts") == "0");

  // A whole double is a whole number to an integer column.
  CHECK(write({{"count", 3.0}, {"big", 1e16}}).empty());
  CHECK(db.schema.query("SELECT count || ' ' || big FROM accounts") == "3 10000000000000000");

  CHECK(write({{"amount", "12345678.90"},
               {"total", "12345678901234567.89"},
               {"ratio", 0.30000000000000004},
               {"weight", 0.1},
               {"count", "-2147483648"},
               {"small", 7},
               {"big", 9007199254740993},
               {"hundreds", 1200},
               {"label", 1e16}})
            .empty());
  CHECK(db.schema.query("SELECT amount || ' ' || total || ' ' || ratio || ' ' || weight || ' ' || big || ' ' || "
                        "hundreds || ' ' || label FROM accounts") ==
        "12345678.90 12345678901234567.89 0.30000000000000004 0.1 9007199254740993 1200 10000000000000000");

  // Read back by the value model: exact numbers, in JSON form where a double holds them.
  auto records = read_all(*connector, object);
  REQUIRE(records.size() == 1);
  CHECK(records[0].fields["amount"] == 12345678.9);
  CHECK(records[0].fields["total"] == "12345678901234567.89");
  CHECK(records[0].fields["ratio"] == 0.30000000000000004);
  CHECK(records[0].fields["weight"] == 0.1);
  CHECK(records[0].fields["big"] == 9007199254740993LL);
  CHECK(records[0].fields["hundreds"] == 1200);
  CHECK(records[0].fields["label"] == "10000000000000000");

  // A double reaches a numeric or jsonb column as its shortest decimal: the server keeps every
  // digit it is sent, and JSON's serializer may send more (547725.3799 as 547725.3799000001).
  CHECK(write({{"total", 547725.3799}, {"ratio", 547725.3799}}).empty());
  CHECK(db.schema.query("SELECT total || ' ' || ratio FROM accounts") == "547725.3799 547725.3799");
  db.schema.exec("UPDATE accounts SET total = 12345678901234567.80");
  CHECK(read_all(*connector, object)[0].fields["total"] == "12345678901234567.8");
}

}  // namespace synctool::testing
