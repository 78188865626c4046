// Killing synctool at any moment loses nothing and never creates a record twice: a baseline
// is SIGKILLed at random points, resumed, and the destination checked row by row.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <random>
#include <thread>

namespace synctool::e2e {

namespace {

std::size_t env_number(const char* name, std::size_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::stoul(value) : fallback;
}

// A fresh start: no state, an empty destination table without a unique constraint.
void reset(const Project& project) {
  fs::remove_all(project.path(".synctool"));
  Db db(project.path(kWarehouse));
  db.exec("DROP TABLE IF EXISTS contacts");
  db.exec(contacts_table_sql(false));
}

// How many rows make one baseline take about `target` on this build (sanitizer builds are
// several times slower than Release), between `low` and `high`: timed on a 2,000-row probe.
std::size_t rows_for(const Project& project, std::chrono::milliseconds target, std::size_t low, std::size_t high) {
  const std::size_t probe = 2'000;
  project.write_contacts_csv(kSourceCsv, make_contacts(probe));
  reset(project);
  auto started = std::chrono::steady_clock::now();
  auto r = run_sync(project);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto rows = static_cast<std::size_t>(static_cast<double>(probe) * static_cast<double>(target.count()) /
                                       static_cast<double>(std::max<std::int64_t>(1, took.count())));
  return std::clamp(rows / 1000 * 1000, low, high);
}

}  // namespace

TEST_CASE("a run killed at a random moment resumes without losing or duplicating a row", "[e2e][crash]") {
  Project project;
  make_csv_to_sqlite(project, {}, "upsert", "", false);

  // Up to 20,000 rows (four destination batches: the SQLite connector writes 5,000 rows per
  // batch), fewer on slow builds so that the whole test stays near a minute. The environment
  // can fix the numbers for a longer soak (SYNCTOOL_E2E_CRASH_ROWS=20000 SYNCTOOL_E2E_CRASH_KILLS=30).
  std::size_t rows = env_number("SYNCTOOL_E2E_CRASH_ROWS", 0);
  if (rows == 0) rows = rows_for(project, std::chrono::milliseconds(2'500), 2'000, 20'000);
  const std::size_t kills = env_number("SYNCTOOL_E2E_CRASH_KILLS", 8);
  const auto seed = static_cast<std::uint32_t>(env_number("SYNCTOOL_E2E_SEED", 20260301));
  INFO("random seed " << seed << " (set SYNCTOOL_E2E_SEED to replay), " << rows << " rows");
  std::mt19937 random(seed);

  auto contacts = make_contacts(rows);
  project.write_contacts_csv(kSourceCsv, contacts);
  reset(project);

  // How long one whole baseline takes here.
  auto started = std::chrono::steady_clock::now();
  auto measured_run = run_sync(project);
  auto measured = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  INFO(measured_run.describe());
  REQUIRE(measured_run.exit_code == 0);
  {
    Db db(project.path(kWarehouse));
    REQUIRE(table_differences(db, contacts) == "");
  }

  std::uniform_int_distribution<long> delay_ms(0, measured.count());
  for (std::size_t attempt = 1; attempt <= kills; ++attempt) {
    reset(project);
    auto delay = std::chrono::milliseconds(delay_ms(random));
    INFO("kill " << attempt << " of " << kills << " after " << delay.count() << " ms (a whole run takes "
                 << measured.count() << " ms)");

    Spawned victim(project.root(), {"run", kSync, "--json"});
    std::this_thread::sleep_for(delay);
    victim.kill(SIGKILL);
    auto killed = victim.wait();
    INFO("killed run: " << killed.describe());
    CHECK((killed.exit_code == -SIGKILL || killed.exit_code == 0));

    auto resumed = run_sync(project);
    INFO("resumed run: " << resumed.describe());
    REQUIRE((resumed.exit_code == 0 || resumed.exit_code == 1));

    Db db(project.path(kWarehouse));
    CHECK(db.count("contacts") == static_cast<std::int64_t>(rows));
    CHECK(db.scalar("SELECT count(DISTINCT email) FROM contacts") == static_cast<std::int64_t>(rows));
    REQUIRE(table_differences(db, contacts) == "");

    auto settled = run_sync(project);
    INFO("final run: " << settled.describe());
    REQUIRE(settled.exit_code == 0);
    CHECK(writes(settled.json()) == 0);
    CHECK(db.count("contacts") == static_cast<std::int64_t>(rows));
  }
}

}  // namespace synctool::e2e
