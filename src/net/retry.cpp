#include "net/retry.hpp"

#include <algorithm>
#include <limits>

namespace synctool::net {

std::int64_t backoff_delay_ms(const RetryPolicy& policy, int attempt, std::mt19937_64& random) {
  if (policy.base_delay_ms <= 0) return 0;
  const std::int64_t cap = std::max<std::int64_t>(policy.max_delay_ms, 0);
  // base * 2^(attempt-1), doubling step by step so that large attempt numbers cannot overflow.
  std::int64_t ceiling = policy.base_delay_ms;
  for (int i = 1; i < attempt && ceiling < cap && ceiling <= std::numeric_limits<std::int64_t>::max() / 2; ++i)
    ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (ceiling <= 0) return 0;
  std::uniform_int_distribution<std::int64_t> pick(ceiling / 2, ceiling);
  return pick(random);
}

}  // namespace synctool::net
