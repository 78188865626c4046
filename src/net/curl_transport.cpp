// The libcurl transport: one multi handle per transport (its connection cache is what keeps
// connections alive between perform() calls) and a pool of easy handles that are reset and
// reused. At most `max_in_flight` transfers run at once; more are added as others finish.
#include "net/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace synctool::net {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::int64_t steady_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string trim(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool has_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(key[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return true;
  }
  return false;
}

// One request in flight: everything libcurl points into must live here until it finishes.
struct Transfer {
  std::size_t index = 0;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  std::int64_t started_ms = 0;
  HttpResponse* response = nullptr;

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (header_list) curl_slist_free_all(header_list);
  }
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  transfer->response->body.append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  HttpResponse& response = *transfer->response;
  if (line.starts_with("HTTP/")) {
    // A new response begins (after a 100 Continue, or any interim answer): forget the last.
    response.headers.clear();
    response.body.clear();
    return line.size();
  }
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    // An obsolete folded continuation of the previous header's value.
    if (!response.headers.empty()) {
      std::string more = trim(line);
      if (!more.empty()) response.headers.back().second += " " + more;
    }
    return line.size();
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();  // the blank line ending the headers
  response.headers.emplace_back(lower(std::string(line.substr(0, colon))), trim(line.substr(colon + 1)));
  return line.size();
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
    global_init();
    multi_ = curl_multi_init();
  }

  ~CurlTransport() override {
    if (multi_) curl_multi_cleanup(multi_);
    for (CURL* easy : idle_) curl_easy_cleanup(easy);
  }

  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests, std::size_t max_in_flight) override {
    std::vector<HttpResponse> responses(requests.size());
    if (requests.empty()) return responses;
    if (!multi_) {
      for (auto& r : responses) r.transport_error = "libcurl could not be initialised";
      return responses;
    }
    max_in_flight = std::max<std::size_t>(1, max_in_flight);
    long limit = static_cast<long>(std::min<std::size_t>(max_in_flight, 1000));
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, limit);
    // Room in the connection cache for the idle connections of every host we talk to.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, std::max<long>(limit * 2, 16));

    std::vector<Transfer> transfers(requests.size());
    ActiveGuard active(*this);
    std::size_t next = 0;

    auto start_next = [&] {
      while (next < requests.size() && active.count < max_in_flight) {
        std::size_t i = next++;
        Transfer& t = transfers[i];
        t.index = i;
        t.response = &responses[i];
        if (!start(requests[i], t)) continue;  // the response already says why
        ++active.count;
      }
    };

    start_next();
    while (active.count > 0) {
      int running = 0;
      CURLMcode mc = curl_multi_perform(multi_, &running);
      if (mc != CURLM_OK) {
        fail_active(transfers, active, curl_multi_strerror(mc));
        start_next();
        continue;
      }
      bool finished_any = false;
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        char* data = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &data);
        auto* t = reinterpret_cast<Transfer*>(data);
        if (!t) continue;
        finish(*t, msg->data.result);
        release(*t);
        --active.count;
        finished_any = true;
      }
      if (finished_any) {
        start_next();
        continue;  // let the new transfers start before waiting
      }
      if (active.count > 0) {
        mc = curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
        if (mc != CURLM_OK) {
          fail_active(transfers, active, curl_multi_strerror(mc));
          start_next();
        }
      }
    }
    return responses;
  }

 private:
  // Removes whatever is still attached to the multi handle if perform() is left early.
  struct ActiveGuard {
    CurlTransport& owner;
    std::size_t count = 0;
    explicit ActiveGuard(CurlTransport& o) : owner(o) {}
    ~ActiveGuard() {
      if (count == 0) return;
      for (auto it = owner.busy_.begin(); it != owner.busy_.end();) {
        curl_multi_remove_handle(owner.multi_, *it);
        curl_easy_reset(*it);
        owner.idle_.push_back(*it);
        it = owner.busy_.erase(it);
      }
    }
  };

  CURL* take_handle() {
    CURL* easy = nullptr;
    if (!idle_.empty()) {
      easy = idle_.back();
      idle_.pop_back();
    } else {
      easy = curl_easy_init();
    }
    return easy;
  }

  bool start(const HttpRequest& request, Transfer& t) {
    HttpResponse& response = *t.response;
    t.started_ms = steady_now_ms();
    CURL* easy = take_handle();
    if (!easy) {
      response.transport_error = "libcurl could not create a handle";
      return false;
    }
    t.easy = easy;
    configure(easy, request, t);
    CURLMcode mc = curl_multi_add_handle(multi_, easy);
    if (mc != CURLM_OK) {
      response.transport_error = curl_multi_strerror(mc);
      curl_easy_reset(easy);
      idle_.push_back(easy);
      t.easy = nullptr;
      return false;
    }
    busy_.push_back(easy);
    return true;
  }

  void configure(CURL* easy, const HttpRequest& request, Transfer& t) {
    curl_easy_setopt(easy, CURLOPT_PRIVATE, static_cast<void*>(&t));
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl can decode
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout_ms));
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!options_.user_agent.empty()) curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, static_cast<void*>(&t));
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, static_cast<void*>(&t));

    const std::string& method = request.method;
    bool send_body = !request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    if (method == "GET" && request.body.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else {
      if (send_body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      }
      if (method != "POST" || !send_body) curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    }

    for (const auto& [name, value] : request.headers) {
      // "Name;" is libcurl's way to send a header with an empty value.
      std::string line = value.empty() ? name + ";" : name + ": " + value;
      t.header_list = curl_slist_append(t.header_list, line.c_str());
    }
    // No "Expect: 100-continue" round trip for larger bodies unless the caller asked for it.
    if (send_body && !has_header(request.headers, "Expect")) t.header_list = curl_slist_append(t.header_list, "Expect:");
    if (t.header_list) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t.header_list);
  }

  void finish(Transfer& t, CURLcode result) {
    HttpResponse& response = *t.response;
    response.elapsed_ms = steady_now_ms() - t.started_ms;
    if (result == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
      response.status = status;
      return;
    }
    response.status = 0;
    response.headers.clear();
    response.body.clear();
    response.timed_out = result == CURLE_OPERATION_TIMEDOUT;
    // Nothing was sent when the transfer failed before the request could go out.
    curl_off_t pretransfer_us = 0;
    curl_easy_getinfo(t.easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    response.not_sent = pretransfer_us == 0 || result == CURLE_COULDNT_CONNECT ||
                        result == CURLE_COULDNT_RESOLVE_HOST || result == CURLE_COULDNT_RESOLVE_PROXY;
    std::string message = curl_easy_strerror(result);
    std::string detail = trim(std::string_view(t.error, strnlen(t.error, sizeof t.error)));
    if (!detail.empty() && detail != message) message += ": " + detail;
    response.transport_error = message;
  }

  void release(Transfer& t) {
    if (!t.easy) return;
    curl_multi_remove_handle(multi_, t.easy);
    // Options back to defaults, so nothing of this transfer stays referenced by the pooled
    // handle; its connection stays in the multi handle's cache for the next request.
    curl_easy_reset(t.easy);
    busy_.erase(std::remove(busy_.begin(), busy_.end(), t.easy), busy_.end());
    idle_.push_back(t.easy);
    t.easy = nullptr;
  }

  void fail_active(std::vector<Transfer>& transfers, ActiveGuard& active, const char* why) {
    for (auto& t : transfers) {
      if (!t.easy) continue;
      t.response->status = 0;
      t.response->headers.clear();
      t.response->body.clear();
      t.response->transport_error = why;
      t.response->elapsed_ms = steady_now_ms() - t.started_ms;
      release(t);
    }
    active.count = 0;
  }

  TransportOptions options_;
  CURLM* multi_ = nullptr;
  std::vector<CURL*> idle_;  // reset and reused; their connections live in the multi's cache
  std::vector<CURL*> busy_;  // attached to the multi handle right now
};

}  // namespace

std::unique_ptr<HttpTransport> make_curl_transport(const TransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace synctool::net
