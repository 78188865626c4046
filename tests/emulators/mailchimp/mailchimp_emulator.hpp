// A local emulator of the Mailchimp Marketing API v3 (DESIGN section 7, API-FACTS "Mailchimp
// Marketing API v3").
//
// It is an independent implementation: it shares no code with the synctool Mailchimp connector
// (only server plumbing with the other emulators, in emulators/common), so a misreading of the
// API in one does not hide the same misreading in the other. It listens on 127.0.0.1 only. Tests start it in-process; the
// `mailchimp-emulator` executable wraps it for the end-to-end tests, the demo and the benchmark.
// See README.md next to this file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace synctool::emulators {

// Injected faults. Each rate is a probability 0..1, rolled per request under /3.0/ in this
// order: 429, 5xx, timeout, drop, lost response, malformed.
struct MailchimpFaults {
  double rate_429 = 0;            // 429 problem+json "Too Many Requests", not processed
  double rate_500 = 0;            // 500/502/503/504 at random, problem+json (503 may be HTML), not processed
  double rate_timeout = 0;        // hang timeout_ms, then 504; not processed
  std::int64_t timeout_ms = 30000;
  double rate_drop = 0;           // connection closed before any response byte, not processed
  double rate_lost_response = 0;  // request IS processed (write applied), then the connection drops mid-response
  double rate_malformed = 0;      // 200 with a truncated, invalid JSON body, not processed
  std::int64_t slow_ms = 0;       // every request in scope delayed this long
  std::vector<std::string> paths; // only requests whose path (after /3.0) starts with one of these, e.g. "/lists/abc/members" (empty: all /3.0/)
  std::int64_t max_faults = -1;   // stop injecting after this many since set_faults (-1: unlimited)
  std::uint64_t seed = 1;
};

// Reads the JSON form (field names as above; missing fields keep their defaults).
// Throws std::invalid_argument on unknown fields or wrong types.
MailchimpFaults mailchimp_faults_from_json(const nlohmann::json& j);
nlohmann::json mailchimp_faults_to_json(const MailchimpFaults& f);

struct MailchimpEmulatorOptions {
  int port = 0;
  std::string api_key = "0123456789abcdef0123456789abcdef-us6";
  int max_connections = 10;            // simultaneous requests in progress under /3.0/ beyond this -> overload answer
  std::string overload_answer = "json"; // "json": 429 problem+json; "bare": 429 with a plain-text/HTML body; "403": 403 with a plain-text body (API-FACTS: at very high volume a 429 or 403 with no JSON body)
  bool since_inclusive = true;          // since_last_changed: last_changed >= since (true) or > since (false); API-FACTS is unsure
  MailchimpFaults faults;
};

class MailchimpEmulator {
 public:
  explicit MailchimpEmulator(MailchimpEmulatorOptions options = {});
  ~MailchimpEmulator();  // stops
  MailchimpEmulator(const MailchimpEmulator&) = delete;
  MailchimpEmulator& operator=(const MailchimpEmulator&) = delete;

  void start();  // binds 127.0.0.1 only; returns once listening; throws std::runtime_error
  void stop();   // idempotent
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>/3.0"  (the API root, like https://us6.api.mailchimp.com/3.0)
  void load_seed(const nlohmann::json& seed);  // merges; throws std::invalid_argument naming the problem
  std::string list_id(const std::string& name) const;  // id of the list with that name; throws std::out_of_range
  void set_faults(const MailchimpFaults& faults);
  void set_frozen_time(std::optional<std::int64_t> epoch_ms);  // writes get this time (seconds precision) while set
  // Bumps the member's last_changed to a second strictly later than any timestamp issued so far
  // (or now, if later). `member` is an email (any case) or a subscriber hash. Throws std::out_of_range.
  void touch(const std::string& list_id, const std::string& member);
  // Every member of the list in API shape (the same JSON a GET of the member answers), ordered as the
  // members endpoint orders them; archived members only when include_archived. Throws std::out_of_range.
  nlohmann::json members(const std::string& list_id, bool include_archived = false) const;
  nlohmann::json request_log() const;  // [{method, path, query, status, fault, at_ms, body (first 2000 chars)}], last 50,000
  // {requests, by_status, faults_injected, throttled_connections, max_concurrent, batch_calls, members_written}
  nlohmann::json stats() const;
  void reset_stats();  // clears log and stats, not data
  // Changes max_connections, overload_answer, since_inclusive at runtime; throws std::invalid_argument.
  void update_options(const nlohmann::json& changes);
  // Called with each request-log entry as it is recorded (for --request-log FILE.jsonl).
  // Called from server threads, serialised.
  void set_request_listener(std::function<void(const nlohmann::json&)> listener);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace synctool::emulators
