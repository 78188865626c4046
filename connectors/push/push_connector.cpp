#include "connectors/push/push_connector.hpp"

#include "connectors/push/push_spool.hpp"
#include "connectors/settings.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"

#include <charconv>
#include <unordered_set>

namespace synctool::connectors::push {

namespace {

constexpr const char* kVendor = "push";
constexpr std::size_t kDefaultPageRows = 1000;
constexpr std::size_t kDescribeSample = 100;

// The cursor is the sequence number of the next delivery to read, in decimal.
std::uint64_t parse_cursor(const std::string& cursor) {
  std::uint64_t sequence = 0;
  auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), sequence);
  if (ec != std::errc() || end != cursor.data() + cursor.size() || sequence == 0)
    throw ConnectorError(ErrorKind::config, std::string(kVendor) + ": the source cursor '" + cursor +
                                                "' is not a spool position (a delivery number such as 42); "
                                                "`synctool state cursor reset` starts from the first delivery kept");
  return sequence;
}

class PushConnector final : public Connector {
 public:
  explicit PushConnector(const ConnectionConfig& config)
      : settings_(read_push_settings(config)), name_(config.name), spool_(config.push_spool) {}

  std::string type() const override { return kVendor; }

  void check() override {}  // read_push_settings() checked everything there is without a delivery

  Capabilities capabilities(const ObjectRef&) const override {
    Capabilities caps;
    caps.incremental_read = true;
    caps.tombstones = true;
    caps.native_upsert = false;
    caps.hard_delete = false;
    caps.max_batch = 1;
    caps.max_lookup = 1000;
    caps.unique_ids = true;  // one id per record: the key of each row
    return caps;
  }

  // Rows carry whatever the sender puts in them: the fields a sync reads are those it names,
  // and `ingest` refuses a delivery whose rows lack one of them.
  ObjectDescription describe(const ObjectRef& object) override {
    ObjectDescription out;
    out.name = object.name;
    auto add = [&](const std::string& path) {
      if (path.empty()) return;
      for (const auto& field : out.fields)
        if (field.name == path) return;
      out.fields.push_back({path, "unknown", false, false});
    };
    add(settings_.format.key);
    out.fields.front().unique = true;  // the key names one record
    add(settings_.format.tombstone);
    for (const auto& field : object.fields) add(field);
    // And what the rows kept so far carry (a sample: describe runs before every run).
    if (spool_) {
      std::size_t sampled = 0;
      spool_->read_latest([&](PushRow&& row, std::int64_t) {
        for (const auto& item : row.fields.items()) add(item.key());
        return ++sampled < kDescribeSample;
      });
    }
    return out;
  }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    auto& spool = require_spool();
    const std::size_t page_rows = request.page_size ? request.page_size : kDefaultPageRows;
    Page page;
    auto emit = [&](std::string cursor) {
      page.cursor = std::move(cursor);
      sink(std::move(page));
      page = Page();
    };
    if (!request.since) {
      // A full read: the latest row of every record, and the cursor where the changes since
      // that snapshot begin.
      auto next = spool.read_latest([&](PushRow&& row, std::int64_t at_ms) {
        page.records.push_back(to_record(object, request, std::move(row), at_ms, "the latest row"));
        if (page.records.size() >= page_rows) emit("");
        return true;
      });
      emit(std::to_string(next));
      return;
    }
    // The changes. A page that ends inside a delivery carries no cursor: only the end of a
    // delivery is a point to resume from.
    const auto from = parse_cursor(*request.since);
    std::uint64_t last = 0;
    bool ended_at_delivery = false;  // the last page emitted carries the cursor after `last`
    spool.read_deliveries(from, [&](std::uint64_t sequence, std::int64_t at_ms, std::vector<PushRow>&& rows) {
      const std::string origin = "delivery " + std::to_string(sequence);
      for (std::size_t i = 0; i < rows.size(); ++i) {
        page.records.push_back(to_record(object, request, std::move(rows[i]), at_ms, origin));
        ended_at_delivery = false;
        if (page.records.size() >= page_rows) {
          ended_at_delivery = i + 1 == rows.size();
          emit(ended_at_delivery ? std::to_string(sequence + 1) : "");
        }
      }
      if (rows.empty()) ended_at_delivery = false;
      last = sequence;
    });
    // The last page, or an empty one whose cursor passes deliveries without rows.
    if (!page.records.empty() || (last && !ended_at_delivery)) emit(std::to_string(last + 1));
  }

  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    auto& spool = require_spool();
    std::vector<Record> out;
    ReadRequest all;
    if (field == kNativeIdField || field == settings_.format.key) {
      for (const auto& value : values)
        if (auto latest = spool.latest(value))
          out.push_back(to_record(object, all, std::move(latest->first), latest->second, "the latest row"));
      return out;
    }
    // Another field: no index but the records themselves.
    std::unordered_set<std::string> wanted(values.begin(), values.end());
    spool.read_latest([&](PushRow&& row, std::int64_t at_ms) {
      const auto* value = util::json_get_path(row.fields, field);
      if (value && !value->is_null() && wanted.contains(util::json_to_text(*value)))
        out.push_back(to_record(object, all, std::move(row), at_ms, "the latest row"));
      return true;
    });
    return out;
  }

  std::vector<WriteResult> write(const ObjectRef&, const std::vector<WriteOp>&) override {
    throw ConnectorError(ErrorKind::config, std::string(kVendor) + ": connection '" + name_ +
                                                "' is a push source: rows arrive through `synctool ingest`, and "
                                                "synctool cannot write to it");
  }

 private:
  PushSpool& require_spool() const {
    if (!spool_)
      throw ConnectorError(ErrorKind::config, std::string(kVendor) + ": connection '" + name_ +
                                                  "': its rows are read from a sync's spool, by `synctool run` or "
                                                  "`synctool diff` of that sync");
    return *spool_;
  }

  // A spooled row as a record: modified when it arrived, with the fields asked for (all when
  // none are). A row that lacks a field the sync reads (the spec named a new field after the
  // row was taken in) is a record the engine rejects with the reason.
  Record to_record(const ObjectRef&, const ReadRequest& request, PushRow&& row, std::int64_t at_ms,
                   const std::string& origin) const {
    Record record;
    record.id = std::move(row.id);
    record.deleted = row.deleted;
    record.origin = origin;
    if (at_ms) record.modified_at = util::format_iso8601(at_ms);
    if (request.fields.empty()) {
      record.fields = std::move(row.fields);
      return record;
    }
    for (const auto& field : request.fields) {
      const auto* value = util::json_get_path(row.fields, field);
      if (value) {
        util::json_set_path(record.fields, field, *value);
      } else if (!record.deleted && record.problem.empty()) {
        record.problem = origin + ": the row has no field \"" + field + "\" that the sync reads";
      }
    }
    return record;
  }

  PushSettings settings_;
  std::string name_;
  PushSpool* spool_;
};

std::unique_ptr<Connector> make_push_connector(const ConnectionConfig& config) {
  return std::make_unique<PushConnector>(config);
}

}  // namespace

PushSettings read_push_settings(const ConnectionConfig& config) {
  ConnectionSettings settings(config, kVendor);
  PushSettings out;
  out.signature.secret = settings.text("secret");
  if (out.signature.secret.empty()) settings.fail("secret", "'secret' is empty: set the shared secret the sender signs with");
  const auto scheme_text = settings.text("signature");
  if (!scheme_text.empty()) {
    auto scheme = parse_signature_scheme(scheme_text);
    if (!scheme) settings.fail("signature", "'signature' must be \"hmac-sha256\" or \"hubspot-v3\", not \"" + scheme_text + "\"");
    out.signature.scheme = *scheme;
  }
  out.signature.header = settings.text("signature_header");
  if (out.signature.header.empty()) out.signature.header = default_signature_header(out.signature.scheme);
  if (!parse_header_line(out.signature.header + ": x"))
    settings.fail("signature_header", "'signature_header' must be an HTTP header name such as \"X-Signature-256\"");
  if (auto rows = settings.text("rows"); !rows.empty()) out.format.rows = rows;
  if (auto problem = rows_path_problem(out.format.rows); !problem.empty()) settings.fail("rows", "'rows': " + problem);
  out.format.key = settings.text("key");
  if (out.format.key.empty()) settings.fail("key", "'key' is missing: the field of each row that identifies its record");
  if (auto problem = field_path_problem(out.format.key); !problem.empty()) settings.fail("key", "'key': " + problem);
  out.format.tombstone = settings.text("tombstone");
  if (!out.format.tombstone.empty())
    if (auto problem = field_path_problem(out.format.tombstone); !problem.empty())
      settings.fail("tombstone", "'tombstone': " + problem);
  out.format.delivery_id = settings.text("delivery_id");
  if (!out.format.delivery_id.empty())
    if (auto problem = delivery_id_problem(out.format.delivery_id); !problem.empty())
      settings.fail("delivery_id", "'delivery_id': " + problem);
  out.delivery_ids_kept_ms = settings.duration_ms("delivery_ids_kept", out.delivery_ids_kept_ms);
  return out;
}

Json spool_form(const PushRow& row, std::int64_t at_ms) {
  Json out = {{"i", row.id}, {"f", row.fields}};
  if (row.deleted) out["d"] = true;
  if (at_ms) out["t"] = at_ms;
  return out;
}

PushRow row_from_spool(Json&& stored, std::int64_t* at_ms) {
  PushRow row;
  auto id = stored.find("i");
  auto fields = stored.find("f");
  if (!stored.is_object() || id == stored.end() || !id->is_string() || fields == stored.end() || !fields->is_object())
    throw PayloadError("a spooled row is not {\"i\": id, \"f\": fields}");
  row.id = id->get<std::string>();
  row.fields = std::move(*fields);
  auto deleted = stored.find("d");
  row.deleted = deleted != stored.end() && deleted->is_boolean() && deleted->get<bool>();
  if (at_ms) {
    auto t = stored.find("t");
    *at_ms = t != stored.end() && t->is_number_integer() ? t->get<std::int64_t>() : 0;
  }
  return row;
}

}  // namespace synctool::connectors::push

namespace synctool::connectors {

const ConnectorType& push_connector_type() {
  static const ConnectorType type{
      .type = "push",
      .make = &push::make_push_connector,
      .connection_keys = {"secret", "signature", "signature_header", "rows", "key", "tombstone", "delivery_id",
                          "delivery_ids_kept"},
      .required_connection_keys = {"secret", "key"},
      .source_keys = {},
      .destination_keys = {},
      .init_template =
          {
              .connection = R"(# Rows arrive on a webhook: a receiver hands each delivery to `synctool ingest`.
# The secret the sender signs with (HMAC-SHA256 of the body, in the X-Signature-256 header).
secret = "${{ENV}_SECRET}"
signature = "hmac-sha256"          # or "hubspot-v3" for HubSpot's own webhooks
rows = "$.events[*]"               # where the rows are in the body
key = "id"                         # the field that identifies a row's record
tombstone = "deleted"              # a row with deleted = true deletes its record
delivery_id = "X-Delivery-Id"      # a header (or "$.path" in the body): a repeated delivery is a no-op
)",
              .object = "events",
              .email = "email",
              .first_name = "first_name",
              .last_name = "last_name",
          },
      .source_only = true,
  };
  return type;
}

}  // namespace synctool::connectors
