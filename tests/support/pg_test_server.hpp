// The PostgreSQL server the tests use, and a throwaway schema on it per test.
#pragma once

#include <string>
#include <vector>

struct pg_conn;

namespace synctool::testing {

// The PostgreSQL server tests use: $SYNCTOOL_TEST_PG_URL (scripts/test starts one), else a server this
// process starts with scripts/pg-server on first use and stops when the process exits. Throws
// std::runtime_error when no server can be had.
const std::string& test_pg_url();

// URL (postgresql://user:password@host...) or conninfo (password=...) with the password replaced by
// "***": the only form of a connection string that may appear in a message.
std::string mask_pg_password(const std::string& url);

// Parts of a URL postgresql://user:password@host:port/db, for tests of refused connections.
std::string pg_url_password(const std::string& url);
std::string pg_url_with_password(const std::string& url, const std::string& password);
std::string pg_url_with_port(const std::string& url, const std::string& port);

// A fresh schema on the test server for one test, dropped (CASCADE) at the end of the scope. Tests point
// the postgres connector at it with the connection setting `schema = name()`.
class PgTestSchema {
 public:
  PgTestSchema();  // creates schema "t_<pid>_<counter>_<random>"
  ~PgTestSchema();
  PgTestSchema(const PgTestSchema&) = delete;
  PgTestSchema& operator=(const PgTestSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const;  // test_pg_url()

  // Runs SQL (one or more statements) with search_path set to the schema and TimeZone UTC; throws
  // std::runtime_error with the server's message on failure.
  void exec(const std::string& sql) const;
  // The first column of the first row as text, "NULL" for NULL, "(no row)" when there is no row.
  std::string query(const std::string& sql) const;
  // All rows as text, NULL as "NULL".
  std::vector<std::vector<std::string>> rows(const std::string& sql) const;

 private:
  pg_conn* conn_ = nullptr;
  std::string name_;
};

}  // namespace synctool::testing
