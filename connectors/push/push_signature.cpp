#include "connectors/push/push_signature.hpp"

#include "util/strings.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace synctool::connectors::push {

namespace {

using Digest = std::array<unsigned char, 32>;

// HMAC-SHA256 fed piece by piece, so that hubspot-v3 never copies the body to sign it.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view secret) {
    mac_.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (mac_) ctx_.reset(EVP_MAC_CTX_new(mac_.get()));
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    // A zero-length key still needs a pointer: OpenSSL takes a null key as "no key given".
    static const unsigned char kNoKey = 0;
    const auto* key = secret.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(secret.data());
    if (!ctx_ || EVP_MAC_init(ctx_.get(), key, secret.size(), params) != 1)
      throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
  }

  HmacSha256& add(std::string_view data) {
    if (EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
      throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    return *this;
  }

  Digest digest() {
    Digest out{};
    std::size_t size = 0;
    if (EVP_MAC_final(ctx_.get(), out.data(), &size, out.size()) != 1 || size != out.size())
      throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    return out;
  }

 private:
  struct FreeMac {
    void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
  };
  struct FreeCtx {
    void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MAC, FreeMac> mac_;
  std::unique_ptr<EVP_MAC_CTX, FreeCtx> ctx_;
};

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string_view trim_blanks(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\r\n";
  const auto first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Digest> decode_hex_digest(std::string_view text) {
  Digest out{};
  if (text.size() != out.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = hex_value(text[2 * i]), low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return out;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 of exactly 32 bytes: 43 characters and one "=". The last character carries
// 4 bits of data and 2 unused bits, which must be zero (only the canonical text is accepted).
std::optional<Digest> decode_base64_digest(std::string_view text) {
  if (text.size() != 44 || text[43] != '=') return std::nullopt;
  Digest out{};
  std::uint32_t bits = 0;
  int bit_count = 0;
  std::size_t written = 0;
  for (std::size_t i = 0; i < 43; ++i) {
    const int value = base64_value(text[i]);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out[written++] = static_cast<unsigned char>(bits >> bit_count);
      bits &= (1u << bit_count) - 1;
    }
  }
  if (written != out.size() || bits != 0) return std::nullopt;
  return out;
}

bool same_digest(const Digest& a, const Digest& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

// The URI as HubSpot signs it: these escapes decoded, every other one kept as it is.
std::string hubspot_signed_url(std::string_view url) {
  std::string out;
  out.reserve(url.size());
  for (std::size_t i = 0; i < url.size(); ++i) {
    if (url[i] == '%' && i + 2 < url.size()) {
      const int high = hex_value(url[i + 1]), low = hex_value(url[i + 2]);
      if (high >= 0 && low >= 0) {
        const char decoded = static_cast<char>(high << 4 | low);
        if (std::string_view(":/?@!$'()*,;").find(decoded) != std::string_view::npos) {
          out += decoded;
          i += 2;
          continue;
        }
      }
    }
    out += url[i];
  }
  return out;
}

std::string hmac_problem(const SignatureCheck& check, const SignedRequest& request, const std::string& header,
                         std::string_view value) {
  std::string_view hex = value;
  const bool prefixed = hex.size() >= 7 && equal_ignoring_case(hex.substr(0, 7), "sha256=");
  if (prefixed) hex.remove_prefix(7);
  std::optional<Digest> received = decode_hex_digest(hex);
  if (!received && !prefixed) received = decode_base64_digest(value);
  if (!received)
    return "the " + header + " signature is not 64 hex digits (after an optional \"sha256=\") or base64 of 32 bytes (" +
           std::to_string(value.size()) + " characters received)";
  if (!same_digest(*received, HmacSha256(check.secret).add(request.body).digest()))
    return "the " + header + " signature does not match the body (a wrong secret, or a body changed on the way)";
  return "";
}

std::string hubspot_problem(const SignatureCheck& check, const SignedRequest& request, const std::string& header,
                            std::string_view value) {
  const std::string timestamp_header = kHubSpotTimestampHeader;
  const std::string* timestamp_value =
      request.headers ? find_header(*request.headers, timestamp_header) : nullptr;
  if (!timestamp_value) return "no " + timestamp_header + " header (hubspot-v3 signs the request's time)";
  const std::string_view timestamp = trim_blanks(*timestamp_value);
  bool digits = !timestamp.empty();
  for (char c : timestamp) digits = digits && c >= '0' && c <= '9';
  std::int64_t sent_ms = 0;
  if (!digits) return "the " + timestamp_header + " is not a number (Unix milliseconds expected)";
  if (std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), sent_ms).ec != std::errc())
    return "the " + timestamp_header + " is out of range (Unix milliseconds expected)";
  std::int64_t age_ms = 0;
  // sent_ms >= 0, so only a time far in the future overflows.
  if (__builtin_sub_overflow(request.now_ms, sent_ms, &age_ms))
    return "the " + timestamp_header + " is far in the future (at most " + std::to_string(kHubSpotMaxAgeMs / 1000) +
           " s accepted; is this machine's clock right?)";
  auto seconds = [](std::int64_t ms) { return std::to_string(ms / 1000 + (ms % 1000 != 0)); };
  if (age_ms > kHubSpotMaxAgeMs)
    return "the " + timestamp_header + " is " + seconds(age_ms) + " s old (at most " +
           std::to_string(kHubSpotMaxAgeMs / 1000) + " s accepted)";
  if (age_ms < -kHubSpotMaxAgeMs)
    return "the " + timestamp_header + " is " + seconds(-age_ms) + " s in the future (at most " +
           std::to_string(kHubSpotMaxAgeMs / 1000) + " s accepted; is this machine's clock right?)";

  const auto received = decode_base64_digest(value);
  if (!received)
    return "the " + header + " signature is not base64 of 32 bytes (" + std::to_string(value.size()) +
           " characters received)";
  const Digest expected = HmacSha256(check.secret)
                              .add(request.method)
                              .add(hubspot_signed_url(request.url))
                              .add(request.body)
                              .add(timestamp)
                              .digest();
  if (!same_digest(*received, expected))
    return "the " + header +
           " signature does not match the request (its method, URL, body and timestamp; a wrong secret, or a URL "
           "other than the one HubSpot calls)";
  return "";
}

std::string hex_of(const Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

}  // namespace

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const auto& [header_name, value] : headers)
    if (equal_ignoring_case(header_name, name)) return &value;
  return nullptr;
}

std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view name = line.substr(0, colon);
  for (char c : name)
    if (!is_token_char(c)) return std::nullopt;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && std::string_view(" \t\r\n").find(value.back()) != std::string_view::npos)
    value.remove_suffix(1);
  return std::pair<std::string, std::string>(std::string(name), std::string(value));
}

std::optional<SignatureScheme> parse_signature_scheme(std::string_view text) {
  if (text == "hmac-sha256") return SignatureScheme::hmac_sha256;
  if (text == "hubspot-v3") return SignatureScheme::hubspot_v3;
  return std::nullopt;
}

const char* default_signature_header(SignatureScheme scheme) {
  switch (scheme) {
    case SignatureScheme::hmac_sha256: return "X-Signature-256";
    case SignatureScheme::hubspot_v3: return "X-HubSpot-Signature-v3";
  }
  return "X-Signature-256";
}

std::string signature_problem(const SignatureCheck& check, const SignedRequest& request) {
  const std::string header = check.header.empty() ? default_signature_header(check.scheme) : check.header;
  if (check.secret.empty()) return "the connection has no secret to check the " + header + " signature with";
  const std::string* value = request.headers ? find_header(*request.headers, header) : nullptr;
  if (!value) return "no " + header + " header";
  const std::string_view signature = trim_blanks(*value);
  switch (check.scheme) {
    case SignatureScheme::hmac_sha256: return hmac_problem(check, request, header, signature);
    case SignatureScheme::hubspot_v3: return hubspot_problem(check, request, header, signature);
  }
  return "unknown signature scheme";
}

std::string sign_hmac_sha256(std::string_view secret, std::string_view body) {
  return "sha256=" + hex_of(HmacSha256(secret).add(body).digest());
}

std::string sign_hubspot_v3(std::string_view secret, std::string_view method, std::string_view url,
                            std::string_view body, std::string_view timestamp_ms) {
  const Digest digest = HmacSha256(secret).add(method).add(url).add(body).add(timestamp_ms).digest();
  return util::base64_encode(digest.data(), digest.size());
}

}  // namespace synctool::connectors::push
