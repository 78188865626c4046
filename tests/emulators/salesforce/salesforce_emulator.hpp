// A local emulator of the Salesforce REST API (API-FACTS "Salesforce REST"): OAuth token
// endpoint (refresh token and JWT bearer), describe, SOQL queries with paging, the replication
// endpoints (updated / deleted), sObject Collections and single-record calls, daily and
// concurrent limits, injected faults and a request log.
//
// It is an independent implementation: it shares no code with the synctool Salesforce
// connector, so a misreading of the API in one does not hide the same misreading in the other.
// It listens on 127.0.0.1 only. Tests start it in-process; the `salesforce-emulator` executable
// wraps it for the end-to-end tests. See README.md next to this file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace synctool::emulators {

// Injected faults. Each rate is a probability 0..1, rolled per request to /services/data/ (and
// /services/oauth2/ when include_oauth) in this order: limit exceeded, 5xx, timeout, drop, lost
// response, malformed. Salesforce has no 429: the shared dice's throttling kind answers 403
// REQUEST_LIMIT_EXCEEDED for the concurrent long-request limit instead.
struct SalesforceFaults {
  double rate_limit_exceeded = 0;  // 403 REQUEST_LIMIT_EXCEEDED (ConcurrentPerOrgLongTxn), not processed
  double rate_500 = 0;             // 500 UNKNOWN_EXCEPTION, 502 or 503 SERVER_UNAVAILABLE; not processed
  double rate_timeout = 0;         // hang timeout_ms, then 503; not processed
  std::int64_t timeout_ms = 30000;
  double rate_drop = 0;            // connection closed before any response byte, not processed
  double rate_lost_response = 0;   // request IS processed (write applied), then the connection drops mid-response
  double rate_malformed = 0;       // 200 with a truncated, invalid JSON body, not processed
  std::int64_t slow_ms = 0;        // every request in scope delayed this long (real time)
  std::vector<std::string> paths;  // only requests whose path starts with one of these (empty: all in scope)
  std::int64_t max_faults = -1;    // stop injecting after this many since set_faults (-1: unlimited)
  std::uint64_t seed = 1;          // deterministic random choices
  bool include_oauth = false;      // roll for /services/oauth2/ too
};

// Reads the JSON form (field names as above; missing fields keep their defaults).
// Throws std::invalid_argument on unknown fields or wrong types.
SalesforceFaults salesforce_faults_from_json(const nlohmann::json& j);
nlohmann::json salesforce_faults_to_json(const SalesforceFaults& f);

// A validation rule: a save whose resulting record has `field` equal to `value` (without regard
// to case) fails its row with FIELD_CUSTOM_VALIDATION_EXCEPTION and `message`.
struct SalesforceValidationRule {
  std::string object;  // "Contact"
  std::string field;   // "Email"
  std::string value;   // "blocked@example.com"
  std::string message = "This value is not allowed here.";
  bool show_on_field = true;  // the error's `fields` names the field (else [])
};

// Automation that runs after each user save of `object` (an after-save flow or trigger in a
// later transaction): sets `field` to `value` (when field is not empty) and moves SystemModstamp
// at least one second past the user's save; LastModifiedDate keeps the user's time.
struct SalesforceTrigger {
  std::string object;   // "Contact"
  std::string field;    // empty: only SystemModstamp moves
  nlohmann::json value;  // the value written (null clears)
  bool on_insert = true, on_update = true;
};

struct SalesforceEmulatorOptions {
  int port = 0;  // 0: a free port
  // OAuth: the connected app and the integration user.
  std::string client_id = "emulator-consumer-key", client_secret = "emulator-consumer-secret",
              refresh_token = "emulator-refresh-token";
  std::string username = "integration@emulator.example";
  std::string jwt_public_key_pem;  // PEM public key or certificate; empty: the JWT bearer grant is refused
  // Accepted `aud` values of a JWT assertion (the emulator's own base URL is accepted too).
  std::vector<std::string> jwt_audiences = {"https://login.salesforce.com", "https://test.salesforce.com"};
  std::string instance_url;  // answered as instance_url; empty: base_url(). "{port}" is replaced.
  std::int64_t session_lifetime_s = 7200;  // on the emulator clock
  bool rotate_refresh_token = false;       // each refresh answers a new refresh token; the old one stops working
  // Limits.
  std::int64_t daily_limit = 100000;       // API requests per rolling 24 h (emulator clock)
  int long_request_limit = 25;             // requests running longer than long_request_ms at once
  std::int64_t long_request_ms = 20000;    // on the emulator clock
  // Replication: deleted records stay in the recycle bin (queryAll, /deleted/) this long.
  std::int64_t deleted_retention_days = 15;
  std::int64_t updated_window_days = 30;  // /updated/ looks back at most this far
  // Data rules.
  // Person accounts enabled: Contact has IsPersonAccount (read-only; seeds may set it), true
  // for the contact behind a person account.
  bool person_accounts = false;
  bool duplicate_rule = true;  // Contact and Lead: a save whose Email matches a live record's is refused
  std::vector<SalesforceValidationRule> validation_rules;
  std::vector<SalesforceTrigger> triggers;
  SalesforceFaults faults;
};

// Applies the JSON form of the changeable options (the fields update_options takes) to `o`.
// Throws std::invalid_argument on unknown fields or bad values; `o` is unchanged then.
void apply_salesforce_options(const nlohmann::json& changes, SalesforceEmulatorOptions& o);

class SalesforceEmulator {
 public:
  explicit SalesforceEmulator(SalesforceEmulatorOptions options = {});
  ~SalesforceEmulator();  // stops
  SalesforceEmulator(const SalesforceEmulator&) = delete;
  SalesforceEmulator& operator=(const SalesforceEmulator&) = delete;

  void start();  // binds 127.0.0.1 only; returns once listening. Throws std::runtime_error.
  void stop();   // idempotent; closes open connections
  int port() const;
  std::string base_url() const;      // "http://127.0.0.1:<port>": the login (token) endpoint's host
  std::string instance_url() const;  // what the token endpoint answers as instance_url

  // Seed format: see README.md. Merges; throws std::invalid_argument on a bad seed.
  void load_seed(const nlohmann::json& seed);
  // A custom object (name ends in __c) with its fields (describe's field shape, see README.md).
  void define_object(const std::string& name, const nlohmann::json& fields = nlohmann::json::array());
  // Adds (or replaces) a custom field (__c) of an existing object.
  void define_field(const std::string& object, const nlohmann::json& field);

  void set_faults(const SalesforceFaults& faults);
  // The emulator clock: frozen at epoch_ms while set (wall clock otherwise). Record timestamps,
  // sessions, the daily allowance, the recycle bin and the long-request limit read it.
  void set_frozen_time(std::optional<std::int64_t> epoch_ms);
  void advance_time(std::int64_t ms);  // moves a frozen clock forward (no effect when not frozen)
  std::int64_t now_ms() const;

  // Automation touches the record: SystemModstamp moves at least one second past its current
  // value (LastModifiedDate stays). Returns the new SystemModstamp (epoch ms). Throws
  // std::out_of_range for an unknown type or id.
  std::int64_t touch(const std::string& object, const std::string& id);
  // Merges `losers` into `winner`: each loser is soft-deleted with MasterRecordId = winner, the
  // winner's LastModifiedDate and SystemModstamp move. Throws std::out_of_range / invalid_argument.
  void merge(const std::string& object, const std::string& winner, const std::vector<std::string>& losers);
  // Empties the recycle bin: deleted records (of `object`, or of every object when empty) are
  // physically removed; earliestDateAvailable moves to the latest of their deletion times.
  // Returns how many were removed.
  std::int64_t purge_deleted(const std::string& object = "");

  void expire_sessions();     // every access token issued so far is expired
  std::string issue_session();  // a fresh access token, as the token endpoint would give (tests)

  // All records of a type in API shape (attributes and every field), ordered by id; soft-deleted
  // ones too when include_deleted. Throws std::out_of_range for an unknown type.
  nlohmann::json records(const std::string& object, bool include_deleted = false) const;
  // Array of {method, path, query, status, fault, at_ms, body (first 2000 chars)}; the most
  // recent 50,000 requests.
  nlohmann::json request_log() const;
  // {requests, by_status, faults_injected, api_usage, daily_limit, limit_exceeded, sessions_issued,
  //  token_requests, api_hosts (Host header of API requests -> count), in_flight}
  nlohmann::json stats() const;
  void reset_stats();  // clears the log and the stats (and the daily allowance), not data

  // Changes options at runtime: session_lifetime_s, rotate_refresh_token, daily_limit,
  // long_request_limit, long_request_ms, deleted_retention_days, updated_window_days,
  // duplicate_rule, validation_rules ([{object, field, value, message?, show_on_field?}]),
  // triggers ([{object, field?, value?, on_insert?, on_update?}]). Throws std::invalid_argument on unknown fields
  // or bad values.
  void update_options(const nlohmann::json& changes);
  // Called with each request-log entry as it is recorded (for --request-log FILE.jsonl).
  // Called from server threads, serialised.
  void set_request_listener(std::function<void(const nlohmann::json&)> listener);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace synctool::emulators
