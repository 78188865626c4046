#include "connectors/postgres/postgres_db.hpp"

#include <cstdlib>

namespace synctool::connectors::postgres {

namespace {

// libpq's messages end with a newline and may run over several lines ("...Connection refused\n\tIs
// the server running...?"): one line, the parts joined by "; ".
std::string trimmed(std::string text) {
  std::string line;
  bool pending_break = false;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      pending_break = !line.empty();
      continue;
    }
    if (pending_break && (c == '\t' || c == ' ')) continue;
    if (pending_break) line += "; ";
    pending_break = false;
    line += c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string field(const PGresult* result, int code) {
  const char* value = PQresultErrorField(result, code);
  return value ? value : "";
}

// The userinfo of a URL ("user:secret" of postgresql://user:secret@host/db), "" when none.
std::string userinfo_of(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  auto start = scheme + 3;
  auto end = url.find_first_of("/?", start);
  auto at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < start) return "";
  return url.substr(start, at - start);
}

// libpq may quote the part of a URL it cannot parse; the credentials must not travel with it.
std::string without_userinfo(std::string message, const std::string& url) {
  auto userinfo = userinfo_of(url);
  if (userinfo.empty()) return message;
  for (auto pos = message.find(userinfo); pos != std::string::npos; pos = message.find(userinfo, pos))
    message.replace(pos, userinfo.size(), "[REDACTED]");
  return message;
}

}  // namespace

bool PgError::row_level() const {
  return sqlstate_.size() == 5 &&
         (sqlstate_.starts_with("21") || sqlstate_.starts_with("22") || sqlstate_.starts_with("23"));
}

bool PgError::transient() const {
  if (connection_lost_) return true;
  if (sqlstate_.size() != 5) return false;
  return sqlstate_.starts_with("08") || sqlstate_.starts_with("40") || sqlstate_.starts_with("53") ||
         sqlstate_ == "55P03" || sqlstate_.starts_with("57") || sqlstate_.starts_with("58");
}

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string text_array_literal(const std::vector<std::string>& values) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) literal.push_back(',');
    literal.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') literal.push_back('\\');
      literal.push_back(c);
    }
    literal.push_back('"');
  }
  literal.push_back('}');
  return literal;
}

std::optional<std::string> Result::text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return std::string(value(row, column));
}

long Result::affected() const {
  const char* count = PQcmdTuples(result_.get());
  return count && *count ? std::strtol(count, nullptr, 10) : 0;
}

Connection::Connection(const std::string& url, const std::vector<std::pair<std::string, std::string>>& overrides) {
  // dbname first with expand_dbname: libpq reads the URL there, later keywords override it.
  std::vector<const char*> keys{"dbname"};
  std::vector<const char*> values{url.c_str()};
  for (const auto& [key, value] : overrides) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (!conn_) throw PgError("out of memory opening a connection", "", true);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = without_userinfo(trimmed(PQerrorMessage(conn_)), url);
    PQfinish(conn_);
    conn_ = nullptr;
    throw PgError(message);
  }
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

bool Connection::in_transaction() const {
  auto status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

void Connection::fail(PGresult* result) const {
  std::string sqlstate = result ? field(result, PG_DIAG_SQLSTATE) : "";
  std::string message = result ? field(result, PG_DIAG_MESSAGE_PRIMARY) : "";
  if (message.empty()) message = trimmed(PQerrorMessage(conn_));
  if (result) {
    if (auto detail = field(result, PG_DIAG_MESSAGE_DETAIL); !detail.empty()) message += " (" + detail + ")";
    if (auto hint = field(result, PG_DIAG_MESSAGE_HINT); !hint.empty()) message += "; hint: " + hint;
  }
  const bool lost = PQstatus(conn_) != CONNECTION_OK;
  if (result) PQclear(result);
  if (message.empty()) message = "the statement failed without a message";
  throw PgError(message, sqlstate, lost);
}

Result Connection::check(PGresult* result) const {
  if (!result) fail(nullptr);
  auto status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return Result(result);
  fail(result);
}

Result Connection::exec(const std::string& sql) { return check(PQexec(conn_, sql.c_str())); }

Result Connection::exec(const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  return check(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                            nullptr, 0));
}

Result Connection::exec_prepared(const std::string& sql, const std::vector<Param>& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "synctool_" + std::to_string(prepared_.size() + 1);
    // Prepared outside any transaction's fate: a statement prepared in a batch that is rolled
    // back stays prepared.
    check(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  return check(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()), values.data(), nullptr,
                              nullptr, 0));
}

void Connection::rollback_quietly() noexcept {
  if (!conn_ || !healthy() || !in_transaction()) return;
  PGresult* result = PQexec(conn_, "ROLLBACK");
  if (result) PQclear(result);
}

std::string UrlParts::describe() const {
  std::string text;
  if (!user.empty()) text += user + "@";
  text += host.empty() ? "localhost" : host;
  if (!port.empty()) text += ":" + port;
  if (!dbname.empty()) text += "/" + dbname;
  return text;
}

UrlParts parse_url(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (!options) {
    std::string message = error ? trimmed(error) : "cannot parse the connection URL";
    if (error) PQfreemem(error);
    throw PgError(without_userinfo(message, url));
  }
  UrlParts parts;
  for (PQconninfoOption* option = options; option->keyword; ++option) {
    if (!option->val) continue;
    std::string keyword = option->keyword;
    if (keyword == "user") parts.user = option->val;
    else if (keyword == "password") parts.password = option->val;
    else if (keyword == "host" || (keyword == "hostaddr" && parts.host.empty())) parts.host = option->val;
    else if (keyword == "port") parts.port = option->val;
    else if (keyword == "dbname") parts.dbname = option->val;
  }
  PQconninfoFree(options);
  return parts;
}

}  // namespace synctool::connectors::postgres
