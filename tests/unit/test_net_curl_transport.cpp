// The libcurl transport against a real local HTTP server (cpp-httplib on 127.0.0.1).
// Debian's libcpp-httplib is compiled with OpenSSL support, which changes the layout of some of
// its structs: every user must agree (see tests/emulators/hubspot/hubspot_internal.hpp).
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include "net/http.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

using namespace synctool::net;

namespace {

class TestServer {
 public:
  httplib::Server server;

  TestServer() { server.set_keep_alive_max_count(1000); }
  ~TestServer() { stop(); }

  // Register handlers on `server` first.
  void start() {
    port_ = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(server.is_running());
  }
  void stop() {
    server.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  int port_ = 0;
  std::thread thread_;
};

HttpRequest get(std::string url) {
  HttpRequest request;
  request.url = std::move(url);
  return request;
}

// A port on 127.0.0.1 that nothing listens on.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool all_lower_case(const Headers& headers) {
  return std::all_of(headers.begin(), headers.end(), [](const auto& h) {
    return std::none_of(h.first.begin(), h.first.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
  });
}

// gzip of {"hello":"gzip world","n":[1,2,3,4,5,6,7,8,9,10]}
const unsigned char kGzipped[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
    0xb2, 0x52, 0x4a, 0xaf, 0xca, 0x2c, 0x50, 0x28, 0xcf, 0x2f, 0xca, 0x49, 0x51, 0xd2, 0x51, 0xca, 0x53, 0xb2,
    0x8a, 0x36, 0xd4, 0x31, 0xd2, 0x31, 0xd6, 0x31, 0xd1, 0x31, 0xd5, 0x31, 0xd3, 0x31, 0xd7, 0xb1, 0xd0, 0xb1,
    0xd4, 0x31, 0x34, 0x88, 0xad, 0x05, 0x00, 0x38, 0x4a, 0x4b, 0x8e, 0x31, 0x00, 0x00, 0x00};

}  // namespace

TEST_CASE("curl transport: GET and POST round trips with headers and bodies") {
  TestServer server;
  std::mutex mutex;
  std::vector<std::string> seen;  // "METHOD body content-type x-request-id user-agent"
  auto record = [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    seen.push_back(req.method + "|" + req.body + "|" + req.get_header_value("Content-Type") + "|" +
                   req.get_header_value("X-Request-Id") + "|" + req.get_header_value("User-Agent"));
    res.status = req.method == "POST" ? 201 : 200;
    res.set_header("X-Reply-Header", "Yes");
    res.set_content("{\"method\":\"" + req.method + "\"}", "application/json");
  };
  server.server.Get("/things", record);
  server.server.Post("/things", record);
  server.server.Put("/things", record);
  server.server.Patch("/things", record);
  server.server.Delete("/things", record);
  server.start();

  TransportOptions options;
  options.user_agent = "synctool-test/1";
  auto transport = make_curl_transport(options);

  std::vector<HttpRequest> requests;
  requests.push_back(get(server.url("/things?x=1")));
  requests.back().headers = {{"X-Request-Id", "r1"}};
  for (const char* method : {"POST", "PUT", "PATCH"}) {
    HttpRequest r;
    r.method = method;
    r.url = server.url("/things");
    r.headers = {{"Content-Type", "application/json"}, {"X-Request-Id", method}};
    r.body = std::string("{\"m\":\"") + method + "\"}";
    requests.push_back(r);
  }
  HttpRequest del;
  del.method = "DELETE";
  del.url = server.url("/things");
  requests.push_back(del);

  auto responses = transport->perform(requests, 2);
  REQUIRE(responses.size() == 5);
  const char* methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  for (std::size_t i = 0; i < 5; ++i) {
    INFO(methods[i] << ": " << responses[i].transport_error);
    CHECK(responses[i].status == (i == 1 ? 201 : 200));
    CHECK(responses[i].body == std::string("{\"method\":\"") + methods[i] + "\"}");
    CHECK(responses[i].transport_error.empty());
    CHECK_FALSE(responses[i].timed_out);
    CHECK(all_lower_case(responses[i].headers));
    REQUIRE(responses[i].header("X-Reply-Header"));
    CHECK(*responses[i].header("x-reply-header") == "Yes");
    REQUIRE(responses[i].header("content-type"));
    CHECK(*responses[i].header("content-type") == "application/json");
  }
  std::lock_guard lock(mutex);
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::string>{
                    "DELETE||||synctool-test/1",
                    "GET|||r1|synctool-test/1",
                    "PATCH|{\"m\":\"PATCH\"}|application/json|PATCH|synctool-test/1",
                    "POST|{\"m\":\"POST\"}|application/json|POST|synctool-test/1",
                    "PUT|{\"m\":\"PUT\"}|application/json|PUT|synctool-test/1",
                });
}

TEST_CASE("curl transport: error statuses come back as responses, redirects are not followed") {
  TestServer server;
  server.server.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"message":"not found"})", "application/json");
  });
  server.server.Get("/moved", [](const httplib::Request&, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", "/missing");
  });
  server.start();
  auto transport = make_curl_transport();
  auto responses = transport->perform({get(server.url("/missing")), get(server.url("/moved"))}, 4);
  CHECK(responses[0].status == 404);
  CHECK(responses[0].body == R"({"message":"not found"})");
  CHECK(responses[1].status == 302);
  REQUIRE(responses[1].header("location"));
  CHECK(*responses[1].header("location") == "/missing");
}

TEST_CASE("curl transport: compressed answers are decoded") {
  TestServer server;
  std::string accept_encoding;
  server.server.Get("/pre-gzipped", [&](const httplib::Request& req, httplib::Response& res) {
    accept_encoding = req.get_header_value("Accept-Encoding");
    // octet-stream: httplib does not compress it again.
    res.set_content(std::string(reinterpret_cast<const char*>(kGzipped), sizeof kGzipped), "application/octet-stream");
    res.set_header("Content-Encoding", "gzip");
  });
  std::string big = "[";
  for (int i = 0; i < 2000; ++i) big += std::string(i ? "," : "") + "{\"id\":" + std::to_string(i) + ",\"name\":\"x\"}";
  big += "]";
  server.server.Get("/big", [&](const httplib::Request&, httplib::Response& res) { res.set_content(big, "application/json"); });
  server.start();

  auto transport = make_curl_transport();
  auto responses = transport->perform({get(server.url("/pre-gzipped")), get(server.url("/big"))}, 1);
  CHECK(accept_encoding.find("gzip") != std::string::npos);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body == R"({"hello":"gzip world","n":[1,2,3,4,5,6,7,8,9,10]})");
  CHECK(responses[1].status == 200);
  CHECK(responses[1].body == big);
#ifdef CPPHTTPLIB_ZLIB_SUPPORT
  // httplib compressed the JSON itself (gzip, or brotli when both sides have it).
  REQUIRE(responses[1].header("content-encoding"));
  CHECK((*responses[1].header("content-encoding") == "gzip" || *responses[1].header("content-encoding") == "br"));
#endif
}

TEST_CASE("curl transport: a slow answer times out as status 0 with timed_out") {
  TestServer server;
  std::atomic<bool> release{false};
  server.server.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    for (int i = 0; i < 300 && !release; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    res.set_content("late", "text/plain");
  });
  server.start();
  TransportOptions options;
  options.total_timeout_ms = 300;
  auto transport = make_curl_transport(options);
  auto responses = transport->perform({get(server.url("/slow"))}, 1);
  release = true;
  CHECK(responses[0].status == 0);
  CHECK(responses[0].timed_out);
  CHECK_FALSE(responses[0].not_sent);  // the server had the request: its outcome is unknown
  CHECK(responses[0].body.empty());
  INFO(responses[0].transport_error);
  CHECK(responses[0].transport_error.find("imeout") != std::string::npos);
  CHECK(responses[0].elapsed_ms >= 250);
}

TEST_CASE("curl transport: a refused connection is status 0 with curl's message") {
  auto transport = make_curl_transport();
  auto responses =
      transport->perform({get("http://127.0.0.1:" + std::to_string(closed_port()) + "/x"), get("not a url at all")}, 2);
  CHECK(responses[0].status == 0);
  CHECK_FALSE(responses[0].timed_out);
  INFO(responses[0].transport_error);
  CHECK(responses[0].transport_error.find("onnect") != std::string::npos);
  CHECK(responses[0].not_sent);  // nothing left the machine: safe to repeat even a create
  CHECK(responses[1].status == 0);
  CHECK_FALSE(responses[1].transport_error.empty());
}

TEST_CASE("curl transport: connections are reused within and across perform calls") {
  TestServer server;
  std::mutex mutex;
  std::set<int> ports;
  int count = 0;
  server.server.Get("/ping", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(mutex);
      ports.insert(req.remote_port);
      ++count;
    }
    res.set_content("pong", "text/plain");
  });
  server.start();
  auto transport = make_curl_transport();
  std::vector<HttpRequest> twenty(20, get(server.url("/ping")));
  auto responses = transport->perform(twenty, 4);
  for (const auto& r : responses) CHECK(r.status == 200);
  for (int round = 0; round < 5; ++round) {
    auto more = transport->perform(std::vector<HttpRequest>(4, get(server.url("/ping"))), 4);
    for (const auto& r : more) CHECK(r.status == 200);
  }
  std::lock_guard lock(mutex);
  CHECK(count == 40);
  CHECK(ports.size() <= 4);
}

TEST_CASE("curl transport: up to max_in_flight requests run at once") {
  TestServer server;
  std::atomic<int> running{0}, most{0};
  server.server.Get("/sleepy", [&](const httplib::Request&, httplib::Response& res) {
    int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    --running;
    res.set_content("ok", "text/plain");
  });
  server.start();
  auto transport = make_curl_transport();
  auto started = std::chrono::steady_clock::now();
  auto responses = transport->perform(std::vector<HttpRequest>(8, get(server.url("/sleepy"))), 4);
  auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  for (const auto& r : responses) CHECK(r.status == 200);
  CHECK(most.load() <= 4);
  CHECK(most.load() >= 2);
  // Sequentially this takes 1600 ms; four at a time about 400 ms.
  CHECK(elapsed < 1200);
}

TEST_CASE("curl transport: an empty batch returns nothing") {
  auto transport = make_curl_transport();
  CHECK(transport->perform({}, 4).empty());
}
