#include "support/pg_test_server.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#ifndef SYNCTOOL_SOURCE_DIR
#error "SYNCTOOL_SOURCE_DIR must name the source tree (tests/CMakeLists.txt defines it for test_support)"
#endif

extern char** environ;

namespace synctool::testing {

namespace {

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string trim_end(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string last_lines(const std::filesystem::path& file, std::size_t count) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) {
    out += "  " + lines[i] + "\n";
  }
  return out;
}

// A server of this process's own, started by scripts/pg-server in a temporary folder. A watchdog
// process (sh) waits for the end of a pipe whose only writer is this process, then stops the server
// and removes the folder: so the server goes away however this process ends, crashes included. A
// normal exit closes the pipe from the destructor and waits for the watchdog to be done.
class FallbackServer {
 public:
  FallbackServer() {
    const std::string script = std::string(SYNCTOOL_SOURCE_DIR) + "/scripts/pg-server";
    // /tmp rather than $TMPDIR: the server's unix socket lives in the folder, and its path is short.
    char folder[] = "/tmp/synctool-pg-XXXXXX";
    if (mkdtemp(folder) == nullptr) {
      error_ = std::string("cannot create a temporary folder for the test PostgreSQL server: ") + std::strerror(errno);
      return;
    }
    folder_ = folder;
    start_watchdog(script);

    const std::filesystem::path start_log = folder_ / "start.log";
    const std::string command =
        shell_quote(script) + " start " + shell_quote(folder_ / "pg") + " 2>" + shell_quote(start_log);
    FILE* out = popen(command.c_str(), "r");
    if (out == nullptr) {
      error_ = std::string("cannot run ") + script + ": " + std::strerror(errno);
      return;
    }
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, out) != nullptr) output += buffer;
    const int status = pclose(out);
    output = trim_end(output);
    if (status != 0 || output.empty()) {
      std::ostringstream message;
      message << "no PostgreSQL server for the tests: SYNCTOOL_TEST_PG_URL is not set, and `" << script
              << " start` failed (status " << status << "):\n"
              << last_lines(start_log, 30);
      error_ = message.str();
      return;
    }
    url_ = output;
  }

  ~FallbackServer() {
    if (watchdog_ > 0) {
      close(watchdog_pipe_);
      int status = 0;
      while (waitpid(watchdog_, &status, 0) < 0 && errno == EINTR) {
      }
    } else if (!folder_.empty()) {
      const std::string command = shell_quote(std::string(SYNCTOOL_SOURCE_DIR) + "/scripts/pg-server") + " stop " +
                                  shell_quote(folder_ / "pg") + " >/dev/null 2>&1";
      if (std::system(command.c_str()) != 0) std::cerr << "pg_test_server: cannot stop the test PostgreSQL server\n";
      std::error_code ec;
      std::filesystem::remove_all(folder_, ec);
    }
  }

  FallbackServer(const FallbackServer&) = delete;
  FallbackServer& operator=(const FallbackServer&) = delete;

  const std::string& url() const {
    if (!error_.empty()) throw std::runtime_error(error_);
    return url_;
  }

 private:
  void start_watchdog(const std::string& script) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);  // dup2 clears close-on-exec
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // A process group of its own: a Ctrl-C in the terminal must not take the watchdog with the tests.
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    const std::string folder = folder_.string();
    const char* argv[] = {"/bin/sh",
                          "-c",
                          "trap '' INT HUP; read line; \"$1\" stop \"$2/pg\" >/dev/null 2>&1; rm -rf \"$2\"",
                          "pg-server-watchdog",
                          script.c_str(),
                          folder.c_str(),
                          nullptr};
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(fds[0]);
    if (rc != 0) {
      close(fds[1]);
      return;  // the destructor stops the server itself
    }
    watchdog_ = pid;
    watchdog_pipe_ = fds[1];
  }

  std::filesystem::path folder_;
  std::string url_;
  std::string error_;
  pid_t watchdog_ = -1;
  int watchdog_pipe_ = -1;
};

std::string result_error(PGconn* conn, PGresult* result) {
  return trim_end(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn));
}

std::string abbreviated(const std::string& sql) {
  return sql.size() > 300 ? sql.substr(0, 300) + "..." : sql;
}

// Runs sql and returns its (last) result, which must be a command or rows; throws the server's message.
PGresult* run(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string message = result_error(conn, result);
    if (message.empty()) message = std::string("unexpected result ") + PQresStatus(status);
    PQclear(result);
    throw std::runtime_error("SQL failed: " + message + "\n  statement: " + abbreviated(sql));
  }
  return result;
}

std::string cell(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return "NULL";
  return std::string(PQgetvalue(result, row, column), static_cast<std::size_t>(PQgetlength(result, row, column)));
}

void ignore_notice(void*, const char*) {}

}  // namespace

std::string mask_pg_password(const std::string& url) {
  std::string masked = url;
  // URL form: scheme://user:password@host...
  if (const auto scheme_end = masked.find("://"); scheme_end != std::string::npos) {
    const auto authority = scheme_end + 3;
    auto authority_end = masked.find_first_of("/?", authority);
    if (authority_end == std::string::npos) authority_end = masked.size();
    const auto at = masked.rfind('@', authority_end);
    if (at != std::string::npos && at >= authority) {
      const auto colon = masked.find(':', authority);
      if (colon != std::string::npos && colon < at) masked.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... as a URL parameter or in a key=value conninfo string.
  for (auto pos = masked.find("password="); pos != std::string::npos; pos = masked.find("password=", pos + 1)) {
    const auto value = pos + 9;
    auto end = value;
    if (end < masked.size() && masked[end] == '\'') {
      end = value + 1;
      while (end < masked.size() && masked[end] != '\'') end += masked[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, masked.size());
    } else {
      while (end < masked.size() && masked[end] != '&' && masked[end] != ' ') ++end;
    }
    masked.replace(value, end - value, "***");
  }
  return masked;
}

const std::string& test_pg_url() {
  static const std::optional<std::string> from_environment = []() -> std::optional<std::string> {
    const char* url = std::getenv("SYNCTOOL_TEST_PG_URL");
    if (url == nullptr || *url == '\0') return std::nullopt;
    return std::string(url);
  }();
  if (from_environment) return *from_environment;
  static const FallbackServer server;
  return server.url();
}

PgTestSchema::PgTestSchema() {
  const std::string& url = test_pg_url();
  conn_ = PQconnectdb(url.c_str());
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = conn_ != nullptr ? trim_end(PQerrorMessage(conn_)) : "out of memory";
    PQfinish(conn_);
    conn_ = nullptr;
    throw std::runtime_error("cannot connect to the test PostgreSQL server " + mask_pg_password(url) + ": " +
                             message);
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);

  static std::atomic<unsigned> counter{0};
  std::random_device random;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(random()));
  name_ = "t_" + std::to_string(getpid()) + "_" + std::to_string(++counter) + "_" + suffix;
  try {
    PQclear(run(conn_, "CREATE SCHEMA " + name_));
    PQclear(run(conn_, "SET search_path TO " + name_ + "; SET TimeZone = 'UTC'"));
  } catch (...) {
    PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
}

PgTestSchema::~PgTestSchema() {
  if (conn_ == nullptr) return;
  if (PQstatus(conn_) != CONNECTION_OK) PQreset(conn_);
  PGresult* result = PQexec(conn_, ("DROP SCHEMA IF EXISTS " + name_ + " CASCADE").c_str());
  if (result == nullptr || PQresultStatus(result) != PGRES_COMMAND_OK) {
    std::cerr << "pg_test_server: cannot drop schema " << name_ << ": " << result_error(conn_, result) << "\n";
  }
  PQclear(result);
  PQfinish(conn_);
}

const std::string& PgTestSchema::url() const { return test_pg_url(); }

void PgTestSchema::exec(const std::string& sql) const { PQclear(run(conn_, sql)); }

std::string PgTestSchema::query(const std::string& sql) const {
  PGresult* result = run(conn_, sql);
  std::string value = "(no row)";
  if (PQntuples(result) > 0 && PQnfields(result) > 0) value = cell(result, 0, 0);
  PQclear(result);
  return value;
}

std::vector<std::vector<std::string>> PgTestSchema::rows(const std::string& sql) const {
  PGresult* result = run(conn_, sql);
  std::vector<std::vector<std::string>> all;
  const int row_count = PQntuples(result);
  const int column_count = PQnfields(result);
  all.reserve(static_cast<std::size_t>(row_count));
  for (int row = 0; row < row_count; ++row) {
    auto& values = all.emplace_back();
    for (int column = 0; column < column_count; ++column) values.push_back(cell(result, row, column));
  }
  PQclear(result);
  return all;
}

std::string pg_url_password(const std::string& url) {
  auto colon = url.find(':', url.find("://") + 3);
  return url.substr(colon + 1, url.find('@') - colon - 1);
}

std::string pg_url_with_password(const std::string& url, const std::string& password) {
  auto colon = url.find(':', url.find("://") + 3);
  return url.substr(0, colon + 1) + password + url.substr(url.find('@'));
}

std::string pg_url_with_port(const std::string& url, const std::string& port) {
  auto colon = url.find(':', url.find('@'));
  return url.substr(0, colon + 1) + port + url.substr(url.find('/', colon));
}

}  // namespace synctool::testing
