// A push delivery (connectors/push/push_payload, push_signature): any bytes as the body of a
// webhook. The first byte picks one of three push connection formats ('0', '1', '2' in the
// seeds); the rest is the body.
//
// Documented: PayloadError (a malformed delivery), one line. Promised and checked here: a
// parsed delivery's rows are objects with a key of 1 to 1024 bytes, carry the fields the sync
// reads unless they are tombstones, and a delivery id, when there is one, is not empty. The
// body is also checked as a signed request: a signature made by sign_hmac_sha256 or
// sign_hubspot_v3 over it verifies, and no reason for refusing a request (signed with bytes of
// the input, or not at all) holds the secret.
#include "fuzz_support.hpp"

#include "connectors/push/push_payload.hpp"
#include "connectors/push/push_signature.hpp"

#include <string>
#include <vector>

using namespace synctool;
namespace push = connectors::push;

namespace {

constexpr std::string_view kTarget = "fuzz_push_payload";
constexpr std::string_view kSecret = "fuzz-secret-q9Zk";
constexpr std::int64_t kNowMs = 1700000000000;

struct Case {
  push::PayloadFormat format;
  std::vector<std::string> required;
  push::ParseLimits limits;
};

const Case& case_for(std::uint8_t selector) {
  static const Case cases[] = {
      // '0': an array of rows, a delivery id from a header.
      {{"$[*]", "id", "deleted", "X-Delivery-Id"}, {"email"}, {}},
      // '1': rows under nested keys, nested key and tombstone, a delivery id in the body.
      {{"$.data.events[*]", "customer.id", "meta.deleted", "$.id"}, {"name.first", "email"}, {}},
      // '2': one row, tight limits so that the fuzzer reaches them.
      {{"$", "k", "", "$.d"}, {}, {.max_body_bytes = 4096, .max_depth = 6, .max_rows = 3}},
  };
  return cases[selector % 3];
}

void check_delivery(const push::Delivery& delivery, const Case& c) {
  if (delivery.id && delivery.id->empty()) fuzz::violated(kTarget, "an empty delivery id");
  if (delivery.rows.size() > c.limits.max_rows) fuzz::violated(kTarget, "more rows than max_rows");
  for (const auto& row : delivery.rows) {
    if (row.id.empty() || row.id.size() > 1024)
      fuzz::violated(kTarget, "a key of " + std::to_string(row.id.size()) + " bytes");
    if (!row.fields.is_object()) fuzz::violated(kTarget, "a row that is not an object");
    if (row.deleted && c.format.tombstone.empty()) fuzz::violated(kTarget, "a tombstone without a tombstone path");
    if (row.deleted) continue;
    for (const auto& field : c.required) {
      const push::Json* node = &row.fields;
      std::size_t start = 0;
      while (node && start <= field.size()) {
        const auto dot = std::min(field.find('.', start), field.size());
        const std::string step = field.substr(start, dot - start);
        const auto it = node->is_object() ? node->find(step) : node->end();
        node = it != node->end() ? &*it : nullptr;
        start = dot + 1;
      }
      if (!node) fuzz::violated(kTarget, "a row without the field " + field);
    }
  }
}

void check_signatures(std::string_view input) {
  const std::string secret(kSecret);
  const std::string url = "https://hooks.example.com/push?src=fuzz";
  // A signature value and a timestamp from the input's first bytes (the timestamp: its first
  // line).
  const std::string slice(input.substr(0, 72));
  const std::string timestamp(input.substr(0, std::min<std::size_t>(input.find('\n'), 24)));

  push::Headers headers{{"X-Signature-256", push::sign_hmac_sha256(secret, input)}};
  push::SignatureCheck hmac{push::SignatureScheme::hmac_sha256, secret, ""};
  const push::SignedRequest request{"POST", url, input, &headers, kNowMs};
  if (auto reason = push::signature_problem(hmac, request); !reason.empty())
    fuzz::violated(kTarget, "its own hmac-sha256 signature refused: " + reason);

  const std::string now_text = std::to_string(kNowMs);
  headers = {{"X-HubSpot-Signature-v3", push::sign_hubspot_v3(secret, "POST", url, input, now_text)},
             {push::kHubSpotTimestampHeader, now_text}};
  push::SignatureCheck hubspot{push::SignatureScheme::hubspot_v3, secret, ""};
  if (auto reason = push::signature_problem(hubspot, request); !reason.empty())
    fuzz::violated(kTarget, "its own hubspot-v3 signature refused: " + reason);

  std::vector<std::string> reasons;
  headers = {{"X-Signature-256", slice}};
  reasons.push_back(push::signature_problem(hmac, request));
  headers = {{"X-HubSpot-Signature-v3", slice}, {push::kHubSpotTimestampHeader, timestamp}};
  reasons.push_back(push::signature_problem(hubspot, {"POST", input, input, &headers, kNowMs}));
  headers = {{"X-HubSpot-Signature-v3", push::sign_hubspot_v3(secret, "POST", url, input, timestamp)},
             {push::kHubSpotTimestampHeader, timestamp}};
  reasons.push_back(push::signature_problem(hubspot, request));
  for (const auto& reason : reasons) {
    if (reason.find(kSecret) != std::string::npos) fuzz::violated(kTarget, "a reason holds the secret: " + reason);
    if (reason.find('\n') != std::string::npos) fuzz::violated(kTarget, "a reason of more than one line");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Case& c = case_for(data[0]);
  const std::string_view body = fuzz::as_text(data + 1, size - 1);
  const push::Headers headers{{"Content-Type", "application/json"}, {"X-Delivery-Id", "dlv-1"}};
  try {
    check_delivery(push::parse_delivery(body, c.format, headers, c.required, c.limits), c);
  } catch (const push::PayloadError& e) {
    const std::string_view what = e.what();
    if (what.empty() || what.find('\n') != std::string_view::npos)
      fuzz::violated(kTarget, "a PayloadError that is not one line: " + std::string(what));
  }
  check_signatures(body);
  return 0;
}
