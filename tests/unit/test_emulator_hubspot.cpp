// The HubSpot emulator behaves like HubSpot's CRM v3 API as API-FACTS describes it.
// Debian's libcpp-httplib is compiled with OpenSSL support: httplib::Client's layout depends on it.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulators/hubspot/hubspot_emulator.hpp"

using nlohmann::json;
using synctool::emulators::HubspotEmulator;
using synctool::emulators::HubspotEmulatorOptions;
using synctool::emulators::HubspotFaults;

namespace {

constexpr const char* kToken = "pat-na1-emulator-token";

struct Api {
  httplib::Client cli;
  std::string token;

  explicit Api(const HubspotEmulator& emu, std::string tok = kToken) : cli(emu.base_url()), token(std::move(tok)) {
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(5, 0);
  }
  httplib::Headers headers() const {
    if (token.empty()) return {};
    return {{"Authorization", "Bearer " + token}};
  }
  httplib::Result get(const std::string& path) { return cli.Get(path, headers()); }
  httplib::Result post(const std::string& path, const json& body) {
    return cli.Post(path, headers(), body.dump(), "application/json");
  }
  httplib::Result patch(const std::string& path, const json& body) {
    return cli.Patch(path, headers(), body.dump(), "application/json");
  }
  httplib::Result del(const std::string& path) { return cli.Delete(path, headers()); }
};

json body_of(const httplib::Result& r) {
  REQUIRE(r);
  return json::parse(r->body);
}

json contacts_seed(int n, const std::string& updated = "2025-01-02T00:00:00Z") {
  json list = json::array();
  for (int i = 0; i < n; ++i)
    list.push_back({{"properties", {{"email", "user" + std::to_string(i) + "@example.com"}, {"firstname", "U"}}},
                    {"createdAt", "2025-01-01T00:00:00Z"},
                    {"updatedAt", updated}});
  return {{"objects", {{"contacts", list}}}};
}

HubspotEmulatorOptions fast_options() {
  HubspotEmulatorOptions o;
  o.ten_second_limit = 100000;
  o.search_per_second = 100000;
  return o;
}

}  // namespace

TEST_CASE("requests without a valid token get HubSpot's 401", "[emulator]") {
  HubspotEmulator emu;
  emu.start();
  Api none(emu, "");
  auto r = none.get("/crm/v3/objects/contacts");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("Content-Type") == "application/json;charset=utf-8");
  json b = json::parse(r->body);
  CHECK(b["category"] == "INVALID_AUTHENTICATION");
  CHECK(b["status"] == "error");
  CHECK(b["message"].get<std::string>().rfind("Authentication credentials not found", 0) == 0);
  CHECK(b["correlationId"].get<std::string>().size() == 36);

  Api wrong(emu, "pat-na1-wrong");
  CHECK(wrong.get("/crm/v3/objects/contacts")->status == 401);
  Api good(emu);
  CHECK(good.get("/crm/v3/objects/contacts")->status == 200);
}

TEST_CASE("list pages through records by id with an opaque cursor", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed(contacts_seed(250));
  emu.start();
  Api api(emu);
  std::set<std::string> ids;
  std::string after;
  int pages = 0;
  std::string last_id;
  while (true) {
    auto r = api.get("/crm/v3/objects/contacts?limit=100&properties=email" + (after.empty() ? "" : "&after=" + after));
    REQUIRE(r->status == 200);
    json b = json::parse(r->body);
    ++pages;
    for (const auto& rec : b["results"]) {
      const std::string id = rec["id"];
      CHECK((last_id.empty() || std::stoull(id) > std::stoull(last_id)));
      last_id = id;
      ids.insert(id);
      CHECK(rec["properties"]["email"].is_string());
      CHECK(rec["properties"]["hs_object_id"] == id);
      CHECK(rec["archived"] == false);
    }
    if (!b.contains("paging")) {
      CHECK(b["results"].size() == 50);
      break;
    }
    CHECK(b["results"].size() == 100);
    after = b["paging"]["next"]["after"];
    CHECK(b["paging"]["next"]["link"].get<std::string>().find("after=" + after) != std::string::npos);
  }
  CHECK(pages == 3);
  CHECK(ids.size() == 250);

  // Large answers are gzipped for clients that accept it (httplib's client does, and inflates).
  httplib::Headers gz = api.headers();
  gz.emplace("Accept-Encoding", "gzip");
  auto zipped = api.cli.Get("/crm/v3/objects/contacts?limit=100", gz);
  REQUIRE(zipped->status == 200);
  CHECK(zipped->get_header_value("Content-Encoding") == "gzip");
  CHECK(json::parse(zipped->body)["results"].size() == 100);

  auto too_many = api.get("/crm/v3/objects/contacts?limit=101");
  CHECK(too_many->status == 400);
  CHECK(body_of(too_many)["category"] == "VALIDATION_ERROR");
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);
  CHECK(body_of(api.get("/crm/v3/objects/contacts"))["results"].size() == 10);

  auto unknown = api.get("/crm/v3/objects/xyz");
  CHECK(unknown->status == 400);
  CHECK(body_of(unknown)["message"] == "Unable to infer object type from: xyz");
}

TEST_CASE("records answer requested properties, unknown ones ignored, unset ones null", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  auto c = api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "Mixed@Case.COM"}, {"firstname", "M"}}}});
  REQUIRE(c->status == 201);
  json rec = json::parse(c->body);
  const std::string id = rec["id"];
  CHECK(rec["properties"]["email"] == "mixed@case.com");
  CHECK(rec["properties"]["createdate"] == rec["createdAt"]);
  CHECK(rec["properties"]["lastmodifieddate"] == rec["updatedAt"]);
  CHECK(rec["createdAt"].get<std::string>().size() == 24);  // 2025-01-02T03:04:05.678Z

  json got = body_of(api.get("/crm/v3/objects/contacts/" + id + "?properties=email,phone,nosuch"));
  CHECK(got["properties"]["email"] == "mixed@case.com");
  CHECK(got["properties"]["phone"].is_null());
  CHECK_FALSE(got["properties"].contains("nosuch"));
  CHECK_FALSE(got["properties"].contains("firstname"));

  json by_email = body_of(api.get("/crm/v3/objects/contacts/MIXED@case.com?idProperty=email"));
  CHECK(by_email["id"] == id);
  CHECK(api.get("/crm/v3/objects/contacts/999999")->status == 404);
  CHECK(body_of(api.get("/crm/v3/objects/contacts/999999"))["category"] == "OBJECT_NOT_FOUND");

  auto patched = api.patch("/crm/v3/objects/contacts/" + id, {{"properties", {{"firstname", ""}, {"phone", 123}}}});
  REQUIRE(patched->status == 200);
  json p = json::parse(patched->body);
  CHECK(p["properties"]["phone"] == "123");
  CHECK(p["properties"]["firstname"].is_null());
}

TEST_CASE("values are validated per property type", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed({{"properties",
                  {{"contacts",
                    {{{"name", "tags"}, {"type", "enumeration"}, {"fieldType", "checkbox"},
                      {"options", {{{"label", "A"}, {"value", "a"}}, {{"label", "B"}, {"value", "b"}}}}},
                     {{"name", "renewal"}, {"type", "date"}, {"fieldType", "date"}},
                     {{"name", "seen_at"}, {"type", "datetime"}, {"fieldType", "date"}},
                     {{"name", "score"}, {"type", "number"}, {"fieldType", "number"}},
                     {{"name", "vip"}, {"type", "bool"}, {"fieldType", "booleancheckbox"}}}}}}});
  emu.start();
  Api api(emu);
  auto ok = api.post("/crm/v3/objects/contacts", {{"properties",
                                                   {{"tags", "a;b"},
                                                    {"renewal", 1735776000000LL},  // 2025-01-02 midnight
                                                    {"seen_at", "2025-01-02T03:04:05+01:00"},
                                                    {"score", 12.5},
                                                    {"vip", true}}}});
  REQUIRE(ok->status == 201);
  json p = json::parse(ok->body)["properties"];
  CHECK(p["renewal"] == "2025-01-02");
  CHECK(p["seen_at"] == "2025-01-02T02:04:05.000Z");
  CHECK(p["score"] == "12.5");
  CHECK(p["vip"] == "true");
  CHECK(p["tags"] == "a;b");

  auto code_of = [&](const json& props) {
    auto r = api.post("/crm/v3/objects/contacts", {{"properties", props}});
    REQUIRE(r->status == 400);
    json b = json::parse(r->body);
    CHECK(b["category"] == "VALIDATION_ERROR");
    CHECK(b["message"].get<std::string>().rfind("Property values were not valid: ", 0) == 0);
    return b["errors"][0]["code"].get<std::string>();
  };
  CHECK(code_of({{"tags", "a;c"}}) == "INVALID_OPTION");
  CHECK(code_of({{"renewal", 1735776000001LL}}) == "INVALID_DATE");
  CHECK(code_of({{"renewal", "2025-02-30"}}) == "INVALID_DATE");
  CHECK(code_of({{"seen_at", "yesterday"}}) == "INVALID_DATE");
  CHECK(code_of({{"score", "12a"}}) == "INVALID_DOUBLE");
  CHECK(code_of({{"vip", "yes"}}) == "INVALID_BOOLEAN");
  CHECK(code_of({{"email", "two@@x.com"}}) == "INVALID_EMAIL");
  CHECK(code_of({{"email", "no dot@x"}}) == "INVALID_EMAIL");
  CHECK(code_of({{"nosuch", "x"}}) == "PROPERTY_DOESNT_EXIST");
  CHECK(code_of({{"hs_object_id", "5"}}) == "READ_ONLY_VALUE");
  CHECK(code_of({{"lifecyclestage", "prospect"}}) == "INVALID_OPTION");
  auto r = api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "x@x.com"}, {"nosuch", "x"}}}});
  CHECK(body_of(r)["errors"][0]["context"]["propertyName"][0] == "nosuch");
}

TEST_CASE("a contact's email is unique among live contacts", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  auto first = api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "dup@x.com"}}}});
  REQUIRE(first->status == 201);
  const std::string id = json::parse(first->body)["id"];
  auto again = api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "DUP@x.com"}}}});
  CHECK(again->status == 409);
  json b = json::parse(again->body);
  CHECK(b["category"] == "CONFLICT");
  CHECK(b["message"] == "Contact already exists. Existing ID: " + id);

  // A batch with one existing email fails as a whole and writes nothing.
  auto batch = api.post("/crm/v3/objects/contacts/batch/create",
                        {{"inputs",
                          {{{"properties", {{"email", "fresh@x.com"}}}, {"objectWriteTraceId", "t1"}},
                           {{"properties", {{"email", "dup@x.com"}}}, {"objectWriteTraceId", "t2"}}}}});
  CHECK(batch->status == 409);
  CHECK(body_of(batch)["message"] == "Contact already exists. Existing ID: " + id);
  CHECK(emu.records("contacts").size() == 1);
  auto twice = api.post("/crm/v3/objects/contacts/batch/create",
                        {{"inputs", {{{"properties", {{"email", "same@x.com"}}}}, {{"properties", {{"email", "SAME@x.com"}}}}}}});
  CHECK(twice->status == 409);
  CHECK(emu.records("contacts").size() == 1);

  // After archiving, the email is free again.
  CHECK(api.del("/crm/v3/objects/contacts/" + id)->status == 204);
  CHECK(api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "dup@x.com"}}}})->status == 201);
}

TEST_CASE("batch calls take at most 100 inputs and at least one", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  json inputs = json::array();
  for (int i = 0; i < 101; ++i) inputs.push_back({{"properties", {{"firstname", "x"}}}});
  for (const char* op : {"create", "read", "update", "upsert", "archive"}) {
    auto r = api.post(std::string("/crm/v3/objects/contacts/batch/") + op, {{"inputs", inputs}});
    CHECK(r->status == 400);
    CHECK(body_of(r)["category"] == "VALIDATION_ERROR");
    CHECK(api.post(std::string("/crm/v3/objects/contacts/batch/") + op, {{"inputs", json::array()}})->status == 400);
  }
  CHECK(emu.records("contacts").empty());
  inputs.erase(inputs.begin());
  auto ok = api.post("/crm/v3/objects/contacts/batch/create", {{"inputs", inputs}});
  CHECK(ok->status == 201);
  json b = json::parse(ok->body);
  CHECK(b["status"] == "COMPLETE");
  CHECK(b["results"].size() == 100);
  CHECK_FALSE(b.contains("errors"));
  CHECK(b.contains("startedAt"));
  CHECK(b.contains("completedAt"));
}

TEST_CASE("batch create reports invalid rows with 207 and their objectWriteTraceId", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  json inputs = {{{"properties", {{"email", "ok1@x.com"}}}, {"objectWriteTraceId", "row-1"}},
                 {{"properties", {{"email", "not-an-email"}}}, {"objectWriteTraceId", "row-2"}},
                 {{"properties", {{"email", "ok3@x.com"}, {"bogus", "1"}}}, {"objectWriteTraceId", "row-3"}},
                 {{"properties", {{"email", "ok4@x.com"}}}, {"objectWriteTraceId", "row-4"}}};
  auto r = api.post("/crm/v3/objects/contacts/batch/create", {{"inputs", inputs}});
  REQUIRE(r->status == 207);
  json b = json::parse(r->body);
  CHECK(b["status"] == "COMPLETE");
  CHECK(b["numErrors"] == 2);
  CHECK(b["results"].size() == 2);
  std::set<std::string> traces;
  for (const auto& e : b["errors"]) {
    CHECK(e["status"] == "error");
    CHECK(e["category"] == "VALIDATION_ERROR");
    traces.insert(e["context"]["objectWriteTraceId"][0].get<std::string>());
  }
  CHECK(traces == std::set<std::string>{"row-2", "row-3"});
  for (const auto& res : b["results"]) CHECK_FALSE(res.contains("objectWriteTraceId"));
  CHECK(emu.records("contacts").size() == 2);

  // "whole" mode: one bad row fails the batch and nothing is written.
  emu.update_options({{"batch_errors", "whole"}});
  inputs = {{{"properties", {{"email", "w1@x.com"}}}}, {{"properties", {{"email", "bad"}}}}};
  auto whole = api.post("/crm/v3/objects/contacts/batch/create", {{"inputs", inputs}});
  CHECK(whole->status == 400);
  CHECK(body_of(whole)["errors"][0]["code"] == "INVALID_EMAIL");
  CHECK(emu.records("contacts").size() == 2);
}

TEST_CASE("batch read and update report missing ids per row", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed({{"objects", {{"companies", {{{"id", "7"}, {"properties", {{"name", "Seven"}}}}}}}}});
  emu.start();
  Api api(emu);
  auto read = api.post("/crm/v3/objects/companies/batch/read",
                       {{"inputs", {{{"id", "7"}}, {{"id", "8"}}}}, {"properties", {"name"}}});
  REQUIRE(read->status == 207);
  json rb = json::parse(read->body);
  CHECK(rb["results"][0]["properties"]["name"] == "Seven");
  CHECK(rb["errors"][0]["category"] == "OBJECT_NOT_FOUND");
  CHECK(rb["errors"][0]["context"]["ids"] == json::array({"8"}));

  auto upd = api.post("/crm/v3/objects/companies/batch/update",
                      {{"inputs", {{{"id", "7"}, {"properties", {{"name", "Sieben"}}}},
                                   {{"id", "9"}, {"properties", {{"name", "Nine"}}}}}}});
  REQUIRE(upd->status == 207);
  json ub = json::parse(upd->body);
  CHECK(ub["results"][0]["properties"]["name"] == "Sieben");
  CHECK(ub["errors"][0]["context"]["ids"] == json::array({"9"}));

  auto dup = api.post("/crm/v3/objects/companies/batch/update",
                      {{"inputs", {{{"id", "7"}, {"properties", {{"name", "A"}}}}, {{"id", "7"}, {"properties", {{"name", "B"}}}}}}});
  CHECK(dup->status == 400);
  CHECK(body_of(dup)["message"].get<std::string>().find("Duplicate IDs found in batch input") != std::string::npos);

  auto archive = api.post("/crm/v3/objects/companies/batch/archive", {{"inputs", {{{"id", "7"}}, {{"id", "12345"}}}}});
  CHECK(archive->status == 204);
  CHECK(archive->body.empty());
}

TEST_CASE("batch upsert by email creates or updates and says which", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed({{"objects", {{"contacts", {{{"id", "500"}, {"properties", {{"email", "old@x.com"}, {"firstname", "Old"}}}}}}}}});
  emu.start();
  Api api(emu);
  auto r = api.post("/crm/v3/objects/contacts/batch/upsert",
                    {{"inputs", {{{"id", "OLD@x.com"}, {"idProperty", "email"}, {"properties", {{"firstname", "Older"}}}},
                                 {{"id", "new@x.com"}, {"idProperty", "email"}, {"properties", {{"firstname", "New"}}}}}}});
  REQUIRE(r->status == 200);
  json b = json::parse(r->body);
  REQUIRE(b["results"].size() == 2);
  for (const auto& res : b["results"]) {
    if (res["id"] == "500") {
      CHECK(res["new"] == false);
      CHECK(res["properties"]["firstname"] == "Older");
    } else {
      CHECK(res["new"] == true);
      CHECK(res["properties"]["email"] == "new@x.com");
    }
  }
  auto dup = api.post("/crm/v3/objects/contacts/batch/upsert",
                      {{"inputs", {{{"id", "a@x.com"}, {"idProperty", "email"}, {"properties", json::object()}},
                                   {{"id", "A@x.com"}, {"idProperty", "email"}, {"properties", json::object()}}}}});
  CHECK(dup->status == 400);
  auto not_unique = api.post("/crm/v3/objects/companies/batch/upsert",
                             {{"inputs", {{{"id", "x.com"}, {"idProperty", "domain"}, {"properties", json::object()}}}}});
  CHECK(not_unique->status == 400);
}

// The ids of a search or list answer, in order, without a full JSON parse (10,000 records).
std::vector<std::uint64_t> ids_in(const std::string& body) {
  std::vector<std::uint64_t> ids;
  static const std::string key = "\"id\":\"";
  for (auto pos = body.find(key); pos != std::string::npos; pos = body.find(key, pos + 1))
    ids.push_back(std::stoull(body.substr(pos + key.size(), 20)));
  return ids;
}

TEST_CASE("search pages to 10,000 over records sharing one timestamp, then answers 400", "[emulator]") {
  HubspotEmulator emu(fast_options());
  {
    json list = json::array();
    for (int i = 0; i < 12000; ++i) list.push_back({{"updatedAt", "2025-03-01T00:00:00Z"}});
    emu.load_seed({{"objects", {{"contacts", list}}}});
  }
  emu.start();
  Api api(emu);
  json q = {{"filterGroups", {{{"filters", {{{"propertyName", "lastmodifieddate"}, {"operator", "GTE"}, {"value", "1740787200000"}}}}}}},
            {"sorts", {{{"propertyName", "lastmodifieddate"}, {"direction", "ASCENDING"}}}},
            {"properties", {"lastmodifieddate"}},
            {"limit", 200}};
  std::uint64_t last = 0;
  std::size_t seen = 0;
  std::string after;
  while (true) {
    if (!after.empty()) q["after"] = after;
    auto r = api.post("/crm/v3/objects/contacts/search", q);
    REQUIRE(r);
    if (after == "10000") {
      CHECK(r->status == 400);
      CHECK(body_of(r)["category"] == "VALIDATION_ERROR");
      break;
    }
    REQUIRE(r->status == 200);
    CHECK_FALSE(r->has_header("X-HubSpot-RateLimit-Remaining"));
    if (after.empty()) {
      json b = json::parse(r->body);
      CHECK(b["total"] == 12000);
      CHECK(b["results"].size() == 200);
      CHECK(b["results"][0]["properties"]["lastmodifieddate"] == "2025-03-01T00:00:00.000Z");
    }
    const auto ids = ids_in(r->body);
    REQUIRE(ids.size() == 200);
    for (const auto id : ids) {
      if (id <= last) FAIL("ids out of order: " << id << " after " << last);  // ties by id ascending
      last = id;
    }
    seen += ids.size();
    const auto next = r->body.find("\"after\":\"");
    REQUIRE(next != std::string::npos);
    after = r->body.substr(next + 9, r->body.find('"', next + 9) - next - 9);
  }
  CHECK(seen == 10000);

  // Later than every record: nothing.
  q["filterGroups"][0]["filters"][0]["value"] = "2025-03-01T00:00:00.001Z";
  q.erase("after");
  json none = body_of(api.post("/crm/v3/objects/contacts/search", q));
  CHECK(none["total"] == 0);
  CHECK_FALSE(none.contains("paging"));
}

TEST_CASE("search validates its request like HubSpot", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  auto status = [&](const json& q) { return api.post("/crm/v3/objects/contacts/search", q)->status; };
  json f = {{"propertyName", "email"}, {"operator", "HAS_PROPERTY"}};
  json six_groups = json::array();
  for (int i = 0; i < 6; ++i) six_groups.push_back({{"filters", {f}}});
  CHECK(status({{"filterGroups", six_groups}}) == 400);
  CHECK(status({{"filterGroups", {{{"filters", json::array({f, f, f, f, f, f, f})}}}}}) == 400);
  json four = json::array({f, f, f, f});
  CHECK(status({{"filterGroups", {{{"filters", four}}, {{"filters", four}}, {{"filters", four}}, {{"filters", four}}, {{"filters", four}}}}}) == 400);
  CHECK(status({{"sorts", {{{"propertyName", "email"}}, {{"propertyName", "firstname"}}}}}) == 400);
  CHECK(status({{"limit", 201}}) == 400);
  CHECK(status({{"limit", 200}}) == 200);
  CHECK(status({{"after", "10000"}}) == 400);
}

TEST_CASE("search filters combine AND within a group and OR across groups, and skip archived", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed({{"objects",
                  {{"deals",
                    {{{"id", "1"}, {"properties", {{"dealname", "a"}, {"amount", "5"}, {"dealstage", "closedwon"}}}},
                     {{"id", "2"}, {"properties", {{"dealname", "b"}, {"amount", "50"}, {"dealstage", "closedlost"}}}},
                     {{"id", "3"}, {"properties", {{"dealname", "c"}, {"amount", "500"}, {"dealstage", "closedwon"}}}},
                     {{"id", "4"}, {"archived", true}, {"properties", {{"dealname", "d"}, {"amount", "5000"}}}}}}}}});
  emu.start();
  Api api(emu);
  auto ids = [&](const json& q) {
    json b = body_of(api.post("/crm/v3/objects/deals/search", q));
    std::vector<std::string> out;
    for (const auto& r : b["results"]) out.push_back(r["id"]);
    return out;
  };
  json amount_gt_10 = {{"propertyName", "amount"}, {"operator", "GT"}, {"value", "10"}};
  json won = {{"propertyName", "dealstage"}, {"operator", "EQ"}, {"value", "closedwon"}};
  CHECK(ids({{"filterGroups", {{{"filters", {amount_gt_10, won}}}}}}) == std::vector<std::string>{"3"});
  CHECK(ids({{"filterGroups", {{{"filters", {amount_gt_10}}}, {{"filters", {won}}}}}}) ==
        std::vector<std::string>{"1", "2", "3"});
  CHECK(ids({{"sorts", {{{"propertyName", "amount"}, {"direction", "DESCENDING"}}}}}) ==
        std::vector<std::string>{"3", "2", "1"});
  CHECK(ids({{"filterGroups", {{{"filters", {{{"propertyName", "amount"}, {"operator", "BETWEEN"}, {"value", "5"}, {"highValue", "50"}}}}}}}}) ==
        std::vector<std::string>{"1", "2"});
  CHECK(ids({{"filterGroups", {{{"filters", {{{"propertyName", "dealname"}, {"operator", "IN"}, {"values", {"a", "c", "d"}}}}}}}}}) ==
        std::vector<std::string>{"1", "3"});
}

TEST_CASE("search compares string properties without regard to case; IN and NOT_IN values must be lower-case",
          "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed({{"objects",
                  {{"companies",
                    {{{"id", "1"}, {"properties", {{"name", "ACME Corp"}, {"domain", "acme.com"}}}},
                     {{"id", "2"}, {"properties", {{"name", "Åsa Design"}, {"domain", "asa.se"}}}},
                     {{"id", "3"}, {"properties", {{"name", "beta"}, {"domain", "beta.io"}}}}}}}}});
  emu.start();
  Api api(emu);
  auto ids = [&](const std::string& op, const json& value) {
    json filter = {{"propertyName", "name"}, {"operator", op}};
    filter[op == "IN" || op == "NOT_IN" ? "values" : "value"] = value;
    json b = body_of(api.post("/crm/v3/objects/companies/search", {{"filterGroups", {{{"filters", {filter}}}}}}));
    std::vector<std::string> out;
    for (const auto& r : b["results"]) out.push_back(r["id"]);
    return out;
  };
  using ids_t = std::vector<std::string>;
  CHECK(ids("IN", {"acme corp", "beta"}) == ids_t{"1", "3"});
  CHECK(ids("IN", {"åsa design"}) == ids_t{"2"});  // Unicode lower case, not only ASCII
  CHECK(ids("IN", {"ACME Corp"}).empty());         // a mixed-case value matches nothing
  CHECK(ids("IN", {"Åsa Design", "BETA"}).empty());
  CHECK(ids("NOT_IN", {"acme corp"}) == ids_t{"2", "3"});
  CHECK(ids("NOT_IN", {"ACME Corp"}) == ids_t{"1", "2", "3"});
  CHECK(ids("EQ", "acme CORP") == ids_t{"1"});
  CHECK(ids("EQ", "ÅSA DESIGN") == ids_t{"2"});
  CHECK(ids("NEQ", "Beta") == ids_t{"1", "2"});
}

TEST_CASE("an object whose read scope the app lacks answers 403 MISSING_SCOPES", "[emulator]") {
  auto options = fast_options();
  options.unreadable_objects = {"companies"};
  HubspotEmulator emu(options);
  emu.start();
  Api api(emu);
  for (const char* path : {"/crm/v3/objects/companies?limit=1", "/crm/v3/properties/companies"}) {
    auto r = api.get(path);
    REQUIRE(r);
    CHECK(r->status == 403);
    json b = body_of(r);
    CHECK(b["category"] == "MISSING_SCOPES");
    CHECK(b["errors"][0]["context"]["requiredGranularScopes"] == json::array({"crm.objects.companies.read"}));
  }
  CHECK(api.get("/crm/v3/objects/contacts?limit=1")->status == 200);
  emu.update_options({{"unreadable_objects", json::array()}});
  CHECK(api.get("/crm/v3/objects/companies?limit=1")->status == 200);
}

TEST_CASE("search does not see writes younger than the search lag", "[emulator]") {
  HubspotEmulatorOptions o = fast_options();
  o.search_lag_ms = 300;
  HubspotEmulator emu(o);
  emu.load_seed({{"objects", {{"contacts", {{{"id", "10"}, {"properties", {{"email", "seed@x.com"}, {"firstname", "Before"}}}}}}}}});
  emu.start();
  Api api(emu);
  json q = {{"properties", {"firstname"}}};
  REQUIRE(api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "fresh@x.com"}}}})->status == 201);
  REQUIRE(api.patch("/crm/v3/objects/contacts/10", {{"properties", {{"firstname", "After"}}}})->status == 200);
  json b = body_of(api.post("/crm/v3/objects/contacts/search", q));
  CHECK(b["total"] == 1);
  CHECK(b["results"][0]["properties"]["firstname"] == "Before");
  // The list endpoint sees the write at once.
  CHECK(body_of(api.get("/crm/v3/objects/contacts"))["results"].size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  b = body_of(api.post("/crm/v3/objects/contacts/search", q));
  CHECK(b["total"] == 2);
  CHECK(b["results"][0]["properties"]["firstname"] == "After");
}

TEST_CASE("sorted search pages are consistent when each page is ordered separately (search lag)", "[emulator]") {
  HubspotEmulatorOptions o = fast_options();
  o.search_lag_ms = 50;  // no result cache: every page partitions and sorts on its own
  HubspotEmulator emu(o);
  json deals = json::array();
  for (int i = 0; i < 57; ++i)
    deals.push_back({{"id", std::to_string(100 + i)}, {"properties", {{"dealname", "d"}, {"amount", std::to_string((i * 37) % 11)}}}});
  emu.load_seed({{"objects", {{"deals", deals}}}});
  emu.start();
  Api api(emu);
  json q = {{"sorts", {{{"propertyName", "amount"}, {"direction", "DESCENDING"}}}}, {"properties", {"amount"}}, {"limit", 7}};
  std::vector<std::pair<double, std::uint64_t>> seen;
  while (true) {
    json b = body_of(api.post("/crm/v3/objects/deals/search", q));
    for (const auto& r : b["results"])
      seen.emplace_back(std::stod(r["properties"]["amount"].get<std::string>()), std::stoull(r["id"].get<std::string>()));
    if (!b.contains("paging")) break;
    q["after"] = b["paging"]["next"]["after"];
  }
  REQUIRE(seen.size() == 57);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const bool ordered = seen[i - 1].first > seen[i].first ||
                         (seen[i - 1].first == seen[i].first && seen[i - 1].second < seen[i].second);
    CHECK(ordered);
  }
}

TEST_CASE("search has its own per-second limit", "[emulator]") {
  HubspotEmulatorOptions o;
  o.ten_second_limit = 1;  // search does not count toward it
  HubspotEmulator emu(o);
  emu.start();
  Api api(emu);
  int ok = 0, limited = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = api.post("/crm/v3/objects/contacts/search", json::object());
    REQUIRE(r);
    if (r->status == 200) ++ok;
    if (r->status == 429) {
      ++limited;
      json b = json::parse(r->body);
      CHECK(b["policyName"] == "SECONDLY");
      CHECK(b["errorType"] == "RATE_LIMIT");
      CHECK_FALSE(r->has_header("X-HubSpot-RateLimit-Max"));
    }
  }
  CHECK(ok == 5);
  CHECK(limited == 1);
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);
}

TEST_CASE("the rolling window limit answers 429 TEN_SECONDLY_ROLLING with rate headers", "[emulator]") {
  HubspotEmulatorOptions o;
  o.ten_second_limit = 3;
  o.window_ms = 1000;
  HubspotEmulator emu(o);
  emu.start();
  Api api(emu);
  for (int i = 0; i < 3; ++i) {
    auto r = api.get("/crm/v3/objects/contacts");
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("X-HubSpot-RateLimit-Max") == "3");
    CHECK(r->get_header_value("X-HubSpot-RateLimit-Remaining") == std::to_string(2 - i));
    CHECK(r->get_header_value("X-HubSpot-RateLimit-Interval-Milliseconds") == "1000");
    CHECK(r->get_header_value("X-HubSpot-RateLimit-Daily") == "250000");
    CHECK(r->get_header_value("X-HubSpot-RateLimit-Daily-Remaining") == std::to_string(250000 - 1 - i));
  }
  auto limited = api.get("/crm/v3/objects/contacts");
  REQUIRE(limited->status == 429);
  CHECK_FALSE(limited->has_header("Retry-After"));
  CHECK(limited->get_header_value("X-HubSpot-RateLimit-Remaining") == "0");
  json b = json::parse(limited->body);
  CHECK(b["status"] == "error");
  CHECK(b["message"] == "You have reached your ten_secondly_rolling limit.");
  CHECK(b["errorType"] == "RATE_LIMIT");
  CHECK(b["policyName"] == "TEN_SECONDLY_ROLLING");
  CHECK(b["correlationId"].is_string());
  json s = emu.stats();
  CHECK(s["throttled_by_limit"] == 1);
  CHECK(s["max_in_any_window"] == 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);
}

TEST_CASE("the daily limit answers 429 DAILY", "[emulator]") {
  HubspotEmulatorOptions o = fast_options();
  o.daily_limit = 2;
  HubspotEmulator emu(o);
  emu.start();
  Api api(emu);
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);
  auto r = api.get("/crm/v3/objects/contacts");
  REQUIRE(r->status == 429);
  json b = json::parse(r->body);
  CHECK(b["policyName"] == "DAILY");
  CHECK(b["message"] == "You have reached your daily limit.");
  CHECK(r->get_header_value("X-HubSpot-RateLimit-Daily-Remaining") == "0");
  CHECK(emu.stats()["daily_used"] == 2);
}

TEST_CASE("OAuth refresh issues access tokens that expire", "[emulator]") {
  HubspotEmulatorOptions o = fast_options();
  o.rotate_refresh_token = true;
  HubspotEmulator emu(o);
  emu.start();
  httplib::Client cli(emu.base_url());
  auto refresh = [&](const std::string& token, const std::string& secret = "emulator-secret") {
    return cli.Post("/oauth/v1/token",
                    "grant_type=refresh_token&client_id=emulator-client&client_secret=" + secret +
                        "&refresh_token=" + token,
                    "application/x-www-form-urlencoded");
  };
  auto r = refresh("emulator-refresh-token");
  REQUIRE(r->status == 200);
  json t = json::parse(r->body);
  CHECK(t["token_type"] == "bearer");
  CHECK(t["expires_in"] == 1800);
  const std::string access = t["access_token"];
  const std::string rotated = t["refresh_token"];
  CHECK(rotated != "emulator-refresh-token");

  Api api(emu, access);
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);
  emu.expire_tokens();
  auto expired = api.get("/crm/v3/objects/contacts");
  CHECK(expired->status == 401);
  CHECK(body_of(expired)["category"] == "EXPIRED_AUTHENTICATION");

  // The old refresh token works once more, then not.
  CHECK(refresh("emulator-refresh-token")->status == 200);
  auto gone = refresh("emulator-refresh-token");
  CHECK(gone->status == 400);
  CHECK(body_of(gone)["status"] == "BAD_REFRESH_TOKEN");
  CHECK(refresh(rotated)->status == 200);
  CHECK(body_of(refresh(rotated, "wrong"))["status"] == "BAD_CLIENT_SECRET");
  auto cc = cli.Post("/oauth/v1/token", "grant_type=client_credentials&client_id=emulator-client&client_secret=emulator-secret",
                     "application/x-www-form-urlencoded");
  CHECK(cc->status == 200);
  CHECK(emu.stats()["token_refreshes"] == 4);
}

TEST_CASE("properties can be listed, created and changed within the allowed type pairs", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  json list = body_of(api.get("/crm/v3/properties/contacts"));
  bool has_email = false;
  for (const auto& p : list["results"]) has_email = has_email || p["name"] == "email";
  CHECK(has_email);
  json ro = body_of(api.get("/crm/v3/properties/contacts/lastmodifieddate"));
  CHECK(ro["modificationMetadata"]["readOnlyValue"] == true);
  CHECK(api.get("/crm/v3/properties/contacts/nosuch")->status == 404);

  json plan = {{"name", "plan"}, {"label", "Plan"}, {"type", "enumeration"}, {"fieldType", "select"},
               {"groupName", "contactinformation"}, {"options", {{{"label", "Free"}, {"value", "free"}, {"hidden", false}}}}};
  auto created = api.post("/crm/v3/properties/contacts", plan);
  REQUIRE(created->status == 201);
  CHECK(body_of(created)["options"][0]["value"] == "free");
  CHECK(api.post("/crm/v3/properties/contacts", plan)->status == 409);

  json bad = plan;
  bad["name"] = "plan2";
  bad["fieldType"] = "text";
  CHECK(api.post("/crm/v3/properties/contacts", bad)->status == 400);
  bad = {{"name", "Bad Name"}, {"label", "x"}, {"type", "string"}, {"fieldType", "text"}, {"groupName", "g"}};
  CHECK(api.post("/crm/v3/properties/contacts", bad)->status == 400);
  bad = {{"name", "noopts"}, {"label", "x"}, {"type", "enumeration"}, {"fieldType", "radio"}, {"groupName", "g"}};
  CHECK(api.post("/crm/v3/properties/contacts", bad)->status == 400);
  bad = {{"name", "nolabel"}, {"type", "string"}, {"fieldType", "text"}, {"groupName", "g"}};
  CHECK(api.post("/crm/v3/properties/contacts", bad)->status == 400);

  auto patched = api.patch("/crm/v3/properties/contacts/plan",
                           {{"label", "Plan level"},
                            {"fieldType", "checkbox"},
                            {"options", {{{"label", "Free"}, {"value", "free"}}, {{"label", "Pro"}, {"value", "pro"}}}}});
  REQUIRE(patched->status == 200);
  CHECK(body_of(patched)["label"] == "Plan level");
  CHECK(api.patch("/crm/v3/properties/contacts/plan", {{"fieldType", "text"}})->status == 400);
  CHECK(api.patch("/crm/v3/properties/contacts/plan", {{"name", "other"}})->status == 400);
  CHECK(api.post("/crm/v3/objects/contacts", {{"properties", {{"plan", "free;pro"}}}})->status == 201);
}

TEST_CASE("custom objects are addressed by id and by name", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed({{"custom_objects",
                  {{{"objectTypeId", "2-1001"},
                    {"name", "pets"},
                    {"properties", {{{"name", "pet_name"}, {"type", "string"}, {"fieldType", "text"}},
                                    {{"name", "tag"}, {"type", "string"}, {"fieldType", "text"}, {"hasUniqueValue", true}}}}}}},
                 {"objects", {{"pets", {{{"properties", {{"pet_name", "Rex"}, {"tag", "T1"}}}}}}}}});
  emu.start();
  Api api(emu);
  for (const char* name : {"pets", "p_pets", "2-1001"}) {
    json b = body_of(api.get(std::string("/crm/v3/objects/") + name + "?properties=pet_name"));
    REQUIRE(b["results"].size() == 1);
    CHECK(b["results"][0]["properties"]["pet_name"] == "Rex");
    CHECK(b["results"][0]["properties"].contains("hs_lastmodifieddate"));
  }
  auto up = api.post("/crm/v3/objects/pets/batch/upsert",
                     {{"inputs", {{{"id", "T1"}, {"idProperty", "tag"}, {"properties", {{"pet_name", "Rex II"}}}},
                                  {{"id", "T2"}, {"idProperty", "tag"}, {"properties", {{"pet_name", "Fido"}}}}}}});
  REQUIRE(up->status == 200);
  CHECK(emu.records("pets").size() == 2);
}

TEST_CASE("archived records are listed only with archived=true", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.load_seed(contacts_seed(3));
  emu.start();
  Api api(emu);
  json all = body_of(api.get("/crm/v3/objects/contacts"));
  const std::string id = all["results"][1]["id"];
  CHECK(api.del("/crm/v3/objects/contacts/" + id)->status == 204);
  CHECK(api.del("/crm/v3/objects/contacts/" + id)->status == 204);
  CHECK(api.del("/crm/v3/objects/contacts/424242")->status == 204);
  CHECK(body_of(api.get("/crm/v3/objects/contacts"))["results"].size() == 2);
  json archived = body_of(api.get("/crm/v3/objects/contacts?archived=true"));
  REQUIRE(archived["results"].size() == 1);
  CHECK(archived["results"][0]["id"] == id);
  CHECK(archived["results"][0]["archived"] == true);
  CHECK(archived["results"][0].contains("archivedAt"));
  CHECK(api.get("/crm/v3/objects/contacts/" + id)->status == 404);
  CHECK(emu.records("contacts", true).size() == 3);
}

TEST_CASE("frozen time and touch control timestamps", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.set_frozen_time(1735689600000LL);  // 2025-01-01T00:00:00Z
  emu.start();
  Api api(emu);
  json a = body_of(api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "a@x.com"}}}}));
  json b = body_of(api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "b@x.com"}}}}));
  CHECK(a["updatedAt"] == "2025-01-01T00:00:00.000Z");
  CHECK(b["updatedAt"] == a["updatedAt"]);
  emu.touch("contacts", a["id"]);
  json touched = body_of(api.get("/crm/v3/objects/contacts/" + a["id"].get<std::string>()));
  CHECK(touched["updatedAt"] == "2025-01-01T00:00:00.001Z");
  CHECK(touched["properties"]["lastmodifieddate"] == "2025-01-01T00:00:00.001Z");
  emu.set_frozen_time(std::nullopt);
}

TEST_CASE("injected faults: 5xx, max_faults, dropped connections, lost responses", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  HubspotFaults f;
  f.rate_500 = 1;
  f.max_faults = 2;
  emu.set_faults(f);
  auto r1 = api.get("/crm/v3/objects/contacts");
  auto r2 = api.get("/crm/v3/objects/contacts");
  REQUIRE(r1);
  REQUIRE(r2);
  CHECK(r1->status >= 500);
  CHECK(r2->status >= 500);
  CHECK(body_of(r1)["status"] == "error");
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);

  f = HubspotFaults{};
  f.rate_drop = 1;
  emu.set_faults(f);
  auto dropped = api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "d@x.com"}}}});
  CHECK_FALSE(dropped);
  CHECK(emu.records("contacts").empty());  // not processed

  f = HubspotFaults{};
  f.rate_lost_response = 1;
  emu.set_faults(f);
  auto lost = api.post("/crm/v3/objects/contacts", {{"properties", {{"email", "l@x.com"}}}});
  CHECK_FALSE(lost);
  CHECK(emu.records("contacts").size() == 1);  // processed

  f = HubspotFaults{};
  f.rate_malformed = 1;
  f.paths = {"/crm/v3/objects/companies"};
  emu.set_faults(f);
  auto bad = api.get("/crm/v3/objects/companies");
  REQUIRE(bad);
  CHECK(bad->status == 200);
  CHECK_THROWS(json::parse(bad->body));
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);  // outside the paths

  f = HubspotFaults{};
  f.rate_timeout = 1;
  f.timeout_ms = 400;
  f.max_faults = 1;
  emu.set_faults(f);
  api.cli.set_read_timeout(0, 200000);
  auto timed_out = api.get("/crm/v3/objects/contacts");
  CHECK_FALSE(timed_out);

  emu.set_faults(HubspotFaults{});
  json s = emu.stats();
  CHECK(s["faults_injected"] == 6);
  json log = emu.request_log();
  std::set<std::string> kinds;
  for (const auto& e : log)
    if (e["fault"].is_string()) kinds.insert(e["fault"].get<std::string>());
  CHECK(kinds == std::set<std::string>{"5xx", "drop", "lost_response", "malformed"});  // timeout still hanging
}

TEST_CASE("injected 429s carry the rate-limit body and count as injected", "[emulator]") {
  HubspotEmulator emu(fast_options());
  emu.start();
  Api api(emu);
  HubspotFaults f;
  f.rate_429 = 1;
  f.max_faults = 1;
  emu.set_faults(f);
  auto r = api.get("/crm/v3/objects/contacts");
  REQUIRE(r->status == 429);
  CHECK(body_of(r)["policyName"] == "TEN_SECONDLY_ROLLING");
  CHECK(r->has_header("X-HubSpot-RateLimit-Max"));
  CHECK(emu.stats()["throttled_injected"] == 1);
  CHECK(emu.stats()["throttled_by_limit"] == 0);
}

TEST_CASE("control endpoints seed, inspect and reset the emulator", "[emulator]") {
  HubspotEmulator emu;
  emu.start();
  httplib::Client cli(emu.base_url());
  CHECK(cli.Post("/_emulator/seed", contacts_seed(2).dump(), "application/json")->status == 200);
  auto objects = cli.Get("/_emulator/objects/contacts?archived=all");
  REQUIRE(objects->status == 200);
  CHECK(json::parse(objects->body).size() == 2);
  CHECK(cli.Post("/_emulator/options", R"({"ten_second_limit": 1})", "application/json")->status == 200);
  CHECK(cli.Post("/_emulator/options", R"({"nonsense": 1})", "application/json")->status == 400);
  Api api(emu);
  CHECK(api.get("/crm/v3/objects/contacts")->status == 200);
  CHECK(api.get("/crm/v3/objects/contacts")->status == 429);
  json stats = json::parse(cli.Get("/_emulator/stats")->body);
  CHECK(stats["requests"] == 2);
  CHECK(stats["by_status"]["429"] == 1);
  CHECK(json::parse(cli.Get("/_emulator/requests")->body).size() == 2);
  CHECK(cli.Post("/_emulator/reset-stats", "", "application/json")->status == 200);
  CHECK(emu.stats()["requests"] == 0);
  CHECK(emu.request_log().empty());
  CHECK(cli.Post("/_emulator/faults", R"({"rate_500": 1})", "application/json")->status == 200);
  CHECK(api.get("/crm/v3/objects/contacts")->status >= 500);
  CHECK(cli.Post("/_emulator/faults", R"({"rate_5000": 1})", "application/json")->status == 400);
  CHECK(cli.Get("/nowhere")->status == 404);
}

TEST_CASE("stop() returns promptly with idle keep-alive connections open", "[emulator]") {
  auto emu = std::make_unique<HubspotEmulator>();
  emu->start();
  httplib::Client cli(emu->base_url());
  cli.set_keep_alive(true);
  httplib::Headers h{{"Authorization", std::string("Bearer ") + kToken}};
  REQUIRE(cli.Get("/crm/v3/objects/contacts", h)->status == 200);
  REQUIRE(cli.Get("/crm/v3/objects/contacts", h)->status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  emu->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
