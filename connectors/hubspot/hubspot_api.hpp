// The HubSpot CRM v3 API as the connector uses it: the HTTP client with HubSpot's auth,
// limits and error bodies, and the property definitions of each object (cached per run).
#pragma once

#include "connectors/http_api.hpp"
#include "connectors/hubspot/hubspot_values.hpp"
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
// "New writes may take a few seconds to become searchable": how long a lookup through search
// may miss a record just created.
inline constexpr std::int64_t kSearchLagMs = 10'000;

// The property holding an object's last-modified time.
std::string last_modified_property(const std::string& object);

class HubspotApi final : public HttpApi {
 public:
  // Reads the connection settings; throws ConnectorError(config) for a bad or missing one.
  explicit HubspotApi(const ConnectionConfig& config);

  // "HTTP 400 VALIDATION_ERROR: Property values were not valid (INVALID_EMAIL: email)".
  std::string describe_error(const net::HttpResponse& response) const;
  // Throws the ConnectorError a failed call means: 401/403 and unknown objects are config
  // errors, 5xx transient, everything else config with the server's message.
  [[noreturn]] void fail(const net::HttpResponse& response, const std::string& what) const;

  // Property definitions of an object (GET /crm/v3/properties/{object}), fetched once.
  const std::map<std::string, Property>& properties(const std::string& object);
  const Property* property(const std::string& object, const std::string& name);
  void forget_properties(const std::string& object) { properties_.erase(object); }

  // OAuth: fetch a token now to prove the credentials (no-op for a private app token); for
  // check() and probe(), so a token endpoint that cannot be reached is not tried twice.
  void authenticate();

 private:
  net::OAuthRefresher* oauth_ = nullptr;
  std::map<std::string, std::map<std::string, Property>> properties_;
};

}  // namespace synctool::connectors::hubspot
