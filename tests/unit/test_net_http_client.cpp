#include "net/http_client.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"
#include "util/interrupt.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

using namespace synctool::net;
using synctool::testing::FakeClock;
using synctool::testing::FakeTransport;

namespace {

ClientOptions test_options() {
  ClientOptions options;
  options.name = "hubspot";
  options.rate_limit = {100, 10'000};
  options.max_in_flight = 4;
  return options;
}

HttpRequest post(std::string url, std::string body = "{}") {
  HttpRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.headers = {{"Content-Type", "application/json"}};
  request.body = std::move(body);
  return request;
}

HttpRequest get(std::string url) {
  HttpRequest request;
  request.url = std::move(url);
  return request;
}

// Hands out "tok-1", then "tok-2" after a refresh, and so on.
class RotatingAuth final : public AuthProvider {
 public:
  int refreshes = 0;
  bool can_refresh = true;
  std::string token = "tok-1";
  void authorize(HttpRequest& request) override { request.headers.emplace_back("Authorization", "Bearer " + token); }
  bool refresh_after_unauthorized() override {
    ++refreshes;
    if (!can_refresh) return false;
    token = "tok-" + std::to_string(refreshes + 1);
    return true;
  }
};

class RefusingAuth final : public AuthProvider {
 public:
  void authorize(HttpRequest&) override {
    throw HttpFailure(HttpFailure::Kind::auth, "OAuth token request to https://x/token was refused: HTTP 400", 400);
  }
  bool refresh_after_unauthorized() override { return false; }
};

std::string path_of(const HttpRequest& request) {
  auto start = request.url.find('/', request.url.find("://") + 3);
  return request.url.substr(start);
}

}  // namespace

TEST_CASE("5xx answers are retried with backoff until the request succeeds") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(503, "busy").push(503, "busy").push(200, R"({"ok":true})");
  HttpClient client(test_options(), transport, nullptr, clock);
  auto response = client.send(post("https://api.hubapi.com/crm/v3/objects/contacts"));
  CHECK(response.status == 200);
  CHECK(response.body == R"({"ok":true})");
  CHECK(transport.requests.size() == 3);
  // Backoff with the default policy: [250, 500] then [500, 1000].
  REQUIRE(clock.sleeps().size() == 2);
  CHECK(clock.sleeps()[0] >= 250);
  CHECK(clock.sleeps()[0] <= 500);
  CHECK(clock.sleeps()[1] >= 500);
  CHECK(clock.sleeps()[1] <= 1000);
  CHECK(client.stats().requests == 3);
  CHECK(client.stats().retries == 2);
  CHECK(client.stats().server_errors == 2);
}

TEST_CASE("network errors and timeouts are retried") {
  FakeClock clock;
  FakeTransport transport;
  transport.push_error("Couldn't connect to server").push_error("Timeout was reached", true).push(200);
  HttpClient client(test_options(), transport, nullptr, clock);
  CHECK(client.send(get("https://api.example.com/x")).status == 200);
  CHECK(client.stats().network_errors == 2);
  CHECK(client.stats().retries == 2);
}

TEST_CASE("a 429 with Retry-After waits at least that long and pauses the bucket") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(429, R"({"status":"error","message":"You have reached your ten_secondly_rolling limit."})",
                 {{"retry-after", "3"}});
  transport.push(200);
  HttpClient client(test_options(), transport, nullptr, clock);
  CHECK(client.send(get("https://api.hubapi.com/crm/v3/objects/contacts")).status == 200);
  CHECK(clock.slept_ms() >= 3000);
  CHECK(clock.slept_ms() < 10'000);
  CHECK(client.stats().throttled == 1);
}

TEST_CASE("a 429 without Retry-After waits out the rate window") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(429).push(200);
  HttpClient client(test_options(), transport, nullptr, clock);
  CHECK(client.send(get("https://api.hubapi.com/crm/v3/objects/contacts")).status == 200);
  CHECK(clock.slept_ms() >= 10'000);
}

TEST_CASE("a 429 pauses the other requests of the bucket too") {
  FakeClock clock;
  std::vector<std::int64_t> sent_at;
  bool throttled = false;
  FakeTransport transport([&](const HttpRequest& request) {
    sent_at.push_back(clock.steady_ms());
    if (path_of(request) == "/a" && !throttled) {
      throttled = true;
      return FakeTransport::response(429, "", {{"retry-after", "5"}});
    }
    return FakeTransport::response(200);
  });
  auto options = test_options();
  options.max_in_flight = 1;
  HttpClient client(options, transport, nullptr, clock);
  const auto start = clock.steady_ms();
  client.send_all({get("https://h/a"), get("https://h/b")});
  REQUIRE(sent_at.size() == 3);
  CHECK(sent_at[0] == start);
  CHECK(sent_at[1] >= start + 5000);  // /b waited for the pause as well
}

TEST_CASE("Retry-After as an HTTP date is measured against the response's Date") {
  HttpResponse response;
  response.status = 429;
  response.headers = {{"date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"retry-after", "Sun, 06 Nov 1994 08:49:42 GMT"}};
  auto verdict = default_verdict(response, {100, 10'000});
  CHECK(verdict.action == Verdict::Action::retry);
  CHECK(verdict.wait_ms == 5000);
  CHECK(verdict.pause_all);
}

TEST_CASE("the default verdict: what is done, what is retried and how long to wait") {
  const RateLimit limit{100, 10'000};
  auto verdict_for = [&](long status, Headers headers = {}) {
    HttpResponse response;
    response.status = status;
    response.headers = std::move(headers);
    return default_verdict(response, limit);
  };
  for (long status : {200L, 201L, 204L, 301L, 400L, 401L, 403L, 404L, 409L, 422L})
    CHECK(verdict_for(status).action == Verdict::Action::done);
  for (long status : {0L, 408L, 500L, 502L, 503L, 504L}) {
    auto verdict = verdict_for(status);
    CHECK(verdict.action == Verdict::Action::retry);
    CHECK(verdict.wait_ms == -1);
    CHECK_FALSE(verdict.pause_all);
  }
  CHECK(verdict_for(423).wait_ms == 2000);
  CHECK(verdict_for(429).wait_ms == 10'000);
  CHECK(verdict_for(429, {{"retry-after", "7"}}).wait_ms == 7000);
  CHECK(verdict_for(429, {{"retry-after", "1.5"}}).wait_ms == 1500);
  CHECK(verdict_for(429, {{"retry-after", "soon"}}).wait_ms == 10'000);
}

TEST_CASE("exhausted retries fail as transient, naming method, path and status but no secret") {
  FakeClock clock;
  FakeTransport transport([](const HttpRequest&) {
    return FakeTransport::response(503, R"({"message":"upstream busy, your token pat-na1-SECRET-123 is fine"})");
  });
  BearerAuth auth("pat-na1-SECRET-123");
  HttpClient client(test_options(), transport, &auth, clock);
  try {
    client.send(post("https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert?hapikey=pat-na1-SECRET-123"));
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    std::string message = failure.what();
    INFO(message);
    CHECK(failure.kind() == HttpFailure::Kind::transient);
    CHECK(failure.status() == 503);
    CHECK(message.starts_with("hubspot: POST /crm/v3/objects/contacts/batch/upsert failed after 8 attempts: HTTP 503"));
    CHECK(message.find("upstream busy") != std::string::npos);
    CHECK(message.find("pat-na1-SECRET-123") == std::string::npos);
    CHECK(message.find("hapikey") == std::string::npos);
  }
  CHECK(transport.requests.size() == 8);
}

TEST_CASE("retries stop before waiting would pass max_elapsed_ms") {
  FakeClock clock;
  FakeTransport transport([&](const HttpRequest&) {
    auto response = FakeTransport::network_error("Timeout was reached: Operation timed out", true);
    response.elapsed_ms = 120'000;
    clock.advance(response.elapsed_ms);
    return response;
  });
  auto options = test_options();
  options.retry.max_attempts = 100;
  options.retry.max_elapsed_ms = 300'000;
  HttpClient client(options, transport, nullptr, clock);
  const auto start = clock.steady_ms();
  try {
    client.send(get("https://api.hubapi.com/crm/v3/objects/contacts?after=10"));
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    std::string message = failure.what();
    INFO(message);
    CHECK(failure.kind() == HttpFailure::Kind::transient);
    CHECK(failure.status() == 0);
    CHECK(message.starts_with("hubspot: GET /crm/v3/objects/contacts failed after 3 attempts"));
    CHECK(message.ends_with(": timed out after 120000 ms"));
  }
  CHECK(transport.requests.size() == 3);
  CHECK(clock.steady_ms() - start <= 3 * 120'000 + 300'000);
  CHECK(clock.slept_ms() < 300'000);
}

TEST_CASE("a stop verdict from the vendor hook fails as quota at once") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(429, R"({"policyName":"DAILY"})");
  auto options = test_options();
  options.classify = [](const HttpResponse& response, const RateLimit& limit) {
    if (response.status == 429 && response.body.find("DAILY") != std::string::npos)
      return Verdict{Verdict::Action::stop, -1, false, "the daily API limit is reached"};
    return default_verdict(response, limit);
  };
  HttpClient client(options, transport, nullptr, clock);
  try {
    client.send(get("https://api.hubapi.com/crm/v3/objects/contacts"));
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    CHECK(failure.kind() == HttpFailure::Kind::quota);
    CHECK(failure.status() == 429);
    CHECK(std::string(failure.what()) ==
          "hubspot: GET /crm/v3/objects/contacts stopped: the daily API limit is reached (HTTP 429)");
  }
  CHECK(transport.requests.size() == 1);
  CHECK(clock.slept_ms() == 0);
}

TEST_CASE("a 401 refreshes the credentials once and retries at once") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(401, R"({"message":"expired"})").push(200, "fine");
  RotatingAuth auth;
  HttpClient client(test_options(), transport, &auth, clock);
  auto response = client.send(get("https://api.hubapi.com/crm/v3/objects/contacts"));
  CHECK(response.status == 200);
  CHECK(auth.refreshes == 1);
  REQUIRE(transport.requests.size() == 2);
  CHECK(FakeTransport::header_of(transport.requests[0], "Authorization") == "Bearer tok-1");
  CHECK(FakeTransport::header_of(transport.requests[1], "Authorization") == "Bearer tok-2");
  CHECK(clock.slept_ms() == 0);
}

TEST_CASE("a second 401 is final and fails as auth") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(401, R"({"message":"This oauth-token (tok-2) is expired"})")
      .push(401, R"({"message":"This oauth-token (tok-2) is expired"})");
  RotatingAuth auth;
  HttpClient client(test_options(), transport, &auth, clock);
  try {
    client.send(get("https://api.hubapi.com/crm/v3/objects/contacts"));
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    std::string message = failure.what();
    INFO(message);
    CHECK(failure.kind() == HttpFailure::Kind::auth);
    CHECK(failure.status() == 401);
    CHECK(message.starts_with("hubspot: GET /crm/v3/objects/contacts was refused: HTTP 401"));
    CHECK(message.find("is expired") != std::string::npos);
    CHECK(message.find("tok-2") == std::string::npos);  // the credential just sent is masked
  }
  CHECK(auth.refreshes == 1);
  CHECK(transport.requests.size() == 2);
}

TEST_CASE("a 401 with credentials that cannot be refreshed is final at once") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(401, R"({"message":"bad key"})");
  BearerAuth auth("static-token-value");
  HttpClient client(test_options(), transport, &auth, clock);
  CHECK_THROWS_AS(client.send(get("https://h/x")), HttpFailure);
  CHECK(transport.requests.size() == 1);
}

TEST_CASE("several 401s in one wave share one refresh") {
  FakeClock clock;
  RotatingAuth auth;
  FakeTransport transport([&](const HttpRequest& request) {
    return FakeTransport::header_of(request, "Authorization") == "Bearer tok-1" ? FakeTransport::response(401)
                                                                                : FakeTransport::response(200);
  });
  HttpClient client(test_options(), transport, &auth, clock);
  auto responses = client.send_all({get("https://h/1"), get("https://h/2"), get("https://h/3"), get("https://h/4")});
  for (const auto& response : responses) CHECK(response.status == 200);
  CHECK(auth.refreshes == 1);
  CHECK(transport.requests.size() == 8);
}

TEST_CASE("credentials that cannot be had fail as auth without sending anything") {
  FakeClock clock;
  FakeTransport transport;
  RefusingAuth auth;
  HttpClient client(test_options(), transport, &auth, clock);
  try {
    client.send(get("https://h/x"));
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    CHECK(failure.kind() == HttpFailure::Kind::auth);
  }
  CHECK(transport.requests.empty());
}

TEST_CASE("4xx answers other than 401/408/423/429 go back to the caller") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(404, R"({"message":"not found"})");
  HttpClient client(test_options(), transport, nullptr, clock);
  auto response = client.send(get("https://api.hubapi.com/crm/v3/objects/contacts/123"));
  CHECK(response.status == 404);
  CHECK(transport.requests.size() == 1);
  CHECK(client.stats().retries == 0);
}

TEST_CASE("send_all keeps order, stays within max_in_flight and retries one request while others proceed") {
  FakeClock clock;
  int failures_left = 2;
  FakeTransport transport([&](const HttpRequest& request) {
    if (path_of(request) == "/items/3" && failures_left > 0) {
      --failures_left;
      return FakeTransport::response(503);
    }
    return FakeTransport::response(200, path_of(request));
  });
  HttpClient client(test_options(), transport, nullptr, clock);
  std::vector<HttpRequest> requests;
  for (int i = 0; i < 10; ++i) requests.push_back(get("https://h/items/" + std::to_string(i)));
  auto responses = client.send_all(requests);
  REQUIRE(responses.size() == 10);
  for (int i = 0; i < 10; ++i) {
    CHECK(responses[i].status == 200);
    CHECK(responses[i].body == "/items/" + std::to_string(i));
  }
  for (auto size : transport.batch_sizes) CHECK(size <= 4);
  for (auto limit : transport.max_in_flight_seen) CHECK(limit == 4);
  CHECK(transport.requests.size() == 12);
  // Every other request was sent before the failing one's first retry.
  std::vector<std::string> order;
  for (const auto& request : transport.requests) order.push_back(path_of(request));
  auto first_retry = std::find(std::find(order.begin(), order.end(), "/items/3") + 1, order.end(), "/items/3");
  REQUIRE(first_retry != order.end());
  CHECK(std::find(order.begin(), order.end(), "/items/9") < first_retry);
  CHECK(client.stats().retries == 2);
}

TEST_CASE("send_all throws a request's failure after the others finished") {
  FakeClock clock;
  FakeTransport transport([&](const HttpRequest& request) {
    return path_of(request) == "/bad" ? FakeTransport::response(500) : FakeTransport::response(200);
  });
  auto options = test_options();
  options.retry.max_attempts = 3;
  HttpClient client(options, transport, nullptr, clock);
  CHECK_THROWS_AS(client.send_all({get("https://h/ok1"), get("https://h/bad"), get("https://h/ok2")}), HttpFailure);
  std::size_t good = 0, bad = 0;
  for (const auto& request : transport.requests) (path_of(request) == "/bad" ? bad : good)++;
  CHECK(good == 2);
  CHECK(bad == 3);
}

TEST_CASE("the client paces requests with the rate limiter of their bucket") {
  FakeClock clock;
  FakeTransport transport([](const HttpRequest&) { return FakeTransport::response(200); });
  auto options = test_options();
  options.rate_limit = {5, 1000};
  options.extra_buckets = {{"search", {2, 1000}}};
  HttpClient client(options, transport, nullptr, clock);
  for (int i = 0; i < 5; ++i) client.send(get("https://h/x"));
  CHECK(clock.slept_ms() == 0);
  client.send(get("https://h/x"));
  CHECK(clock.slept_ms() == 1050);
  CHECK(client.stats().rate_wait_ms == 1050);

  clock.reset_sleeps();
  HttpRequest search = post("https://h/search");
  search.rate_bucket = "search";
  client.send(search);
  client.send(search);
  CHECK(clock.slept_ms() == 0);
  client.send(search);
  CHECK(clock.slept_ms() == 1050);
  CHECK(client.limiter("search").waits() == 1);
}

TEST_CASE("the observe hook sees every response with the request's limiter") {
  FakeClock clock;
  FakeTransport transport([](const HttpRequest&) {
    return FakeTransport::response(200, "", {{"x-hubspot-ratelimit-remaining", "0"},
                                             {"x-hubspot-ratelimit-interval-milliseconds", "10000"}});
  });
  auto options = test_options();
  int observed = 0;
  options.observe = [&](const HttpResponse& response, RateLimiter& limiter) {
    ++observed;
    limiter.observe_remaining(std::stoi(*response.header("X-HubSpot-RateLimit-Remaining")),
                              std::stoll(*response.header("X-HubSpot-RateLimit-Interval-Milliseconds")));
  };
  HttpClient client(options, transport, nullptr, clock);
  client.send(get("https://h/1"));
  CHECK(clock.slept_ms() == 0);
  client.send(get("https://h/2"));
  CHECK(clock.slept_ms() == 10'000 + client.limiter().margin_ms());  // until request 1 leaves the window
  CHECK(observed == 2);
}

TEST_CASE("headers pass through as given and Accept is added only when absent") {
  FakeClock clock;
  FakeTransport transport([](const HttpRequest&) { return FakeTransport::response(200); });
  HttpClient client(test_options(), transport, nullptr, clock);
  HttpRequest request = post("https://h/x");
  request.headers.emplace_back("X-Custom", "1");
  client.send(request);
  HttpRequest other = get("https://h/y");
  other.headers.emplace_back("accept", "text/csv");
  client.send(other);
  REQUIRE(transport.requests.size() == 2);
  const auto& first = transport.requests[0].headers;
  CHECK(first == Headers{{"Content-Type", "application/json"}, {"X-Custom", "1"}, {"Accept", "application/json"}});
  CHECK(transport.requests[1].headers == Headers{{"accept", "text/csv"}});
}

TEST_CASE("Bearer and Basic auth set one Authorization header") {
  HttpRequest request;
  request.headers = {{"authorization", "old"}};
  BearerAuth("abc").authorize(request);
  CHECK(request.headers == Headers{{"Authorization", "Bearer abc"}});
  BasicAuth("anystring", "key-us6").authorize(request);
  CHECK(request.headers == Headers{{"Authorization", "Basic YW55c3RyaW5nOmtleS11czY="}});
}

TEST_CASE("log lines: one per attempt and one per retry, with secrets masked") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(503, "token tok-SECRET-1 hunter2-secret").push(200, "ok");
  Redactor redactor({"hunter2-secret"});
  BearerAuth auth("tok-SECRET-1");
  auto options = test_options();
  std::vector<std::string> lines;
  options.log = [&](const std::string& line) { lines.push_back(line); };
  options.redactor = &redactor;
  HttpClient client(options, transport, &auth, clock);
  client.send(post("https://api.hubapi.com/crm/v3/objects/contacts?hapikey=hunter2-secret&access_token=tok-SECRET-1"));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].starts_with("hubspot: POST https://api.hubapi.com/crm/v3/objects/contacts?"));
  CHECK(lines[0].ends_with(" -> 503 in 0 ms"));
  CHECK(lines[1].find(" -> 503 (server error), retrying in ") != std::string::npos);
  CHECK(lines[1].ends_with(" s (attempt 2 of 8)"));
  CHECK(lines[2].ends_with(" -> 200 in 0 ms"));
  for (const auto& line : lines) {
    INFO(line);
    CHECK(line.find("tok-SECRET-1") == std::string::npos);
    CHECK(line.find("hunter2-secret") == std::string::npos);
    CHECK(line.find("Bearer") == std::string::npos);
  }
}

TEST_CASE("a request to an unknown bucket spends the main budget") {
  FakeClock clock;
  FakeTransport transport([](const HttpRequest&) { return FakeTransport::response(200); });
  HttpClient client(test_options(), transport, nullptr, clock);
  CHECK(&client.limiter("nope") == &client.limiter());
}

TEST_CASE("url_encode keeps RFC 3986 unreserved characters and encodes the rest") {
  CHECK(url_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(url_encode("a b&c=d/e?f+g%") == "a%20b%26c%3Dd%2Fe%3Ff%2Bg%25");
  CHECK(url_encode("é") == "%C3%A9");
  CHECK(url_encode("") == "");
  CHECK(form_encode({{"grant_type", "refresh_token"}, {"x y", "1+1=2"}}) == "grant_type=refresh_token&x%20y=1%2B1%3D2");
  CHECK(form_encode({}) == "");
}

TEST_CASE("response headers are found by any capitalisation, the first one wins") {
  HttpResponse response;
  response.headers = {{"x-a", "1"}, {"set-cookie", "a"}, {"set-cookie", "b"}};
  REQUIRE(response.header("X-A"));
  CHECK(*response.header("X-A") == "1");
  CHECK(*response.header("Set-Cookie") == "a");
  CHECK(response.header("x-b") == nullptr);
}

TEST_CASE("a request that must not be sent twice is not repeated once the server may have acted on it") {
  FakeClock clock;
  auto create = [] {
    HttpRequest request;
    request.method = "POST";
    request.url = "https://h/crm/v3/objects/companies/batch/create";
    request.idempotent = false;
    return request;
  };
  SECTION("a 5xx, a timeout or a dropped answer fails at once as transient with the outcome unknown") {
    for (auto answer : {FakeTransport::response(503), FakeTransport::network_error("Operation timed out", true),
                        FakeTransport::network_error("transfer closed with 100 bytes remaining to read")}) {
      FakeTransport transport;
      transport.responses.push_back(answer);
      HttpClient client(test_options(), transport, nullptr, clock);
      try {
        client.send(create());
        FAIL("expected a failure");
      } catch (const HttpFailure& failure) {
        CHECK(failure.kind() == HttpFailure::Kind::transient);
        CHECK(std::string(failure.what()).find("outcome is unknown") != std::string::npos);
      }
      CHECK(transport.requests.size() == 1);
    }
  }
  SECTION("a 429 and a connection that never carried the request are retried") {
    FakeTransport transport;
    auto never_sent = FakeTransport::network_error("Couldn't connect to server");
    never_sent.not_sent = true;
    transport.responses.push_back(never_sent);
    transport.push(429).push(201, "{}");
    HttpClient client(test_options(), transport, nullptr, clock);
    CHECK(client.send(create()).status == 201);
    CHECK(transport.requests.size() == 3);
  }
}

namespace {

// Clears the stop request when a test ends, whatever way it ends.
struct StopGuard {
  StopGuard() { synctool::util::request_stop(0); }
  ~StopGuard() { synctool::util::request_stop(0); }
};

}  // namespace

TEST_CASE("after SIGTERM a failed request is not retried: it fails as transient at once") {
  StopGuard guard;
  FakeClock clock;
  FakeTransport transport([](const HttpRequest&) {
    synctool::util::request_stop(SIGTERM);  // arrives while the request is under way
    return FakeTransport::response(503, R"({"message":"busy"})");
  });
  HttpClient client(test_options(), transport, nullptr, clock);
  try {
    client.send(post("https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert"));
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    std::string message = failure.what();
    INFO(message);
    CHECK(failure.kind() == HttpFailure::Kind::transient);
    CHECK(message.starts_with("hubspot: POST /crm/v3/objects/contacts/batch/upsert stopped by SIGTERM before retrying"));
    CHECK(message.find("HTTP 503 (busy)") != std::string::npos);
  }
  CHECK(transport.requests.size() == 1);
  CHECK(clock.slept_ms() == 0);  // no backoff was waited
}

TEST_CASE("after SIGINT nothing waits for the rate limiter") {
  StopGuard guard;
  FakeClock clock;
  FakeTransport transport([](const HttpRequest&) { return FakeTransport::response(200, "{}"); });
  auto options = test_options();
  options.rate_limit = {1, 10'000};
  HttpClient client(options, transport, nullptr, clock);
  CHECK(client.send(get("https://h/first")).status == 200);
  synctool::util::request_stop(SIGINT);
  try {
    client.send(get("https://h/second"));
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    std::string message = failure.what();
    INFO(message);
    CHECK(failure.kind() == HttpFailure::Kind::transient);
    CHECK(message.starts_with("hubspot: GET /second stopped by SIGINT before waiting"));
    CHECK(message.find("for the rate limit") != std::string::npos);
  }
  CHECK(transport.requests.size() == 1);
  CHECK(clock.slept_ms() == 0);
}

TEST_CASE("after a stop, a first attempt that may start at once still goes out; its retries do not") {
  StopGuard guard;
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, "{}").push(503).push(200, "{}");
  HttpClient client(test_options(), transport, nullptr, clock);
  synctool::util::request_stop(SIGTERM);
  auto outcomes = client.send_each({get("https://h/a"), get("https://h/b")});
  REQUIRE(outcomes.size() == 2);
  CHECK_FALSE(outcomes[0].failure);
  CHECK(outcomes[0].response.status == 200);
  REQUIRE(outcomes[1].failure);
  CHECK(std::string(outcomes[1].failure->what()).find("stopped by SIGTERM before retrying") != std::string::npos);
  CHECK(transport.requests.size() == 2);
  CHECK(clock.slept_ms() == 0);
}

TEST_CASE("a check does not retry a connection that cannot be made; a run does") {
  FakeClock clock;
  auto unreachable = [] {
    auto response = FakeTransport::network_error("Couldn't connect to server: Failed to connect to 127.0.0.1 port 9");
    response.not_sent = true;
    return response;
  };
  SECTION("a check fails at once") {
    FakeTransport transport([&](const HttpRequest&) { return unreachable(); });
    HttpClient client(test_options(), transport, nullptr, clock);
    auto request = get("https://h/crm/v3/objects/contacts?limit=1");
    request.retry_unreachable = false;
    try {
      client.send(request);
      FAIL("no exception");
    } catch (const HttpFailure& failure) {
      std::string message = failure.what();
      INFO(message);
      CHECK(failure.kind() == HttpFailure::Kind::transient);
      CHECK(message.starts_with("hubspot: GET /crm/v3/objects/contacts: network error: Couldn't connect to server"));
      CHECK(message.find("not retried") != std::string::npos);
    }
    CHECK(transport.requests.size() == 1);
    CHECK(clock.slept_ms() == 0);
  }
  SECTION("a check still retries what reached the server (a 503, a reset mid-answer)") {
    FakeTransport transport;
    transport.push(503).push_error("Connection reset by peer").push(200, "{}");
    HttpClient client(test_options(), transport, nullptr, clock);
    auto request = get("https://h/ping");
    request.retry_unreachable = false;
    CHECK(client.send(request).status == 200);
    CHECK(transport.requests.size() == 3);
  }
  SECTION("a run rides out a server that is restarting") {
    FakeTransport transport;
    transport.responses.push_back(unreachable());
    transport.responses.push_back(unreachable());
    transport.push(200, "{}");
    HttpClient client(test_options(), transport, nullptr, clock);
    CHECK(client.send(get("https://h/ping")).status == 200);
    CHECK(transport.requests.size() == 3);
  }
}
