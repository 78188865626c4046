// The Mailchimp emulator behaves like the Marketing API v3 as API-FACTS describes it.
// Debian's libcpp-httplib is compiled with OpenSSL support: httplib::Client's layout depends on it.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulators/mailchimp/mailchimp_emulator.hpp"

using nlohmann::json;
using synctool::emulators::MailchimpEmulator;
using synctool::emulators::MailchimpEmulatorOptions;
using synctool::emulators::MailchimpFaults;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef-us6";
constexpr const char* kProblemType = "application/problem+json; charset=utf-8";

std::string base64(const std::string& in) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += kChars[(n >> 6) & 63];
    out += kChars[n & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += kChars[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string basic_auth(const std::string& key) {
  std::string credentials = "anystring:";
  credentials += key;
  std::string header = "Basic ";
  header += base64(credentials);
  return header;
}

std::string api_path(const std::string& path) {
  std::string out = "/3.0";
  out += path;
  return out;
}

struct Api {
  httplib::Client cli;
  httplib::Headers auth;

  explicit Api(const MailchimpEmulator& emu, const std::string& key = kKey)
      : cli("127.0.0.1", emu.port()), auth{{"Authorization", basic_auth(key)}} {
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(5, 0);
  }
  httplib::Result get(const std::string& path) { return cli.Get(api_path(path), auth); }
  httplib::Result post(const std::string& path, const json& body) {
    return cli.Post(api_path(path), auth, body.dump(), "application/json");
  }
  httplib::Result put(const std::string& path, const json& body) {
    return cli.Put(api_path(path), auth, body.dump(), "application/json");
  }
  httplib::Result patch(const std::string& path, const json& body) {
    return cli.Patch(api_path(path), auth, body.dump(), "application/json");
  }
  httplib::Result del(const std::string& path) { return cli.Delete(api_path(path), auth); }
};

json body_of(const httplib::Result& r) {
  REQUIRE(r);
  return json::parse(r->body);
}

json J(const char* text) { return json::parse(text); }

// Strings are built with += here: GCC 12 reports a false -Wrestrict for "literal" + std::string
// at -O2 and above.
std::string email_n(int i) {
  std::string s = "user";
  s += std::to_string(i);
  s += "@northwind.io";
  return s;
}

std::string first_name_n(int i) {
  std::string s = "U";
  s += std::to_string(i);
  return s;
}

// One list "main-audience" (id b1a2c3d4e5) with FNAME (text) and COMPANY (text, required).
json audience_seed(int n, const std::string& last_changed = "2025-01-02T00:00:00+00:00") {
  json members = json::array();
  for (int i = 0; i < n; ++i)
    members.push_back({{"email_address", email_n(i)},
                       {"status", "subscribed"},
                       {"merge_fields", {{"FNAME", first_name_n(i)}, {"COMPANY", "Acme"}}},
                       {"last_changed", last_changed}});
  return {{"lists",
           {{{"id", "b1a2c3d4e5"},
             {"name", "main-audience"},
             {"merge_fields",
              {{{"tag", "FNAME"}, {"name", "First Name"}, {"type", "text"}, {"required", false}},
               {{"tag", "COMPANY"}, {"name", "Company"}, {"type", "text"}, {"required", true}},
               {{"tag", "PLAN"},
                {"name", "Plan"},
                {"type", "dropdown"},
                {"options", {{"choices", {"free", "pro"}}}}},
               {{"tag", "SEATS"}, {"name", "Seats"}, {"type", "number"}}}},
             {"members", members}}}}};
}

constexpr const char* kList = "b1a2c3d4e5";

std::string members_path(const std::string& rest = "") {
  std::string out = "/lists/";
  out += kList;
  out += "/members";
  out += rest;
  return out;
}

// One member's path: `who` is an email or a subscriber hash (plus a query or sub-path).
std::string member_path(const std::string& who) {
  std::string out = members_path("/");
  out += who;
  return out;
}

}  // namespace

TEST_CASE("requests need the API key by Basic or Bearer auth, else 401 API Key Invalid", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.start();
  std::string url = "http://127.0.0.1:";
  url += std::to_string(emu.port());
  url += "/3.0";
  CHECK(emu.base_url() == url);
  httplib::Client cli("127.0.0.1", emu.port());
  auto none = cli.Get("/3.0/ping");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(none->get_header_value("Content-Type") == kProblemType);
  json b = json::parse(none->body);
  CHECK(b["title"] == "API Key Invalid");
  CHECK(b["status"] == 401);
  CHECK(b["type"] == "https://mailchimp.com/developer/marketing/docs/errors/");
  CHECK(b["detail"] == "Your API key may be invalid, or you've attempted to access the wrong datacenter.");
  CHECK(b["instance"].get<std::string>().size() == 36);

  Api wrong(emu, "ffffffffffffffffffffffffffffffff-us6");
  CHECK(wrong.get("/ping")->status == 401);
  Api basic(emu);
  auto ping = basic.get("/ping");
  REQUIRE(ping->status == 200);
  CHECK(body_of(ping)["health_status"] == "Everything's Chimpy!");
  CHECK(ping->get_header_value("Content-Type") == "application/json; charset=utf-8");
  CHECK(cli.Get("/3.0/ping", {{"Authorization", std::string("Bearer ") + kKey}})->status == 200);
  CHECK(cli.Get("/3.0/ping", {{"Authorization", std::string("bearer ") + kKey + "x"}})->status == 401);
  httplib::Client with_basic("127.0.0.1", emu.port());
  with_basic.set_basic_auth("whoever", kKey);
  json root = body_of(with_basic.Get("/3.0/"));
  CHECK(root["account_name"].is_string());
  CHECK(root.contains("account_id"));
  CHECK(cli.Get("/elsewhere")->status == 404);
}

TEST_CASE("lists, their stats and merge fields; defaults for a list seeded without them", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(3));
  emu.load_seed(J(R"({"lists": [{"name": "second",
                                  "members": [{"email_address": "x@northwind.io", "status": "unsubscribed"}]}]})"));
  emu.start();
  Api api(emu);
  json lists = body_of(api.get("/lists"));
  CHECK(lists["total_items"] == 2);
  REQUIRE(lists["lists"].size() == 2);
  const std::string second = emu.list_id("second");
  CHECK(second.size() == 10);
  CHECK_THROWS_AS(emu.list_id("nope"), std::out_of_range);
  json main = body_of(api.get(std::string("/lists/") + kList));
  CHECK(main["name"] == "main-audience");
  CHECK(main["stats"]["member_count"] == 3);
  CHECK(main["stats"]["unsubscribe_count"] == 0);
  CHECK(body_of(api.get("/lists/" + second))["stats"]["unsubscribe_count"] == 1);
  CHECK(body_of(api.get("/lists?count=1&offset=1"))["lists"].size() == 1);

  json mf = body_of(api.get(std::string("/lists/") + kList + "/merge-fields"));
  CHECK(mf["total_items"] == 4);
  CHECK(mf["list_id"] == kList);
  REQUIRE(mf["merge_fields"].size() == 4);
  CHECK(mf["merge_fields"][1]["tag"] == "COMPANY");
  CHECK(mf["merge_fields"][1]["required"] == true);
  CHECK(mf["merge_fields"][2]["options"]["choices"] == json({"free", "pro"}));
  json defaults = body_of(api.get("/lists/" + second + "/merge-fields?count=1000"));
  std::vector<std::string> tags;
  for (const auto& f : defaults["merge_fields"]) tags.push_back(f["tag"]);
  CHECK(tags == std::vector<std::string>{"FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY"});
  CHECK(defaults["merge_fields"][2]["type"] == "address");

  auto created = api.post(std::string("/lists/") + kList + "/merge-fields",
                          {{"tag", "city"}, {"name", "City"}, {"type", "text"}});
  REQUIRE(created->status == 200);
  json c = json::parse(created->body);
  CHECK(c["tag"] == "CITY");
  CHECK(c["merge_id"] == 5);
  auto dup = api.post(std::string("/lists/") + kList + "/merge-fields", {{"tag", "CITY"}, {"name", "C"}, {"type", "text"}});
  CHECK(dup->status == 400);
  CHECK(body_of(dup)["title"] == "Invalid Resource");
  // A new merge field shows on every member, "" while unset.
  CHECK(body_of(api.get(member_path(email_n(0))))["merge_fields"]["CITY"] == "");

  auto unknown = api.get("/lists/0000000000/members");
  CHECK(unknown->status == 404);
  CHECK(body_of(unknown)["title"] == "Resource Not Found");
  auto wrong_method = api.del("/lists");
  CHECK(wrong_method->status == 405);
  CHECK(body_of(wrong_method)["title"] == "Method Not Allowed");
  CHECK(api.get("/campaigns")->status == 404);
  CHECK(api.get(std::string("/lists/") + kList + "/nothing")->status == 404);
}

TEST_CASE("a member is found by its subscriber hash (MD5 of the lower-cased email) or its email", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(0));
  emu.start();
  Api api(emu);
  auto r = api.post(members_path(), {{"email_address", "Urist.McVankab@FreddiesJokes.com"},
                                     {"status", "subscribed"},
                                     {"merge_fields", {{"FNAME", "Urist"}, {"COMPANY", "Freddie's"}, {"SEATS", "12"}}},
                                     {"tags", {"vip"}}});
  REQUIRE(r->status == 200);
  json m = json::parse(r->body);
  CHECK(m["id"] == "62eeb292278cc15f5817cb78f7790b08");
  CHECK(m["email_address"] == "Urist.McVankab@FreddiesJokes.com");
  CHECK(m["status"] == "subscribed");
  CHECK(m["merge_fields"]["FNAME"] == "Urist");
  CHECK(m["merge_fields"]["SEATS"] == 12);
  CHECK(m["merge_fields"]["PLAN"] == "");
  CHECK(m["full_name"] == "Urist");
  CHECK(m["tags_count"] == 1);
  CHECK(m["tags"][0]["name"] == "vip");
  CHECK(m["list_id"] == kList);
  CHECK(m["email_type"] == "html");
  CHECK(m["last_changed"].get<std::string>().size() == 25);  // 2025-10-21T15:41:36+00:00
  CHECK(m["last_changed"].get<std::string>().substr(19) == "+00:00");
  CHECK(m["timestamp_opt"] == m["last_changed"]);
  CHECK(m["unique_email_id"].get<std::string>().size() == 10);

  CHECK(body_of(api.get(members_path("/62eeb292278cc15f5817cb78f7790b08")))["id"] == m["id"]);
  CHECK(body_of(api.get(members_path("/62EEB292278CC15F5817CB78F7790B08")))["id"] == m["id"]);
  CHECK(body_of(api.get(members_path("/urist.mcvankab@freddiesjokes.com")))["id"] == m["id"]);
  CHECK(body_of(api.get(members_path("/URIST.MCVANKAB%40FREDDIESJOKES.COM")))["id"] == m["id"]);
  auto missing = api.get(members_path("/nobody@northwind.io"));
  CHECK(missing->status == 404);
  CHECK(body_of(missing)["title"] == "Resource Not Found");
  CHECK(emu.members(kList).size() == 1);
  CHECK(emu.members(kList)[0] == body_of(api.get(member_path(m["id"].get<std::string>()))));
  CHECK_THROWS_AS(emu.members("nope"), std::out_of_range);
}

TEST_CASE("single writes: create, Member Exists, upsert with status_if_new, patch, validation", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(1));
  emu.start();
  Api api(emu);
  auto exists = api.post(members_path(), {{"email_address", "USER0@northwind.io"}, {"status", "subscribed"},
                                          {"merge_fields", {{"COMPANY", "X"}}}});
  CHECK(exists->status == 400);
  CHECK(body_of(exists)["title"] == "Member Exists");
  CHECK(body_of(exists)["detail"] ==
        "user0@northwind.io is already a list member. Use PUT to insert or update list members.");
  auto fake = api.post(members_path(), {{"email_address", "a@b.test"}, {"status", "subscribed"}});
  CHECK(fake->status == 400);
  CHECK(body_of(fake)["detail"] == "a@b.test looks fake or invalid, please enter a real email address.");
  auto no_company = api.post(members_path(), {{"email_address", "n@northwind.io"}, {"status", "subscribed"}});
  CHECK(no_company->status == 400);
  CHECK(body_of(no_company)["errors"][0] == json({{"field", "COMPANY"}, {"message", "Please enter a value"}}));
  auto bad_plan = api.post(members_path(), {{"email_address", "n@northwind.io"}, {"status", "subscribed"},
                                            {"merge_fields", {{"COMPANY", "C"}, {"PLAN", "gold"}}}});
  CHECK(bad_plan->status == 400);
  CHECK(body_of(bad_plan)["errors"][0]["field"] == "PLAN");

  const std::string hash = body_of(api.get(members_path("/user0@northwind.io")))["id"];
  auto new_without = api.put(members_path("/new@northwind.io"), {{"email_address", "new@northwind.io"},
                                                                 {"merge_fields", {{"COMPANY", "C"}}}});
  CHECK(new_without->status == 400);
  auto upserted = api.put(members_path("/new@northwind.io"), {{"email_address", "new@northwind.io"},
                                                              {"status_if_new", "pending"},
                                                              {"merge_fields", {{"COMPANY", "C"}}}});
  REQUIRE(upserted->status == 200);
  CHECK(body_of(upserted)["status"] == "pending");
  auto updated = api.put(member_path(hash), {{"email_address", "user0@northwind.io"},
                                                    {"status_if_new", "subscribed"},
                                                    {"merge_fields", {{"FNAME", "Zed"}}}});
  REQUIRE(updated->status == 200);
  CHECK(body_of(updated)["merge_fields"]["FNAME"] == "Zed");
  CHECK(body_of(updated)["merge_fields"]["COMPANY"] == "Acme");  // kept
  CHECK(api.put(member_path(hash), {{"email_address", "other@northwind.io"}, {"status_if_new", "subscribed"}})
            ->status == 400);

  auto patched = api.patch(member_path(hash), {{"status", "unsubscribed"}});
  REQUIRE(patched->status == 200);
  CHECK(body_of(patched)["status"] == "unsubscribed");
  auto resubscribe = api.patch(member_path(hash), {{"status", "subscribed"}});
  CHECK(resubscribe->status == 400);
  CHECK(body_of(resubscribe)["title"] == "Member In Compliance State");
  CHECK(api.patch(members_path("/ghost@northwind.io"), {{"status", "subscribed"}})->status == 404);
  auto not_json = api.cli.Patch(api_path(member_path(hash)), api.auth, "{nope", "application/json");
  CHECK(not_json->status == 400);
}

TEST_CASE("members page by count and offset in creation order; count is capped at 1000", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(1100));
  emu.start();
  Api api(emu);
  // An update does not move a member.
  REQUIRE(api.patch(member_path(email_n(5)), {{"merge_fields", {{"FNAME", "Moved?"}}}})->status == 200);
  std::vector<std::string> emails;
  for (int offset = 0;; offset += 1000) {
    json page = body_of(api.get(members_path("?count=1000&fields=members.email_address,list_id,total_items&offset=" +
                                             std::to_string(offset))));
    CHECK(page["total_items"] == 1100);
    CHECK(page["list_id"] == kList);
    for (const auto& m : page["members"]) emails.push_back(m["email_address"]);
    if (page["members"].size() < 1000) break;
  }
  REQUIRE(emails.size() == 1100);
  std::size_t in_order = 0;
  for (std::size_t i = 0; i < emails.size(); ++i) in_order += emails[i] == email_n(static_cast<int>(i)) ? 1 : 0;
  CHECK(in_order == 1100);
  CHECK(body_of(api.get(members_path()))["members"].size() == 10);
  auto too_many = api.get(members_path("?count=1001"));
  CHECK(too_many->status == 400);
  CHECK(body_of(too_many)["title"] == "Invalid Resource");
  CHECK(api.get(members_path("?offset=-1"))->status == 400);
  CHECK(api.get(members_path("?status=gone"))->status == 400);

  // Status filters; without one, archived members are listed too.
  REQUIRE(api.del(member_path(email_n(1)))->status == 204);
  REQUIRE(api.patch(member_path(email_n(2)), {{"status", "unsubscribed"}})->status == 200);
  json all = body_of(api.get(members_path("?count=3")));
  CHECK(all["total_items"] == 1100);
  CHECK(all["members"][1]["status"] == "archived");
  json unsub = body_of(api.get(members_path("?status=unsubscribed")));
  CHECK(unsub["total_items"] == 1);
  CHECK(unsub["members"][0]["email_address"] == email_n(2));
  CHECK(body_of(api.get(members_path("?status=subscribed&count=0")))["total_items"] == 1098);
  CHECK(emu.members(kList).size() == 1099);
  CHECK(emu.members(kList, true).size() == 1100);

  // Sorting by last_changed, newest first; ties keep creation order.
  json sorted = body_of(api.get(members_path("?sort_field=last_changed&sort_dir=DESC&count=4")));
  std::set<std::string> newest;
  for (int i = 0; i < 3; ++i) newest.insert(sorted["members"][i]["email_address"].get<std::string>());
  CHECK(newest == std::set<std::string>{email_n(1), email_n(2), email_n(5)});
  CHECK(sorted["members"][3]["email_address"] == email_n(0));
}

TEST_CASE("since_last_changed keeps members changed at or after the time (or strictly after)", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(5, "2025-01-02T00:00:00+00:00"));
  emu.start();
  Api api(emu);
  emu.set_frozen_time(1735862400000LL);  // 2025-01-03T00:00:00Z
  REQUIRE(api.patch(member_path(email_n(3)), {{"merge_fields", {{"FNAME", "New"}}}})->status == 200);
  emu.set_frozen_time(std::nullopt);
  auto since = [&](const std::string& s) {
    return body_of(api.get(members_path("?since_last_changed=" + s)))["total_items"].get<int>();
  };
  CHECK(since("2025-01-03T00:00:00%2B00:00") == 1);
  CHECK(since("2025-01-03T01:00:00%2B01:00") == 1);
  CHECK(since("2025-01-02T23:59:59Z") == 1);
  CHECK(since("2025-01-02T00:00:00Z") == 5);
  CHECK(since("2025-01-03T00:00:01Z") == 0);
  CHECK(api.get(members_path("?since_last_changed=yesterday"))->status == 400);
  emu.update_options({{"since_inclusive", false}});
  CHECK(since("2025-01-03T00:00:00Z") == 0);
  CHECK(since("2025-01-02T23:59:59Z") == 1);
  CHECK(since("2025-01-02T00:00:00Z") == 1);
  CHECK_THROWS_AS(emu.update_options({{"since_inclusive", "no"}}), std::invalid_argument);
  CHECK_THROWS_AS(emu.update_options({{"max_connections", 0}}), std::invalid_argument);
  CHECK_THROWS_AS(emu.update_options({{"colour", "red"}}), std::invalid_argument);
}

TEST_CASE("fields and exclude_fields trim answers by dotted paths", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(3));
  emu.start();
  Api api(emu);
  json page = body_of(api.get(members_path("?fields=members.email_address,members.merge_fields.FNAME,total_items")));
  CHECK(page.size() == 2);
  CHECK(page["total_items"] == 3);
  REQUIRE(page["members"].size() == 3);
  CHECK(page["members"][0] == json({{"email_address", email_n(0)}, {"merge_fields", {{"FNAME", "U0"}}}}));
  json ex = body_of(api.get(members_path("?exclude_fields=members.merge_fields,members.tags,list_id")));
  CHECK_FALSE(ex.contains("list_id"));
  CHECK_FALSE(ex["members"][0].contains("merge_fields"));
  CHECK(ex["members"][0].contains("email_address"));
  json one = body_of(api.get(member_path(email_n(1) + "?fields=id,status")));
  CHECK(one.size() == 2);
  CHECK(one["status"] == "subscribed");
  json b = body_of(api.post(std::string("/lists/") + kList + "?fields=total_created,errors",
                            {{"members", {{{"email_address", "f@northwind.io"}, {"status", "subscribed"},
                                           {"merge_fields", {{"COMPANY", "C"}}}}}}}));
  CHECK(b == json({{"total_created", 1}, {"errors", json::array()}}));
}

TEST_CASE("batch upsert creates, updates and reports per-row errors", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(0));
  emu.load_seed(J(R"({"lists": [{"id": "b1a2c3d4e5", "members": [
      {"email_address": "old@northwind.io", "status": "subscribed", "merge_fields": {"COMPANY": "O", "FNAME": "Old"}},
      {"email_address": "gone@northwind.io", "status": "unsubscribed", "merge_fields": {"COMPANY": "G"}},
      {"email_address": "bounced@northwind.io", "status": "cleaned", "merge_fields": {"COMPANY": "B"}},
      {"email_address": "archived@northwind.io", "status": "archived", "merge_fields": {"COMPANY": "A"}}]}]})"));
  emu.start();
  Api api(emu);
  const std::string batch_path = std::string("/lists/") + kList;
  const json body = J(R"({"update_existing": true, "members": [
      {"email_address": "new1@northwind.io", "status": "subscribed", "merge_fields": {"COMPANY": "N", "SEATS": 3}},
      {"email_address": "not an email", "status": "subscribed"},
      {"email_address": "nostatus@northwind.io", "merge_fields": {"COMPANY": "N"}},
      {"email_address": "nocompany@northwind.io", "status": "subscribed"},
      {"email_address": "OLD@northwind.io", "merge_fields": {"FNAME": "Newer", "UNKNOWN": "x"}},
      {"email_address": "gone@northwind.io", "status": "subscribed"},
      {"email_address": "bounced@northwind.io", "status": "subscribed"},
      {"email_address": "archived@northwind.io", "status": "subscribed"},
      {"email_address": "new1@northwind.io", "merge_fields": {"COMPANY": ""}},
      {"email_address": "new1@northwind.io", "merge_fields": {"PLAN": "pro"}},
      {"email_address": "seats@northwind.io", "status": "pending", "merge_fields": {"COMPANY": "S", "SEATS": "many"}}]})");
  auto r = api.post(batch_path, body);
  REQUIRE(r->status == 200);
  json b = json::parse(r->body);
  CHECK(b["total_created"] == 2);
  CHECK(b["total_updated"] == 2);
  CHECK(b["error_count"] == 7);
  CHECK(b["_links"] == json::array());
  REQUIRE(b["new_members"].size() == 2);
  CHECK(b["new_members"][0]["email_address"] == "new1@northwind.io");
  CHECK(b["new_members"][0]["merge_fields"]["SEATS"] == 3);
  CHECK(b["new_members"][1]["email_address"] == "archived@northwind.io");
  CHECK(b["new_members"][1]["status"] == "subscribed");
  REQUIRE(b["updated_members"].size() == 2);
  CHECK(b["updated_members"][0]["email_address"] == "old@northwind.io");
  CHECK(b["updated_members"][0]["merge_fields"]["FNAME"] == "Newer");
  CHECK(b["updated_members"][0]["merge_fields"]["COMPANY"] == "O");  // kept
  CHECK(b["updated_members"][0]["status"] == "subscribed");
  CHECK(b["updated_members"][1]["merge_fields"]["PLAN"] == "pro");
  const json& e = b["errors"];
  REQUIRE(e.size() == 7);
  CHECK(e[0] == json({{"email_address", "not an email"},
                      {"error", "not an email looks fake or invalid, please enter a real email address."},
                      {"error_code", "ERROR_GENERIC"},
                      {"field", "email_address"},
                      {"field_message", "This email address looks fake or invalid. Please enter a real email address."}}));
  CHECK(e[1]["error"] == "status_if_new is required for new members");
  CHECK(e[1]["field"] == "status_if_new");
  CHECK(e[2]["error"] == "Your merge fields were invalid.");
  CHECK(e[2]["field"] == "COMPANY");
  CHECK(e[2]["field_message"] == "Please enter a value");
  CHECK(e[3]["email_address"] == "gone@northwind.io");
  CHECK(e[3]["error"] ==
        "gone@northwind.io is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be "
        "subscribed.");
  CHECK(e[4]["email_address"] == "bounced@northwind.io");
  CHECK(e[5]["email_address"] == "new1@northwind.io");
  CHECK(e[5]["field"] == "COMPANY");
  CHECK(e[6]["field"] == "SEATS");

  // update_existing false: existing members are errors, new ones are created.
  json again = body_of(api.post(batch_path, J(R"({"members": [
      {"email_address": "old@northwind.io", "status": "subscribed"},
      {"email_address": "fresh@northwind.io", "status": "subscribed", "merge_fields": {"COMPANY": "F"}},
      {"email_address": "fresh@northwind.io", "status": "subscribed"}]})")));
  CHECK(again["total_created"] == 1);
  CHECK(again["error_count"] == 2);
  CHECK(again["errors"][0]["error_code"] == "ERROR_CONTACT_EXISTS");
  CHECK(again["errors"][0]["error"] == "old@northwind.io is already a list member. Use PUT to insert or update list members.");
  CHECK(again["errors"][1]["error_code"] == "ERROR_CONTACT_EXISTS");

  // Over 500 members: nothing written.
  json big = json::array();
  for (int i = 0; i < 501; ++i)
    big.push_back({{"email_address", email_n(i)}, {"status", "subscribed"}, {"merge_fields", {{"COMPANY", "C"}}}});
  auto too_big = api.post(batch_path, {{"members", big}, {"update_existing", true}});
  CHECK(too_big->status == 400);
  CHECK(body_of(too_big)["title"] == "Invalid Resource");
  CHECK(api.get(member_path(email_n(0)))->status == 404);
  big.erase(big.size() - 1);
  json ok = body_of(api.post(batch_path, {{"members", big}, {"update_existing", true}}));
  CHECK(ok["total_created"] == 500);
  CHECK(api.cli.Post(api_path(batch_path), api.auth, "not json", "application/json")->status == 400);
  json s = emu.stats();
  CHECK(s["batch_calls"] == 5);
  CHECK(s["members_written"] == 505);
}

TEST_CASE("batch: status_if_new is used only for new addresses; status overwrites", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(0));
  emu.load_seed(J(R"({"lists": [{"id": "b1a2c3d4e5", "members": [
      {"email_address": "pending@northwind.io", "status": "pending", "merge_fields": {"COMPANY": "P"}},
      {"email_address": "unsub@northwind.io", "status": "unsubscribed", "merge_fields": {"COMPANY": "U"}},
      {"email_address": "again@northwind.io", "status": "pending", "merge_fields": {"COMPANY": "A"}},
      {"email_address": "archived@northwind.io", "status": "archived", "merge_fields": {"COMPANY": "R"}}]}]})"));
  emu.start();
  Api api(emu);
  json b = body_of(api.post(std::string("/lists/") + kList, J(R"({"update_existing": true, "members": [
      {"email_address": "fresh@northwind.io", "status_if_new": "pending", "merge_fields": {"COMPANY": "F"}},
      {"email_address": "pending@northwind.io", "status_if_new": "subscribed", "merge_fields": {"FNAME": "Pat"}},
      {"email_address": "unsub@northwind.io", "status_if_new": "subscribed", "merge_fields": {"FNAME": "Una"}},
      {"email_address": "again@northwind.io", "status": "subscribed"},
      {"email_address": "archived@northwind.io", "status_if_new": "subscribed"}]})")));
  CHECK(b["error_count"] == 0);
  CHECK(b["total_created"] == 2);  // fresh, and the archived member added again
  CHECK(b["total_updated"] == 3);
  auto status_of = [&](const char* email) {
    return body_of(api.get(members_path(std::string("/") + email)))["status"].get<std::string>();
  };
  CHECK(status_of("fresh@northwind.io") == "pending");       // new: status_if_new
  CHECK(status_of("pending@northwind.io") == "pending");     // double opt-in not skipped
  CHECK(status_of("unsub@northwind.io") == "unsubscribed");  // no error row, status kept
  CHECK(body_of(api.get(members_path("/unsub@northwind.io")))["merge_fields"]["FNAME"] == "Una");
  CHECK(status_of("again@northwind.io") == "subscribed");    // status given on purpose overwrites
  CHECK(status_of("archived@northwind.io") == "subscribed");
}

TEST_CASE("addresses at reserved and example domains look fake, in batch rows, single calls and seeds",
          "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(0));
  emu.start();
  Api api(emu);
  const std::vector<std::string> fake = {"ann@example.com", "bob@Example.ORG",     "cy@mail.example.net",
                                         "di@acme.example", "ed@staging.test",     "fay@acme.invalid",
                                         "gus@box.localhost"};
  json members = json::array();
  for (const auto& email : fake) members.push_back({{"email_address", email}, {"status_if_new", "subscribed"}});
  members.push_back({{"email_address", "real@example.co"}, {"status_if_new", "subscribed"}, {"merge_fields", {{"COMPANY", "R"}}}});
  members.push_back({{"email_address", "real@myexample.com"}, {"status_if_new", "subscribed"}, {"merge_fields", {{"COMPANY", "R"}}}});
  json b = body_of(api.post(std::string("/lists/") + kList, {{"members", members}, {"update_existing", true}}));
  CHECK(b["total_created"] == 2);
  REQUIRE(b["errors"].size() == fake.size());
  for (std::size_t i = 0; i < fake.size(); ++i) {
    CHECK(b["errors"][i]["email_address"] == fake[i]);
    CHECK(b["errors"][i]["error"] == fake[i] + " looks fake or invalid, please enter a real email address.");
    CHECK(b["errors"][i]["field"] == "email_address");
  }
  auto single = api.post(members_path(), {{"email_address", "ann@example.com"}, {"status", "subscribed"},
                                          {"merge_fields", {{"COMPANY", "X"}}}});
  CHECK(single->status == 400);
  CHECK(body_of(single)["title"] == "Invalid Resource");
  CHECK(body_of(single)["detail"] == "ann@example.com looks fake or invalid, please enter a real email address.");
  auto put = api.put(members_path("/ann@example.net"), {{"email_address", "ann@example.net"},
                                                       {"status_if_new", "subscribed"}});
  CHECK(put->status == 400);
  CHECK(body_of(put)["title"] == "Invalid Resource");
  CHECK_THROWS_WITH(emu.load_seed(J(R"({"lists": [{"id": "b1a2c3d4e5", "members": [
      {"email_address": "seed@example.org", "status": "subscribed"}]}]})")),
                    Catch::Contains("seed@example.org looks fake or invalid"));
}

TEST_CASE("nothing changed: the member is updated but last_changed stays", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(1, "2025-01-02T00:00:00+00:00"));
  emu.start();
  Api api(emu);
  json b = body_of(api.post(std::string("/lists/") + kList,
                            {{"update_existing", true},
                             {"members", {{{"email_address", email_n(0)}, {"merge_fields", {{"FNAME", "U0"}}}}}}}));
  REQUIRE(b["updated_members"].size() == 1);
  CHECK(b["updated_members"][0]["last_changed"] == "2025-01-02T00:00:00+00:00");
  json c = body_of(api.post(std::string("/lists/") + kList,
                            {{"update_existing", true},
                             {"members", {{{"email_address", email_n(0)}, {"merge_fields", {{"FNAME", "U1"}}}}}}}));
  CHECK(c["updated_members"][0]["last_changed"] != "2025-01-02T00:00:00+00:00");
}

TEST_CASE("archive answers 204, or 405 for archived, cleaned and pending members; delete-permanent forgets", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(0));
  emu.load_seed(J(R"({"lists": [{"id": "b1a2c3d4e5", "members": [
      {"email_address": "live@northwind.io", "status": "subscribed"},
      {"email_address": "cleaned@northwind.io", "status": "cleaned"},
      {"email_address": "pending@northwind.io", "status": "pending"},
      {"email_address": "unsub@northwind.io", "status": "unsubscribed"}]}]})"));
  emu.start();
  Api api(emu);
  auto archived = api.del(members_path("/live@northwind.io"));
  REQUIRE(archived);
  CHECK(archived->status == 204);
  CHECK(archived->body.empty());
  json m = body_of(api.get(members_path("/live@northwind.io")));
  CHECK(m["status"] == "archived");
  for (const std::string who : {"live", "cleaned", "pending"}) {
    auto again = api.del(member_path(who + "@northwind.io"));
    CHECK(again->status == 405);
    json p = body_of(again);
    CHECK(p["title"] == "Method Not Allowed");
    const std::string status = who == "live" ? "archived" : who;
    CHECK(p["detail"].get<std::string>().find("member is " + status) != std::string::npos);
  }
  CHECK(api.del(members_path("/unsub@northwind.io"))->status == 204);
  CHECK(api.del(members_path("/nobody@northwind.io"))->status == 404);

  auto gone = api.post(members_path("/live@northwind.io/actions/delete-permanent"), json::object());
  CHECK(gone->status == 204);
  CHECK(api.get(members_path("/live@northwind.io"))->status == 404);
  CHECK(api.post(members_path("/live@northwind.io/actions/delete-permanent"), json::object())->status == 404);
  CHECK(api.get(members_path("/live@northwind.io/actions/delete-permanent"))->status == 405);
  json back = body_of(api.post(std::string("/lists/") + kList,
                               J(R"({"members": [{"email_address": "live@northwind.io", "status": "subscribed",
                                                  "merge_fields": {"COMPANY": "C"}}]})")));
  CHECK(back["total_created"] == 1);
  json page = body_of(api.get(members_path("?count=10")));
  CHECK(page["total_items"] == 4);
  CHECK(page["members"][3]["email_address"] == "live@northwind.io");  // a new member: last in order
}

TEST_CASE("an 11th simultaneous request gets the overload answer", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.start();
  MailchimpFaults f;
  f.slow_ms = 400;
  emu.set_faults(f);
  // Waits until `n` requests have arrived at once (max_concurrent counts arrivals).
  auto wait_for_concurrent = [&](int n) {
    for (int i = 0; i < 400 && emu.stats()["max_concurrent"].get<int>() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  std::vector<int> statuses(11, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 11; ++i)
    threads.emplace_back([&, i] {
      Api api(emu);
      if (i == 10) wait_for_concurrent(10);
      auto r = api.get("/ping");
      statuses[static_cast<std::size_t>(i)] = r ? r->status : -1;
    });
  for (auto& t : threads) t.join();
  CHECK(std::count(statuses.begin(), statuses.end(), 200) == 10);
  CHECK(statuses[10] == 429);
  json s = emu.stats();
  CHECK(s["throttled_connections"] == 1);
  CHECK(s["max_concurrent"] == 11);
  CHECK(s["by_status"]["429"] == 1);

  // The other answers: 403 with a plain-text body.
  emu.update_options({{"max_connections", 1}, {"overload_answer", "403"}});
  emu.reset_stats();
  f.slow_ms = 300;
  emu.set_faults(f);
  int first = 0;
  std::thread holder([&] {
    Api api(emu);
    first = api.get("/ping")->status;
  });
  wait_for_concurrent(1);
  Api api(emu);
  auto r = api.get("/ping");
  holder.join();
  CHECK(first == 200);
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
  CHECK_THROWS(json::parse(r->body));
}

TEST_CASE("injected faults: 429, 5xx, max_faults, paths, drops, lost responses, malformed bodies, timeouts", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(1));
  emu.start();
  Api api(emu);
  MailchimpFaults f;
  f.rate_429 = 1;
  f.max_faults = 1;
  emu.set_faults(f);
  auto limited = api.get("/ping");
  REQUIRE(limited);
  CHECK(limited->status == 429);
  CHECK(body_of(limited)["title"] == "Too Many Requests");
  CHECK(api.get("/ping")->status == 200);

  f = MailchimpFaults{};
  f.rate_500 = 1;
  f.max_faults = 8;
  emu.set_faults(f);
  std::set<int> seen;
  for (int i = 0; i < 8; ++i) {
    auto r = api.get("/ping");
    REQUIRE(r);
    seen.insert(r->status);
    if (r->status != 503) CHECK(body_of(r)["status"] == r->status);
  }
  for (int s : seen) CHECK((s == 500 || s == 502 || s == 503 || s == 504));
  CHECK(api.get("/ping")->status == 200);

  f = MailchimpFaults{};
  f.rate_drop = 1;
  emu.set_faults(f);
  json one{{"members", {{{"email_address", "drop@northwind.io"}, {"status", "subscribed"}, {"merge_fields", {{"COMPANY", "D"}}}}}}};
  CHECK_FALSE(api.post(std::string("/lists/") + kList, one));
  CHECK(emu.members(kList).size() == 1);  // not processed

  f = MailchimpFaults{};
  f.rate_lost_response = 1;
  emu.set_faults(f);
  one["members"][0]["email_address"] = "lost@northwind.io";
  CHECK_FALSE(api.post(std::string("/lists/") + kList, one));
  CHECK(emu.members(kList).size() == 2);  // processed

  f = MailchimpFaults{};
  f.rate_malformed = 1;
  f.paths = {std::string("/lists/") + kList + "/members"};
  emu.set_faults(f);
  auto bad = api.get(members_path());
  REQUIRE(bad);
  CHECK(bad->status == 200);
  CHECK_THROWS(json::parse(bad->body));
  CHECK(api.get(std::string("/lists/") + kList)->status == 200);  // outside the paths

  f = MailchimpFaults{};
  f.rate_timeout = 1;
  f.timeout_ms = 300;
  f.max_faults = 1;
  emu.set_faults(f);
  api.cli.set_read_timeout(0, 100000);
  CHECK_FALSE(api.get("/ping"));
  api.cli.set_read_timeout(5, 0);
  f.max_faults = 1;
  emu.set_faults(f);
  auto waited = api.get("/ping");
  REQUIRE(waited);
  CHECK(waited->status == 504);

  emu.set_faults(MailchimpFaults{});
  CHECK(emu.stats()["faults_injected"] == 14);
  std::set<std::string> kinds;
  for (const auto& e : emu.request_log())
    if (e["fault"].is_string()) kinds.insert(e["fault"].get<std::string>());
  CHECK(kinds == std::set<std::string>{"429", "5xx", "drop", "lost_response", "malformed", "timeout"});
}

TEST_CASE("faults read from and write to JSON; unknown fields and wrong types are refused", "[mailchimp-emulator]") {
  MailchimpFaults f = synctool::emulators::mailchimp_faults_from_json(
      {{"rate_500", 0.5}, {"paths", {"/lists/x/members"}}, {"max_faults", 3}, {"seed", 7}});
  CHECK(f.rate_500 == 0.5);
  CHECK(f.paths == std::vector<std::string>{"/lists/x/members"});
  CHECK(f.max_faults == 3);
  CHECK(f.seed == 7);
  CHECK(synctool::emulators::mailchimp_faults_from_json(synctool::emulators::mailchimp_faults_to_json(f)).paths ==
        f.paths);
  CHECK_THROWS_AS(synctool::emulators::mailchimp_faults_from_json({{"rate_5000", 1}}), std::invalid_argument);
  CHECK_THROWS_AS(synctool::emulators::mailchimp_faults_from_json({{"rate_500", "high"}}), std::invalid_argument);
  CHECK_THROWS_AS(synctool::emulators::mailchimp_faults_from_json({{"rate_500", 2}}), std::invalid_argument);
  CHECK_THROWS_AS(synctool::emulators::mailchimp_faults_from_json({{"paths", "/lists"}}), std::invalid_argument);
  CHECK_THROWS_AS(synctool::emulators::mailchimp_faults_from_json(json::array()), std::invalid_argument);
}

TEST_CASE("write timestamps never go back; touch is strictly later; frozen time", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(2, "2025-01-02T00:00:00+00:00"));
  emu.start();
  Api api(emu);
  emu.set_frozen_time(1735689600500LL);  // 2025-01-01T00:00:00.5Z
  json a = body_of(api.patch(member_path(email_n(0)), {{"merge_fields", {{"FNAME", "A"}}}}));
  CHECK(a["last_changed"] == "2025-01-01T00:00:00+00:00");
  emu.touch(kList, email_n(1));
  json t1 = body_of(api.get(member_path(email_n(1))));
  CHECK(t1["last_changed"] == "2025-01-02T00:00:01+00:00");  // later than the seeded 2025-01-02T00:00:00
  emu.touch(kList, t1["id"]);
  CHECK(body_of(api.get(member_path(email_n(1))))["last_changed"] == "2025-01-02T00:00:02+00:00");
  emu.touch(kList, "USER0@NORTHWIND.IO");
  CHECK(body_of(api.get(member_path(email_n(0))))["last_changed"] == "2025-01-02T00:00:03+00:00");
  CHECK_THROWS_AS(emu.touch(kList, "nobody@northwind.io"), std::out_of_range);
  CHECK_THROWS_AS(emu.touch("nolist", email_n(0)), std::out_of_range);
  emu.set_frozen_time(std::nullopt);
  // Unfrozen: writes get now (later than any issued timestamp here).
  json b = body_of(api.patch(member_path(email_n(0)), {{"merge_fields", {{"FNAME", "B"}}}}));
  CHECK(b["last_changed"].get<std::string>() > "2025-01-02T00:00:03+00:00");
  httplib::Client ctl("127.0.0.1", emu.port());
  auto touched = ctl.Post("/_emulator/touch", json({{"list_id", kList}, {"member", email_n(1)}}).dump(), "application/json");
  REQUIRE(touched->status == 200);
  const std::string t = json::parse(touched->body)["last_changed"];
  CHECK(t > b["last_changed"].get<std::string>());
  CHECK(body_of(api.get(member_path(email_n(1))))["last_changed"] == t);
  CHECK(ctl.Post("/_emulator/time", R"({"frozen_ms": 1735689600000})", "application/json")->status == 200);
  json c = body_of(api.patch(member_path(email_n(1)), {{"merge_fields", {{"FNAME", "C"}}}}));
  CHECK(c["last_changed"] == "2025-01-01T00:00:00+00:00");
  CHECK(ctl.Post("/_emulator/time", R"({"frozen_ms": null})", "application/json")->status == 200);
}

TEST_CASE("seeds are validated and merged", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  auto refuses = [&](const json& seed, const std::string& part) {
    try {
      emu.load_seed(seed);
      FAIL("accepted " << seed.dump());
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains(part));
    }
  };
  refuses(J(R"({"audiences": []})"), "unknown key 'audiences'");
  refuses(J(R"({"lists": [{"id": "abc"}]})"), "needs a name");
  refuses(J(R"({"lists": [{"name": "l", "members": [{"email_address": "bad@x.invalid"}]}]})"), "looks fake");
  refuses(J(R"({"lists": [{"name": "l", "members": [{"email_address": "a..b@x.org"}]}]})"), "looks fake");
  refuses(J(R"({"lists": [{"name": "l", "members": [{"email_address": "a@x.c0m"}]}]})"), "looks fake");
  refuses(J(R"({"lists": [{"name": "l", "members": [{"email_address": "a@x.org", "status": "gone"}]}]})"),
          "status 'gone'");
  refuses(J(R"({"lists": [{"name": "l", "members": [{"email_address": "a@x.org"}, {"email_address": "A@X.org"}]}]})"),
          "repeated");
  refuses(J(R"({"lists": [{"name": "l", "members": [{"email_address": "a@x.org", "merge_fields": {"NOPE": "1"}}]}]})"),
          "no merge field NOPE");
  refuses(J(R"({"lists": [{"name": "l", "merge_fields": [{"tag": "P", "type": "dropdown"}]}]})"), "choices");
  refuses(J(R"({"lists": [{"name": "l", "merge_fields": [{"tag": "P", "type": "colour"}]}]})"), "type 'colour'");
  // A valid one, merged into by name and by id; required merge fields are not enforced.
  emu.load_seed(J(R"({"lists": [{"name": "m", "merge_fields": [{"tag": "COMPANY", "required": true}],
                                 "members": [{"email_address": "a@x.org", "status": "archived", "tags": ["t1"]}]}]})"));
  const std::string id = emu.list_id("m");
  emu.load_seed(J(R"({"lists": [{"name": "m", "members": [{"email_address": "b@x.org"}]}]})"));
  json by_id = J(R"({"lists": [{"merge_fields": [{"tag": "FNAME"}],
                                "members": [{"email_address": "c@x.org", "merge_fields": {"fname": "C"}}]}]})");
  by_id["lists"][0]["id"] = id;
  emu.load_seed(by_id);
  json all = emu.members(id, true);
  REQUIRE(all.size() == 3);
  CHECK(all[0]["status"] == "archived");
  CHECK(all[0]["tags"][0]["name"] == "t1");
  CHECK(all[1]["status"] == "subscribed");
  CHECK(all[2]["merge_fields"] == json({{"COMPANY", ""}, {"FNAME", "C"}}));
  CHECK(emu.members(id).size() == 2);
}

TEST_CASE("control endpoints seed, inspect, reset and configure the emulator", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.start();
  httplib::Client ctl("127.0.0.1", emu.port());
  CHECK(ctl.Post("/_emulator/seed", audience_seed(3).dump(), "application/json")->status == 200);
  CHECK(ctl.Post("/_emulator/seed", R"({"lists": 1})", "application/json")->status == 400);
  json lists = json::parse(ctl.Get("/_emulator/lists")->body);
  CHECK(lists == json::array({{{"id", kList}, {"name", "main-audience"}}}));
  Api api(emu);
  REQUIRE(api.del(member_path(email_n(0)))->status == 204);
  CHECK(json::parse(ctl.Get(std::string("/_emulator/members/") + kList)->body).size() == 2);
  CHECK(json::parse(ctl.Get(std::string("/_emulator/members/") + kList + "?archived=true")->body).size() == 3);
  CHECK(ctl.Get("/_emulator/members/nolist")->status == 404);

  CHECK(api.get("/nothing-here")->status == 404);
  json stats = json::parse(ctl.Get("/_emulator/stats")->body);
  CHECK(stats["requests"] == 2);
  CHECK(stats["by_status"]["204"] == 1);
  CHECK(stats["by_status"]["404"] == 1);
  CHECK(stats["members_written"] == 1);
  json log = json::parse(ctl.Get("/_emulator/requests")->body);
  REQUIRE(log.size() == 2);
  CHECK(log[0]["method"] == "DELETE");
  CHECK(log[0]["path"] == std::string("/3.0/lists/") + kList + "/members/" + email_n(0));
  CHECK(log[0]["status"] == 204);
  CHECK(log[0]["fault"].is_null());
  CHECK(log[0]["at_ms"].is_number_integer());
  CHECK(emu.request_log() == log);

  std::vector<json> heard;
  emu.set_request_listener([&](const json& e) { heard.push_back(e); });
  CHECK(api.get("/lists?count=5")->status == 200);
  emu.set_request_listener(nullptr);
  REQUIRE(heard.size() == 1);
  CHECK(heard[0]["query"] == "count=5");

  CHECK(ctl.Post("/_emulator/reset-stats", "", "application/json")->status == 200);
  CHECK(emu.stats()["requests"] == 0);
  CHECK(emu.request_log().empty());

  CHECK(ctl.Post("/_emulator/faults", R"({"rate_500": 1, "max_faults": 1})", "application/json")->status == 200);
  CHECK(json::parse(ctl.Get("/_emulator/faults")->body)["rate_500"] == 1.0);
  CHECK(api.get("/ping")->status >= 500);
  CHECK(ctl.Post("/_emulator/faults", R"({"rate_5000": 1})", "application/json")->status == 400);
  CHECK(ctl.Post("/_emulator/options", R"({"max_connections": 5, "overload_answer": "bare"})", "application/json")
            ->status == 200);
  CHECK(ctl.Post("/_emulator/options", R"({"overload_answer": "teapot"})", "application/json")->status == 400);
  CHECK(ctl.Post("/_emulator/time", R"({"frozen": 1})", "application/json")->status == 400);
  CHECK(ctl.Post("/_emulator/touch", json({{"list_id", kList}, {"member", "x@northwind.io"}}).dump(), "application/json")
            ->status == 404);
  CHECK(ctl.Get("/_emulator/nothing")->status == 404);
}

TEST_CASE("large answers are gzipped for clients that accept it", "[mailchimp-emulator]") {
  MailchimpEmulator emu;
  emu.load_seed(audience_seed(50));
  emu.start();
  Api api(emu);
  httplib::Headers h = api.auth;
  h.emplace("Accept-Encoding", "gzip");
  auto zipped = api.cli.Get(api_path(members_path("?count=50")), h);
  REQUIRE(zipped);
  REQUIRE(zipped->status == 200);
  CHECK(zipped->get_header_value("Content-Encoding") == "gzip");
  CHECK(json::parse(zipped->body)["members"].size() == 50);  // httplib inflates
  auto small = api.cli.Get("/3.0/ping", h);
  CHECK_FALSE(small->has_header("Content-Encoding"));
}

TEST_CASE("the Mailchimp emulator stops promptly with idle keep-alive connections open", "[mailchimp-emulator]") {
  auto emu = std::make_unique<MailchimpEmulator>();
  emu->start();
  Api api(*emu);
  api.cli.set_keep_alive(true);
  REQUIRE(api.get("/ping")->status == 200);
  REQUIRE(api.get("/ping")->status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  emu->stop();
  emu->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
