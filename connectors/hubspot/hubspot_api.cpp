#include "connectors/hubspot/hubspot_api.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

namespace synctool::connectors::hubspot {

namespace {

std::string setting_text(const ConnectionConfig& config, const std::string& key) {
  auto it = config.settings.find(key);
  if (it == config.settings.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

[[noreturn]] void config_error(const ConnectionConfig& config, const std::string& what) {
  throw ConnectorError(ErrorKind::config, "hubspot: connection '" + config.name + "': " + what);
}

// A duration setting: "30s", "2m", or a number of seconds.
std::int64_t duration_setting(const ConnectionConfig& config, const std::string& key, std::int64_t fallback_ms) {
  auto it = config.settings.find(key);
  if (it == config.settings.end()) return fallback_ms;
  if (it->is_number()) return static_cast<std::int64_t>(it->get<double>() * 1000);
  if (it->is_string())
    if (auto ms = util::parse_duration(it->get<std::string>()); ms && *ms > 0) return *ms;
  config_error(config, "'" + key + "' must be a duration such as \"30s\" or \"2m\"");
}

std::int64_t integer_setting(const ConnectionConfig& config, const std::string& key, std::int64_t fallback,
                             std::int64_t low, std::int64_t high) {
  auto it = config.settings.find(key);
  if (it == config.settings.end()) return fallback;
  std::int64_t value = 0;
  if (it->is_number_integer()) value = it->get<std::int64_t>();
  else if (it->is_string() && !it->get<std::string>().empty() &&
           it->get<std::string>().find_first_not_of("0123456789") == std::string::npos)
    value = std::stoll(it->get<std::string>());
  else
    config_error(config, "'" + key + "' must be a whole number");
  if (value < low || value > high)
    config_error(config, "'" + key + "' must be between " + std::to_string(low) + " and " + std::to_string(high));
  return value;
}

// What HubSpot's answers mean for the client: the daily allowance stops the run, the
// rolling limits wait for their window, 423 (record locked) waits two seconds.
net::Verdict hubspot_verdict(const net::HttpResponse& response, const net::RateLimit& limit) {
  // A success whose body is cut short or garbled (a proxy, a dropped connection mid-body):
  // ask again rather than read half an answer.
  if (response.ok() && !response.body.empty() && !Json::accept(response.body)) {
    net::Verdict retry;
    retry.action = net::Verdict::Action::retry;
    retry.reason = "the answer is not valid JSON";
    return retry;
  }
  if (response.status == 429) {
    auto body = Json::parse(response.body, nullptr, false);
    std::string policy = body.is_object() ? body.value("policyName", "") : "";
    if (policy == "DAILY") {
      net::Verdict stop;
      stop.action = net::Verdict::Action::stop;
      std::string daily;
      if (const auto* max = response.header("x-hubspot-ratelimit-daily")) daily = " of " + *max + " requests";
      stop.reason = "HubSpot's daily API limit" + daily +
                    " is used up (429 DAILY); the run stopped with all progress saved; run again after the "
                    "limit resets";
      return stop;
    }
    if (policy == "SECONDLY") {  // search's own per-second limit
      net::Verdict wait;
      wait.action = net::Verdict::Action::retry;
      wait.wait_ms = 1000;
      wait.pause_all = true;
      wait.reason = "429 SECONDLY (search limit)";
      return wait;
    }
  }
  return net::default_verdict(response, limit);
}

// Feeds X-HubSpot-RateLimit-Remaining into the limiter so that several synctool processes
// (or other apps) sharing one token stay under the limit together.
void observe_budget(const net::HttpResponse& response, net::RateLimiter& limiter) {
  const auto* remaining = response.header("x-hubspot-ratelimit-remaining");
  const auto* interval = response.header("x-hubspot-ratelimit-interval-milliseconds");
  if (!remaining || !interval) return;
  try {
    limiter.observe_remaining(std::stoi(*remaining), std::stoll(*interval));
  } catch (const std::exception&) {
    // A header that is not a number is ignored; the client-side window still paces.
  }
}

}  // namespace

std::string last_modified_property(const std::string& object) {
  return object == "contacts" ? "lastmodifieddate" : "hs_lastmodifieddate";
}

HubspotApi::HubspotApi(const ConnectionConfig& config)
    : name_(config.name.empty() ? "hubspot" : config.name), redactor_(config.redactor ? config.redactor : &own_redactor_) {
  const util::Clock& clock = config.clock ? *config.clock : util::system_clock();
  base_url_ = setting_text(config, "base_url");
  if (base_url_.empty()) base_url_ = kDefaultBaseUrl;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  if (!util::starts_with(base_url_, "https://") && !util::starts_with(base_url_, "http://"))
    config_error(config, "base_url must start with https:// (got '" + base_url_ + "')");

  net::ClientOptions options;
  options.name = name_;
  std::string rate = setting_text(config, "rate_limit");
  auto limit = net::parse_rate_limit(rate.empty() ? kDefaultRateLimit : rate);
  if (!limit) config_error(config, "rate_limit must look like \"100/10s\" (got '" + rate + "')");
  options.rate_limit = *limit;
  options.extra_buckets["search"] = net::RateLimit{5, 1000};
  options.max_in_flight = static_cast<std::size_t>(integer_setting(config, "max_in_flight", 4, 1, 32));
  options.retry.max_attempts = static_cast<int>(integer_setting(config, "max_retries", 7, 0, 50)) + 1;
  options.transport.total_timeout_ms = duration_setting(config, "timeout", 60'000);
  options.transport.connect_timeout_ms = std::min<std::int64_t>(options.transport.total_timeout_ms, 10'000);
  options.retry.max_elapsed_ms = duration_setting(config, "retry_for", 300'000);
  options.classify = &hubspot_verdict;
  options.observe = &observe_budget;
  options.log = config.log;
  options.redactor = redactor_;

  std::string token = setting_text(config, "token");
  std::string client_id = setting_text(config, "client_id");
  std::string client_secret = setting_text(config, "client_secret");
  std::string refresh_token = setting_text(config, "refresh_token");
  for (const auto& secret : {token, client_secret, refresh_token})
    if (!secret.empty()) redactor_->add(secret);
  transport_ = net::make_curl_transport(options.transport);
  if (!token.empty()) {
    if (!refresh_token.empty())
      config_error(config, "give either a private app 'token' or OAuth 'client_id', 'client_secret' and "
                           "'refresh_token', not both");
    auth_ = std::make_unique<net::BearerAuth>(token);
  } else if (!client_id.empty() && !client_secret.empty() && !refresh_token.empty()) {
    net::OAuthConfig oauth;
    oauth.token_url = base_url_ + "/oauth/v1/token";
    oauth.client_id = client_id;
    oauth.client_secret = client_secret;
    oauth.refresh_token = refresh_token;
    auto refresher = std::make_unique<net::OAuthRefresher>(oauth, *transport_, clock, redactor_, config.token_cache);
    oauth_ = refresher.get();
    auth_ = std::move(refresher);
  } else {
    config_error(config, "needs a private app 'token' (e.g. token = \"${HUBSPOT_TOKEN}\"), or OAuth 'client_id', "
                         "'client_secret' and 'refresh_token'");
  }
  client_ = std::make_unique<net::HttpClient>(options, *transport_, auth_.get(), clock);
}

net::HttpRequest HubspotApi::request(const std::string& method, const std::string& path_and_query, const Json* body,
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

net::HttpResponse HubspotApi::call(const std::string& method, const std::string& path_and_query, const Json* body,
                                   const std::string& bucket) {
  std::vector<net::HttpRequest> one;
  one.push_back(request(method, path_and_query, body, bucket));
  return std::move(call_all(std::move(one)).front());
}

std::vector<HubspotApi::Outcome> HubspotApi::call_each(std::vector<net::HttpRequest> requests) {
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

std::vector<net::HttpResponse> HubspotApi::call_all(std::vector<net::HttpRequest> requests) {
  try {
    return client_->send_all(std::move(requests));
  } catch (const net::HttpFailure& failure) {
    rethrow(failure);
  }
}

void HubspotApi::rethrow(const net::HttpFailure& failure) const {
  switch (failure.kind()) {
    case net::HttpFailure::Kind::transient: throw ConnectorError(ErrorKind::transient, redact(failure.what()));
    case net::HttpFailure::Kind::quota: throw ConnectorError(ErrorKind::quota, redact(failure.what()));
    case net::HttpFailure::Kind::auth: break;
  }
  throw ConnectorError(ErrorKind::config,
                       redact(failure.what()) + " (check the credentials of connection '" + name_ + "')");
}

std::string HubspotApi::describe_error(const net::HttpResponse& response) const {
  std::string text = "HTTP " + std::to_string(response.status);
  auto body = Json::parse(response.body, nullptr, false);
  if (!body.is_object()) {
    std::string excerpt = response.body.substr(0, 200);
    return redact(excerpt.empty() ? text : text + ": " + excerpt);
  }
  std::string category = body.value("category", body.value("errorType", ""));
  if (!category.empty()) text += " " + category;
  if (auto message = body.value("message", ""); !message.empty()) text += ": " + message;
  std::vector<std::string> details;
  if (auto it = body.find("errors"); it != body.end() && it->is_array()) {
    for (const auto& error : *it) {
      if (!error.is_object()) continue;
      std::string detail = error.value("code", "");
      if (auto context = error.find("context"); context != error.end() && context->is_object()) {
        if (auto names = context->find("propertyName"); names != context->end() && names->is_array()) {
          std::vector<std::string> list;
          for (const auto& n : *names)
            if (n.is_string()) list.push_back(n.get<std::string>());
          if (!list.empty()) detail += (detail.empty() ? "" : ": ") + util::join(list, ", ");
        }
      }
      if (detail.empty()) detail = error.value("message", "");
      if (!detail.empty()) details.push_back(detail);
    }
  }
  if (!details.empty()) text += " (" + util::join(details, "; ") + ")";
  return redact(text);
}

void HubspotApi::fail(const net::HttpResponse& response, const std::string& what) const {
  std::string message = "hubspot: " + what + ": " + describe_error(response);
  if (response.status >= 500) throw ConnectorError(ErrorKind::transient, message);
  if (response.status == 401) message += " (check the connection's token)";
  if (response.status == 403) message += " (the token lacks a scope this object needs)";
  throw ConnectorError(ErrorKind::config, message);
}

Json HubspotApi::parse(const net::HttpResponse& response, const std::string& what) const {
  auto body = Json::parse(response.body, nullptr, false);
  if (body.is_discarded())
    throw ConnectorError(ErrorKind::transient, "hubspot: " + what + ": HTTP " + std::to_string(response.status) +
                                                   " with a body that is not JSON: " +
                                                   redact(response.body.substr(0, 120)));
  return body;
}

const std::map<std::string, Property>& HubspotApi::properties(const std::string& object) {
  if (auto it = properties_.find(object); it != properties_.end()) return it->second;
  auto response = call("GET", "/crm/v3/properties/" + net::url_encode(object));
  if (response.status == 400 || response.status == 404)
    throw ConnectorError(ErrorKind::config, "hubspot: unknown object '" + object + "' (" + describe_error(response) + ")");
  if (!response.ok()) fail(response, "reading the properties of '" + object + "'");
  auto body = parse(response, "reading the properties of '" + object + "'");
  std::map<std::string, Property> map;
  if (auto it = body.find("results"); it != body.end() && it->is_array())
    for (const auto& definition : *it) {
      if (!definition.is_object()) continue;
      auto property = Property::from_json(definition);
      if (!property.name.empty()) map.emplace(property.name, std::move(property));
    }
  return properties_[object] = std::move(map);
}

const Property* HubspotApi::property(const std::string& object, const std::string& name) {
  const auto& map = properties(object);
  auto it = map.find(name);
  return it == map.end() ? nullptr : &it->second;
}

void HubspotApi::authenticate() {
  if (!oauth_) return;
  try {
    oauth_->refresh();
  } catch (const net::HttpFailure& failure) {
    throw ConnectorError(failure.kind() == net::HttpFailure::Kind::transient ? ErrorKind::transient : ErrorKind::config,
                         "hubspot: connection '" + name_ + "': " + redact(failure.what()));
  }
}

std::string HubspotApi::redact(const std::string& text) const { return redactor_->apply(text); }

}  // namespace synctool::connectors::hubspot
