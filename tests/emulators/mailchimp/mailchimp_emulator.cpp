// The Mailchimp Marketing API v3 emulator: server, authentication, the connection limit,
// faults, gzip, the request log, stats and the control endpoints. The store is in
// mailchimp_store.cpp, the /3.0 handlers in mailchimp_api.cpp, small helpers in mailchimp_util.cpp.
#include "emulators/mailchimp/mailchimp_internal.hpp"

namespace synctool::emulators {

using namespace mailchimp_detail;
using json = nlohmann::json;

namespace {

constexpr std::size_t kGzipMinBytes = 1024;
constexpr int kWorkerThreads = 64;  // well above max_connections, plus idle keep-alive connections
constexpr const char* kJson = "application/json; charset=utf-8";
constexpr const char* kProblem = "application/problem+json; charset=utf-8";

std::string content_type_of(const Reply& r) {
  if (!r.content_type.empty()) return r.content_type;
  return r.status >= 400 ? kProblem : kJson;
}

// The answer as is, gzipped when it has some size and the client accepts it.
void write_reply(httplib::Response& res, const Reply& r, const httplib::Request& req) {
  common::write_answer(res, r.status, r.headers, r.text, content_type_of(r), &req, kGzipMinBytes);
}

// Headers and half of the body, then the connection closes.
void write_partial(httplib::Response& res, const Reply& r) {
  common::write_partial(res, r.status, r.headers, r.text, R"({"new_members":[],"updated_members":[]})",
                        content_type_of(r));
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
  fault_dice.reset(opt.faults.seed);
  since_inclusive = opt.since_inclusive;
}

MailchimpEmulator::MailchimpEmulator(MailchimpEmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

MailchimpEmulator::~MailchimpEmulator() { stop(); }

void MailchimpEmulator::start() {
  Impl& im = *impl_;
  common::ServerSettings settings;
  settings.name = "mailchimp emulator";
  settings.threads = kWorkerThreads;
  // A fixed --port is not shared with a second process; bursts of new connections (a client
  // opening its 10 at once) find room in the listen queue.
  settings.exclusive_port = true;
  settings.handler = [&im](const httplib::Request& req, httplib::Response& res) { im.serve(req, res); };
  settings.on_exception = [](httplib::Response& res, const std::string& what) {
    std::string detail = "internal emulator error: ";
    detail += what;
    Reply r = problem(500, "Internal Server Error", detail);
    res.set_content(dump_json(r.body), kProblem);
  };
  // Errors httplib produces by itself (bad request line, unsupported method...): Mailchimp's shape.
  settings.on_error = [](httplib::Response& res) {
    const char* title = res.status == 404   ? "Resource Not Found"
                        : res.status == 405 ? "Method Not Allowed"
                        : res.status >= 500 ? "Internal Server Error"
                                            : "Invalid Resource";
    std::string detail = "HTTP ";
    detail += std::to_string(res.status);
    Reply r = problem(res.status, title, detail);
    res.set_content(dump_json(r.body), kProblem);
  };
  im.server.start(im.opt.port, settings);
}

void MailchimpEmulator::stop() { impl_->server.stop(); }

int MailchimpEmulator::port() const { return impl_->server.port(); }

std::string MailchimpEmulator::base_url() const {
  std::string url = "http://127.0.0.1:";
  url += std::to_string(impl_->server.port());
  url += "/3.0";
  return url;
}

void MailchimpEmulator::set_faults(const MailchimpFaults& f) {
  std::lock_guard lk(impl_->ctl_mu);
  impl_->set_faults_locked(f);
}

void MailchimpEmulator::Impl::set_faults_locked(const MailchimpFaults& f) {
  opt.faults = f;
  fault_dice.reset(f.seed);
}

void MailchimpEmulator::set_frozen_time(std::optional<std::int64_t> epoch_ms) {
  std::lock_guard lk(impl_->mu);
  impl_->frozen = epoch_ms.has_value();
  impl_->frozen_s = epoch_ms.has_value() ? floor_div(*epoch_ms, 1000) : 0;
}

nlohmann::json MailchimpEmulator::request_log() const {
  std::lock_guard lk(impl_->ctl_mu);
  return impl_->requests.entries_json();
}

nlohmann::json MailchimpEmulator::stats() const {
  std::lock_guard lk(impl_->ctl_mu);
  return impl_->stats_locked();
}

nlohmann::json MailchimpEmulator::Impl::stats_locked() const {
  return {{"requests", requests.requests},
          {"by_status", requests.by_status_json()},
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
  requests.clear();
  faults_injected = throttled_connections = 0;
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
  impl_->listener.set(std::move(listener));
}

// ---------------------------------------------------------------------------------------------
// Request handling

bool MailchimpEmulator::Impl::authorized(const httplib::Request& req) const {
  const std::string header = trim(req.get_header_value("Authorization"));
  const std::string scheme = lower(header.substr(0, header.find(' ')));
  const std::string credentials = header.find(' ') == std::string::npos ? "" : trim(header.substr(header.find(' ')));
  if (scheme == "basic") {
    const std::optional<std::string> decoded = base64_decode(credentials);
    if (!decoded) return false;
    const auto colon = decoded->find(':');
    return colon != std::string::npos && decoded->substr(colon + 1) == api_key;
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
    else fault = fault_dice.roll(opt.faults, sub_path, slow, status_5xx);
    if (fault != Fault::none) ++faults_injected;
    hang = opt.faults.timeout_ms;
  }
  if (n > limit) {
    Reply r = overload_reply(answer, limit);
    finish(r, req);
    write_reply(res, r, req);
    record_request(req, r.status, nullptr, at);
    return;
  }
  if (slow > 0) server.sleep_interruptible(slow);

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
      server.sleep_interruptible(hang);
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
    if (!server.drop_connection(req.remote_port))
      write_partial(res, raw_reply(200, R"({"members":[],"total_items":0})", kJson));
    else
      res.status = 500;  // never reaches the client
  } else if (fault == Fault::lost_response) {
    write_partial(res, r);
  } else {
    write_reply(res, r, req);
  }
  record_request(req, r.status, fault == Fault::none ? nullptr : common::fault_name(fault), at);
}

void MailchimpEmulator::Impl::record_request(const httplib::Request& req, int status, const char* fault,
                                             std::int64_t at) {
  const json entry = common::RequestLog::entry(req, status, fault, at);
  {
    std::lock_guard lk(ctl_mu);
    requests.add(entry, status);
  }
  listener.notify(entry);
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
      return ok(requests.entries_json());
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
