#include "connectors/http_api.hpp"

#include "util/clock.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <memory>
#include <utility>

namespace synctool::connectors {

std::string http_base_url(const ConnectionSettings& settings, const HttpDefaults& defaults) {
  std::string url = settings.text("base_url");
  if (url.empty()) url = defaults.base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (!util::starts_with(url, "https://") && !util::starts_with(url, "http://"))
    settings.fail("base_url", "base_url must start with https:// (got '" + url + "')");
  // A host is needed, and nothing that would change the request line or split the URL.
  auto rest = url.substr(url.find("://") + 3);
  if (rest.empty() || rest.front() == '/' || rest.front() == ':')
    settings.fail("base_url", "base_url has no host name (got '" + url + "')");
  if (url.find_first_of(" \t\r\n?#") != std::string::npos)
    settings.fail("base_url", "base_url must be a plain URL without spaces, '?' or '#' (got '" + url + "')");
  return url;
}

net::ClientOptions http_client_options(const ConnectionSettings& settings, const HttpDefaults& defaults) {
  net::ClientOptions options;
  options.name = settings.name();
  std::string rate = settings.text("rate_limit");
  auto limit = net::parse_rate_limit(rate.empty() ? defaults.rate_limit : rate);
  if (!limit) settings.fail("rate_limit", "rate_limit must look like \"100/10s\" (got '" + rate + "')");
  options.rate_limit = *limit;
  options.max_in_flight = static_cast<std::size_t>(settings.integer(
      "max_in_flight", static_cast<std::int64_t>(defaults.max_in_flight), 1,
      static_cast<std::int64_t>(defaults.max_in_flight_limit)));
  options.retry.max_attempts = static_cast<int>(settings.integer("max_retries", 7, 0, 50)) + 1;
  options.transport.total_timeout_ms = settings.duration_ms("timeout", defaults.timeout_ms);
  options.transport.connect_timeout_ms = std::min<std::int64_t>(options.transport.total_timeout_ms, 10'000);
  options.retry.max_elapsed_ms = settings.duration_ms("retry_for", 300'000);
  options.log = settings.config().log;
  return options;
}

void share_rate_budget(net::ClientOptions& options, const ConnectionSettings& settings, std::string identity) {
  const ConnectionConfig& config = settings.config();
  if (!settings.flag("share_rate_limit", true) || config.rate_dir.empty()) return;
  options.shared.dir = config.rate_dir;
  options.shared.identity = std::move(identity);
  if (config.warn) {
    // Each bucket has a file of its own; a folder that cannot be used is said once.
    auto told = std::make_shared<bool>(false);
    options.shared.warn = [warn = config.warn, told](const std::string& line) {
      if (std::exchange(*told, true)) return;
      warn(line);
    };
  }
}

std::size_t count_field(const Json& body, const char* name, const std::string& what) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return 0;
  if (it->is_number_unsigned()) return it->get<std::size_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() >= 0) return static_cast<std::size_t>(it->get<std::int64_t>());
  throw ConnectorError(ErrorKind::transient, what + ": `" + name + "` is not a count: " + it->dump());
}

std::optional<net::Verdict> garbled_success_verdict(const net::HttpResponse& response) {
  if (!response.ok() || response.body.empty() || Json::accept(response.body)) return std::nullopt;
  net::Verdict retry;
  retry.action = net::Verdict::Action::retry;
  retry.reason = "the answer is not valid JSON";
  return retry;
}

HttpApi::HttpApi(const ConnectionConfig& config, std::string vendor)
    : name_(config.name.empty() ? vendor : config.name),
      vendor_(std::move(vendor)),
      log_(config.log),
      redactor_(config.redactor ? config.redactor : &own_redactor_) {}

net::HttpTransport& HttpApi::open_transport(const net::TransportOptions& options) {
  transport_ = net::make_curl_transport(options);
  return *transport_;
}

void HttpApi::open_client(net::ClientOptions options, std::unique_ptr<net::AuthProvider> auth,
                          const util::Clock& clock) {
  auth_ = std::move(auth);
  options.redactor = redactor_;
  client_ = std::make_unique<net::HttpClient>(std::move(options), *transport_, auth_.get(), clock);
}

net::HttpRequest HttpApi::request(const std::string& method, const std::string& path_and_query, const Json* body,
                                  const std::string& bucket) const {
  net::HttpRequest request;
  request.method = method;
  request.url = base_url_ + path_and_query;
  request.rate_bucket = bucket;
  if (body) {
    request.body = util::json_dump(*body);
    request.headers.emplace_back("Content-Type", "application/json");
  }
  return request;
}

net::HttpRequest HttpApi::json_request(const std::string& method, const std::string& path_and_query,
                                       std::string json_body, const std::string& bucket) const {
  net::HttpRequest request = this->request(method, path_and_query, nullptr, bucket);
  request.body = std::move(json_body);
  request.headers.emplace_back("Content-Type", "application/json");
  return request;
}

net::HttpResponse HttpApi::call(const std::string& method, const std::string& path_and_query, const Json* body,
                                const std::string& bucket) {
  std::vector<net::HttpRequest> one;
  one.push_back(request(method, path_and_query, body, bucket));
  return std::move(call_all(std::move(one)).front());
}

HttpApi::FailFast::FailFast(HttpApi& api) : api_(api), before_(api.fail_fast_) { api_.fail_fast_ = true; }

HttpApi::FailFast::~FailFast() { api_.fail_fast_ = before_; }

void HttpApi::mark(std::vector<net::HttpRequest>& requests) const {
  if (!fail_fast_) return;
  for (auto& request : requests) request.retry_unreachable = false;
}

std::vector<net::HttpResponse> HttpApi::call_all(std::vector<net::HttpRequest> requests) {
  mark(requests);
  try {
    return client_->send_all(std::move(requests));
  } catch (const net::HttpFailure& failure) {
    rethrow(failure);
  }
}

std::vector<HttpApi::Outcome> HttpApi::call_each(std::vector<net::HttpRequest> requests) {
  std::vector<net::HttpClient::Outcome> outcomes;
  mark(requests);
  try {
    outcomes = client_->send_each(std::move(requests));
  } catch (const net::HttpFailure& failure) {
    rethrow(failure);
  }
  std::vector<Outcome> out;
  out.reserve(outcomes.size());
  for (auto& outcome : outcomes)
    out.push_back({std::move(outcome.response), outcome.failure ? redact(outcome.failure->what()) : std::string()});
  return out;
}

void HttpApi::rethrow(const net::HttpFailure& failure) const {
  switch (failure.kind()) {
    case net::HttpFailure::Kind::transient: throw ConnectorError(ErrorKind::transient, redact(failure.what()));
    case net::HttpFailure::Kind::quota: throw ConnectorError(ErrorKind::quota, redact(failure.what()));
    case net::HttpFailure::Kind::auth: break;
  }
  throw ConnectorError(ErrorKind::config,
                       redact(failure.what()) + " (check the credentials of connection '" + name_ + "')");
}

Json HttpApi::parse(const net::HttpResponse& response, const std::string& what, bool array) const {
  auto body = Json::parse(response.body, nullptr, false);
  if (body.is_discarded())
    throw ConnectorError(ErrorKind::transient, vendor_ + ": " + what + ": HTTP " + std::to_string(response.status) +
                                                   " with a body that is not JSON: " +
                                                   redact(response.body.substr(0, 120)));
  // Every answer these APIs parse is an object; a stray array, number or string would make
  // the callers' field lookups throw a bare JSON type error.
  if (array ? !body.is_array() : !body.is_object())
    throw ConnectorError(ErrorKind::transient, vendor_ + ": " + what + ": HTTP " + std::to_string(response.status) +
                                                   " with a JSON " + body.type_name() + " where " + (array ? "an array" : "an object") + " was expected: " +
                                                   redact(response.body.substr(0, 120)));
  return body;
}

std::string HttpApi::redact(const std::string& text) const { return redactor_->apply(text); }

void HttpApi::log(const std::string& line) const {
  if (log_) log_(redact(name_ + ": " + line));
}

}  // namespace synctool::connectors
