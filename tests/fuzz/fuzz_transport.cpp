#include "fuzz_transport.hpp"

#include <memory>

namespace synctool::fuzz {

namespace {

constexpr std::string_view kSeparator = "\n---\n";

net::HttpResponse parse_response(std::string_view section) {
  net::HttpResponse response;
  auto line_end = section.find('\n');
  std::string_view status = section.substr(0, line_end);
  long code = 0;
  for (char c : status) {
    if (c < '0' || c > '9' || code > 999) {
      code = 0;
      break;
    }
    code = code * 10 + (c - '0');
  }
  response.status = code == 0 ? 200 : code;
  section = line_end == std::string_view::npos ? std::string_view() : section.substr(line_end + 1);
  while (section.starts_with("> ")) {
    line_end = section.find('\n');
    std::string_view line = section.substr(2, line_end == std::string_view::npos ? line_end : line_end - 2);
    auto colon = line.find(':');
    std::string name(line.substr(0, colon));
    std::string value(colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1));
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    for (auto& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');  // the transport lower-cases names
    response.headers.emplace_back(std::move(name), std::move(value));
    section = line_end == std::string_view::npos ? std::string_view() : section.substr(line_end + 1);
  }
  response.body = std::string(section);
  return response;
}

class ScriptedTransport final : public net::HttpTransport {
 public:
  std::vector<net::HttpResponse> perform(const std::vector<net::HttpRequest>& requests, std::size_t) override {
    auto& script = http_script();
    std::vector<net::HttpResponse> out;
    out.reserve(requests.size());
    for (const auto& request : requests) {
      script.requests.push_back(request.method + " " + request.url);
      if (script.responses.empty()) {
        net::HttpResponse refused;
        refused.transport_error = "Couldn't connect to server (the fuzz script has no more answers)";
        refused.not_sent = true;
        out.push_back(std::move(refused));
        continue;
      }
      out.push_back(std::move(script.responses.front()));
      script.responses.pop_front();
    }
    return out;
  }
};

}  // namespace

Scenario parse_scenario(std::string_view input) {
  Scenario scenario;
  auto next = input.find(kSeparator);
  scenario.operation = std::string(input.substr(0, next));
  while (next != std::string_view::npos) {
    input = input.substr(next + kSeparator.size());
    next = input.find(kSeparator);
    scenario.responses.push_back(parse_response(input.substr(0, next)));
  }
  return scenario;
}

HttpScript& http_script() {
  static HttpScript script;
  return script;
}

}  // namespace synctool::fuzz

namespace synctool::net {

// Stands in for libcurl's transport (src/net/curl_transport.cpp is not in the fuzz build).
std::unique_ptr<HttpTransport> make_curl_transport(const TransportOptions&) {
  return std::make_unique<fuzz::ScriptedTransport>();
}

}  // namespace synctool::net
