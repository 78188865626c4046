#include "net/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace synctool::net {

namespace {

constexpr std::string_view kMask = "[REDACTED]";
// Secrets shorter than this are too likely to match ordinary text ("1", "true").
constexpr std::size_t kMinSecretLength = 4;
// Names whose value is a credential wherever it appears: `token=...`, `"password": "..."`.
constexpr std::array<std::string_view, 8> kSecretNames = {"access_token", "refresh_token", "client_secret", "api_key",
                                                          "apikey",       "password",      "authorization", "token"};

bool is_value_end(char c) {
  return c == '"' || c == '\'' || c == '&' || c == ',' || c == '}' || std::isspace(static_cast<unsigned char>(c));
}

bool equal_ignoring_case(std::string_view text, std::size_t at, std::string_view word) {
  if (at + word.size() > text.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
  return true;
}

// After a secret's name: optional quote, spaces, '=' or ':', spaces, optional quote, then the
// value. Returns the value's [begin, end) or nothing when the name is not followed by one.
bool find_value(const std::string& text, std::size_t after_name, bool header, std::size_t& begin, std::size_t& end) {
  std::size_t i = after_name;
  if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i >= text.size() || (text[i] != '=' && text[i] != ':')) return false;
  ++i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
  begin = i;
  // An Authorization header's value runs to the end of the line ("Bearer abc").
  while (i < text.size() && (header ? text[i] != '\r' && text[i] != '\n' && text[i] != '"' : !is_value_end(text[i]))) ++i;
  end = i;
  return end > begin;
}

void mask_named_values(std::string& text) {
  for (std::size_t pos = 0; pos < text.size(); ++pos) {
    for (auto name : kSecretNames) {
      if (!equal_ignoring_case(text, pos, name)) continue;
      std::size_t begin = 0, end = 0;
      if (!find_value(text, pos + name.size(), name == "authorization", begin, end)) continue;
      if (text.compare(begin, end - begin, kMask) == 0) continue;
      text.replace(begin, end - begin, kMask);
      pos = begin + kMask.size() - 1;
      break;
    }
  }
}

// "scheme://user:password@host" -> "scheme://user:[REDACTED]@host".
void mask_url_passwords(std::string& text) {
  std::size_t pos = 0;
  while ((pos = text.find("://", pos)) != std::string::npos) {
    std::size_t start = pos + 3;
    std::size_t at = start;
    while (at < text.size() && text[at] != '@' && text[at] != '/' && !std::isspace(static_cast<unsigned char>(text[at])))
      ++at;
    std::size_t colon = text.find(':', start);
    if (at < text.size() && text[at] == '@' && colon != std::string::npos && colon < at && colon + 1 < at) {
      text.replace(colon + 1, at - colon - 1, kMask);
      at = colon + 1 + kMask.size();
    }
    pos = at;
  }
}

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
  mask_named_values(out);
  mask_url_passwords(out);
  return out;
}

}  // namespace synctool::net
