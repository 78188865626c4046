#include "net/http_client.hpp"

#include "util/clock.hpp"
#include "util/interrupt.hpp"
#include "util/strings.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <limits>
#include <optional>

namespace synctool::net {

namespace {

constexpr std::string_view kMask = "[REDACTED]";
constexpr std::size_t kExcerptLength = 200;

char lower_char(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_char(a[i]) != lower_char(b[i])) return false;
  return true;
}

bool contains_ignoring_case(std::string_view text, std::string_view word) {
  if (word.size() > text.size()) return false;
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i)
    if (equal_ignoring_case(text.substr(i, word.size()), word)) return true;
  return false;
}

bool has_header(const Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return equal_ignoring_case(h.first, name); });
}

void set_header(Headers& headers, const std::string& name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return equal_ignoring_case(h.first, name); });
  headers.emplace_back(name, std::move(value));
}

std::string trim(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

void mask_all(std::string& text, std::string_view secret) {
  if (secret.size() < 4) return;
  std::size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), kMask);
    pos += kMask.size();
  }
}

// "/crm/v3/objects/contacts" from "https://host:443/crm/v3/objects/contacts?after=x#y".
std::string url_path(const std::string& url) {
  std::size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  std::size_t slash = url.find('/', start);
  std::size_t query = url.find_first_of("?#", start);
  if (slash == std::string::npos || (query != std::string::npos && query < slash)) return "/";
  return url.substr(slash, query == std::string::npos ? std::string::npos : query - slash);
}


// What the server said, short: the "message" of a JSON error body, else the start of the body.
std::string server_message(const std::string& body) {
  if (body.empty()) return "";
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_discarded() && json.is_object()) {
    for (const char* key : {"message", "error_description", "detail", "title", "error"}) {
      auto it = json.find(key);
      if (it != json.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
        return util::squeeze(it->get_ref<const std::string&>(), kExcerptLength);
    }
  }
  return util::squeeze(body, kExcerptLength);
}

std::string seconds_text(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::optional<int> month_number(std::string_view name) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (equal_ignoring_case(name, kMonths[i])) return i + 1;
  return std::nullopt;
}

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") to epoch milliseconds.
std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] != ' ') ++pos;
    if (pos > start) parts.push_back(text.substr(start, pos - start));
  }
  if (parts.size() != 6 || !parts[0].ends_with(",") || !equal_ignoring_case(parts[5], "GMT")) return std::nullopt;
  auto month = month_number(parts[2]);
  if (!month || parts[1].size() > 2 || parts[3].size() != 4 || parts[4].size() != 8) return std::nullopt;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.4s-%02d-%s%.*sT%.8sZ", parts[3].data(), *month, parts[1].size() == 1 ? "0" : "",
                static_cast<int>(parts[1].size()), parts[1].data(), parts[4].data());
  return util::parse_iso8601(buf);
}

// Retry-After as delay-seconds (fractions tolerated) or an HTTP-date, measured against the
// response's Date header when it has one (no clock skew), else against the system clock.
std::optional<std::int64_t> retry_after_ms(const HttpResponse& response) {
  const std::string* header = response.header("retry-after");
  if (!header) return std::nullopt;
  std::string value = trim(*header);
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    std::int64_t whole = 0;
    std::size_t i = 0;
    for (; i < value.size() && std::isdigit(static_cast<unsigned char>(value[i])); ++i) {
      if (whole > std::numeric_limits<std::int64_t>::max() / 10'000) return std::nullopt;
      whole = whole * 10 + (value[i] - '0');
    }
    std::int64_t ms = whole * 1000;
    if (i < value.size() && value[i] == '.') {
      ++i;
      std::int64_t scale = 100;
      for (; i < value.size() && std::isdigit(static_cast<unsigned char>(value[i])); ++i, scale /= 10)
        ms += (value[i] - '0') * scale;
    }
    if (i != value.size()) return std::nullopt;
    return ms;
  }
  auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  std::optional<std::int64_t> base;
  if (const std::string* date = response.header("date")) base = parse_http_date(trim(*date));
  if (!base) base = util::system_clock().now_ms();
  return std::max<std::int64_t>(0, *when - *base);
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

// What went wrong last, for the final error: "HTTP 503 (<message>)", "timed out after N ms"...
std::string describe_outcome(const HttpResponse& response, std::int64_t timeout_ms) {
  if (response.status == 0) {
    if (response.timed_out)
      return "timed out after " + std::to_string(response.elapsed_ms > 0 ? response.elapsed_ms : timeout_ms) + " ms";
    return "network error: " + (response.transport_error.empty() ? std::string("no response") : response.transport_error);
  }
  std::string text = "HTTP " + std::to_string(response.status);
  // A success is described only if the run stops before using it (an answer that was not
  // JSON, retried): the start of its body says enough, without parsing a large answer.
  std::string message = response.status >= 200 && response.status < 300 ? util::squeeze(response.body, kExcerptLength)
                                                                        : server_message(response.body);
  if (!message.empty()) text += " (" + message + ")";
  return text;
}

// "SIGTERM" for the signal that asked the run to stop.
std::string stop_signal_name() {
  switch (util::stop_signal()) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(util::stop_signal());
  }
}

// The short result for a log line: "503", "timed out", "network error: ...".
std::string log_outcome(const HttpResponse& response) {
  if (response.status != 0) return std::to_string(response.status);
  if (response.timed_out) return "timed out";
  return "network error (" + (response.transport_error.empty() ? std::string("no response") : response.transport_error) + ")";
}

}  // namespace

// ---- auth providers ------------------------------------------------------------------------

void BearerAuth::authorize(HttpRequest& request) { set_header(request.headers, "Authorization", "Bearer " + token_); }

void BasicAuth::authorize(HttpRequest& request) {
  set_header(request.headers, "Authorization", "Basic " + base64(user_ + ":" + password_));
}

// ---- verdicts ------------------------------------------------------------------------------

Verdict default_verdict(const HttpResponse& response, const RateLimit& limit) {
  Verdict verdict;
  const long status = response.status;
  if (status == 0) {
    verdict.action = Verdict::Action::retry;
    verdict.reason = response.timed_out ? "timed out" : "network error";
  } else if (status == 429) {
    verdict.action = Verdict::Action::retry;
    verdict.pause_all = true;
    verdict.reason = "rate limited";
    if (auto after = retry_after_ms(response))
      verdict.wait_ms = *after;
    else if (limit.window_ms > 0)
      verdict.wait_ms = limit.window_ms;
  } else if (status == 423) {
    verdict.action = Verdict::Action::retry;
    verdict.wait_ms = 2000;
    verdict.reason = "locked";
  } else if (status == 408) {
    verdict.action = Verdict::Action::retry;
    verdict.reason = "request timeout";
  } else if (status >= 500) {
    verdict.action = Verdict::Action::retry;
    verdict.reason = "server error";
  }
  return verdict;
}

// ---- the client ----------------------------------------------------------------------------

struct HttpClient::Pending {
  HttpRequest request;         // as the caller gave it (plus Accept); credentials per attempt
  int attempts = 0;
  bool refreshed = false;      // the one credential refresh after a 401 was used
  std::int64_t first_ms = -1;  // steady time of the first attempt
  std::int64_t due_ms = 0;     // not before this (steady) time
  bool finished = false;
  HttpResponse response;
  std::optional<HttpFailure> failure;
  bool fatal = false;          // the failure ends the whole call (quota, auth)
  std::string last_outcome;    // what the last attempt met, for a stop before the next one
};

HttpClient::HttpClient(ClientOptions options, HttpTransport& transport, AuthProvider* auth, const util::Clock& clock)
    : options_(std::move(options)), transport_(transport), auth_(auth), clock_(clock), random_(std::random_device{}()) {
  limiters_[""] = std::make_unique<RateLimiter>(options_.rate_limit, clock_);
  for (const auto& [name, limit] : options_.extra_buckets)
    if (!name.empty()) limiters_[name] = std::make_unique<RateLimiter>(limit, clock_);
  for (auto& [name, limiter] : limiters_) limiter->share(options_.shared, name, options_.name);
}

RateLimiter& HttpClient::limiter(const std::string& bucket) {
  auto it = limiters_.find(bucket);
  if (it == limiters_.end()) it = limiters_.find("");  // unknown buckets spend the main budget
  return *it->second;
}

std::string HttpClient::redact(const std::string& text) const {
  return options_.redactor ? options_.redactor->apply(text) : text;
}

std::string HttpClient::redact(const std::string& text, const HttpRequest& sent) const {
  std::string out = text;
  for (const auto& [name, value] : sent.headers) {
    if (!contains_ignoring_case(name, "auth") && !contains_ignoring_case(name, "token") &&
        !contains_ignoring_case(name, "key") && !contains_ignoring_case(name, "secret"))
      continue;
    mask_all(out, value);
    // "Bearer abc": the credential alone may be echoed too.
    std::size_t space = value.find(' ');
    if (space != std::string::npos) mask_all(out, trim(std::string_view(value).substr(space + 1)));
  }
  return redact(out);
}

void HttpClient::log(const std::string& line, const HttpRequest& sent) const {
  if (options_.log) options_.log(redact(options_.name + ": " + line, sent));
}

HttpResponse HttpClient::send(HttpRequest request) {
  std::vector<HttpRequest> requests;
  requests.push_back(std::move(request));
  return std::move(send_all(std::move(requests)).front());
}

std::vector<HttpResponse> HttpClient::send_all(std::vector<HttpRequest> requests) {
  auto outcomes = send_each(std::move(requests));
  for (const auto& outcome : outcomes)
    if (outcome.failure) throw *outcome.failure;
  std::vector<HttpResponse> out;
  out.reserve(outcomes.size());
  for (auto& outcome : outcomes) out.push_back(std::move(outcome.response));
  return out;
}

std::vector<HttpClient::Outcome> HttpClient::send_each(std::vector<HttpRequest> requests) {
  std::vector<Pending> items(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    items[i].request = std::move(requests[i]);
    if (!has_header(items[i].request.headers, "Accept"))
      items[i].request.headers.emplace_back("Accept", "application/json");
  }
  const std::size_t wave_limit = std::max<std::size_t>(1, options_.max_in_flight);
  std::size_t unfinished = items.size();
  const Pending* fatal = nullptr;

  auto finish = [&](Pending& item) {
    item.finished = true;
    --unfinished;
    if (item.fatal && !fatal) fatal = &item;
  };

  // After SIGINT / SIGTERM no attempt starts that would retry or wait: the run is ending at
  // its batch boundary, and what is unsent fails as transient (tried again next run).
  auto stop = [&](Pending& item, const std::string& before) {
    const std::string where = options_.name + ": " + item.request.method + " " + url_path(item.request.url);
    std::string message = where + " stopped by " + stop_signal_name() + " before " + before;
    if (!item.last_outcome.empty()) message += " (last attempt: " + item.last_outcome + ")";
    item.failure.emplace(HttpFailure::Kind::transient, redact(message), 0);
    log(item.request.method + " " + item.request.url + ": stopped by " + stop_signal_name() + " before " + before,
        item.request);
    finish(item);
  };

  while (unfinished > 0 && !fatal) {
    if (util::stop_requested())
      for (auto& item : items)
        if (!item.finished && item.attempts > 0)
          stop(item, "retrying (attempt " + std::to_string(item.attempts + 1) + ")");
    if (unfinished == 0) break;
    // The wave: requests that are due, in order, as many as may be in flight.
    std::int64_t now = clock_.steady_ms();
    std::vector<std::size_t> wave;
    std::vector<HttpRequest> sent;
    for (std::size_t i = 0; i < items.size() && wave.size() < wave_limit && !fatal; ++i) {
      Pending& item = items[i];
      if (item.finished || item.due_ms > now) continue;
      RateLimiter& bucket = limiter(item.request.rate_bucket);
      // Send what may go now rather than hold it behind a request whose budget is spent.
      const std::int64_t delay = bucket.delay_ms();
      if (!wave.empty() && delay > 0) continue;
      if (delay > 0 && util::stop_requested()) {
        stop(item, "waiting " + seconds_text(delay) + " for the rate limit");
        continue;
      }
      std::int64_t waited_before = bucket.waited_ms();
      bool may_start = bucket.acquire();
      stats_.rate_wait_ms += bucket.waited_ms() - waited_before;
      if (!may_start) {
        stop(item, "the rate limit let it start");
        continue;
      }
      HttpRequest request = item.request;
      if (auth_) {
        try {
          auth_->authorize(request);
        } catch (const HttpFailure& failure) {
          item.failure = failure;
          item.fatal = true;
          finish(item);
          continue;
        }
      }
      if (item.first_ms < 0) item.first_ms = clock_.steady_ms();
      wave.push_back(i);
      sent.push_back(std::move(request));
    }
    if (fatal) break;
    if (wave.empty()) {
      std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
      for (const auto& item : items)
        if (!item.finished) earliest = std::min(earliest, item.due_ms);
      if (earliest != std::numeric_limits<std::int64_t>::max() && earliest > now) clock_.sleep_ms(earliest - now);
      continue;
    }

    std::vector<HttpResponse> responses = transport_.perform(sent, wave_limit);
    if (responses.size() < sent.size()) {
      responses.resize(sent.size());
      for (auto& r : responses)
        if (r.status == 0 && r.transport_error.empty()) r.transport_error = "the transport returned no response";
    }

    // One credential refresh per wave, however many of its requests came back 401.
    std::optional<bool> refresh_ok;
    std::optional<HttpFailure> refresh_failure;
    for (std::size_t j = 0; j < wave.size(); ++j) {
      Pending& item = items[wave[j]];
      if (responses[j].status == 401 && auth_ && !item.refreshed && !refresh_ok && !refresh_failure) {
        try {
          refresh_ok = auth_->refresh_after_unauthorized();
        } catch (const HttpFailure& failure) {
          refresh_failure = failure;
        }
      }
      settle(item, sent[j], std::move(responses[j]), refresh_ok.value_or(false),
             refresh_failure ? &*refresh_failure : nullptr);
      if (item.finished) finish(item);
    }
  }

  if (fatal) throw *fatal->failure;
  std::vector<Outcome> out;
  out.reserve(items.size());
  for (auto& item : items) out.push_back({std::move(item.response), std::move(item.failure)});
  return out;
}

void HttpClient::settle(Pending& item, const HttpRequest& sent, HttpResponse response, bool refresh_ok,
                        const HttpFailure* refresh_failure) {
  ++item.attempts;
  ++stats_.requests;
  if (response.status == 0)
    ++stats_.network_errors;
  else if (response.status == 429)
    ++stats_.throttled;
  else if (response.status >= 500)
    ++stats_.server_errors;

  RateLimiter& bucket = limiter(item.request.rate_bucket);
  if (options_.observe) options_.observe(response, bucket);
  item.last_outcome = redact(describe_outcome(response, options_.transport.total_timeout_ms), sent);

  const std::string request_line = sent.method + " " + sent.url;
  const std::string where = options_.name + ": " + sent.method + " " + url_path(sent.url);
  const int max_attempts = std::max(1, options_.retry.max_attempts);
  log(request_line + " -> " + log_outcome(response) + " in " + std::to_string(response.elapsed_ms) + " ms", sent);

  if (response.status == 401) {
    if (auth_ && !item.refreshed && refresh_failure) {
      // The token endpoint refused or could not be reached: its message says more than the 401.
      item.failure = *refresh_failure;
      item.fatal = true;
      item.finished = true;
      return;
    }
    if (auth_ && !item.refreshed && refresh_ok) {
      // Fresh credentials: straight back in, no backoff.
      item.refreshed = true;
      item.due_ms = clock_.steady_ms();
      ++stats_.retries;
      log(request_line + " -> 401, credentials refreshed, retrying (attempt " + std::to_string(item.attempts + 1) +
              " of " + std::to_string(std::max(max_attempts, item.attempts + 1)) + ")",
          sent);
      return;
    }
    item.failure.emplace(HttpFailure::Kind::auth,
                         redact(where + " was refused: " + describe_outcome(response, options_.transport.total_timeout_ms) +
                                    (item.refreshed ? " even after new credentials" : ""),
                                sent),
                         401);
    item.fatal = true;
    item.finished = true;
    return;
  }

  const Verdict verdict =
      options_.classify ? options_.classify(response, bucket.limit()) : default_verdict(response, bucket.limit());
  switch (verdict.action) {
    case Verdict::Action::done:
      item.response = std::move(response);
      item.finished = true;
      return;
    case Verdict::Action::stop: {
      std::string reason = verdict.reason.empty() ? describe_outcome(response, options_.transport.total_timeout_ms)
                                                  : verdict.reason;
      if (response.status != 0 && !verdict.reason.empty()) reason += " (HTTP " + std::to_string(response.status) + ")";
      item.failure.emplace(HttpFailure::Kind::quota, redact(where + " stopped: " + reason, sent), response.status);
      item.fatal = true;
      item.finished = true;
      log(request_line + " -> " + log_outcome(response) + ", stopping: " + reason, sent);
      return;
    }
    case Verdict::Action::retry:
      break;
  }
  if (!sent.retry_unreachable && response.status == 0 && response.not_sent) {
    // A check: a server that cannot be reached at all is reported now, not after minutes.
    item.failure.emplace(HttpFailure::Kind::transient,
                         redact(where + ": " + describe_outcome(response, options_.transport.total_timeout_ms) +
                                    " (the connection could not be made; not retried)",
                                sent),
                         0);
    item.finished = true;
    return;
  }
  if (!sent.idempotent && response.status != 429 && !response.not_sent) {
    // The server may have acted on it: repeating could do it twice.
    item.failure.emplace(HttpFailure::Kind::transient,
                         redact(where + ": " + describe_outcome(response, options_.transport.total_timeout_ms) +
                                    "; its outcome is unknown and it is not repeated",
                                sent),
                         response.status);
    item.finished = true;
    log(request_line + " -> " + log_outcome(response) + ", outcome unknown, not repeated", sent);
    return;
  }

  const std::int64_t backoff = backoff_delay_ms(options_.retry, item.attempts, random_);
  const std::int64_t wait = verdict.wait_ms >= 0 ? std::max(verdict.wait_ms, backoff) : backoff;
  const std::int64_t now = clock_.steady_ms();
  const std::string last = describe_outcome(response, options_.transport.total_timeout_ms);
  if (item.attempts >= max_attempts) {
    item.failure.emplace(HttpFailure::Kind::transient,
                         redact(where + " failed after " + std::to_string(item.attempts) +
                                    (item.attempts == 1 ? " attempt: " : " attempts: ") + last,
                                sent),
                         response.status);
    item.finished = true;
    return;
  }
  if (now + wait - item.first_ms > options_.retry.max_elapsed_ms) {
    item.failure.emplace(HttpFailure::Kind::transient,
                         redact(where + " failed after " + std::to_string(item.attempts) +
                                    (item.attempts == 1 ? " attempt" : " attempts") + " in " +
                                    std::to_string(now - item.first_ms) + " ms (retrying would pass the limit of " +
                                    std::to_string(options_.retry.max_elapsed_ms) + " ms): " + last,
                                sent),
                         response.status);
    item.finished = true;
    return;
  }
  if (verdict.pause_all) bucket.pause_for(wait);
  item.due_ms = now + wait;
  ++stats_.retries;
  std::string outcome = log_outcome(response);
  if (!verdict.reason.empty() && response.status != 0) outcome += " (" + verdict.reason + ")";
  log(request_line + " -> " + outcome + ", retrying in " + seconds_text(wait) + " (attempt " +
          std::to_string(item.attempts + 1) + " of " + std::to_string(max_attempts) + ")",
      sent);
}

}  // namespace synctool::net
