// `synctool ingest SYNC [--header 'Name: value']... [--body FILE] [--method M --url URL]`: one
// webhook delivery for a sync whose source is a push connection. The signature is checked
// before anything else is read into the state; the rows are parsed whole (a malformed row
// refuses the whole delivery); then one LMDB transaction spools them. Exit 0 means the delivery
// is on disk (or was spooled before under the same delivery id), so a receiver answers the
// sender 2xx only then. Takes no lock: a run may be draining the spool meanwhile (LMDB lets one
// writer at a time commit; a delivery spooled after the run's read waits for the next run).
#include "cli/commands.hpp"
#include "cli/push_spool.hpp"
#include "connectors/push/push_connector.hpp"
#include "engine/report.hpp"
#include "util/clock.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace synctool::cli {

namespace {

namespace push = connectors::push;

// The body, byte for byte, at most `limit` + 1 bytes (one more shows it is too long).
std::optional<std::string> read_body(const std::string& file, std::size_t limit, std::string& error) {
  std::string body;
  std::FILE* in = file.empty() || file == "-" ? stdin : std::fopen(file.c_str(), "rb");
  if (!in) {
    error = "cannot read the body file " + file + ": " + std::strerror(errno);
    return std::nullopt;
  }
  char buffer[65536];
  for (;;) {
    std::size_t n = std::fread(buffer, 1, sizeof buffer, in);
    body.append(buffer, n);
    if (body.size() > limit) break;
    if (n < sizeof buffer) break;
  }
  const bool failed = std::ferror(in) != 0;
  const int err = errno;
  if (in != stdin) std::fclose(in);
  if (failed) {
    error = "cannot read the body from " + (file.empty() ? std::string("standard input") : file) + ": " +
            std::strerror(err);
    return std::nullopt;
  }
  return body;
}

}  // namespace

int cmd_ingest(Context& ctx, const IngestOptions& options) {
  auto& out = ctx.out();
  const std::string& name = options.sync;
  LoadedSync loaded;
  try {
    loaded = ctx.load_sync(name);
  } catch (const spec::SpecError& e) {
    return report_spec_error(out, e);
  }
  const auto& sync = *loaded.spec;
  nlohmann::json j = {{"sync", name}};
  auto refuse = [&](int code, const std::string& what) {
    return command_error(out, code, "ingest " + name + ": " + what + "; nothing was spooled");
  };

  push::PushSettings settings;
  try {
    auto config = ctx.connection_config(sync.source.connection);
    if (config.type != "push")
      return usage_error(out, "'" + name + "' reads its source from connection '" + sync.source.connection +
                                  "' (type " + config.type + "): ingest takes deliveries for a source of type push");
    settings = push::read_push_settings(config);
  } catch (const connectors::ConnectorError& e) {
    return usage_error(out, e.what());
  }

  push::Headers headers;
  for (const auto& line : options.headers) {
    auto header = push::parse_header_line(line);
    if (!header) return usage_error(out, "--header '" + line + "' is not 'Name: value'");
    headers.push_back(std::move(*header));
  }
  if (settings.signature.scheme == push::SignatureScheme::hubspot_v3 && options.url.empty())
    return usage_error(out, "connection '" + sync.source.connection +
                                "' checks HubSpot's v3 signature, which signs the URL the request was sent to: give "
                                "--url (and --method when it is not POST)");

  push::ParseLimits limits;
  std::string error;
  auto body = read_body(options.body_file, limits.max_body_bytes, error);
  if (!body) return refuse(engine::exit_code::usage, error);
  if (body->size() > limits.max_body_bytes)
    return refuse(engine::exit_code::usage, "the body is larger than " + std::to_string(limits.max_body_bytes >> 20) +
                                                " MiB");

  const auto now_ms = util::system_clock().now_ms();
  push::SignedRequest request;
  request.method = options.method;
  request.url = options.url;
  request.body = *body;
  request.headers = &headers;
  request.now_ms = now_ms;
  if (auto problem = push::signature_problem(settings.signature, request); !problem.empty())
    return refuse(engine::exit_code::usage, "the delivery's signature is refused: " + problem);

  push::Delivery delivery;
  try {
    const auto& compiled = *loaded.compiled;
    auto required = compiled.mapper().source_read_fields(compiled.filter().fields());
    delivery = push::parse_delivery(*body, settings.format, headers, required, limits);
  } catch (const push::PayloadError& e) {
    return refuse(engine::exit_code::usage, std::string("the delivery is malformed: ") + e.what());
  } catch (const std::invalid_argument& e) {
    // A field the sync reads that no row could carry (its path is not a row's): the spec's.
    return refuse(engine::exit_code::usage, std::string("the sync's fields cannot be read from a row: ") + e.what());
  }

  // HubSpot's v3 signature covers the request's millisecond timestamp: the same signature again
  // is the same request replayed (within the 5 minutes the timestamp allows), never a new one.
  // Other schemes sign the body alone, and two deliveries may rightly carry the same body.
  if (!delivery.id && settings.signature.scheme == push::SignatureScheme::hubspot_v3)
    if (const auto* signature = push::find_header(headers, settings.signature.header))
      delivery.id = "hubspot-v3:" + *signature;

  try {
    auto store = ctx.open_state(name);
    auto result = spool_delivery(*store, delivery, now_ms);
    j["delivery"] = result.sequence;
    j["rows"] = delivery.rows.size();
    j["duplicate"] = result.duplicate;
    if (delivery.id) j["delivery_id"] = *delivery.id;
    j["ok"] = true;
    j["exit_code"] = engine::exit_code::ok;
    if (out.json()) {
      out.print_json(j);
    } else if (result.duplicate) {
      out.print("ingest " + name + ": delivery id '" + *delivery.id + "' was spooled before (delivery " +
                std::to_string(result.sequence) + "); nothing to do\n");
    } else {
      out.print("ingest " + name + ": delivery " + std::to_string(result.sequence) + " spooled (" +
                std::to_string(delivery.rows.size()) + (delivery.rows.size() == 1 ? " row" : " rows") +
                "); the next run applies it\n");
    }
    return engine::exit_code::ok;
  } catch (const state::StateError& e) {
    return state_error(out, j, std::string(e.what()) + "; the delivery was not spooled");
  }
}

}  // namespace synctool::cli
