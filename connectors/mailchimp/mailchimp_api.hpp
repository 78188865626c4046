// The Mailchimp Marketing API v3 as the connector uses it: the HTTP client with Mailchimp's
// auth (the API key, whose suffix names the data centre), its connection limit and
// problem+json errors, and the audiences and merge fields of the account (cached per run).
#pragma once

#include "connectors/http_api.hpp"
#include "connectors/mailchimp/mailchimp_values.hpp"

#include <map>
#include <string>
#include <vector>

namespace synctool::connectors::mailchimp {

inline constexpr std::size_t kMaxBatchMembers = 500;   // POST /lists/{id}
inline constexpr std::size_t kMaxPageSize = 1000;      // GET .../members?count=
inline constexpr std::size_t kMaxConnections = 10;     // simultaneous connections per account
inline constexpr std::size_t kDefaultConnections = 4;
inline constexpr std::int64_t kDefaultTimeoutMs = 120'000;  // Mailchimp ends calls after 120 s

// An audience (list) of the account.
struct Audience {
  std::string id;
  std::string name;
};

class MailchimpApi final : public HttpApi {
 public:
  // Reads the connection settings; throws ConnectorError(config) for a bad or missing one.
  explicit MailchimpApi(const ConnectionConfig& config);

  // "HTTP 400 Invalid Resource: The resource submitted could not be validated (email_address:
  // This value should be a valid email.)".
  std::string describe_error(const net::HttpResponse& response) const;
  // Throws the ConnectorError a failed call means: 401/403 config, 404 config (naming what was
  // not found), 5xx transient, other 4xx config with Mailchimp's detail.
  [[noreturn]] void fail(const net::HttpResponse& response, const std::string& what) const;

  // The audience named by `list` (an id or a name), resolved once. Throws ConnectorError(config)
  // when there is none or the name is ambiguous.
  const Audience& audience(const std::string& list);
  // The audience's merge fields (GET /lists/{id}/merge-fields), fetched once.
  const std::vector<MergeField>& merge_fields(const Audience& audience);

 private:
  std::map<std::string, Audience> audiences_;  // by the `list` text asked for
  std::map<std::string, std::vector<MergeField>> merge_fields_;  // by audience id
};

}  // namespace synctool::connectors::mailchimp
