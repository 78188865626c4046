// A project with good and broken syncs side by side, as cron meets it: `run --all` runs what
// it can and sums up, the exit code is the most severe, `status` and `runs` go on for every
// sync, and usage errors under --json are JSON.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

namespace synctool::e2e {

namespace {

// 1-based number of the first line of `text` containing `needle`.
int line_of(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(needle) != std::string::npos) return n;
  throw std::runtime_error("no line contains " + needle);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

const std::string kUnusedConnection = R"(
[connections.unused]
type = "sqlite"
path = "${E2E_UNSET_FOR_UNUSED_CONNECTION}"
)";

// contacts: good. broken: a TOML syntax error. orphan: an unknown connection. uses-unused: a
// connection whose variable is unset. missing-table: a destination table that does not exist
// (exit 3).
void write_mixed_project(const Project& project) {
  make_csv_to_sqlite(project, make_contacts(10));
  project.write_config(std::string(kProjectToml) + kUnusedConnection);
  project.write_sync("broken", "direction = \"one-way\nmode = \"upsert\"\n");
  project.write_sync("orphan", replaced(contacts_sync_toml(), "connection = \"crm\"", "connection = \"nowhere\""));
  project.write_sync("uses-unused",
                     replaced(contacts_sync_toml(), "connection = \"warehouse\"", "connection = \"unused\""));
  project.write_sync("missing-table",
                     replaced(contacts_sync_toml(), "object     = \"contacts\"\nkey        = \"email\"",
                              "object     = \"no_such_table\"\nkey        = \"email\""));
}

const nlohmann::json& entry(const nlohmann::json& list, const std::string& sync) {
  for (const auto& item : list)
    if (item.at("sync") == sync) return item;
  FAIL("no entry for " << sync << " in " << list.dump());
  throw std::logic_error("unreachable");
}

std::size_t run_count(const Project& project, const std::string& sync) {
  auto r = project.run({"runs", sync, "-n", "0", "--json"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return r.json().at("runs").size();
}

}  // namespace

TEST_CASE("run --all runs every sync it can past broken specs and unset variables, sums up, and exits with the "
          "most severe code; check, status and runs go on for every sync",
          "[e2e][run-all]") {
  Project project;
  write_mixed_project(project);
  const std::string unused_line = std::to_string(line_of(project.read_file("synctool.toml"), "E2E_UNSET_FOR_UNUSED"));

  // check: every problem, the unused connection's unset variable included.
  auto check = project.run({"check", "--json"});
  INFO(check.describe());
  REQUIRE(check.exit_code == 2);
  std::string problems = check.json().at("problems").dump();
  CHECK_THAT(problems, Catch::Contains("environment variable E2E_UNSET_FOR_UNUSED_CONNECTION is not set"));
  CHECK_THAT(check.err, Catch::Contains("synctool: error: synctool.toml:" + unused_line + ":8: environment variable "
                                        "E2E_UNSET_FOR_UNUSED_CONNECTION is not set"));
  CHECK_THAT(check.err, Catch::Contains("syncs/uses-unused.toml:" +
                                        std::to_string(line_of(project.read_file("syncs/uses-unused.toml"),
                                                               "\"unused\"")) +
                                        ":14: [destination] connection 'unused' cannot be used: synctool.toml:" +
                                        unused_line + ":8: environment variable E2E_UNSET_FOR_UNUSED_CONNECTION"));
  CHECK_THAT(check.err, Catch::Contains("syncs/broken.toml:1:"));
  CHECK_THAT(check.err, Catch::Contains("connection 'nowhere' is not defined"));

  // run --all --json: the good sync ran, the broken ones are in the summary.
  auto all = project.run({"run", "--all", "--json"});
  INFO(all.describe());
  REQUIRE(all.exit_code == 3);  // missing-table (3) is more severe than the spec errors (2)
  auto report = all.json();
  CHECK(report.at("exit_code") == 3);
  REQUIRE(report.at("runs").size() == 2);
  CHECK(report.at("runs")[0].at("sync") == "contacts");
  CHECK(report.at("runs")[0].at("destination").at("created") == 10);
  const auto& summary = report.at("summary");
  REQUIRE(summary.size() == 5);
  std::vector<std::string> order;
  for (const auto& s : summary) order.push_back(s.at("sync"));
  CHECK(order == std::vector<std::string>{"broken", "contacts", "missing-table", "orphan", "uses-unused"});
  CHECK(entry(summary, "contacts").at("exit_code") == 0);
  CHECK(entry(summary, "contacts").at("created") == 10);
  CHECK(entry(summary, "contacts").at("kind") == "baseline");
  CHECK(entry(summary, "contacts").at("error").is_null());
  CHECK(entry(summary, "missing-table").at("exit_code") == 3);
  CHECK_THAT(entry(summary, "missing-table").at("error").get<std::string>(), Catch::Contains("no_such_table"));
  for (const char* broken : {"broken", "orphan", "uses-unused"}) {
    INFO(broken);
    const auto& e = entry(summary, broken);
    CHECK(e.at("exit_code") == 2);
    CHECK(e.at("ran") == false);
    CHECK(e.at("kind").is_null());
    CHECK_THAT(e.at("error").get<std::string>(), Catch::StartsWith("spec error: syncs/" + std::string(broken) + ".toml:"));
    CHECK_FALSE(e.at("problems").empty());
  }
  CHECK_FALSE(fs::exists(project.state_dir("orphan")));
  Db warehouse(project.path(kWarehouse));
  CHECK(warehouse.count("contacts") == 10);

  // The same as text: the reports, then one summary line per sync; each error once on stderr.
  auto text = project.run({"run", "--all"});
  INFO(text.describe());
  REQUIRE(text.exit_code == 3);
  auto lines = lines_of(text.out);
  auto header = std::find_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("SYNC "); });
  REQUIRE(header != lines.end());
  std::istringstream columns(*header);
  std::vector<std::string> names;
  for (std::string word; columns >> word;) names.push_back(word);
  CHECK(names == std::vector<std::string>{"SYNC", "KIND", "CREATED", "UPDATED", "DELETED", "SKIPPED", "REJECTED",
                                          "FAILED", "EXIT", "ERROR"});
  REQUIRE(lines.end() - header == 7);  // five syncs and the exit line
  CHECK_THAT(*(header + 2), Catch::StartsWith("contacts") && Catch::Contains("incremental"));
  CHECK_THAT(*(header + 4), Catch::StartsWith("orphan") && Catch::Contains("spec error: syncs/orphan.toml:"));
  CHECK(lines.back() == "exit 3: the most severe of the 5 syncs' exit codes");
  CHECK(occurrences(text.err, "no_such_table") == 1);
  CHECK(occurrences(text.err, "synctool: error: syncs/broken.toml:1:") == 1);
  CHECK(occurrences(text.out, "no_such_table") == 1);  // in the summary only, not in the report too

  // A sync named twice runs once; a broken one named beside a good one does not stop it; an
  // unknown name runs nothing at all.
  auto before = run_count(project, kSync);
  auto twice = project.run({"run", kSync, kSync, "--json"});
  INFO(twice.describe());
  CHECK(twice.exit_code == 0);
  CHECK(twice.json().at("sync") == kSync);
  CHECK(run_count(project, kSync) == before + 1);
  auto pair = project.run({"run", kSync, "orphan", kSync, "--json"});
  INFO(pair.describe());
  CHECK(pair.exit_code == 2);
  CHECK(pair.json().at("summary").size() == 2);
  CHECK(run_count(project, kSync) == before + 2);
  auto typo = project.run({"run", kSync, "contcts", "--json"});
  INFO(typo.describe());
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, Catch::Contains("unknown sync 'contcts'"));
  CHECK(run_count(project, kSync) == before + 2);

  // status: every sync, the broken ones as spec errors; complete JSON for a sync never run.
  auto status = project.run({"status", "--json"});
  INFO(status.describe());
  CHECK(status.exit_code == 3);
  auto syncs = status.json().at("syncs");
  REQUIRE(syncs.size() == 5);
  CHECK(entry(syncs, kSync).at("status") == "ok");
  CHECK(entry(syncs, kSync).at("records") == 10);
  CHECK(entry(syncs, "missing-table").at("status") == "error");
  // Why it is in error, not only that it is.
  CHECK_THAT(entry(syncs, "missing-table").at("errors").dump(), Catch::Contains("last run ended with exit 3"));
  const auto& orphan = entry(syncs, "orphan");
  CHECK(orphan.at("status") == "spec error");
  CHECK(orphan.at("exit_code") == 2);
  CHECK(orphan.at("records") == 0);
  CHECK(orphan.at("failed_rows") == 0);
  CHECK(orphan.at("last_run").is_null());
  CHECK(orphan.at("last_sync").is_null());
  CHECK(orphan.at("direction").is_null());
  CHECK_THAT(orphan.at("errors").dump(), Catch::Contains("nowhere"));
  CHECK(status.json().at("exit_code") == 3);

  // The sync's spec breaks after it ran: its history and records are still there.
  project.write_sync(kSync, contacts_sync_toml() + "bogus_key = 1\n");
  auto runs = project.run({"runs", kSync, "--json"});
  INFO(runs.describe());
  CHECK(runs.exit_code == 0);
  CHECK(runs.json().at("runs").size() == before + 2);
  auto broken_status = project.run({"status", "--json"});
  INFO(broken_status.describe());
  CHECK(entry(broken_status.json().at("syncs"), kSync).at("status") == "spec error");
  CHECK(entry(broken_status.json().at("syncs"), kSync).at("records") == 10);

  // A state that cannot be read: status says so, with the reason under the table, exit 7.
  {
    std::ofstream garbage(project.state_dir("missing-table") / "data.mdb", std::ios::binary | std::ios::trunc);
    garbage << "this is not an LMDB environment";
  }
  auto unreadable = project.run({"status"});
  INFO(unreadable.describe());
  CHECK(unreadable.exit_code == 7);
  auto table = lines_of(unreadable.out);
  REQUIRE(table.size() >= 6);
  const auto status_column = table[0].find("STATUS");
  const auto last_sync_column = table[0].find("LAST SYNC");
  for (std::size_t i = 1; i <= 5; ++i) {
    INFO(table[i]);
    CHECK(table[i][status_column - 1] == ' ');
    CHECK(table[i][status_column] != ' ');
    CHECK(table[i][last_sync_column - 1] == ' ');
    CHECK(table[i].find(':') > last_sync_column);  // no message spills into the columns
  }
  CHECK_THAT(table[3], Catch::StartsWith("missing-table") && Catch::Contains("state unreadable"));
  CHECK_THAT(unreadable.out, Catch::Contains("\nmissing-table: state unreadable: "));
  CHECK_THAT(unreadable.out, Catch::Contains("\norphan: spec error: syncs/orphan.toml:"));
  auto unreadable_runs = project.run({"runs", "--json"});
  INFO(unreadable_runs.describe());
  CHECK(unreadable_runs.exit_code == 7);
  CHECK(unreadable_runs.json().at("runs").size() == before + 2);  // the readable ones are listed
}

TEST_CASE("usage errors under --json are JSON on stdout, and every error is printed once", "[e2e][run-all]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(3));
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"run", "--json", "--bogus"}, {"--json"}, {"run", "--json"}, {"status", "--json", "extra"},
           {"schema", kSync, "--json"}, {"runs", "-n", "many", "--json"}}) {
    auto r = project.run(args);
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    auto j = r.json();
    CHECK(j.at("ok") == false);
    CHECK(j.at("exit_code") == 2);
    const std::string message = j.at("error");
    CHECK_FALSE(message.empty());
    CHECK(occurrences(r.err, message) == 1);
    CHECK(occurrences(r.err, "synctool: error: ") == 1);
  }
  auto text = project.run({"run", "--bogus"});
  INFO(text.describe());
  CHECK(text.exit_code == 2);
  CHECK(text.out.empty());
  CHECK_THAT(text.err, Catch::Contains("--bogus"));

  // A run stopped by an error: the report on stdout, the error once on stderr.
  fs::remove(project.path(kSourceCsv));
  auto failed = project.run({"run", kSync});
  INFO(failed.describe());
  CHECK(failed.exit_code == 3);
  CHECK(occurrences(failed.out + failed.err, "contacts.csv") == 1);
  CHECK_THAT(failed.err, Catch::Contains("synctool: error: contacts: "));
  CHECK_THAT(failed.out, Catch::Contains("exit 3: "));
}

TEST_CASE("a stop request during run --all starts no further sync", "[e2e][run-all]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(5));
  // a-slow reads its export from a named pipe that this test feeds: while the run waits for
  // it, the test knows the run is inside a-slow. b-next would run after it.
  project.write_sync("a-slow", replaced(contacts_sync_toml(), "object     = \"contacts\"\nkey        = \"id\"",
                                        "object     = \"slow\"\nkey        = \"id\""));
  project.write_sync("b-next", contacts_sync_toml());
  fs::remove(project.path("syncs/contacts.toml"));
  const std::string csv = project.read_file(kSourceCsv);
  const fs::path pipe = project.path("exports/slow.csv");
  REQUIRE(::mkfifo(pipe.c_str(), 0600) == 0);

  std::promise<void> reading, signalled;
  auto reading_now = reading.get_future();
  auto go = signalled.get_future();
  // When synctool opens the pipe, the stop request is sent; then the pipe is replaced by the
  // export itself (later opens read a plain file) and the export is written into it.
  std::thread feeder([&] {
    // A reader that stops early (a look at the header) makes write() fail with EPIPE, not kill
    // the tests with SIGPIPE.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    int fd = ::open(pipe.c_str(), O_WRONLY);
    reading.set_value();
    go.wait();
    project.write_file("exports/slow.csv.next", csv);
    fs::rename(project.path("exports/slow.csv.next"), pipe);
    for (std::size_t at = 0; fd >= 0 && at < csv.size();) {
      auto n = ::write(fd, csv.data() + at, csv.size() - at);
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    if (fd >= 0) ::close(fd);
  });

  Spawned run(project.root(), {"run", "--all", "--json"});
  if (reading_now.wait_for(kRunTimeout) != std::future_status::ready) {
    run.kill(SIGKILL);
    int unblock = ::open(pipe.c_str(), O_RDONLY | O_NONBLOCK);  // lets the feeder's open() return
    signalled.set_value();
    feeder.join();
    if (unblock >= 0) ::close(unblock);
    FAIL("synctool never opened the pipe of a-slow");
  }
  run.kill(SIGTERM);
  signalled.set_value();
  auto result = run.wait();
  feeder.join();

  INFO(result.describe());
  CHECK(result.exit_code == 143);
  auto summary = result.json().at("summary");
  REQUIRE(summary.size() == 2);
  CHECK(summary[0].at("sync") == "a-slow");
  CHECK(summary[0].at("ran") == true);
  CHECK(summary[1].at("sync") == "b-next");
  CHECK(summary[1].at("ran") == false);
  CHECK(summary[1].at("exit_code").is_null());
  CHECK_THAT(summary[1].at("error").get<std::string>(), Catch::Contains("SIGTERM"));
  CHECK_FALSE(fs::exists(project.state_dir("b-next")));
  Db warehouse(project.path(kWarehouse));
  CHECK(warehouse.count("contacts") <= 5);  // a-slow wrote what it confirmed, at most all
}

}  // namespace synctool::e2e
