// The HubSpot connector's reading of HubSpot's answers (connectors/hubspot: hubspot_api,
// hubspot_values, and the connector's paging, batch results and errors): every answer comes
// from the input, a scenario of an operation and the responses to its requests in order
// (fuzz_transport.hpp, fuzz_connector.hpp). Documented: ConnectorError.
#include "fuzz_connector.hpp"

using namespace synctool;
using connectors::OpKind;

namespace {

fuzz::ConnectorFuzz hubspot() {
  fuzz::ConnectorFuzz f;
  f.target = "fuzz_hubspot";
  f.config.name = "crm";
  f.config.type = "hubspot";
  // Two retries: a garbled answer is asked again, and the script pays for each attempt.
  f.config.settings = {{"token", "pat-na1-fuzz"}, {"base_url", "https://api.hubapi.test"}, {"max_retries", 2}};
  f.object.name = "contacts";
  f.object.key_field = "email";
  f.object.destination = true;
  f.object.fields = {"email", "firstname", "lastname", "score"};
  f.object.options = {{"lookback", "0s"}};
  f.lookup_values = {"ann@example.com", "Bob@Example.com"};
  f.native_ids = {"101", "102"};
  f.make_op = [](OpKind kind, int i) {
    connectors::WriteOp op;
    op.kind = kind;
    op.key = "user" + std::to_string(i) + "@example.com";
    if (kind != OpKind::create && kind != OpKind::upsert) op.id = std::to_string(101 + i);
    if (kind != OpKind::archive && kind != OpKind::remove)
      op.fields = {{"email", op.key},
                   {"firstname", i % 2 ? nlohmann::json(nullptr) : nlohmann::json("Ann")},
                   {"score", 1.5 * i},
                   {"tags", nlohmann::json::array({"a", "b"})},
                   {"closedate", "2025-01-02"}};
    return op;
  };
  f.schema = {{"score", "number", {}}, {"tier", "enumeration", {"gold", "silver"}}, {"email", "string", {}}};
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::ConnectorFuzz f = hubspot();
  fuzz::run_connector_fuzz(f, fuzz::as_text(data, size));
  return 0;
}
