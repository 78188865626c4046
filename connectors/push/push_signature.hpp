// Push sources: the request headers a delivery arrives with and the check of its signature
// (an HMAC of the body with a secret shared with the sender), before anything is spooled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synctool::connectors::push {

// Request headers as given (name, value); names compare without regard to case.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header called `name` (ASCII case-insensitive), or nullptr.
const std::string* find_header(const Headers& headers, std::string_view name);

// Parses "Name: value" as curl -H takes it: the name, a colon, optional spaces or tabs, the
// value; trailing spaces, tabs, CR and LF are trimmed. nullopt when there is no colon, the name
// is empty or holds a character other than RFC 9110's token characters (a space before the
// colon included).
std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line);

enum class SignatureScheme { hmac_sha256, hubspot_v3 };

// "hmac-sha256" / "hubspot-v3"; nullopt otherwise.
std::optional<SignatureScheme> parse_signature_scheme(std::string_view text);

// The header a scheme's signature arrives in unless the connection names another:
// hmac-sha256 -> "X-Signature-256", hubspot-v3 -> "X-HubSpot-Signature-v3".
const char* default_signature_header(SignatureScheme scheme);

inline constexpr const char* kHubSpotTimestampHeader = "X-HubSpot-Request-Timestamp";
// How far a hubspot-v3 timestamp may lie from the clock, either way (HubSpot: "older than 5
// minutes" is a replay; the future side guards against a wrong clock or a forged time).
inline constexpr std::int64_t kHubSpotMaxAgeMs = 5 * 60 * 1000;

struct SignatureCheck {
  SignatureScheme scheme = SignatureScheme::hmac_sha256;
  std::string secret;  // the shared secret (never appears in any message)
  std::string header;  // where the signature arrives; "" = default_signature_header(scheme)
};

struct SignedRequest {
  std::string_view method;  // "POST" (hubspot-v3 signs it)
  std::string_view url;     // the full URL as the sender called it (hubspot-v3 signs it)
  std::string_view body;    // raw bytes
  const Headers* headers = nullptr;  // nullptr = none
  std::int64_t now_ms = 0;           // wall clock, for the hubspot-v3 timestamp window
};

// "" when the request carries a valid signature; else a one-line reason for the user ("no
// X-Signature-256 header", "the X-Signature-256 signature does not match the body", "the
// X-HubSpot-Request-Timestamp is 412 s old (at most 300 s accepted)"...). An empty secret is
// itself a reason: nothing is accepted without one. A reason never holds the secret, the
// expected signature or the text of any header (only their names and sizes).
//
// hmac-sha256: HMAC-SHA256(secret, body), sent as 64 hex digits in either case, optionally
// after "sha256=" (any case), or as standard padded base64 of the 32 bytes (Shopify's form).
// hubspot-v3: base64 of HMAC-SHA256(secret, method + url + body + timestamp), the timestamp
// being the text of X-HubSpot-Request-Timestamp (Unix ms, digits only, within
// kHubSpotMaxAgeMs of now_ms either way; exactly kHubSpotMaxAgeMs is accepted). Before signing,
// the URL's %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B (either hex case) are decoded, as
// HubSpot's documentation says, and no other escape is.
// Digests are compared in constant time (CRYPTO_memcmp). Throws std::runtime_error only when
// OpenSSL itself fails.
std::string signature_problem(const SignatureCheck& check, const SignedRequest& request);

// What a sender puts in the header (tests and the example script use these).
// hmac-sha256: "sha256=" + lowercase hex of HMAC-SHA256(secret, body).
std::string sign_hmac_sha256(std::string_view secret, std::string_view body);
// hubspot-v3: base64(HMAC-SHA256(secret, method + url + body + timestamp_ms)) over the URL as
// given: a sender signs the URL it decoded itself, so pass the decoded form to match HubSpot.
std::string sign_hubspot_v3(std::string_view secret, std::string_view method, std::string_view url,
                            std::string_view body, std::string_view timestamp_ms);

}  // namespace synctool::connectors::push
