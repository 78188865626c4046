// A local emulator of the HubSpot CRM v3 API (DESIGN section 7, API-FACTS "HubSpot CRM v3").
//
// It is an independent implementation: it shares no code with the synctool HubSpot connector,
// so a misreading of the API in one does not hide the same misreading in the other. It listens
// on 127.0.0.1 only. Tests start it in-process; the `hubspot-emulator` executable wraps it for
// the end-to-end tests, the demo and the benchmark. See README.md next to this file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace synctool::emulators {

// Injected faults. Each rate is a probability 0..1, rolled per request to /crm/ (and /oauth/
// when include_oauth) in this order: 429, 5xx, timeout, drop, lost response, malformed.
struct HubspotFaults {
  double rate_429 = 0;            // 429 TEN_SECONDLY_ROLLING body + rate headers, request not processed
  double rate_500 = 0;            // 500 / 502 / 503 / 504 chosen at random, HubSpot error body, not processed
  double rate_timeout = 0;        // hang timeout_ms, then 504; not processed
  std::int64_t timeout_ms = 30000;
  double rate_drop = 0;           // connection closed before any response byte, not processed
  double rate_lost_response = 0;  // request IS processed (write applied), then the connection drops mid-response
  double rate_malformed = 0;      // 200 with a truncated, invalid JSON body, not processed
  std::int64_t slow_ms = 0;       // every request in scope delayed this long
  std::vector<std::string> paths; // only requests whose path starts with one of these (empty: all /crm/)
  std::int64_t max_faults = -1;   // stop injecting after this many since set_faults (-1: unlimited)
  std::uint64_t seed = 1;         // deterministic random choices
  bool include_oauth = false;
};

// Reads the JSON form (field names as above; missing fields keep their defaults).
// Throws std::invalid_argument on unknown fields or wrong types.
HubspotFaults hubspot_faults_from_json(const nlohmann::json& j);
nlohmann::json hubspot_faults_to_json(const HubspotFaults& f);

struct HubspotEmulatorOptions {
  int port = 0;                           // 0: a free port
  int ten_second_limit = 100;             // requests per rolling window (per app)
  std::int64_t window_ms = 10000;
  std::int64_t daily_limit = 250000;
  int search_per_second = 5;
  std::int64_t search_lag_ms = 0;         // writes become visible to search only after this
  std::string private_app_token = "pat-na1-emulator-token";
  std::string client_id = "emulator-client", client_secret = "emulator-secret",
              refresh_token = "emulator-refresh-token";
  std::int64_t token_lifetime_s = 1800;
  bool rotate_refresh_token = false;      // each refresh answers a new refresh token (old stays valid once)
  std::string batch_errors = "partial";   // validation errors in batch calls: "partial" (207) or "whole" (400)
  bool shuffle_batch_results = false;     // batch results in random order
  // Object types the app was not granted the read scope of: every /crm/v3/objects/{type} and
  // /crm/v3/properties/{type} request answers 403 MISSING_SCOPES naming the scope.
  std::vector<std::string> unreadable_objects;
  HubspotFaults faults;
};

class HubspotEmulator {
 public:
  explicit HubspotEmulator(HubspotEmulatorOptions options = {});
  ~HubspotEmulator();  // stops
  HubspotEmulator(const HubspotEmulator&) = delete;
  HubspotEmulator& operator=(const HubspotEmulator&) = delete;

  void start();  // binds 127.0.0.1 only; returns once listening. Throws std::runtime_error.
  void stop();   // idempotent; closes open connections
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  // Seed format: see README.md. Merges; throws std::invalid_argument on a bad seed.
  void load_seed(const nlohmann::json& seed);
  void set_faults(const HubspotFaults& faults);
  void set_frozen_time(std::optional<std::int64_t> epoch_ms);  // writes get this timestamp while set
  // Bumps the record's modified time to now, strictly later than any earlier timestamp
  // issued by this emulator. Throws std::out_of_range if the record does not exist.
  void touch(const std::string& object_type, const std::string& id);
  void expire_tokens();  // every issued OAuth access token becomes expired
  // All records of a type in API shape with every stored property, ordered by id.
  // Throws std::out_of_range for an unknown type.
  nlohmann::json records(const std::string& object_type, bool include_archived = false) const;
  // Array of {method, path, query, status, fault, at_ms, body (first 2000 chars)}; the most
  // recent 50,000 requests.
  nlohmann::json request_log() const;
  // {requests, by_status, throttled_by_limit, throttled_injected, faults_injected,
  //  max_in_any_window, daily_used, token_refreshes}
  nlohmann::json stats() const;
  void reset_stats();  // clears log and stats (and the daily counter), not data

  // Changes options at runtime: ten_second_limit, window_ms, daily_limit, search_per_second,
  // search_lag_ms, batch_errors, shuffle_batch_results, token_lifetime_s, rotate_refresh_token,
  // unreadable_objects.
  // Throws std::invalid_argument on unknown fields or bad values.
  void update_options(const nlohmann::json& changes);
  // Called with each request-log entry as it is recorded (for --request-log FILE.jsonl).
  // Called from server threads, serialised.
  void set_request_listener(std::function<void(const nlohmann::json&)> listener);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace synctool::emulators
