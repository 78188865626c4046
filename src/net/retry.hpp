// Retry policy: exponential backoff with full jitter, bounded in attempts and elapsed time.
#pragma once

#include <cstdint>
#include <random>

namespace synctool::net {

struct RetryPolicy {
  int max_attempts = 8;                // including the first
  std::int64_t max_elapsed_ms = 180'000;  // give up once retrying would pass this
  std::int64_t base_delay_ms = 500;
  std::int64_t max_delay_ms = 30'000;
};

// Delay before attempt number `attempt` + 1 (attempt counts from 1): a uniformly random value
// in [base*2^(attempt-1) / 2, base*2^(attempt-1)], capped at max_delay_ms.
std::int64_t backoff_delay_ms(const RetryPolicy& policy, int attempt, std::mt19937_64& random);

}  // namespace synctool::net
