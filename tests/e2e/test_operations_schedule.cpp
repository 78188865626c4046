// Operating syncs over time: `run --due` across fake time (SYNCTOOL_TEST_NOW), pause
// and resume (status, exit 8, --force, --all and --due skipping), and `state cursor` for
// backfills. CSV and SQLite only: no server.
#include "e2e/fixtures.hpp"
#include "state/lock.hpp"
#include "util/clock.hpp"

#include <catch2/catch.hpp>

#include <set>

namespace synctool::e2e {

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kDay = 1440 * kMinute;

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Syncs from exports/contacts.csv into tables of warehouse.db, one table each:
//   quarter: schedule "15m" -> contacts_q      daily: "30 4 * * *" -> contacts_d
//   often:   "*/5 * * * *"  -> contacts_o      manual: no schedule -> contacts_m
void make_scheduled_project(const Project& project, std::size_t contacts = 5) {
  project.write_config(kProjectToml);
  project.write_contacts_csv(kSourceCsv, make_contacts(contacts));
  Db db(project.path(kWarehouse));
  for (const auto& [name, schedule, table] :
       {std::tuple{"quarter", "15m", "contacts_q"}, std::tuple{"daily", "30 4 * * *", "contacts_d"},
        std::tuple{"often", "*/5 * * * *", "contacts_o"}, std::tuple{"manual", "", "contacts_m"}}) {
    db.exec(replaced(contacts_table_sql(), "TABLE contacts", std::string("TABLE ") + table));
    std::string toml = replaced(contacts_sync_toml(), "object     = \"contacts\"\nkey        = \"email\"",
                                std::string("object     = \"") + table + "\"\nkey        = \"email\"");
    if (*schedule) toml = "schedule = \"" + std::string(schedule) + "\"\n" + toml;
    project.write_sync(name, toml);
  }
}

// When each schedule next fires after `last`, worked out here by hand (UTC).
std::int64_t next_fire(const std::string& sync, std::int64_t last) {
  if (sync == "quarter") return last / kMinute * kMinute + 15 * kMinute;       // interval from the whole minute
  if (sync == "often") return last / (5 * kMinute) * (5 * kMinute) + 5 * kMinute;  // */5
  REQUIRE(sync == "daily");
  std::int64_t at = last / kDay * kDay + 4 * 60 * kMinute + 30 * kMinute;  // 04:30
  return at > last ? at : at + kDay;
}

std::int64_t last_start(const Project& project, const std::string& sync) {
  auto r = project.run({"runs", sync, "-n", "1", "--json"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto runs = r.json().at("runs");
  REQUIRE(runs.size() == 1);
  auto ms = util::parse_iso8601(runs[0].at("started_at").get<std::string>());
  REQUIRE(ms);
  return *ms;
}

Env at_time(std::int64_t ms) { return {{"SYNCTOOL_TEST_NOW", util::format_iso8601(ms)}}; }

// The syncs a `run --due --json` ran, and those it listed as paused.
struct DueRun {
  std::set<std::string> ran, paused;
};

DueRun run_due(const Project& project, std::int64_t now) {
  auto r = project.run({"run", "--due", "--json"}, at_time(now));
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  DueRun result;
  const auto report = r.json();
  for (const auto& s : report.at("summary")) {
    if (s.at("ran") == true) result.ran.insert(s.at("sync").get<std::string>());
    if (s.contains("paused")) {
      result.paused.insert(s.at("sync").get<std::string>());
      CHECK(s.at("exit_code") == 0);
      CHECK(s.at("error").is_null());
    }
  }
  return result;
}

const nlohmann::json& status_of(const nlohmann::json& status, const std::string& sync) {
  for (const auto& s : status.at("syncs"))
    if (s.at("sync") == sync) return s;
  FAIL("no status for " << sync);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("run --due runs exactly the syncs whose schedule came due since their last start, across fake time",
          "[e2e][schedule]") {
  Project project;
  make_scheduled_project(project);
  // What `run --due --json` ran at the time `iso` (the processes' clock starts there).
  auto due_at = [&](const std::string& iso) {
    INFO("at " << iso);
    return run_due(project, *util::parse_iso8601(iso));
  };
  using Names = std::set<std::string>;

  // Never run: every scheduled sync is due; the one without a schedule never is. (2026-03-02 is
  // a Monday.)
  auto first = due_at("2026-03-02T10:07:00Z");
  CHECK(first.ran == Names{"daily", "often", "quarter"});
  CHECK(Db(project.path(kWarehouse)).count("contacts_q") == 5);
  CHECK(Db(project.path(kWarehouse)).count("contacts_m") == 0);
  // The runs started at the fake time.
  CHECK(last_start(project, "quarter") / kMinute == *util::parse_iso8601("2026-03-02T10:07:00Z") / kMinute);

  // A minute later nothing is due: nothing at all is printed, and the JSON lists nothing.
  auto quiet = project.run({"run", "--due"}, at_time(*util::parse_iso8601("2026-03-02T10:08:00Z")));
  INFO(quiet.describe());
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.out.empty());
  CHECK(quiet.err.empty());
  CHECK(due_at("2026-03-02T10:09:59Z").ran.empty());

  // */5 fires at 10:10; once taken, the same fire is not taken again.
  CHECK(due_at("2026-03-02T10:10:00Z").ran == Names{"often"});
  CHECK(due_at("2026-03-02T10:10:30Z").ran.empty());
  // "15m" counts from the minute the last run started (10:07): due at 10:22, not before.
  CHECK(due_at("2026-03-02T10:21:50Z").ran == Names{"often"});  // its 10:15
  CHECK(due_at("2026-03-02T10:22:00Z").ran == Names{"quarter"});
  // "30 4 * * *": the next day at 04:30 UTC.
  CHECK(due_at("2026-03-03T04:29:00Z").ran == Names{"often", "quarter"});
  CHECK(due_at("2026-03-03T04:30:00Z").ran == Names{"daily", "often"});
  for (const auto& [sync, runs] : {std::pair{"daily", 2}, std::pair{"often", 5}, std::pair{"quarter", 3}}) {
    INFO(sync);
    auto r = project.run({"runs", sync, "-n", "0", "--json"});
    CHECK(r.json().at("runs").size() == static_cast<std::size_t>(runs));
  }

  // A paused sync whose time came is skipped and listed as paused; the others still run.
  REQUIRE(project.run({"pause", "quarter", "--reason", "supplier outage"}).exit_code == 0);
  auto with_paused = due_at("2026-03-03T05:00:00Z");
  CHECK(with_paused.ran == Names{"often"});
  CHECK(with_paused.paused == Names{"quarter"});
  auto text = project.run({"run", "--due"}, at_time(*util::parse_iso8601("2026-03-03T05:10:00Z")));
  INFO(text.describe());
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("skipped: paused by ") && Catch::Contains("supplier outage"));
  // Only paused syncs due: as quiet as nothing due.
  REQUIRE(project.run({"pause", "often"}).exit_code == 0);
  auto paused_only = project.run({"run", "--due"}, at_time(*util::parse_iso8601("2026-03-03T05:20:00Z")));
  INFO(paused_only.describe());
  CHECK(paused_only.exit_code == 0);
  CHECK(paused_only.out.empty());
  CHECK(paused_only.err.empty());

  // status shows the schedules and when each is next due, at the same fake time.
  auto status = project.run({"status", "--json"}, at_time(*util::parse_iso8601("2026-03-03T05:21:00Z")));
  INFO(status.describe());
  REQUIRE(status.exit_code == 0);
  const auto syncs = status.json();
  const auto& daily = status_of(syncs, "daily");
  CHECK(daily.at("schedule") == "30 4 * * *");
  CHECK(daily.at("next_due") == "2026-03-04T04:30:00Z");
  CHECK(daily.at("due") == false);
  CHECK(status_of(syncs, "quarter").at("due") == false);  // came due, but paused
  CHECK(status_of(syncs, "manual").at("next_due").is_null());

  // Usage: --due chooses the syncs itself, and a fake time must be a time.
  CHECK(project.run({"run", "--due", "quarter"}).exit_code == 2);
  CHECK(project.run({"run", "--due", "--all"}).exit_code == 2);
  auto bad_time = project.run({"run", "--due"}, {{"SYNCTOOL_TEST_NOW", "yesterday"}});
  CHECK(bad_time.exit_code == 2);
  CHECK_THAT(bad_time.err, Catch::Contains("SYNCTOOL_TEST_NOW"));
}

TEST_CASE("pause and resume: status shows who, when and why; a named run exits 8 unless --force; --all skips it",
          "[e2e][schedule][pause]") {
  Project project;
  make_scheduled_project(project);
  REQUIRE(project.run({"run", "--all"}).exit_code == 0);
  project.write_contacts_csv(kSourceCsv, make_contacts(6));  // one more contact for the next runs

  auto paused = project.run({"pause", "quarter", "--reason", "vendor maintenance until Friday", "--json"});
  INFO(paused.describe());
  REQUIRE(paused.exit_code == 0);
  const auto record = paused.json().at("pause");
  CHECK(record.at("reason") == "vendor maintenance until Friday");
  CHECK_THAT(record.at("by").get<std::string>(), Catch::Contains("@"));
  CHECK(util::parse_iso8601(record.at("at").get<std::string>()));
  CHECK(paused.json().at("run_in_progress") == false);

  auto status = project.run({"status", "--json"});
  INFO(status.describe());
  REQUIRE(status.exit_code == 0);
  const auto syncs = status.json();
  const auto& quarter = status_of(syncs, "quarter");
  CHECK(quarter.at("status") == "paused");
  CHECK(quarter.at("paused") == true);
  CHECK(quarter.at("pause") == record);
  CHECK(quarter.at("schedule") == "15m");
  CHECK(quarter.at("due") == false);
  CHECK(quarter.at("next_due").is_string());
  const auto& daily = status_of(syncs, "daily");
  CHECK(daily.at("paused") == false);
  CHECK(daily.at("pause").is_null());
  CHECK(daily.at("schedule") == "30 4 * * *");
  CHECK(daily.at("next_due") == util::format_iso8601(next_fire("daily", last_start(project, "daily"))));
  CHECK(status_of(syncs, "manual").at("schedule").is_null());
  auto status_text = project.run({"status"});
  INFO(status_text.describe());
  CHECK_THAT(status_text.out, Catch::Contains("SCHEDULE") && Catch::Contains("NEXT DUE"));
  CHECK_THAT(status_text.out, Catch::Contains("\nquarter: paused by " + record.at("by").get<std::string>() + " at " +
                                              record.at("at").get<std::string>() + ": vendor maintenance until Friday\n"));

  // Named: exit 8, nothing written, who/when/why said.
  auto refused = project.run({"run", "quarter"});
  INFO(refused.describe());
  CHECK(refused.exit_code == 8);
  CHECK_THAT(refused.err, Catch::Contains("'quarter' is paused by ") && Catch::Contains("vendor maintenance") &&
                              Catch::Contains("--force"));
  auto refused_json = project.run({"run", "quarter", "--json"});
  CHECK(refused_json.exit_code == 8);
  CHECK(refused_json.json().at("exit_code") == 8);
  CHECK(refused_json.json().at("paused").at("reason") == "vendor maintenance until Friday");
  CHECK(Db(project.path(kWarehouse)).count("contacts_q") == 5);
  // diff writes nothing: it still plans.
  auto diff = project.run({"diff", "quarter", "--json"});
  INFO(diff.describe());
  CHECK(diff.exit_code == 0);
  CHECK(Db(project.path(kWarehouse)).count("contacts_q") == 5);

  // Named beside another: the other runs, the exit code is 8.
  auto pair = project.run({"run", "quarter", "daily", "--json"});
  INFO(pair.describe());
  CHECK(pair.exit_code == 8);
  CHECK(Db(project.path(kWarehouse)).count("contacts_d") == 6);
  // --all: skipped, not an error.
  auto all = project.run({"run", "--all", "--json"});
  INFO(all.describe());
  CHECK(all.exit_code == 0);
  bool listed = false;
  const auto all_report = all.json();
  for (const auto& s : all_report.at("summary")) {
    if (s.at("sync") != "quarter") continue;
    listed = true;
    CHECK(s.at("ran") == false);
    CHECK(s.at("exit_code") == 0);
    CHECK(s.at("paused").at("reason") == "vendor maintenance until Friday");
  }
  CHECK(listed);
  CHECK(Db(project.path(kWarehouse)).count("contacts_q") == 5);

  // --force runs it once, and it stays paused.
  auto forced = project.run({"run", "quarter", "--force", "--json"});
  INFO(forced.describe());
  CHECK(forced.exit_code == 0);
  CHECK(forced.json().at("destination").at("created") == 1);
  CHECK(status_of(project.run({"status", "--json"}).json(), "quarter").at("paused") == true);

  // Pausing works while a run holds the lock: the pause is written beside it.
  {
    auto lock = state::SyncLock::try_acquire(project.state_dir("daily"));
    REQUIRE(lock);
    auto during = project.run({"pause", "daily", "--json"});
    INFO(during.describe());
    CHECK(during.exit_code == 0);
    CHECK(during.json().at("run_in_progress") == true);
    CHECK(during.json().at("pause").at("reason") == "");
  }
  CHECK(project.run({"run", "daily"}).exit_code == 8);

  auto resumed = project.run({"resume", "quarter"});
  INFO(resumed.describe());
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Catch::Contains("resumed (it was paused by ") && Catch::Contains("vendor maintenance"));
  CHECK(status_of(project.run({"status", "--json"}).json(), "quarter").at("paused") == false);
  CHECK(project.run({"run", "quarter"}).exit_code == 0);
  auto again = project.run({"resume", "quarter", "--json"});
  CHECK(again.exit_code == 0);
  CHECK(again.json().at("resumed") == false);

  // Mistakes: an unknown sync, a reason on several lines.
  auto unknown = project.run({"pause", "quartre"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("quarter"));  // did you mean
  CHECK(project.run({"pause", "quarter", "--reason", "two\nlines"}).exit_code == 2);
  CHECK(status_of(project.run({"status", "--json"}).json(), "quarter").at("paused") == false);
}

TEST_CASE("state cursor: set makes the next run read from there, reset reads the side whole keeping the links, "
          "a run's lock stops both",
          "[e2e][schedule][cursor]") {
  Project project;
  make_sqlite_to_csv(project, make_contacts(10));
  REQUIRE(run_sync(project, {}, kPeopleSync).exit_code == 0);

  auto get = project.run({"state", "cursor", "get", kPeopleSync, "--json"});
  INFO(get.describe());
  REQUIRE(get.exit_code == 0);
  CHECK(get.json().at("cursors").at("source") == stamp(10));
  CHECK(get.json().at("cursors").at("destination").is_null());

  auto incremental = run_sync(project, {}, kPeopleSync);
  REQUIRE(incremental.exit_code == 0);
  CHECK(incremental.json().at("source").at("read") == 1);  // the newest again: the cursor is inclusive

  // A backfill from the 5th record on.
  auto set = project.run({"state", "cursor", "set", kPeopleSync, stamp(5), "--json"});
  INFO(set.describe());
  REQUIRE(set.exit_code == 0);
  CHECK(set.json().at("previous") == stamp(10));
  CHECK(project.run({"state", "cursor", "get", kPeopleSync, "--side", "source", "--json"}).json().at("cursors") ==
        nlohmann::json{{"source", stamp(5)}});
  auto backfill = run_sync(project, {}, kPeopleSync);
  INFO(backfill.describe());
  REQUIRE(backfill.exit_code == 0);
  CHECK(backfill.json().at("kind") == "incremental");
  CHECK(backfill.json().at("source").at("read") == 6);
  CHECK(writes(backfill.json()) == 0);

  // Reset: the whole source, still incremental against the links (nothing written again).
  auto reset = project.run({"state", "cursor", "reset", kPeopleSync});
  INFO(reset.describe());
  REQUIRE(reset.exit_code == 0);
  CHECK_THAT(reset.out, Catch::Contains("source cursor cleared"));
  auto whole = run_sync(project, {}, kPeopleSync);
  INFO(whole.describe());
  REQUIRE(whole.exit_code == 0);
  CHECK(whole.json().at("kind") == "incremental");
  CHECK(whole.json().at("source").at("read") == 10);
  CHECK(writes(whole.json()) == 0);
  CHECK(project.run({"state", "cursor", "get", kPeopleSync, "--json"}).json().at("cursors").at("source") == stamp(10));

  // Values that do not look like this side's cursors, and a side that keeps none.
  auto not_time = project.run({"state", "cursor", "set", kPeopleSync, "yesterday"});
  CHECK(not_time.exit_code == 2);
  CHECK_THAT(not_time.err, Catch::Contains("ISO 8601"));
  auto other_form = project.run({"state", "cursor", "set", kPeopleSync, "2026-01-01 00:00:05Z"});
  CHECK(other_form.exit_code == 2);
  CHECK_THAT(other_form.err, Catch::Contains("like the stored cursor"));
  auto destination = project.run({"state", "cursor", "set", kPeopleSync, "--side", "destination", stamp(3)});
  CHECK(destination.exit_code == 2);
  CHECK_THAT(destination.err, Catch::Contains("one-way"));
  CHECK(project.run({"state", "cursor", "set", kPeopleSync, "--side", "sideways", stamp(3)}).exit_code == 2);

  // A run holds the lock: set and reset exit 5 and change nothing.
  {
    auto lock = state::SyncLock::try_acquire(project.state_dir(kPeopleSync));
    REQUIRE(lock);
    auto locked = project.run({"state", "cursor", "set", kPeopleSync, stamp(2), "--json"});
    INFO(locked.describe());
    CHECK(locked.exit_code == 5);
    CHECK(locked.json().at("exit_code") == 5);
    CHECK(project.run({"state", "cursor", "reset", kPeopleSync}).exit_code == 5);
  }
  CHECK(project.run({"state", "cursor", "get", kPeopleSync, "--json"}).json().at("cursors").at("source") == stamp(10));

  // A CSV source is read whole every run: no cursor to set.
  Project csv;
  make_csv_to_sqlite(csv, make_contacts(3));
  REQUIRE(run_sync(csv).exit_code == 0);
  auto whole_file = csv.run({"state", "cursor", "set", kSync, "2026-01-01T00:00:00Z"});
  INFO(whole_file.describe());
  CHECK(whole_file.exit_code == 2);
  CHECK_THAT(whole_file.err, Catch::Contains("read whole on every run"));
}

}  // namespace synctool::e2e
