#include "net/rate_limiter.hpp"
#include "support/fake_clock.hpp"
#include "util/interrupt.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <deque>

using synctool::net::parse_rate_limit;
using synctool::net::RateLimit;
using synctool::net::RateLimiter;
using synctool::testing::FakeClock;

TEST_CASE("a limiter lets a full window through at once, then waits the window plus its margin") {
  FakeClock clock;
  RateLimiter limiter({100, 10'000}, clock);
  for (int i = 0; i < 100; ++i) limiter.acquire();
  CHECK(clock.slept_ms() == 0);
  CHECK(limiter.waits() == 0);
  CHECK(limiter.delay_ms() == 10'200);
  limiter.acquire();  // the 101st
  CHECK(clock.slept_ms() == 10'200);  // 10 s + max(50 ms, 2% of 10 s)
  CHECK(limiter.waits() == 1);
  CHECK(limiter.waited_ms() == 10'200);
}

TEST_CASE("the margin is 2% of the window but at least 50 ms") {
  FakeClock clock;
  CHECK(RateLimiter({5, 1000}, clock).margin_ms() == 50);
  CHECK(RateLimiter({100, 10'000}, clock).margin_ms() == 200);
  CHECK(RateLimiter({10, 60'000}, clock).margin_ms() == 1200);
}

TEST_CASE("no rolling window ever holds more starts than the limit") {
  FakeClock clock;
  const RateLimit limit{10, 1000};
  RateLimiter limiter(limit, clock);
  std::vector<std::int64_t> starts;
  for (int i = 0; i < 1000; ++i) {
    // Irregular gaps between callers.
    if (i % 7 == 0) clock.advance(i % 3 * 37);
    limiter.acquire();
    starts.push_back(clock.steady_ms());
  }
  // Any window of window_ms (even one not stretched by the margin) holds at most `requests`.
  std::size_t first = 0;
  for (std::size_t last = 0; last < starts.size(); ++last) {
    while (starts[last] - starts[first] >= limit.window_ms) ++first;
    REQUIRE(last - first + 1 <= static_cast<std::size_t>(limit.requests));
  }
  // ...and the limiter does not crawl: 1000 requests at 10/s take about 100 windows.
  CHECK(clock.slept_ms() < 110 * 1050);
}

TEST_CASE("requests spread out in time only wait when the window is full") {
  FakeClock clock;
  RateLimiter limiter({5, 1000}, clock);
  for (int i = 0; i < 20; ++i) {
    limiter.acquire();
    clock.advance(250);  // 4 per second, under the limit
  }
  CHECK(clock.slept_ms() == 0);
}

TEST_CASE("pause_for holds the next request for that long") {
  FakeClock clock;
  RateLimiter limiter({100, 10'000}, clock);
  limiter.acquire();
  limiter.pause_for(3000);
  CHECK(limiter.delay_ms() == 3000);
  clock.advance(1000);
  limiter.acquire();
  CHECK(clock.slept_ms() == 2000);
  // A shorter pause never shortens a longer one.
  limiter.pause_for(5000);
  limiter.pause_for(1000);
  CHECK(limiter.delay_ms() == 5000);
}

TEST_CASE("observe_remaining without any request of ours in the interval waits the whole interval") {
  FakeClock clock;
  RateLimiter limiter({100, 10'000}, clock);
  limiter.observe_remaining(0, 10'000);  // another client spent the budget
  CHECK(limiter.delay_ms() == 10'000);
}

TEST_CASE("observe_remaining at the reserve blocks the next acquire until our oldest request leaves the interval") {
  FakeClock clock;
  RateLimiter limiter({100, 10'000}, clock);
  limiter.acquire();
  limiter.observe_remaining(5, 10'000);  // budget left: nothing changes
  CHECK(limiter.delay_ms() == 0);
  limiter.observe_remaining(0, 10'000);
  clock.advance(400);
  limiter.acquire();
  // The start at 0 leaves the vendor's window at 10,000 (+ the 200 ms margin).
  CHECK(clock.slept_ms() == 9800);
  // With a reserve, "2 left" already counts as exhausted; the start just made leaves a
  // 1,000 ms interval after 1,000 + 200 ms.
  limiter.observe_remaining(2, 1000, 2);
  CHECK(limiter.delay_ms() == 1200);
}

TEST_CASE("rate limits are parsed from their text form") {
  struct Case {
    const char* text;
    int requests;
    std::int64_t window_ms;
  };
  const Case good[] = {
      {"100/10s", 100, 10'000}, {"5/s", 5, 1000},         {"5/1s", 5, 1000},        {"10/1m", 10, 60'000},
      {"250000/1d", 250'000, 86'400'000}, {"190/10s", 190, 10'000}, {"3/2h", 3, 7'200'000}, {"20/500ms", 20, 500},
      {" 100/10s ", 100, 10'000},
  };
  for (const auto& c : good) {
    INFO(c.text);
    auto limit = parse_rate_limit(c.text);
    REQUIRE(limit);
    CHECK(limit->requests == c.requests);
    CHECK(limit->window_ms == c.window_ms);
  }
  const char* bad[] = {"",     "100",    "100/",    "/10s",     "0/10s",   "100/0s",  "-5/10s",    "5/-1s",
                       "5/10",  "5/10x",  "abc",     "5/s/s",    "5 / s",   "1.5/s",   "5/1.5s",    "99999999999/s",
                       "5/99999999999999999999d", "5/sec", "x5/s", "5/s trailing"};
  for (const char* text : bad) {
    INFO(text);
    CHECK_FALSE(parse_rate_limit(text));
  }
}

TEST_CASE("rate limits print in the largest whole unit and parse back") {
  using synctool::net::to_string;
  CHECK(to_string({100, 10'000}) == "100/10s");
  CHECK(to_string({5, 1000}) == "5/1s");
  CHECK(to_string({10, 60'000}) == "10/1m");
  CHECK(to_string({250'000, 86'400'000}) == "250000/1d");
  CHECK(to_string({20, 1500}) == "20/1500ms");
  for (const char* text : {"100/10s", "190/10s", "5/1s", "10/1m", "250000/1d", "20/1500ms", "7/3h"}) {
    auto limit = parse_rate_limit(text);
    REQUIRE(limit);
    CHECK(to_string(*limit) == text);
  }
}

TEST_CASE("a stop request ends a rate-limit wait: acquire() says so and records no start") {
  FakeClock clock;
  RateLimiter limiter({1, 10'000}, clock);
  CHECK(limiter.acquire());
  SECTION("requested before the wait") {
    synctool::util::request_stop(SIGTERM);
    CHECK_FALSE(limiter.acquire());
    CHECK(clock.slept_ms() == 0);
  }
  SECTION("requested during the wait (the real clock's sleep returns early then)") {
    clock.on_sleep = [](std::int64_t) { synctool::util::request_stop(SIGINT); };
    CHECK_FALSE(limiter.acquire());
    CHECK(clock.sleeps().size() == 1);
  }
  synctool::util::request_stop(0);
  CHECK(limiter.acquire());
}
