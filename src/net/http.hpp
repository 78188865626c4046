// HTTP requests and responses, and the transport seam that sends them. The real transport is
// libcurl (curl_transport.cpp); tests substitute a fake. Everything above the transport
// (retries, rate limits, auth) lives in http_client.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synctool::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET POST PUT PATCH DELETE
  std::string url;             // absolute: scheme, host, path and query
  Headers headers;             // sent as given ("Content-Type", "Authorization"...)
  std::string body;
  // Which rate-limit bucket of the client the request spends (HubSpot search has its own
  // 5/s budget besides the connection's); "" is the connection's main budget.
  std::string rate_bucket;
  // False for a request that must not be sent twice (HubSpot's batch/create): when its answer
  // is lost (timeout, dropped connection, 5xx, malformed body) it is not repeated, since the
  // server may have acted on it; the caller resolves the unknown outcome (DESIGN: pending
  // create intents, looked up on the next run). A 429, or a connection that never got the
  // request out, is still retried.
  bool idempotent = true;
  // False for a connection check (`synctool check --connect`, a probe): a connection that
  // cannot be made (refused, unknown host, no TLS handshake) fails at once instead of being
  // retried for minutes. Runs keep the default and ride out a server that is restarting.
  bool retry_unreachable = true;
};

struct HttpResponse {
  long status = 0;           // HTTP status; 0 when no response arrived (see transport_error)
  Headers headers;           // names lower-cased, in arrival order
  std::string body;          // decoded (gzip already undone)
  std::string transport_error;  // "" or why no complete response arrived (curl's message)
  bool timed_out = false;       // the connect or total timeout expired
  bool not_sent = false;        // the request never left (no connection): safe to repeat
  std::int64_t elapsed_ms = 0;

  // The first header with this (case-insensitive) name, or nullptr.
  const std::string* header(std::string_view name) const;
  bool ok() const { return status >= 200 && status < 300; }
};

struct TransportOptions {
  std::int64_t connect_timeout_ms = 10'000;
  std::int64_t total_timeout_ms = 120'000;  // whole request, including the body
  std::string user_agent = "synctool";
  // Extra CA bundle (PEM) for private proxies; verification itself can never be turned off.
  std::string ca_file;
};

// Sends requests. Never throws for HTTP or network trouble: a failed exchange is a response
// with status 0 and transport_error set, or with the error status the server sent.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends every request, at most `max_in_flight` at once over reused connections, and returns
  // the responses in the order of `requests`.
  virtual std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests, std::size_t max_in_flight) = 0;
};

// libcurl: connection reuse across calls, gzip, timeouts, TLS verification always on, proxy
// variables (https_proxy, http_proxy, no_proxy) honoured as curl does.
std::unique_ptr<HttpTransport> make_curl_transport(const TransportOptions& options = {});

// Percent-encodes a query parameter value or path segment (RFC 3986 unreserved kept).
std::string url_encode(std::string_view text);
// "a=1&b=x%20y" from pairs, values encoded.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace synctool::net
