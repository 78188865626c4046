// The Mailchimp Marketing API v3 emulator: server, authentication, the connection limit,
// faults, gzip, the request log, stats and the control endpoints. The store is in
// mailchimp_store.cpp, the /3.0 handlers in mailchimp_api.cpp, small helpers in mailchimp_util.cpp.
#include "emulators/mailchimp/mailchimp_internal.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include <zlib.h>

namespace synctool::emulators {

using namespace mailchimp_detail;
using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxLogEntries = 50000;
constexpr std::size_t kLogBodyChars = 2000;
constexpr std::size_t kGzipMinBytes = 1024;
constexpr int kWorkerThreads = 64;  // well above max_connections, plus idle keep-alive connections
constexpr const char* kJson = "application/json; charset=utf-8";
constexpr const char* kProblem = "application/problem+json; charset=utf-8";

void sleep_ms(std::int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Shuts down (without closing: httplib owns the descriptors) this process's TCP sockets whose
// local port is `local_port` and, when remote_port >= 0, whose peer port is `remote_port`.
// Listening sockets are left alone. Returns how many were shut down.
int shutdown_connections(int local_port, int remote_port) {
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

std::string query_of(const httplib::Request& req) {
  const auto q = req.target.find('?');
  return q == std::string::npos ? std::string() : req.target.substr(q + 1);
}

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::r429: return "429";
    case Fault::r5xx: return "5xx";
    case Fault::timeout: return "timeout";
    case Fault::drop: return "drop";
    case Fault::lost_response: return "lost_response";
    case Fault::malformed: return "malformed";
    case Fault::none: break;
  }
  return "";
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

bool gzip(const std::string& in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.assign(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

std::string content_type_of(const Reply& r) {
  if (!r.content_type.empty()) return r.content_type;
  return r.status >= 400 ? kProblem : kJson;
}

// The answer as is. httplib does not compress by itself here (its compiled library would pick
// brotli at its slowest setting): answers of some size are gzipped for clients that accept it.
void write_reply(httplib::Response& res, const Reply& r, const httplib::Request& req) {
  res.status = r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  if (r.status == 204) return;
  const std::string type = content_type_of(r);
  if (r.text.size() >= kGzipMinBytes && accepts_gzip(req)) {
    std::string z;
    if (gzip(r.text, z)) {
      res.set_header("Content-Encoding", "gzip");
      res.set_header("Vary", "Accept-Encoding");
      res.set_content(z, type);
      return;
    }
  }
  res.set_content(r.text, type);
}

// Headers and half of the body, then the connection closes: the client sees an incomplete
// response.
void write_partial(httplib::Response& res, const Reply& r) {
  res.status = r.status == 204 ? 200 : r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  std::string body = r.text.size() >= 2 ? r.text : std::string(R"({"new_members":[],"updated_members":[]})");
  const std::size_t length = body.size();
  res.set_content_provider(length, content_type_of(r),
                           [body = std::move(body)](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                             if (offset == 0) sink.write(body.data(), body.size() / 2);
                             return false;
                           });
}

Reply control_error(int status, const std::string& message) {
  Reply r = json_reply({{"ok", false}, {"error", message}}, status);
  r.content_type = kJson;
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction, lifecycle

MailchimpEmulator::Impl::Impl(MailchimpEmulatorOptions o) : api_key(o.api_key), opt(std::move(o)) {
  fault_rng.seed(opt.faults.seed);
  since_inclusive = opt.since_inclusive;
}

MailchimpEmulator::MailchimpEmulator(MailchimpEmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

MailchimpEmulator::~MailchimpEmulator() { stop(); }

void MailchimpEmulator::start() {
  Impl& im = *impl_;
  if (im.svr) return;
  im.stopping = false;
  im.listen_done = false;
  im.svr = std::make_unique<httplib::Server>();
  httplib::Server& svr = *im.svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  svr.set_keep_alive_max_count(1000);
  svr.set_keep_alive_timeout(30);
  svr.set_tcp_nodelay(true);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  auto handler = [&im](const httplib::Request& req, httplib::Response& res) { im.serve(req, res); };
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Patch(".*", handler);
  svr.Put(".*", handler);
  svr.Delete(".*", handler);
  svr.Options(".*", handler);
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Reply r = problem(500, "Internal Server Error", "internal emulator error: " + what);
    res.status = 500;
    res.set_content(dump_json(r.body), kProblem);
  });
  // Errors httplib produces by itself (bad request line, unsupported method...): Mailchimp's shape.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty() || res.content_length_ != 0) return httplib::Server::HandlerResponse::Unhandled;
    const char* title = res.status == 404   ? "Resource Not Found"
                        : res.status == 405 ? "Method Not Allowed"
                        : res.status >= 500 ? "Internal Server Error"
                                            : "Invalid Resource";
    std::string detail = "HTTP ";
    detail += std::to_string(res.status);
    Reply r = problem(res.status, title, detail);
    res.set_content(dump_json(r.body), kProblem);
    return httplib::Server::HandlerResponse::Handled;
  }));
  // SO_REUSEADDR only (httplib's default adds SO_REUSEPORT, which would let a second process
  // share a fixed --port); the descriptor is kept to deepen the listen queue below.
  im.listen_fd = -1;
  svr.set_socket_options([&im](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    im.listen_fd = sock;
  });
  int port = im.opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port("127.0.0.1");
    if (port <= 0) {
      im.svr.reset();
      throw std::runtime_error("mailchimp emulator: cannot bind 127.0.0.1");
    }
  } else if (!svr.bind_to_port("127.0.0.1", port)) {
    im.svr.reset();
    std::string message = "mailchimp emulator: cannot bind 127.0.0.1:";
    message += std::to_string(port);
    throw std::runtime_error(message);
  }
  im.bound_port = port;
  // httplib listens with a backlog of 5: a burst of new connections (a client opening its 10 at
  // once) would overflow it and wait a second for the SYN to be retried. Listen again with a
  // deeper queue (Linux updates the backlog of a listening socket).
  if (im.listen_fd >= 0) ::listen(im.listen_fd, 1024);
  im.thread = std::thread([&im] {
    im.svr->listen_after_bind();
    im.listen_done = true;
  });
  for (int i = 0; i < 5000 && !svr.is_running() && !im.listen_done; ++i) sleep_ms(1);
}

void MailchimpEmulator::stop() {
  Impl& im = *impl_;
  if (!im.svr) return;
  im.stopping = true;
  // httplib's stop() only works once the accept loop runs.
  for (int i = 0; i < 5000 && !im.svr->is_running() && !im.listen_done; ++i) sleep_ms(1);
  im.svr->stop();
  // Idle keep-alive connections would hold their worker (and so stop()) for the keep-alive
  // timeout: shut them down until the server's pool has drained.
  while (!im.listen_done) {
    shutdown_connections(im.bound_port, -1);
    sleep_ms(5);
  }
  if (im.thread.joinable()) im.thread.join();
  im.svr.reset();
}

int MailchimpEmulator::port() const { return impl_->bound_port; }

std::string MailchimpEmulator::base_url() const {
  std::string url = "http://127.0.0.1:";
  url += std::to_string(impl_->bound_port);
  url += "/3.0";
  return url;
}

void MailchimpEmulator::set_faults(const MailchimpFaults& f) {
  std::lock_guard lk(impl_->ctl_mu);
  impl_->set_faults_locked(f);
}

void MailchimpEmulator::Impl::set_faults_locked(const MailchimpFaults& f) {
  opt.faults = f;
  fault_rng.seed(f.seed);
  faults_since_set = 0;
}

void MailchimpEmulator::set_frozen_time(std::optional<std::int64_t> epoch_ms) {
  std::lock_guard lk(impl_->mu);
  impl_->frozen = epoch_ms.has_value();
  impl_->frozen_s = epoch_ms.has_value() ? floor_div(*epoch_ms, 1000) : 0;
}

nlohmann::json MailchimpEmulator::request_log() const {
  std::lock_guard lk(impl_->ctl_mu);
  return json(std::vector<json>(impl_->log.begin(), impl_->log.end()));
}

nlohmann::json MailchimpEmulator::stats() const {
  std::lock_guard lk(impl_->ctl_mu);
  return impl_->stats_locked();
}

nlohmann::json MailchimpEmulator::Impl::stats_locked() const {
  json by = json::object();
  for (const auto& [status, n] : by_status) by[status] = n;
  return {{"requests", n_requests},
          {"by_status", by},
          {"faults_injected", faults_injected},
          {"throttled_connections", throttled_connections},
          {"max_concurrent", max_concurrent.load()},
          {"batch_calls", batch_calls.load()},
          {"members_written", members_written.load()}};
}

void MailchimpEmulator::reset_stats() {
  std::lock_guard lk(impl_->ctl_mu);
  impl_->reset_stats_locked();
}

void MailchimpEmulator::Impl::reset_stats_locked() {
  log.clear();
  by_status.clear();
  n_requests = faults_injected = throttled_connections = 0;
  max_concurrent = 0;
  batch_calls = 0;
  members_written = 0;
}

void MailchimpEmulator::update_options(const nlohmann::json& changes) { impl_->update_options(changes); }

void MailchimpEmulator::Impl::update_options(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("options: expected a JSON object");
  bool inclusive = false;
  {
    std::lock_guard lk(ctl_mu);
    MailchimpEmulatorOptions o = opt;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      if (k == "max_connections") {
        if (!v.is_number_integer()) throw std::invalid_argument("options: max_connections must be an integer");
        o.max_connections = v.get<int>();
        if (o.max_connections < 1) throw std::invalid_argument("options: max_connections must be at least 1");
      } else if (k == "overload_answer") {
        if (!v.is_string()) throw std::invalid_argument("options: overload_answer must be a string");
        o.overload_answer = v.get<std::string>();
        if (o.overload_answer != "json" && o.overload_answer != "bare" && o.overload_answer != "403")
          throw std::invalid_argument("options: overload_answer must be \"json\", \"bare\" or \"403\"");
      } else if (k == "since_inclusive") {
        if (!v.is_boolean()) throw std::invalid_argument("options: since_inclusive must be true or false");
        o.since_inclusive = v.get<bool>();
      } else {
        throw std::invalid_argument("options: unknown or unchangeable field '" + k + "'");
      }
    }
    opt = o;
    inclusive = o.since_inclusive;
  }
  std::lock_guard lk(mu);
  since_inclusive = inclusive;
}

void MailchimpEmulator::set_request_listener(std::function<void(const nlohmann::json&)> listener) {
  std::lock_guard lk(impl_->listener_mu);
  impl_->listener = std::move(listener);
}

// ---------------------------------------------------------------------------------------------
// Request handling

bool MailchimpEmulator::Impl::authorized(const httplib::Request& req) const {
  const std::string header = trim(req.get_header_value("Authorization"));
  const std::string scheme = lower(header.substr(0, header.find(' ')));
  const std::string credentials = header.find(' ') == std::string::npos ? "" : trim(header.substr(header.find(' ')));
  if (scheme == "basic") {
    std::string decoded;
    if (!base64_decode(credentials, decoded)) return false;
    const auto colon = decoded.find(':');
    return colon != std::string::npos && decoded.substr(colon + 1) == api_key;
  }
  if (scheme == "bearer") return credentials == api_key;
  return false;
}

Reply MailchimpEmulator::Impl::overload_reply(const std::string& answer, int limit) const {
  if (answer == "bare")
    return raw_reply(429,
                     "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n<center><h1>429 Too "
                     "Many Requests</h1></center>\r\n</body>\r\n</html>\r\n",
                     "text/html");
  if (answer == "403") return raw_reply(403, "Access Denied\n", "text/plain");
  std::string detail = "You have exceeded the limit of ";
  detail += std::to_string(limit);
  detail += " simultaneous connections.";
  return problem(429, "Too Many Requests", detail);
}

MailchimpEmulator::Impl::Fault MailchimpEmulator::Impl::roll_fault(const std::string& sub_path, std::int64_t& slow,
                                                                   int& status_5xx) {
  const MailchimpFaults& f = opt.faults;
  if (!f.paths.empty()) {
    bool match = false;
    for (const auto& p : f.paths) match = match || starts_with(sub_path, p);
    if (!match) return Fault::none;
  }
  slow = f.slow_ms;
  if (f.max_faults >= 0 && faults_since_set >= f.max_faults) return Fault::none;
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  Fault out = Fault::none;
  if (f.rate_429 > 0 && uni(fault_rng) < f.rate_429) out = Fault::r429;
  else if (f.rate_500 > 0 && uni(fault_rng) < f.rate_500) out = Fault::r5xx;
  else if (f.rate_timeout > 0 && uni(fault_rng) < f.rate_timeout) out = Fault::timeout;
  else if (f.rate_drop > 0 && uni(fault_rng) < f.rate_drop) out = Fault::drop;
  else if (f.rate_lost_response > 0 && uni(fault_rng) < f.rate_lost_response) out = Fault::lost_response;
  else if (f.rate_malformed > 0 && uni(fault_rng) < f.rate_malformed) out = Fault::malformed;
  if (out == Fault::none) return out;
  if (out == Fault::r5xx) {
    static constexpr int kStatuses[] = {500, 502, 503, 504};
    status_5xx = kStatuses[std::uniform_int_distribution<int>(0, 3)(fault_rng)];
  }
  ++faults_since_set;
  ++faults_injected;
  return out;
}

void MailchimpEmulator::Impl::sleep_interruptible(std::int64_t ms) const {
  const std::int64_t until = steady_ms() + ms;
  while (!stopping) {
    const std::int64_t left = until - steady_ms();
    if (left <= 0) return;
    sleep_ms(std::min<std::int64_t>(left, 20));
  }
}

Reply MailchimpEmulator::Impl::handle_api(const httplib::Request& req, const std::string& sub_path) {
  if (!authorized(req))
    return problem(401, "API Key Invalid",
                   "Your API key may be invalid, or you've attempted to access the wrong datacenter.");
  Call call{req, split_path(sub_path), json(), true, Sel{}};
  if (!req.body.empty()) {
    try {
      call.body = json::parse(req.body);
    } catch (const json::parse_error&) {
      call.body_ok = false;
    }
  }
  FieldTree inc, exc;
  if (req.has_param("fields") && !req.get_param_value("fields").empty()) {
    inc = field_tree(req.get_param_value("fields"));
    call.sel.inc = &inc;
  }
  if (req.has_param("exclude_fields") && !req.get_param_value("exclude_fields").empty()) {
    exc = field_tree(req.get_param_value("exclude_fields"));
    call.sel.exc = &exc;
  }
  Reply r;
  {
    std::lock_guard lk(mu);
    r = route(call);
  }
  // JSON answers are filtered and written here, outside the lock.
  if (!r.raw && r.status != 204) {
    if (r.filterable) write_json(r.text, r.body, call.sel);
    else r.text = dump_json(r.body);
    r.raw = true;
  }
  return r;
}

void MailchimpEmulator::Impl::finish(Reply& r, const httplib::Request&) const {
  if (r.raw || r.status == 204) return;
  r.text = dump_json(r.body);
}

namespace {

Reply fault_5xx(int status) {
  if (status == 503)
    return raw_reply(503,
                     "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
                     "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n",
                     "text/html");
  if (status == 502) return problem(502, "Bad Gateway", "The server received an invalid response upstream.");
  if (status == 504) return problem(504, "Gateway Timeout", "The server did not answer in time.");
  return problem(500, "Internal Server Error",
                 "An unexpected internal error has occurred. Please contact Support for more information.");
}

}  // namespace

void MailchimpEmulator::Impl::serve(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  if (starts_with(path, "/_emulator/") || path == "/_emulator") {
    Reply r = control(req);
    finish(r, req);
    write_reply(res, r, req);
    return;
  }
  const std::int64_t at = wall_ms();
  if (path != "/3.0" && !starts_with(path, "/3.0/")) {
    Reply r = problem(404, "Resource Not Found", "The requested resource could not be found.");
    finish(r, req);
    write_reply(res, r, req);
    record_request(req, r.status, nullptr, at);
    return;
  }
  const std::string sub_path = path.substr(4);  // "" or "/lists/..."

  // Requests in progress: counted from arrival until the handler returns.
  const int n = ++in_flight;
  struct Leave {
    std::atomic<int>& count;
    ~Leave() { --count; }
  } leave{in_flight};
  std::int64_t seen = max_concurrent.load();
  while (n > seen && !max_concurrent.compare_exchange_weak(seen, n)) {
  }
  int limit = 0;
  std::string answer;
  Fault fault = Fault::none;
  std::int64_t slow = 0, hang = 0;
  int status_5xx = 500;
  {
    std::lock_guard lk(ctl_mu);
    limit = opt.max_connections;
    answer = opt.overload_answer;
    if (n > limit) ++throttled_connections;
    else fault = roll_fault(sub_path, slow, status_5xx);
    hang = opt.faults.timeout_ms;
  }
  if (n > limit) {
    Reply r = overload_reply(answer, limit);
    finish(r, req);
    write_reply(res, r, req);
    record_request(req, r.status, nullptr, at);
    return;
  }
  if (slow > 0) sleep_interruptible(slow);

  Reply r;
  switch (fault) {
    case Fault::none:
    case Fault::lost_response:
      r = handle_api(req, sub_path);
      break;
    case Fault::r429:
      r = overload_reply("json", limit);
      break;
    case Fault::r5xx:
      r = fault_5xx(status_5xx);
      break;
    case Fault::timeout:
      sleep_interruptible(hang);
      r = fault_5xx(504);
      break;
    case Fault::drop:
      r.status = 0;
      r.raw = true;
      break;
    case Fault::malformed:
      r = raw_reply(200, R"({"members":[{"id":"62eeb292278cc15f5817cb78f7790b08","email_address":"trunc)", kJson);
      break;
  }
  finish(r, req);
  if (fault == Fault::drop) {
    if (shutdown_connections(bound_port, req.remote_port) == 0)
      write_partial(res, raw_reply(200, R"({"members":[],"total_items":0})", kJson));
    else
      res.status = 500;  // never reaches the client
  } else if (fault == Fault::lost_response) {
    write_partial(res, r);
  } else {
    write_reply(res, r, req);
  }
  record_request(req, r.status, fault == Fault::none ? nullptr : fault_name(fault), at);
}

void MailchimpEmulator::Impl::record_request(const httplib::Request& req, int status, const char* fault,
                                             std::int64_t at) {
  json entry{{"method", req.method},
             {"path", req.path},
             {"query", query_of(req)},
             {"status", status},
             {"fault", fault == nullptr ? json() : json(fault)},
             {"at_ms", at},
             {"body", req.body.substr(0, kLogBodyChars)}};
  {
    std::lock_guard lk(ctl_mu);
    ++n_requests;
    ++by_status[std::to_string(status)];
    log.push_back(entry);
    while (log.size() > kMaxLogEntries) log.pop_front();
  }
  std::lock_guard lk(listener_mu);
  if (listener) listener(entry);
}

// ---------------------------------------------------------------------------------------------
// Control endpoints: no auth, no connection limit, not in stats or the log.

Reply MailchimpEmulator::Impl::control(const httplib::Request& req) {
  const std::string& path = req.path;
  const std::string& m = req.method;
  auto ok = [](json b = {{"ok", true}}) { return json_reply(std::move(b)); };
  json body;
  if (!req.body.empty()) {
    try {
      body = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return control_error(400, std::string("invalid JSON: ") + e.what());
    }
  }
  try {
    if (path == "/_emulator/faults" && m == "POST") {
      MailchimpFaults f = mailchimp_faults_from_json(body.is_null() ? json::object() : body);
      std::lock_guard lk(ctl_mu);
      set_faults_locked(f);
      return ok();
    }
    if (path == "/_emulator/faults" && m == "GET") {
      std::lock_guard lk(ctl_mu);
      return ok(mailchimp_faults_to_json(opt.faults));
    }
    if (path == "/_emulator/seed" && m == "POST") {
      std::lock_guard lk(mu);
      load_seed_locked(body);
      return ok();
    }
    if (path == "/_emulator/lists" && m == "GET") {
      std::lock_guard lk(mu);
      json out = json::array();
      for (const auto& [id, l] : lists) out.push_back({{"id", id}, {"name", l->name}});
      return ok(out);
    }
    static constexpr std::string_view kMembers = "/_emulator/members/";
    if (starts_with(path, kMembers) && m == "GET") {
      const std::string id = path.substr(kMembers.size());
      const std::string archived = req.has_param("archived") ? req.get_param_value("archived") : "false";
      if (archived != "true" && archived != "false") return control_error(400, "archived must be true or false");
      std::lock_guard lk(mu);
      const List* l = find_list(id);
      if (l == nullptr) return control_error(404, "no list " + id);
      json out = json::array();
      for (const Member* mem : l->order)
        if (mem != nullptr && (archived == "true" || mem->status != "archived")) out.push_back(render_member(*l, *mem));
      return ok(out);
    }
    if (path == "/_emulator/requests" && m == "GET") {
      std::lock_guard lk(ctl_mu);
      return ok(json(std::vector<json>(log.begin(), log.end())));
    }
    if (path == "/_emulator/stats" && m == "GET") {
      std::lock_guard lk(ctl_mu);
      return ok(stats_locked());
    }
    if (path == "/_emulator/reset-stats" && m == "POST") {
      std::lock_guard lk(ctl_mu);
      reset_stats_locked();
      return ok();
    }
    if (path == "/_emulator/time" && m == "POST") {
      if (!body.is_object() || !body.contains("frozen_ms") ||
          !(body["frozen_ms"].is_null() || body["frozen_ms"].is_number_integer()))
        return control_error(400, "expected {\"frozen_ms\": N or null}");
      std::lock_guard lk(mu);
      frozen = !body["frozen_ms"].is_null();
      frozen_s = frozen ? floor_div(body["frozen_ms"].get<std::int64_t>(), 1000) : 0;
      return ok();
    }
    if (path == "/_emulator/touch" && m == "POST") {
      if (!body.is_object() || !body.contains("list_id") || !body.contains("member") || !body["list_id"].is_string() ||
          !body["member"].is_string())
        return control_error(400, "expected {\"list_id\": \"...\", \"member\": \"email or subscriber hash\"}");
      std::lock_guard lk(mu);
      const std::int64_t ts = touch_locked(body["list_id"].get<std::string>(), body["member"].get<std::string>());
      return ok({{"ok", true}, {"last_changed", iso_s(ts)}});
    }
    if (path == "/_emulator/options" && m == "POST") {
      update_options(body);
      return ok();
    }
  } catch (const std::out_of_range& e) {
    return control_error(404, e.what());
  } catch (const std::invalid_argument& e) {
    return control_error(400, e.what());
  } catch (const json::exception& e) {
    return control_error(400, e.what());
  }
  return control_error(404, "unknown control endpoint " + m + " " + path);
}

}  // namespace synctool::emulators
