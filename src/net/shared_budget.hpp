// A rate budget shared by every synctool process that uses one connection's credentials (two
// syncs against one HubSpot account, a `diff` beside a `run`): a small file per budget in the
// state folder, `<state_dir>/.rate/<digest>`, holding the start times of the last requests
// (a ring) and a pause that one process's 429, Retry-After or spent "remaining" header sets
// for all. Each process keeps its own in-process limiter as well; the file only adds what the
// others spent. Any problem with the file turns sharing off for the run with a warning: a
// rate file never stops a run.
//
// Times are the clock's steady milliseconds: CLOCK_MONOTONIC, one clock for every process on
// the machine, unaffected by wall-clock steps. It restarts at boot, so the file carries the
// boot id and is reset when it was written before the last reboot.
#pragma once

#include "util/clock.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace synctool::net {

// Where a connection's shared budgets live and whose they are.
struct SharedBudgetOptions {
  std::filesystem::path dir;  // <state_dir>/.rate; empty: nothing is shared
  // What makes two connections one account to the vendor (type, API URL, credential). It is
  // secret: only a keyed digest of it (the key is random, in dir/key) names the file.
  std::string identity;
  // Told once when sharing is turned off (the file cannot be used) or a damaged file was reset.
  std::function<void(const std::string&)> warn;
};

class SharedBudget {
 public:
  // The ring holds at most this many starts; a limit above it shares pauses only.
  static constexpr int kMaxSlots = 65'536;

  // At most `requests` starts in any `window_ms` (the caller's window, margin included).
  // Nothing touches the disk before the first call. `label` starts warnings ("hubspot").
  SharedBudget(SharedBudgetOptions options, std::string bucket, std::string label, int requests,
               std::int64_t window_ms, const util::Clock& clock);
  ~SharedBudget();
  SharedBudget(const SharedBudget&) = delete;
  SharedBudget& operator=(const SharedBudget&) = delete;

  // Under the file's lock, at the clock's steady time: when no pause holds and fewer than
  // `requests` starts (of every process) lie in the window before now, records a start and
  // returns 0; otherwise returns how long to wait, recording nothing. Once sharing is off it
  // returns 0 and records nothing: the caller's own limiter is then all that paces.
  std::int64_t try_start();
  // The wait try_start would report now, without recording anything.
  std::int64_t delay();
  // No process starts a request of this budget before `steady_until`.
  void pause_until(std::int64_t steady_until);

  // False once sharing was turned off for this run.
  bool active() const { return state_ != State::off; }
  // The budget's file (empty before the first call or when the folder could not be used).
  const std::filesystem::path& file() const { return file_; }

 private:
  enum class State { closed, open, off };

 public:
  struct Ring;  // the file's header and first bytes (shared_budget.cpp)

 private:
  bool open();
  // Runs `body` with the file locked; false when sharing went off.
  template <typename Body>
  bool locked(Body&& body);
  // Reads and checks the header; resets a damaged or stale file, grows a small one.
  bool load(Ring& ring, std::int64_t now);
  bool reset(Ring& ring, std::uint32_t capacity);
  bool grow(Ring& ring, std::uint32_t capacity);
  bool write_header(const Ring& ring);
  // The wait at `now`; false when the file could not be read (sharing went off).
  bool wait_at(Ring& ring, std::int64_t now, std::int64_t& wait);
  // The slot whose start decides whether one more fits (false: the ring is not that full).
  bool deciding_slot(const Ring& ring, std::uint32_t& index) const;
  // The wait at `now` when `start` is the deciding start.
  std::int64_t wait_for(const Ring& ring, std::int64_t start, std::int64_t now) const;
  void damaged(const std::string& what);
  void turn_off(const std::string& why);

  SharedBudgetOptions options_;
  std::string bucket_;
  std::string label_;
  int requests_;
  std::int64_t window_ms_;
  const util::Clock& clock_;
  State state_ = State::closed;
  std::filesystem::path file_;
  int fd_ = -1;
  bool told_damage_ = false;
};

// The name of the budget file for `identity` and `bucket` in `dir`: hex HMAC-SHA-256 keyed
// with dir/key (32 random bytes, 0600, made on first use). Throws std::runtime_error when the
// key can be neither read nor made.
std::string shared_budget_name(const std::filesystem::path& dir, const std::string& identity,
                               const std::string& bucket);

}  // namespace synctool::net
