#include "net/redact.hpp"

#include <algorithm>
#include <regex>

namespace synctool::net {

namespace {
constexpr std::string_view kMask = "[REDACTED]";
// Secrets shorter than this are too likely to match ordinary text ("1", "true").
constexpr std::size_t kMinSecretLength = 4;
}  // namespace

Redactor::Redactor(std::vector<std::string> secrets) {
  for (auto& s : secrets) add(s);
}

void Redactor::add(const std::string& secret) {
  if (secret.size() < kMinSecretLength) return;
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.push_back(secret);
  // Longest first, so a secret containing another is masked whole.
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string Redactor::apply(std::string_view text) const {
  std::string out(text);
  for (const auto& secret : secrets_) {
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kMask);
      pos += kMask.size();
    }
  }
  static const std::regex header(R"((authorization\s*:\s*)([^\r\n]+))", std::regex::icase);
  static const std::regex param(
      R"(((?:access_token|refresh_token|client_secret|api_?key|password|token)["']?\s*[=:]\s*["']?)([^"'&\s,}]+))",
      std::regex::icase);
  static const std::regex url_credentials(R"((://[^/:@\s]+:)([^@/\s]+)(@))");
  out = std::regex_replace(out, header, "$1[REDACTED]");
  out = std::regex_replace(out, param, "$1[REDACTED]");
  out = std::regex_replace(out, url_credentials, "$1[REDACTED]$3");
  return out;
}

}  // namespace synctool::net
