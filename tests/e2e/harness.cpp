#include "e2e/harness.hpp"

#include "connectors/csv/csv_format.hpp"
#include "support/private_tmpfs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace synctool::e2e {

namespace {

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string command_line(const std::vector<std::string>& args) {
  std::string text = "synctool";
  for (const auto& a : args) text += " " + a;
  return text;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

}  // namespace

nlohmann::json Result::json() const {
  try {
    return nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("stdout is not one JSON document (") + e.what() + ")\n" + describe());
  }
}

std::string Result::describe() const {
  // JSON on one line keeps failure messages short; anything else as it came.
  std::string shown = out;
  try {
    if (!out.empty()) shown = nlohmann::json::parse(out).dump(-1, ' ', true);  // ASCII: Catch2 wraps bytes
  } catch (const nlohmann::json::exception&) {
  }
  if (shown.size() > 4000) shown = shown.substr(0, 4000) + "... (" + std::to_string(shown.size()) + " bytes)";
  return "$ " + command_line(args) + "  => exit " + std::to_string(exit_code) + "\n  stdout: " + shown +
         "\n  stderr: " + err;
}

pid_t spawn_synctool(const fs::path& cwd, const std::vector<std::string>& args, const Env& env,
                     const fs::path& out_file, const fs::path& err_file) {
  std::vector<std::string> argv_text{SYNCTOOL_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  merged["NO_COLOR"] = "1";
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_text;
  for (const auto& [k, v] : merged) env_text.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("cannot start synctool: ") + std::strerror(rc));
  return pid;
}

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(500);
  for (;;) {
    int status = 0;
    pid_t rc = ::waitpid(pid, &status, WNOHANG);
    if (rc == pid) return decode_status(status);
    if (rc < 0 && errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20'000));
  }
}

Spawned::Spawned(const fs::path& cwd, std::vector<std::string> args, const Env& env) {
  result_.args = args;
  pid_ = spawn_synctool(cwd, args, env, output_dir_ / "stdout", output_dir_ / "stderr");
}

Spawned::~Spawned() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool Spawned::reap(bool block) {
  if (exited_) return true;
  int status = 0;
  pid_t rc;
  do {
    rc = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc != pid_) return false;
  exited_ = true;
  result_.exit_code = decode_status(status);
  return true;
}

bool Spawned::running() { return !reap(false); }

void Spawned::kill(int signal) {
  if (!exited_) ::kill(pid_, signal);
}

Result Spawned::wait(std::chrono::milliseconds timeout) {
  if (!exited_) {
    auto code = wait_for_exit(pid_, timeout);
    if (!code) {
      ::kill(pid_, SIGKILL);
      reap(true);
      result_.out = slurp(output_dir_ / "stdout");
      result_.err = slurp(output_dir_ / "stderr");
      throw std::runtime_error("synctool did not finish within " + std::to_string(timeout.count()) +
                               " ms and was killed\n" + result_.describe());
    }
    exited_ = true;
    result_.exit_code = *code;
  }
  result_.out = slurp(output_dir_ / "stdout");
  result_.err = slurp(output_dir_ / "stderr");
  return result_;
}

Result run_synctool(const fs::path& cwd, std::vector<std::string> args, const Env& env,
                    std::chrono::milliseconds timeout) {
  Spawned process(cwd, std::move(args), env);
  return process.wait(timeout);
}

// --- SQLite -------------------------------------------------------------------------------

Db::Db(const fs::path& file) {
  if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + file.string() + ": " + message);
  }
  sqlite3_busy_timeout(db_, 10'000);
}

Db::~Db() { sqlite3_close(db_); }

void Db::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error("sqlite: " + message + " in: " + sql.substr(0, 200));
  }
}

Rows Db::query(const std::string& sql, const std::string& null_text) const {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_) + " in: " + sql);
  Rows rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    Row row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      row[sqlite3_column_name(stmt, i)] = text ? reinterpret_cast<const char*>(text) : null_text;
    }
    rows.push_back(std::move(row));
  }
  std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_);
  sqlite3_finalize(stmt);
  if (!error.empty()) throw std::runtime_error("sqlite: " + error + " in: " + sql);
  return rows;
}

std::int64_t Db::scalar(const std::string& sql) const {
  auto rows = query(sql);
  if (rows.empty() || rows[0].empty()) throw std::runtime_error("no value from: " + sql);
  return std::stoll(rows[0].begin()->second);
}

std::string sql_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// --- data ---------------------------------------------------------------------------------

std::vector<Contact> make_contacts(std::size_t n, std::size_t first_id) {
  static const char* first_names[] = {"Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Greta", "Hugo"};
  static const char* last_names[] = {"Garcia", "Dubois", "Patel", "Kowalski", "Smith", "Jensen", "Nguyen"};
  static const char* companies[] = {"Acme Corp", "Globex", "Umbrella, Inc.", "Initech", "\"Quoted\" Ltd"};
  std::vector<Contact> contacts;
  contacts.reserve(n);
  for (std::size_t i = first_id; i < first_id + n; ++i) {
    Contact c;
    c.id = std::to_string(i);
    c.email = "person" + std::to_string(i) + "@example.com";
    c.first_name = first_names[i % 8];
    c.last_name = last_names[i % 7];
    c.company = companies[i % 5];
    c.age = std::to_string(18 + i % 60);
    contacts.push_back(std::move(c));
  }
  return contacts;
}

// --- project ------------------------------------------------------------------------------

Project::Project() { fs::create_directories(dir_.path() / "syncs"); }

void Project::write_file(const std::string& relative, const std::string& text) const {
  fs::path file = path(relative);
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::string Project::read_file(const std::string& relative) const { return slurp(path(relative)); }

void Project::write_csv(const std::string& relative, const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) const {
  fs::path file = path(relative);
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  connectors::csv::CsvWriter writer(out);
  writer.write_row(header);
  for (const auto& row : rows) writer.write_row(row);
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

void Project::write_contacts_csv(const std::string& relative, const std::vector<Contact>& contacts) const {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(contacts.size());
  for (const auto& c : contacts) rows.push_back({c.id, c.email, c.first_name, c.last_name, c.company, c.age});
  write_csv(relative, {"id", "email", "first_name", "last_name", "company", "age"}, rows);
}

Rows Project::read_csv(const std::string& relative) const {
  std::ifstream in(path(relative), std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path(relative).string());
  connectors::csv::CsvReader reader(in, relative);
  std::vector<std::string> header, row;
  Rows rows;
  if (!reader.next(header)) return rows;
  while (reader.next(row)) {
    Row r;
    for (std::size_t i = 0; i < header.size(); ++i) r[header[i]] = row[i];
    rows.push_back(std::move(r));
  }
  return rows;
}

std::map<std::string, Row> index_by(const Rows& rows, const std::string& column) {
  std::map<std::string, Row> out;
  for (const auto& row : rows) {
    auto it = row.find(column);
    if (it == row.end()) throw std::runtime_error("no column " + column);
    if (!out.emplace(it->second, row).second) throw std::runtime_error("duplicate " + column + " " + it->second);
  }
  return out;
}

std::uint64_t writes(const nlohmann::json& report) {
  const auto& d = report.at("destination");
  return d.at("created").get<std::uint64_t>() + d.at("updated").get<std::uint64_t>() +
         d.at("deleted").get<std::uint64_t>();
}

// --- a private tmpfs ------------------------------------------------------------------------

namespace {

void write_all(int fd, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

Isolated with_private_tmpfs(const fs::path& mount_point, const std::string& options,
                            const std::function<void()>& body) {
  constexpr int kUnavailable = 77;
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    const std::string why_not = testing::mount_private_tmpfs(mount_point, options);
    if (!why_not.empty()) {
      write_all(fds[1], why_not);
      code = kUnavailable;
    } else {
      try {
        body();
      } catch (const std::exception& e) {
        write_all(fds[1], e.what());
        code = 1;
      }
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Isolated result;
  const int code = decode_status(status);
  if (code == kUnavailable) {
    result.why_not = text;
    return result;
  }
  result.available = true;
  result.exit_code = code;
  result.error = text;
  return result;
}

}  // namespace synctool::e2e
