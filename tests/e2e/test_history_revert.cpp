// `synctool history`, `synctool revert` and the progress line, with the real binary on the CSV ->
// SQLite project.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace synctool::e2e {

namespace {

// Runs synctool with its stderr on a pseudo-terminal (stdout to /dev/null): what a person at a
// terminal sees of a run. Returns the exit code and everything written to the terminal.
std::pair<int, std::string> run_on_terminal(const Project& project, const std::vector<std::string>& args,
                                            const Env& env) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (chdir(project.root().c_str()) != 0) _exit(126);
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(SYNCTOOL_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(SYNCTOOL_BINARY, argv.data());
    _exit(127);
  }
  std::string seen;
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child closed the terminal
    seen.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, seen};
}

}  // namespace

TEST_CASE("history shows why a record changed; revert undoes a run and refuses what changed since",
          "[e2e][history]") {
  Project project;
  auto contacts = make_contacts(40);
  make_csv_to_sqlite(project, contacts, "mirror", "[deletes]\nmax = \"50%\"\n");
  REQUIRE(run_sync(project).exit_code == 0);

  // Run 2 goes wrong: a bad export renames two people and drops one.
  auto bad = contacts;
  bad[3].company = "WRONG";
  bad[4].company = "WRONG";
  bad.erase(bad.begin() + 10);
  project.write_contacts_csv(kSourceCsv, bad);
  auto second = run_sync(project);
  INFO(second.describe());
  REQUIRE(second.exit_code == 0);
  CHECK(second.json().at("run") == 2);
  REQUIRE(writes(second.json()) == 3);

  auto history = project.run({"history", kSync, " " + contacts[3].email + " ", "--json"});  // normalized like [match]
  INFO(history.describe());
  REQUIRE(history.exit_code == 0);
  auto entries = history.json().at("entries");
  REQUIRE(entries.size() == 2);  // created by run 1, updated by run 2; newest first
  CHECK(entries[0].at("run") == 2);
  const auto& change = entries[0].at("writes")[0].at("changes")[0];
  CHECK(change.at("field") == "company");
  CHECK(change.at("before") == contacts[3].company);
  CHECK(change.at("after") == "WRONG");
  CHECK(entries[1].at("writes")[0].at("op") == "create");
  // Its values, rebuilt from the record's values now and the later update's "before".
  CHECK(entries[1].at("writes")[0].at("after").at("company") == contacts[3].company);
  auto text = project.run({"history", kSync, contacts[3].email});
  INFO(text.describe());
  CHECK_THAT(text.out, Catch::Contains("company: " + nlohmann::json(contacts[3].company).dump() + " -> \"WRONG\""));

  // Someone fixes person 4 by hand meanwhile: the revert must leave that alone.
  Db db(project.path(kWarehouse));
  db.exec("UPDATE contacts SET company = 'Fixed by hand' WHERE email = " + sql_quote(contacts[4].email));

  auto plan = project.run({"revert", kSync, "2", "--dry-run", "--json"});
  INFO(plan.describe());
  CHECK(plan.exit_code == 1);  // one record refused
  CHECK(plan.json().at("steps").size() == 2);
  REQUIRE(plan.json().at("refused").size() == 1);
  CHECK(plan.json().at("refused")[0].at("key") == contacts[4].email);
  CHECK(db.scalar("SELECT count(*) FROM contacts WHERE company = 'WRONG'") == 1);  // a dry run writes nothing

  auto revert = project.run({"revert", kSync, "2"});
  INFO(revert.describe());
  CHECK(revert.exit_code == 1);
  CHECK_THAT(revert.out, Catch::Contains("refused"));
  auto rows = index_by(db.query("SELECT * FROM contacts"), "email");
  CHECK(rows.at(contacts[3].email).at("company") == contacts[3].company);
  CHECK(rows.at(contacts[4].email).at("company") == "Fixed by hand");
  CHECK(rows.at(contacts[10].email).at("company") == contacts[10].company);  // deleted, created again
  CHECK(rows.size() == 40);

  auto runs = project.run({"runs", kSync, "--json"});
  REQUIRE(runs.exit_code == 0);
  CHECK(runs.json().at("runs")[0].at("kind") == "revert");
  CHECK(runs.json().at("runs")[0].at("run") == 3);

  // Reverting again finds nothing left to undo: each record is refused or already as it was.
  auto again = project.run({"revert", kSync, "2", "--json"});
  INFO(again.describe());
  CHECK(again.json().at("steps").empty());

  CHECK(project.run({"revert", kSync, "99"}).exit_code == 2);
  CHECK_THAT(project.run({"revert", kSync, "99"}).err, Catch::Contains("has no run 99"));
}

TEST_CASE("the progress line is drawn on a terminal only, without colour under NO_COLOR, never with --quiet",
          "[e2e][progress]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(300));
  auto [code, seen] = run_on_terminal(project, {"run", kSync}, {{"TERM", "xterm"}});
  INFO(seen);
  CHECK(code == 0);
  CHECK_THAT(seen, Catch::Contains("\r\x1b[2m" + std::string(kSync) + ": writing"));
  CHECK_THAT(seen, Catch::EndsWith("\r\x1b[K"));  // the line is gone at the end

  project.write_contacts_csv(kSourceCsv, make_contacts(310));
  auto [plain_code, plain] = run_on_terminal(project, {"run", kSync}, {{"TERM", "xterm"}, {"NO_COLOR", "1"}});
  INFO(plain);
  CHECK(plain_code == 0);
  CHECK_THAT(plain, Catch::Contains("\r" + std::string(kSync) + ": writing"));
  CHECK(plain.find("\x1b[2m") == std::string::npos);

  auto [quiet_code, quiet] = run_on_terminal(project, {"run", kSync, "--quiet"}, {{"TERM", "xterm"}});
  CHECK(quiet_code == 0);
  CHECK(quiet.empty());

  // Not a terminal: no escape sequences anywhere; --quiet prints nothing for a run in sync.
  auto piped = run_sync(project, {});
  CHECK(piped.err.find('\x1b') == std::string::npos);
  auto silent = project.run({"run", kSync, "--quiet"});
  CHECK(silent.exit_code == 0);
  CHECK(silent.out.empty());
  CHECK(silent.err.empty());
}

}  // namespace synctool::e2e
