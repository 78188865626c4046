// OAuth 2 access tokens from a refresh token (or client credentials): fetched on first use,
// refreshed shortly before expiry and once after a 401. A refreshed token can be handed to a
// TokenCache so the next run starts with it; the cache stores it sealed (encrypted with a key
// derived from the client secret and refresh token), so no usable secret rests in a state file.
#pragma once

#include "net/http.hpp"
#include "net/http_client.hpp"
#include "net/redact.hpp"
#include "util/clock.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace synctool::net {

struct OAuthConfig {
  std::string token_url;      // e.g. https://api.hubapi.com/oauth/v1/token
  std::string grant_type = "refresh_token";  // or "client_credentials"
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;  // for grant_type refresh_token
  // Refresh when less than this is left of the token's life.
  std::int64_t refresh_margin_ms = 300'000;
  // Lifetime assumed when the answer has no expires_in (Salesforce): refresh only on 401.
  std::optional<std::int64_t> default_lifetime_ms;
  // For grant_type kJwtBearerGrant: a fresh signed assertion per token request (Salesforce's
  // JWT bearer flow: no client secret or refresh token is sent).
  std::function<std::string()> make_assertion;
  // What the token cache's key is derived from when the grant has no client secret or refresh
  // token (the JWT's private key); else client id, secret and refresh token.
  std::string cache_key_material;
};

inline constexpr const char* kJwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

struct OAuthToken {
  std::string access_token;
  std::string refresh_token;   // may be rotated by the server
  std::int64_t expires_at_ms = 0;  // 0: unknown (refresh on 401 only)
  // Where the API of this token lives, when the token endpoint says (Salesforce's
  // instance_url); "" otherwise.
  std::string instance_url;
};

// Where a refreshed token is kept between runs. Values passed here are already sealed.
class TokenCache {
 public:
  virtual ~TokenCache() = default;
  virtual std::optional<std::string> load() = 0;
  virtual void store(const std::string& sealed) = 0;
};

// AES-256-GCM with a key derived (SHA-256) from `key_material`; output is base64 text.
std::string seal_secret(const std::string& plaintext, const std::string& key_material);
// Nothing when the text was sealed with other key material or is damaged.
std::optional<std::string> open_secret(const std::string& sealed, const std::string& key_material);

class OAuthRefresher final : public AuthProvider {
 public:
  // Token requests go straight through `transport` (not rate limited, one retry on network
  // errors). Every token obtained is added to `redactor` (may be null) before anything could
  // print it. `cache` may be null.
  OAuthRefresher(OAuthConfig config, HttpTransport& transport, const util::Clock& clock, Redactor* redactor,
                 TokenCache* cache);

  void authorize(HttpRequest& request) override;  // Bearer <access token>
  bool refresh_after_unauthorized() override;

  // Fetches a token now (check --connect uses it to test the credentials). A failure of the
  // token endpoint is tried once more after a second, except a stop request, and, when
  // `retry_unreachable` is false (a check), an endpoint that cannot be reached at all.
  void refresh(bool retry_unreachable = true);
  const OAuthToken& token() const { return token_; }
  // The token authorize() would use now: from the cache or the endpoint when there is none yet
  // or it is near expiry. Throws HttpFailure like refresh().
  const OAuthToken& current();
  int refresh_count() const { return refreshes_; }
  // True when the current access token came from the cache rather than the token endpoint.
  bool loaded_from_cache() const { return loaded_from_cache_; }

 private:
  std::string key_material() const;
  // First use only: adopt the cached token (its refresh token always, the access token when
  // not near expiry).
  void load_cache();
  void store_cache();
  bool needs_refresh() const;
  // Masks the configured and obtained secrets (also when no redactor was given).
  std::string redact(const std::string& text) const;

  OAuthConfig config_;
  HttpTransport& transport_;
  const util::Clock& clock_;
  Redactor* redactor_;
  TokenCache* cache_;
  OAuthToken token_;
  bool loaded_from_cache_ = false;
  bool cache_checked_ = false;
  std::int64_t lifetime_ms_ = 0;  // of the current token as granted; 0: unknown
  int refreshes_ = 0;
};

}  // namespace synctool::net
