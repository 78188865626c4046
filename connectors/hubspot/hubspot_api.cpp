#include "connectors/hubspot/hubspot_api.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

namespace synctool::connectors::hubspot {

namespace {

// What HubSpot's answers mean for the client: the daily allowance stops the run, the
// rolling limits wait for their window, 423 (record locked) waits two seconds.
net::Verdict hubspot_verdict(const net::HttpResponse& response, const net::RateLimit& limit) {
  if (auto retry = garbled_success_verdict(response)) return *retry;
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

HubspotApi::HubspotApi(const ConnectionConfig& config) : HttpApi(config, "hubspot") {
  const util::Clock& clock = config.clock ? *config.clock : util::system_clock();
  ConnectionSettings settings(config, "hubspot");
  HttpDefaults defaults;
  defaults.base_url = kDefaultBaseUrl;
  defaults.rate_limit = kDefaultRateLimit;
  base_url_ = http_base_url(settings, defaults);
  net::ClientOptions options = http_client_options(settings, defaults);
  options.extra_buckets["search"] = net::RateLimit{5, 1000};
  options.classify = &hubspot_verdict;
  options.observe = &observe_budget;

  std::string token = settings.text("token");
  std::string client_id = settings.text("client_id");
  std::string client_secret = settings.text("client_secret");
  std::string refresh_token = settings.text("refresh_token");
  for (const auto& secret : {token, client_secret, refresh_token})
    if (!secret.empty()) redactor().add(secret);
  // Credentials go into headers and forms: a space or line end (a copy-paste slip) would
  // break the request or be refused with a message that hides why.
  for (const char* key : {"token", "client_id", "client_secret", "refresh_token"})
    if (settings.text(key).find_first_of(" \t\r\n") != std::string::npos)
      settings.fail(key, "'" + std::string(key) + "' contains a space or a line break; check how it was copied");
  const bool any_oauth = !client_id.empty() || !client_secret.empty() || !refresh_token.empty();
  auto& transport = open_transport(options.transport);
  std::unique_ptr<net::AuthProvider> auth;
  if (!token.empty()) {
    if (any_oauth)
      settings.fail(!refresh_token.empty() ? "refresh_token" : !client_id.empty() ? "client_id" : "client_secret",
                    "give either a private app 'token' or OAuth 'client_id', 'client_secret' and 'refresh_token', "
                    "not both");
    auth = std::make_unique<net::BearerAuth>(token);
  } else if (any_oauth) {
    for (const char* key : {"client_id", "client_secret", "refresh_token"})
      if (settings.text(key).empty())
        settings.fail(key, "OAuth needs 'client_id', 'client_secret' and 'refresh_token'; '" + std::string(key) +
                               "' is missing or empty");
    net::OAuthConfig oauth;
    oauth.token_url = base_url_ + "/oauth/v1/token";
    oauth.client_id = client_id;
    oauth.client_secret = client_secret;
    oauth.refresh_token = refresh_token;
    auto refresher = std::make_unique<net::OAuthRefresher>(oauth, transport, clock, &redactor(), config.token_cache);
    oauth_ = refresher.get();
    auth = std::move(refresher);
  } else {
    settings.fail("token", "needs a private app token in 'token' (set from the environment, e.g. ${HUBSPOT_TOKEN}), or "
                           "OAuth 'client_id', 'client_secret' and 'refresh_token'");
  }
  // HubSpot counts a private app's requests per token, an OAuth app's per app and account
  // (the refresh token stands for the account).
  share_rate_budget(options, settings,
                    "hubspot\n" + base_url_ + "\n" +
                        (token.empty() ? "oauth\n" + client_id + "\n" + refresh_token : "token\n" + token));
  open_client(std::move(options), std::move(auth), clock);
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
    oauth_->refresh(/*retry_unreachable=*/false);  // a check: an unreachable server is said at once
  } catch (const net::HttpFailure& failure) {
    throw ConnectorError(failure.kind() == net::HttpFailure::Kind::transient ? ErrorKind::transient : ErrorKind::config,
                         "hubspot: connection '" + name() + "': " + redact(failure.what()));
  }
}

}  // namespace synctool::connectors::hubspot
