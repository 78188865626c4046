// End-to-end harness: runs the real synctool binary in a project folder and inspects the
// systems it syncs (CSV files, SQLite databases) from the outside.
#pragma once

#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace synctool::e2e {

namespace fs = std::filesystem;
using Env = std::map<std::string, std::string>;
using Row = std::map<std::string, std::string>;
using Rows = std::vector<Row>;

constexpr std::chrono::seconds kRunTimeout{120};

// What one invocation of synctool did.
struct Result {
  int exit_code = -1;  // the exit status, or -signal when killed by a signal
  std::string out, err;
  std::vector<std::string> args;

  // stdout parsed as one JSON document; throws with the whole output when it is not JSON.
  nlohmann::json json() const;
  // The command, exit code, stdout and stderr: for failure messages.
  std::string describe() const;
};

// Runs synctool with `args` in `cwd` (environment: this process's plus `env`), waits for it
// (killing it and throwing after `timeout`), and returns its exit code and output.
Result run_synctool(const fs::path& cwd, std::vector<std::string> args, const Env& env = {},
                    std::chrono::milliseconds timeout = kRunTimeout);

// A synctool started in the background, its output going to files in `cwd`'s parent.
class Spawned {
 public:
  Spawned(const fs::path& cwd, std::vector<std::string> args, const Env& env = {});
  ~Spawned();  // kills and reaps the process if it is still running
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  pid_t pid() const { return pid_; }
  // Whether the process has not exited yet (it is reaped once it has).
  bool running();
  void kill(int signal);
  // Waits until the process exits, at most `timeout` (then kills it and throws).
  Result wait(std::chrono::milliseconds timeout = kRunTimeout);

 private:
  bool reap(bool block);
  Result result_;
  pid_t pid_ = -1;
  bool exited_ = false;
  testing::TempDir output_dir_;
};

// Low level: starts synctool with stdout and stderr redirected to files; returns its pid.
pid_t spawn_synctool(const fs::path& cwd, const std::vector<std::string>& args, const Env& env,
                     const fs::path& out_file, const fs::path& err_file);
// Waits for `pid` to exit; returns the exit code, -signal if killed, or nullopt on timeout.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout);

// A SQLite database opened from the outside, as a user of the destination would see it.
class Db {
 public:
  explicit Db(const fs::path& file);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  // Every row of a SELECT, values as text ("" for NULL unless `null_text` is given).
  Rows query(const std::string& sql, const std::string& null_text = "") const;
  std::int64_t scalar(const std::string& sql) const;
  std::int64_t count(const std::string& table) const { return scalar("SELECT count(*) FROM " + table); }

 private:
  sqlite3* db_ = nullptr;
};

// A SQL string literal: 'text' with quotes doubled.
std::string sql_quote(const std::string& text);

// A contact as the generated data sets hold it.
struct Contact {
  std::string id, email, first_name, last_name, company, age;
};
// `n` distinct contacts: ids 1..n, emails person<i>@example.com, deterministic names.
std::vector<Contact> make_contacts(std::size_t n, std::size_t first_id = 1);

// A synctool project in a temporary folder: synctool.toml, syncs/*.toml, data files.
class Project {
 public:
  Project();
  const fs::path& root() const { return dir_.path(); }
  fs::path path(const std::string& relative) const { return dir_.path() / relative; }

  void write_file(const std::string& relative, const std::string& text) const;
  std::string read_file(const std::string& relative) const;
  void write_config(const std::string& toml) const { write_file("synctool.toml", toml); }
  void write_sync(const std::string& name, const std::string& toml) const {
    write_file("syncs/" + name + ".toml", toml);
  }

  void write_csv(const std::string& relative, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) const;
  void write_contacts_csv(const std::string& relative, const std::vector<Contact>& contacts) const;
  // Every data row of a CSV file, keyed by the header.
  Rows read_csv(const std::string& relative) const;

  // The default state folder of a sync (state_dir = ".synctool").
  fs::path state_dir(const std::string& sync) const { return path(".synctool") / sync; }

  Result run(std::vector<std::string> args, const Env& env = {}) const { return run_synctool(root(), args, env); }

 private:
  testing::TempDir dir_;
};

// Rows indexed by one column (a duplicate key fails the lookup with an exception).
std::map<std::string, Row> index_by(const Rows& rows, const std::string& column);

// Sums created + updated + deleted on the destination side of a run report.
std::uint64_t writes(const nlohmann::json& report);

// What a body run by with_private_tmpfs() did.
struct Isolated {
  bool available = false;  // false: this machine cannot give a process a tmpfs of its own
  std::string why_not;     // when not available
  int exit_code = -1;      // the body's process: 0 when the body returned, 1 when it threw
  std::string error;       // what the body threw
};

// Runs `body` in a child process that has a tmpfs of its own (mount options `options`, e.g.
// "size=1m") on `mount_point`, in a private mount namespace: entered as root, or else through
// an unprivileged user namespace (where the kernel allows them). The synctool processes the
// body starts see the small disk and nothing outside does; it is gone when the body ends, so
// the body does all its work inside and reports by throwing (a failure) or through files
// outside the mount. A real full disk: the kernel's ENOSPC, not a simulation.
Isolated with_private_tmpfs(const fs::path& mount_point, const std::string& options, const std::function<void()>& body);

}  // namespace synctool::e2e
