// One run per sync at a time: a second run started while the first holds the lock exits 5
// at once and touches nothing; the first completes.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace synctool::e2e {

namespace {

// Whether some process holds a flock() on `file`, as the kernel lists it in /proc/locks
// ("1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF").
bool flock_held(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return false;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string number, kind, mode, access, pid, device;
    fields >> number >> kind >> mode >> access >> pid >> device;
    if (kind == "->") continue;  // a waiter, not a holder
    if (kind != "FLOCK") continue;
    auto colon = device.rfind(':');
    if (colon != std::string::npos && device.substr(colon + 1) == std::to_string(st.st_ino)) return true;
  }
  return false;
}

// Waits until `process` holds the sync's lock; false if it finished first.
bool wait_until_locked(Spawned& process, const fs::path& lock_file) {
  const auto deadline = std::chrono::steady_clock::now() + kRunTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process.running()) return false;
    if (flock_held(lock_file)) return process.running();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

}  // namespace

TEST_CASE("a second run of the same sync exits 5 naming the lock while the first completes", "[e2e][lock]") {
  std::size_t rows = 2'000;
  for (int attempt = 1; attempt <= 2; ++attempt, rows *= 4) {
    Project project;
    auto contacts = make_contacts(rows);
    make_csv_to_sqlite(project, contacts);
    const fs::path lock_file = project.state_dir(kSync) / "lock";

    Spawned first(project.root(), {"run", kSync, "--json"});
    if (!wait_until_locked(first, lock_file)) {
      auto early = first.wait();
      INFO(early.describe());
      REQUIRE(attempt == 1);  // even four times the rows finished before the lock was seen
      WARN("the first run finished before the second started; retrying with " << rows * 4 << " rows");
      continue;
    }
    auto second = run_synctool(project.root(), {"run", kSync, "--json"});
    bool overlapped = first.running();
    auto done = first.wait();
    INFO("first: " << done.describe());
    INFO("second: " << second.describe());
    if (second.exit_code == 0 && attempt == 1) {
      // The first run released the lock before the second asked for it.
      WARN("the second run found the lock free; retrying with " << rows * 4 << " rows");
      continue;
    }

    REQUIRE(second.exit_code == 5);
    CHECK(second.json().at("exit_code") == 5);
    CHECK_THAT(second.err, Catch::Contains("lock"));
    CHECK_THAT(second.err, Catch::Contains(lock_file.string()));
    CHECK(writes(second.json()) == 0);

    REQUIRE(done.exit_code == 0);
    CHECK(done.json().at("destination").at("created") == static_cast<std::int64_t>(rows));
    Db db(project.path(kWarehouse));
    CHECK(table_differences(db, contacts) == "");
    if (!overlapped) WARN("the first run ended while the second was still starting");

    // The lock died with the first process: the next run goes ahead.
    auto third = run_sync(project);
    INFO("third: " << third.describe());
    CHECK(third.exit_code == 0);
    CHECK(writes(third.json()) == 0);
    return;
  }
}

TEST_CASE("a lock left by a killed run does not block the next run", "[e2e][lock]") {
  Project project;
  auto contacts = make_contacts(2'000);
  make_csv_to_sqlite(project, contacts);
  const fs::path lock_file = project.state_dir(kSync) / "lock";

  Spawned victim(project.root(), {"run", kSync, "--json"});
  if (wait_until_locked(victim, lock_file)) victim.kill(SIGKILL);
  victim.wait();
  REQUIRE(fs::exists(lock_file));

  auto next = run_sync(project);
  INFO(next.describe());
  REQUIRE(next.exit_code == 0);
  Db db(project.path(kWarehouse));
  CHECK(table_differences(db, contacts) == "");
}

}  // namespace synctool::e2e
