#include "net/rate_limiter.hpp"

#include "util/interrupt.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

namespace synctool::net {

namespace {

bool read_number(std::string_view text, std::size_t& pos, std::int64_t& out) {
  std::size_t start = pos;
  std::int64_t value = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (value > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return false;
    value = value * 10 + (text[pos] - '0');
    ++pos;
  }
  if (pos == start) return false;
  out = value;
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<RateLimit> parse_rate_limit(std::string_view text) {
  text = trim(text);
  std::size_t pos = 0;
  std::int64_t requests = 0;
  if (!read_number(text, pos, requests) || requests <= 0 || requests > std::numeric_limits<int>::max())
    return std::nullopt;
  if (pos >= text.size() || text[pos] != '/') return std::nullopt;
  ++pos;
  std::int64_t count = 1;
  if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (!read_number(text, pos, count) || count <= 0) return std::nullopt;
  }
  std::string_view unit = text.substr(pos);
  std::int64_t unit_ms = 0;
  if (unit == "ms")
    unit_ms = 1;
  else if (unit == "s")
    unit_ms = 1000;
  else if (unit == "m")
    unit_ms = 60'000;
  else if (unit == "h")
    unit_ms = 3'600'000;
  else if (unit == "d")
    unit_ms = 86'400'000;
  else
    return std::nullopt;
  if (count > std::numeric_limits<std::int64_t>::max() / unit_ms) return std::nullopt;
  return RateLimit{static_cast<int>(requests), count * unit_ms};
}

std::string to_string(const RateLimit& limit) {
  struct Unit {
    std::int64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  std::string out = std::to_string(limit.requests) + "/";
  if (limit.window_ms > 0) {
    for (const auto& unit : kUnits)
      if (limit.window_ms % unit.ms == 0) return out + std::to_string(limit.window_ms / unit.ms) + unit.suffix;
  }
  return out + std::to_string(limit.window_ms) + "ms";
}

RateLimiter::RateLimiter(RateLimit limit, const util::Clock& clock) : limit_(limit), clock_(clock) {}

std::int64_t RateLimiter::margin_ms() const { return std::max<std::int64_t>(50, limit_.window_ms / 50); }

std::int64_t RateLimiter::delay_at(std::int64_t now) const {
  std::int64_t wait = paused_until_ > now ? paused_until_ - now : 0;
  if (limit_.requests <= 0 || limit_.window_ms <= 0) return wait;  // no window: pauses only
  const std::int64_t window = limit_.window_ms + margin_ms();
  // Starts still inside the (stretched) window ending now.
  auto first_inside =
      std::find_if(starts_.begin(), starts_.end(), [&](std::int64_t start) { return start + window > now; });
  auto inside = static_cast<std::size_t>(starts_.end() - first_inside);
  auto allowed = static_cast<std::size_t>(limit_.requests);
  if (inside >= allowed) {
    // The start that has to leave the window so that one more fits.
    std::int64_t blocking = *(first_inside + static_cast<std::ptrdiff_t>(inside - allowed));
    wait = std::max(wait, blocking + window - now);
  }
  return wait;
}

void RateLimiter::forget_old(std::int64_t now) {
  const std::int64_t window = limit_.window_ms + margin_ms();
  while (!starts_.empty() && starts_.front() + window <= now) starts_.pop_front();
}

std::int64_t RateLimiter::delay_ms() const {
  std::int64_t wait = delay_at(clock_.steady_ms());
  // Our own starts are among the shared ones: the file is read only when they allow a start.
  if (wait == 0 && shared_) wait = shared_->delay();
  return wait;
}

void RateLimiter::share(const SharedBudgetOptions& options, const std::string& bucket, const std::string& label) {
  shared_.reset();
  if (options.dir.empty()) return;
  const bool windowed = limit_.requests > 0 && limit_.window_ms > 0;
  shared_ = std::make_unique<SharedBudget>(options, bucket, label, windowed ? limit_.requests : 0,
                                           windowed ? limit_.window_ms + margin_ms() : 0, clock_);
}

bool RateLimiter::acquire() {
  bool slept = false;
  std::int64_t now = clock_.steady_ms();
  for (;;) {
    std::int64_t wait = delay_at(now);
    // Shared: deciding and recording the start are one step under the file's lock.
    if (wait == 0 && shared_) wait = shared_->try_start();
    if (wait <= 0) break;
    // The clock's sleep returns early on a stop; looping on would spin until the window ends.
    if (util::stop_requested()) return false;
    clock_.sleep_ms(wait);
    waited_ms_ += wait;
    slept = true;
    if (util::stop_requested()) {  // stopped while waiting: do not start after all
      ++waits_;
      return false;
    }
    now = clock_.steady_ms();
  }
  if (slept) ++waits_;
  if (limit_.requests <= 0 || limit_.window_ms <= 0) return true;
  forget_old(now);
  starts_.push_back(now);
  while (starts_.size() > static_cast<std::size_t>(limit_.requests)) starts_.pop_front();
  return true;
}

void RateLimiter::observe_remaining(int remaining, std::int64_t interval_ms, int reserve) {
  if (remaining > reserve || interval_ms <= 0) return;
  // The vendor's window frees a slot when its oldest counted request leaves it. Our own oldest
  // start inside the interval is the best estimate of that; with none (other clients spent
  // the budget) wait a whole interval.
  const std::int64_t now = clock_.steady_ms();
  std::int64_t until = now + interval_ms;
  for (auto start : starts_)
    if (start + interval_ms > now) {
      until = start + interval_ms + margin_ms();
      break;
    }
  paused_until_ = std::max(paused_until_, until);
  if (shared_) shared_->pause_until(until);  // the others spend the same budget
}

void RateLimiter::pause_for(std::int64_t ms) {
  if (ms <= 0) return;
  paused_until_ = std::max(paused_until_, clock_.steady_ms() + ms);
  if (shared_) shared_->pause_until(paused_until_);
}

}  // namespace synctool::net
