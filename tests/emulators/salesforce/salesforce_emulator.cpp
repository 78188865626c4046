// The Salesforce REST emulator: server, the OAuth token endpoint, sessions, the daily and
// concurrent limits, faults, the request log and the control endpoints. The store is in
// salesforce_store.cpp, SOQL in salesforce_soql.cpp, the /services/data/ resources in
// salesforce_api.cpp, small helpers in salesforce_util.cpp.
#include <algorithm>
#include <cctype>
#include <limits>

#include "emulators/salesforce/salesforce_internal.hpp"

namespace synctool::emulators {

using namespace salesforce_detail;

namespace {

constexpr std::size_t kGzipMinBytes = 512;
constexpr const char* kJson = "application/json;charset=UTF-8";

// Salesforce's JSON content type, gzipped when the answer has some size and the client accepts it.
void write_reply(httplib::Response& res, const Reply& r, const httplib::Request* req = nullptr) {
  common::write_answer(res, r.status, r.headers, r.body, kJson, req, kGzipMinBytes);
}

void write_partial(httplib::Response& res, const Reply& r) {
  common::write_partial(res, r.status, r.headers, r.body, R"({"totalSize":0,"done":true,"records":[]})", kJson);
}

Reply invalid_session() { return api_error(401, "INVALID_SESSION_ID", "Session expired or invalid"); }

Reply oauth_error(const std::string& error, const std::string& description) {
  return json_reply(400, {{"error", error}, {"error_description", description}});
}

std::string release_label(int version) {
  static const char* kSeasons[] = {"Summer", "Winter", "Spring"};
  const int index = version - kMinApiVersion;
  return std::string(kSeasons[index % 3]) + " '" + std::to_string(19 + (index + 2) / 3);
}

SalesforceValidationRule validation_rule_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("options: a validation rule is an object");
  SalesforceValidationRule r;
  r.object = j.at("object").get<std::string>();
  r.field = j.at("field").get<std::string>();
  r.value = j.at("value").get<std::string>();
  r.message = j.value("message", r.message);
  r.show_on_field = j.value("show_on_field", true);
  return r;
}

SalesforceTrigger trigger_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("options: a trigger is an object");
  SalesforceTrigger t;
  t.object = j.at("object").get<std::string>();
  t.field = j.value("field", std::string());
  t.value = j.contains("value") ? j["value"] : json();
  t.on_insert = j.value("on_insert", true);
  t.on_update = j.value("on_update", true);
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction, lifecycle

SalesforceEmulator::Impl::Impl(SalesforceEmulatorOptions o) : opt(std::move(o)) {
  faults = opt.faults;
  fault_dice.reset(faults.seed);
  refresh_tokens.insert(opt.refresh_token);
  install_builtin_types();
}

SalesforceEmulator::SalesforceEmulator(SalesforceEmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

SalesforceEmulator::~SalesforceEmulator() { stop(); }

void SalesforceEmulator::start() {
  Impl& im = *impl_;
  common::ServerSettings settings;
  settings.name = "salesforce emulator";
  settings.threads = 32;
  settings.handler = [&im](const httplib::Request& req, httplib::Response& res) { im.serve(req, res); };
  settings.on_exception = [](httplib::Response& res, const std::string& what) {
    res.set_content(dump_json(json::array({{{"message", "internal emulator error: " + what},
                                            {"errorCode", "UNKNOWN_EXCEPTION"}}})),
                    kJson);
  };
  settings.on_error = [](httplib::Response& res) {
    res.set_content(dump_json(json::array({{{"message", "HTTP " + std::to_string(res.status)},
                                            {"errorCode", res.status == 404 ? "NOT_FOUND" : "INVALID_REQUEST"}}})),
                    kJson);
  };
  im.server.start(im.opt.port, settings);
}

void SalesforceEmulator::stop() { impl_->server.stop(); }

int SalesforceEmulator::port() const { return impl_->server.port(); }

std::string SalesforceEmulator::base_url() const { return impl_->base_url(); }

std::string SalesforceEmulator::instance_url() const {
  std::lock_guard lk(impl_->mu);
  return impl_->instance_url();
}

std::string SalesforceEmulator::Impl::base_url() const { return "http://127.0.0.1:" + std::to_string(server.port()); }

std::string SalesforceEmulator::Impl::instance_url() const {
  if (opt.instance_url.empty()) return base_url();
  std::string out = opt.instance_url;
  const auto at = out.find("{port}");
  if (at != std::string::npos) out.replace(at, 6, std::to_string(server.port()));
  return out;
}

void SalesforceEmulator::load_seed(const nlohmann::json& seed) {
  std::lock_guard lk(impl_->mu);
  impl_->load_seed_locked(seed);
}

void SalesforceEmulator::define_object(const std::string& name, const nlohmann::json& fields) {
  std::lock_guard lk(impl_->mu);
  impl_->define_object_locked(name, fields);
}

void SalesforceEmulator::define_field(const std::string& object, const nlohmann::json& field) {
  std::lock_guard lk(impl_->mu);
  ObjectType* t = impl_->find_type(object);
  if (t == nullptr) throw std::out_of_range("unknown object " + object);
  impl_->define_field_locked(*t, field);
}

void SalesforceEmulator::set_faults(const SalesforceFaults& f) {
  std::lock_guard lk(impl_->mu);
  impl_->faults = f;
  impl_->fault_dice.reset(f.seed);
}

void SalesforceEmulator::set_frozen_time(std::optional<std::int64_t> epoch_ms) {
  std::lock_guard lk(impl_->mu);
  impl_->frozen = epoch_ms;
}

void SalesforceEmulator::advance_time(std::int64_t ms) {
  std::lock_guard lk(impl_->mu);
  if (impl_->frozen) *impl_->frozen += ms;
}

std::int64_t SalesforceEmulator::now_ms() const {
  std::lock_guard lk(impl_->mu);
  return impl_->now();
}

std::int64_t SalesforceEmulator::touch(const std::string& object, const std::string& id) {
  std::lock_guard lk(impl_->mu);
  return impl_->touch_locked(object, id);
}

void SalesforceEmulator::merge(const std::string& object, const std::string& winner,
                               const std::vector<std::string>& losers) {
  std::lock_guard lk(impl_->mu);
  impl_->merge_locked(object, winner, losers);
}

std::int64_t SalesforceEmulator::purge_deleted(const std::string& object) {
  std::lock_guard lk(impl_->mu);
  std::int64_t n = 0;
  const std::int64_t everything = std::numeric_limits<std::int64_t>::max();
  if (!object.empty()) {
    ObjectType* t = impl_->find_type(object);
    if (t == nullptr) throw std::out_of_range("unknown object " + object);
    return impl_->purge_locked(*t, everything);
  }
  for (auto& [name, t] : impl_->types) n += impl_->purge_locked(*t, everything);
  return n;
}

void SalesforceEmulator::expire_sessions() {
  std::lock_guard lk(impl_->mu);
  const std::int64_t now = impl_->now();
  for (auto& [token, s] : impl_->sessions) s.expires_ms = std::min(s.expires_ms, now);
}

std::string SalesforceEmulator::issue_session() {
  std::lock_guard lk(impl_->mu);
  return impl_->new_session();
}

std::string SalesforceEmulator::Impl::new_session() {
  // Salesforce session ids start with the org id and a '!'.
  const std::string token = std::string(kOrgId).substr(0, 15) + "!AQ" + base62(++token_counter, 6) +
                            uuid4().substr(0, 8) + uuid4().substr(24);
  sessions[token] = Session{now() + opt.session_lifetime_s * 1000};
  ++sessions_issued;
  return token;
}

nlohmann::json SalesforceEmulator::records(const std::string& object, bool include_deleted) const {
  std::lock_guard lk(impl_->mu);
  const ObjectType* t = impl_->find_type(object);
  if (t == nullptr) throw std::out_of_range("unknown object " + object);
  json out = json::array();
  for (const auto& [id, r] : t->records)
    if (include_deleted || !r.deleted) out.push_back(impl_->render(*t, r, nullptr, kMaxApiVersion));
  return out;
}

nlohmann::json SalesforceEmulator::request_log() const {
  std::lock_guard lk(impl_->mu);
  return impl_->requests.entries_json();
}

nlohmann::json SalesforceEmulator::stats() const {
  std::lock_guard lk(impl_->mu);
  return impl_->stats_locked();
}

json SalesforceEmulator::Impl::stats_locked() const {
  json hosts = json::object();
  for (const auto& [h, n] : api_hosts) hosts[h] = n;
  return {{"requests", requests.requests},
          {"by_status", requests.by_status_json()},
          {"faults_injected", faults_injected},
          {"api_usage", used_today()},
          {"daily_limit", opt.daily_limit},
          {"limit_exceeded", limit_exceeded},
          {"sessions_issued", sessions_issued},
          {"token_requests", token_requests},
          {"api_hosts", hosts},
          {"in_flight", in_flight.size()}};
}

void SalesforceEmulator::reset_stats() {
  std::lock_guard lk(impl_->mu);
  Impl& im = *impl_;
  im.requests.clear();
  im.usage.clear();
  im.api_hosts.clear();
  im.faults_injected = im.limit_exceeded = im.sessions_issued = im.token_requests = 0;
}

void SalesforceEmulator::update_options(const nlohmann::json& changes) {
  std::lock_guard lk(impl_->mu);
  impl_->update_options_locked(changes);
}

void SalesforceEmulator::Impl::update_options_locked(const json& j) {
  SalesforceEmulatorOptions o = opt;
  apply_salesforce_options(j, o);
  opt = std::move(o);
}

void apply_salesforce_options(const nlohmann::json& j, SalesforceEmulatorOptions& out) {
  if (!j.is_object()) throw std::invalid_argument("options: expected a JSON object");
  SalesforceEmulatorOptions o = out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    try {
      if (k == "session_lifetime_s") o.session_lifetime_s = v.get<std::int64_t>();
      else if (k == "rotate_refresh_token") o.rotate_refresh_token = v.get<bool>();
      else if (k == "daily_limit") o.daily_limit = v.get<std::int64_t>();
      else if (k == "long_request_limit") o.long_request_limit = v.get<int>();
      else if (k == "long_request_ms") o.long_request_ms = v.get<std::int64_t>();
      else if (k == "deleted_retention_days") o.deleted_retention_days = v.get<std::int64_t>();
      else if (k == "updated_window_days") o.updated_window_days = v.get<std::int64_t>();
      else if (k == "duplicate_rule") o.duplicate_rule = v.get<bool>();
      else if (k == "validation_rules") {
        o.validation_rules.clear();
        for (const auto& r : v) o.validation_rules.push_back(validation_rule_from_json(r));
      } else if (k == "triggers") {
        o.triggers.clear();
        for (const auto& t : v) o.triggers.push_back(trigger_from_json(t));
      } else {
        throw std::invalid_argument("options: unknown or unchangeable field '" + k + "'");
      }
    } catch (const json::exception&) {
      throw std::invalid_argument("options: field '" + k + "' has the wrong type");
    }
  }
  if (o.session_lifetime_s < 1 || o.daily_limit < 0 || o.long_request_limit < 1 || o.long_request_ms < 1 ||
      o.deleted_retention_days < 1 || o.updated_window_days < 1)
    throw std::invalid_argument("options: limits must be positive");
  out = std::move(o);
}

void SalesforceEmulator::set_request_listener(std::function<void(const nlohmann::json&)> listener) {
  impl_->listener.set(std::move(listener));
}

// ---------------------------------------------------------------------------------------------
// Limits and sessions

std::int64_t SalesforceEmulator::Impl::used_today() const {
  const std::int64_t since = now() - kDay;
  while (!usage.empty() && usage.front() <= since) usage.pop_front();
  return static_cast<std::int64_t>(usage.size());
}

std::string SalesforceEmulator::Impl::limit_info() const {
  return "api-usage=" + std::to_string(used_today()) + "/" + std::to_string(opt.daily_limit);
}

std::optional<Reply> SalesforceEmulator::Impl::authenticate(const httplib::Request& req) {
  const std::string header = req.get_header_value("Authorization");
  std::string token;
  const std::string scheme = lower(header.substr(0, std::min<std::size_t>(header.size(), 7)));
  if (starts_with(scheme, "bearer ")) token = trim(header.substr(7));
  else if (starts_with(scheme, "oauth ")) token = trim(header.substr(6));
  auto it = sessions.find(token);
  if (token.empty() || it == sessions.end() || it->second.expires_ms <= now()) return invalid_session();
  return std::nullopt;
}

std::optional<Reply> SalesforceEmulator::Impl::check_limits(std::uint64_t flight) {
  if (used_today() >= opt.daily_limit) {
    ++limit_exceeded;
    return api_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
  }
  const std::int64_t t = now();
  int long_running = 0;
  for (const auto& [id, started] : in_flight)
    if (id != flight && t - started > opt.long_request_ms) ++long_running;
  if (long_running >= opt.long_request_limit) {
    ++limit_exceeded;
    return api_error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.");
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Requests

void SalesforceEmulator::Impl::serve(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  if (starts_with(path, "/_emulator/")) {
    write_reply(res, control(req), &req);
    return;
  }
  const std::int64_t at = wall_ms();
  const bool api = path == "/services/data" || starts_with(path, "/services/data/");
  const bool oauth = starts_with(path, "/services/oauth2/");
  Fault fault = Fault::none;
  std::int64_t slow = 0, hang = 0;
  int status_5xx = 500;
  std::uint64_t flight = 0;
  {
    std::lock_guard lk(mu);
    if (api) {
      flight = ++flight_counter;
      in_flight[flight] = now();
    }
    if (api || (oauth && faults.include_oauth)) {
      const common::FaultRates rates{faults.rate_limit_exceeded, faults.rate_500,           faults.rate_timeout,
                                     faults.rate_drop,           faults.rate_lost_response, faults.rate_malformed,
                                     faults.slow_ms,             faults.max_faults,         &faults.paths};
      fault = fault_dice.roll(rates, path, slow, status_5xx);
      if (fault != Fault::none) ++faults_injected;
    }
    hang = faults.timeout_ms;
  }
  if (slow > 0) server.sleep_interruptible(slow);

  Reply r;
  switch (fault) {
    case Fault::none:
    case Fault::lost_response:
      r = api ? handle_api(req, flight) : oauth ? handle_token(req) : not_found_reply();
      break;
    case Fault::r429:  // Salesforce has no 429: its throttle is the concurrent long-request limit
      r = api_error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.");
      break;
    case Fault::r5xx:
      if (status_5xx == 500)
        r = api_error(500, "UNKNOWN_EXCEPTION",
                      "An unexpected error occurred. Please include this ErrorId if you contact support: "
                      "1234567890-12345 (-1234567890)");
      else if (status_5xx == 502)
        r = Reply{502, "", {{"Content-Type", "text/html"}}};  // a gateway's answer, not JSON
      else
        r = api_error(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable");
      break;
    case Fault::timeout:
      server.sleep_interruptible(hang);
      r = api_error(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable");
      break;
    case Fault::drop:
      r = Reply{0, "", {}};
      break;
    case Fault::malformed:
      r = Reply{200, R"({"totalSize":3,"done":true,"records":[{"attributes":{"type":"Contact","url":"/services/data/v)", {}};
      break;
  }
  {
    std::lock_guard lk(mu);
    if (api) {
      r.headers.emplace_back("Sforce-Limit-Info", limit_info());
      in_flight.erase(flight);
    }
  }
  if (fault == Fault::drop) {
    if (!server.drop_connection(req.remote_port)) write_partial(res, Reply{200, R"({"totalSize":0})", {}});
    else res.status = 500;  // never reaches the client
  } else if (fault == Fault::lost_response) {
    write_partial(res, r);
  } else if (r.status == 502) {
    res.status = 502;
    for (const auto& [k, v] : r.headers)
      if (k != "Content-Type") res.set_header(k, v);
    res.set_content("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
  } else {
    write_reply(res, r, &req);
  }
  record_request(req, r.status, fault == Fault::none ? nullptr : common::fault_name(fault), at);
}

void SalesforceEmulator::Impl::record_request(const httplib::Request& req, int status, const char* fault,
                                              std::int64_t at) {
  json entry = common::RequestLog::entry(req, status, fault, at);
  if (fault != nullptr && std::string(fault) == "429") entry["fault"] = "limit_exceeded";
  {
    std::lock_guard lk(mu);
    requests.add(entry, status);
  }
  listener.notify(entry);
}

Reply SalesforceEmulator::Impl::handle_api(const httplib::Request& req, std::uint64_t flight) {
  const std::vector<std::string> segs = split_path(req.path);
  if (segs.size() == 2) {  // GET /services/data/: the versions, no session needed
    if (req.method != "GET") return not_found_reply();
    json list = json::array();
    for (int v = kMinApiVersion; v <= kMaxApiVersion; ++v)
      list.push_back({{"label", release_label(v)},
                      {"url", "/services/data/v" + std::to_string(v) + ".0"},
                      {"version", std::to_string(v) + ".0"}});
    return json_reply(200, list);
  }
  // vNN.0
  const std::string& v = segs[2];
  int version = 0;
  if (v.size() == 5 && v[0] == 'v' && v[3] == '.' && v[4] == '0' && std::isdigit(static_cast<unsigned char>(v[1])) &&
      std::isdigit(static_cast<unsigned char>(v[2])))
    version = (v[1] - '0') * 10 + (v[2] - '0');
  if (version < kMinApiVersion || version > kMaxAcceptedVersion) return not_found_reply();
  std::lock_guard lk(mu);
  purge_expired();
  if (auto r = authenticate(req)) return *r;
  if (auto r = check_limits(flight)) return *r;
  usage.push_back(now());
  ++api_hosts[req.get_header_value("Host")];
  return route_api(req, version, std::vector<std::string>(segs.begin() + 3, segs.end()));
}

// ---------------------------------------------------------------------------------------------
// The token endpoint

namespace {

std::optional<json> jwt_part(std::string_view part) {
  auto raw = common::base64_decode(part);
  if (!raw) return std::nullopt;
  try {
    return json::parse(*raw);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

Reply SalesforceEmulator::Impl::handle_token(const httplib::Request& req) {
  if (req.path != "/services/oauth2/token") return not_found_reply();
  if (req.method != "POST") return oauth_error("invalid_request", "must use HTTP POST");
  auto form = parse_form(req.body);
  for (const auto& [k, val] : req.params)
    if (!form.count(k)) form[k] = val;
  std::lock_guard lk(mu);
  ++token_requests;
  const std::string grant = form["grant_type"];
  std::string refresh;
  if (grant == "refresh_token") {
    if (form["client_id"] != opt.client_id) return oauth_error("invalid_client_id", "client identifier invalid");
    if (form["client_secret"] != opt.client_secret) return oauth_error("invalid_client", "invalid client credentials");
    const std::string given = form["refresh_token"];
    if (given.empty() || !refresh_tokens.count(given)) return oauth_error("invalid_grant", "expired access/refresh token");
    if (opt.rotate_refresh_token) {
      refresh_tokens.erase(given);
      refresh = std::string(kOrgId).substr(0, 15) + "!RT" + base62(++token_counter, 6) + uuid4().substr(0, 8);
      refresh_tokens.insert(refresh);
    }
  } else if (grant == "client_credentials") {
    if (form["client_id"] != opt.client_id) return oauth_error("invalid_client_id", "client identifier invalid");
    if (form["client_secret"] != opt.client_secret) return oauth_error("invalid_client", "invalid client credentials");
  } else if (grant == "urn:ietf:params:oauth:grant-type:jwt-bearer") {
    const std::string assertion = form["assertion"];
    const auto parts = split(assertion, '.');
    if (parts.size() != 3) return oauth_error("invalid_grant", "invalid assertion");
    const auto header = jwt_part(parts[0]);
    const auto claims = jwt_part(parts[1]);
    const auto signature = common::base64_decode(parts[2]);
    if (!header || !claims || !signature || !header->is_object() || !claims->is_object())
      return oauth_error("invalid_grant", "invalid assertion");
    if (header->value("alg", std::string()) != "RS256")
      return oauth_error("invalid_grant", "invalid assertion: algorithm must be RS256");
    if (claims->value("iss", std::string()) != opt.client_id)
      return oauth_error("invalid_client_id", "client identifier invalid");
    if (opt.jwt_public_key_pem.empty())
      return oauth_error("invalid_client", "no certificate is configured for this connected app");
    if (!verify_rs256(opt.jwt_public_key_pem, parts[0] + "." + parts[1], *signature).empty())
      return oauth_error("invalid_grant", "invalid assertion");
    const std::string aud = claims->contains("aud") && (*claims)["aud"].is_string() ? (*claims)["aud"].get<std::string>() : "";
    bool aud_ok = aud == base_url() || aud == instance_url();
    for (const auto& a : opt.jwt_audiences) aud_ok = aud_ok || aud == a;
    if (!aud_ok) return oauth_error("invalid_grant", "audience is invalid");
    // exp is checked against the real clock: the client signs with its own.
    if (!claims->contains("exp") || !(*claims)["exp"].is_number() ||
        (*claims)["exp"].get<double>() * 1000 <= static_cast<double>(wall_ms()))
      return oauth_error("invalid_grant", "expired authorization code");
    if (claims->value("sub", std::string()) != opt.username) return oauth_error("invalid_grant", "user hasn't approved this consumer");
  } else {
    return oauth_error("unsupported_grant_type", "grant type not supported");
  }
  const std::string access = new_session();
  const std::string id_url = base_url() + "/id/" + kOrgId + "/" + kUserId;
  const std::string issued_at = std::to_string(now());
  json b{{"access_token", access},
         {"instance_url", instance_url()},
         {"id", id_url},
         {"token_type", "Bearer"},
         {"issued_at", issued_at},
         {"signature", hmac_sha256_base64(opt.client_secret, id_url + issued_at)},
         {"scope", "api refresh_token"}};
  if (!refresh.empty()) b["refresh_token"] = refresh;
  return json_reply(200, b);
}

// ---------------------------------------------------------------------------------------------
// Control endpoints: no session, no limits, not in stats or the log.

Reply SalesforceEmulator::Impl::control(const httplib::Request& req) {
  const std::string& path = req.path;
  const std::string& m = req.method;
  auto ok = [](json b = {{"ok", true}}) { return json_reply(200, b); };
  auto bad = [](const std::string& msg) { return json_reply(400, {{"error", msg}}); };
  json body;
  if (!req.body.empty()) {
    try {
      body = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return bad(std::string("invalid JSON: ") + e.what());
    }
  }
  try {
    std::lock_guard lk(mu);
    if (path == "/_emulator/faults" && m == "POST") {
      faults = salesforce_faults_from_json(body.is_null() ? json::object() : body);
      fault_dice.reset(faults.seed);
      return ok();
    }
    if (path == "/_emulator/faults" && m == "GET") return ok(salesforce_faults_to_json(faults));
    if (path == "/_emulator/seed" && m == "POST") {
      load_seed_locked(body);
      return ok();
    }
    static constexpr std::string_view kRecords = "/_emulator/records/";
    if (starts_with(path, kRecords) && m == "GET") {
      const ObjectType* t = find_type(path.substr(kRecords.size()));
      if (t == nullptr) return json_reply(404, {{"error", "unknown object"}});
      const bool all = req.get_param_value("deleted") == "true";
      json out = json::array();
      for (const auto& [id, r] : t->records)
        if (all || !r.deleted) out.push_back(render(*t, r, nullptr, kMaxApiVersion));
      return ok(out);
    }
    if (path == "/_emulator/requests" && m == "GET") return ok(requests.entries_json());
    if (path == "/_emulator/stats" && m == "GET") return ok(stats_locked());
    if (path == "/_emulator/time" && m == "POST") {
      if (body.contains("frozen_ms")) {
        if (body["frozen_ms"].is_null()) frozen.reset();
        else frozen = body["frozen_ms"].get<std::int64_t>();
      }
      if (body.contains("advance_ms") && frozen) *frozen += body["advance_ms"].get<std::int64_t>();
      return ok({{"now_ms", now()}});
    }
    if (path == "/_emulator/touch" && m == "POST")
      return ok({{"SystemModstamp", sf_datetime(touch_locked(body.at("type").get<std::string>(),
                                                              body.at("id").get<std::string>()))}});
    if (path == "/_emulator/merge" && m == "POST") {
      merge_locked(body.at("type").get<std::string>(), body.at("winner").get<std::string>(),
                   body.at("losers").get<std::vector<std::string>>());
      return ok();
    }
    if (path == "/_emulator/purge-deleted" && m == "POST") {
      std::int64_t n = 0;
      for (auto& [name, t] : types)
        if (!body.contains("type") || lower(body["type"].get<std::string>()) == name)
          n += purge_locked(*t, std::numeric_limits<std::int64_t>::max());
      return ok({{"purged", n}});
    }
    if (path == "/_emulator/expire-sessions" && m == "POST") {
      for (auto& [token, s] : sessions) s.expires_ms = std::min(s.expires_ms, now());
      return ok();
    }
    if (path == "/_emulator/options" && m == "POST") {
      update_options_locked(body);
      return ok();
    }
  } catch (const std::out_of_range& e) {
    return json_reply(404, {{"error", e.what()}});
  } catch (const std::invalid_argument& e) {
    return bad(e.what());
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  return json_reply(404, {{"error", "unknown control endpoint " + m + " " + path}});
}

}  // namespace synctool::emulators
