#include "connectors/salesforce/salesforce_api.hpp"

#include "net/jwt.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace synctool::connectors::salesforce {

namespace {

// The first entry of a Salesforce error array ([{message, errorCode, fields}]), or of the
// OAuth error object; empty strings when the body is neither.
struct ErrorEntry {
  std::string code, message;
  std::vector<std::string> fields;
};

ErrorEntry first_error(const std::string& body) {
  ErrorEntry entry;
  auto json = Json::parse(body, nullptr, false);
  const Json* e = nullptr;
  if (json.is_array() && !json.empty() && json[0].is_object()) e = &json[0];
  if (json.is_object()) e = &json;
  if (!e) return entry;
  entry.code = e->value("errorCode", e->value("error", ""));
  entry.message = e->value("message", e->value("error_description", ""));
  if (auto it = e->find("fields"); it != e->end() && it->is_array())
    for (const auto& f : *it)
      if (f.is_string()) entry.fields.push_back(f.get<std::string>());
  return entry;
}

// 403 REQUEST_LIMIT_EXCEEDED is two things: the daily allowance is used up (stop: retrying
// only spins), or too many long requests run at once (wait and retry).
net::Verdict salesforce_verdict(const net::HttpResponse& response, const net::RateLimit& limit) {
  if (auto retry = garbled_success_verdict(response)) return *retry;
  if (response.status == 403) {
    auto error = first_error(response.body);
    if (error.code == "REQUEST_LIMIT_EXCEEDED") {
      net::Verdict verdict;
      if (error.message.find("TotalRequests") != std::string::npos) {
        verdict.action = net::Verdict::Action::stop;
        std::string usage;
        if (const auto* info = response.header("sforce-limit-info")) usage = " (" + *info + ")";
        verdict.reason = "Salesforce's daily API allowance is used up" + usage +
                         " (403 REQUEST_LIMIT_EXCEEDED); the run stopped with all progress saved; run again once the "
                         "org's 24-hour window has room";
      } else {
        verdict.action = net::Verdict::Action::retry;
        verdict.wait_ms = 2000;
        verdict.reason = "403 REQUEST_LIMIT_EXCEEDED (" + util::squeeze(error.message, 120) + ")";
      }
      return verdict;
    }
  }
  return net::default_verdict(response, limit);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string checked_url(const ConnectionSettings& settings, const std::string& key, std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (!util::starts_with(url, "https://") && !util::starts_with(url, "http://"))
    settings.fail(key, "'" + key + "' must start with https:// (got '" + url + "')");
  if (url.find_first_of(" \t\r\n?#") != std::string::npos)
    settings.fail(key, "'" + key + "' must be a plain URL without spaces, '?' or '#' (got '" + url + "')");
  return url;
}

}  // namespace

SalesforceApi::SalesforceApi(const ConnectionConfig& config) : HttpApi(config, "salesforce") {
  const util::Clock& clock = config.clock ? *config.clock : util::system_clock();
  ConnectionSettings settings(config, "salesforce");
  if (!settings.text("base_url").empty())
    settings.fail("base_url", "Salesforce takes 'login_url' (the org's My Domain or https://login.salesforce.com); "
                              "the API is then called at the instance_url its token endpoint returns");
  login_url_ = checked_url(settings, "login_url", settings.text("login_url").empty() ? kDefaultLoginUrl
                                                                                      : settings.text("login_url"));
  version_ = settings.text("api_version").empty() ? kDefaultApiVersion : settings.text("api_version");
  if (version_.size() < 4 || version_[0] != 'v' || version_.find(".0") == std::string::npos ||
      version_.find_first_not_of("0123456789.", 1) != std::string::npos)
    settings.fail("api_version", "'api_version' must look like \"v60.0\" (got '" + version_ + "')");
  if (std::stod(version_.substr(1)) < 46)
    settings.fail("api_version", "'api_version' must be v46.0 or later (upserts through sObject Collections)");
  const std::int64_t share = settings.integer("max_api_share", static_cast<std::int64_t>(kDefaultApiShare * 100), 1, 100);
  api_share_ = static_cast<double>(share) / 100.0;

  HttpDefaults defaults;
  defaults.base_url = login_url_;
  defaults.rate_limit = "100/1s";   // Salesforce paces by the daily allowance, not per second
  defaults.max_in_flight = 4;
  defaults.max_in_flight_limit = 25;  // concurrent long-running requests an org allows
  net::ClientOptions options = http_client_options(settings, defaults);
  options.classify = &salesforce_verdict;
  options.observe = [this](const net::HttpResponse& response, net::RateLimiter&) { observe_limits(response); };

  const std::string client_id = settings.text("client_id");
  const std::string client_secret = settings.text("client_secret");
  const std::string refresh_token = settings.text("refresh_token");
  const std::string username = settings.text("username");
  const std::string key_file = settings.text("private_key_file");
  for (const auto& secret : {client_secret, refresh_token})
    if (!secret.empty()) redactor().add(secret);
  for (const char* key : {"client_id", "client_secret", "refresh_token", "username"})
    if (settings.text(key).find_first_of(" \t\r\n") != std::string::npos)
      settings.fail(key, "'" + std::string(key) + "' contains a space or a line break; check how it was copied");
  if (client_id.empty()) {
    // Nothing set at all is a project checked where its secrets are not (a CI job): named by
    // a secret's key, so `check` only notes it.
    const bool nothing_set = client_secret.empty() && refresh_token.empty() && key_file.empty();
    settings.fail(nothing_set ? "client_secret" : "client_id",
                  "needs the connected app's 'client_id' (its consumer key), with 'client_secret' and "
                  "'refresh_token', or 'username' and 'private_key_file' for the JWT bearer flow");
  }

  net::OAuthConfig oauth;
  oauth.token_url = login_url_ + "/services/oauth2/token";
  oauth.client_id = client_id;
  oauth.default_lifetime_ms = std::nullopt;  // Salesforce never says: refresh after a 401
  if (!key_file.empty()) {
    if (!client_secret.empty() || !refresh_token.empty())
      settings.fail(!refresh_token.empty() ? "refresh_token" : "client_secret",
                    "give either 'private_key_file' and 'username' (JWT bearer flow) or 'client_secret' and "
                    "'refresh_token', not both");
    if (username.empty()) settings.fail("username", "the JWT bearer flow needs 'username' (the user synctool acts as)");
    std::filesystem::path path(key_file);
    if (path.is_relative() && !config.base_dir.empty()) path = std::filesystem::path(config.base_dir) / path;
    std::string pem = read_file(path.string());
    if (pem.empty()) settings.fail("private_key_file", "cannot read the private key file '" + path.string() + "'");
    redactor().add(pem);
    try {
      net::sign_jwt_rs256({{"iss", client_id}}, pem);  // a key that cannot sign fails here, not mid-run
    } catch (const net::JwtError& e) {
      settings.fail("private_key_file", "'" + path.string() + "': " + e.what());
    }
    oauth.grant_type = net::kJwtBearerGrant;
    oauth.cache_key_material = pem;
    oauth.make_assertion = [client_id, username, pem, audience = login_url_, &clock] {
      return net::sign_jwt_rs256(
          {{"iss", client_id}, {"sub", username}, {"aud", audience}, {"exp", clock.now_ms() / 1000 + 180}}, pem);
    };
  } else {
    for (const char* key : {"client_secret", "refresh_token"})
      if (settings.text(key).empty())
        settings.fail(key, "the refresh-token flow needs 'client_id', 'client_secret' and 'refresh_token'; '" +
                               std::string(key) + "' is missing or empty");
    oauth.client_secret = client_secret;
    oauth.refresh_token = refresh_token;
  }
  // The org's allowance is spent by every user; one connected app and user (or refresh token)
  // is what synctool can tell apart.
  share_rate_budget(options, settings,
                    "salesforce\n" + login_url_ + "\n" + client_id + "\n" +
                        (key_file.empty() ? "refresh\n" + refresh_token : "jwt\n" + username));
  auto& transport = open_transport(options.transport);
  auto refresher = std::make_unique<net::OAuthRefresher>(oauth, transport, clock, &redactor(), config.token_cache);
  oauth_ = refresher.get();
  open_client(std::move(options), std::move(refresher), clock);
}

void SalesforceApi::connect(bool checking) {
  try {
    if (checking) oauth_->refresh(/*retry_unreachable=*/false);
    const std::string& instance = oauth_->current().instance_url;
    if (instance.empty())
      throw ConnectorError(ErrorKind::config, "salesforce: connection '" + name() +
                                                  "': the token endpoint returned no instance_url");
    std::string url = instance;
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (!util::starts_with(url, "https://") && !util::starts_with(url, "http://"))
      throw ConnectorError(ErrorKind::config, "salesforce: connection '" + name() + "': the token endpoint returned "
                                                  "an instance_url that is not a URL");
    if (url != base_url_) {
      base_url_ = url;
      log("calling the instance " + url);
    }
  } catch (const net::HttpFailure& failure) {
    throw ConnectorError(failure.kind() == net::HttpFailure::Kind::transient ? ErrorKind::transient : ErrorKind::config,
                         "salesforce: connection '" + name() + "': " + redact(failure.what()));
  }
}

void SalesforceApi::observe_limits(const net::HttpResponse& response) {
  const auto* info = response.header("sforce-limit-info");
  if (!info) return;
  // "api-usage=18/15000" (possibly among other entries, comma-separated).
  auto at = info->find("api-usage=");
  if (at == std::string::npos) return;
  auto slash = info->find('/', at);
  if (slash == std::string::npos) return;
  try {
    const std::int64_t used = std::stoll(info->substr(at + 10, slash - at - 10));
    const std::int64_t limit = std::stoll(info->substr(slash + 1));
    used_.store(used);
    limit_.store(limit);
    std::lock_guard lock(budget_mutex_);
    if (budget_ < 0) {
      budget_ = static_cast<std::int64_t>(std::floor(static_cast<double>(std::max<std::int64_t>(0, limit - used)) * api_share_));
      log("daily API allowance: " + std::to_string(used) + " of " + std::to_string(limit) + " used; this run may use " +
          std::to_string(budget_));
    }
  } catch (const std::exception&) {
    // An entry that is not numbers is ignored; 403 REQUEST_LIMIT_EXCEEDED still stops the run.
  }
}

void SalesforceApi::spend(std::size_t requests) {
  std::lock_guard lock(budget_mutex_);
  if (budget_ >= 0 && spent_ + static_cast<std::int64_t>(requests) > budget_)
    throw ConnectorError(ErrorKind::quota,
                         "salesforce: connection '" + name() + "': the run has used its share (max_api_share = " +
                             std::to_string(static_cast<int>(api_share_ * 100 + 0.5)) + "%) of the daily API allowance (" +
                             std::to_string(used_.load()) + " of " + std::to_string(limit_.load()) +
                             " used); it stopped with all progress saved; run again later or raise max_api_share");
  spent_ += static_cast<std::int64_t>(requests);
}

net::HttpResponse SalesforceApi::send(const std::string& method, const std::string& path, const Json* body) {
  connect();
  spend(1);
  return call(method, path, body);
}

std::vector<HttpApi::Outcome> SalesforceApi::send_each(std::vector<net::HttpRequest> requests) {
  connect();
  spend(requests.size());
  return call_each(std::move(requests));
}

std::string SalesforceApi::describe_error(const net::HttpResponse& response) const {
  std::string text = "HTTP " + std::to_string(response.status);
  auto error = first_error(response.body);
  if (error.code.empty() && error.message.empty()) {
    std::string excerpt = util::squeeze(response.body, 200);
    return redact(excerpt.empty() ? text : text + ": " + excerpt);
  }
  if (!error.code.empty()) text += " " + error.code;
  if (!error.message.empty()) text += ": " + util::squeeze(error.message, 300);
  if (!error.fields.empty()) text += " (fields " + util::join(error.fields, ", ") + ")";
  return redact(text);
}

void SalesforceApi::fail(const net::HttpResponse& response, const std::string& what) const {
  std::string message = "salesforce: " + what + ": " + describe_error(response);
  if (response.status >= 500) throw ConnectorError(ErrorKind::transient, message);
  if (response.status == 401) message += " (check the connection's credentials)";
  if (response.status == 403) message += " (the user lacks a permission this needs)";
  throw ConnectorError(ErrorKind::config, message);
}

const std::map<std::string, Field>& SalesforceApi::fields(const std::string& object) {
  if (auto it = fields_.find(object); it != fields_.end()) return it->second;
  if (auto problem = api_name_problem(object); !problem.empty())
    throw ConnectorError(ErrorKind::config, "salesforce: object name " + problem);
  auto response = send("GET", data_path("/sobjects/" + object + "/describe"));
  if (response.status == 404 || (response.status == 400 && first_error(response.body).code == "NOT_FOUND"))
    throw ConnectorError(ErrorKind::config, "salesforce: unknown object '" + object + "' (" + describe_error(response) +
                                                "); custom objects end in __c");
  if (!response.ok()) fail(response, "describing '" + object + "'");
  auto body = parse(response, "describing '" + object + "'");
  std::map<std::string, Field> map;
  if (auto it = body.find("fields"); it != body.end() && it->is_array())
    for (const auto& definition : *it)
      if (definition.is_object()) {
        auto field = Field::from_json(definition);
        if (!field.name.empty()) map.emplace(field.name, std::move(field));
      }
  return fields_[object] = std::move(map);
}

const Field* SalesforceApi::field(const std::string& object, const std::string& name) {
  const auto& map = fields(object);
  auto it = map.find(name);
  return it == map.end() ? nullptr : &it->second;
}

}  // namespace synctool::connectors::salesforce
