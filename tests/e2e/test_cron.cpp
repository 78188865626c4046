// `synctool cron`: the entries it prints are run or checked by the real tools: a crontab line
// by /bin/sh as cron would, systemd units by `systemd-analyze verify` and their calendars by
// `systemd-analyze calendar` against cron's own rule, Kubernetes manifests against Kubernetes'
// OpenAPI schema and API-server rules (tests/support/k8s/k8s_validate.py).
#include "cli/cron_render.hpp"
#include "e2e/fixtures.hpp"
#include "e2e/harness.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <regex>
#include <sstream>

namespace synctool::e2e {

namespace {

using cli::shell_quote;

struct Shell {
  int code = -1;
  std::string out;  // stdout and stderr
};

// Runs a shell command line; stdout and stderr together.
Shell shell(const std::string& command) {
  Shell result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.out.append(buf.data(), n);
  int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

const fs::path kValidator = fs::path(SYNCTOOL_SOURCE_DIR) / "tests/support/k8s/k8s_validate.py";

// The python3 that has jsonschema and PyYAML (scripts/setup installs Debian's).
std::string python() {
  static const std::string found = [] {
    for (const char* candidate : {"/usr/bin/python3", "python3"})
      if (shell(std::string(candidate) + " -c 'import jsonschema, yaml'").code == 0) return std::string(candidate);
    return std::string();
  }();
  if (found.empty()) FAIL("no python3 with jsonschema and PyYAML: scripts/setup installs python3-jsonschema and python3-yaml");
  return found;
}

Shell validate(const fs::path& manifest) {
  return shell(python() + " " + shell_quote(kValidator.string()) + " " + shell_quote(manifest.string()));
}

void copy_example(const fs::path& to) {
  fs::copy(fs::path(SYNCTOOL_SOURCE_DIR) / "syncs", to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

constexpr const char* kOdd = "Odd Name's %sync";
constexpr const char* kOddDir = "team's syncs %1";

// A project in a folder whose name has a space, a quote and a '%': the CSV -> SQLite contacts
// sync under an odd name every 15 minutes (its export folder from ${CRON_TEST_EXPORTS}), and
// syncs every 45 minutes, on paydays, and without a schedule.
fs::path make_odd_project(const Project& project) {
  const std::string dir = kOddDir;
  project.write_file(dir + "/synctool.toml", R"(state_dir = ".synctool"

[connections.crm]
type = "csv"
path = "${CRON_TEST_EXPORTS}"

[connections.warehouse]
type = "sqlite"
path = "warehouse.db"
)");
  const std::string body = contacts_sync_toml();
  project.write_file(dir + "/syncs/" + kOdd + ".toml", "schedule = \"15m\"\n" + body);
  project.write_file(dir + "/syncs/every-45m.toml", "schedule = \"45m\"\n" + body);
  project.write_file(dir + "/syncs/paydays.toml", "schedule = \"30 6 1,15 * 1-5\"\n" + body);
  project.write_file(dir + "/syncs/by-hand.toml", body);
  project.write_contacts_csv(dir + "/exports/contacts.csv", make_contacts(5));
  Db db(project.path(dir + "/warehouse.db"));
  db.exec(contacts_table_sql());
  return project.path(dir);
}

// The entry lines of a crontab (not comments, not variables).
std::vector<std::string> entries(const std::string& crontab) {
  std::vector<std::string> lines;
  for (const auto& line : util::split(crontab, '\n'))
    if (!line.empty() && line[0] != '#' && !std::regex_search(line, std::regex("^[A-Z_]+="))) lines.push_back(line);
  return lines;
}

// What cron runs for an entry: the text after the five time fields, '\%' back to '%' (an
// unescaped '%' would end the command).
std::string cron_command(const std::string& entry) {
  std::istringstream in(entry);
  std::string field;
  for (int i = 0; i < 5; ++i) in >> field;
  std::string rest;
  std::getline(in, rest);
  std::string command;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    if (rest[i] == '%') FAIL("unescaped % in the crontab command: " << rest);
    if (rest[i] == '\\' && i + 1 < rest.size() && rest[i + 1] == '%') ++i;
    command += rest[i];
  }
  return command;
}

// Runs a crontab entry's command as cron would: /bin/sh, from another folder.
Shell run_entry(const std::string& entry) {
  return shell("cd / && /bin/sh -c " + shell_quote(cron_command(entry)));
}

}  // namespace

TEST_CASE("cron: the example project's crontab has a line per scheduled sync and names its variables, never their values",
          "[cron]") {
  Project project;
  copy_example(project.root());
  const Env env = {{"HUBSPOT_TOKEN", "pat-na1-cron-secret-token"}, {"MAILCHIMP_API_KEY", "0123cronsecret-us21"}};
  auto r = run_synctool(project.root(), {"cron", "--env-file", "/etc/synctool/env"}, env);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("pat-na1-cron-secret-token") == std::string::npos);
  CHECK(r.out.find("0123cronsecret-us21") == std::string::npos);
  auto lines = entries(r.out);
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::StartsWith("*/30 * * * * (cd " + shell_quote(project.root().string()) + " || exit 2;"));
  CHECK_THAT(lines[0], Catch::EndsWith("'run' 'crm-to-warehouse')"));
  CHECK_THAT(lines[1], Catch::EndsWith("'run' 'hubspot-mailchimp')"));
  CHECK_THAT(r.out, Catch::Contains(". '/etc/synctool/env'") && Catch::Contains("CRON_TZ=UTC"));
  CHECK_THAT(r.out, Catch::Contains("may set ") && Catch::Contains("HUBSPOT_TOKEN") && Catch::Contains("MAILCHIMP_API_KEY"));
  CHECK_THAT(r.out, Catch::Contains("# hubspot-mailchimp-2way") && Catch::Contains("no schedule in the spec: no entry"));

  auto j = run_synctool(project.root(), {"cron", "--json"}, env).json();
  CHECK(j["ok"] == true);
  bool found = false;
  for (const auto& s : j["syncs"]) {
    if (s["sync"] != "hubspot-mailchimp") continue;
    found = true;
    CHECK(s["cron"] == "*/30 * * * *");
    CHECK(s["env"].dump().find("{\"name\":\"HUBSPOT_TOKEN\",\"optional\":true}") != std::string::npos);
  }
  CHECK(found);
  CHECK(j.dump().find("pat-na1-cron-secret-token") == std::string::npos);
}

TEST_CASE("cron: a crontab line run by /bin/sh runs the sync, with odd names and the environment file; the alert gets "
          "the exit code",
          "[cron]") {
  Project project;
  const fs::path dir = make_odd_project(project);
  const fs::path env_file = project.path("cron env's file");
  project.write_file("cron env's file", "CRON_TEST_EXPORTS=exports\n");
  const fs::path alerts = project.path("alerts.txt");
  project.write_file("alert me.sh", "#!/bin/sh\necho \"$1|$2\" >> " + shell_quote(alerts.string()) + "\n");
  fs::permissions(project.path("alert me.sh"), fs::perms::owner_all);
  const std::string alert = shell_quote(project.path("alert me.sh").string());

  auto r = run_synctool(dir, {"cron", kOdd, "--env-file", env_file.string(), "--alert-command", alert});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto lines = entries(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(std::regex_search(lines[0], std::regex(R"(^(\*|([0-9]|1[0-4])-59)/15 \* \* \* \* )")));
  CHECK_THAT(r.out, Catch::Contains("must set CRON_TEST_EXPORTS"));

  // As cron would run it: from "/", without CRON_TEST_EXPORTS in the environment.
  Shell ran = run_entry(lines[0]);
  INFO(ran.out);
  CHECK(ran.code == 0);
  CHECK(Db(dir / "warehouse.db").query("SELECT email FROM contacts").size() == 5);
  CHECK_FALSE(fs::exists(alerts));

  // The export folder gone: the run fails, and the alert names the sync and the exit code.
  project.write_file("cron env's file", "CRON_TEST_EXPORTS=no-such-folder\n");
  ran = run_entry(lines[0]);
  std::string alerted = project.read_file("alerts.txt");
  CHECK(std::regex_match(alerted, std::regex(std::string(kOdd) + R"(\|[1-9][0-9]*\n)")));
  CHECK(alerted != std::string(kOdd) + "|5\n");

  // No environment file: exit 2 before synctool starts, and an alert.
  fs::remove(alerts);
  fs::remove(env_file);
  ran = run_entry(lines[0]);
  CHECK_THAT(ran.out, Catch::Contains("cannot read the environment file"));
  CHECK(project.read_file("alerts.txt") == std::string(kOdd) + "|2\n");

  // Exit 5 (another run holds the lock) is no alert; any other failure is.
  project.write_file("cron env's file", "CRON_TEST_EXPORTS=exports\n");
  for (int code : {5, 3}) {
    fs::remove(alerts);
    project.write_file("fake synctool", "#!/bin/sh\nexit " + std::to_string(code) + "\n");
    fs::permissions(project.path("fake synctool"), fs::perms::owner_all);
    auto fake = run_synctool(dir, {"cron", kOdd, "--env-file", env_file.string(), "--alert-command", alert, "--binary",
                                   project.path("fake synctool").string()});
    REQUIRE(fake.exit_code == 0);
    run_entry(entries(fake.out).at(0));
    if (code == 5)
      CHECK_FALSE(fs::exists(alerts));
    else
      CHECK(project.read_file("alerts.txt") == std::string(kOdd) + "|3\n");
  }
}

TEST_CASE("cron: an interval without a cron form is refused for crontab, with the way out", "[cron]") {
  Project project;
  const fs::path dir = make_odd_project(project);
  auto r = run_synctool(dir, {"cron"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("every-45m") && Catch::Contains("45m") && Catch::Contains("--one-job"));
  CHECK(r.out.empty());

  auto one = run_synctool(dir, {"cron", "--one-job"});
  INFO(one.describe());
  REQUIRE(one.exit_code == 0);
  auto lines = entries(one.out);
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::StartsWith("* * * * * ") && Catch::Contains("'run' '--due')"));
  CHECK_THAT(one.out, Catch::Contains("by-hand: no schedule, never due") && Catch::Contains("every-45m: schedule \"45m\""));

  // `run --due` runs every due sync of the project: on a host, a group cannot be named.
  auto named = run_synctool(dir, {"cron", "--one-job", "paydays", "every-45m"});
  CHECK(named.exit_code == 2);
  CHECK_THAT(named.err, Catch::Contains("name no syncs"));

  CHECK(run_synctool(dir, {"cron", "no-such-sync"}).exit_code == 2);
  CHECK(run_synctool(dir, {"cron", "--format", "launchd"}).exit_code == 2);
}

TEST_CASE("cron: systemd units pass systemd-analyze verify; a broken one does not", "[cron]") {
  REQUIRE(shell("command -v systemd-analyze").code == 0);
  Project project;
  const fs::path dir = make_odd_project(project);
  const fs::path units = project.path("units");
  auto r = run_synctool(dir, {"cron", "--format", "systemd", "--output-dir", units.string(), "--env-file",
                              "/etc/synctool/env", "--alert-command", "logger -t synctool"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(units)) files.push_back(entry.path().filename().string());
  std::sort(files.begin(), files.end());
  // by-hand has no schedule: no units.
  CHECK(files == std::vector<std::string>{"synctool-Odd\\x20Name\\x27s\\x20\\x25sync.service",
                                          "synctool-Odd\\x20Name\\x27s\\x20\\x25sync.timer",
                                          "synctool-every-45m.service", "synctool-every-45m.timer",
                                          "synctool-paydays.service", "synctool-paydays.timer"});
  std::string all;
  for (const auto& f : files) all += " " + shell_quote((units / f).string());
  Shell verified = shell("cd " + shell_quote(units.string()) + " && systemd-analyze verify" + all);
  INFO(verified.out);
  CHECK(verified.code == 0);
  CHECK(verified.out.empty());  // no warning either (an unknown key is only a warning)

  const std::string paydays_timer = testing::read_bytes(units / "synctool-paydays.timer");
  CHECK_THAT(paydays_timer, Catch::Contains("OnCalendar=*-*-01,15 06:30:00 UTC\nOnCalendar=Mon..Fri *-*-* 06:30:00 UTC\n"));
  CHECK_THAT(testing::read_bytes(units / "synctool-every-45m.timer"), Catch::Contains("OnUnitActiveSec=2700s"));
  const std::string service = testing::read_bytes(units / "synctool-paydays.service");
  // '%' is doubled: systemd would read "%1" as a specifier.
  CHECK_THAT(service, Catch::Contains("WorkingDirectory=" + std::regex_replace(dir.string(), std::regex("%"), "%%") + "\n"));
  CHECK_THAT(service, Catch::Contains("EnvironmentFile=-/etc/synctool/env\n"));
  CHECK_THAT(service, Catch::Contains("SuccessExitStatus=5\n"));

  // --one-job: one service running `run --due` and a timer every minute, verified alike.
  const fs::path due_units = project.path("due units");
  auto due = run_synctool(dir, {"cron", "--format", "systemd", "--one-job", "--output-dir", due_units.string()});
  REQUIRE(due.exit_code == 0);
  CHECK_THAT(testing::read_bytes(due_units / "synctool-due.service"), Catch::Contains("\"run\" \"--due\"\n"));
  CHECK_THAT(testing::read_bytes(due_units / "synctool-due.timer"), Catch::Contains("OnCalendar=*-*-* *:*:00 UTC\n"));
  Shell due_verified = shell("cd " + shell_quote(due_units.string()) + " && systemd-analyze verify synctool-due.service synctool-due.timer");
  CHECK(due_verified.code == 0);
  CHECK(due_verified.out.empty());

  // The same check fails on a unit with a mistake.
  testing::write_bytes(units / "synctool-paydays.service", service + "Restartt=always\n");
  testing::write_bytes(units / "synctool-paydays.timer",
                       std::regex_replace(paydays_timer, std::regex("06:30:00"), "25:30:00"));
  Shell broken = shell("cd " + shell_quote(units.string()) + " && systemd-analyze verify" + all);
  CHECK((broken.code != 0 || !broken.out.empty()));
  CHECK_THAT(broken.out, Catch::Contains("Restart") && Catch::Contains("calendar"));
}

namespace {

// Every minute from `from` (epoch seconds, UTC) on that a cron expression fires, `count` of
// them, by cron's rule: minute, hour and month match; when both day fields are restricted a
// day matching either is enough.
std::vector<std::string> cron_fires(const std::string& cron, std::time_t from, int count) {
  std::istringstream in(cron);
  std::vector<std::string> f(5);
  for (auto& field : f) in >> field;
  // Each field as the set of values it matches.
  auto values = [](const std::string& field, int min, int max) {
    std::vector<bool> set(static_cast<std::size_t>(max + 1), false);
    for (const auto& item : util::split(field, ',')) {
      int step = 1, lo = min, hi = max;
      std::string range = item;
      if (auto slash = item.find('/'); slash != std::string::npos) {
        step = std::stoi(item.substr(slash + 1));
        range = item.substr(0, slash);
      }
      if (range != "*") {
        auto dash = range.find('-');
        lo = std::stoi(range.substr(0, dash));
        hi = dash == std::string::npos ? lo : std::stoi(range.substr(dash + 1));
      }
      for (int v = lo; v <= hi; v += step) set[static_cast<std::size_t>(v)] = true;
    }
    return set;
  };
  auto minutes = values(f[0], 0, 59), hours = values(f[1], 0, 23), doms = values(f[2], 1, 31),
       months = values(f[3], 1, 12), dows = values(f[4], 0, 6);
  const bool either = f[2] != "*" && f[4] != "*";
  std::vector<std::string> fires;
  // Strictly after `from`, as systemd's "next elapse".
  for (std::time_t t = from - from % 60 + 60; static_cast<int>(fires.size()) < count;) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    bool dom = doms[static_cast<std::size_t>(tm.tm_mday)], dow = dows[static_cast<std::size_t>(tm.tm_wday)];
    bool day = months[static_cast<std::size_t>(tm.tm_mon + 1)] && (either ? (dom || dow) : (dom && dow));
    if (!day) {
      t += (24 * 60 - tm.tm_hour * 60 - tm.tm_min) * 60;  // the next midnight
      continue;
    }
    if (!hours[static_cast<std::size_t>(tm.tm_hour)]) {
      t += (60 - tm.tm_min) * 60;
      continue;
    }
    if (minutes[static_cast<std::size_t>(tm.tm_min)]) {
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
      fires.push_back(buf);
    }
    t += 60;
  }
  return fires;
}

// What systemd-analyze says the calendar lines fire at: the first `count` times of them all.
std::vector<std::string> systemd_fires(const std::vector<std::string>& calendars, int count) {
  std::vector<std::string> fires;
  for (const auto& c : calendars) {
    Shell s = shell("TZ=UTC systemd-analyze calendar --iterations=" + std::to_string(count) +
                    " --base-time='2026-01-30 23:59:30 UTC' " + shell_quote(c));
    INFO(s.out);
    REQUIRE(s.code == 0);
    std::regex line(R"((Next elapse|Iter\. #[0-9]+): \w+ ([0-9-]+ [0-9:]+) UTC)");
    for (auto it = std::sregex_iterator(s.out.begin(), s.out.end(), line); it != std::sregex_iterator(); ++it)
      fires.push_back((*it)[2]);
  }
  std::sort(fires.begin(), fires.end());
  fires.erase(std::unique(fires.begin(), fires.end()), fires.end());
  fires.resize(std::min<std::size_t>(fires.size(), static_cast<std::size_t>(count)));
  return fires;
}

}  // namespace

TEST_CASE("cron: systemd calendars fire at exactly the minutes the cron expressions do", "[cron]") {
  REQUIRE(shell("command -v systemd-analyze").code == 0);
  const std::time_t base = 1'769'817'570;  // 2026-01-30 23:59:30 UTC
  for (std::string schedule : {"*/30 * * * *", "7-59/15 * * * *", "0 9 1,15 * 1-5", "30 6 * 1-3 1-5", "0 0 */2 * 1",
                               "5/20 1,2 * * 6,0", "0 0 29 2 *", "15 14 1 * *", "0 0 * * 7", "@weekly"}) {
    std::string cron = *cli::schedule_to_cron(schedule, "x");
    INFO(schedule << " -> " << cron);
    auto calendars = cli::cron_to_on_calendar(cron);
    INFO(util::join(calendars, " | "));
    const int count = schedule == "0 0 29 2 *" ? 2 : 12;
    CHECK(systemd_fires(calendars, count) == cron_fires(cron, base, count));
  }
}

TEST_CASE("cron: Kubernetes manifests pass Kubernetes' schema and API rules; broken ones do not", "[cron]") {
  Project project;
  copy_example(project.root());
  const Env env = {{"HUBSPOT_TOKEN", "pat-na1-k8s-secret-token"}};
  auto r = run_synctool(project.root(), {"cron", "--format", "kubernetes", "--image", "registry.example/synctool:0.1",
                                         "--namespace", "data-syncs"},
                        env);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("pat-na1-k8s-secret-token") == std::string::npos);
  project.write_file("per-sync.yaml", r.out);
  Shell valid = validate(project.path("per-sync.yaml"));
  INFO(valid.out);
  CHECK(valid.code == 0);
  // A ConfigMap, and a claim and a CronJob for each of the two scheduled syncs.
  CHECK_THAT(valid.out, Catch::Contains("5 objects valid"));
  CHECK_THAT(r.out, Catch::Contains("concurrencyPolicy: Forbid") && Catch::Contains("restartPolicy: Never") &&
                        Catch::Contains("backoffLimit: 0") && Catch::Contains("key: HUBSPOT_TOKEN") &&
                        Catch::Contains("optional: true") && Catch::Contains("ReadWriteOnce") &&
                        Catch::Contains("state_dir = '/var/lib/synctool'"));

  SECTION("one run --due CronJob for a project with odd names and intervals") {
    Project odd_project;
    const fs::path dir = make_odd_project(odd_project);
    auto one = run_synctool(dir, {"cron", "--format", "kubernetes", "--one-job", "--image", "synctool:1", "--name",
                                  "crm-group"});
    INFO(one.describe());
    REQUIRE(one.exit_code == 0);
    odd_project.write_file("one.yaml", one.out);
    Shell ok = validate(odd_project.path("one.yaml"));
    INFO(ok.out);
    CHECK(ok.code == 0);
    CHECK_THAT(ok.out, Catch::Contains("3 objects valid"));
    CHECK_THAT(one.out, Catch::Contains("name: crm-group\n") && Catch::Contains("claimName: crm-group-state") &&
                            Catch::Contains("- \"--due\"") && Catch::Contains("key: CRON_TEST_EXPORTS") &&
                            Catch::Contains("path: \"syncs/Odd Name's %sync.toml\""));

    // A group: its ConfigMap holds only its syncs, the pod's project, so `run --due` runs them only.
    auto group = run_synctool(dir, {"cron", "--format", "kubernetes", "--one-job", "--image", "synctool:1", "--name",
                                    "paydays-group", "paydays", "every-45m"});
    REQUIRE(group.exit_code == 0);
    CHECK_THAT(group.out, Catch::Contains("path: syncs/paydays.toml") && Catch::Contains("path: syncs/every-45m.toml") &&
                              !Catch::Contains("Odd Name") && !Catch::Contains("by-hand"));
    odd_project.write_file("group.yaml", group.out);
    CHECK(validate(odd_project.path("group.yaml")).code == 0);

    // Per sync, the 45-minute sync has no cron form; without it the odd name gets a safe name.
    CHECK(run_synctool(dir, {"cron", "--format", "kubernetes", "--image", "synctool:1"}).exit_code == 2);
    auto per = run_synctool(dir, {"cron", "--format", "kubernetes", "--image", "synctool:1", kOdd, "paydays"});
    REQUIRE(per.exit_code == 0);
    CHECK(std::regex_search(per.out, std::regex(R"(\n  name: synctool-odd-name-s-sync-[0-9a-f]{8}\n)")));
    odd_project.write_file("per.yaml", per.out);
    CHECK(validate(odd_project.path("per.yaml")).code == 0);
  }

  SECTION("the check rejects what Kubernetes would") {
    auto broken = [&](const std::string& from, const std::string& to) {
      std::string text = r.out;
      auto at = text.find(from);
      REQUIRE(at != std::string::npos);
      text.replace(at, from.size(), to);
      project.write_file("broken.yaml", text);
      return validate(project.path("broken.yaml"));
    };
    Shell unknown = broken("      backoffLimit: 0\n", "      backoffLimit: 0\n      retries: 2\n");
    CHECK(unknown.code == 1);
    CHECK_THAT(unknown.out, Catch::Contains("spec.jobTemplate.spec: Additional properties are not allowed ('retries'"));
    Shell type = broken("backoffLimit: 0", "backoffLimit: none");
    CHECK(type.code == 1);
    CHECK_THAT(type.out, Catch::Contains("'none' is not of type 'integer'"));
    Shell name = broken("name: synctool-hubspot-mailchimp\n", "name: synctool-hubspot-mailchimp-" + std::string(30, 'x') + "\n");
    CHECK(name.code == 1);
    CHECK_THAT(name.out, Catch::Contains("at most 52 characters"));
    Shell policy = broken("concurrencyPolicy: Forbid", "concurrencyPolicy: Never");
    CHECK_THAT(policy.out, Catch::Contains("concurrencyPolicy 'Never'"));
    Shell missing = broken("\n              image: \"registry.example/synctool:0.1\"", "");
    CHECK_THAT(missing.out, Catch::Contains("image is missing"));
    Shell claim = broken("claimName: synctool-hubspot-mailchimp-state", "claimName: elsewhere");
    CHECK_THAT(claim.out, Catch::Contains("claim 'elsewhere' is not in the file"));
  }
}

TEST_CASE("cron: Kubernetes output refuses a credential written into synctool.toml and asks for --image", "[cron]") {
  Project project;
  project.write_config(R"(state_dir = ".synctool"

[connections.crm]
type = "csv"
path = "exports"

[connections.warehouse]
type = "sqlite"
path = "warehouse.db"

[connections.hub]
type = "hubspot"
token = "pat-na1-written-inline"
)");
  project.write_sync("contacts", "schedule = \"1h\"\n" + contacts_sync_toml());
  auto r = run_synctool(project.root(), {"cron", "--format", "kubernetes", "--image", "synctool:1"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("synctool.toml:13:") && Catch::Contains("[connections.hub] token") &&
                        Catch::Contains("ConfigMap"));
  CHECK(r.err.find("pat-na1-written-inline") == std::string::npos);
  CHECK(r.out.find("pat-na1-written-inline") == std::string::npos);

  auto no_image = run_synctool(project.root(), {"cron", "--format", "kubernetes"});
  CHECK(no_image.exit_code == 2);
  CHECK_THAT(no_image.err, Catch::Contains("--image"));
  auto size = run_synctool(project.root(), {"cron", "--format", "kubernetes", "--image", "x", "--state-size", "lots"});
  CHECK(size.exit_code == 2);
  CHECK_THAT(size.err, Catch::Contains("--state-size 'lots'"));
  auto mixed = run_synctool(project.root(), {"cron", "--format", "kubernetes", "--image", "x", "--alert-command", "y"});
  CHECK(mixed.exit_code == 2);
  CHECK_THAT(mixed.err, Catch::Contains("--alert-command is for crontab and systemd"));
}

}  // namespace synctool::e2e
