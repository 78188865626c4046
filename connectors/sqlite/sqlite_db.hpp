// A small RAII layer over the SQLite C API: a connection, prepared statements, identifier
// quoting and JSON <-> SQLite value conversion.
#pragma once

#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace synctool::connectors::sqlite {

// A failed SQLite call, with its (extended) result code and SQLite's message.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }
  int primary_code() const { return code_ & 0xff; }
  // The database was locked by another connection past the busy timeout.
  bool busy() const { return primary_code() == SQLITE_BUSY || primary_code() == SQLITE_LOCKED; }
  // A problem with one row's values (constraint, type, size), not with the database.
  bool row_level() const;

 private:
  int code_;
};

// "name" with embedded quotes doubled: safe for any table or column name.
std::string quote_identifier(std::string_view name);

class Statement {
 public:
  // `prepare_flags`: SQLITE_PREPARE_* (SQLITE_PREPARE_PERSISTENT for a statement kept and run
  // many times).
  Statement(sqlite3* db, std::string_view sql, unsigned prepare_flags = 0);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Resets the statement and clears its bindings so it can run again.
  void reset();
  // Binds a JSON value (1-based index): strings as TEXT, integers as INTEGER, floats as REAL,
  // booleans as 0/1, null as NULL, objects and arrays as their JSON text.
  void bind(int index, const nlohmann::json& value);
  // The same, but strings and blobs are bound by reference, not copied: `value` must stay
  // alive and unchanged until the statement is reset.
  void bind_borrowed(int index, const nlohmann::json& value);
  void bind_text(int index, std::string_view text);
  void bind_int64(int index, std::int64_t number);
  void bind_null(int index);
  // Runs one step: true when a row is available, false when done. Throws SqliteError.
  bool step();
  // Steps to completion, then resets.
  void run();
  // Steps to completion; resets and clears the bindings however it ends (a row-level error
  // leaves the statement ready for the next row, and no borrowed value bound).
  void execute();
  // Steps once (true when a row came), then resets and clears the bindings.
  bool any_row();

  // For reading a row's columns straight from the C API (sqlite3_column_*).
  sqlite3_stmt* handle() const { return stmt_; }
  int column_count() const;
  std::string column_name(int index) const;
  std::string column_decltype(int index) const;  // "" for expressions
  bool column_is_null(int index) const;
  // The column as text (numbers converted by SQLite); nullopt for NULL.
  std::optional<std::string> column_text(int index) const;
  // INTEGER -> integer, REAL -> double, TEXT -> string, NULL -> null, BLOB -> base64 string.
  nlohmann::json column_json(int index) const;

 private:
  void bind_json(int index, const nlohmann::json& value, sqlite3_destructor_type lifetime);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens `path` with SQLITE_OPEN_* `flags`. Throws SqliteError.
  Database(const std::string& path, int flags, int busy_timeout_ms);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* get() const { return db_; }
  // Runs SQL without results (may hold several statements).
  void exec(const std::string& sql);
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  // True outside an explicit transaction (a ROLLBACK conflict clause can end one).
  bool autocommit() const;

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace synctool::connectors::sqlite
