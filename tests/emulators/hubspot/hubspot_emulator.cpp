// The HubSpot CRM v3 emulator: server, authentication, rate limits, faults, request log.
// The object store and the CRM handlers are in hubspot_crm.cpp; small helpers in hubspot_util.cpp.
#include "emulators/hubspot/hubspot_internal.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <zlib.h>

namespace synctool::emulators {

using namespace hubspot_detail;

namespace {

constexpr std::size_t kMaxLogEntries = 50000;
constexpr std::size_t kLogBodyChars = 2000;
constexpr std::size_t kGzipMinBytes = 512;
constexpr const char* kJson = "application/json;charset=utf-8";

void sleep_ms(std::int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Shuts down (without closing: httplib owns the descriptors) this process's TCP sockets whose
// local port is `local_port` and, when remote_port >= 0, whose peer port is `remote_port`.
// Listening sockets are left alone. Returns how many were shut down.
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

std::string query_of(const httplib::Request& req) {
  const auto q = req.target.find('?');
  return q == std::string::npos ? std::string() : req.target.substr(q + 1);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction, lifecycle

HubspotEmulator::Impl::Impl(HubspotEmulatorOptions o) : opt(std::move(o)) {
  faults = opt.faults;
  fault_rng.seed(faults.seed);
  refresh_tokens[opt.refresh_token] = -1;
  install_builtin_types();
}

HubspotEmulator::HubspotEmulator(HubspotEmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HubspotEmulator::~HubspotEmulator() { stop(); }

void HubspotEmulator::start() {
  Impl& im = *impl_;
  if (im.svr) return;
  im.stopping = false;
  im.listen_done = false;
  im.svr = std::make_unique<httplib::Server>();
  httplib::Server& svr = *im.svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(32); };
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
    res.status = 500;
    res.set_content(nlohmann::json{{"status", "error"},
                                   {"message", "internal emulator error: " + what},
                                   {"correlationId", uuid4()},
                                   {"category", "INTERNAL_ERROR"}}
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    kJson);
  });
  // Errors httplib produces by itself (bad request line, unsupported method...): HubSpot's shape.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty() || res.content_length_ != 0) return httplib::Server::HandlerResponse::Unhandled;
    res.set_content(nlohmann::json{{"status", "error"},
                                   {"message", "HTTP " + std::to_string(res.status)},
                                   {"correlationId", uuid4()},
                                   {"category", res.status == 404 ? "OBJECT_NOT_FOUND" : "VALIDATION_ERROR"}}
                        .dump(),
                    kJson);
    return httplib::Server::HandlerResponse::Handled;
  }));
  int port = im.opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port("127.0.0.1");
    if (port <= 0) {
      im.svr.reset();
      throw std::runtime_error("hubspot emulator: cannot bind 127.0.0.1");
    }
  } else if (!svr.bind_to_port("127.0.0.1", port)) {
    im.svr.reset();
    throw std::runtime_error("hubspot emulator: cannot bind 127.0.0.1:" + std::to_string(port));
  }
  im.bound_port = port;
  im.thread = std::thread([&im] {
    im.svr->listen_after_bind();
    im.listen_done = true;
  });
  for (int i = 0; i < 5000 && !svr.is_running() && !im.listen_done; ++i) sleep_ms(1);
}

void HubspotEmulator::stop() {
  Impl& im = *impl_;
  if (!im.svr) return;
  im.stopping = true;
  // httplib's stop() only works once the accept loop runs.
  for (int i = 0; i < 5000 && !im.svr->is_running() && !im.listen_done; ++i) sleep_ms(1);
  im.svr->stop();
  // Idle keep-alive connections would hold their worker (and so stop()) for the keep-alive
  // timeout: shut them down until the server's pool has drained.
  while (!im.listen_done) {
    shutdown_server_connections(im.bound_port, -1);
    sleep_ms(5);
  }
  if (im.thread.joinable()) im.thread.join();
  im.svr.reset();
}

int HubspotEmulator::port() const { return impl_->bound_port; }

std::string HubspotEmulator::base_url() const { return "http://127.0.0.1:" + std::to_string(impl_->bound_port); }

std::string HubspotEmulator::Impl::base_url() const { return "http://127.0.0.1:" + std::to_string(bound_port); }

void HubspotEmulator::set_faults(const HubspotFaults& f) {
  std::lock_guard lk(impl_->mu);
  impl_->faults = f;
  impl_->fault_rng.seed(f.seed);
  impl_->faults_since_set = 0;
}

void HubspotEmulator::set_frozen_time(std::optional<std::int64_t> epoch_ms) {
  std::lock_guard lk(impl_->mu);
  impl_->frozen = epoch_ms;
}

void HubspotEmulator::expire_tokens() {
  std::lock_guard lk(impl_->mu);
  impl_->expire_tokens_locked();
}

void HubspotEmulator::Impl::expire_tokens_locked() {
  const std::int64_t now = wall_ms();
  for (auto& [token, info] : access_tokens) info.expires_ms = std::min(info.expires_ms, now - 1);
}

nlohmann::json HubspotEmulator::request_log() const {
  std::lock_guard lk(impl_->mu);
  return nlohmann::json(std::vector<nlohmann::json>(impl_->log.begin(), impl_->log.end()));
}

nlohmann::json HubspotEmulator::stats() const {
  std::lock_guard lk(impl_->mu);
  return impl_->stats_locked();
}

nlohmann::json HubspotEmulator::Impl::stats_locked() const {
  nlohmann::json by = nlohmann::json::object();
  for (const auto& [status, n] : by_status) by[status] = n;
  return {{"requests", n_requests},
          {"by_status", by},
          {"throttled_by_limit", throttled_by_limit},
          {"throttled_injected", throttled_injected},
          {"faults_injected", faults_injected},
          {"max_in_any_window", max_in_window},
          {"daily_used", daily_used},
          {"token_refreshes", token_refreshes}};
}

void HubspotEmulator::reset_stats() {
  std::lock_guard lk(impl_->mu);
  impl_->reset_stats_locked();
}

void HubspotEmulator::Impl::reset_stats_locked() {
  log.clear();
  by_status.clear();
  n_requests = throttled_by_limit = throttled_injected = faults_injected = token_refreshes = 0;
  max_in_window = 0;
  all_window.clear();
  daily_used = 0;
}

void HubspotEmulator::update_options(const nlohmann::json& changes) {
  std::lock_guard lk(impl_->mu);
  impl_->update_options_locked(changes);
}

void HubspotEmulator::Impl::update_options_locked(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("options: expected a JSON object");
  HubspotEmulatorOptions o = opt;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    try {
      if (k == "ten_second_limit") o.ten_second_limit = v.get<int>();
      else if (k == "window_ms") o.window_ms = v.get<std::int64_t>();
      else if (k == "daily_limit") o.daily_limit = v.get<std::int64_t>();
      else if (k == "search_per_second") o.search_per_second = v.get<int>();
      else if (k == "search_lag_ms") o.search_lag_ms = v.get<std::int64_t>();
      else if (k == "batch_errors") o.batch_errors = v.get<std::string>();
      else if (k == "shuffle_batch_results") o.shuffle_batch_results = v.get<bool>();
      else if (k == "token_lifetime_s") o.token_lifetime_s = v.get<std::int64_t>();
      else if (k == "rotate_refresh_token") o.rotate_refresh_token = v.get<bool>();
      else throw std::invalid_argument("options: unknown or unchangeable field '" + k + "'");
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument("options: field '" + k + "' has the wrong type");
    }
  }
  if (o.ten_second_limit < 1 || o.window_ms < 1 || o.daily_limit < 0 || o.search_per_second < 1 ||
      o.search_lag_ms < 0 || o.token_lifetime_s < 1)
    throw std::invalid_argument("options: limits must be positive");
  if (o.batch_errors != "partial" && o.batch_errors != "whole")
    throw std::invalid_argument("options: batch_errors must be \"partial\" or \"whole\"");
  opt = o;
}

void HubspotEmulator::set_request_listener(std::function<void(const nlohmann::json&)> listener) {
  std::lock_guard lk(impl_->listener_mu);
  impl_->listener = std::move(listener);
}

// ---------------------------------------------------------------------------------------------
// Request handling

namespace {

Reply rate_limit_429(const std::string& policy) {
  const bool daily = policy == "DAILY";
  const bool secondly = policy == "SECONDLY";
  nlohmann::json b{{"status", "error"},
                   {"message", daily      ? "You have reached your daily limit."
                               : secondly ? "You have reached your secondly limit."
                                          : "You have reached your ten_secondly_rolling limit."},
                   {"errorType", "RATE_LIMIT"},
                   {"correlationId", uuid4()},
                   {"policyName", policy}};
  return Reply{429, dump_json(b), {}};
}

}  // namespace

void HubspotEmulator::Impl::add_rate_headers(Reply& r, std::size_t in_window, bool exhausted) const {
  const std::int64_t remaining =
      exhausted ? 0 : std::max<std::int64_t>(0, opt.ten_second_limit - static_cast<std::int64_t>(in_window));
  r.headers.emplace_back("X-HubSpot-RateLimit-Max", std::to_string(opt.ten_second_limit));
  r.headers.emplace_back("X-HubSpot-RateLimit-Remaining", std::to_string(remaining));
  r.headers.emplace_back("X-HubSpot-RateLimit-Interval-Milliseconds", std::to_string(opt.window_ms));
  r.headers.emplace_back("X-HubSpot-RateLimit-Daily", std::to_string(opt.daily_limit));
  r.headers.emplace_back("X-HubSpot-RateLimit-Daily-Remaining",
                         std::to_string(std::max<std::int64_t>(0, opt.daily_limit - daily_used)));
}

void HubspotEmulator::Impl::note_arrival() {
  const std::int64_t now = steady_ms();
  while (!all_window.empty() && all_window.front() <= now - opt.window_ms) all_window.pop_front();
  all_window.push_back(now);
  max_in_window = std::max<std::int64_t>(max_in_window, static_cast<std::int64_t>(all_window.size()));
}

std::optional<Reply> HubspotEmulator::Impl::authenticate(const httplib::Request& req, std::string& bucket) {
  const std::string header = req.get_header_value("Authorization");
  std::string token;
  if (header.size() > 7 && lower(header.substr(0, 7)) == "bearer ") token = trim(header.substr(7));
  if (!token.empty() && token == opt.private_app_token) {
    bucket = "private-app";
    return std::nullopt;
  }
  if (!token.empty()) {
    auto it = access_tokens.find(token);
    if (it != access_tokens.end()) {
      const std::int64_t now = wall_ms();
      if (it->second.expires_ms <= now) {
        const std::int64_t ago = (now - it->second.expires_ms) / 1000;
        return Reply{401,
                     dump_json({{"status", "error"},
                                {"message", "The OAuth token used to make this call expired " + std::to_string(ago) +
                                                " second(s) ago."},
                                {"correlationId", uuid4()},
                                {"category", "EXPIRED_AUTHENTICATION"}}),
                     {}};
      }
      bucket = "oauth:" + it->second.client_id;
      return std::nullopt;
    }
  }
  return Reply{401,
               dump_json({{"status", "error"},
                          {"message",
                           "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                           "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"},
                          {"correlationId", uuid4()},
                          {"category", "INVALID_AUTHENTICATION"}}),
               {}};
}

// Counts an authenticated request against the limits; answers the 429 when one is exceeded.
// Rejected requests do not count.
std::optional<Reply> HubspotEmulator::Impl::rate_limit(const std::string& bucket, bool search,
                                                       std::vector<std::pair<std::string, std::string>>& headers) {
  const std::int64_t now = steady_ms();
  if (search) {
    if (daily_used >= opt.daily_limit) {
      ++throttled_by_limit;
      return rate_limit_429("DAILY");
    }
    auto& dq = search_windows[bucket];
    while (!dq.empty() && dq.front() <= now - 1000) dq.pop_front();
    if (static_cast<std::int64_t>(dq.size()) >= opt.search_per_second) {
      ++throttled_by_limit;
      return rate_limit_429("SECONDLY");
    }
    dq.push_back(now);
    ++daily_used;
    return std::nullopt;
  }
  auto& dq = ten_windows[bucket];
  while (!dq.empty() && dq.front() <= now - opt.window_ms) dq.pop_front();
  if (daily_used >= opt.daily_limit) {
    ++throttled_by_limit;
    Reply r = rate_limit_429("DAILY");
    add_rate_headers(r, dq.size(), false);
    return r;
  }
  if (static_cast<std::int64_t>(dq.size()) >= opt.ten_second_limit) {
    ++throttled_by_limit;
    Reply r = rate_limit_429("TEN_SECONDLY_ROLLING");
    add_rate_headers(r, dq.size(), true);
    return r;
  }
  dq.push_back(now);
  ++daily_used;
  Reply tmp;
  add_rate_headers(tmp, dq.size(), false);
  headers = std::move(tmp.headers);
  return std::nullopt;
}

Fault HubspotEmulator::Impl::roll_fault(const std::string& path, bool crm, bool oauth, std::int64_t& slow,
                                        int& status_5xx) {
  if (!crm && !(oauth && faults.include_oauth)) return Fault::none;
  if (!faults.paths.empty()) {
    bool match = false;
    for (const auto& p : faults.paths) match = match || starts_with(path, p);
    if (!match) return Fault::none;
  }
  slow = faults.slow_ms;
  if (faults.max_faults >= 0 && faults_since_set >= faults.max_faults) return Fault::none;
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  Fault f = Fault::none;
  if (faults.rate_429 > 0 && uni(fault_rng) < faults.rate_429) f = Fault::r429;
  else if (faults.rate_500 > 0 && uni(fault_rng) < faults.rate_500) f = Fault::r5xx;
  else if (faults.rate_timeout > 0 && uni(fault_rng) < faults.rate_timeout) f = Fault::timeout;
  else if (faults.rate_drop > 0 && uni(fault_rng) < faults.rate_drop) f = Fault::drop;
  else if (faults.rate_lost_response > 0 && uni(fault_rng) < faults.rate_lost_response) f = Fault::lost_response;
  else if (faults.rate_malformed > 0 && uni(fault_rng) < faults.rate_malformed) f = Fault::malformed;
  if (f == Fault::none) return f;
  if (f == Fault::r5xx) {
    static constexpr int kStatuses[] = {500, 502, 503, 504};
    status_5xx = kStatuses[std::uniform_int_distribution<int>(0, 3)(fault_rng)];
  }
  ++faults_since_set;
  ++faults_injected;
  if (f == Fault::r429) ++throttled_injected;
  return f;
}

void HubspotEmulator::Impl::sleep_interruptible(std::int64_t ms) const {
  const std::int64_t until = steady_ms() + ms;
  while (!stopping) {
    const std::int64_t left = until - steady_ms();
    if (left <= 0) return;
    sleep_ms(std::min<std::int64_t>(left, 20));
  }
}

namespace {

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

// HubSpot's content type, which httplib does not compress by itself (its compiled library
// would pick brotli at its slowest setting): answers of some size are gzipped here instead.
void write_reply(httplib::Response& res, const Reply& r, const httplib::Request* req = nullptr) {
  res.status = r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  if (r.status == 204) return;
  if (req != nullptr && r.body.size() >= kGzipMinBytes && accepts_gzip(*req)) {
    if (auto z = gzip(r.body)) {
      res.set_header("Content-Encoding", "gzip");
      res.set_header("Vary", "Accept-Encoding");
      res.set_content(*z, kJson);
      return;
    }
  }
  res.set_content(r.body, kJson);
}

// Headers and half of the body, then the connection closes: the client sees an incomplete
// response.
void write_partial(httplib::Response& res, const Reply& r) {
  res.status = r.status == 204 ? 200 : r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  std::string body = r.body.size() >= 2 ? r.body : std::string("{\"status\":\"COMPLETE\",\"results\":[]}");
  const std::size_t length = body.size();
  res.set_content_provider(length, kJson,
                           [body = std::move(body)](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                             if (offset == 0) sink.write(body.data(), body.size() / 2);
                             return false;
                           });
}

}  // namespace

void HubspotEmulator::Impl::serve(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  if (starts_with(path, "/_emulator/") || path == "/_emulator") {
    write_reply(res, control(req), &req);
    return;
  }
  const std::int64_t at = wall_ms();
  const bool crm = starts_with(path, "/crm/");
  const bool oauth = starts_with(path, "/oauth/");
  const bool search = crm && req.method == "POST" && path.size() > 7 && path.ends_with("/search");
  Fault fault = Fault::none;
  std::int64_t slow = 0, hang = 0;
  int status_5xx = 500;
  {
    std::lock_guard lk(mu);
    if (crm && !search) note_arrival();
    fault = roll_fault(path, crm, oauth, slow, status_5xx);
    hang = faults.timeout_ms;
  }
  if (slow > 0) sleep_interruptible(slow);

  Reply r;
  switch (fault) {
    case Fault::none:
    case Fault::lost_response:
      r = oauth ? handle_oauth(req) : crm ? handle_crm(req, search) : not_found(req);
      break;
    case Fault::r429: {
      r = rate_limit_429("TEN_SECONDLY_ROLLING");
      std::lock_guard lk(mu);
      add_rate_headers(r, 0, true);
      break;
    }
    case Fault::r5xx:
      r = Reply{status_5xx,
                dump_json({{"status", "error"},
                           {"message", status_5xx == 500 ? "internal error" : "The server is temporarily unavailable"},
                           {"correlationId", uuid4()},
                           {"category", status_5xx == 500 ? "INTERNAL_ERROR" : "SERVICE_UNAVAILABLE"}}),
                {}};
      break;
    case Fault::timeout:
      sleep_interruptible(hang);
      r = Reply{504,
                dump_json({{"status", "error"},
                           {"message", "Gateway timeout"},
                           {"correlationId", uuid4()},
                           {"category", "GATEWAY_TIMEOUT"}}),
                {}};
      break;
    case Fault::drop:
      r = Reply{0, "", {}};
      break;
    case Fault::malformed:
      r = Reply{200, R"({"results":[{"id":"1","properties":{"email":"trunc)", {}};
      break;
  }

  if (fault == Fault::drop) {
    if (shutdown_server_connections(bound_port, req.remote_port) == 0)
      write_partial(res, Reply{200, R"({"status":"COMPLETE","results":[]})", {}});
    else
      res.status = 500;  // never reaches the client
  } else if (fault == Fault::lost_response) {
    write_partial(res, r);
  } else {
    write_reply(res, r, &req);
  }
  record_request(req, r.status, fault == Fault::none ? nullptr : fault_name(fault), at);
}

void HubspotEmulator::Impl::record_request(const httplib::Request& req, int status, const char* fault,
                                           std::int64_t at) {
  nlohmann::json entry{{"method", req.method},
                       {"path", req.path},
                       {"query", query_of(req)},
                       {"status", status},
                       {"fault", fault == nullptr ? nlohmann::json() : nlohmann::json(fault)},
                       {"at_ms", at},
                       {"body", req.body.substr(0, kLogBodyChars)}};
  {
    std::lock_guard lk(mu);
    ++n_requests;
    ++by_status[std::to_string(status)];
    log.push_back(entry);
    while (log.size() > kMaxLogEntries) log.pop_front();
  }
  std::lock_guard lk(listener_mu);
  if (listener) listener(entry);
}

Reply HubspotEmulator::Impl::not_found(const httplib::Request& req) const {
  return Reply{404,
               dump_json({{"status", "error"},
                          {"message", "Unable to route request: " + req.method + " " + req.path},
                          {"correlationId", uuid4()},
                          {"category", "OBJECT_NOT_FOUND"}}),
               {}};
}

Reply HubspotEmulator::Impl::handle_crm(const httplib::Request& req, bool search) {
  Call call{req, split_path(req.path), nlohmann::json(), ""};
  if (!req.body.empty()) {
    try {
      call.body = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::parse_error& e) {
      call.body_error = std::string("Invalid input JSON: ") + e.what();
    }
  }
  std::lock_guard lk(mu);
  std::string bucket;
  if (auto r = authenticate(req, bucket)) return *r;
  std::vector<std::pair<std::string, std::string>> headers;
  if (auto r = rate_limit(bucket, search, headers)) return *r;
  Reply r;
  if (!call.body_error.empty()) r = error_reply(400, call.body_error, "VALIDATION_ERROR");
  else r = route_crm(call);
  for (auto& h : headers) r.headers.push_back(std::move(h));
  return r;
}

// ---------------------------------------------------------------------------------------------
// OAuth

namespace {

std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  for (const auto& part : split(body, '&')) {
    if (part.empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string::npos) out[url_decode(part)] = "";
    else out[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
  }
  return out;
}

Reply oauth_error(const std::string& status, const std::string& message) {
  return Reply{400, dump_json({{"status", status}, {"message", message}, {"correlationId", uuid4()}}), {}};
}

}  // namespace

Reply HubspotEmulator::Impl::handle_oauth(const httplib::Request& req) {
  const std::string& path = req.path;
  if (path == "/oauth/v1/token") {
    if (req.method != "POST") return error_reply(405, "Method not allowed", "VALIDATION_ERROR");
    auto form = parse_form(req.body);
    for (const auto& [k, v] : req.params)
      if (!form.count(k)) form[k] = v;
    std::lock_guard lk(mu);
    const std::string grant = form["grant_type"];
    if (grant != "refresh_token" && grant != "client_credentials" && grant != "authorization_code")
      return oauth_error("BAD_GRANT_TYPE", "missing or unsupported grant_type: " + grant);
    if (form["client_id"] != opt.client_id) return oauth_error("BAD_CLIENT_ID", "missing or unknown client_id");
    if (form["client_secret"] != opt.client_secret)
      return oauth_error("BAD_CLIENT_SECRET", "missing or invalid client_secret");
    std::string refresh;
    if (grant == "refresh_token") {
      const std::string given = form["refresh_token"];
      auto it = refresh_tokens.find(given);
      if (given.empty() || it == refresh_tokens.end() || it->second == 0)
        return oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token");
      if (opt.rotate_refresh_token) {
        // The old token stays valid for one more use, then it is gone.
        if (it->second < 0) it->second = 1;
        else --it->second;
        refresh = "emulator-refresh-" + std::to_string(++token_counter) + "-" + uuid4();
        refresh_tokens[refresh] = -1;
      } else {
        refresh = given;
      }
    } else if (grant == "authorization_code") {
      if (form["code"].empty()) return oauth_error("BAD_AUTH_CODE", "missing or unknown auth code");
      refresh = opt.refresh_token;
      if (!refresh_tokens.count(refresh)) refresh_tokens[refresh] = -1;
    }
    const std::string access = "emu-access-" + std::to_string(++token_counter) + "-" + uuid4();
    access_tokens[access] = AccessToken{wall_ms() + opt.token_lifetime_s * 1000, opt.client_id};
    ++token_refreshes;
    nlohmann::json b{{"access_token", access}, {"expires_in", opt.token_lifetime_s}, {"token_type", "bearer"}};
    if (!refresh.empty()) b["refresh_token"] = refresh;
    return Reply{200, dump_json(b), {}};
  }
  static constexpr std::string_view kInfo = "/oauth/v1/access-tokens/";
  if (starts_with(path, kInfo) && req.method == "GET") {
    std::lock_guard lk(mu);
    auto it = access_tokens.find(path.substr(kInfo.size()));
    const std::int64_t now = wall_ms();
    if (it == access_tokens.end() || it->second.expires_ms <= now)
      return Reply{404, dump_json({{"status", "error"}, {"message", "Token not found"}, {"correlationId", uuid4()}}),
                   {}};
    return Reply{200,
                 dump_json({{"token", it->first},
                            {"user", "emulator@example.com"},
                            {"hub_domain", "emulator.hubspot.local"},
                            {"scopes", {"crm.objects.contacts.read", "crm.objects.contacts.write",
                                        "crm.objects.companies.read", "crm.objects.companies.write",
                                        "crm.objects.deals.read", "crm.objects.deals.write", "crm.schemas.contacts.read",
                                        "crm.objects.custom.read", "crm.objects.custom.write"}},
                            {"hub_id", 12345678},
                            {"app_id", 1000},
                            {"expires_in", (it->second.expires_ms - now) / 1000},
                            {"user_id", 1},
                            {"token_type", "access"}}),
                 {}};
  }
  return not_found(req);
}

// ---------------------------------------------------------------------------------------------
// Control endpoints: no auth, no limits, not in stats or the log.

Reply HubspotEmulator::Impl::control(const httplib::Request& req) {
  const std::string& path = req.path;
  const std::string& m = req.method;
  auto ok = [](nlohmann::json b = {{"ok", true}}) { return Reply{200, dump_json(b), {}}; };
  auto bad = [](const std::string& msg) {
    return Reply{400, dump_json({{"status", "error"}, {"message", msg}, {"category", "VALIDATION_ERROR"}}), {}};
  };
  nlohmann::json body;
  if (!req.body.empty()) {
    try {
      body = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::parse_error& e) {
      return bad(std::string("invalid JSON: ") + e.what());
    }
  }
  try {
    if (path == "/_emulator/faults" && m == "POST") {
      HubspotFaults f = hubspot_faults_from_json(body.is_null() ? nlohmann::json::object() : body);
      std::lock_guard lk(mu);
      faults = f;
      fault_rng.seed(f.seed);
      faults_since_set = 0;
      return ok();
    }
    if (path == "/_emulator/faults" && m == "GET") {
      std::lock_guard lk(mu);
      return ok(hubspot_faults_to_json(faults));
    }
    if (path == "/_emulator/seed" && m == "POST") {
      std::lock_guard lk(mu);
      load_seed_locked(body);
      return ok();
    }
    static constexpr std::string_view kObjects = "/_emulator/objects/";
    if (starts_with(path, kObjects) && m == "GET") {
      const std::string type = path.substr(kObjects.size());
      const std::string archived = req.has_param("archived") ? req.get_param_value("archived") : "false";
      if (archived != "true" && archived != "false" && archived != "all")
        return bad("archived must be true, false or all");
      std::lock_guard lk(mu);
      const ObjectType* t = find_type(type);
      if (t == nullptr) return Reply{404, dump_json({{"status", "error"}, {"message", "unknown type " + type}}), {}};
      nlohmann::json out = nlohmann::json::array();
      for (const auto& [id, rec] : t->records) {
        if (archived == "false" && rec.cur.archived) continue;
        if (archived == "true" && !rec.cur.archived) continue;
        out.push_back(render(*t, id, rec.cur, PropSel::everything()));
      }
      return ok(out);
    }
    if (path == "/_emulator/requests" && m == "GET") {
      std::lock_guard lk(mu);
      return ok(nlohmann::json(std::vector<nlohmann::json>(log.begin(), log.end())));
    }
    if (path == "/_emulator/stats" && m == "GET") {
      std::lock_guard lk(mu);
      return ok(stats_locked());
    }
    if (path == "/_emulator/reset-stats" && m == "POST") {
      std::lock_guard lk(mu);
      reset_stats_locked();
      return ok();
    }
    if (path == "/_emulator/time" && m == "POST") {
      if (!body.is_object() || !body.contains("frozen_ms")) return bad("expected {\"frozen_ms\": N or null}");
      std::lock_guard lk(mu);
      if (body["frozen_ms"].is_null()) frozen.reset();
      else frozen = body["frozen_ms"].get<std::int64_t>();
      return ok();
    }
    if (path == "/_emulator/touch" && m == "POST") {
      if (!body.is_object() || !body.contains("type") || !body.contains("id"))
        return bad("expected {\"type\": ..., \"id\": ...}");
      const std::string id = body["id"].is_string() ? body["id"].get<std::string>() : body["id"].dump();
      std::lock_guard lk(mu);
      const std::int64_t ts = touch_locked(body["type"].get<std::string>(), id);
      return ok({{"ok", true}, {"updatedAt", iso_ms(ts)}});
    }
    if (path == "/_emulator/expire-tokens" && m == "POST") {
      std::lock_guard lk(mu);
      expire_tokens_locked();
      return ok();
    }
    if (path == "/_emulator/options" && m == "POST") {
      std::lock_guard lk(mu);
      update_options_locked(body);
      return ok();
    }
  } catch (const std::out_of_range& e) {
    return Reply{404, dump_json({{"status", "error"}, {"message", e.what()}}), {}};
  } catch (const std::invalid_argument& e) {
    return bad(e.what());
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  return Reply{404, dump_json({{"status", "error"}, {"message", "unknown control endpoint " + m + " " + path}}), {}};
}

}  // namespace synctool::emulators
