// A small RAII layer over libpq: a connection opened from a URL plus keyword overrides,
// statements with every value bound as a text parameter, results, and errors that keep the
// server's SQLSTATE so the connector can tell a bad row from a bad connection.
#pragma once

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synctool::connectors::postgres {

// A failed libpq call or statement, with the server's SQLSTATE ("" when the failure is the
// client's: no connection, a lost connection, a bad URL) and its details.
class PgError : public std::runtime_error {
 public:
  PgError(const std::string& message, std::string sqlstate = {}, bool connection_lost = false)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)), connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  // The connection broke while the statement ran (the server went away, a reset).
  bool connection_lost() const { return connection_lost_; }
  // A problem with one row's values: data exceptions (22: bad input syntax, out of range,
  // too long), integrity violations (23: not null, unique, check, foreign key) and a key that
  // two rows of one statement share after conversion (21).
  bool row_level() const;
  // Worth retrying: lost connections, serialization failures and deadlocks (40), too many
  // connections and other resource limits (53), a lock not available (55P03), a cancelled
  // statement or a shutting-down server (57), system errors (58).
  bool transient() const;

 private:
  std::string sqlstate_;
  bool connection_lost_ = false;
};

// "name" with embedded quotes doubled: safe for any schema, table or column name.
std::string quote_identifier(std::string_view name);
// Text as a PostgreSQL array literal element list: {"a","b \"c\""}.
std::string text_array_literal(const std::vector<std::string>& values);

class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  PGresult* get() const { return result_.get(); }
  int rows() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  std::string column_name(int column) const { return PQfname(result_.get(), column); }
  Oid column_type(int column) const { return PQftype(result_.get(), column); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view value(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column), static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
  }
  // The value as text; nullopt for NULL.
  std::optional<std::string> text(int row, int column) const;
  // Rows affected by an INSERT / UPDATE / DELETE.
  long affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// A statement parameter: text (the server converts it to the column's type), or NULL.
using Param = std::optional<std::string>;

class Connection {
 public:
  // Connects with the URL (or key=value conninfo) in `url`, then the keyword overrides (sslmode,
  // connect_timeout...), which win over the URL's own. Throws PgError with libpq's message.
  Connection(const std::string& url, const std::vector<std::pair<std::string, std::string>>& overrides);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* get() const { return conn_; }
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }
  bool in_transaction() const;
  // Runs one statement (or several without parameters); throws PgError on failure.
  Result exec(const std::string& sql);
  Result exec(const std::string& sql, const std::vector<Param>& params);
  // exec() of a statement this connection prepares the first time it sees its text and runs
  // as prepared after that: for the writes, one statement per table, kind and field set, so
  // the server parses and plans each once per connection instead of once per batch.
  Result exec_prepared(const std::string& sql, const std::vector<Param>& params);
  // ROLLBACK when a transaction is open and the connection is alive; never throws.
  void rollback_quietly() noexcept;

 private:
  [[noreturn]] void fail(PGresult* result) const;
  Result check(PGresult* result) const;

  PGconn* conn_ = nullptr;
  std::map<std::string, std::string, std::less<>> prepared_;  // statement text -> its name
};

// The parts of a connection URL for messages and redaction: libpq parses it.
struct UrlParts {
  std::string user, password, host, port, dbname;
  // user@host:port/dbname, without the password.
  std::string describe() const;
};
// Throws PgError when libpq cannot parse the URL (its message never contains the password).
UrlParts parse_url(const std::string& url);

}  // namespace synctool::connectors::postgres
