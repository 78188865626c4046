// The example project in syncs/ (the one scripts/demo runs), driven through the binary.
#include "e2e/harness.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace synctool::e2e {

namespace {

constexpr const char* kExampleSync = "crm-to-warehouse";

// A copy of syncs/ with the warehouse database created from sample-data/warehouse.sql.
void copy_example_project(const Project& project) {
  fs::copy(fs::path(SYNCTOOL_SOURCE_DIR) / "syncs", project.root(),
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  Db db(project.path("sample-data/warehouse.db"));
  db.exec(project.read_file("sample-data/warehouse.sql"));
}

bool is_number(const std::string& text) {
  if (text.empty()) return true;  // no value is not a schema violation
  try {
    std::size_t used = 0;
    std::stod(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}

// What the warehouse must hold after the baseline, worked out from the export itself:
// filter, normalized key, no duplicate keys, valid email and age.
std::set<std::string> expected_emails(const Rows& export_rows) {
  std::map<std::string, std::vector<const Row*>> by_key;
  for (const auto& row : export_rows) {
    if (row.at("lifecycle_stage") == "unsubscribed") continue;
    by_key[util::to_lower(util::trim(row.at("email")))].push_back(&row);
  }
  std::set<std::string> emails;
  for (const auto& [key, rows] : by_key) {
    if (key.empty() || rows.size() > 1 || key.find('@') == std::string::npos) continue;
    if (!is_number(rows[0]->at("age"))) continue;
    emails.insert(key);
  }
  return emails;
}

std::string readme() {
  std::ifstream in(fs::path(SYNCTOOL_SOURCE_DIR) / "README.md", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The part of `text` from the line `from` up to the line `to`.
std::string section(const std::string& text, const std::string& from, const std::string& to) {
  auto begin = text.find("\n" + from + "\n");
  REQUIRE(begin != std::string::npos);
  auto end = text.find("\n" + to + "\n", begin + 1);
  REQUIRE(end != std::string::npos);
  return text.substr(begin, end - begin);
}

// Every ```sh block of `markdown`, in order, as one script.
std::string sh_blocks(const std::string& markdown) {
  static const std::regex block("```sh\n([\\s\\S]*?)```");
  std::string script;
  for (std::sregex_iterator it(markdown.begin(), markdown.end(), block), end; it != end; ++it) script += (*it)[1].str();
  return script;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct ShellResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh in `cwd` in cron's bare environment: PATH=/usr/bin:/bin (plus
// `path_prefix`), a HOME with nothing in it, no other variable.
ShellResult bare_shell(const fs::path& cwd, const std::string& command, const std::string& path_prefix = "") {
  const fs::path output = cwd / ".shell-output";
  std::string line = "cd " + shell_quote(cwd.string()) + " && env -i PATH=" + path_prefix + "/usr/bin:/bin HOME=" +
                     shell_quote((cwd / "no-home").string()) + " /bin/sh -c " + shell_quote(command) + " >" +
                     shell_quote(output.string()) + " 2>&1";
  int status = std::system(line.c_str());
  ShellResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(output, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  result.output = text.str();
  fs::remove(output);
  return result;
}

const nlohmann::json* find_reject(const nlohmann::json& report, const std::string& source_id) {
  for (const auto& r : report.at("rejected"))
    if (r.value("source_id", "") == source_id) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("the example project checks, baselines with its dirty rows rejected, links existing rows and then rests",
          "[e2e][example]") {
  Project project;
  copy_example_project(project);
  Db warehouse(project.path("sample-data/warehouse.db"));
  REQUIRE(warehouse.count("contacts") == 5);

  auto check = project.run({"check", "--json"});
  INFO(check.describe());
  REQUIRE(check.exit_code == 0);
  CHECK(check.json().at("ok") == true);

  auto first = project.run({"run", kExampleSync, "--json"});
  INFO(first.describe());
  REQUIRE(first.exit_code == 1);  // rows were rejected
  auto report = first.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(report.at("mode") == "mirror");
  CHECK(report.at("exit_code") == 1);
  CHECK(report.at("source").at("read") == 1000);

  {  // the rejects, each with its reason
    // The duplicate pair (rows 51 and 52 share paul.obrien52@northwind.io once normalized).
    const auto* duplicate = find_reject(report, "51");
    if (!duplicate) duplicate = find_reject(report, "52");
    REQUIRE(duplicate);
    CHECK(duplicate->at("key") == "paul.obrien52@northwind.io");
    CHECK_THAT(duplicate->at("reason").get<std::string>(), Catch::Contains("duplicate"));

    const auto* invalid_email = find_reject(report, "41");
    REQUIRE(invalid_email);
    CHECK_THAT(invalid_email->at("reason").get<std::string>(), Catch::Contains("email"));

    const auto* bad_age = find_reject(report, "31");
    REQUIRE(bad_age);
    CHECK_THAT(bad_age->at("reason").get<std::string>(), Catch::Contains("age"));
    CHECK_THAT(bad_age->at("reason").get<std::string>(), Catch::Contains("unknown"));

    const auto* no_email = find_reject(report, "71");
    REQUIRE(no_email);
    CHECK_THAT(no_email->at("reason").get<std::string>(), Catch::Contains("email"));

    CHECK(report.at("rejected").size() == 4);
    CHECK(report.at("destination").at("rejected") == 4);
  }

  // The five rows already in the warehouse were linked, not created again.
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts") ==
        warehouse.scalar("SELECT count(DISTINCT email) FROM contacts"));
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts WHERE email = 'chloe.silva101@northwind.io'") == 1);
  CHECK(report.at("destination").at("unchanged").get<int>() + report.at("destination").at("updated").get<int>() == 5);

  auto expected = expected_emails(project.read_csv("sample-data/crm-export/contacts.csv"));
  std::set<std::string> actual;
  for (const auto& row : warehouse.query("SELECT email FROM contacts")) actual.insert(row.at("email"));
  CHECK(actual == expected);
  CHECK(report.at("destination").at("created").get<std::size_t>() == expected.size() - 5);
  // Normalized keys: the padded upper-case address of row 11 is stored trimmed and lowercased.
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts WHERE email = 'sami.jensen11@northwind.io'") == 1);
  CHECK(warehouse.scalar("SELECT count(*) FROM contacts WHERE synced_from = 'crm'") == warehouse.count("contacts"));

  // The same dirty rows again: listed and counted, but known, so cron is not alerted again.
  auto second = project.run({"run", kExampleSync, "--json"});
  INFO(second.describe());
  REQUIRE(second.exit_code == 0);
  auto again = second.json();
  CHECK(again.at("new_problems") == 0);
  CHECK(again.at("rejected").size() == 4);
  for (const auto& reject : again.at("rejected")) CHECK(reject.at("new") == false);
  CHECK(writes(again) == 0);
  CHECK(again.at("kind") != "baseline");
  CHECK(warehouse.count("contacts") == static_cast<std::int64_t>(expected.size()));
}

TEST_CASE("the README's quick start works as written, and its cron line alerts with the exit code under cron's "
          "bare environment",
          "[e2e][example][readme]") {
  const std::string text = readme();
  const std::string quick_start = section(text, "## Quick start", "### Under cron");
  const std::string script = sh_blocks(quick_start);
  REQUIRE_THAT(script, Catch::StartsWith("scripts/setup"));

  // A stand-in for the clone: scripts/setup has built build/synctool already.
  testing::TempDir clone;
  fs::create_directories(clone / "scripts");
  {
    std::ofstream setup(clone / "scripts" / "setup");
    setup << "#!/bin/sh\nexit 0\n";
  }
  fs::permissions(clone / "scripts" / "setup", fs::perms::owner_all);
  fs::create_directory_symlink(fs::path(SYNCTOOL_BINARY).parent_path(), clone / "build");
  {
    std::ofstream(clone / "quick-start.sh") << script;
  }
  auto walk = bare_shell(clone.path(), "set -e; . ./quick-start.sh");
  INFO(walk.output);
  REQUIRE(walk.exit_code == 0);
  CHECK_THAT(walk.output, Catch::Contains("ok: 1 sync(s) checked"));
  CHECK_THAT(walk.output, Catch::Contains("baseline run would create 3"));
  CHECK_THAT(walk.output, Catch::Contains("bob.stone@contoso-mail.com|Bob"));  // trimmed, lowercased key
  CHECK_THAT(walk.output, Catch::Contains("dana.cruz@tailspin-mail.com|Dana"));
  const fs::path project = clone / "my-syncs";
  {
    Db warehouse(project / "warehouse.db");
    CHECK(warehouse.count("contacts") == 4);
  }

  // The cron line, as written, with this machine's paths for the project, synctool and the alert.
  const std::string cron = section(text, "### Under cron", "## How a run works");
  std::smatch match;
  REQUIRE(std::regex_search(cron, match, std::regex("\n(\\*/30 \\* \\* \\* \\* )(.*)\n")));
  std::string command = match[2].str();
  CHECK(command.find('%') == std::string::npos);  // cron would take it for a line break
  auto replace_all = [&](const std::string& from, const std::string& to) {
    REQUIRE(command.find(from) != std::string::npos);
    for (auto at = command.find(from); at != std::string::npos; at = command.find(from, at + to.size()))
      command.replace(at, from.size(), to);
  };
  replace_all("/srv/syncs", project.string());
  replace_all("/usr/local/bin/synctool", SYNCTOOL_BINARY);
  replace_all("/usr/local/bin/alert", (clone / "alert").string());
  {
    std::ofstream alert(clone / "alert");
    alert << "#!/bin/sh\necho \"$*\" >> " << shell_quote((clone / "alerts").string()) << "\n";
  }
  fs::permissions(clone / "alert", fs::perms::owner_all);
  {
    std::ofstream(project / "synctool.env") << "WAREHOUSE_DB=" << (project / "warehouse.db").string() << "\n";
  }
  auto quiet = bare_shell(project, command);
  INFO(quiet.output);
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.output.empty());  // nothing for cron to mail
  CHECK_FALSE(fs::exists(clone / "alerts"));
  const Env env{{"WAREHOUSE_DB", (project / "warehouse.db").string()}};
  auto runs = [&] { return run_synctool(project, {"runs", "contacts", "--json", "-n", "0"}, env).json().at("runs").size(); };
  const auto before = runs();

  // A broken sync beside it: the alert gets exit 2, and the good sync ran all the same.
  {
    std::ofstream(project / "syncs" / "broken.toml") << "mode = \"upsert\n";
  }
  auto alerted = bare_shell(project, command);
  INFO(alerted.output);
  CHECK(alerted.exit_code == 0);
  std::ifstream alerts(clone / "alerts");
  std::string alert_line;
  std::getline(alerts, alert_line);
  CHECK(alert_line == "synctool exit 2");
  CHECK(runs() == before + 1);
  std::ifstream log(project / "synctool.log");
  std::ostringstream logged;
  logged << log.rdbuf();
  CHECK_THAT(logged.str(), Catch::Contains("syncs/broken.toml:1:") && Catch::Contains("contacts"));
}

}  // namespace synctool::e2e
