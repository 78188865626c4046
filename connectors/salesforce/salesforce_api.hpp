// The Salesforce REST API as the connector uses it: OAuth (refresh token or JWT bearer) at the
// login URL, every call at the instance_url the token endpoint returns, error arrays, the
// daily allowance (Sforce-Limit-Info) with a share of it the run may spend, and the fields of
// each object from describe (cached per run).
#pragma once

#include "connectors/http_api.hpp"
#include "connectors/salesforce/salesforce_values.hpp"
#include "net/oauth.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace synctool::connectors::salesforce {

inline constexpr const char* kDefaultLoginUrl = "https://login.salesforce.com";
inline constexpr const char* kDefaultApiVersion = "v60.0";
inline constexpr std::size_t kCollectionMax = 200;   // records per sObject Collections call
inline constexpr std::size_t kQueryBatch = 2000;     // records per query page
inline constexpr std::size_t kLookupValues = 200;    // values per IN (...) of a lookup
inline constexpr double kDefaultApiShare = 0.5;

class SalesforceApi final : public HttpApi {
 public:
  // Reads the connection settings; throws ConnectorError(config) for a bad or missing one.
  explicit SalesforceApi(const ConnectionConfig& config);

  // Gets a token (cached or fresh) and with it the instance to call; every call does this
  // first. `checking`: an unreachable login URL fails at once (check / probe).
  void connect(bool checking = false);
  // "/services/data/v60.0" + rest.
  std::string data_path(const std::string& rest) const { return "/services/data/" + version_ + rest; }

  // One call, after making sure the run may still spend a request of the daily allowance.
  net::HttpResponse send(const std::string& method, const std::string& path, const Json* body = nullptr);
  // Several at once (up to max_in_flight), each counted against the allowance.
  std::vector<Outcome> send_each(std::vector<net::HttpRequest> requests);

  // "HTTP 400 MALFORMED_QUERY: unexpected token: FROM" from an error array.
  std::string describe_error(const net::HttpResponse& response) const;
  // Throws the ConnectorError a failed call means.
  [[noreturn]] void fail(const net::HttpResponse& response, const std::string& what) const;

  // The object's fields by name (GET /sobjects/{Type}/describe), fetched once.
  const std::map<std::string, Field>& fields(const std::string& object);
  const Field* field(const std::string& object, const std::string& name);

  // What Sforce-Limit-Info said last: requests used and the daily allowance (0 when not seen).
  std::int64_t api_used() const { return used_.load(); }
  std::int64_t api_limit() const { return limit_.load(); }

 private:
  // Called with every response (from the client's threads): the allowance as the org reports it.
  void observe_limits(const net::HttpResponse& response);
  // Throws ConnectorError(quota) when the run has spent its share of what was left.
  void spend(std::size_t requests);

  std::string version_;
  std::string login_url_;
  double api_share_ = kDefaultApiShare;
  net::OAuthRefresher* oauth_ = nullptr;
  std::map<std::string, std::map<std::string, Field>> fields_;
  std::atomic<std::int64_t> used_{0}, limit_{0};
  std::mutex budget_mutex_;
  std::int64_t budget_ = -1;     // requests this run may make; -1 until the first answer says
  std::int64_t spent_ = 0;       // requests made since the budget was set
};

}  // namespace synctool::connectors::salesforce
