// The HTTP server plumbing the emulators share.
#include "emulators/common/emulator_server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <stdexcept>

#include <zlib.h>

#include "emulators/common/emulator_util.hpp"

namespace synctool::emulators::common {

namespace {

constexpr std::size_t kMaxLogEntries = 50000;
constexpr std::size_t kLogBodyChars = 2000;

}  // namespace

// ---------------------------------------------------------------------------------------------
// The server

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(int port, const ServerSettings& settings) {
  if (svr_) return;
  stopping_ = false;
  listen_done_ = false;
  svr_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *svr_;
  const std::size_t threads = settings.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_keep_alive_max_count(1000);
  svr.set_keep_alive_timeout(30);
  svr.set_tcp_nodelay(true);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  const httplib::Server::Handler& handler = settings.handler;
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Patch(".*", handler);
  svr.Put(".*", handler);
  svr.Delete(".*", handler);
  svr.Options(".*", handler);
  svr.set_exception_handler([on_exception = settings.on_exception](const httplib::Request&, httplib::Response& res,
                                                                   std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    on_exception(res, what);
  });
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [on_error = settings.on_error](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty() || res.content_length_ != 0) return httplib::Server::HandlerResponse::Unhandled;
        on_error(res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  listen_fd_ = -1;
  if (settings.exclusive_port) {
    // The descriptor is kept to deepen the listen queue below.
    svr.set_socket_options([this](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_fd_ = sock;
    });
  }
  if (port == 0) {
    port = svr.bind_to_any_port("127.0.0.1");
    if (port <= 0) {
      svr_.reset();
      std::string message = settings.name;
      message += ": cannot bind 127.0.0.1";
      throw std::runtime_error(message);
    }
  } else if (!svr.bind_to_port("127.0.0.1", port)) {
    svr_.reset();
    std::string message = settings.name;
    message += ": cannot bind 127.0.0.1:";
    message += std::to_string(port);
    throw std::runtime_error(message);
  }
  bound_port_ = port;
  // httplib listens with a backlog of 5: a burst of new connections (a client opening its 10 at
  // once) would overflow it and wait a second for the SYN to be retried. Listen again with a
  // deeper queue (Linux updates the backlog of a listening socket).
  if (listen_fd_ >= 0) ::listen(listen_fd_, 1024);
  thread_ = std::thread([this] {
    svr_->listen_after_bind();
    listen_done_ = true;
  });
  for (int i = 0; i < 5000 && !svr.is_running() && !listen_done_; ++i) sleep_ms(1);
}

void HttpServer::stop() {
  if (!svr_) return;
  stopping_ = true;
  // httplib's stop() only works once the accept loop runs.
  for (int i = 0; i < 5000 && !svr_->is_running() && !listen_done_; ++i) sleep_ms(1);
  svr_->stop();
  // Idle keep-alive connections would hold their worker (and so stop()) for the keep-alive
  // timeout: shut them down until the server's pool has drained.
  while (!listen_done_) {
    shutdown_server_connections(bound_port_, -1);
    sleep_ms(5);
  }
  if (thread_.joinable()) thread_.join();
  svr_.reset();
}

void HttpServer::sleep_interruptible(std::int64_t ms) const {
  const std::int64_t until = steady_ms() + ms;
  while (!stopping_) {
    const std::int64_t left = until - steady_ms();
    if (left <= 0) return;
    sleep_ms(std::min<std::int64_t>(left, 20));
  }
}

bool HttpServer::drop_connection(int remote_port) const {
  return shutdown_server_connections(bound_port_, remote_port) > 0;
}

int shutdown_server_connections(int local_port, int remote_port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  const int dir_fd = ::dirfd(dir);
  int count = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long v = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    const int fd = static_cast<int>(v);
    if (fd == dir_fd) continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 || local.ss_family != AF_INET) continue;
    if (ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port) != local_port) continue;
    int accepting = 0;
    socklen_t alen = sizeof accepting;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &alen) == 0 && accepting != 0) continue;
    if (remote_port >= 0) {
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 || peer.ss_family != AF_INET) continue;
      if (ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port) != remote_port) continue;
    }
    ::shutdown(fd, SHUT_RDWR);
    ++count;
  }
  ::closedir(dir);
  return count;
}

// ---------------------------------------------------------------------------------------------
// Answers

std::string query_of(const httplib::Request& req) {
  const auto q = req.target.find('?');
  return q == std::string::npos ? std::string() : req.target.substr(q + 1);
}

bool accepts_gzip(const httplib::Request& req) {
  const std::string ae = lower(req.get_header_value("Accept-Encoding"));
  for (const auto& part : split(ae, ',')) {
    const std::string p = trim(part);
    if (p.rfind("gzip", 0) != 0) continue;
    const auto q = p.find("q=");
    return q == std::string::npos || std::strtod(p.c_str() + q + 2, nullptr) > 0;
  }
  return false;
}

std::optional<std::string> gzip(const std::string& in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

void write_answer(httplib::Response& res, int status, const Headers& headers, const std::string& body,
                  const std::string& content_type, const httplib::Request* req, std::size_t gzip_min_bytes) {
  res.status = status;
  for (const auto& [k, v] : headers) res.set_header(k, v);
  if (status == 204) return;
  if (req != nullptr && body.size() >= gzip_min_bytes && accepts_gzip(*req)) {
    if (auto z = gzip(body)) {
      res.set_header("Content-Encoding", "gzip");
      res.set_header("Vary", "Accept-Encoding");
      res.set_content(*z, content_type);
      return;
    }
  }
  res.set_content(body, content_type);
}

void write_partial(httplib::Response& res, int status, const Headers& headers, const std::string& body,
                   const std::string& fallback_body, const std::string& content_type) {
  res.status = status == 204 ? 200 : status;
  for (const auto& [k, v] : headers) res.set_header(k, v);
  std::string text = body.size() >= 2 ? body : fallback_body;
  const std::size_t length = text.size();
  res.set_content_provider(length, content_type,
                           [text = std::move(text)](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                             if (offset == 0) sink.write(text.data(), text.size() / 2);
                             return false;
                           });
}

// ---------------------------------------------------------------------------------------------
// The request log

nlohmann::json RequestLog::entry(const httplib::Request& req, int status, const char* fault, std::int64_t at_ms) {
  return {{"method", req.method},
          {"path", req.path},
          {"query", query_of(req)},
          {"status", status},
          {"fault", fault == nullptr ? nlohmann::json() : nlohmann::json(fault)},
          {"at_ms", at_ms},
          {"body", req.body.substr(0, kLogBodyChars)}};
}

void RequestLog::add(const nlohmann::json& entry, int status) {
  ++requests;
  ++by_status[std::to_string(status)];
  entries.push_back(entry);
  while (entries.size() > kMaxLogEntries) entries.pop_front();
}

nlohmann::json RequestLog::entries_json() const {
  return nlohmann::json(std::vector<nlohmann::json>(entries.begin(), entries.end()));
}

nlohmann::json RequestLog::by_status_json() const {
  nlohmann::json by = nlohmann::json::object();
  for (const auto& [status, n] : by_status) by[status] = n;
  return by;
}

void RequestLog::clear() {
  requests = 0;
  by_status.clear();
  entries.clear();
}

void RequestListener::set(std::function<void(const nlohmann::json&)> listener) {
  std::lock_guard lk(mu_);
  listener_ = std::move(listener);
}

void RequestListener::notify(const nlohmann::json& entry) {
  std::lock_guard lk(mu_);
  if (listener_) listener_(entry);
}

}  // namespace synctool::emulators::common
