#include "net/jwt.hpp"
#include "net/oauth.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_transport.hpp"
#include "util/interrupt.hpp"

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <csignal>
#include <map>

using namespace synctool::net;
using synctool::testing::FakeClock;
using synctool::testing::FakeTransport;

namespace {

const std::string kSecret = "client-secret-Xy9!";
const std::string kRefresh = "rt-original-0001";

OAuthConfig config() {
  OAuthConfig c;
  c.token_url = "https://api.hubapi.com/oauth/v1/token";
  c.client_id = "client-id-1";
  c.client_secret = kSecret;
  c.refresh_token = kRefresh;
  return c;
}

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> form_fields(const std::string& body) {
  std::map<std::string, std::string> fields;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t end = body.find('&', pos);
    if (end == std::string::npos) end = body.size();
    std::string_view pair(body.data() + pos, end - pos);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos) fields[url_decode(pair.substr(0, eq))] = url_decode(pair.substr(eq + 1));
    pos = end + 1;
  }
  return fields;
}

std::string token_body(const std::string& access, const std::string& refresh = "", int expires_in = 1800) {
  std::string body = "{\"access_token\":\"" + access + "\",\"token_type\":\"bearer\"";
  if (!refresh.empty()) body += ",\"refresh_token\":\"" + refresh + "\"";
  if (expires_in > 0) body += ",\"expires_in\":" + std::to_string(expires_in);
  return body + "}";
}

class MemoryCache final : public TokenCache {
 public:
  std::optional<std::string> value;
  int stores = 0;
  std::optional<std::string> load() override { return value; }
  void store(const std::string& sealed) override {
    value = sealed;
    ++stores;
  }
};

std::string authorization_of(OAuthRefresher& auth) {
  HttpRequest request;
  auth.authorize(request);
  return FakeTransport::header_of(request, "Authorization");
}

}  // namespace

TEST_CASE("oauth: the token request posts the form fields and the token is used as Bearer") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, token_body("at-1", "", 1800));
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  CHECK(authorization_of(auth) == "Bearer at-1");
  REQUIRE(transport.requests.size() == 1);
  const auto& request = transport.requests[0];
  CHECK(request.method == "POST");
  CHECK(request.url == "https://api.hubapi.com/oauth/v1/token");
  CHECK(FakeTransport::header_of(request, "Content-Type") == "application/x-www-form-urlencoded");
  CHECK(form_fields(request.body) == std::map<std::string, std::string>{{"grant_type", "refresh_token"},
                                                                        {"client_id", "client-id-1"},
                                                                        {"client_secret", kSecret},
                                                                        {"refresh_token", kRefresh}});
  CHECK(request.body.find("client-secret-Xy9%21") != std::string::npos);  // encoded
  CHECK(auth.token().refresh_token == kRefresh);  // not rotated: the old one is kept
  CHECK(auth.token().expires_at_ms == clock.now_ms() + 1'800'000);
  CHECK(transport.max_in_flight_seen == std::vector<std::size_t>{1});
  // Used again without another request while it is fresh.
  CHECK(authorization_of(auth) == "Bearer at-1");
  CHECK(auth.refresh_count() == 1);
}

TEST_CASE("oauth: client credentials send no refresh token") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, token_body("at-1"));
  auto c = config();
  c.grant_type = "client_credentials";
  OAuthRefresher auth(c, transport, clock, nullptr, nullptr);
  auth.refresh();
  CHECK(form_fields(transport.requests[0].body).count("refresh_token") == 0);
}

TEST_CASE("oauth: a token is refreshed once less than the margin is left") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, token_body("at-1", "", 1800)).push(200, token_body("at-2", "", 1800));
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);  // margin 300 s
  CHECK(authorization_of(auth) == "Bearer at-1");
  clock.advance(1'500'000 - 1);  // 300 s + 1 ms left
  CHECK(authorization_of(auth) == "Bearer at-1");
  clock.advance(2);
  CHECK(authorization_of(auth) == "Bearer at-2");
  CHECK(auth.refresh_count() == 2);
}

TEST_CASE("oauth: a short-lived token is refreshed at half its life, not on every request") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, token_body("at-1", "", 60)).push(200, token_body("at-2", "", 60));
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  CHECK(authorization_of(auth) == "Bearer at-1");
  clock.advance(29'000);
  CHECK(authorization_of(auth) == "Bearer at-1");
  clock.advance(2'000);
  CHECK(authorization_of(auth) == "Bearer at-2");
}

TEST_CASE("oauth: without expires_in the default lifetime applies, else refresh happens on 401 only") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, token_body("at-1", "", 0)).push(200, token_body("at-2", "", 0));
  auto c = config();
  c.default_lifetime_ms = 7'200'000;
  OAuthRefresher with_default(c, transport, clock, nullptr, nullptr);
  with_default.refresh();
  CHECK(with_default.token().expires_at_ms == clock.now_ms() + 7'200'000);
  OAuthRefresher unknown(config(), transport, clock, nullptr, nullptr);
  unknown.refresh();
  CHECK(unknown.token().expires_at_ms == 0);
  clock.advance(365LL * 86'400'000);
  CHECK(authorization_of(unknown) == "Bearer at-2");  // no refresh without a 401
  transport.push(200, token_body("at-3", "", 0));
  CHECK(unknown.refresh_after_unauthorized());
  CHECK(authorization_of(unknown) == "Bearer at-3");
}

TEST_CASE("oauth: a rotated refresh token is used for the next refresh") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, token_body("at-1", "rt-rotated-0002")).push(200, token_body("at-2", "rt-rotated-0003"));
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  auth.refresh();
  CHECK(auth.token().refresh_token == "rt-rotated-0002");
  CHECK(auth.refresh_after_unauthorized());
  CHECK(form_fields(transport.requests[1].body)["refresh_token"] == "rt-rotated-0002");
  CHECK(auth.token().access_token == "at-2");
}

TEST_CASE("oauth: every token obtained is taught to the redactor") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, token_body("at-secret-1", "rt-secret-2"));
  Redactor redactor;
  OAuthRefresher auth(config(), transport, clock, &redactor, nullptr);
  auth.refresh();
  CHECK(redactor.apply("x at-secret-1 y rt-secret-2 z") == "x [REDACTED] y [REDACTED] z");
  CHECK(redactor.apply(kSecret) == "[REDACTED]");
  CHECK(redactor.apply(kRefresh) == "[REDACTED]");
}

TEST_CASE("oauth: a refused token request fails as auth without leaking the credentials") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(400, R"({"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token )" + kRefresh +
                          " for client secret " + kSecret + R"(","correlationId":"c-1"})");
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  try {
    HttpRequest request;
    auth.authorize(request);
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    std::string message = failure.what();
    INFO(message);
    CHECK(failure.kind() == HttpFailure::Kind::auth);
    CHECK(failure.status() == 400);
    CHECK(message.starts_with("OAuth token request to https://api.hubapi.com/oauth/v1/token was refused: HTTP 400 "
                              "BAD_REFRESH_TOKEN (missing or unknown refresh token"));
    CHECK(message.find(kSecret) == std::string::npos);
    CHECK(message.find(kRefresh) == std::string::npos);
    CHECK(message.find("client_secret=") == std::string::npos);  // never the form body
  }
  CHECK(transport.requests.size() == 1);  // a 400 is not retried
}

TEST_CASE("oauth: standard OAuth error bodies are understood too") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(400, R"({"error":"invalid_grant","error_description":"expired access/refresh token"})");
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  CHECK_THROWS_WITH(auth.refresh(), Catch::Matchers::EndsWith("HTTP 400 invalid_grant (expired access/refresh token)"));
}

TEST_CASE("oauth: one retry on a network error or 5xx") {
  FakeClock clock;
  FakeTransport transport;
  transport.push_error().push(200, token_body("at-1"));
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  auth.refresh();
  CHECK(auth.token().access_token == "at-1");

  transport.push(503).push(502, "bad gateway");
  try {
    auth.refresh();
    FAIL("no exception");
  } catch (const HttpFailure& failure) {
    CHECK(failure.kind() == HttpFailure::Kind::transient);
    CHECK(failure.status() == 502);
  }
  CHECK(transport.requests.size() == 4);
}

TEST_CASE("oauth: a check does not try an unreachable token endpoint twice, nor does a stopping run") {
  FakeClock clock;
  FakeTransport transport;
  auto unreachable = FakeTransport::network_error("Couldn't resolve host name");
  unreachable.not_sent = true;
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  transport.responses.push_back(unreachable);
  CHECK_THROWS_AS(auth.refresh(/*retry_unreachable=*/false), HttpFailure);
  CHECK(transport.requests.size() == 1);
  CHECK(clock.slept_ms() == 0);

  synctool::util::request_stop(SIGTERM);
  transport.push(503);
  CHECK_THROWS_AS(auth.refresh(), HttpFailure);
  synctool::util::request_stop(0);
  CHECK(transport.requests.size() == 2);
  CHECK(clock.slept_ms() == 0);
}

TEST_CASE("oauth: a response without access_token is an auth failure") {
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, "<html>login</html>");
  OAuthRefresher auth(config(), transport, clock, nullptr, nullptr);
  CHECK_THROWS_AS(auth.refresh(), HttpFailure);
}

TEST_CASE("oauth: sealed secrets open with the same key material only") {
  const std::string plain = R"({"access_token":"at-1","refresh_token":"rt-2"})";
  std::string sealed = seal_secret(plain, "id\nsecret\nrt");
  CHECK(sealed.find("at-1") == std::string::npos);
  CHECK(sealed.find("rt-2") == std::string::npos);
  CHECK(sealed != seal_secret(plain, "id\nsecret\nrt"));  // a fresh IV every time
  CHECK(open_secret(sealed, "id\nsecret\nrt") == plain);
  CHECK_FALSE(open_secret(sealed, "id\nsecret\nother"));
  CHECK_FALSE(open_secret("not base64!", "id\nsecret\nrt"));
  CHECK_FALSE(open_secret("", "id\nsecret\nrt"));
  std::string damaged = sealed;
  damaged[20] = damaged[20] == 'A' ? 'B' : 'A';
  CHECK_FALSE(open_secret(damaged, "id\nsecret\nrt"));
  CHECK(open_secret(seal_secret("", "k"), "k") == "");
}

TEST_CASE("oauth: the token cache round trip, sealed, with the rotated refresh token") {
  FakeClock clock;
  MemoryCache cache;
  {
    FakeTransport transport;
    transport.push(200, token_body("at-cached-1", "rt-rotated-0002", 1800));
    OAuthRefresher auth(config(), transport, clock, nullptr, &cache);
    CHECK(authorization_of(auth) == "Bearer at-cached-1");
    CHECK_FALSE(auth.loaded_from_cache());
  }
  REQUIRE(cache.value);
  CHECK(cache.stores == 1);
  CHECK(cache.value->find("at-cached-1") == std::string::npos);
  CHECK(cache.value->find("rt-rotated-0002") == std::string::npos);
  auto c = config();
  auto opened = open_secret(*cache.value, c.client_id + "\n" + c.client_secret + "\n" + c.refresh_token);
  REQUIRE(opened);
  CHECK(opened->find("rt-rotated-0002") != std::string::npos);
  CHECK_FALSE(open_secret(*cache.value, c.client_id + "\nwrong-secret\n" + c.refresh_token));

  SECTION("the next run starts with the cached token") {
    FakeTransport transport;
    Redactor redactor;
    OAuthRefresher auth(config(), transport, clock, &redactor, &cache);
    CHECK(authorization_of(auth) == "Bearer at-cached-1");
    CHECK(auth.loaded_from_cache());
    CHECK(transport.requests.empty());
    CHECK(redactor.apply("at-cached-1") == "[REDACTED]");
  }
  SECTION("an expired cached token is refreshed with the cached, rotated refresh token") {
    clock.advance(1'600'000);
    FakeTransport transport;
    transport.push(200, token_body("at-2", "", 1800));
    OAuthRefresher auth(config(), transport, clock, nullptr, &cache);
    CHECK(authorization_of(auth) == "Bearer at-2");
    REQUIRE(transport.requests.size() == 1);
    CHECK(form_fields(transport.requests[0].body)["refresh_token"] == "rt-rotated-0002");
    CHECK(auth.token().refresh_token == "rt-rotated-0002");
    CHECK(cache.stores == 2);
  }
  SECTION("a cache sealed for other credentials is ignored") {
    FakeTransport transport;
    transport.push(200, token_body("at-other"));
    auto other = config();
    other.refresh_token = "rt-someone-else";
    OAuthRefresher auth(other, transport, clock, nullptr, &cache);
    CHECK(authorization_of(auth) == "Bearer at-other");
    CHECK(form_fields(transport.requests[0].body)["refresh_token"] == "rt-someone-else");
  }
}

namespace {

// A fresh 2048-bit RSA key pair as PEM texts (private, public).
std::pair<std::string, std::string> rsa_key_pair() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  REQUIRE(key != nullptr);
  auto pem = [&](bool is_private) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (is_private)
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else
      PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<std::size_t>(length));
    BIO_free(bio);
    return text;
  };
  auto pair = std::make_pair(pem(true), pem(false));
  EVP_PKEY_free(key);
  return pair;
}

}  // namespace

TEST_CASE("RS256 JWTs: signed with the private key, verified with the public one; a bad key is a clear error") {
  static const auto keys = rsa_key_pair();
  const nlohmann::json claims = {{"iss", "client"}, {"sub", "user@example.com"}, {"aud", "https://login"}, {"exp", 1}};
  const std::string jwt = sign_jwt_rs256(claims, keys.first);
  CHECK(std::count(jwt.begin(), jwt.end(), '.') == 2);
  CHECK(jwt.find_first_of("+/=") == std::string::npos);  // base64url, unpadded
  CHECK(verify_jwt_rs256(jwt, keys.second));
  std::string tampered = jwt;
  tampered[jwt.find('.') + 3] ^= 1;
  CHECK_FALSE(verify_jwt_rs256(tampered, keys.second));
  CHECK_FALSE(verify_jwt_rs256(jwt, rsa_key_pair().second));
  CHECK_THROWS_AS(sign_jwt_rs256(claims, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"), JwtError);
  CHECK(base64url("\xfb\xff") == "-_8");
}

TEST_CASE("the JWT bearer grant sends only a signed assertion, keeps the instance_url, and caches both sealed") {
  static const auto keys = rsa_key_pair();
  FakeClock clock;
  FakeTransport transport;
  transport.push(200, R"({"access_token":"sf-at-1","instance_url":"https://acme.my.salesforce.com","id":"x",)"
                      R"("token_type":"Bearer","issued_at":"1","signature":"s"})");
  MemoryCache cache;
  OAuthConfig c;
  c.token_url = "https://login.salesforce.com/services/oauth2/token";
  c.grant_type = kJwtBearerGrant;
  c.client_id = "connected-app";
  c.default_lifetime_ms = 0;
  c.cache_key_material = keys.first;
  c.make_assertion = [&] {
    return sign_jwt_rs256({{"iss", "connected-app"}, {"sub", "sync@acme.com"}, {"aud", "https://login.salesforce.com"},
                           {"exp", clock.now_ms() / 1000 + 180}},
                          keys.first);
  };
  Redactor redactor;
  OAuthRefresher auth(c, transport, clock, &redactor, &cache);
  CHECK(auth.current().instance_url == "https://acme.my.salesforce.com");
  CHECK(auth.current().access_token == "sf-at-1");  // no expires_in: kept until a 401
  REQUIRE(transport.requests.size() == 1);
  auto form = form_fields(transport.requests[0].body);
  CHECK(form.at("grant_type") == kJwtBearerGrant);
  CHECK_FALSE(form.contains("client_secret"));
  CHECK_FALSE(form.contains("refresh_token"));
  CHECK(verify_jwt_rs256(form.at("assertion"), keys.second));
  CHECK(redactor.apply("sent " + form.at("assertion")).find(form.at("assertion")) == std::string::npos);
  REQUIRE(cache.value);
  CHECK(cache.value->find("acme") == std::string::npos);  // sealed

  // The next run starts from the cache: the token and where its API lives, no request.
  FakeTransport idle;
  OAuthRefresher next(c, idle, clock, nullptr, &cache);
  CHECK(next.current().instance_url == "https://acme.my.salesforce.com");
  CHECK(next.loaded_from_cache());
  CHECK(idle.requests.empty());
}
