// A scripted HttpTransport: answers from a queue of responses, or from a handler function,
// and records every request it was given (with the credentials the client added).
#pragma once

#include "net/http.hpp"

#include <cctype>
#include <cstddef>
#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::testing {

class FakeTransport final : public net::HttpTransport {
 public:
  using Handler = std::function<net::HttpResponse(const net::HttpRequest&)>;

  FakeTransport() = default;
  explicit FakeTransport(Handler h) : handler(std::move(h)) {}

  // Used when set; otherwise `responses` is consumed front to back.
  Handler handler;
  std::deque<net::HttpResponse> responses;

  std::vector<net::HttpRequest> requests;       // every request received, in order
  std::vector<std::size_t> batch_sizes;         // requests per perform() call
  std::vector<std::size_t> max_in_flight_seen;  // max_in_flight of each perform() call

  static net::HttpResponse response(long status, std::string body = {}, net::Headers headers = {}) {
    net::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  static net::HttpResponse network_error(std::string message = "Couldn't connect to server", bool timed_out = false) {
    net::HttpResponse r;
    r.transport_error = std::move(message);
    r.timed_out = timed_out;
    return r;
  }

  FakeTransport& push(long status, std::string body = {}, net::Headers headers = {}) {
    responses.push_back(response(status, std::move(body), std::move(headers)));
    return *this;
  }
  FakeTransport& push_error(std::string message = "Couldn't connect to server", bool timed_out = false) {
    responses.push_back(network_error(std::move(message), timed_out));
    return *this;
  }

  std::vector<net::HttpResponse> perform(const std::vector<net::HttpRequest>& batch,
                                         std::size_t max_in_flight) override {
    batch_sizes.push_back(batch.size());
    max_in_flight_seen.push_back(max_in_flight);
    std::vector<net::HttpResponse> out;
    out.reserve(batch.size());
    for (const auto& request : batch) {
      requests.push_back(request);
      if (handler) {
        out.push_back(handler(request));
      } else {
        if (responses.empty())
          throw std::logic_error("FakeTransport: no scripted response left for " + request.method + " " + request.url);
        out.push_back(std::move(responses.front()));
        responses.pop_front();
      }
    }
    return out;
  }

  // The value of the first header with this name (case-insensitive) in a recorded request.
  static std::string header_of(const net::HttpRequest& request, std::string_view name) {
    for (const auto& [key, value] : request.headers) {
      if (key.size() != name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < key.size() && same; ++i)
        same = std::tolower(static_cast<unsigned char>(key[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      if (same) return value;
    }
    return {};
  }
};

}  // namespace synctool::testing
