#include "e2e/hubspot_fixtures.hpp"

#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace synctool::e2e {

hs::HubspotEmulatorOptions generous_emulator_options() {
  hs::HubspotEmulatorOptions options;
  options.ten_second_limit = 100'000;
  options.window_ms = 10'000;
  options.daily_limit = 10'000'000;
  options.search_per_second = 1000;
  return options;
}

void start_emulator(hs::HubspotEmulator& emu) {
  emu.start();
  emu.load_seed({{"properties",
                  {{"contacts", nlohmann::json::array({{{"name", "age"},
                                                        {"label", "Age"},
                                                        {"type", "string"},
                                                        {"fieldType", "text"},
                                                        {"groupName", "contactinformation"}}})}}}});
}

std::string hubspot_connection_toml(const HubspotConnection& c) {
  std::string text = "[connections.hubspot]\ntype = \"hubspot\"\n";
  if (c.oauth) {
    text += "client_id = \"${HUBSPOT_CLIENT_ID}\"\n";
    text += "client_secret = \"${HUBSPOT_CLIENT_SECRET}\"\n";
    text += "refresh_token = \"${HUBSPOT_REFRESH_TOKEN}\"\n";
  } else {
    text += "token = \"${HUBSPOT_TOKEN}\"\n";
  }
  text += "base_url = \"" + c.base_url + "\"\n";
  if (!c.rate_limit.empty()) text += "rate_limit = \"" + c.rate_limit + "\"\n";
  if (c.max_in_flight > 0) text += "max_in_flight = " + std::to_string(c.max_in_flight) + "\n";
  if (!c.timeout.empty()) text += "timeout = \"" + c.timeout + "\"\n";
  if (c.max_retries >= 0) text += "max_retries = " + std::to_string(c.max_retries) + "\n";
  if (!c.retry_for.empty()) text += "retry_for = \"" + c.retry_for + "\"\n";
  return text;
}

HubspotConnection connection_to(const hs::HubspotEmulator& emu, const std::function<void(HubspotConnection&)>& adjust) {
  HubspotConnection connection;
  connection.base_url = emu.base_url();
  if (adjust) adjust(connection);
  return connection;
}

Env hubspot_env(const std::string& token) { return {{"HUBSPOT_TOKEN", token}}; }

Env oauth_env(const hs::HubspotEmulatorOptions& options) {
  return {{"HUBSPOT_CLIENT_ID", options.client_id},
          {"HUBSPOT_CLIENT_SECRET", options.client_secret},
          {"HUBSPOT_REFRESH_TOKEN", options.refresh_token}};
}

void write_hubspot_project(const Project& project, const HubspotConnection& connection) {
  project.write_config(R"(state_dir = ".synctool"

[connections.app]
type = "sqlite"
path = "app.db"

[connections.files]
type = "csv"
path = "out"

)" + hubspot_connection_toml(connection));
  fs::create_directories(project.path("out"));
}

void write_people(const Project& project, const std::vector<Contact>& contacts) {
  Db db(project.path(kAppDb));
  db.exec(
      "CREATE TABLE IF NOT EXISTS people (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, "
      "company TEXT, age TEXT, updated_at TEXT)");
  db.exec("BEGIN");
  for (const auto& c : contacts)
    db.exec("INSERT OR REPLACE INTO people VALUES (" + c.id + "," + sql_quote(c.email) + "," + sql_quote(c.first_name) +
            "," + sql_quote(c.last_name) + "," + sql_quote(c.company) + "," + sql_quote(c.age) + "," +
            sql_quote(stamp(std::stoi(c.id))) + ")");
  db.exec("COMMIT");
}

std::string people_to_hubspot_toml(const std::string& extra) {
  return R"(direction = "one-way"
mode      = "upsert"

[source]
connection    = "app"
object        = "people"
key           = "id"
cursor_column = "updated_at"

[destination]
connection = "hubspot"
object     = "contacts"

[match]
source      = "email"
destination = "email"
normalize   = ["trim", "lowercase"]

[field_map]
email      = { to = "email", transform = ["trim", "lowercase"] }
first_name = "firstname"
last_name  = "lastname"
company    = "company"
age        = "age"
)" + extra;
}

std::string firms_to_companies_toml() {
  return R"(direction = "one-way"
mode      = "upsert"

[source]
connection    = "app"
object        = "firms"
key           = "id"
cursor_column = "updated_at"

[destination]
connection = "hubspot"
object     = "companies"

[match]
source      = "domain"
destination = "domain"
normalize   = ["trim", "lowercase"]

[field_map]
domain = "domain"
name   = "name"
)";
}

std::string hubspot_to_csv_toml(const std::string& source_extra) {
  return R"(direction = "one-way"
mode      = "upsert"

[source]
connection = "hubspot"
object     = "contacts"
)" + source_extra + R"(

[destination]
connection = "files"
object     = "people"

[match]
source      = "email"
destination = "email"
normalize   = ["trim", "lowercase"]

[field_map]
email     = "email"
firstname = "first_name"
lastname  = "last_name"
company   = "company"
age       = "age"
)";
}

nlohmann::json contacts_seed(const std::vector<Contact>& contacts, std::uint64_t first_id,
                             const std::string& modified) {
  auto list = nlohmann::json::array();
  std::uint64_t id = first_id;
  for (const auto& c : contacts)
    list.push_back({{"id", std::to_string(id++)},
                    {"properties",
                     {{"email", c.email},
                      {"firstname", c.first_name},
                      {"lastname", c.last_name},
                      {"company", c.company},
                      {"age", c.age},
                      {"lastmodifieddate", modified}}}});
  return {{"objects", {{"contacts", list}}}};
}

Rows hubspot_contact_rows(const hs::HubspotEmulator& emu) {
  Rows rows;
  for (const auto& record : emu.records("contacts")) {
    const auto& p = record.at("properties");
    auto text = [&](const char* name) {
      auto it = p.find(name);
      if (it == p.end() || it->is_null()) return std::string();
      return it->is_string() ? it->get<std::string>() : it->dump();
    };
    std::string email = text("email");
    std::transform(email.begin(), email.end(), email.begin(), [](unsigned char c) { return std::tolower(c); });
    rows.push_back({{"id", record.at("id").get<std::string>()},
                    {"email", email},
                    {"first_name", text("firstname")},
                    {"last_name", text("lastname")},
                    {"company", text("company")},
                    {"age", text("age")}});
  }
  return rows;
}

std::string hubspot_differences(const hs::HubspotEmulator& emu, const std::vector<Contact>& expected) {
  return rows_differences(hubspot_contact_rows(emu), expected, "HubSpot contacts");
}

nlohmann::json HttpAnswer::json() const {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded())
    throw std::runtime_error("HTTP " + std::to_string(status) + " answer is not JSON: " + body.substr(0, 300) + error);
  return parsed;
}

namespace {

std::size_t collect(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

}  // namespace

HttpAnswer emulator_call(const hs::HubspotEmulator& emu, const std::string& method, const std::string& path,
                         const nlohmann::json* body, const std::string& token) {
  return http_call(emu.base_url() + path, method, body, token);
}

HttpAnswer http_call(const std::string& url, const std::string& method, const nlohmann::json* body,
                     const std::string& token) {
  HttpAnswer answer;
  CURL* curl = curl_easy_init();
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  std::string payload = body ? body->dump() : "";
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) answer.error = curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return answer;
}

std::vector<nlohmann::json> logged(const nlohmann::json& log, const std::string& method, const std::string& suffix) {
  std::vector<nlohmann::json> out;
  for (const auto& entry : log) {
    const std::string path = entry.value("path", "");
    if (entry.value("method", "") == method && path.ends_with(suffix)) out.push_back(entry);
  }
  return out;
}

Result run_with(const Project& project, std::vector<std::string> args, const Env& env) {
  return run_synctool(project.root(), std::move(args), env);
}

void check_prediction(const nlohmann::json& predicted, const nlohmann::json& done) {
  for (const auto* side : {"source", "destination"})
    for (const auto* key : {"read", "created", "updated", "deleted", "unchanged", "rejected", "failed"}) {
      INFO(side << "." << key << ": diff predicted " << predicted.at(side).at(key) << ", the run did "
                << done.at(side).at(key));
      CHECK(predicted.at(side).at(key) == done.at(side).at(key));
    }
}

std::int64_t count_of(const nlohmann::json& side, const char* key) { return side.at(key).get<std::int64_t>(); }

std::string accounting_problem(const nlohmann::json& report) {
  const auto& s = report.at("source");
  const auto& d = report.at("destination");
  auto n = [](const nlohmann::json& side, const char* key) { return side.at(key).get<std::int64_t>(); };
  std::int64_t accounted =
      n(d, "created") + n(d, "updated") + n(d, "unchanged") + n(d, "failed") + n(d, "rejected") + n(d, "deleted");
  if (accounted == n(s, "read")) return "";
  return "the source read " + std::to_string(n(s, "read")) + " records but the destination accounts for " +
         std::to_string(accounted) + " (created + updated + unchanged + failed + rejected + deleted): " +
         report.dump();
}

std::vector<std::pair<fs::path, std::string>> files_under(const fs::path& folder) {
  std::vector<std::pair<fs::path, std::string>> out;
  if (!fs::exists(folder)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    out.emplace_back(entry.path(), bytes.str());
  }
  return out;
}

std::string leaks(const std::string& needle, const Result& r, const fs::path& folder) {
  std::string where;
  if (r.out.find(needle) != std::string::npos) where += "stdout of `" + r.describe().substr(0, 200) + "`; ";
  if (r.err.find(needle) != std::string::npos) where += "stderr of `" + r.describe().substr(0, 200) + "`; ";
  for (const auto& [file, bytes] : files_under(folder))
    if (bytes.find(needle) != std::string::npos) where += "file " + file.string() + "; ";
  return where;
}

}  // namespace synctool::e2e
