#include "net/rate_limiter.hpp"
#include "net/shared_budget.hpp"
#include "support/fake_clock.hpp"
#include "support/temp_dir.hpp"
#include "util/hash.hpp"

#include <catch2/catch.hpp>

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using synctool::net::RateLimit;
using synctool::net::RateLimiter;
using synctool::net::SharedBudget;
using synctool::net::SharedBudgetOptions;
using synctool::net::shared_budget_name;
using synctool::testing::FakeClock;
using synctool::testing::TempDir;

namespace fs = std::filesystem;

namespace {

constexpr const char* kIdentity = "hubspot\nhttp://127.0.0.1:1\ntoken\npat-na1-secret-token";

struct Shared {
  TempDir root;
  std::vector<std::string> warnings;
  SharedBudgetOptions options(const std::string& identity = kIdentity) {
    SharedBudgetOptions o;
    o.dir = root.path() / "state" / ".rate";
    o.identity = identity;
    o.warn = [this](const std::string& line) { warnings.push_back(line); };
    return o;
  }
};

// The most starts in any window of `window_ms` (not stretched by the margin).
std::size_t most_in_a_window(std::vector<std::int64_t> starts, std::int64_t window_ms) {
  std::sort(starts.begin(), starts.end());
  std::size_t most = 0, first = 0;
  for (std::size_t last = 0; last < starts.size(); ++last) {
    while (starts[last] - starts[first] >= window_ms) ++first;
    most = std::max(most, last - first + 1);
  }
  return most;
}

// Two limiters taking turns irregularly, as two processes would; every start's time.
std::vector<std::int64_t> take_turns(FakeClock& clock, RateLimiter& a, RateLimiter& b, int requests) {
  std::vector<std::int64_t> starts;
  for (int i = 0; i < requests; ++i) {
    if (i % 5 == 0) clock.advance(i % 3 * 41);
    RateLimiter& who = (i % 7 < 3) ? a : b;
    REQUIRE(who.acquire());
    starts.push_back(clock.steady_ms());
  }
  return starts;
}

// The header's checksum made right again after a test changed it (bytes 56..63).
void reseal(std::string& bytes) {
  const std::uint64_t sum = synctool::util::fnv1a64(std::string_view(bytes.data(), 56));
  std::memcpy(bytes.data() + 56, &sum, sizeof sum);
}

}  // namespace

TEST_CASE("two limiters on one shared budget never start more than the limit in any window", "[net][shared_budget]") {
  Shared shared;
  FakeClock clock;
  const RateLimit limit{10, 1000};
  RateLimiter a(limit, clock), b(limit, clock);
  a.share(shared.options(), "", "hubspot");
  b.share(shared.options(), "", "hubspot");
  auto starts = take_turns(clock, a, b, 400);
  CHECK(most_in_a_window(starts, limit.window_ms) <= 10);
  CHECK(a.waits() + b.waits() > 0);
  // Pacing, not crawling: 400 starts at 10 per (1 s + 50 ms margin) take about 40 windows.
  CHECK(clock.steady_ms() - 1'000'000 < 45 * 1050);
  CHECK(shared.warnings.empty());
  REQUIRE(a.shared());
  CHECK(a.shared()->file() == b.shared()->file());
}

TEST_CASE("without sharing the same two limiters start twice the limit in a window", "[net][shared_budget]") {
  // The control for the test above: the file is what keeps them under the limit.
  FakeClock clock;
  const RateLimit limit{10, 1000};
  RateLimiter a(limit, clock), b(limit, clock);
  auto starts = take_turns(clock, a, b, 400);
  CHECK(most_in_a_window(starts, limit.window_ms) > 10);
}

TEST_CASE("a pause or a spent budget seen by one process holds the other", "[net][shared_budget]") {
  Shared shared;
  FakeClock clock;
  RateLimiter a({100, 10'000}, clock), b({100, 10'000}, clock);
  a.share(shared.options(), "", "hubspot");
  b.share(shared.options(), "", "hubspot");
  REQUIRE(a.acquire());
  a.pause_for(3000);  // a 429 with Retry-After: 3
  CHECK(b.delay_ms() == 3000);
  REQUIRE(b.acquire());
  CHECK(clock.slept_ms() == 3000);

  clock.reset_sleeps();
  a.observe_remaining(0, 10'000);  // X-HubSpot-RateLimit-Remaining: 0 in an answer to a
  // a's start (3 s ago) leaves HubSpot's window in 7 s, plus the 200 ms margin.
  CHECK(b.delay_ms() == 7200);
  REQUIRE(b.acquire());
  CHECK(clock.slept_ms() == 7200);
}

TEST_CASE("limiters with different limits on one budget each keep to their own, counting all starts",
          "[net][shared_budget]") {
  Shared shared;
  FakeClock clock;
  RateLimiter small({5, 1000}, clock), large({20, 1000}, clock);
  small.share(shared.options(), "", "hubspot");
  large.share(shared.options(), "", "hubspot");
  for (int i = 0; i < 5; ++i) REQUIRE(small.acquire());
  CHECK(small.delay_ms() > 0);
  // The larger limit grows the file's ring and keeps the five starts already in it.
  for (int i = 0; i < 15; ++i) REQUIRE(large.acquire());
  CHECK(clock.slept_ms() == 0);
  CHECK(large.delay_ms() == 1050);
  CHECK(small.delay_ms() == 1050);
  CHECK(shared.warnings.empty());
  CHECK(fs::file_size(large.shared()->file()) == 64 + 20 * 8);
}

TEST_CASE("budgets are told apart by credential, URL, bucket and folder, and the name reveals none",
          "[net][shared_budget]") {
  Shared shared;
  const fs::path dir = shared.root.path() / "state" / ".rate";
  fs::create_directories(dir);
  const std::string one = shared_budget_name(dir, kIdentity, "");
  CHECK(one == shared_budget_name(dir, kIdentity, ""));  // two projects, two syncs: the same
  CHECK(one.size() == 32);
  CHECK(one != shared_budget_name(dir, "hubspot\nhttp://127.0.0.1:1\ntoken\npat-na1-other-token", ""));
  CHECK(one != shared_budget_name(dir, "hubspot\nhttp://127.0.0.1:2\ntoken\npat-na1-secret-token", ""));
  CHECK(one != shared_budget_name(dir, kIdentity, "search"));
  // Keyed: neither the plain digest of the identity nor the same name in another folder.
  CHECK(synctool::util::sha256_hex(kIdentity).substr(0, 32) != one);
  TempDir elsewhere;
  CHECK(shared_budget_name(elsewhere.path(), kIdentity, "") != one);

  // The folder is private; so are the key and every budget file.
  FakeClock clock;
  RateLimiter limiter({10, 1000}, clock);
  limiter.share(shared.options(), "", "hubspot");
  REQUIRE(limiter.acquire());
  CHECK((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all);
  for (const auto& file : {dir / "key", limiter.shared()->file()})
    CHECK((fs::status(file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  for (const auto& entry : fs::directory_iterator(dir))
    CHECK(synctool::testing::read_bytes(entry.path()).find("secret-token") == std::string::npos);
}

TEST_CASE("a damaged budget file is reset with a warning and the budget goes on", "[net][shared_budget]") {
  Shared shared;
  FakeClock clock;
  const RateLimit limit{3, 1000};
  RateLimiter a(limit, clock);
  a.share(shared.options(), "", "hubspot");
  for (int i = 0; i < 3; ++i) REQUIRE(a.acquire());
  const fs::path file = a.shared()->file();
  const std::string good = synctool::testing::read_bytes(file);
  REQUIRE(good.size() == 64 + 3 * 8);

  bool warns = true;
  SECTION("garbage") { synctool::testing::write_bytes(file, "not a rate file at all, but some other bytes"); }
  SECTION("a torn header (checksum)") {
    std::string bad = good;
    bad[20] = static_cast<char>(bad[20] ^ 0x5a);
    synctool::testing::write_bytes(file, bad);
  }
  SECTION("an impossible ring behind a valid checksum") {
    std::string bad = good;
    std::memset(bad.data() + 12, 0xff, 4);  // capacity 4 billion
    reseal(bad);
    synctool::testing::write_bytes(file, bad);
  }
  SECTION("cut short after the header") { synctool::testing::write_bytes(file, good.substr(0, 64)); }
  SECTION("a slot far in the future (it would block for ever)") {
    std::string bad = good;
    const std::int64_t forever = INT64_MAX / 2;
    std::memcpy(bad.data() + 64, &forever, sizeof forever);
    synctool::testing::write_bytes(file, bad);
  }
  SECTION("empty (as a new file)") {
    synctool::testing::write_bytes(file, "");
    warns = false;
  }

  RateLimiter b(limit, clock);
  b.share(shared.options(), "", "hubspot");
  REQUIRE(b.acquire());
  CHECK(clock.slept_ms() == 0);
  const std::string after = synctool::testing::read_bytes(file);
  REQUIRE(after.size() == 64 + 3 * 8);
  CHECK(after.substr(0, 8) == "syncrate");
  CHECK(b.shared()->active());
  if (warns) {
    REQUIRE(shared.warnings.size() == 1);
    CHECK_THAT(shared.warnings.front(), Catch::Contains(file.string()) && Catch::Contains("it was reset"));
  } else {
    CHECK(shared.warnings.empty());
  }
  // And it is shared again: two more starts fill the window for a newcomer too.
  REQUIRE(b.acquire());
  REQUIRE(b.acquire());
  RateLimiter c(limit, clock);
  c.share(shared.options(), "", "hubspot");
  CHECK(c.delay_ms() == 1050);
}

TEST_CASE("a budget file written by another clock or boot is reset without a word", "[net][shared_budget]") {
  Shared shared;
  FakeClock later(1'763'800'000'000, 900'000'000);
  RateLimiter a({2, 10'000}, later);
  a.share(shared.options(), "", "hubspot");
  REQUIRE(a.acquire());
  REQUIRE(a.acquire());
  a.pause_for(60'000);
  // Steady time restarts at boot: the file's starts lie far in this clock's future.
  FakeClock rebooted(1'763'800'000'000, 5'000);
  RateLimiter b({2, 10'000}, rebooted);
  b.share(shared.options(), "", "hubspot");
  CHECK(b.delay_ms() == 0);
  REQUIRE(b.acquire());
  CHECK(rebooted.slept_ms() == 0);
  CHECK(shared.warnings.empty());
}

TEST_CASE("a budget folder or file that cannot be used turns sharing off with one warning", "[net][shared_budget]") {
  Shared shared;
  FakeClock clock;
  SharedBudgetOptions options = shared.options();
  std::string expected;

  SECTION("the state folder is a file") {
    synctool::testing::write_bytes(shared.root.path() / "state", "a file where the state folder should be");
    expected = "state";
  }
  SECTION("the budget file is a symbolic link (never followed)") {
    fs::create_directories(options.dir);
    const fs::path target = shared.root.path() / "elsewhere";
    synctool::testing::write_bytes(target, "");
    fs::create_symlink(target, options.dir / shared_budget_name(options.dir, options.identity, ""));
    expected = "cannot open";
    // Nothing was written through the link.
    RateLimiter probe({2, 1000}, clock);
    probe.share(options, "", "hubspot");
    REQUIRE(probe.acquire());
    CHECK(fs::file_size(target) == 0);
    shared.warnings.clear();
  }
  SECTION("the budget file is a folder") {
    fs::create_directories(options.dir);
    fs::create_directories(options.dir / shared_budget_name(options.dir, options.identity, ""));
    expected = "cannot open";
  }

  RateLimiter limiter({2, 1000}, clock);
  limiter.share(options, "", "hubspot");
  REQUIRE(limiter.acquire());
  REQUIRE(limiter.acquire());
  REQUIRE(limiter.acquire());  // alone, it still keeps to its limit
  CHECK(clock.slept_ms() == 1050);
  REQUIRE(shared.warnings.size() == 1);
  CHECK_THAT(shared.warnings.front(), Catch::StartsWith("hubspot: cannot share the rate budget") &&
                                          Catch::Contains(expected) && Catch::Contains("its own rate_limit only"));
  CHECK_FALSE(limiter.shared()->active());
}

TEST_CASE("a budget file the disk refuses to grow turns sharing off; the run goes on", "[net][shared_budget]") {
  Shared shared;
  FakeClock clock;
  RateLimiter limiter({1000, 1000}, clock);  // a ring of 8,064 bytes
  limiter.share(shared.options(), "", "hubspot");
  // As a full disk would: writing past 4 KB fails (EFBIG instead of ENOSPC).
  struct rlimit before {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &before) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = before;
  small.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const bool started = limiter.acquire();
  ::setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, old_handler);
  CHECK(started);
  REQUIRE(shared.warnings.size() == 1);
  CHECK_THAT(shared.warnings.front(), Catch::Contains("cannot size") && Catch::Contains("File too large"));
  CHECK_FALSE(limiter.shared()->active());
}

TEST_CASE("a budget file locked by a process that died is free again", "[net][shared_budget]") {
  Shared shared;
  FakeClock clock;
  RateLimiter a({5, 1000}, clock);
  a.share(shared.options(), "", "hubspot");
  REQUIRE(a.acquire());
  const fs::path file = a.shared()->file();
  // A child takes the lock and is killed holding it: the kernel releases it with the process.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int fd = ::open(file.c_str(), O_RDWR);
    if (fd >= 0 && ::flock(fd, LOCK_EX) == 0) ::pause();
    ::_exit(1);
  }
  // Wait until the child holds it, then kill it.
  bool held = false;
  for (int i = 0; i < 2000 && !held; ++i) {
    int fd = ::open(file.c_str(), O_RDWR);
    held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    if (!held) ::usleep(1000);
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(held);
  RateLimiter b({5, 1000}, clock);
  b.share(shared.options(), "", "hubspot");
  REQUIRE(b.acquire());
  CHECK(b.shared()->active());
  CHECK(shared.warnings.empty());
}
