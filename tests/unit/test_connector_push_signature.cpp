#include "connectors/push/push_signature.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace synctool::connectors::push;

namespace {

// Distinctive, so that a reason holding it (or a piece of it) is easy to find.
const std::string kSecret = "zq-SECRET-7f3a91";
const std::string kBody = R"([{"external_id":"a-1","email":"a@x.com"}])";
// HMAC-SHA256(kSecret, kBody), computed apart from synctool (Python's hmac module).
const std::string kBodyHex = "9681ef0a4f76d53b3b6c2000cf745cd8c643f2788d2a3631a7968c69a5177c8b";
const std::string kBodyBase64 = "loHvCk921Ts7bCAAz3Rc2MZD8niNKjYxp5aMaaUXfIs=";
// base64(HMAC-SHA256(kSecret, "POST" + kUrl + kBody + kTimestamp)), computed the same way.
const std::string kUrl = "https://hooks.example.com/push?x=1";
const std::string kTimestamp = "1700000000000";
const std::int64_t kTimestampMs = 1700000000000;
const std::string kHubSpotSignature = "B9vFo21iGk81grLaYO6lyBPBwRqNuO2l8h1vaZlQ4/Q=";

std::string hmac_check(const std::string& body, const Headers& headers, const std::string& secret = kSecret,
                       const std::string& header = "") {
  SignatureCheck check{SignatureScheme::hmac_sha256, secret, header};
  SignedRequest request{"POST", kUrl, body, &headers, 0};
  return signature_problem(check, request);
}

std::string hubspot_check(const Headers& headers, std::int64_t now_ms, const std::string& url = kUrl,
                          const std::string& body = kBody, const std::string& secret = kSecret) {
  SignatureCheck check{SignatureScheme::hubspot_v3, secret, ""};
  SignedRequest request{"POST", url, body, &headers, now_ms};
  return signature_problem(check, request);
}

Headers hubspot_headers(const std::string& signature, const std::string& timestamp = kTimestamp) {
  return {{"Content-Type", "application/json"}, {"X-HubSpot-Signature-v3", signature},
          {"X-HubSpot-Request-Timestamp", timestamp}};
}

std::string upper(std::string text) {
  for (char& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

}  // namespace

TEST_CASE("push headers: found by name in any case, the first of two", "[push]") {
  const Headers headers{{"content-type", "application/json"}, {"X-Delivery-Id", "d-1"}, {"x-delivery-id", "d-2"}};
  REQUIRE(find_header(headers, "Content-Type") != nullptr);
  CHECK(*find_header(headers, "CONTENT-TYPE") == "application/json");
  CHECK(*find_header(headers, "x-DELIVERY-id") == "d-1");
  CHECK(find_header(headers, "X-Delivery") == nullptr);
  CHECK(find_header(Headers{}, "X-Delivery-Id") == nullptr);
}

TEST_CASE("push headers: \"Name: value\" lines as curl -H takes them", "[push]") {
  using Pair = std::pair<std::string, std::string>;
  CHECK(parse_header_line("X-Signature-256: sha256=abc") == Pair{"X-Signature-256", "sha256=abc"});
  CHECK(parse_header_line("X-A:value") == Pair{"X-A", "value"});
  CHECK(parse_header_line("X-A:  \t spaced  \r") == Pair{"X-A", "spaced"});
  CHECK(parse_header_line("X-A: a: b") == Pair{"X-A", "a: b"});
  CHECK(parse_header_line("X-Empty:") == Pair{"X-Empty", ""});
  CHECK(parse_header_line("X-Empty:   \r\n") == Pair{"X-Empty", ""});
  CHECK(parse_header_line("!#$%&'*+-.^_`|~09azAZ: v") == Pair{"!#$%&'*+-.^_`|~09azAZ", "v"});
  CHECK_FALSE(parse_header_line("no colon here"));
  CHECK_FALSE(parse_header_line(": value"));
  CHECK_FALSE(parse_header_line("X-A : value"));
  CHECK_FALSE(parse_header_line(" X-A: value"));
  CHECK_FALSE(parse_header_line("X(A): value"));
  CHECK_FALSE(parse_header_line("X\"A: value"));
  CHECK_FALSE(parse_header_line("Zoë: value"));
  CHECK_FALSE(parse_header_line(""));
}

TEST_CASE("push signature: schemes by name and their default headers", "[push]") {
  CHECK(parse_signature_scheme("hmac-sha256") == SignatureScheme::hmac_sha256);
  CHECK(parse_signature_scheme("hubspot-v3") == SignatureScheme::hubspot_v3);
  CHECK_FALSE(parse_signature_scheme("HMAC-SHA256"));
  CHECK_FALSE(parse_signature_scheme("hmac"));
  CHECK_FALSE(parse_signature_scheme(""));
  CHECK(std::string(default_signature_header(SignatureScheme::hmac_sha256)) == "X-Signature-256");
  CHECK(std::string(default_signature_header(SignatureScheme::hubspot_v3)) == "X-HubSpot-Signature-v3");
}

TEST_CASE("push signature: the signers agree with HMAC-SHA256 computed elsewhere", "[push]") {
  CHECK(sign_hmac_sha256(kSecret, kBody) == "sha256=" + kBodyHex);
  // RFC 4231, test case 2.
  CHECK(sign_hmac_sha256("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(sign_hmac_sha256("", "") == "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  CHECK(sign_hubspot_v3(kSecret, "POST", kUrl, kBody, kTimestamp) == kHubSpotSignature);
}

TEST_CASE("push signature: hmac-sha256 accepts hex in either case, with or without sha256=, and base64", "[push]") {
  CHECK(hmac_check(kBody, {{"X-Signature-256", "sha256=" + kBodyHex}}) == "");
  CHECK(hmac_check(kBody, {{"X-Signature-256", kBodyHex}}) == "");
  CHECK(hmac_check(kBody, {{"X-Signature-256", upper(kBodyHex)}}) == "");
  CHECK(hmac_check(kBody, {{"X-Signature-256", "SHA256=" + upper(kBodyHex)}}) == "");
  CHECK(hmac_check(kBody, {{"x-signature-256", "Sha256=" + kBodyHex}}) == "");
  CHECK(hmac_check(kBody, {{"X-Signature-256", kBodyBase64}}) == "");
  CHECK(hmac_check(kBody, {{"X-Signature-256", " " + kBodyBase64 + "\r"}}) == "");
  CHECK(hmac_check(kBody, {{"X-Signature-256", sign_hmac_sha256(kSecret, kBody)}}) == "");
}

TEST_CASE("push signature: hmac-sha256 refuses a changed body, a wrong secret and a wrong digest", "[push]") {
  const Headers good{{"X-Signature-256", "sha256=" + kBodyHex}};
  std::string changed = kBody;
  changed[5] = static_cast<char>(changed[5] ^ 1);
  const std::string mismatch = "the X-Signature-256 signature does not match the body";
  CHECK_THAT(hmac_check(changed, good), Catch::StartsWith(mismatch));
  CHECK_THAT(hmac_check(kBody + " ", good), Catch::StartsWith(mismatch));
  CHECK_THAT(hmac_check(kBody, good, kSecret + "x"), Catch::StartsWith(mismatch));
  CHECK_THAT(hmac_check(kBody, good, "another secret"), Catch::StartsWith(mismatch));
  std::string flipped = kBodyHex;
  flipped[63] = flipped[63] == '0' ? '1' : '0';
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", flipped}}), Catch::StartsWith(mismatch));
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", "A" + kBodyBase64.substr(1)}}), Catch::StartsWith(mismatch));
  // The signature of another body is no signature of this one.
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", sign_hmac_sha256(kSecret, "[]")}}), Catch::StartsWith(mismatch));
}

TEST_CASE("push signature: hmac-sha256 says what is wrong with a malformed or missing signature", "[push]") {
  const std::string malformed = "the X-Signature-256 signature is not 64 hex digits";
  CHECK(hmac_check(kBody, {}) == "no X-Signature-256 header");
  CHECK(hmac_check(kBody, {{"X-Other", kBodyHex}}) == "no X-Signature-256 header");
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", ""}}), Catch::StartsWith(malformed));
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", "sha256="}}), Catch::StartsWith(malformed));
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", kBodyHex.substr(1)}}),
             Catch::StartsWith(malformed) && Catch::Contains("63 characters"));
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", kBodyHex + "0"}}), Catch::StartsWith(malformed));
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", "g" + kBodyHex.substr(1)}}), Catch::StartsWith(malformed));
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", "sha1=" + kBodyHex}}), Catch::StartsWith(malformed));
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", "sha256=" + kBodyBase64}}), Catch::StartsWith(malformed));
  // Base64: padding required, standard alphabet only, canonical last character.
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", kBodyBase64.substr(0, 43)}}), Catch::StartsWith(malformed));
  std::string url_safe = kBodyBase64;
  url_safe[10] = '-';
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", url_safe}}), Catch::StartsWith(malformed));
  std::string loose_bits = kBodyBase64;
  loose_bits[42] = 't';  // 's' (44, low bits 00) with an unused bit set
  CHECK_THAT(hmac_check(kBody, {{"X-Signature-256", loose_bits}}), Catch::StartsWith(malformed));
}

TEST_CASE("push signature: the header a connection names, and no secret at all", "[push]") {
  const Headers headers{{"X-Shopify-Hmac-Sha256", kBodyBase64}};
  CHECK(hmac_check(kBody, headers, kSecret, "X-Shopify-Hmac-SHA256") == "");
  CHECK(hmac_check(kBody, headers) == "no X-Signature-256 header");
  CHECK(hmac_check(kBody, {{"X-Signature-256", sign_hmac_sha256("", kBody)}}, "") ==
        "the connection has no secret to check the X-Signature-256 signature with");
  SignatureCheck check{SignatureScheme::hmac_sha256, kSecret, ""};
  SignedRequest no_headers{"POST", kUrl, kBody, nullptr, 0};
  CHECK(signature_problem(check, no_headers) == "no X-Signature-256 header");
}

TEST_CASE("push signature: hubspot-v3 accepts HubSpot's signature within five minutes either way", "[push]") {
  const Headers headers = hubspot_headers(kHubSpotSignature);
  CHECK(hubspot_check(headers, kTimestampMs) == "");
  CHECK(hubspot_check(headers, kTimestampMs + kHubSpotMaxAgeMs) == "");
  CHECK(hubspot_check(headers, kTimestampMs - kHubSpotMaxAgeMs) == "");
  CHECK(hubspot_check(hubspot_headers(sign_hubspot_v3(kSecret, "POST", kUrl, "", "42"), "42"), 42, kUrl, "") == "");
}

TEST_CASE("push signature: hubspot-v3 refuses an old, a future or a malformed timestamp", "[push]") {
  const Headers headers = hubspot_headers(kHubSpotSignature);
  CHECK(hubspot_check(headers, kTimestampMs + 300001) ==
        "the X-HubSpot-Request-Timestamp is 301 s old (at most 300 s accepted)");
  CHECK(hubspot_check(headers, kTimestampMs + 412000) ==
        "the X-HubSpot-Request-Timestamp is 412 s old (at most 300 s accepted)");
  CHECK_THAT(hubspot_check(headers, kTimestampMs - 300001),
             Catch::StartsWith("the X-HubSpot-Request-Timestamp is 301 s in the future (at most 300 s accepted") &&
                 Catch::Contains("clock"));
  CHECK_THAT(hubspot_check(hubspot_headers(kHubSpotSignature, "99999999999999999999"), kTimestampMs),
             Catch::StartsWith("the X-HubSpot-Request-Timestamp is out of range"));
  CHECK_THAT(hubspot_check(hubspot_headers(kHubSpotSignature, "9223372036854775807"), -kTimestampMs),
             Catch::Contains("in the future"));
  const std::string not_a_number = "the X-HubSpot-Request-Timestamp is not a number";
  for (const std::string timestamp : {"", "17e11", "-1700000000000", "+1700000000000", "1700000000000.5",
                                      "0x1700000000", "1700000000000 ms", "soon"})
    CHECK_THAT(hubspot_check(hubspot_headers(kHubSpotSignature, timestamp), kTimestampMs),
               Catch::StartsWith(not_a_number));
  CHECK_THAT(hubspot_check({{"X-HubSpot-Signature-v3", kHubSpotSignature}}, kTimestampMs),
             Catch::StartsWith("no X-HubSpot-Request-Timestamp header"));
  CHECK(hubspot_check({{"X-HubSpot-Request-Timestamp", kTimestamp}}, kTimestampMs) ==
        "no X-HubSpot-Signature-v3 header");
}

TEST_CASE("push signature: hubspot-v3 signs the method, URL, body and timestamp", "[push]") {
  const std::string mismatch = "the X-HubSpot-Signature-v3 signature does not match the request";
  const Headers headers = hubspot_headers(kHubSpotSignature);
  CHECK_THAT(hubspot_check(headers, kTimestampMs, kUrl + "&y=2"), Catch::StartsWith(mismatch));
  CHECK_THAT(hubspot_check(headers, kTimestampMs, kUrl, kBody + "\n"), Catch::StartsWith(mismatch));
  CHECK_THAT(hubspot_check(headers, kTimestampMs, kUrl, kBody, "another secret"), Catch::StartsWith(mismatch));
  // The same signature under another timestamp within the window.
  CHECK_THAT(hubspot_check(hubspot_headers(kHubSpotSignature, "1700000000001"), kTimestampMs),
             Catch::StartsWith(mismatch));
  SignatureCheck check{SignatureScheme::hubspot_v3, kSecret, ""};
  SignedRequest get{"GET", kUrl, kBody, &headers, kTimestampMs};
  CHECK_THAT(signature_problem(check, get), Catch::StartsWith(mismatch));
  // Hex is not HubSpot's form.
  CHECK_THAT(hubspot_check(hubspot_headers(sign_hmac_sha256(kSecret, kBody)), kTimestampMs),
             Catch::StartsWith("the X-HubSpot-Signature-v3 signature is not base64 of 32 bytes"));
}

TEST_CASE("push signature: hubspot-v3 decodes HubSpot's list of escapes in the URL and no others", "[push]") {
  const std::string sent = "https://hooks.example.com/push%3Fa%3ab%2F%2f%40%21%24%27%28%29%2A%2a%2C%3B%3b";
  const std::string decoded = "https://hooks.example.com/push?a:b//@!$'()**,;;";
  const auto signed_over = [&](const std::string& url) {
    return hubspot_headers(sign_hubspot_v3(kSecret, "POST", url, kBody, kTimestamp));
  };
  CHECK(hubspot_check(signed_over(decoded), kTimestampMs, sent) == "");
  CHECK(hubspot_check(signed_over("https://x.example/a:b"), kTimestampMs, "https://x.example/a%3Ab") == "");
  CHECK_THAT(hubspot_check(signed_over(sent), kTimestampMs, sent), Catch::StartsWith("the X-HubSpot-Signature-v3"));
  // %20, %25 and %3D are not on the list: they stay escaped, and nothing is decoded twice.
  const std::string kept = "https://x.example/a%20b%3Dc%253A%3";
  CHECK(hubspot_check(signed_over(kept), kTimestampMs, kept) == "");
  CHECK_THAT(hubspot_check(signed_over("https://x.example/a b=c%3A%3"), kTimestampMs, kept),
             Catch::StartsWith("the X-HubSpot-Signature-v3"));
  CHECK_THAT(hubspot_check(signed_over("https://x.example/a b=c:%3"), kTimestampMs, kept),
             Catch::StartsWith("the X-HubSpot-Signature-v3"));
}

TEST_CASE("push signature: no reason holds the secret or the expected signature", "[push]") {
  std::string changed = kBody;
  changed[0] = ' ';
  const std::vector<std::string> refusals{
      hmac_check(kBody, {}),
      hmac_check(kBody, {{"X-Signature-256", kSecret}}),
      hmac_check(kBody, {{"X-Signature-256", "sha256=" + kSecret}}),
      hmac_check(kSecret, {{"X-Signature-256", kBodyHex}}),
      hmac_check(changed, {{"X-Signature-256", kBodyBase64}}),
      hmac_check(kBody, {{"X-Signature-256", kBodyHex}}, kSecret, kSecret.substr(0, 3) + "-Sig"),
      hubspot_check({}, kTimestampMs),
      hubspot_check({{"X-HubSpot-Signature-v3", kHubSpotSignature}}, kTimestampMs),
      hubspot_check(hubspot_headers(kSecret, kSecret), kTimestampMs),
      hubspot_check(hubspot_headers(kSecret), kTimestampMs),
      hubspot_check(hubspot_headers(kHubSpotSignature), kTimestampMs + 400000),
      hubspot_check(hubspot_headers(kHubSpotSignature), kTimestampMs - 400000),
      hubspot_check(hubspot_headers(kHubSpotSignature, "99999999999999999999"), kTimestampMs),
      hubspot_check(hubspot_headers(kHubSpotSignature), kTimestampMs, kSecret, kSecret),
      hubspot_check(hubspot_headers(kHubSpotSignature), kTimestampMs, kUrl, kBody, kSecret + "x"),
  };
  for (const auto& reason : refusals) {
    INFO(reason);
    CHECK_FALSE(reason.empty());
    CHECK(reason.find(kSecret) == std::string::npos);
    CHECK(reason.find("7f3a91") == std::string::npos);
    CHECK(reason.find(kBodyHex.substr(0, 16)) == std::string::npos);
    CHECK(reason.find(kBodyBase64.substr(0, 16)) == std::string::npos);
    CHECK(reason.find(kHubSpotSignature.substr(0, 16)) == std::string::npos);
    CHECK(reason.find('\n') == std::string::npos);
  }
}
