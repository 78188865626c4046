// The HTTP client every HTTP connector uses: authentication, rate limiting, retries with
// backoff, several requests in flight, and a redacted request log for --verbose.
#pragma once

#include "net/http.hpp"
#include "net/rate_limiter.hpp"
#include "net/redact.hpp"
#include "net/retry.hpp"
#include "util/clock.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace synctool::net {

// Why the client gave up on a request (the caller turns it into its own error kind).
class HttpFailure : public std::runtime_error {
 public:
  enum class Kind {
    transient,  // retries exhausted on 429 / 5xx / timeouts / dropped connections
    quota,      // the vendor refuses further work for now (HubSpot's daily limit): stop the run
    auth,       // 401 even after a token refresh, or the token endpoint refused
  };
  HttpFailure(Kind kind, const std::string& message, long status = 0)
      : std::runtime_error(message), kind_(kind), status_(status) {}
  Kind kind() const { return kind_; }
  long status() const { return status_; }  // the last HTTP status, 0 for a network error

 private:
  Kind kind_;
  long status_;
};

// Adds credentials to requests.
class AuthProvider {
 public:
  virtual ~AuthProvider() = default;
  // Sets the request's credentials (e.g. an Authorization header), fetching or refreshing a
  // token first when needed. Throws HttpFailure(auth) when no credentials can be had.
  virtual void authorize(HttpRequest& request) = 0;
  // Called once after a 401: get fresh credentials. False when nothing can change (a static
  // token), and the 401 is then final.
  virtual bool refresh_after_unauthorized() = 0;
};

// `Authorization: Bearer <token>`.
class BearerAuth final : public AuthProvider {
 public:
  explicit BearerAuth(std::string token) : token_(std::move(token)) {}
  void authorize(HttpRequest& request) override;
  bool refresh_after_unauthorized() override { return false; }

 private:
  std::string token_;
};

// HTTP Basic with a user name and password (Mailchimp: any user, the API key as password).
class BasicAuth final : public AuthProvider {
 public:
  BasicAuth(std::string user, std::string password) : user_(std::move(user)), password_(std::move(password)) {}
  void authorize(HttpRequest& request) override;
  bool refresh_after_unauthorized() override { return false; }

 private:
  std::string user_, password_;
};

// What to do with a response; a vendor hook may override the default.
struct Verdict {
  enum class Action { done, retry, stop } action = Action::done;
  std::int64_t wait_ms = -1;  // for retry: at least this long before the next attempt (-1: backoff)
  bool pause_all = false;     // for retry: hold every request of the bucket, not only this one
  std::string reason;         // for stop / retry: why, for the log and the final error
};

// The default: 2xx-4xx are done (the caller interprets them), except 429 (retry after
// Retry-After if given, else the rate window, pausing the whole bucket) and 408 / 423 (retry);
// 5xx and network errors retry with backoff.
Verdict default_verdict(const HttpResponse& response, const RateLimit& limit);

struct ClientOptions {
  std::string name = "http";  // connection name, prefixes messages: "hubspot: POST ... -> 503"
  RateLimit rate_limit{100, 10'000};
  std::map<std::string, RateLimit> extra_buckets;  // e.g. {"search", {5, 1000}}
  // Every bucket's budget shared with the other processes using these credentials (nothing
  // shared when its dir is empty; net/shared_budget.hpp).
  SharedBudgetOptions shared;
  std::size_t max_in_flight = 4;
  RetryPolicy retry;
  TransportOptions transport;
  // Vendor hook: classify a response (nullptr: default_verdict).
  std::function<Verdict(const HttpResponse&, const RateLimit&)> classify;
  // Vendor hook: read remaining-budget headers into the limiter after every response.
  std::function<void(const HttpResponse&, RateLimiter&)> observe;
  // Progress lines for --verbose: one per request ("POST <url> -> 200 in 35 ms"), one per
  // retry with its reason and delay. Redacted before they are passed on.
  std::function<void(const std::string&)> log;
  // Masks secrets in log lines and error messages; must outlive the client. May be null.
  const Redactor* redactor = nullptr;
};

// Statistics of one client, for reports and the benchmark.
struct ClientStats {
  std::uint64_t requests = 0;         // attempts sent, retries included
  std::uint64_t retries = 0;
  std::uint64_t throttled = 0;        // 429 answers received
  std::uint64_t server_errors = 0;    // 5xx answers
  std::uint64_t network_errors = 0;   // timeouts and dropped connections
  std::int64_t rate_wait_ms = 0;      // time spent waiting for the rate limiter
};

class HttpClient {
 public:
  // `transport` and `auth` (may be null) must outlive the client.
  HttpClient(ClientOptions options, HttpTransport& transport, AuthProvider* auth, const util::Clock& clock);

  // Sends one request with auth, pacing and retries. Returns the final response for anything
  // the verdict calls done (2xx, and 4xx other than 401/408/423/429: the caller reads them).
  // Throws HttpFailure when retries are exhausted, on a stop verdict, or on a final 401.
  // Once a stop is requested (SIGINT / SIGTERM, util/interrupt.hpp) no retry starts and
  // nothing waits for the rate limiter any more: such a request fails as transient ("stopped
  // by SIGTERM before retrying"); a first attempt that may start at once still goes out, so
  // that the batch under way ends as far as it can.
  HttpResponse send(HttpRequest request);

  // The same for several independent requests, sent concurrently (up to max_in_flight);
  // responses in the order of `requests`. If any request fails for good, throws its
  // HttpFailure after the others have finished.
  std::vector<HttpResponse> send_all(std::vector<HttpRequest> requests);

  // The same, but a request whose retries ran out does not throw: its outcome carries the
  // failure, so a caller sending several batches learns which of them made it. Quota stops
  // and auth failures still throw.
  struct Outcome {
    HttpResponse response;
    std::optional<HttpFailure> failure;  // set when this request failed for good
  };
  std::vector<Outcome> send_each(std::vector<HttpRequest> requests);

  const ClientStats& stats() const { return stats_; }
  RateLimiter& limiter(const std::string& bucket = "");
  const ClientOptions& options() const { return options_; }

 private:
  struct Pending;  // one request's way through send_all (http_client.cpp)

  std::string redact(const std::string& text) const;
  // Also masks the credentials the client sent with `sent` (Authorization and the like).
  std::string redact(const std::string& text, const HttpRequest& sent) const;
  void log(const std::string& line, const HttpRequest& sent) const;
  // Books one answer: stats, observe hook, log line, verdict; re-queues or finishes `item`.
  // `refresh_ok` / `refresh_failure`: the outcome of this wave's refresh after a 401, if any.
  void settle(Pending& item, const HttpRequest& sent, HttpResponse response, bool refresh_ok,
              const HttpFailure* refresh_failure);

  ClientOptions options_;
  HttpTransport& transport_;
  AuthProvider* auth_;
  const util::Clock& clock_;
  std::map<std::string, std::unique_ptr<RateLimiter>> limiters_;
  std::mt19937_64 random_;
  ClientStats stats_;
};

}  // namespace synctool::net
