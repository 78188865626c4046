// The Mailchimp connector's reading of Mailchimp's answers (connectors/mailchimp:
// mailchimp_api, mailchimp_values, and the connector's audiences, merge fields, member pages
// and batch results): every answer comes from the input, a scenario of an operation and the
// responses to its requests in order (fuzz_transport.hpp, fuzz_connector.hpp). Documented:
// ConnectorError.
#include "fuzz_connector.hpp"

#include "connectors/mailchimp/mailchimp_values.hpp"

using namespace synctool;
using connectors::OpKind;

namespace {

fuzz::ConnectorFuzz mailchimp() {
  fuzz::ConnectorFuzz f;
  f.target = "fuzz_mailchimp";
  f.config.name = "audience";
  f.config.type = "mailchimp";
  f.config.settings = {{"api_key", "0123456789abcdef-us6"}, {"base_url", "https://us6.api.mailchimp.test/3.0"},
                       {"max_retries", 2}};
  f.object.name = "members";
  f.object.key_field = "email_address";
  f.object.destination = true;
  f.object.fields = {"email_address", "status", "merge_fields"};
  f.object.options = {{"list", "main-audience"}, {"status_if_new", "subscribed"}, {"lookback", "0s"}};
  f.lookup_values = {"ann@northwind.io", "Bob@Northwind.io"};
  f.native_ids = {connectors::mailchimp::subscriber_hash("ann@northwind.io"), "0123456789abcdef0123456789abcdef"};
  f.make_op = [](OpKind kind, int i) {
    connectors::WriteOp op;
    op.kind = kind;
    op.key = "user" + std::to_string(i) + "@northwind.io";
    if (kind != OpKind::create && kind != OpKind::upsert)
      op.id = i % 2 ? connectors::mailchimp::subscriber_hash(op.key) : "0123456789abcdef0123456789abcdef";
    if (kind != OpKind::archive && kind != OpKind::remove)
      op.fields = {{"email_address", i == 2 ? "user2@mail.c" : op.key},
                   {"merge_fields.FNAME", i % 2 ? nlohmann::json(nullptr) : nlohmann::json("Ann")},
                   {"merge_fields.SCORE", 1.5 * i},
                   {"merge_fields.BDAY", "2025-01-02"}};
    return op;
  };
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::ConnectorFuzz f = mailchimp();
  fuzz::run_connector_fuzz(f, fuzz::as_text(data, size));
  return 0;
}
