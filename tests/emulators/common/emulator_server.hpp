// The HTTP server plumbing the emulators share: httplib set-up on 127.0.0.1, start and stop
// (closing idle keep-alive connections), dropping one client's connection, gzip, writing whole
// and truncated answers, the request log and its listener. Each vendor supplies its handler
// and its error bodies.
#pragma once

// Debian's libcpp-httplib is a compiled library built with OpenSSL support; some of httplib's
// structs (Request, ClientImpl) change layout with this macro, so every user must agree.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace synctool::emulators::common {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ServerSettings {
  std::string name;          // "hubspot emulator": starts the message of a failed bind
  std::size_t threads = 32;  // worker threads (requests in progress plus idle keep-alive connections)
  // SO_REUSEADDR only (httplib's default adds SO_REUSEPORT, which would let a second process
  // share a fixed port) and a listen queue of 1024 instead of httplib's 5.
  bool exclusive_port = false;
  httplib::Server::Handler handler;  // every request, any method and path
  // A handler threw: the answer's status is already 500; `what` is the exception's message
  // ("unknown" when it was not a std::exception).
  std::function<void(httplib::Response& res, const std::string& what)> on_exception;
  // An error httplib answers by itself (bad request line, unsupported method...): res.status
  // is set and there is no body yet.
  std::function<void(httplib::Response& res)> on_error;
};

// An httplib server on 127.0.0.1, listening on its own thread.
class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds 127.0.0.1:port (0: a free port) and returns once listening; does nothing when
  // already started. Throws std::runtime_error "<name>: cannot bind 127.0.0.1[:port]".
  void start(int port, const ServerSettings& settings);
  void stop();  // idempotent; shuts down open connections
  int port() const { return bound_port_; }  // the last bound port
  bool stopping() const { return stopping_; }
  // Sleeps `ms`, or less when the server stops meanwhile.
  void sleep_interruptible(std::int64_t ms) const;
  // Shuts down the server's connection from the client's `remote_port`; false if none is found.
  bool drop_connection(int remote_port) const;

 private:
  std::unique_ptr<httplib::Server> svr_;
  std::thread thread_;
  std::atomic<bool> stopping_{false}, listen_done_{false};
  int bound_port_ = 0;
  int listen_fd_ = -1;
};

// Shuts down (without closing: httplib owns the descriptors) this process's TCP sockets whose
// local port is `local_port` and, when remote_port >= 0, whose peer port is `remote_port`.
// Listening sockets are left alone. Returns how many were shut down.
int shutdown_server_connections(int local_port, int remote_port);

std::string query_of(const httplib::Request& req);  // the raw query string, without '?'
bool accepts_gzip(const httplib::Request& req);
std::optional<std::string> gzip(const std::string& in);

// The answer: status, headers and (but for 204) the body. httplib does not compress by itself
// here (its compiled library would pick brotli at its slowest setting): a body of at least
// `gzip_min_bytes` is gzipped when `req` is given and accepts it.
void write_answer(httplib::Response& res, int status, const Headers& headers, const std::string& body,
                  const std::string& content_type, const httplib::Request* req, std::size_t gzip_min_bytes);
// Headers and half of the body, then the connection closes: the client sees an incomplete
// response. A 204 becomes a 200; a body shorter than 2 bytes is replaced by `fallback_body`.
void write_partial(httplib::Response& res, int status, const Headers& headers, const std::string& body,
                   const std::string& fallback_body, const std::string& content_type);

// The request log: {method, path, query, status, fault, at_ms, body (first 2000 chars)} per
// request, the most recent 50,000, with the counts by status. Guarded by the emulator's lock.
struct RequestLog {
  static nlohmann::json entry(const httplib::Request& req, int status, const char* fault, std::int64_t at_ms);

  void add(const nlohmann::json& entry, int status);
  nlohmann::json entries_json() const;    // [entry...], oldest first
  nlohmann::json by_status_json() const;  // {"200": n, ...}
  void clear();

  std::int64_t requests = 0;
  std::map<std::string, std::int64_t> by_status;
  std::deque<nlohmann::json> entries;
};

// Who hears of each request-log entry as it is recorded (for --request-log FILE.jsonl): called
// from server threads, serialised.
class RequestListener {
 public:
  void set(std::function<void(const nlohmann::json&)> listener);
  void notify(const nlohmann::json& entry);

 private:
  std::mutex mu_;
  std::function<void(const nlohmann::json&)> listener_;
};

}  // namespace synctool::emulators::common
