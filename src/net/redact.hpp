// Secret redaction: every text that leaves synctool (stdout, stderr, run history, logs)
// passes through a Redactor holding the secret values the spec interpolated.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace synctool::net {

class Redactor {
 public:
  Redactor() = default;
  explicit Redactor(std::vector<std::string> secrets);
  void add(const std::string& secret);
  // Replaces every occurrence of a secret with "[REDACTED]", and the value of any
  // `Authorization:` header or `access_token`/`refresh_token`/`apikey` style parameter.
  std::string apply(std::string_view text) const;

 private:
  std::vector<std::string> secrets_;
};

}  // namespace synctool::net
