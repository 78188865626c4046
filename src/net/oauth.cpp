#include "net/oauth.hpp"

#include "util/interrupt.hpp"
#include "util/strings.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <stdexcept>

namespace synctool::net {

namespace {

constexpr std::size_t kIvLength = 12;
constexpr std::size_t kTagLength = 16;
constexpr std::int64_t kRetryDelayMs = 1000;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// SHA-256 of the key material; wiped by the caller.
std::array<unsigned char, 32> derive_key(const std::string& key_material) {
  std::array<unsigned char, 32> key{};
  unsigned int length = 0;
  if (EVP_Digest(key_material.data(), key_material.size(), key.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != key.size())
    throw std::runtime_error("could not derive the token cache key");
  return key;
}

struct KeyWiper {
  std::array<unsigned char, 32>& key;
  ~KeyWiper() { OPENSSL_cleanse(key.data(), key.size()); }
};

std::optional<std::string> base64_decode(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  if (clean.empty() || clean.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (clean.back() == '=') ++padding;
  if (clean.size() >= 2 && clean[clean.size() - 2] == '=') ++padding;
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0 || static_cast<std::size_t>(n) < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}


std::string string_field(const nlohmann::json& json, const char* key) {
  auto it = json.find(key);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "expires_in": seconds as a number or a numeric string; nothing when absent or not positive.
std::optional<std::int64_t> expires_in_ms(const nlohmann::json& json) {
  auto it = json.find("expires_in");
  if (it == json.end()) return std::nullopt;
  double seconds = 0;
  if (it->is_number()) {
    seconds = it->get<double>();
  } else if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        text.size() > 12)
      return std::nullopt;
    seconds = static_cast<double>(std::stoll(text));
  } else {
    return std::nullopt;
  }
  if (!(seconds > 0) || seconds > 1e12) return std::nullopt;
  return static_cast<std::int64_t>(seconds * 1000);
}

// Less than the margin left. A token granted for less than twice the margin is refreshed at
// half its life instead (else every request would fetch a new one). Unknown expiry: never.
bool near_expiry(std::int64_t expires_at, std::int64_t lifetime, std::int64_t margin, std::int64_t now) {
  if (expires_at == 0) return false;
  if (lifetime > 0) margin = std::min(margin, lifetime / 2);
  return expires_at - now < margin;
}

std::string without_query(const std::string& url) { return url.substr(0, url.find_first_of("?#")); }

}  // namespace

std::string seal_secret(const std::string& plaintext, const std::string& key_material) {
  auto key = derive_key(key_material);
  KeyWiper wipe{key};
  std::string raw(kIvLength + plaintext.size() + kTagLength, '\0');
  auto* iv = reinterpret_cast<unsigned char*>(raw.data());
  auto* cipher = iv + kIvLength;
  if (RAND_bytes(iv, static_cast<int>(kIvLength)) != 1) throw std::runtime_error("no random bytes for the token cache");
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0, final_length = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kIvLength), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher, &length, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher + length, &final_length) != 1 ||
      static_cast<std::size_t>(length + final_length) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagLength),
                          cipher + plaintext.size()) != 1)
    throw std::runtime_error("could not seal the token for the cache");
  return util::base64_encode(iv, raw.size());
}

std::optional<std::string> open_secret(const std::string& sealed, const std::string& key_material) {
  auto raw = base64_decode(sealed);
  if (!raw || raw->size() < kIvLength + kTagLength) return std::nullopt;
  std::array<unsigned char, 32> key{};
  try {
    key = derive_key(key_material);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  KeyWiper wipe{key};
  auto* iv = reinterpret_cast<unsigned char*>(raw->data());
  auto* cipher = iv + kIvLength;
  const std::size_t cipher_size = raw->size() - kIvLength - kTagLength;
  std::string plain(cipher_size, '\0');
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0, final_length = 0;
  // An empty output buffer still needs a valid pointer.
  unsigned char dummy = 0;
  auto* out = cipher_size ? reinterpret_cast<unsigned char*>(plain.data()) : &dummy;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kIvLength), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &length, cipher, static_cast<int>(cipher_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagLength), cipher + cipher_size) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + length, &final_length) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return std::nullopt;
  }
  plain.resize(static_cast<std::size_t>(length + final_length));
  return plain;
}

OAuthRefresher::OAuthRefresher(OAuthConfig config, HttpTransport& transport, const util::Clock& clock,
                               Redactor* redactor, TokenCache* cache)
    : config_(std::move(config)), transport_(transport), clock_(clock), redactor_(redactor), cache_(cache) {
  token_.refresh_token = config_.refresh_token;
  if (redactor_) {
    redactor_->add(config_.client_secret);
    redactor_->add(config_.refresh_token);
  }
}

std::string OAuthRefresher::key_material() const {
  if (!config_.cache_key_material.empty()) return config_.client_id + "\n" + config_.cache_key_material;
  return config_.client_id + "\n" + config_.client_secret + "\n" + config_.refresh_token;
}

std::string OAuthRefresher::redact(const std::string& text) const {
  Redactor own({config_.client_secret, config_.refresh_token, token_.access_token, token_.refresh_token});
  std::string out = own.apply(text);
  return redactor_ ? redactor_->apply(out) : out;
}

void OAuthRefresher::load_cache() {
  if (cache_checked_) return;
  cache_checked_ = true;
  if (!cache_) return;
  std::optional<std::string> sealed;
  try {
    sealed = cache_->load();
  } catch (const std::exception&) {
    return;  // the cache is an optimisation: without it the token endpoint is asked
  }
  if (!sealed) return;
  auto plain = open_secret(*sealed, key_material());
  if (!plain) return;
  auto json = nlohmann::json::parse(*plain, nullptr, false);
  OPENSSL_cleanse(plain->data(), plain->size());
  if (json.is_discarded() || !json.is_object()) return;
  std::string access = string_field(json, "access_token");
  std::string refresh = string_field(json, "refresh_token");
  std::int64_t expires_at = 0, lifetime = 0;
  if (auto it = json.find("expires_at_ms"); it != json.end() && it->is_number_integer()) expires_at = it->get<std::int64_t>();
  if (auto it = json.find("lifetime_ms"); it != json.end() && it->is_number_integer()) lifetime = it->get<std::int64_t>();
  if (redactor_) {
    redactor_->add(access);
    redactor_->add(refresh);
  }
  // A rotated refresh token is the only one that still works: always adopt it.
  if (!refresh.empty()) token_.refresh_token = refresh;
  if (access.empty()) return;
  if (near_expiry(expires_at, lifetime, config_.refresh_margin_ms, clock_.now_ms())) return;
  token_.instance_url = string_field(json, "instance_url");
  token_.access_token = std::move(access);
  token_.expires_at_ms = expires_at;
  lifetime_ms_ = lifetime;
  loaded_from_cache_ = true;
}

void OAuthRefresher::store_cache() {
  if (!cache_) return;
  nlohmann::json json = {{"access_token", token_.access_token},
                         {"refresh_token", token_.refresh_token},
                         {"expires_at_ms", token_.expires_at_ms},
                         {"lifetime_ms", lifetime_ms_},
                         {"instance_url", token_.instance_url}};
  std::string plain = json.dump();
  std::string sealed = seal_secret(plain, key_material());
  OPENSSL_cleanse(plain.data(), plain.size());
  cache_->store(sealed);
}

bool OAuthRefresher::needs_refresh() const {
  return token_.access_token.empty() ||
         near_expiry(token_.expires_at_ms, lifetime_ms_, config_.refresh_margin_ms, clock_.now_ms());
}

void OAuthRefresher::authorize(HttpRequest& request) {
  load_cache();
  if (needs_refresh()) refresh();
  std::erase_if(request.headers, [](const auto& h) {
    const std::string& name = h.first;
    static constexpr std::string_view kName = "authorization";
    if (name.size() != kName.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(name[i])) != kName[i]) return false;
    return true;
  });
  request.headers.emplace_back("Authorization", "Bearer " + token_.access_token);
}

const OAuthToken& OAuthRefresher::current() {
  load_cache();
  if (needs_refresh()) refresh();
  return token_;
}

bool OAuthRefresher::refresh_after_unauthorized() {
  refresh();
  return true;
}

void OAuthRefresher::refresh(bool retry_unreachable) {
  load_cache();
  std::vector<std::pair<std::string, std::string>> fields = {{"grant_type", config_.grant_type}};
  if (config_.grant_type == kJwtBearerGrant) {
    // A signed assertion buys a token until it expires: a secret like the others.
    std::string assertion = config_.make_assertion ? config_.make_assertion() : std::string();
    if (redactor_) redactor_->add(assertion);
    fields.emplace_back("assertion", std::move(assertion));
  } else {
    fields.emplace_back("client_id", config_.client_id);
    fields.emplace_back("client_secret", config_.client_secret);
    if (config_.grant_type == "refresh_token") fields.emplace_back("refresh_token", token_.refresh_token);
  }
  HttpRequest request;
  request.method = "POST";
  request.url = config_.token_url;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  request.body = form_encode(fields);
  const std::vector<HttpRequest> batch{std::move(request)};

  HttpResponse response;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto responses = transport_.perform(batch, 1);
    response = responses.empty() ? HttpResponse{} : std::move(responses.front());
    if (responses.empty()) response.transport_error = "the transport returned no response";
    if (response.status != 0 && response.status < 500) break;
    if (util::stop_requested()) break;  // a stopping run tries nothing twice
    if (!retry_unreachable && response.status == 0 && response.not_sent) break;
    if (attempt == 1) clock_.sleep_ms(kRetryDelayMs);
  }

  const std::string where = "OAuth token request to " + without_query(config_.token_url);
  auto json = nlohmann::json::parse(response.body, nullptr, false);
  const bool is_object = !json.is_discarded() && json.is_object();
  if (is_object) {
    // Whatever the answer, tokens in it are secrets from now on.
    if (redactor_) {
      redactor_->add(string_field(json, "access_token"));
      redactor_->add(string_field(json, "refresh_token"));
    }
  }

  if (response.status == 0) {
    std::string why = response.timed_out ? "timed out" : response.transport_error;
    throw HttpFailure(HttpFailure::Kind::transient, redact(where + " failed: " + why), 0);
  }
  if (!response.ok()) {
    std::string detail = "HTTP " + std::to_string(response.status);
    if (is_object) {
      std::string code = string_field(json, "error");
      if (code.empty()) code = string_field(json, "status");
      if (code == "error") code.clear();
      std::string message = string_field(json, "error_description");
      if (message.empty()) message = string_field(json, "message");
      // "CODE (message)": "BAD_REFRESH_TOKEN: missing" would read as a token's value to the
      // redactor and be masked.
      if (!code.empty()) detail += " " + util::squeeze(code, 80);
      if (!message.empty()) detail += " (" + util::squeeze(message, 200) + ")";
    } else if (!response.body.empty()) {
      detail += " (" + util::squeeze(response.body, 200) + ")";
    }
    const auto kind = response.status >= 500 ? HttpFailure::Kind::transient : HttpFailure::Kind::auth;
    throw HttpFailure(kind, redact(where + (response.status >= 500 ? " failed: " : " was refused: ") + detail),
                      response.status);
  }
  std::string access = is_object ? string_field(json, "access_token") : std::string();
  if (access.empty())
    throw HttpFailure(HttpFailure::Kind::auth, redact(where + " returned no access_token"), response.status);

  OAuthToken fresh;
  fresh.access_token = std::move(access);
  fresh.refresh_token = string_field(json, "refresh_token");
  if (fresh.refresh_token.empty()) fresh.refresh_token = token_.refresh_token;  // not rotated
  fresh.instance_url = string_field(json, "instance_url");
  std::optional<std::int64_t> lifetime = expires_in_ms(json);
  if (!lifetime && config_.default_lifetime_ms && *config_.default_lifetime_ms > 0) lifetime = config_.default_lifetime_ms;
  fresh.expires_at_ms = lifetime ? clock_.now_ms() + *lifetime : 0;
  token_ = std::move(fresh);
  lifetime_ms_ = lifetime.value_or(0);
  loaded_from_cache_ = false;
  ++refreshes_;
  store_cache();
}

}  // namespace synctool::net
