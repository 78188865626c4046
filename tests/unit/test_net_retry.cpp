#include "net/retry.hpp"

#include <catch2/catch.hpp>

#include <set>

using synctool::net::backoff_delay_ms;
using synctool::net::RetryPolicy;

TEST_CASE("backoff delays stay within half and all of base * 2^(attempt-1)") {
  RetryPolicy policy;
  policy.base_delay_ms = 500;
  policy.max_delay_ms = 30'000;
  std::mt19937_64 random(42);
  for (int attempt = 1; attempt <= 6; ++attempt) {
    const std::int64_t ceiling = 500LL << (attempt - 1);
    for (int i = 0; i < 200; ++i) {
      auto delay = backoff_delay_ms(policy, attempt, random);
      INFO("attempt " << attempt << " delay " << delay);
      REQUIRE(delay >= ceiling / 2);
      REQUIRE(delay <= ceiling);
    }
  }
}

TEST_CASE("backoff delays grow with the attempt number") {
  RetryPolicy policy;
  std::mt19937_64 random(7);
  auto average = [&](int attempt) {
    std::int64_t sum = 0;
    for (int i = 0; i < 100; ++i) sum += backoff_delay_ms(policy, attempt, random);
    return sum / 100;
  };
  std::int64_t previous = 0;
  for (int attempt = 1; attempt <= 6; ++attempt) {
    auto now = average(attempt);
    CHECK(now > previous);
    previous = now;
  }
}

TEST_CASE("backoff delays are capped at max_delay_ms, even for absurd attempt numbers") {
  RetryPolicy policy;
  policy.base_delay_ms = 500;
  policy.max_delay_ms = 4000;
  std::mt19937_64 random(1);
  for (int attempt : {4, 5, 10, 64, 1000, 1'000'000}) {
    for (int i = 0; i < 50; ++i) {
      auto delay = backoff_delay_ms(policy, attempt, random);
      REQUIRE(delay >= 2000);
      REQUIRE(delay <= 4000);
    }
  }
}

TEST_CASE("backoff delays are jittered") {
  RetryPolicy policy;
  std::mt19937_64 random(3);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 50; ++i) seen.insert(backoff_delay_ms(policy, 3, random));
  CHECK(seen.size() > 10);
}

TEST_CASE("a zero base delay means no backoff") {
  RetryPolicy policy;
  policy.base_delay_ms = 0;
  std::mt19937_64 random(3);
  CHECK(backoff_delay_ms(policy, 5, random) == 0);
}
