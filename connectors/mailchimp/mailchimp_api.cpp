#include "connectors/mailchimp/mailchimp_api.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

namespace synctool::connectors::mailchimp {

namespace {

// Mailchimp has no request-rate limit, only a cap on simultaneous connections (max_in_flight
// keeps synctool under it); the limiter is set out of the way unless a connection asks.
constexpr const char* kNoRateLimit = "100000/1s";

// What Mailchimp's answers mean for the client. Beyond ten simultaneous connections (other
// apps of the account count too) it answers 429, and at very high volume 429 or 403 without a
// JSON body: all mean "too busy now", so they are retried with backoff.
net::Verdict mailchimp_verdict(const net::HttpResponse& response, const net::RateLimit& limit) {
  if (auto retry = garbled_success_verdict(response)) return *retry;
  if (response.status == 429 || (response.status == 403 && !Json::accept(response.body))) {
    net::Verdict wait;
    wait.action = net::Verdict::Action::retry;
    wait.reason = response.status == 429 ? "too many simultaneous connections (429)" : "overloaded (403 without a body)";
    return wait;  // backoff with jitter: the connections free up as other requests finish
  }
  return net::default_verdict(response, limit);
}

// The data centre is the API key's suffix: "...-us6" -> "us6".
std::string data_centre(const std::string& api_key) {
  auto dash = api_key.rfind('-');
  if (dash == std::string::npos || dash + 1 >= api_key.size()) return "";
  std::string dc = api_key.substr(dash + 1);
  for (char c : dc)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return "";
  return dc;
}

}  // namespace

MailchimpApi::MailchimpApi(const ConnectionConfig& config) : HttpApi(config, "mailchimp") {
  const util::Clock& clock = config.clock ? *config.clock : util::system_clock();
  ConnectionSettings settings(config, "mailchimp");
  std::string api_key = settings.text("api_key");
  if (api_key.empty())
    settings.fail("api_key", "needs an API key in 'api_key' (set from the environment, e.g. ${MAILCHIMP_API_KEY})");
  redactor().add(api_key);
  if (api_key.find_first_of(" \t\r\n") != std::string::npos)
    settings.fail("api_key", "'api_key' contains a space or a line break; check how it was copied");

  HttpDefaults defaults;
  defaults.rate_limit = kNoRateLimit;
  defaults.max_in_flight = kDefaultConnections;
  defaults.max_in_flight_limit = kMaxConnections;
  defaults.timeout_ms = kDefaultTimeoutMs;
  std::string dc = data_centre(api_key);
  if (settings.text("base_url").empty() && dc.empty())
    settings.fail("api_key", "the api_key has no data-centre suffix such as '-us6' (Mailchimp keys end with it); "
                             "check the key, or give base_url");
  defaults.base_url = "https://" + dc + ".api.mailchimp.com/3.0";
  base_url_ = http_base_url(settings, defaults);
  net::ClientOptions options = http_client_options(settings, defaults);
  options.classify = &mailchimp_verdict;
  options.retry.base_delay_ms = 1000;
  open_transport(options.transport);
  open_client(std::move(options), std::make_unique<net::BasicAuth>("synctool", api_key), clock);
}

std::string MailchimpApi::describe_error(const net::HttpResponse& response) const {
  std::string text = "HTTP " + std::to_string(response.status);
  auto body = Json::parse(response.body, nullptr, false);
  if (!body.is_object()) {
    std::string excerpt = util::squeeze(response.body, 200);
    return redact(excerpt.empty() ? text : text + ": " + excerpt);
  }
  if (auto title = body.value("title", ""); !title.empty()) text += " " + title;
  if (auto detail = body.value("detail", ""); !detail.empty()) text += ": " + detail;
  std::vector<std::string> details;
  if (auto it = body.find("errors"); it != body.end() && it->is_array())
    for (const auto& error : *it) {
      if (!error.is_object()) continue;
      std::string field = error.value("field", "");
      std::string message = error.value("message", "");
      if (!field.empty() || !message.empty()) details.push_back(field.empty() ? message : field + ": " + message);
    }
  if (!details.empty()) text += " (" + util::join(details, "; ") + ")";
  return redact(text);
}

void MailchimpApi::fail(const net::HttpResponse& response, const std::string& what) const {
  std::string message = "mailchimp: " + what + ": " + describe_error(response);
  if (response.status >= 500) throw ConnectorError(ErrorKind::transient, message);
  if (response.status == 401) message += " (check the connection's api_key)";
  if (response.status == 403) message += " (the API key's user may not do this)";
  throw ConnectorError(ErrorKind::config, message);
}

const Audience& MailchimpApi::audience(const std::string& list) {
  if (auto it = audiences_.find(list); it != audiences_.end()) return it->second;
  if (list.empty())
    throw ConnectorError(ErrorKind::config, "mailchimp: members need the audience: list = \"<audience name or id>\"");
  std::vector<Audience> all;
  std::size_t total = 0;
  do {
    auto response = call("GET", "/lists?count=1000&offset=" + std::to_string(all.size()) +
                                    "&fields=lists.id,lists.name,total_items");
    if (!response.ok()) fail(response, "listing the audiences");
    auto body = parse(response, "listing the audiences");
    total = count_field(body, "total_items", "mailchimp: listing the audiences");
    auto lists = body.value("lists", Json::array());
    for (const auto& entry : lists)
      if (entry.is_object()) all.push_back({entry.value("id", ""), entry.value("name", "")});
    if (lists.empty()) break;
  } while (all.size() < total);

  std::vector<Audience> named;
  for (const auto& candidate : all) {
    if (candidate.id == list) return audiences_[list] = candidate;
    if (candidate.name == list) named.push_back(candidate);
  }
  if (named.size() == 1) return audiences_[list] = named.front();
  std::vector<std::string> described;
  for (const auto& candidate : named.empty() ? all : named) described.push_back("'" + candidate.name + "' (" + candidate.id + ")");
  if (named.size() > 1)
    throw ConnectorError(ErrorKind::config, "mailchimp: " + std::to_string(named.size()) + " audiences are named '" +
                                                list + "': " + util::join(described, ", ") + "; give list = its id");
  throw ConnectorError(ErrorKind::config,
                       "mailchimp: connection '" + name() + "' has no audience '" + list + "'" +
                           (described.empty() ? " (the account has none)" : "; it has " + util::join(described, ", ")));
}

const std::vector<MergeField>& MailchimpApi::merge_fields(const Audience& audience) {
  if (auto it = merge_fields_.find(audience.id); it != merge_fields_.end()) return it->second;
  std::vector<MergeField> fields;
  std::size_t total = 0;
  do {
    auto response = call("GET", "/lists/" + net::url_encode(audience.id) + "/merge-fields?count=1000&offset=" +
                                    std::to_string(fields.size()));
    if (!response.ok()) fail(response, "reading the merge fields of audience '" + audience.name + "'");
    auto body = parse(response, "reading the merge fields of audience '" + audience.name + "'");
    total = count_field(body, "total_items", "mailchimp: reading merge fields");
    auto list = body.value("merge_fields", Json::array());
    for (const auto& definition : list)
      if (definition.is_object()) fields.push_back(MergeField::from_json(definition));
    if (list.empty()) break;
  } while (fields.size() < total);
  return merge_fields_[audience.id] = std::move(fields);
}

}  // namespace synctool::connectors::mailchimp
