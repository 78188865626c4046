// The Salesforce emulator behaves like Salesforce's REST API as API-FACTS describes it.
// Debian's libcpp-httplib is compiled with OpenSSL support: httplib::Client's layout depends on it.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulators/salesforce/salesforce_emulator.hpp"

using nlohmann::json;
using synctool::emulators::SalesforceEmulator;
using synctool::emulators::SalesforceEmulatorOptions;
using synctool::emulators::SalesforceFaults;

namespace {

constexpr std::int64_t kT0 = 1768003200000;  // 2026-01-10T00:00:00Z
constexpr std::int64_t kMinute = 60000;
constexpr std::int64_t kDay = 86400000;
const std::string kV = "/services/data/v60.0";

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) out += (out.empty() ? "" : "&") + url_encode(k) + "=" + url_encode(v);
  return out;
}

json body_of(const httplib::Result& r) {
  REQUIRE(r);
  return json::parse(r->body);
}

// A client with a session (issued by the emulator, as the token endpoint would).
struct Api {
  httplib::Client cli;
  std::string token;

  explicit Api(SalesforceEmulator& emu, bool with_session = true) : cli(emu.base_url()) {
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(5, 0);
    if (with_session) token = emu.issue_session();
  }
  httplib::Headers headers(const httplib::Headers& extra = {}) const {
    httplib::Headers h = extra;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return h;
  }
  httplib::Result get(const std::string& path, const httplib::Headers& extra = {}) {
    return cli.Get(path, headers(extra));
  }
  httplib::Result post(const std::string& path, const json& body, const httplib::Headers& extra = {}) {
    return cli.Post(path, headers(extra), body.dump(), "application/json");
  }
  httplib::Result patch(const std::string& path, const json& body, const httplib::Headers& extra = {}) {
    return cli.Patch(path, headers(extra), body.dump(), "application/json");
  }
  httplib::Result del(const std::string& path) { return cli.Delete(path, headers()); }
  httplib::Result query(const std::string& soql, const httplib::Headers& extra = {}, bool all = false) {
    return get(kV + (all ? "/queryAll?q=" : "/query?q=") + url_encode(soql), extra);
  }
  json records_of(const std::string& soql) {
    auto r = query(soql);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body)["records"];
  }
  json create(const std::vector<json>& records, bool all_or_none = false, const httplib::Headers& extra = {}) {
    auto r = post(kV + "/composite/sobjects", {{"allOrNone", all_or_none}, {"records", json(records)}}, extra);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  std::string create_one(const json& record) {
    json res = create({record});
    INFO(res.dump());
    REQUIRE(res[0]["success"] == true);
    return res[0]["id"];
  }
};

json contact(const std::string& last, const std::string& email = "") {
  json c{{"attributes", {{"type", "Contact"}}}, {"LastName", last}};
  if (!email.empty()) c["Email"] = email;
  return c;
}

json contacts_seed(int n) {
  json list = json::array();
  for (int i = 0; i < n; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "C%04d", i);
    list.push_back({{"LastName", name},
                    {"Email", "user" + std::to_string(i) + "@example.com"},
                    {"CreatedDate", "2026-01-01T00:00:00Z"},
                    {"SystemModstamp", "2026-01-02T00:00:00Z"}});
  }
  return {{"records", {{"Contact", list}}}};
}

// The case-safe suffix computed here independently of the emulator.
std::string expected_suffix(const std::string& id15) {
  const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  std::string out;
  for (int chunk = 0; chunk < 3; ++chunk) {
    int bits = 0;
    for (int j = 0; j < 5; ++j)
      if (std::isupper(static_cast<unsigned char>(id15[chunk * 5 + j]))) bits |= 1 << j;
    out += chars[bits];
  }
  return out;
}

// RS256 key pair and signing for the JWT bearer flow.
struct RsaKey {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ~RsaKey() { EVP_PKEY_free(key); }
  std::string public_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  }
  std::string sign(const std::string& input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    std::size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return sig;
  }
};

std::string base64url(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  auto b = [&](std::size_t j) { return static_cast<unsigned>(static_cast<unsigned char>(in[j])); };
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += {k[(n >> 18) & 63], k[(n >> 12) & 63], k[(n >> 6) & 63], k[n & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned n = b(i) << 16;
    out += {k[(n >> 18) & 63], k[(n >> 12) & 63]};
  } else if (i + 2 == in.size()) {
    const unsigned n = (b(i) << 16) | (b(i + 1) << 8);
    out += {k[(n >> 18) & 63], k[(n >> 12) & 63], k[(n >> 6) & 63]};
  }
  return out;
}

std::string jwt(const RsaKey& key, const json& claims) {
  const std::string input = base64url(json{{"alg", "RS256"}}.dump()) + "." + base64url(claims.dump());
  return input + "." + base64url(key.sign(input));
}

std::int64_t wall_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("Salesforce token endpoint: refresh grant answers instance_url, signature and no expires_in",
          "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.rotate_refresh_token = true;
  SalesforceEmulator emu(o);
  emu.start();
  httplib::Client cli(emu.base_url());
  auto token = [&](const std::string& refresh, const std::string& secret = "emulator-consumer-secret") {
    return cli.Post("/services/oauth2/token",
                    form({{"grant_type", "refresh_token"},
                          {"client_id", "emulator-consumer-key"},
                          {"client_secret", secret},
                          {"refresh_token", refresh}}),
                    "application/x-www-form-urlencoded");
  };
  auto r = token("emulator-refresh-token");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  json b = json::parse(r->body);
  CHECK_FALSE(b.contains("expires_in"));
  CHECK(b["instance_url"] == emu.instance_url());
  CHECK(b["token_type"] == "Bearer");
  CHECK(b["id"].get<std::string>().find("/id/00D") != std::string::npos);
  CHECK(b["issued_at"].is_string());
  CHECK(b["signature"].get<std::string>().size() == 44);  // base64 of an HMAC-SHA256
  const std::string access = b["access_token"];
  const std::string rotated = b["refresh_token"];

  httplib::Client api(b["instance_url"].get<std::string>());
  auto ok = api.Get(kV + "/sobjects/Contact/describe", {{"Authorization", "Bearer " + access}});
  REQUIRE(ok);
  CHECK(ok->status == 200);

  // Rotation: the old refresh token stops working, the new one works.
  CHECK(body_of(token("emulator-refresh-token"))["error"] == "invalid_grant");
  CHECK(token(rotated)->status == 200);
  CHECK(body_of(token("x", "wrong-secret"))["error"] == "invalid_client");
  auto unsupported = cli.Post("/services/oauth2/token", "grant_type=password", "application/x-www-form-urlencoded");
  CHECK(body_of(unsupported)["error"] == "unsupported_grant_type");
  CHECK(emu.stats()["sessions_issued"] == 2);
}

TEST_CASE("Salesforce JWT bearer grant verifies the RS256 signature and the claims", "[emulator][salesforce]") {
  RsaKey key, other;
  SalesforceEmulatorOptions o;
  o.jwt_public_key_pem = key.public_pem();
  SalesforceEmulator emu(o);
  emu.start();
  httplib::Client cli(emu.base_url());
  auto grant = [&](const std::string& assertion) {
    return cli.Post("/services/oauth2/token",
                    form({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", assertion}}),
                    "application/x-www-form-urlencoded");
  };
  const json good{{"iss", "emulator-consumer-key"},
                  {"sub", "integration@emulator.example"},
                  {"aud", "https://login.salesforce.com"},
                  {"exp", wall_seconds() + 180}};
  auto r = grant(jwt(key, good));
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  json b = json::parse(r->body);
  CHECK(b["instance_url"] == emu.base_url());
  CHECK_FALSE(b.contains("expires_in"));
  CHECK_FALSE(b.contains("refresh_token"));

  CHECK(body_of(grant(jwt(other, good)))["error_description"] == "invalid assertion");
  json expired = good;
  expired["exp"] = wall_seconds() - 10;
  CHECK(body_of(grant(jwt(key, expired)))["error"] == "invalid_grant");
  json wrong_aud = good;
  wrong_aud["aud"] = "https://example.com";
  CHECK(body_of(grant(jwt(key, wrong_aud)))["error_description"] == "audience is invalid");
  json wrong_iss = good;
  wrong_iss["iss"] = "someone-else";
  CHECK(body_of(grant(jwt(key, wrong_iss)))["error"] == "invalid_client_id");
  json wrong_sub = good;
  wrong_sub["sub"] = "nobody@example.com";
  CHECK(grant(jwt(key, wrong_sub))->status == 400);
  CHECK(grant("not.a.jwt")->status == 400);
}

TEST_CASE("Salesforce sessions expire: 401 INVALID_SESSION_ID", "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.session_lifetime_s = 60;
  SalesforceEmulator emu(o);
  emu.set_frozen_time(kT0);
  emu.start();
  Api none(emu, false);
  auto r = none.get(kV + "/sobjects/Contact/describe");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(body_of(r) == json::parse(R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])"));
  Api api(emu);
  CHECK(api.get(kV + "/sobjects/Contact/describe")->status == 200);
  emu.advance_time(61000);
  CHECK(api.get(kV + "/sobjects/Contact/describe")->status == 401);
  Api fresh(emu);
  CHECK(fresh.get(kV + "/limits")->status == 200);
  emu.expire_sessions();
  CHECK(fresh.get(kV + "/limits")->status == 401);
  api.token = "00D000000000001!bogus";
  CHECK(api.get(kV + "/limits")->status == 401);
}

TEST_CASE("Salesforce describe, versions, custom objects and fields", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.load_seed({{"objects", {{{"name", "Invoice__c"}, {"fields", {{{"name", "Amount__c"}, {"type", "double"}}}}}}},
                 {"fields", {{"Contact", {{{"name", "External_Id__c"}, {"externalId", true}, {"unique", true}, {"length", 40}}}}}}});
  emu.define_field("Lead", {{"name", "Score__c"}, {"type", "double"}});
  emu.start();
  Api api(emu);
  json d = body_of(api.get(kV + "/sobjects/Contact/describe"));
  CHECK(d["name"] == "Contact");
  CHECK(d["keyPrefix"] == "003");
  std::map<std::string, json> fields;
  for (const auto& f : d["fields"]) fields[f["name"]] = f;
  for (const char* n : {"Id", "IsDeleted", "SystemModstamp", "LastModifiedDate", "CreatedDate", "MasterRecordId",
                        "LastName", "Email", "External_Id__c"})
    CHECK(fields.count(n) == 1);
  CHECK(fields["LastName"]["nillable"] == false);
  CHECK(fields["LastName"]["createable"] == true);
  CHECK(fields["LastName"]["defaultedOnCreate"] == false);
  CHECK(fields["LastName"]["length"] == 80);
  CHECK(fields["Email"]["type"] == "email");
  CHECK(fields["Id"]["type"] == "id");
  CHECK(fields["SystemModstamp"]["type"] == "datetime");
  CHECK(fields["SystemModstamp"]["createable"] == false);
  CHECK(fields["External_Id__c"]["externalId"] == true);
  CHECK(fields["External_Id__c"]["unique"] == true);
  CHECK(fields["External_Id__c"]["custom"] == true);
  CHECK(fields["HasOptedOutOfEmail"]["type"] == "boolean");

  json lead = body_of(api.get(kV + "/sobjects/Lead/describe"));
  int required = 0;
  for (const auto& f : lead["fields"])
    if (!f["nillable"].get<bool>() && !f["defaultedOnCreate"].get<bool>() && f["createable"].get<bool>()) ++required;
  CHECK(required == 2);  // LastName, Company

  json inv = body_of(api.get(kV + "/sobjects/Invoice__c/describe"));
  CHECK(inv["custom"] == true);
  CHECK(inv["keyPrefix"].get<std::string>()[0] == 'a');
  const std::string id = api.create_one({{"attributes", {{"type", "Invoice__c"}}}, {"Amount__c", 12.5}});
  CHECK(id.substr(0, 3) == inv["keyPrefix"]);
  CHECK(api.get(kV + "/sobjects/Nope__c/describe")->status == 404);

  json versions = body_of(api.cli.Get("/services/data/"));
  CHECK(versions.front()["version"] == "46.0");
  CHECK(versions.front()["url"] == "/services/data/v46.0");
  CHECK(api.get("/services/data/v45.0/limits")->status == 404);
  CHECK(api.get("/services/data/v60/limits")->status == 404);
  CHECK(api.get("/services/data/v66.0/limits")->status == 200);
  json limits = body_of(api.get("/services/data/v46.0/limits"));
  CHECK(limits["DailyApiRequests"]["Max"] == 100000);
}

TEST_CASE("Salesforce ids: 18 characters with the key prefix and the case-safe suffix", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.start();
  Api api(emu);
  json res = api.create({contact("A"), contact("B"), {{"attributes", {{"type", "Account"}}}, {"Name", "Acme"}},
                         {{"attributes", {{"type", "Lead"}}}, {"LastName", "L"}, {"Company", "Co"}}});
  std::set<std::string> ids;
  for (const auto& r : res) {
    const std::string id = r["id"];
    REQUIRE(id.size() == 18);
    CHECK(id.substr(15) == expected_suffix(id.substr(0, 15)));
    ids.insert(id);
  }
  CHECK(ids.size() == 4);
  CHECK(res[0]["id"].get<std::string>().substr(0, 3) == "003");
  CHECK(res[2]["id"].get<std::string>().substr(0, 3) == "001");
  CHECK(res[3]["id"].get<std::string>().substr(0, 3) == "00Q");
  const std::string id = res[0]["id"];
  // The 15-character form, and the 18-character form in any case, name the same record.
  CHECK(body_of(api.get(kV + "/sobjects/Contact/" + id.substr(0, 15)))["Id"] == id);
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(body_of(api.get(kV + "/sobjects/Contact/" + upper))["Id"] == id);
  CHECK(api.get(kV + "/sobjects/Contact/" + id.substr(0, 15) + "ZZZ")->status == 404);
  CHECK(api.records_of("SELECT Id FROM Contact WHERE Id = '" + id.substr(0, 15) + "'").size() == 1);
}

TEST_CASE("Salesforce SOQL: filters, order, limit, literals and case-insensitive names", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.define_field("Contact", {{"name", "Score__c"}, {"type", "double"}});
  emu.define_field("Contact", {{"name", "Vip__c"}, {"type", "boolean"}});
  emu.load_seed({{"records",
                  {{"Contact",
                    {{{"LastName", "Adams"}, {"FirstName", "Ann"}, {"Email", "ann@x.com"}, {"Score__c", 5}, {"Vip__c", true},
                      {"SystemModstamp", "2026-01-02T00:00:00Z"}},
                     {{"LastName", "Brown"}, {"Email", "bob@y.com"}, {"Score__c", 10}, {"SystemModstamp", "2026-01-03T00:00:00Z"}},
                     {{"LastName", "O'Hara"}, {"Score__c", 7.5}, {"SystemModstamp", "2026-01-03T00:00:00Z"}},
                     {{"LastName", "clark"}, {"Email", "c@x.com"}, {"SystemModstamp", "2026-01-04T00:00:00Z"}}}}}}});
  emu.start();
  Api api(emu);
  auto names = [&](const std::string& soql) {
    std::vector<std::string> out;
    for (const auto& r : api.records_of(soql)) out.push_back(r["LastName"]);
    return out;
  };
  json recs = api.records_of("select id, lastname, EMAIL from contact where email = 'ANN@X.COM'");
  REQUIRE(recs.size() == 1);
  CHECK(recs[0]["attributes"]["type"] == "Contact");
  CHECK(recs[0]["attributes"]["url"] == kV + "/sobjects/Contact/" + recs[0]["Id"].get<std::string>());
  CHECK(recs[0]["LastName"] == "Adams");  // canonical names, whatever the query's case
  CHECK(recs[0]["Email"] == "ann@x.com");
  CHECK_FALSE(recs[0].contains("FirstName"));

  CHECK(names("SELECT LastName FROM Contact ORDER BY LastName") ==
        std::vector<std::string>{"Adams", "Brown", "clark", "O'Hara"});
  CHECK(names("SELECT LastName FROM Contact ORDER BY Score__c DESC NULLS LAST LIMIT 3") ==
        std::vector<std::string>{"Brown", "O'Hara", "Adams"});
  CHECK(names("SELECT LastName FROM Contact WHERE LastName = 'O\\'Hara'") == std::vector<std::string>{"O'Hara"});
  CHECK(names("SELECT LastName FROM Contact WHERE Email LIKE '%@x.com' ORDER BY LastName") ==
        std::vector<std::string>{"Adams", "clark"});
  CHECK(names("SELECT LastName FROM Contact WHERE Email = NULL") == std::vector<std::string>{"O'Hara"});
  CHECK(names("SELECT LastName FROM Contact WHERE Score__c >= 7.5 AND Email != null") ==
        std::vector<std::string>{"Brown"});
  CHECK(names("SELECT LastName FROM Contact WHERE Vip__c = TRUE") == std::vector<std::string>{"Adams"});
  CHECK(names("SELECT LastName FROM Contact WHERE LastName IN ('adams', 'CLARK') ORDER BY LastName DESC") ==
        std::vector<std::string>{"clark", "Adams"});
  CHECK(names("SELECT LastName FROM Contact WHERE LastName NOT IN ('adams', 'CLARK') ORDER BY LastName") ==
        std::vector<std::string>{"Brown", "O'Hara"});
  CHECK(names("SELECT LastName FROM Contact WHERE (Score__c < 6 OR Score__c > 9) AND Email LIKE 'a%'") ==
        std::vector<std::string>{"Adams"});
  CHECK(names("SELECT LastName FROM Contact WHERE NOT LastName LIKE 'a%' ORDER BY LastName LIMIT 1") ==
        std::vector<std::string>{"Brown"});
  // The incremental read a connector makes.
  CHECK(names("SELECT Id, LastName FROM Contact WHERE SystemModstamp >= 2026-01-03T00:00:00Z ORDER BY "
              "SystemModstamp, Id")
            .size() == 3);
  CHECK(names("SELECT LastName FROM Contact WHERE SystemModstamp > 2026-01-03T01:00:00+01:00 ORDER BY LastName") ==
        std::vector<std::string>{"clark"});
  json count = body_of(api.query("SELECT COUNT() FROM Contact WHERE Email != NULL"));
  CHECK(count["totalSize"] == 3);
  CHECK(count["records"].empty());
  json dated = api.records_of("SELECT SystemModstamp, CreatedDate, IsDeleted FROM Contact WHERE LastName = 'clark'");
  CHECK(dated[0]["SystemModstamp"] == "2026-01-04T00:00:00.000+0000");
  CHECK(dated[0]["IsDeleted"] == false);
}

TEST_CASE("Salesforce SOQL errors: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, typed literals",
          "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.start();
  Api api(emu);
  auto error_of = [&](const std::string& soql) {
    auto r = api.query(soql);
    REQUIRE(r);
    CHECK(r->status == 400);
    json b = json::parse(r->body);
    REQUIRE(b.is_array());
    return b[0];
  };
  CHECK(error_of("SELECT Id FRM Contact")["errorCode"] == "MALFORMED_QUERY");
  CHECK(error_of("SELECT Id FROM Contact WHERE")["errorCode"] == "MALFORMED_QUERY");
  CHECK(error_of("SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Email = 'c'")["errorCode"] ==
        "MALFORMED_QUERY");
  CHECK(error_of("SELECT Id FROM Contact WHERE LastName = 'unterminated")["errorCode"] == "MALFORMED_QUERY");
  CHECK(error_of("SELECT Id, Id FROM Contact")["errorCode"] == "MALFORMED_QUERY");
  json unknown_field = error_of("SELECT Id, Nope FROM Contact");
  CHECK(unknown_field["errorCode"] == "INVALID_FIELD");
  CHECK(unknown_field["message"].get<std::string>().find("No such column 'Nope' on entity 'Contact'") !=
        std::string::npos);
  CHECK(unknown_field["message"].get<std::string>().find("ERROR at Row:1:Column:12") != std::string::npos);
  CHECK(error_of("SELECT Id FROM Nope")["errorCode"] == "INVALID_TYPE");
  // Datetimes are unquoted, strings quoted, ids well-formed.
  CHECK(error_of("SELECT Id FROM Contact WHERE SystemModstamp > '2026-01-01T00:00:00Z'")["errorCode"] ==
        "INVALID_QUERY_FILTER_OPERATOR");
  CHECK(error_of("SELECT Id FROM Contact WHERE LastName = 5")["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR");
  CHECK(error_of("SELECT Id FROM Contact WHERE Id = 'abc'")["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR");
  CHECK(error_of("SELECT Id FROM Contact WHERE Account.Name = 'x'")["errorCode"] == "INVALID_FIELD");
  auto missing = api.get(kV + "/query");
  CHECK(missing->status == 400);
  CHECK(body_of(missing)[0]["errorCode"] == "MALFORMED_QUERY");
}

TEST_CASE("Salesforce query paging: nextRecordsUrl and batchSize", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.load_seed(contacts_seed(450));
  emu.start();
  Api api(emu);
  json first = body_of(api.query("SELECT Id, LastName FROM Contact ORDER BY LastName"));
  CHECK(first["totalSize"] == 450);
  CHECK(first["done"] == true);
  CHECK(first["records"].size() == 450);
  CHECK_FALSE(first.contains("nextRecordsUrl"));

  const httplib::Headers batch{{"Sforce-Query-Options", "batchSize=200"}};
  json page = body_of(api.query("SELECT Id, LastName FROM Contact ORDER BY LastName", batch));
  std::vector<std::string> names;
  int pages = 0;
  while (true) {
    ++pages;
    CHECK(page["totalSize"] == 450);
    for (const auto& r : page["records"]) names.push_back(r["LastName"]);
    if (page["done"] == true) {
      CHECK_FALSE(page.contains("nextRecordsUrl"));
      break;
    }
    CHECK(page["records"].size() == 200);
    const std::string next = page["nextRecordsUrl"];
    CHECK(next.rfind(kV + "/query/01g", 0) == 0);
    page = body_of(api.get(next, batch));
  }
  CHECK(pages == 3);
  REQUIRE(names.size() == 450);
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == 450);

  // A batch size below 200 is raised to 200.
  json small = body_of(api.query("SELECT Id FROM Contact", {{"Sforce-Query-Options", "batchSize=10"}}));
  CHECK(small["records"].size() == 200);
  auto bad = api.get(kV + "/query/01gXXXXXXXXXXXXXXX-200");
  CHECK(bad->status == 400);
  CHECK(body_of(bad)[0]["errorCode"] == "INVALID_QUERY_LOCATOR");
}

TEST_CASE("Salesforce queryAll sees soft-deleted and merged records, query does not", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.set_frozen_time(kT0);
  emu.start();
  Api api(emu);
  json res = api.create({contact("Winner", "w@x.com"), contact("Loser", "l@x.com"), contact("Gone", "g@x.com")});
  const std::string winner = res[0]["id"], loser = res[1]["id"], gone = res[2]["id"];
  emu.advance_time(5000);
  auto del = api.del(kV + "/sobjects/Contact/" + gone);
  CHECK(del->status == 204);
  emu.merge("Contact", winner, {loser});
  CHECK(api.records_of("SELECT Id FROM Contact").size() == 1);
  CHECK(api.records_of("SELECT Id FROM Contact WHERE IsDeleted = TRUE").empty());
  auto all = api.query("SELECT Id, IsDeleted, MasterRecordId, SystemModstamp FROM Contact ORDER BY LastName", {}, true);
  REQUIRE(all->status == 200);
  json recs = json::parse(all->body)["records"];
  REQUIRE(recs.size() == 3);
  CHECK(recs[0]["Id"] == gone);
  CHECK(recs[0]["IsDeleted"] == true);
  CHECK(recs[0]["MasterRecordId"].is_null());
  CHECK(recs[1]["Id"] == loser);
  CHECK(recs[1]["IsDeleted"] == true);
  CHECK(recs[1]["MasterRecordId"] == winner);
  CHECK(recs[2]["Id"] == winner);
  CHECK(recs[2]["IsDeleted"] == false);
  CHECK(recs[2]["SystemModstamp"] == "2026-01-10T00:00:05.000+0000");  // the merge moved the winner
  CHECK(emu.records("Contact", true).size() == 3);
  CHECK(emu.records("Contact").size() == 1);
  CHECK(api.get(kV + "/sobjects/Contact/" + gone)->status == 404);
}

TEST_CASE("Salesforce updated and deleted resources: windows, INVALID_REPLICATION_DATE, earliestDateAvailable",
          "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.set_frozen_time(kT0);
  emu.start();
  Api api(emu);
  const std::string a = api.create_one(contact("A")), b = api.create_one(contact("B"));
  emu.advance_time(3 * kMinute);
  CHECK(api.del(kV + "/sobjects/Contact/" + b)->status == 204);
  emu.advance_time(3 * kMinute);
  auto window = [&](const std::string& kind, const std::string& start, const std::string& end) {
    return api.get(kV + "/sobjects/Contact/" + kind + "/?start=" + url_encode(start) + "&end=" + url_encode(end));
  };
  json updated = body_of(window("updated", "2026-01-09T23:59:00+00:00", "2026-01-10T00:10:00+00:00"));
  CHECK(updated["ids"] == json::array({a}));
  CHECK(updated["latestDateCovered"] == "2026-01-10T00:06:00.000+0000");  // not past now
  json deleted = body_of(window("deleted", "2026-01-09T23:59:00Z", "2026-01-10T00:05:30Z"));
  REQUIRE(deleted["deletedRecords"].size() == 1);
  CHECK(deleted["deletedRecords"][0]["id"] == b);
  CHECK(deleted["deletedRecords"][0]["deletedDate"] == "2026-01-10T00:03:00.000+0000");
  CHECK(deleted["latestDateCovered"] == "2026-01-10T00:05:00.000+0000");  // seconds ignored
  CHECK(deleted["earliestDateAvailable"] == "1970-01-01T00:00:00.000+0000");  // nothing purged yet

  auto too_short = window("updated", "2026-01-10T00:00:00Z", "2026-01-10T00:00:59Z");
  CHECK(too_short->status == 400);
  CHECK(body_of(too_short)[0]["errorCode"] == "INVALID_REPLICATION_DATE");
  CHECK(body_of(window("deleted", "2025-12-20T00:00:00Z", "2026-01-10T00:00:00Z"))[0]["errorCode"] ==
        "INVALID_REPLICATION_DATE");
  CHECK(window("updated", "2025-12-20T00:00:00Z", "2026-01-10T00:00:00Z")->status == 200);  // 30 days for updates
  CHECK(window("updated", "nonsense", "2026-01-10T00:00:00Z")->status == 400);

  // Emptying the recycle bin moves earliestDateAvailable; a start before it is refused.
  CHECK(emu.purge_deleted("Contact") == 1);
  auto purged = window("deleted", "2026-01-09T23:59:00Z", "2026-01-10T00:05:30Z");
  CHECK(purged->status == 400);
  CHECK(body_of(purged)[0]["errorCode"] == "INVALID_REPLICATION_DATE");
  json after = body_of(window("deleted", "2026-01-10T00:03:00Z", "2026-01-10T00:05:30Z"));
  CHECK(after["earliestDateAvailable"] == "2026-01-10T00:03:00.000+0000");
  CHECK(after["deletedRecords"].empty());
  CHECK(api.query("SELECT Id FROM Contact", {}, true)->body.find(b) == std::string::npos);

  // The retention horizon purges on its own as time passes.
  const std::string c = api.create_one(contact("C"));
  CHECK(api.del(kV + "/sobjects/Contact/" + c)->status == 204);
  emu.advance_time(16 * kDay);
  api.token = emu.issue_session();  // the old session expired meanwhile
  CHECK(api.records_of("SELECT Id FROM Contact").size() == 1);
  CHECK(json::parse(api.query("SELECT Id FROM Contact", {}, true)->body)["totalSize"] == 1);
  // Aging out is a physical delete too: earliestDateAvailable is now C's deletion.
  json aged = body_of(window("deleted", "2026-01-25T00:00:00Z", "2026-01-26T00:00:00Z"));
  CHECK(aged["earliestDateAvailable"] == "2026-01-10T00:06:00.000+0000");
}

TEST_CASE("Salesforce collections create: one result per record in order, per-row errors", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.start();
  Api api(emu);
  json res = api.create({contact("Good", "good@example.com"),
                         {{"attributes", {{"type", "Contact"}}}, {"FirstName", "NoLast"}},
                         contact("BadEmail", "not-an-email"),
                         contact(std::string(81, 'x')),
                         {{"attributes", {{"type", "Contact"}}}, {"LastName", "U"}, {"Nope__c", "x"}},
                         {{"attributes", {{"type", "Contact"}}}, {"LastName", "R"}, {"Name", "read only"}},
                         {{"attributes", {{"type", "Lead"}}}, {"LastName", "NoCompany"}},
                         {{"attributes", {{"type", "Contact"}}}, {"LastName", "WithId"}, {"Id", "003000000000001AAA"}},
                         {{"attributes", {{"type", "Nope"}}}, {"LastName", "X"}}});
  REQUIRE(res.size() == 9);
  CHECK(res[0]["success"] == true);
  CHECK(res[0]["id"].get<std::string>().size() == 18);
  CHECK(res[0]["errors"].empty());
  auto code = [&](int i) { return res[i]["errors"][0]["statusCode"].get<std::string>(); };
  for (int i = 1; i < 9; ++i) {
    CHECK(res[i]["success"] == false);
    CHECK(res[i]["id"].is_null());
  }
  CHECK(code(1) == "REQUIRED_FIELD_MISSING");
  CHECK(res[1]["errors"][0]["fields"] == json::array({"LastName"}));
  CHECK(res[1]["errors"][0]["message"] == "Required fields are missing: [LastName]");
  CHECK(code(2) == "INVALID_EMAIL_ADDRESS");
  CHECK(res[2]["errors"][0]["fields"] == json::array({"Email"}));
  CHECK(code(3) == "STRING_TOO_LONG");
  CHECK(code(4) == "INVALID_FIELD");
  CHECK(code(5) == "INVALID_FIELD_FOR_INSERT_UPDATE");
  CHECK(code(6) == "REQUIRED_FIELD_MISSING");
  CHECK(res[6]["errors"][0]["fields"] == json::array({"Company"}));
  CHECK(code(7) == "INVALID_FIELD");
  CHECK(code(8) == "INVALID_TYPE");
  CHECK(emu.records("Contact").size() == 1);

  // A value of the wrong JSON type fails the request as a whole, and nothing is written.
  auto wrong = api.post(kV + "/composite/sobjects",
                        {{"records", {contact("Fine"), {{"attributes", {{"type", "Contact"}}}, {"LastName", "B"},
                                                        {"HasOptedOutOfEmail", "maybe"}}}}});
  CHECK(wrong->status == 400);
  CHECK(body_of(wrong)[0]["errorCode"] == "JSON_PARSER_ERROR");
  CHECK(emu.records("Contact").size() == 1);
}

TEST_CASE("Salesforce collections: 200 records at most; allOrNone rolls back", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.start();
  Api api(emu);
  json many = json::array();
  for (int i = 0; i < 201; ++i) many.push_back(contact("L" + std::to_string(i)));
  auto too_many = api.post(kV + "/composite/sobjects", {{"records", many}});
  CHECK(too_many->status == 400);
  CHECK(body_of(too_many)[0]["errorCode"] == "EXCEEDED_ID_LIMIT");
  many.erase(many.begin());
  CHECK(api.create(many.get<std::vector<json>>()).size() == 200);
  CHECK(emu.records("Contact").size() == 200);

  json res = api.create({contact("Kept?"), contact("Bad", "bad@"), contact("Kept too?")}, true);
  CHECK(res[0]["success"] == false);
  CHECK(res[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  CHECK(res[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS");
  CHECK(res[2]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  CHECK(emu.records("Contact").size() == 200);

  // An update with allOrNone leaves every record as it was.
  json existing = emu.records("Contact");
  const std::string a = existing[0]["Id"], b = existing[1]["Id"];
  auto upd = api.patch(kV + "/composite/sobjects",
                       {{"allOrNone", true},
                        {"records",
                         {{{"attributes", {{"type", "Contact"}}}, {"id", a}, {"Title", "Changed"}},
                          {{"attributes", {{"type", "Contact"}}}, {"id", b}, {"LastName", nullptr}}}}});
  json ur = body_of(upd);
  CHECK(ur[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  CHECK(ur[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING");
  CHECK(api.records_of("SELECT Title FROM Contact WHERE Id = '" + a + "'")[0]["Title"].is_null());
}

TEST_CASE("Salesforce collections update, upsert and delete", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.define_field("Contact", {{"name", "Ext__c"}, {"externalId", true}, {"length", 20}});
  emu.start();
  Api api(emu);
  json res = api.create({contact("A", "a@x.com"), contact("B", "b@x.com"), contact("C")});
  const std::string a = res[0]["id"], b = res[1]["id"], c = res[2]["id"];
  CHECK(api.del(kV + "/sobjects/Contact/" + c)->status == 204);

  json upd = body_of(api.patch(
      kV + "/composite/sobjects",
      {{"records",
        {{{"attributes", {{"type", "Contact"}}}, {"id", a}, {"Title", "CEO"}},
         {{"attributes", {{"type", "Contact"}}}, {"id", c}, {"Title", "x"}},
         {{"attributes", {{"type", "Contact"}}}, {"id", "bogus"}, {"Title", "x"}},
         {{"attributes", {{"type", "Contact"}}}, {"Title", "no id"}},
         {{"attributes", {{"type", "Contact"}}}, {"id", a.substr(0, 15)}, {"Title", "again"}},
         {{"attributes", {{"type", "Contact"}}}, {"id", b}, {"Email", "B@X.COM"}}}}}));
  REQUIRE(upd.size() == 6);
  CHECK(upd[0]["success"] == true);
  CHECK(upd[0]["id"] == a);
  CHECK(upd[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED");
  CHECK(upd[2]["errors"][0]["statusCode"] == "MALFORMED_ID");
  CHECK(upd[3]["errors"][0]["statusCode"] == "MISSING_ARGUMENT");
  CHECK(upd[4]["errors"][0]["statusCode"] == "DUPLICATE_VALUE");  // the same id twice in one call
  CHECK(upd[5]["success"] == true);
  CHECK(api.records_of("SELECT Title FROM Contact WHERE Id = '" + a + "'")[0]["Title"] == "CEO");

  // Upsert by an external id field: created flags in order; Id in the body is refused.
  json ups = body_of(api.patch(kV + "/composite/sobjects/Contact/Ext__c",
                               {{"records",
                                 {{{"attributes", {{"type", "Contact"}}}, {"Ext__c", "E1"}, {"LastName", "New"}},
                                  {{"attributes", {{"type", "Contact"}}}, {"Ext__c", "E1"}, {"LastName", "Again"}},
                                  {{"attributes", {{"type", "Contact"}}}, {"Ext__c", "E2"}, {"Id", a}, {"LastName", "X"}},
                                  {{"attributes", {{"type", "Contact"}}}, {"LastName", "NoKey"}}}}}));
  REQUIRE(ups.size() == 4);
  CHECK(ups[0]["success"] == true);
  CHECK(ups[0]["created"] == true);
  CHECK(ups[1]["success"] == true);
  CHECK(ups[1]["created"] == false);
  CHECK(ups[1]["id"] == ups[0]["id"]);
  CHECK(ups[2]["success"] == false);
  CHECK(ups[3]["errors"][0]["statusCode"] == "MISSING_ARGUMENT");
  CHECK(api.records_of("SELECT LastName FROM Contact WHERE Ext__c = 'e1'")[0]["LastName"] == "Again");
  // Email is an id-lookup field: upsert by it matches without regard to case.
  json by_email = body_of(api.patch(kV + "/composite/sobjects/Contact/Email",
                                    {{"records", {{{"attributes", {{"type", "Contact"}}}, {"Email", "A@x.com"},
                                                   {"LastName", "Renamed"}}}}}));
  CHECK(by_email[0]["id"] == a);
  CHECK(by_email[0]["created"] == false);
  auto not_key = api.patch(kV + "/composite/sobjects/Contact/Title", {{"records", json::array()}});
  CHECK(not_key->status == 400);
  CHECK(api.patch(kV + "/composite/sobjects/Contact/Nope__c", {{"records", json::array()}})->status == 404);

  json del = body_of(api.del(kV + "/composite/sobjects?ids=" + a + "," + c + ",bogus&allOrNone=false"));
  REQUIRE(del.size() == 3);
  CHECK(del[0]["success"] == true);
  CHECK(del[0]["id"] == a);
  CHECK(del[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED");
  CHECK(del[2]["errors"][0]["statusCode"] == "MALFORMED_ID");
  json del_all = body_of(api.del(kV + "/composite/sobjects?ids=" + b + "," + c + "&allOrNone=true"));
  CHECK(del_all[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  CHECK(api.records_of("SELECT Id FROM Contact WHERE Id = '" + b + "'").size() == 1);
}

TEST_CASE("Salesforce duplicate rule on Email, allowSave header, and a validation rule", "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.validation_rules.push_back({"Contact", "Title", "Forbidden", "Titles like that are not allowed.", true});
  SalesforceEmulator emu(o);
  emu.start();
  Api api(emu);
  const std::string first = api.create_one(contact("First", "dup@example.com"));
  json res = api.create({contact("Second", "DUP@example.com")});
  CHECK(res[0]["success"] == false);
  json err = res[0]["errors"][0];
  CHECK(err["statusCode"] == "DUPLICATES_DETECTED");
  CHECK(err["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"] == first);
  CHECK(err["duplicateResult"]["duplicateRuleEntityType"] == "Contact");

  json allowed = api.create({contact("Second", "DUP@example.com")}, false,
                            {{"Sforce-Duplicate-Rule-Header", "allowSave=true"}});
  CHECK(allowed[0]["success"] == true);
  // A single-record create answers the error array with the duplicate result.
  auto single = api.post(kV + "/sobjects/Contact", {{"LastName", "Third"}, {"Email", "dup@EXAMPLE.com"}});
  CHECK(single->status == 400);
  json sb = body_of(single);
  CHECK(sb[0]["errorCode"] == "DUPLICATES_DETECTED");
  CHECK(sb[0]["duplicateResult"]["matchResults"][0]["size"] == 2);

  emu.update_options({{"duplicate_rule", false}});
  CHECK(api.create({contact("Fourth", "dup@example.com")})[0]["success"] == true);

  json v = api.create({{{"attributes", {{"type", "Contact"}}}, {"LastName", "V"}, {"Title", "forbidden"}}});
  CHECK(v[0]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION");
  CHECK(v[0]["errors"][0]["message"] == "Titles like that are not allowed.");
  CHECK(v[0]["errors"][0]["fields"] == json::array({"Title"}));
}

TEST_CASE("Salesforce single-record calls and upsert by external id", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.define_field("Contact", {{"name", "Ext__c"}, {"externalId", true}});
  emu.start();
  Api api(emu);
  auto created = api.post(kV + "/sobjects/Contact", {{"LastName", "Solo"}, {"FirstName", "Han"}});
  REQUIRE(created->status == 201);
  const std::string id = body_of(created)["id"];
  json got = body_of(api.get(kV + "/sobjects/Contact/" + id));
  CHECK(got["Name"] == "Han Solo");
  CHECK(got["attributes"]["type"] == "Contact");
  CHECK(body_of(api.get(kV + "/sobjects/Contact/" + id + "?fields=LastName"))["LastName"] == "Solo");
  CHECK(api.patch(kV + "/sobjects/Contact/" + id, {{"Title", "Pilot"}})->status == 204);
  auto bad = api.patch(kV + "/sobjects/Contact/" + id, {{"Email", "nope"}});
  CHECK(bad->status == 400);
  CHECK(body_of(bad)[0]["errorCode"] == "INVALID_EMAIL_ADDRESS");
  CHECK(body_of(bad)[0]["fields"] == json::array({"Email"}));
  CHECK(api.del(kV + "/sobjects/Contact/" + id)->status == 204);
  CHECK(body_of(api.del(kV + "/sobjects/Contact/" + id))[0]["errorCode"] == "ENTITY_IS_DELETED");

  auto u1 = api.patch(kV + "/sobjects/Contact/Ext__c/K1", {{"LastName", "One"}});
  CHECK(u1->status == 201);
  CHECK(body_of(u1)["created"] == true);
  auto u2 = api.patch(kV + "/sobjects/Contact/Ext__c/K1", {{"LastName", "Uno"}});
  CHECK(u2->status == 200);
  CHECK(body_of(u2)["created"] == false);
  // Two records with one external id value: 300 with their URLs.
  api.create({{{"attributes", {{"type", "Contact"}}}, {"LastName", "A"}, {"Ext__c", "K2"}},
              {{"attributes", {{"type", "Contact"}}}, {"LastName", "B"}, {"Ext__c", "K2"}}});
  auto multi = api.patch(kV + "/sobjects/Contact/Ext__c/K2", {{"LastName", "C"}});
  CHECK(multi->status == 300);
  CHECK(body_of(multi).size() == 2);
  CHECK(api.patch(kV + "/sobjects/Contact/Title/K2", {{"LastName", "C"}})->status == 404);
}

TEST_CASE("Salesforce SystemModstamp moves on every write, LastModifiedDate only on user edits",
          "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.triggers.push_back({"Contact", "Department", "Set by automation", false, true});
  SalesforceEmulator emu(o);
  emu.set_frozen_time(kT0 + 1234);
  emu.start();
  Api api(emu);
  const std::string id = api.create_one(contact("T"));
  auto stamps = [&]() {
    return api.records_of("SELECT SystemModstamp, LastModifiedDate, Department FROM Contact WHERE Id = '" + id + "'")[0];
  };
  json s0 = stamps();
  CHECK(s0["SystemModstamp"] == "2026-01-10T00:00:01.000+0000");  // whole seconds
  CHECK(s0["LastModifiedDate"] == s0["SystemModstamp"]);
  CHECK(s0["Department"].is_null());  // the trigger runs on updates only

  emu.advance_time(10000);
  CHECK(api.patch(kV + "/sobjects/Contact/" + id, {{"Title", "X"}})->status == 204);
  json s1 = stamps();
  CHECK(s1["LastModifiedDate"] == "2026-01-10T00:00:11.000+0000");
  CHECK(s1["SystemModstamp"] == "2026-01-10T00:00:12.000+0000");  // automation, a second later
  CHECK(s1["Department"] == "Set by automation");

  // touch(): automation without a user edit.
  const std::int64_t touched = emu.touch("Contact", id);
  json s2 = stamps();
  CHECK(s2["LastModifiedDate"] == s1["LastModifiedDate"]);
  CHECK(s2["SystemModstamp"] == "2026-01-10T00:00:13.000+0000");
  CHECK(touched == kT0 + 13000);
  // Never backwards, even when the clock is set back.
  emu.set_frozen_time(kT0);
  const std::string later = api.create_one(contact("Later"));
  json s3 = api.records_of("SELECT SystemModstamp FROM Contact WHERE Id = '" + later + "'")[0];
  CHECK(s3["SystemModstamp"].get<std::string>() >= s2["LastModifiedDate"].get<std::string>());
  // A user save after the automation keeps the record's SystemModstamp from going back.
  CHECK(api.patch(kV + "/sobjects/Contact/" + id, {{"Title", "Y"}})->status == 204);
  json s4 = stamps();
  CHECK(s4["SystemModstamp"].get<std::string>() >= s2["SystemModstamp"].get<std::string>());
  CHECK(s4["LastModifiedDate"] == "2026-01-10T00:00:11.000+0000");
}

TEST_CASE("Salesforce automation on every row of a batch does not push stamps into the future",
          "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.triggers.push_back({"Contact", "", nullptr, true, true});
  SalesforceEmulator emu(o);
  emu.set_frozen_time(kT0);
  emu.start();
  Api api(emu);
  std::vector<json> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(contact("B" + std::to_string(i)));
  for (const auto& r : api.create(batch)) CHECK(r["success"] == true);
  for (const auto& r : api.records_of("SELECT SystemModstamp, LastModifiedDate FROM Contact")) {
    CHECK(r["LastModifiedDate"] == "2026-01-10T00:00:00.000+0000");
    CHECK(r["SystemModstamp"] == "2026-01-10T00:00:01.000+0000");
  }
}

TEST_CASE("Salesforce daily allowance: Sforce-Limit-Info on every answer, 403 REQUEST_LIMIT_EXCEEDED",
          "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.daily_limit = 3;
  SalesforceEmulator emu(o);
  emu.set_frozen_time(kT0);
  emu.start();
  Api api(emu);
  for (int i = 1; i <= 3; ++i) {
    auto r = api.get(kV + "/limits");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Sforce-Limit-Info") == "api-usage=" + std::to_string(i) + "/3");
  }
  auto over = api.get(kV + "/sobjects/Contact/describe");
  CHECK(over->status == 403);
  CHECK(body_of(over) == json::parse(R"([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])"));
  CHECK(over->get_header_value("Sforce-Limit-Info") == "api-usage=3/3");
  Api none(emu, false);
  CHECK(none.get(kV + "/limits")->get_header_value("Sforce-Limit-Info") == "api-usage=3/3");
  CHECK(emu.stats()["limit_exceeded"] == 1);
  // A rolling 24 hours.
  emu.advance_time(kDay);
  api.token = emu.issue_session();
  auto again = api.get(kV + "/limits");
  CHECK(again->status == 200);
  CHECK(again->get_header_value("Sforce-Limit-Info") == "api-usage=1/3");
}

TEST_CASE("Salesforce concurrent long-running requests beyond the limit: REQUEST_LIMIT_EXCEEDED",
          "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.long_request_limit = 1;
  o.long_request_ms = 20000;
  SalesforceEmulator emu(o);
  emu.set_frozen_time(kT0);
  SalesforceFaults f;
  f.slow_ms = 800;
  f.paths = {kV + "/limits"};
  emu.set_faults(f);
  emu.start();
  Api slow(emu), api(emu);
  int slow_status = 0;
  std::thread t([&] {
    auto r = slow.get(kV + "/limits");
    slow_status = r ? r->status : -1;
  });
  for (int i = 0; i < 1000 && emu.stats()["in_flight"] != 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  emu.advance_time(21000);  // the slow request has now run for more than 20 s of emulator time
  auto r = api.get(kV + "/sobjects/Contact/describe");
  t.join();
  CHECK(slow_status == 200);
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(body_of(r)[0]["message"] == "ConcurrentPerOrgLongTxn Limit exceeded.");
  CHECK(api.get(kV + "/sobjects/Contact/describe")->status == 200);
}

TEST_CASE("Salesforce faults: lost responses apply the write, others do not; log and stats", "[emulator][salesforce]") {
  SalesforceEmulator emu;
  emu.start();
  Api api(emu);
  SalesforceFaults f;
  f.rate_lost_response = 1;
  f.max_faults = 1;
  f.paths = {kV + "/composite/"};
  emu.set_faults(f);
  auto lost = api.post(kV + "/composite/sobjects", {{"records", {contact("Lost")}}});
  CHECK((!lost || lost->body.size() < 10 || !json::accept(lost->body)));
  CHECK(emu.records("Contact").size() == 1);  // written all the same

  f = SalesforceFaults{};
  f.rate_500 = 1;
  f.max_faults = 2;
  emu.set_faults(f);
  auto e1 = api.post(kV + "/composite/sobjects", {{"records", {contact("Not written")}}});
  REQUIRE(e1);
  CHECK(e1->status >= 500);
  CHECK(emu.records("Contact").size() == 1);

  f = SalesforceFaults{};
  f.rate_malformed = 1;
  f.max_faults = 1;
  emu.set_faults(f);
  auto m = api.get(kV + "/limits");
  REQUIRE(m);
  CHECK(m->status == 200);
  CHECK_FALSE(json::accept(m->body));

  f = SalesforceFaults{};
  f.rate_limit_exceeded = 1;
  f.max_faults = 1;
  emu.set_faults(f);
  auto throttled = api.get(kV + "/limits");
  CHECK(throttled->status == 403);
  CHECK(body_of(throttled)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED");
  CHECK(api.get(kV + "/limits")->status == 200);  // max_faults spent

  json stats = emu.stats();
  CHECK(stats["faults_injected"] == 4);
  CHECK(stats["by_status"]["403"] == 1);
  json log = emu.request_log();
  REQUIRE(log.size() == stats["requests"].get<std::size_t>());
  CHECK(log[0]["fault"] == "lost_response");
  CHECK(log[0]["path"] == kV + "/composite/sobjects");
  CHECK(log.back()["fault"].is_null());

  CHECK_THROWS_AS(synctool::emulators::salesforce_faults_from_json({{"rate_429", 1}}), std::invalid_argument);
  CHECK(synctool::emulators::salesforce_faults_from_json({{"rate_drop", 0.5}}).rate_drop == 0.5);
}

TEST_CASE("Salesforce instance_url can name another host, and the API counts requests by Host",
          "[emulator][salesforce]") {
  SalesforceEmulatorOptions o;
  o.instance_url = "http://localhost:{port}";
  SalesforceEmulator emu(o);
  emu.start();
  CHECK(emu.instance_url() == "http://localhost:" + std::to_string(emu.port()));
  httplib::Client login(emu.base_url());
  json b = body_of(login.Post("/services/oauth2/token",
                              form({{"grant_type", "client_credentials"},
                                    {"client_id", "emulator-consumer-key"},
                                    {"client_secret", "emulator-consumer-secret"}}),
                              "application/x-www-form-urlencoded"));
  CHECK(b["instance_url"] == emu.instance_url());
  httplib::Client instance(b["instance_url"].get<std::string>());
  instance.set_connection_timeout(2, 0);
  auto r = instance.Get(kV + "/limits", {{"Authorization", "Bearer " + b["access_token"].get<std::string>()}});
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(emu.stats()["api_hosts"]["localhost:" + std::to_string(emu.port())] == 1);
}
