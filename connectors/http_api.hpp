// What the connectors that talk HTTP (HubSpot, Mailchimp) share: the common connection keys
// (base_url, rate_limit, max_in_flight, timeout...) and the HTTP client of src/net wrapped so
// that its failures reach the engine as ConnectorErrors.
#pragma once

#include "connectors/connector.hpp"
#include "connectors/registry.hpp"
#include "connectors/settings.hpp"
#include "net/http_client.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace synctool::connectors {

// The defaults a vendor gives the common connection keys.
struct HttpDefaults {
  std::string base_url;                 // the vendor's API root
  std::string rate_limit;               // "100/10s"
  std::size_t max_in_flight = 4;
  std::size_t max_in_flight_limit = 32; // the most the vendor allows at once
  std::int64_t timeout_ms = 60'000;
};

// base_url (scheme checked, no trailing slash), or the vendor's default.
std::string http_base_url(const ConnectionSettings& settings, const HttpDefaults& defaults);
// rate_limit, max_in_flight, max_retries, timeout and retry_for into client options.
net::ClientOptions http_client_options(const ConnectionSettings& settings, const HttpDefaults& defaults);

// Shares the client's rate budgets with the other synctool processes whose connection has the
// same `identity` (the vendor's type, API URL and credential: who the vendor counts requests
// against), through files in the state folder, unless the connection says
// share_rate_limit = false or the caller gave no folder (net/shared_budget.hpp).
void share_rate_budget(net::ClientOptions& options, const ConnectionSettings& settings, std::string identity);

// A success whose JSON body is cut short or garbled (a proxy, a connection dropped mid-body)
// is asked again rather than half read: the retry verdict for such a response, if it is one.
std::optional<net::Verdict> garbled_success_verdict(const net::HttpResponse& response);

// A count field of an answer (`total_items`): absent is 0; anything but a non-negative integer
// (a float such as 1e300 would overflow the conversion) is a transient error naming `what`.
std::size_t count_field(const Json& body, const char* name, const std::string& what);

// The HTTP client of one connection, with the connection's name in every message and secrets
// masked. A vendor's API class derives from it and opens the transport and client in its
// constructor.
class HttpApi {
 public:
  HttpApi(const ConnectionConfig& config, std::string vendor);
  virtual ~HttpApi() = default;
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // A request to base_url + path_and_query; `body` (null for none) is sent as JSON.
  net::HttpRequest request(const std::string& method, const std::string& path_and_query, const Json* body,
                           const std::string& bucket = "") const;
  // The same with a body already written as JSON text (assembled from parts, not one Json).
  net::HttpRequest json_request(const std::string& method, const std::string& path_and_query, std::string json_body,
                                const std::string& bucket = "") const;
  // One request; returns the response for every status the caller has to interpret (2xx,
  // 4xx); throws ConnectorError when retries ran out (transient), on a stop verdict (quota) and
  // when the credentials are refused (config).
  net::HttpResponse call(const std::string& method, const std::string& path_and_query, const Json* body = nullptr,
                         const std::string& bucket = "");
  // Several independent requests at once (up to max_in_flight); responses in order.
  std::vector<net::HttpResponse> call_all(std::vector<net::HttpRequest> requests);
  // The same, but a request whose retries ran out comes back with `error` set (its outcome is
  // unknown) instead of throwing; quota and credential failures still throw.
  struct Outcome {
    net::HttpResponse response;
    std::string error;
  };
  std::vector<Outcome> call_each(std::vector<net::HttpRequest> requests);

  // While one lives, a connection that cannot be made (refused, unknown host) fails at once
  // instead of being retried: check() and probe() report an unreachable server in a moment,
  // while a run keeps riding out a server that restarts.
  class FailFast {
   public:
    explicit FailFast(HttpApi& api);
    ~FailFast();
    FailFast(const FailFast&) = delete;
    FailFast& operator=(const FailFast&) = delete;

   private:
    HttpApi& api_;
    bool before_;
  };

  // The response body as JSON: an object (an array where `array`); a body that does not parse
  // or has the other shape is a transient error (a proxy page, a truncated answer).
  Json parse(const net::HttpResponse& response, const std::string& what, bool array = false) const;
  // The ConnectorError a failure of the client means.
  [[noreturn]] void rethrow(const net::HttpFailure& failure) const;
  std::string redact(const std::string& text) const;
  // A --verbose line "<connection>: <line>", redacted; nothing without a log.
  void log(const std::string& line) const;

  const std::string& name() const { return name_; }
  const std::string& vendor() const { return vendor_; }
  const std::string& base_url() const { return base_url_; }
  std::size_t max_in_flight() const { return client_->options().max_in_flight; }
  const net::ClientStats& stats() const { return client_->stats(); }

 protected:
  // First the transport (an OAuth refresher needs it), then the client.
  net::HttpTransport& open_transport(const net::TransportOptions& options);
  void open_client(net::ClientOptions options, std::unique_ptr<net::AuthProvider> auth, const util::Clock& clock);
  net::Redactor& redactor() { return *redactor_; }

  std::string base_url_;

 private:
  void mark(std::vector<net::HttpRequest>& requests) const;

  std::string name_;
  std::string vendor_;
  bool fail_fast_ = false;
  std::function<void(const std::string&)> log_;
  net::Redactor own_redactor_;  // used when the caller gave none
  net::Redactor* redactor_;
  std::unique_ptr<net::HttpTransport> transport_;
  std::unique_ptr<net::AuthProvider> auth_;
  std::unique_ptr<net::HttpClient> client_;
};

}  // namespace synctool::connectors
