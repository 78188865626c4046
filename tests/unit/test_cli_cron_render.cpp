// cron_render: schedules in cron and systemd form, names and quoting for schedulers.
#include "cli/cron_render.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <set>

namespace synctool::cli {

TEST_CASE("an interval becomes the cron expression that fires exactly that often", "[cli][cron]") {
  CHECK(interval_to_cron(60'000, "a") == "* * * * *");
  auto quarter = interval_to_cron(15 * 60'000, "a");
  REQUIRE(quarter);
  CHECK(std::regex_match(*quarter, std::regex(R"((\*|([0-9]|1[0-4])-59)/15 \* \* \* \*)")));
  auto hourly = interval_to_cron(3'600'000, "a");
  REQUIRE(hourly);
  CHECK(std::regex_match(*hourly, std::regex(R"([0-9]+ \* \* \* \*)")));
  auto two_hours = interval_to_cron(2 * 3'600'000, "a");
  REQUIRE(two_hours);
  CHECK(std::regex_match(*two_hours, std::regex(R"([0-9]+ (\*|1-23)/2 \* \* \*)")));
  auto daily = interval_to_cron(24 * 3'600'000, "a");
  REQUIRE(daily);
  CHECK(std::regex_match(*daily, std::regex(R"([0-9]+ [0-9]+ \* \* \*)")));
  auto weekly = interval_to_cron(7 * 24 * 3'600'000LL, "a");
  REQUIRE(weekly);
  CHECK(std::regex_match(*weekly, std::regex(R"([0-9]+ [0-9]+ \* \* [0-6])")));
}

TEST_CASE("an interval that no cron expression fires exactly has none", "[cli][cron]") {
  for (std::int64_t ms : {45 * 60'000LL, 90 * 60'000LL, 5 * 3'600'000LL, 2 * 86'400'000LL, 90'000LL, 30'000LL, 0LL})
    CHECK_FALSE(interval_to_cron(ms, "a"));
}

TEST_CASE("syncs with the same interval start at different minutes, each always at the same one", "[cli][cron]") {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    std::string name = "sync-" + std::to_string(i);
    auto cron = interval_to_cron(15 * 60'000, name);
    REQUIRE(cron);
    CHECK(interval_to_cron(15 * 60'000, name) == cron);
    seen.insert(*cron);
  }
  CHECK(seen.size() > 5);
}

TEST_CASE("a schedule is written in the cron form every cron reads the same way", "[cli][cron]") {
  CHECK(schedule_to_cron("*/30 * * * *", "a") == "*/30 * * * *");
  CHECK(schedule_to_cron("  0 9 1,15 * 1-5 ", "a") == "0 9 1,15 * 1-5");
  CHECK(schedule_to_cron("5/15 * * * *", "a") == "5-59/15 * * * *");
  CHECK(schedule_to_cron("0 0 * * 7", "a") == "0 0 * * 0");
  CHECK(schedule_to_cron("0 0 * * 5-7", "a") == "0 0 * * 0,5,6");
  CHECK(schedule_to_cron("0 0 */2 * 1", "a") == "0 0 1-31/2 * 1");
  CHECK(schedule_to_cron("*/1 * * * *", "a") == "* * * * *");
  CHECK(schedule_to_cron("@daily", "a") == "0 0 * * *");
  CHECK(schedule_to_cron("@hourly", "a") == "0 * * * *");
  CHECK(schedule_to_cron("@weekly", "a") == "0 0 * * 0");
  CHECK_FALSE(schedule_to_cron("45m", "a"));
}

TEST_CASE("a cron expression becomes systemd calendar lines in UTC", "[cli][cron]") {
  CHECK(cron_to_on_calendar("*/30 * * * *") == std::vector<std::string>{"*-*-* *:00/30:00 UTC"});
  CHECK(cron_to_on_calendar("7-59/15 * * * *") == std::vector<std::string>{"*-*-* *:07/15:00 UTC"});
  CHECK(cron_to_on_calendar("0 0 * * 0") == std::vector<std::string>{"Sun *-*-* 00:00:00 UTC"});
  CHECK(cron_to_on_calendar("30 6 * 1-3 1-5") == std::vector<std::string>{"Mon..Fri *-01..03-* 06:30:00 UTC"});
  CHECK(cron_to_on_calendar("0,5,10 1,2 * * 6,0") == std::vector<std::string>{"Sat,Sun *-*-* 01,02:00,05,10:00 UTC"});
  // Both day fields restricted: cron fires on either, so systemd gets one line for each.
  CHECK(cron_to_on_calendar("0 9 1,15 * 1-5") ==
        std::vector<std::string>{"*-*-01,15 09:00:00 UTC", "Mon..Fri *-*-* 09:00:00 UTC"});
}

TEST_CASE("Kubernetes names are lowercase DNS labels, short enough and distinct", "[cli][cron]") {
  const std::regex label(R"([a-z0-9]([-a-z0-9]*[a-z0-9])?)");
  CHECK(dns_label("synctool-hubspot-mailchimp", 52) == "synctool-hubspot-mailchimp");
  std::string odd = dns_label("synctool-Odd Name's %sync", 52);
  CHECK(std::regex_match(odd, label));
  CHECK(odd.starts_with("synctool-odd-name-s-sync-"));
  // Two names that read alike once lowercased stay apart.
  CHECK(dns_label("synctool-A_b", 52) != dns_label("synctool-a-b", 52));
  CHECK(dns_label("synctool-A_b", 52) != dns_label("synctool-a_b", 52));
  std::string long_a = dns_label("synctool-" + std::string(80, 'x') + "-a", 52);
  std::string long_b = dns_label("synctool-" + std::string(80, 'x') + "-b", 52);
  CHECK(long_a.size() <= 52);
  CHECK(std::regex_match(long_a, label));
  CHECK(long_a != long_b);
  CHECK(std::regex_match(dns_label("%%%", 52), label));
}

TEST_CASE("a shell word keeps quotes, spaces and dollars literal", "[cli][cron]") {
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("it's $HOME") == "'it'\\''s $HOME'");
  CHECK(shell_quote("") == "''");
}

namespace {

CronOptions options(CronFormat format) {
  CronOptions o;
  o.format = format;
  o.binary = "/usr/bin/synctool";
  o.working_dir = "/srv/syncs";
  o.image = "registry.example/synctool:1";
  o.version = "test";
  o.source = "synctool.toml";
  return o;
}

}  // namespace

TEST_CASE("an interval without a cron form is refused for cron and Kubernetes, not for --one-job", "[cli][cron]") {
  std::vector<CronSync> syncs = {{"slow", "", "syncs/slow.toml", "45m", {}}};
  auto problem = cron_problem(syncs, options(CronFormat::crontab));
  CHECK_THAT(problem, Catch::Contains("syncs/slow.toml") && Catch::Contains("45m") && Catch::Contains("--one-job"));
  CHECK_FALSE(cron_problem(syncs, options(CronFormat::kubernetes)).empty());
  // systemd measures an interval itself (OnUnitActiveSec).
  CHECK(cron_problem(syncs, options(CronFormat::systemd)).empty());
  auto one_job = options(CronFormat::crontab);
  one_job.one_job = true;
  CHECK(cron_problem(syncs, one_job).empty());
  auto files = render_cron(syncs, options(CronFormat::systemd));
  REQUIRE(files.size() == 2);
  CHECK_THAT(files[1].text, Catch::Contains("OnUnitActiveSec=2700s") && !Catch::Contains("OnCalendar"));
}

TEST_CASE("a sync name with a line break cannot be scheduled", "[cli][cron]") {
  std::vector<CronSync> syncs = {{"bad\nname", "", "syncs/x.toml", "15m", {}}};
  CHECK_THAT(cron_problem(syncs, options(CronFormat::crontab)), Catch::Contains("control character"));
}

TEST_CASE("crontab: '%' is escaped, a sync without a schedule gets a comment and no line", "[cli][cron]") {
  std::vector<CronSync> syncs = {{"100%", "", "syncs/100%.toml", "*/5 * * * *", {}},
                                 {"manual", "", "syncs/manual.toml", "", {}}};
  auto o = options(CronFormat::crontab);
  o.alert_command = "/usr/local/bin/page";
  auto text = render_cron(syncs, o).at(0).text;
  CHECK_THAT(text, Catch::Contains("*/5 * * * * (cd '/srv/syncs' || exit 2; exec '/usr/bin/synctool' 'run' '100\\%')"));
  CHECK_THAT(text, Catch::Contains("[ $rc -eq 0 ] || [ $rc -eq 5 ] || /usr/local/bin/page '100\\%' $rc"));
  CHECK_THAT(text, Catch::Contains("# manual (syncs/manual.toml)\n# no schedule in the spec: no entry"));
}

TEST_CASE("systemd: specifiers and variables in names and paths are escaped", "[cli][cron]") {
  std::vector<CronSync> syncs = {{"a $b %c", "", "syncs/x.toml", "15m", {}}};
  auto files = render_cron(syncs, options(CronFormat::systemd));
  REQUIRE(files.size() == 2);
  CHECK(files[0].name == "synctool-a\\x20\\x24b\\x20\\x25c.service");
  CHECK_THAT(files[0].text, Catch::Contains(R"(ExecStart="/usr/bin/synctool" "run" "a $$b %%c")"));
  CHECK_THAT(files[1].text, Catch::Contains("Unit=synctool-a\\x20\\x24b\\x20\\x25c.service"));
}

}  // namespace synctool::cli
