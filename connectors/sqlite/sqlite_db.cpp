#include "connectors/sqlite/sqlite_db.hpp"

#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <limits>
#include <utility>

namespace synctool::connectors::sqlite {

namespace {

[[noreturn]] void throw_error(sqlite3* db, int code) {
  throw SqliteError(code, db ? sqlite3_errmsg(db) : sqlite3_errstr(code));
}

}  // namespace

bool SqliteError::row_level() const {
  switch (primary_code()) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return true;
    default:
      return false;
  }
}

std::string quote_identifier(std::string_view name) {
  std::string quoted;
  quoted.reserve(name.size() + 2);
  quoted.push_back('"');
  for (char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

Statement::Statement(sqlite3* db, std::string_view sql, unsigned prepare_flags) : db_(db) {
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), prepare_flags, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw_error(db, rc);
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::bind(int index, const nlohmann::json& value) { bind_json(index, value, SQLITE_TRANSIENT); }

void Statement::bind_borrowed(int index, const nlohmann::json& value) { bind_json(index, value, SQLITE_STATIC); }

void Statement::bind_json(int index, const nlohmann::json& value, sqlite3_destructor_type lifetime) {
  int rc = SQLITE_OK;
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      rc = sqlite3_bind_null(stmt_, index);
      break;
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), lifetime, SQLITE_UTF8);
      break;
    }
    case nlohmann::json::value_t::boolean:
      rc = sqlite3_bind_int(stmt_, index, value.get<bool>() ? 1 : 0);
      break;
    case nlohmann::json::value_t::number_integer:
      rc = sqlite3_bind_int64(stmt_, index, value.get<std::int64_t>());
      break;
    case nlohmann::json::value_t::number_unsigned: {
      auto number = value.get<std::uint64_t>();
      if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        rc = sqlite3_bind_int64(stmt_, index, static_cast<std::int64_t>(number));
      else  // too big for SQLite's INTEGER: keep every digit as text
        bind_text(index, std::to_string(number));
      break;
    }
    case nlohmann::json::value_t::number_float:
      rc = sqlite3_bind_double(stmt_, index, value.get<double>());
      break;
    case nlohmann::json::value_t::binary: {
      const auto& bytes = value.get_binary();
      rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), lifetime);
      break;
    }
    case nlohmann::json::value_t::object:
    case nlohmann::json::value_t::array:
      bind_text(index, util::json_dump(value));
      break;
  }
  if (rc != SQLITE_OK) throw_error(db_, rc);
}

void Statement::bind_text(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_error(db_, rc);
}

void Statement::bind_int64(int index, std::int64_t number) {
  int rc = sqlite3_bind_int64(stmt_, index, number);
  if (rc != SQLITE_OK) throw_error(db_, rc);
}

void Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) throw_error(db_, rc);
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_error(db_, rc);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::execute() {
  try {
    while (step()) {
    }
  } catch (...) {
    reset();
    throw;
  }
  reset();
}

bool Statement::any_row() {
  bool found = false;
  try {
    found = step();
  } catch (...) {
    reset();
    throw;
  }
  reset();
  return found;
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }

std::string Statement::column_name(int index) const {
  const char* name = sqlite3_column_name(stmt_, index);
  return name ? name : "";
}

std::string Statement::column_decltype(int index) const {
  const char* type = sqlite3_column_decltype(stmt_, index);
  return type ? type : "";
}

bool Statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

std::optional<std::string> Statement::column_text(int index) const {
  if (column_is_null(index)) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  return std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

nlohmann::json Statement::column_json(int index) const {
  switch (sqlite3_column_type(stmt_, index)) {
    case SQLITE_INTEGER:
      return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, index));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt_, index);
    case SQLITE_TEXT:
      return *column_text(index);
    case SQLITE_BLOB: {
      const void* data = sqlite3_column_blob(stmt_, index);
      return util::base64_encode(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
    }
    default:
      return nullptr;
  }
}

Database::Database(const std::string& path, int flags, int busy_timeout_ms) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    SqliteError error(rc, db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    throw error;
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw SqliteError(sqlite3_extended_errcode(db_), text);
  }
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_); }

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

bool Database::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }

}  // namespace synctool::connectors::sqlite
