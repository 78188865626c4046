// The HubSpot CRM v3 API as the connector uses it: the HTTP client with HubSpot's auth,
// limits and error bodies, and the property definitions of each object (cached per run).
#pragma once

#include "connectors/connector.hpp"
#include "connectors/hubspot/hubspot_values.hpp"
#include "connectors/registry.hpp"
#include "net/http_client.hpp"
#include "net/oauth.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace synctool::connectors::hubspot {

inline constexpr const char* kDefaultBaseUrl = "https://api.hubapi.com";
inline constexpr const char* kDefaultRateLimit = "100/10s";  // private apps, Free/Starter
inline constexpr std::size_t kMaxBatchInputs = 100;
inline constexpr std::size_t kListPageSize = 100;
inline constexpr std::size_t kSearchPageSize = 200;
inline constexpr std::size_t kSearchResultCap = 10'000;

// The property holding an object's last-modified time.
std::string last_modified_property(const std::string& object);

class HubspotApi {
 public:
  // Reads the connection settings; throws ConnectorError(config) for a bad or missing one.
  explicit HubspotApi(const ConnectionConfig& config);

  // One request; `body` null for none. Returns the response for every status the caller has
  // to interpret (2xx, 207, 4xx); throws ConnectorError for retries exhausted (transient), the
  // daily limit (quota) and credentials refused (config).
  net::HttpResponse call(const std::string& method, const std::string& path_and_query, const Json* body = nullptr,
                         const std::string& bucket = "");
  // Several independent requests at once (up to max_in_flight); responses in order.
  std::vector<net::HttpResponse> call_all(std::vector<net::HttpRequest> requests);
  // The same, but a request whose retries ran out comes back with `error` set (the batch's
  // outcome is unknown) instead of throwing; quota and credential failures still throw.
  struct Outcome {
    net::HttpResponse response;
    std::string error;
  };
  std::vector<Outcome> call_each(std::vector<net::HttpRequest> requests);
  net::HttpRequest request(const std::string& method, const std::string& path_and_query, const Json* body,
                           const std::string& bucket = "") const;

  // "HTTP 400 VALIDATION_ERROR: Property values were not valid (INVALID_EMAIL: email)".
  std::string describe_error(const net::HttpResponse& response) const;
  // Throws the ConnectorError a failed call means: 401/403 and unknown objects are config
  // errors, 5xx transient, everything else config with the server's message.
  [[noreturn]] void fail(const net::HttpResponse& response, const std::string& what) const;
  // The response body as JSON; a body that does not parse is a transient error (a proxy page,
  // a truncated answer).
  Json parse(const net::HttpResponse& response, const std::string& what) const;

  // Property definitions of an object (GET /crm/v3/properties/{object}), fetched once.
  const std::map<std::string, Property>& properties(const std::string& object);
  const Property* property(const std::string& object, const std::string& name);
  void forget_properties(const std::string& object) { properties_.erase(object); }

  // OAuth: fetch a token now to prove the credentials (no-op for a private app token).
  void authenticate();
  std::string redact(const std::string& text) const;
  // The ConnectorError a failure of the client means.
  [[noreturn]] void rethrow(const net::HttpFailure& failure) const;
  const std::string& name() const { return name_; }
  std::size_t max_in_flight() const { return client_->options().max_in_flight; }
  const net::ClientStats& stats() const { return client_->stats(); }

 private:
  std::string name_;
  std::string base_url_;
  net::Redactor own_redactor_;  // used when the caller gave none
  net::Redactor* redactor_;
  std::unique_ptr<net::HttpTransport> transport_;
  std::unique_ptr<net::AuthProvider> auth_;
  net::OAuthRefresher* oauth_ = nullptr;
  std::unique_ptr<net::HttpClient> client_;
  std::map<std::string, std::map<std::string, Property>> properties_;
};

}  // namespace synctool::connectors::hubspot
