#include "connectors/http_api.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

namespace synctool::connectors {

ConnectionSettings::ConnectionSettings(const ConnectionConfig& config, std::string vendor)
    : config_(config), vendor_(std::move(vendor)) {}

std::string ConnectionSettings::text(const std::string& key) const {
  auto it = config_.settings.find(key);
  if (it == config_.settings.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

void ConnectionSettings::fail(const std::string& what) const {
  throw ConnectorError(ErrorKind::config, vendor_ + ": connection '" + config_.name + "': " + what);
}

std::int64_t ConnectionSettings::duration_ms(const std::string& key, std::int64_t fallback_ms) const {
  auto it = config_.settings.find(key);
  if (it == config_.settings.end()) return fallback_ms;
  if (it->is_number()) return static_cast<std::int64_t>(it->get<double>() * 1000);
  if (it->is_string())
    if (auto ms = util::parse_duration(it->get<std::string>()); ms && *ms > 0) return *ms;
  fail("'" + key + "' must be a duration such as \"30s\" or \"2m\"");
}

std::int64_t ConnectionSettings::integer(const std::string& key, std::int64_t fallback, std::int64_t low,
                                         std::int64_t high) const {
  auto it = config_.settings.find(key);
  if (it == config_.settings.end()) return fallback;
  std::int64_t value = 0;
  if (it->is_number_integer()) {
    value = it->get<std::int64_t>();
  } else if (it->is_string() && !it->get<std::string>().empty() && it->get<std::string>().size() < 18 &&
             it->get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
    value = std::stoll(it->get<std::string>());
  } else {
    fail("'" + key + "' must be a whole number");
  }
  if (value < low || value > high)
    fail("'" + key + "' must be between " + std::to_string(low) + " and " + std::to_string(high));
  return value;
}

std::string ConnectionSettings::base_url(const HttpDefaults& defaults) const {
  std::string url = text("base_url");
  if (url.empty()) url = defaults.base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (!util::starts_with(url, "https://") && !util::starts_with(url, "http://"))
    fail("base_url must start with https:// (got '" + url + "')");
  return url;
}

net::ClientOptions ConnectionSettings::client_options(const HttpDefaults& defaults) const {
  net::ClientOptions options;
  options.name = config_.name.empty() ? vendor_ : config_.name;
  std::string rate = text("rate_limit");
  auto limit = net::parse_rate_limit(rate.empty() ? defaults.rate_limit : rate);
  if (!limit) fail("rate_limit must look like \"100/10s\" (got '" + rate + "')");
  options.rate_limit = *limit;
  options.max_in_flight = static_cast<std::size_t>(integer(
      "max_in_flight", static_cast<std::int64_t>(defaults.max_in_flight), 1,
      static_cast<std::int64_t>(defaults.max_in_flight_limit)));
  options.retry.max_attempts = static_cast<int>(integer("max_retries", 7, 0, 50)) + 1;
  options.transport.total_timeout_ms = duration_ms("timeout", defaults.timeout_ms);
  options.transport.connect_timeout_ms = std::min<std::int64_t>(options.transport.total_timeout_ms, 10'000);
  options.retry.max_elapsed_ms = duration_ms("retry_for", 300'000);
  options.log = config_.log;
  return options;
}

std::string endpoint_text(const ObjectRef& object, const std::string& key) {
  auto it = object.options.find(key);
  if (it == object.options.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

bool endpoint_flag(const std::string& vendor, const ObjectRef& object, const std::string& key, bool fallback) {
  auto it = object.options.find(key);
  if (it == object.options.end()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  throw ConnectorError(ErrorKind::config, vendor + ": '" + key + "' must be true or false");
}

std::int64_t endpoint_duration_ms(const std::string& vendor, const ObjectRef& object, const std::string& key,
                                  std::int64_t fallback_ms) {
  auto text = endpoint_text(object, key);
  if (text.empty()) return fallback_ms;
  if (text == "0" || text == "0s") return 0;
  auto ms = util::parse_duration(text);
  if (!ms)
    throw ConnectorError(ErrorKind::config,
                         vendor + ": '" + key + "' must be a duration such as \"2m\" (got '" + text + "')");
  return *ms;
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
    request.body = body->dump(-1, ' ', false, Json::error_handler_t::replace);
    request.headers.emplace_back("Content-Type", "application/json");
  }
  return request;
}

net::HttpResponse HttpApi::call(const std::string& method, const std::string& path_and_query, const Json* body,
                                const std::string& bucket) {
  std::vector<net::HttpRequest> one;
  one.push_back(request(method, path_and_query, body, bucket));
  return std::move(call_all(std::move(one)).front());
}

std::vector<net::HttpResponse> HttpApi::call_all(std::vector<net::HttpRequest> requests) {
  try {
    return client_->send_all(std::move(requests));
  } catch (const net::HttpFailure& failure) {
    rethrow(failure);
  }
}

std::vector<HttpApi::Outcome> HttpApi::call_each(std::vector<net::HttpRequest> requests) {
  std::vector<net::HttpClient::Outcome> outcomes;
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

Json HttpApi::parse(const net::HttpResponse& response, const std::string& what) const {
  auto body = Json::parse(response.body, nullptr, false);
  if (body.is_discarded())
    throw ConnectorError(ErrorKind::transient, vendor_ + ": " + what + ": HTTP " + std::to_string(response.status) +
                                                   " with a body that is not JSON: " +
                                                   redact(response.body.substr(0, 120)));
  return body;
}

std::string HttpApi::redact(const std::string& text) const { return redactor_->apply(text); }

void HttpApi::log(const std::string& line) const {
  if (log_) log_(redact(name_ + ": " + line));
}

}  // namespace synctool::connectors
