// A clock for tests: time stands still until a test moves it or the code under test sleeps.
// sleep_ms returns at once, advancing both clocks and recording what was slept, so code that
// waits for minutes (rate limits, backoff, Retry-After) is tested instantly. The engine sends
// batches from a second thread while it plans on the first, so both may use the clock at once.
#pragma once

#include "util/clock.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace synctool::testing {

class FakeClock final : public util::Clock {
 public:
  explicit FakeClock(std::int64_t now_ms = 1'763'800'000'000, std::int64_t steady_ms = 1'000'000)
      : now_(now_ms), steady_(steady_ms) {}

  std::int64_t now_ms() const override { return now_; }
  std::int64_t steady_ms() const override { return steady_; }
  void sleep_ms(std::int64_t ms) const override {
    if (ms <= 0) return;
    now_ += ms;
    steady_ += ms;
    slept_ += ms;
    {
      std::lock_guard lock(sleeps_mutex_);
      sleeps_.push_back(ms);
    }
    if (on_sleep) on_sleep(ms);
  }

  void set_now_ms(std::int64_t ms) { now_ = ms; }
  void set_steady_ms(std::int64_t ms) { steady_ = ms; }
  // Time passes without anybody sleeping (work being done, another process running).
  void advance(std::int64_t ms) const {
    now_ += ms;
    steady_ += ms;
  }

  std::int64_t slept_ms() const { return slept_; }           // total of every sleep_ms
  const std::vector<std::int64_t>& sleeps() const { return sleeps_; }  // each sleep, in order
  void reset_sleeps() {
    slept_ = 0;
    sleeps_.clear();
  }

  // Called after every sleep (e.g. to check an invariant at each wait).
  std::function<void(std::int64_t)> on_sleep;

 private:
  mutable std::atomic<std::int64_t> now_;
  mutable std::atomic<std::int64_t> steady_;
  mutable std::atomic<std::int64_t> slept_ = 0;
  mutable std::mutex sleeps_mutex_;
  mutable std::vector<std::int64_t> sleeps_;
};

}  // namespace synctool::testing
