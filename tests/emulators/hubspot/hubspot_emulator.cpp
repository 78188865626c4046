// The HubSpot CRM v3 emulator: server, authentication, rate limits, faults, request log.
// The object store and the CRM handlers are in hubspot_crm.cpp; small helpers in hubspot_util.cpp.
#include "emulators/hubspot/hubspot_internal.hpp"

namespace synctool::emulators {

using namespace hubspot_detail;

namespace {

constexpr std::size_t kGzipMinBytes = 512;
constexpr const char* kJson = "application/json;charset=utf-8";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction, lifecycle

HubspotEmulator::Impl::Impl(HubspotEmulatorOptions o) : opt(std::move(o)) {
  faults = opt.faults;
  fault_dice.reset(faults.seed);
  refresh_tokens[opt.refresh_token] = -1;
  install_builtin_types();
}

HubspotEmulator::HubspotEmulator(HubspotEmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HubspotEmulator::~HubspotEmulator() { stop(); }

void HubspotEmulator::start() {
  Impl& im = *impl_;
  common::ServerSettings settings;
  settings.name = "hubspot emulator";
  settings.threads = 32;
  settings.handler = [&im](const httplib::Request& req, httplib::Response& res) { im.serve(req, res); };
  settings.on_exception = [](httplib::Response& res, const std::string& what) {
    std::string message = "internal emulator error: ";
    message += what;
    res.set_content(dump_json({{"status", "error"},
                               {"message", message},
                               {"correlationId", uuid4()},
                               {"category", "INTERNAL_ERROR"}}),
                    kJson);
  };
  // Errors httplib produces by itself (bad request line, unsupported method...): HubSpot's shape.
  settings.on_error = [](httplib::Response& res) {
    std::string message = "HTTP ";
    message += std::to_string(res.status);
    res.set_content(nlohmann::json{{"status", "error"},
                                   {"message", message},
                                   {"correlationId", uuid4()},
                                   {"category", res.status == 404 ? "OBJECT_NOT_FOUND" : "VALIDATION_ERROR"}}
                        .dump(),
                    kJson);
  };
  im.server.start(im.opt.port, settings);
}

void HubspotEmulator::stop() { impl_->server.stop(); }

int HubspotEmulator::port() const { return impl_->server.port(); }

std::string HubspotEmulator::base_url() const { return impl_->base_url(); }

std::string HubspotEmulator::Impl::base_url() const { return "http://127.0.0.1:" + std::to_string(server.port()); }

void HubspotEmulator::set_faults(const HubspotFaults& f) {
  std::lock_guard lk(impl_->mu);
  impl_->faults = f;
  impl_->fault_dice.reset(f.seed);
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
  return impl_->requests.entries_json();
}

nlohmann::json HubspotEmulator::stats() const {
  std::lock_guard lk(impl_->mu);
  return impl_->stats_locked();
}

nlohmann::json HubspotEmulator::Impl::stats_locked() const {
  return {{"requests", requests.requests},
          {"by_status", requests.by_status_json()},
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
  requests.clear();
  throttled_by_limit = throttled_injected = faults_injected = token_refreshes = 0;
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
      else if (k == "unreadable_objects") o.unreadable_objects = v.get<std::vector<std::string>>();
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
  impl_->listener.set(std::move(listener));
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
  const Fault f = fault_dice.roll(faults, path, slow, status_5xx);
  if (f == Fault::none) return f;
  ++faults_injected;
  if (f == Fault::r429) ++throttled_injected;
  return f;
}

namespace {

// HubSpot's content type, gzipped when the answer has some size and the client accepts it.
void write_reply(httplib::Response& res, const Reply& r, const httplib::Request* req = nullptr) {
  common::write_answer(res, r.status, r.headers, r.body, kJson, req, kGzipMinBytes);
}

// Headers and half of the body, then the connection closes.
void write_partial(httplib::Response& res, const Reply& r) {
  common::write_partial(res, r.status, r.headers, r.body, R"({"status":"COMPLETE","results":[]})", kJson);
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
  if (slow > 0) server.sleep_interruptible(slow);

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
      server.sleep_interruptible(hang);
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
    if (!server.drop_connection(req.remote_port))
      write_partial(res, Reply{200, R"({"status":"COMPLETE","results":[]})", {}});
    else
      res.status = 500;  // never reaches the client
  } else if (fault == Fault::lost_response) {
    write_partial(res, r);
  } else {
    write_reply(res, r, &req);
  }
  record_request(req, r.status, fault == Fault::none ? nullptr : common::fault_name(fault), at);
}

void HubspotEmulator::Impl::record_request(const httplib::Request& req, int status, const char* fault,
                                           std::int64_t at) {
  const nlohmann::json entry = common::RequestLog::entry(req, status, fault, at);
  {
    std::lock_guard lk(mu);
    requests.add(entry, status);
  }
  listener.notify(entry);
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
      fault_dice.reset(f.seed);
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
      return ok(requests.entries_json());
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
