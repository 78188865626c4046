// Client-side pacing: a rolling-window limiter per connection (and per extra bucket such as
// HubSpot search), fed also by the vendor's remaining-budget headers, so that a run stays
// under the limit instead of bouncing off 429s.
#pragma once

#include "net/shared_budget.hpp"
#include "util/clock.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::net {

struct RateLimit {
  int requests = 0;              // at most this many requests start...
  std::int64_t window_ms = 0;    // ...in any window of this length
};

// "100/10s", "190/10s", "5/1s", "5/s", "10/1m", "250000/1d". Nothing for bad text.
std::optional<RateLimit> parse_rate_limit(std::string_view text);
std::string to_string(const RateLimit& limit);  // "100/10s"

class RateLimiter {
 public:
  RateLimiter(RateLimit limit, const util::Clock& clock);

  // From now on the budget is shared with the other processes using `options` (the same
  // folder and identity; net/shared_budget.hpp): starts, pauses and the vendor's hints of
  // each count for all. `bucket` tells this limiter's budget from the connection's others.
  // Nothing is shared when options.dir is empty.
  void share(const SharedBudgetOptions& options, const std::string& bucket, const std::string& label);
  // The shared budget, if any (null when not shared).
  SharedBudget* shared() const { return shared_.get(); }

  // Blocks (clock.sleep_ms) until one more request may start without exceeding the limit
  // in any rolling window (counting the other processes' starts when shared), then records
  // its start. The window is stretched by a small margin
  // because the server counts arrivals, which come after our starts. Returns false, recording
  // nothing, when a stop (SIGINT / SIGTERM, util/interrupt.hpp) is requested before the wait
  // is over: a stopping run waits for nothing.
  bool acquire();

  // The vendor's view after a response: `remaining` requests left in its current window of
  // `interval_ms` (HubSpot's X-HubSpot-RateLimit-Remaining / -Interval-Milliseconds). When the
  // budget is exhausted (remaining <= reserve) no request starts before that window has passed.
  void observe_remaining(int remaining, std::int64_t interval_ms, int reserve = 0);

  // Hold every request for `ms` (after a 429 or a Retry-After).
  void pause_for(std::int64_t ms);

  // How long acquire() would sleep if called now (0: a request may start at once). Lets a
  // caller send what is ready instead of holding ready requests behind a blocked one.
  std::int64_t delay_ms() const;
  // The window is stretched by this much: max(50 ms, 2% of the window).
  std::int64_t margin_ms() const;

  const RateLimit& limit() const { return limit_; }
  std::uint64_t waits() const { return waits_; }         // acquire() calls that had to sleep
  std::int64_t waited_ms() const { return waited_ms_; }  // total time slept

 private:
  // Sleep needed before the next start at `now`, after forgetting starts outside the window.
  std::int64_t delay_at(std::int64_t now) const;
  void forget_old(std::int64_t now);

  RateLimit limit_;
  const util::Clock& clock_;
  std::deque<std::int64_t> starts_;  // steady_ms of recent starts, oldest first
  std::int64_t paused_until_ = 0;
  std::unique_ptr<SharedBudget> shared_;
  std::uint64_t waits_ = 0;
  std::int64_t waited_ms_ = 0;
};

}  // namespace synctool::net
