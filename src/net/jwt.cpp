#include "net/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

namespace synctool::net {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Key read_key(const std::string& pem, bool is_private) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return Key(nullptr, EVP_PKEY_free);
  EVP_PKEY* key = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                             : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  return Key(key, EVP_PKEY_free);
}

std::string base64url_decode(std::string_view text) {
  std::string padded(text);
  for (char& c : padded) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (padded.size() % 4) padded += '=';
  std::string out(padded.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(padded.data()),
                          static_cast<int>(padded.size()));
  if (n < 0) return {};
  std::size_t padding = padded.size() - text.size();
  out.resize(static_cast<std::size_t>(n) - std::min<std::size_t>(padding, static_cast<std::size_t>(n)));
  return out;
}

}  // namespace

std::string base64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string sign_jwt_rs256(const nlohmann::json& claims, const std::string& private_key_pem) {
  Key key = read_key(private_key_pem, true);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA)
    throw JwtError("the private key is not an RSA private key in PEM form");
  const std::string signing_input =
      base64url(nlohmann::json{{"alg", "RS256"}, {"typ", "JWT"}}.dump()) + "." + base64url(claims.dump());
  DigestContext ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1)
    throw JwtError("could not sign the JWT with the private key");
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1)
    throw JwtError("could not sign the JWT with the private key");
  signature.resize(length);
  return signing_input + "." + base64url(signature);
}

bool verify_jwt_rs256(const std::string& jwt, const std::string& public_key_pem) {
  const auto last_dot = jwt.rfind('.');
  if (last_dot == std::string::npos || jwt.find('.') == last_dot) return false;
  auto header = nlohmann::json::parse(base64url_decode(std::string_view(jwt).substr(0, jwt.find('.'))), nullptr, false);
  if (!header.is_object() || header.value("alg", "") != "RS256") return false;
  Key key = read_key(public_key_pem, false);
  if (!key) return false;
  const std::string signature = base64url_decode(std::string_view(jwt).substr(last_dot + 1));
  DigestContext ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(jwt.data()), last_dot) == 1;
}

}  // namespace synctool::net
