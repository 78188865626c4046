// HTTP for the connector targets: fuzz_transport.cpp defines net::make_curl_transport (the
// fuzz build leaves src/net/curl_transport.cpp out), so a connector made as in production
// sends its requests here and gets the answers a fuzz input scripts.
//
// A scenario is text: sections separated by a line "---". The first section says what to do
// (the target reads it); each further section is one response, in the order requests are
// sent: a first line with the status (200 when it is not a number), then optional header
// lines "> name: value", then the body.
//
//     read since
//     ---
//     200
//     > x-hubspot-ratelimit-remaining: 99
//     {"results": []}
//
// Once the script is used up every request fails as a connection that could not be made,
// so paging loops and retries always end (with a transient ConnectorError).
#pragma once

#include "net/http.hpp"

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::fuzz {

struct Scenario {
  std::string operation;                    // the first section
  std::deque<net::HttpResponse> responses;  // the rest
};

Scenario parse_scenario(std::string_view input);

// What the transports made from now on answer. Reset it for each input.
struct HttpScript {
  std::deque<net::HttpResponse> responses;
  std::vector<std::string> requests;  // "METHOD url" of every request received
};
HttpScript& http_script();

}  // namespace synctool::fuzz
