// Small helpers of the Salesforce emulator: Salesforce's date forms, ids and their case-safe
// suffix, form decoding, e-mail checks, the crypto of the token endpoint (RS256, HMAC), faults
// JSON. Declared in salesforce_internal.hpp; what all emulators need is in emulators/common.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>

#include "emulators/salesforce/salesforce_internal.hpp"

namespace synctool::emulators::salesforce_detail {

std::string sf_datetime(std::int64_t ms) {
  const std::int64_t days = floor_div(ms, kDay);
  std::int64_t rem = ms - days * kDay;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  const auto hh = static_cast<int>(rem / 3600000);
  rem %= 3600000;
  const auto mi = static_cast<int>(rem / 60000);
  rem %= 60000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03d+0000", static_cast<long long>(y), m, d, hh, mi,
                static_cast<int>(rem / 1000), static_cast<int>(rem % 1000));
  return buf;
}

std::string sf_date(std::int64_t ms) { return sf_datetime(ms).substr(0, 10); }

std::optional<std::int64_t> parse_sf_date(std::string_view s) {
  if (s.size() != 10) return std::nullopt;
  return parse_iso_ms(s);
}

std::string url_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

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

namespace {
constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr char kSuffixChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
}  // namespace

// Fixed width, so that the ids of one object sort in creation order ("0-9A-Za-z" is ASCII order).
std::string base62(std::uint64_t v, std::size_t width) {
  std::string out(width, '0');
  for (std::size_t i = width; i-- > 0 && v > 0;) {
    out[i] = kBase62[v % 62];
    v /= 62;
  }
  return out;
}

std::string id_suffix(std::string_view id15) {
  std::string out;
  for (std::size_t chunk = 0; chunk < 3; ++chunk) {
    unsigned bits = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      const char c = id15[chunk * 5 + j];
      if (c >= 'A' && c <= 'Z') bits |= 1u << j;
    }
    out += kSuffixChars[bits];
  }
  return out;
}

std::string make_id(std::string_view key_prefix, std::uint64_t counter) {
  // prefix (3) + pod "5g" + reserved "0" + 9 base-62 digits, then the suffix.
  std::string id15 = std::string(key_prefix) + "5g0" + base62(counter, 9);
  return id15 + id_suffix(id15);
}

std::optional<std::string> normalize_id(std::string_view s) {
  if (s.size() != 15 && s.size() != 18) return std::nullopt;
  for (char c : s)
    if (!is_alnum(c)) return std::nullopt;
  std::string id15(s.substr(0, 15));
  if (s.size() == 15) return id15 + id_suffix(id15);
  // The suffix tells which of the first 15 are upper case: restore it, so any case works.
  for (std::size_t chunk = 0; chunk < 3; ++chunk) {
    const char sc = static_cast<char>(s[15 + chunk] >= 'a' && s[15 + chunk] <= 'z' ? s[15 + chunk] - 32 : s[15 + chunk]);
    const char* pos = std::char_traits<char>::find(kSuffixChars, 32, sc);
    if (pos == nullptr) return std::nullopt;
    const auto bits = static_cast<unsigned>(pos - kSuffixChars);
    for (std::size_t j = 0; j < 5; ++j) {
      char& c = id15[chunk * 5 + j];
      const bool upper = (bits >> j) & 1u;
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
      else if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      else if (upper && !(c >= 'A' && c <= 'Z')) return std::nullopt;  // a digit marked upper case
    }
  }
  return id15 + id_suffix(id15);
}

// Local part and a dotted domain, no spaces, one '@', sane characters: what Salesforce refuses
// with INVALID_EMAIL_ADDRESS is close to this.
bool valid_email(std::string_view v) {
  const auto at = v.find('@');
  if (at == std::string_view::npos || at == 0 || v.find('@', at + 1) != std::string_view::npos) return false;
  for (char c : v)
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';' || c == '<' || c == '>' ||
        c == '(' || c == ')' || c == '[' || c == ']' || c == '\\' || c == '"')
      return false;
  const std::string_view local = v.substr(0, at), domain = v.substr(at + 1);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  const auto dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  if (domain.size() - dot - 1 < 2 || domain.front() == '-' || domain.find("..") != std::string_view::npos)
    return false;
  return true;
}

std::string base64_encode(std::string_view in) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(in[k])); };
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned n = byte(i) << 16;
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string hmac_sha256_base64(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string verify_rs256(const std::string& pem, std::string_view signing_input, std::string_view signature) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return "cannot read the public key";
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  if (key == nullptr) {
    // A certificate, as uploaded to a connected app.
    BIO_free(bio);
    bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      key = X509_get_pubkey(cert);
      X509_free(cert);
    }
  }
  BIO_free(bio);
  if (key == nullptr) return "cannot read the public key";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int ok = ctx != nullptr ? EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) : 0;
  if (ok == 1)
    ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok == 1 ? "" : "signature does not verify";
}

bool is_custom_name(std::string_view name) { return name.size() > 3 && lower(name.substr(name.size() - 3)) == "__c"; }

json RowError::to_json(bool api_shape) const {
  json j = api_shape ? json{{"message", message}, {"errorCode", code}, {"fields", fields}}
                     : json{{"statusCode", code}, {"message", message}, {"fields", fields}};
  if (!duplicate_result.is_null()) j["duplicateResult"] = duplicate_result;
  return j;
}

}  // namespace synctool::emulators::salesforce_detail

namespace synctool::emulators {

SalesforceFaults salesforce_faults_from_json(const nlohmann::json& j) {
  return common::read_fault_settings(j, "rate_limit_exceeded", &SalesforceFaults::rate_limit_exceeded);
}

nlohmann::json salesforce_faults_to_json(const SalesforceFaults& f) {
  return {{"rate_limit_exceeded", f.rate_limit_exceeded},
          {"rate_500", f.rate_500},
          {"rate_timeout", f.rate_timeout},
          {"timeout_ms", f.timeout_ms},
          {"rate_drop", f.rate_drop},
          {"rate_lost_response", f.rate_lost_response},
          {"rate_malformed", f.rate_malformed},
          {"slow_ms", f.slow_ms},
          {"paths", f.paths},
          {"max_faults", f.max_faults},
          {"seed", f.seed},
          {"include_oauth", f.include_oauth}};
}

}  // namespace synctool::emulators
