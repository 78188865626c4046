// JSON Web Tokens signed with RS256 (RSASSA-PKCS1-v1_5 with SHA-256), as OAuth's JWT bearer
// grant (RFC 7523) wants them: Salesforce's server-to-server flow.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace synctool::net {

class JwtError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// base64url without padding (RFC 7515 section 2).
std::string base64url(std::string_view bytes);

// "<header>.<claims>.<signature>" with the header {"alg":"RS256","typ":"JWT"}. Throws JwtError
// when the PEM text holds no RSA private key (the message never quotes the key).
std::string sign_jwt_rs256(const nlohmann::json& claims, const std::string& private_key_pem);

// True when `jwt` is an RS256 token whose signature the PEM public key verifies (for tests and
// for checking a configured key pair).
bool verify_jwt_rs256(const std::string& jwt, const std::string& public_key_pem);

}  // namespace synctool::net
