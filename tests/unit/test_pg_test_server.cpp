#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "support/pg_test_server.hpp"

using synctool::testing::mask_pg_password;
using synctool::testing::PgTestSchema;
using synctool::testing::test_pg_url;

namespace {

// The test URL with its password replaced.
std::string with_password(const std::string& url, const std::string& password) {
  const auto scheme_end = url.find("://");
  REQUIRE(scheme_end != std::string::npos);
  const auto at = url.find('@', scheme_end);
  const auto colon = url.find(':', scheme_end + 3);
  REQUIRE(at != std::string::npos);
  REQUIRE(colon < at);
  return url.substr(0, colon + 1) + password + url.substr(at);
}

std::string count_schemas(const PgTestSchema& db, const std::string& name) {
  return db.query("SELECT count(*) FROM pg_namespace WHERE nspname = '" + name + "'");
}

}  // namespace

TEST_CASE("mask_pg_password hides the password of URLs and conninfo strings", "[postgres]") {
  CHECK(mask_pg_password("postgresql://u:secret@127.0.0.1:5432/db") == "postgresql://u:***@127.0.0.1:5432/db");
  CHECK(mask_pg_password("postgresql://u@127.0.0.1/db") == "postgresql://u@127.0.0.1/db");
  CHECK(mask_pg_password("postgres://u:p@h/db?password=x&sslmode=disable") ==
        "postgres://u:***@h/db?password=***&sslmode=disable");
  CHECK(mask_pg_password("host=h password='a b' user=u") == "host=h password=*** user=u");
}

TEST_CASE("PgTestSchema gives each test a schema of its own on the test server", "[postgres]") {
  PgTestSchema first;
  PgTestSchema second;
  CHECK(first.name() != second.name());
  CHECK(first.name().starts_with("t_"));
  CHECK(first.url() == test_pg_url());
  CHECK(first.query("SELECT current_schema()") == first.name());
  CHECK(second.query("SELECT current_schema()") == second.name());
  CHECK(first.query("SHOW TimeZone") == "UTC");

  first.exec("CREATE TABLE contacts (id integer PRIMARY KEY, email text)");
  first.exec("INSERT INTO contacts VALUES (1, 'a@example.com'), (2, NULL)");
  CHECK(first.query("SELECT count(*) FROM contacts") == "2");
  CHECK(first.query("SELECT email FROM contacts WHERE id = 2") == "NULL");
  CHECK(first.query("SELECT email FROM contacts WHERE id = 3") == "(no row)");
  CHECK(first.rows("SELECT id, email FROM contacts ORDER BY id") ==
        std::vector<std::vector<std::string>>{{"1", "a@example.com"}, {"2", "NULL"}});
  CHECK(first.rows("SELECT id FROM contacts WHERE false").empty());

  // The same table name in the other schema is another table.
  second.exec("CREATE TABLE contacts (id integer)");
  CHECK(second.query("SELECT count(*) FROM contacts") == "0");
  CHECK(first.query("SELECT count(*) FROM " + second.name() + ".contacts") == "0");
}

TEST_CASE("PgTestSchema reports the server's message when SQL fails", "[postgres]") {
  PgTestSchema db;
  CHECK_THROWS_WITH(db.exec("SELEC 1"), Catch::Contains("syntax error at or near \"SELEC\""));
  CHECK_THROWS_WITH(db.query("SELECT * FROM missing_table"),
                    Catch::Contains("relation \"missing_table\" does not exist"));
  CHECK_THROWS_AS(db.rows("SELECT 1/0"), std::runtime_error);
  // The connection is still usable after an error.
  CHECK(db.query("SELECT 40 + 2") == "42");
}

TEST_CASE("PgTestSchema drops its schema at the end of the scope", "[postgres]") {
  std::string name;
  {
    PgTestSchema db;
    name = db.name();
    db.exec("CREATE TABLE t (x integer); CREATE VIEW v AS SELECT x FROM t");
    CHECK(count_schemas(db, name) == "1");
  }
  PgTestSchema other;
  CHECK(count_schemas(other, name) == "0");
}

TEST_CASE("The test server refuses a wrong password", "[postgres]") {
  const std::string& url = test_pg_url();
  CHECK(mask_pg_password(url).find("synctool-test-password") == std::string::npos);

  std::unique_ptr<PGconn, decltype(&PQfinish)> good(PQconnectdb(url.c_str()), PQfinish);
  REQUIRE(good != nullptr);
  CHECK(PQstatus(good.get()) == CONNECTION_OK);

  const std::string wrong = with_password(url, "not-the-password");
  std::unique_ptr<PGconn, decltype(&PQfinish)> bad(PQconnectdb(wrong.c_str()), PQfinish);
  REQUIRE(bad != nullptr);
  CHECK(PQstatus(bad.get()) == CONNECTION_BAD);
  CHECK_THAT(PQerrorMessage(bad.get()), Catch::Contains("password authentication failed"));
}
