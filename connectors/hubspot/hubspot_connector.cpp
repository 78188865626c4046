#include "connectors/hubspot/hubspot_connector.hpp"

#include "connectors/hubspot/hubspot_api.hpp"
#include "connectors/hubspot/hubspot_values.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"
#include "util/unicode.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace synctool::connectors {

namespace {

using hubspot::HubspotApi;
using hubspot::Property;

constexpr std::int64_t kDefaultLookbackMs = 120'000;

std::string lower(const std::string& text) { return util::to_lower(text); }

std::int64_t lookback_ms(const ObjectRef& object) {
  return endpoint_duration_ms("hubspot", object, "lookback", kDefaultLookbackMs);
}

// The property a batch upsert identifies records by, or "" when creates must go through
// batch/create: contacts upsert by email; other objects by a unique property named in the spec.
std::string upsert_property(const ObjectRef& object) {
  auto configured = endpoint_text(object, "upsert_property");
  if (!configured.empty()) return configured;
  if (object.name == "contacts" && lower(object.key_field) == "email") return "email";
  return "";
}

// A property value as text for ids and comparisons.
std::string plain_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return util::json_dump(value);
}

std::vector<std::string> string_list(const Json& value) {
  std::vector<std::string> out;
  if (value.is_array())
    for (const auto& item : value) out.push_back(plain_text(item));
  return out;
}

// One batch request of write(): which ops it carries.
struct WriteJob {
  OpKind kind;
  std::vector<std::size_t> ops;  // indexes into write()'s ops
};

class HubspotConnector final : public Connector {
 public:
  explicit HubspotConnector(const ConnectionConfig& config)
      : api_(config), clock_(config.clock ? *config.clock : util::system_clock()) {}

  std::string type() const override { return "hubspot"; }
  std::optional<RequestStats> request_stats() const override {
    const auto& s = api_.stats();
    return RequestStats{s.requests, s.throttled, s.retries};
  }

  void check() override {
    HttpApi::FailFast fail_fast(api_);
    api_.authenticate();
    auto response = api_.call("GET", "/crm/v3/objects/contacts?limit=1");
    // 403 means the token is valid but lacks the contacts scope; probe() checks each object.
    if (!response.ok() && response.status != 403) api_.fail(response, "checking the connection");
  }

  void probe(const ObjectRef& object) override {
    HttpApi::FailFast fail_fast(api_);
    api_.authenticate();
    auto response = api_.call("GET", objects_path(object) + "?limit=1&archived=false");
    if (response.ok()) return;
    if (response.status == 403) {
      throw ConnectorError(ErrorKind::config, "hubspot: connection '" + api_.name() + "' may not read " + object.name +
                                                  ": " + api_.describe_error(response) + " (give the app the scope " +
                                                  read_scope(object.name, response) + ")");
    }
    fail_object(object, response, "reading one record");
  }

  void check_options(const ObjectRef& object) const override {
    lookback_ms(object);
    endpoint_flag("hubspot", object, "tombstones", true);
    if (auto it = object.options.find("upsert_property"); it != object.options.end()) {
      if (!it->is_string())
        throw ConnectorError(ErrorKind::config, "hubspot: 'upsert_property' must be the name of a property", "upsert_property");
      if (auto problem = hubspot::property_name_problem(it->get<std::string>()); !problem.empty())
        throw ConnectorError(ErrorKind::config, "hubspot: upsert_property: " + problem, "upsert_property");
    }
  }

  Capabilities capabilities(const ObjectRef& object) const override {
    Capabilities caps;
    caps.incremental_read = true;
    caps.tombstones = endpoint_flag("hubspot", object, "tombstones", true);
    caps.native_upsert = !upsert_property(object).empty();
    caps.hard_delete = false;  // DELETE archives in HubSpot; GDPR deletion is not a sync's business
    caps.archive = true;
    caps.max_batch = hubspot::kMaxBatchInputs * api_.max_in_flight();
    caps.max_lookup = hubspot::kMaxBatchInputs * api_.max_in_flight();
    caps.schema_management = true;
    // Lookups by the native id, a contact's email or the upsert property read records directly;
    // any other property goes through search, which lags behind writes.
    const std::string key = lower(object.key_field);
    bool direct = key.empty() || key == "hs_object_id" || key == lower(upsert_property(object));
    caps.lookup_lag_ms = direct ? 0 : hubspot::kSearchLagMs;
    return caps;
  }

  ObjectDescription describe(const ObjectRef& object) override {
    ObjectDescription description;
    description.name = object.name;
    for (const auto& [name, property] : api_.properties(object.name)) {
      FieldInfo field;
      field.name = name;
      field.type = hubspot::synctool_type(property);
      field.unique = property.unique || (object.name == "contacts" && name == "email") || name == "hs_object_id";
      description.fields.push_back(std::move(field));
    }
    return description;
  }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    auto properties = wanted_properties(object, request.fields);
    if (!request.since) {
      read_all(object, properties, page_size(request, hubspot::kListPageSize), sink);
      return;
    }
    auto since = util::parse_iso8601(*request.since);
    if (!since)
      throw ConnectorError(ErrorKind::config, "hubspot: the stored cursor '" + *request.since +
                                                  "' is not a timestamp; reset it with `synctool state reset`");
    read_changes(object, properties, *since, page_size(request, hubspot::kSearchPageSize), sink);
  }

  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    std::vector<Record> found;
    if (values.empty()) return found;
    auto properties = wanted_properties(object, object.fields);
    bool by_id = field == kNativeIdField;
    const Property* property = by_id ? nullptr : api_.property(object.name, field);
    if (!by_id && !property) throw ConnectorError(ErrorKind::config, no_property_message(object, field));
    bool unique = by_id || (object.name == "contacts" && field == "email") || property->unique;
    if (!unique) return search_lookup(object, *property, values, properties);

    std::vector<net::HttpRequest> requests;
    for (std::size_t i = 0; i < values.size(); i += hubspot::kMaxBatchInputs) {
      Json body = {{"inputs", Json::array()}, {"properties", properties}};
      for (std::size_t j = i; j < std::min(values.size(), i + hubspot::kMaxBatchInputs); ++j)
        body["inputs"].push_back({{"id", values[j]}});
      if (!by_id) body["idProperty"] = field;
      requests.push_back(api_.request("POST", objects_path(object) + "/batch/read?archived=false", &body));
    }
    for (auto& response : api_.call_all(std::move(requests))) {
      // 207 lists the values that matched nothing as OBJECT_NOT_FOUND errors: those are misses.
      if (!response.ok()) {
        if (response.status == 404) continue;
        fail_object(object, response, "looking up records by " + field);
      }
      auto body = api_.parse(response, "looking up records by " + field);
      for (const auto& result : body.value("results", Json::array())) found.push_back(to_record(object, result));
    }
    return found;
  }

  std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) override {
    std::vector<WriteResult> results(ops.size());
    std::vector<bool> answered(ops.size(), false);
    // A row HubSpot would refuse is never sent (and a field the object lacks stops the call):
    // nothing is dropped on the way.
    for (std::size_t i = 0; i < ops.size(); ++i)
      if (auto problem = write_problem(object, ops[i]); !problem.empty())
        results[i] = {false, "", ErrorKind::record, problem}, answered[i] = true;
    std::deque<WriteJob> jobs;
    auto add_jobs = [&](OpKind kind) {
      WriteJob job{kind, {}};
      for (std::size_t i = 0; i < ops.size(); ++i) {
        OpKind op_kind = ops[i].kind == OpKind::remove ? OpKind::archive : ops[i].kind;
        if (op_kind != kind || answered[i]) continue;
        job.ops.push_back(i);
        if (job.ops.size() == hubspot::kMaxBatchInputs) jobs.push_back(std::exchange(job, WriteJob{kind, {}}));
      }
      if (!job.ops.empty()) jobs.push_back(std::move(job));
    };
    for (auto kind : {OpKind::upsert, OpKind::create, OpKind::update, OpKind::archive}) add_jobs(kind);
    if (!jobs.empty()) api_.properties(object.name);  // the wire format needs the types

    // Rounds of concurrent batch requests; a batch HubSpot refuses as a whole (400, 409) is
    // split in halves for the next round until the offending row stands alone.
    while (!jobs.empty()) {
      std::vector<WriteJob> round(jobs.begin(), jobs.end());
      jobs.clear();
      std::vector<net::HttpRequest> requests;
      for (const auto& job : round) requests.push_back(batch_request(object, job, ops));
      auto outcomes = api_.call_each(std::move(requests));
      for (std::size_t r = 0; r < round.size(); ++r) {
        if (!outcomes[r].error.empty()) {
          // Retries ran out: this batch's outcome is unknown, so its rows fail as transient and
          // are tried again next run (creates keep their pending intent and are looked up first).
          for (auto i : round[r].ops) results[i] = {false, "", ErrorKind::transient, outcomes[r].error}, answered[i] = true;
          continue;
        }
        interpret(object, round[r], ops, outcomes[r].response, results, answered, jobs);
      }
    }
    for (std::size_t i = 0; i < ops.size(); ++i)
      if (!answered[i]) results[i] = {false, "", ErrorKind::transient, "hubspot: no result for this row in the answer"};
    return results;
  }

  std::string write_problem(const ObjectRef& object, const WriteOp& op) override {
    if (op.kind == OpKind::remove || op.kind == OpKind::archive) return "";
    for (const auto& [name, value] : op.fields.items()) {
      const Property* property = api_.property(object.name, name);
      if (!property) throw ConnectorError(ErrorKind::config, no_property_message(object, name));
      if (property->read_only)
        throw ConnectorError(ErrorKind::config, "hubspot: property '" + name + "' of " + object.name +
                                                    " is read-only (HubSpot sets or calculates it); it cannot be written");
      if (auto problem = hubspot::value_problem(*property, value); !problem.empty()) return problem;
    }
    return "";
  }

  std::vector<SchemaChange> schema_plan(const ObjectRef& object, const std::vector<DeclaredField>& fields) override {
    api_.forget_properties(object.name);
    const auto& existing = api_.properties(object.name);
    std::string group = default_group(object.name, existing);
    std::vector<SchemaChange> changes;
    for (const auto& field : fields) {
      std::string type, field_type;
      if (!hubspot::hubspot_type_for(field.type, type, field_type))
        throw ConnectorError(ErrorKind::config, "hubspot: a property cannot hold type '" + field.type + "' ('" +
                                                    field.name + "')");
      auto it = existing.find(field.name);
      if (it == existing.end()) {
        SchemaChange change;
        change.kind = SchemaChange::Kind::create;
        change.field = field.name;
        change.definition = {{"name", field.name}, {"label", label_for(field.name)}, {"type", type},
                             {"fieldType", field_type}, {"groupName", group}};
        if (!field.options.empty()) change.definition["options"] = options_json(field.options, {});
        change.summary = type + " (" + field_type + ")" +
                         (field.options.empty() ? "" : " with options " + util::join(field.options, ", "));
        changes.push_back(std::move(change));
        continue;
      }
      const Property& current = it->second;
      bool same_type = current.type == type && (type != "enumeration" || current.field_type == field_type);
      std::vector<std::string> missing_options;
      for (const auto& option : field.options)
        if (std::find(current.options.begin(), current.options.end(), option) == current.options.end())
          missing_options.push_back(option);
      if (same_type && missing_options.empty()) continue;
      if (current.read_only)
        throw ConnectorError(ErrorKind::config, "hubspot: property '" + field.name + "' of " + object.name +
                                                    " is read-only and cannot become " + type + " (" + field_type + ")");
      SchemaChange change;
      change.kind = SchemaChange::Kind::alter;
      change.field = field.name;
      change.definition = Json::object();
      if (!same_type) {
        change.definition["type"] = type;
        change.definition["fieldType"] = field_type;
        change.summary = current.type + " (" + current.field_type + ") -> " + type + " (" + field_type + ")";
      }
      if (!missing_options.empty()) {
        change.definition["options"] = options_json(current.options, field.options);
        change.summary += std::string(change.summary.empty() ? "" : ", ") + "add options " + util::join(missing_options, ", ");
      }
      changes.push_back(std::move(change));
    }
    return changes;
  }

  void schema_apply(const ObjectRef& object, const std::vector<SchemaChange>& changes) override {
    std::string base = "/crm/v3/properties/" + net::url_encode(object.name);
    for (const auto& change : changes) {
      bool create = change.kind == SchemaChange::Kind::create;
      auto response = create ? api_.call("POST", base, &change.definition)
                             : api_.call("PATCH", base + "/" + net::url_encode(change.field), &change.definition);
      if (!response.ok())
        api_.fail(response, std::string(create ? "creating" : "changing") + " property '" + change.field + "' of " +
                                object.name);
    }
    api_.forget_properties(object.name);
  }

 private:
  std::string objects_path(const ObjectRef& object) const { return "/crm/v3/objects/" + net::url_encode(object.name); }

  // "contacts has no property 'fristname' (did you mean 'firstname'?)".
  std::string no_property_message(const ObjectRef& object, const std::string& name) {
    std::vector<std::string> names;
    for (const auto& [known, property] : api_.properties(object.name)) names.push_back(known);
    std::string message = "hubspot: " + object.name + " has no property '" + name + "'";
    if (auto hint = util::closest_match(name, names); !hint.empty()) message += " (did you mean '" + hint + "'?)";
    return message;
  }

  // The scope reading `object` needs: what HubSpot's 403 names, else the usual one.
  static std::string read_scope(const std::string& object, const net::HttpResponse& response) {
    std::vector<std::string> named;
    auto body = Json::parse(response.body, nullptr, false);
    if (body.is_object())
      for (const auto& error : body.value("errors", Json::array()))
        if (error.is_object())
          if (auto context = error.find("context"); context != error.end() && context->is_object())
            for (const auto* key : {"requiredGranularScopes", "requiredScopes"})
              if (auto scopes = context->find(key); scopes != context->end())
                for (auto& scope : string_list(*scopes)) named.push_back(scope);
    if (!named.empty()) return util::join(named, " or ");
    static const std::vector<std::string> standard = {"contacts", "companies", "deals", "line_items", "products", "quotes"};
    if (std::find(standard.begin(), standard.end(), object) != standard.end()) return "crm.objects." + object + ".read";
    if (object == "tickets") return "tickets";
    return "crm.objects.custom.read";
  }

  [[noreturn]] void fail_object(const ObjectRef& object, const net::HttpResponse& response, const std::string& what) {
    if (response.status == 400 || response.status == 404) {
      auto body = Json::parse(response.body, nullptr, false);
      if (body.is_object() && body.value("category", "") == "OBJECT_NOT_FOUND")
        throw ConnectorError(ErrorKind::config, "hubspot: unknown object '" + object.name + "' (" +
                                                    api_.describe_error(response) + ")");
    }
    api_.fail(response, what + " in " + object.name);
  }

  // The properties to ask for: the sync's fields (or every property) plus last-modified.
  std::vector<std::string> wanted_properties(const ObjectRef& object, const std::vector<std::string>& fields) {
    std::vector<std::string> names;
    if (fields.empty()) {
      for (const auto& [name, property] : api_.properties(object.name)) names.push_back(name);
    } else {
      names = fields;
      api_.properties(object.name);  // conversion of the answers needs the types
    }
    auto add = [&](const std::string& name) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    };
    add(hubspot::last_modified_property(object.name));
    if (!object.key_field.empty() && object.key_field != kNativeIdField) add(object.key_field);
    names.erase(std::remove(names.begin(), names.end(), std::string(kNativeIdField)), names.end());
    return names;
  }

  Record to_record(const ObjectRef& object, const Json& result) {
    Record record;
    record.id = plain_text(result.value("id", Json("")));
    record.deleted = result.value("archived", false);
    if (auto it = result.find("properties"); it != result.end() && it->is_object()) {
      for (const auto& [name, value] : it->items())
        record.fields[name] = hubspot::from_wire(api_.property(object.name, name), value);
    }
    std::string modified;
    auto lastmod = result.find("properties");
    if (lastmod != result.end() && lastmod->is_object())
      modified = plain_text(lastmod->value(hubspot::last_modified_property(object.name), Json("")));
    if (modified.empty()) modified = result.value("updatedAt", "");
    if (auto ms = util::parse_iso8601(modified)) {
      record.modified_at = util::format_iso8601(*ms);
    } else {
      // Epoch milliseconds; digits beyond int64 mean no usable time (the record still syncs).
      std::int64_t epoch_ms = 0;
      auto [end, error] = std::from_chars(modified.data(), modified.data() + modified.size(), epoch_ms);
      if (!modified.empty() && error == std::errc() && end == modified.data() + modified.size() && epoch_ms >= 0)
        record.modified_at = util::format_iso8601(epoch_ms);
    }
    return record;
  }

  std::optional<std::int64_t> modified_ms(const Record& record) const {
    if (!record.modified_at) return std::nullopt;
    return util::parse_iso8601(*record.modified_at);
  }

  void log(const std::string& line) const { api_.log(line); }

  std::string properties_param(const std::vector<std::string>& properties) const {
    std::vector<std::string> encoded;
    for (const auto& p : properties) encoded.push_back(net::url_encode(p));
    return util::join(encoded, ",");
  }

  static std::size_t page_size(const ReadRequest& request, std::size_t maximum) {
    return request.page_size == 0 ? maximum : std::min(request.page_size, maximum);
  }

  // Full scan through the list endpoint, 100 a page. Only the last page carries a cursor: the
  // newest modification seen, but never later than the scan's start, so that a record changed
  // behind the scan (after it was read) is read again by the next incremental run.
  // Pages through the list endpoint (live or archived records), handing each answer's
  // results to `on_page` together with whether it is the last page.
  void list_pages(const ObjectRef& object, bool archived, const std::vector<std::string>& properties,
                  std::size_t limit, const std::function<void(const Json& results, bool last)>& on_page) {
    const std::string what = archived ? "listing archived records" : "listing records";
    std::string base = objects_path(object) + "?limit=" + std::to_string(limit) + "&archived=" +
                       (archived ? "true" : "false") + "&properties=" + properties_param(properties);
    std::string after;
    do {
      auto response = api_.call("GET", base + (after.empty() ? "" : "&after=" + net::url_encode(after)));
      if (!response.ok()) fail_object(object, response, what);
      auto body = api_.parse(response, what + " of " + object.name);
      after = next_after(body);
      on_page(body.value("results", Json::array()), after.empty());
    } while (!after.empty());
  }

  void read_all(const ObjectRef& object, const std::vector<std::string>& properties, std::size_t limit,
                const PageSink& sink) {
    const std::int64_t started = clock_.now_ms();
    std::optional<std::int64_t> newest;
    list_pages(object, false, properties, limit, [&](const Json& results, bool last) {
      Page page;
      for (const auto& result : results) {
        page.records.push_back(to_record(object, result));
        if (auto ms = modified_ms(page.records.back())) newest = std::max(newest.value_or(*ms), *ms);
      }
      if (last) page.cursor = util::format_iso8601(std::min(newest.value_or(started), started));
      sink(std::move(page));
    });
  }

  static std::string next_after(const Json& body) {
    auto paging = body.find("paging");
    if (paging == body.end() || !paging->is_object()) return "";
    auto next = paging->find("next");
    if (next == paging->end() || !next->is_object()) return "";
    return plain_text(next->value("after", Json("")));
  }

  // Search pages by offset: its `after` must be a count.
  static std::size_t search_offset(const std::string& after) {
    std::size_t offset = 0;
    auto [end, error] = std::from_chars(after.data(), after.data() + after.size(), offset);
    if (error != std::errc() || end != after.data() + after.size())
      throw ConnectorError(ErrorKind::transient,
                           "hubspot: search answered a paging cursor that is not a number: '" + after + "'");
    return offset;
  }

  // Changes since `since_ms` through search, sorted by last-modified ascending with an
  // inclusive lower bound moved back by the lookback window (search lags behind writes).
  // A query pages through at most 10,000 results; then a new query starts at the last
  // timestamp seen, skipping the ids already read at that timestamp. When all 10,000 results
  // share one timestamp, that timestamp is drained by object id instead, so that no amount
  // of records with one timestamp loses any.
  void read_changes(const ObjectRef& object, const std::vector<std::string>& properties, std::int64_t since_ms,
                    std::size_t limit, const PageSink& sink) {
    const std::string lastmod = hubspot::last_modified_property(object.name);
    std::int64_t lower = since_ms - lookback_ms(object);
    std::int64_t cursor = since_ms;  // never moves back
    std::unordered_set<std::string> read_at_lower;  // ids already emitted with modified == lower
    // A plain flag and value, not std::optional: GCC 12 -O2 warns (-Wmaybe-uninitialized) on it.
    bool draining = false;                          // a timestamp is being drained by id
    std::int64_t drain_ts = 0;
    std::string drain_after_id = "0";
    std::uint64_t queries = 0;

    while (true) {
      Json filter = Json::array();
      Json sorts;
      if (draining) {
        filter.push_back({{"propertyName", lastmod}, {"operator", "EQ"}, {"value", std::to_string(drain_ts)}});
        filter.push_back({{"propertyName", "hs_object_id"}, {"operator", "GT"}, {"value", drain_after_id}});
        sorts = Json::array({{{"propertyName", "hs_object_id"}, {"direction", "ASCENDING"}}});
      } else {
        filter.push_back({{"propertyName", lastmod}, {"operator", "GTE"}, {"value", std::to_string(lower)}});
        sorts = Json::array({{{"propertyName", lastmod}, {"direction", "ASCENDING"}}});
      }
      Json query = {{"filterGroups", Json::array({{{"filters", filter}}})},
                    {"sorts", sorts},
                    {"properties", properties},
                    {"limit", limit}};
      ++queries;
      std::size_t offset = 0;
      std::int64_t last_ts = lower;
      std::string last_id;
      std::unordered_set<std::string> ids_at_last_ts;
      bool capped = false;
      while (true) {
        if (offset > 0) query["after"] = std::to_string(offset);
        auto response = api_.call("POST", objects_path(object) + "/search", &query, "search");
        if (!response.ok()) fail_object(object, response, "searching for changes");
        auto body = api_.parse(response, "searching " + object.name);
        Page page;
        for (const auto& result : body.value("results", Json::array())) {
          auto record = to_record(object, result);
          auto ts = modified_ms(record).value_or(lower);
          last_id = record.id;
          if (ts != last_ts) ids_at_last_ts.clear();
          last_ts = std::max(last_ts, ts);
          ids_at_last_ts.insert(record.id);
          bool at_lower = draining || ts == lower;
          if (at_lower && !read_at_lower.insert(record.id).second) continue;  // read before a restart
          cursor = std::max(cursor, ts);
          page.records.push_back(std::move(record));
        }
        page.cursor = util::format_iso8601(cursor);
        if (!page.records.empty()) sink(std::move(page));
        auto after = next_after(body);
        if (after.empty()) break;
        offset = search_offset(after);
        if (offset >= hubspot::kSearchResultCap) {
          capped = true;
          break;
        }
      }
      if (capped) {
        if (draining) {
          drain_after_id = last_id;  // sorted by id: continue after the last one
        } else if (last_ts == lower || ids_at_last_ts.size() >= hubspot::kSearchResultCap / 2) {
          // Most of the capped query shares its last timestamp: a query from that timestamp
          // would mostly repeat them, so drain that timestamp by id right away.
          draining = true;
          drain_ts = last_ts;
          drain_after_id = "0";
          if (last_ts != lower) {
            lower = last_ts;
            read_at_lower = std::move(ids_at_last_ts);
          }
          log("search: " + std::to_string(read_at_lower.size()) + "+ changes share the timestamp " +
              util::format_iso8601(last_ts) + "; reading them in order of id");
        } else {
          lower = last_ts;
          read_at_lower = std::move(ids_at_last_ts);
          log("search: reached its " + std::to_string(hubspot::kSearchResultCap) +
              "-result cap; continuing from " + util::format_iso8601(lower));
        }
        continue;
      }
      if (draining) {  // the timestamp is drained: go on after it
        lower = drain_ts + 1;
        draining = false;
        read_at_lower.clear();
        continue;
      }
      break;
    }
    if (capabilities(object).tombstones) read_archived(object, since_ms - lookback_ms(object), cursor, sink);
    log("search: read changes of " + object.name + " with " + std::to_string(queries) + " quer" +
        (queries == 1 ? "y" : "ies"));
  }

  // Archived records (search never returns them) as tombstones: the list endpoint with
  // archived=true, keeping those archived at or after `from_ms`.
  void read_archived(const ObjectRef& object, std::int64_t from_ms, std::int64_t cursor, const PageSink& sink) {
    list_pages(object, true, {object.key_field}, hubspot::kListPageSize, [&](const Json& results, bool) {
      Page page;
      page.cursor = util::format_iso8601(cursor);
      for (const auto& result : results) {
        std::string archived_at = result.value("archivedAt", result.value("updatedAt", ""));
        auto ms = util::parse_iso8601(archived_at);
        if (ms && *ms < from_ms) continue;
        auto record = to_record(object, result);
        record.deleted = true;
        page.records.push_back(std::move(record));
      }
      if (!page.records.empty()) sink(std::move(page));
    });
  }

  // Lookup by a property that is not unique: search with IN, paged. On a string property
  // HubSpot compares stored values without regard to case but takes IN values only in lower
  // case (a mixed-case value matches nothing), so the values are sent lower-cased and the
  // answers matched to the values asked for here: a record comes back when its value is one
  // of them, or lower-cases (or case-folds) to one of them, as a key normalized with
  // "lowercase" does; the engine then keys it exactly as it keys its own records.
  std::vector<Record> search_lookup(const ObjectRef& object, const Property& property,
                                    const std::vector<std::string>& values, std::vector<std::string> properties) {
    const std::string& field = property.name;
    if (std::find(properties.begin(), properties.end(), field) == properties.end()) properties.push_back(field);
    const bool text = property.type == "string";
    std::vector<std::string> sent;
    std::unordered_set<std::string> seen;
    for (const auto& value : values) {
      std::string wire = value;
      if (text)
        if (auto lowered = util::unicode_lower(value)) wire = std::move(*lowered);
      if (seen.insert(wire).second) sent.push_back(std::move(wire));
    }
    const std::unordered_set<std::string> asked(values.begin(), values.end());
    auto asked_for = [&](const Record& record) {
      if (!text) return true;
      auto value = record.fields.find(field);
      if (value == record.fields.end() || !value->is_string()) return false;
      const auto& stored = value->get_ref<const std::string&>();
      if (asked.contains(stored)) return true;
      auto lowered = util::unicode_lower(stored);
      if (lowered && asked.contains(*lowered)) return true;
      auto folded = util::fold_case(stored);
      return folded && asked.contains(*folded);
    };
    std::vector<Record> found;
    for (std::size_t i = 0; i < sent.size(); i += hubspot::kMaxBatchInputs) {
      Json chunk(std::vector<std::string>(sent.begin() + static_cast<std::ptrdiff_t>(i),
                                          sent.begin() + static_cast<std::ptrdiff_t>(std::min(sent.size(), i + hubspot::kMaxBatchInputs))));
      Json query = {{"filterGroups", Json::array({{{"filters", Json::array({{{"propertyName", field}, {"operator", "IN"}, {"values", chunk}}})}}})},
                    {"properties", properties},
                    {"limit", hubspot::kSearchPageSize}};
      std::string after;
      do {
        if (!after.empty()) query["after"] = after;
        auto response = api_.call("POST", objects_path(object) + "/search", &query, "search");
        if (!response.ok()) fail_object(object, response, "looking up records by " + field);
        auto body = api_.parse(response, "looking up records by " + field);
        for (const auto& result : body.value("results", Json::array()))
          if (auto record = to_record(object, result); asked_for(record)) found.push_back(std::move(record));
        after = next_after(body);
        if (!after.empty() && search_offset(after) >= hubspot::kSearchResultCap)
          throw ConnectorError(ErrorKind::config, "hubspot: looking up by '" + field + "' matched more than " +
                                                      std::to_string(hubspot::kSearchResultCap) +
                                                      " records; match on a unique property instead");
      } while (!after.empty());
    }
    return found;
  }

  Json wire_properties(const ObjectRef& object, const Json& fields) {
    Json properties = Json::object();
    for (const auto& [name, value] : fields.items())
      properties[name] = hubspot::to_wire(api_.property(object.name, name), value);
    return properties;
  }

  net::HttpRequest batch_request(const ObjectRef& object, const WriteJob& job, const std::vector<WriteOp>& ops) {
    Json inputs = Json::array();
    std::string action;
    std::string id_property = upsert_property(object);
    for (auto i : job.ops) {
      const auto& op = ops[i];
      switch (job.kind) {
        case OpKind::upsert: {
          action = "upsert";
          auto value = op.fields.find(id_property);
          std::string id = value != op.fields.end() ? plain_text(*value) : op.key;
          inputs.push_back({{"id", id}, {"idProperty", id_property}, {"properties", wire_properties(object, op.fields)}});
          break;
        }
        case OpKind::create:
          action = "create";
          // Per-row errors of a batch create name their input only through this trace id.
          inputs.push_back({{"properties", wire_properties(object, op.fields)}, {"objectWriteTraceId", std::to_string(i)}});
          break;
        case OpKind::update:
          action = "update";
          inputs.push_back({{"id", op.id}, {"properties", wire_properties(object, op.fields)}});
          break;
        default:
          action = "archive";
          inputs.push_back({{"id", op.id}});
          break;
      }
    }
    Json body = {{"inputs", inputs}};
    auto request = api_.request("POST", objects_path(object) + "/batch/" + action, &body);
    request.idempotent = job.kind != OpKind::create;
    return request;
  }

  // Reads one batch answer into per-row results; queues halves of a batch refused as a whole.
  void interpret(const ObjectRef& object, const WriteJob& job, const std::vector<WriteOp>& ops,
                 const net::HttpResponse& response, std::vector<WriteResult>& results, std::vector<bool>& answered,
                 std::deque<WriteJob>& retry) {
    auto set = [&](std::size_t i, WriteResult result) {
      results[i] = std::move(result);
      answered[i] = true;
    };
    if (job.kind == OpKind::archive && (response.status == 204 || response.ok())) {
      for (auto i : job.ops) set(i, {true, ops[i].id, ErrorKind::record, ""});
      return;
    }
    if (response.status == 400 || response.status == 409 || response.status == 404) {
      if (job.ops.size() > 1) {
        // Refused as a whole (one bad value, one existing email): split to find the row.
        std::size_t half = job.ops.size() / 2;
        retry.push_back({job.kind, std::vector<std::size_t>(job.ops.begin(), job.ops.begin() + static_cast<std::ptrdiff_t>(half))});
        retry.push_back({job.kind, std::vector<std::size_t>(job.ops.begin() + static_cast<std::ptrdiff_t>(half), job.ops.end())});
        log("batch " + std::string(to_string(job.kind)) + " of " + std::to_string(job.ops.size()) +
            " refused as a whole (" + api_.describe_error(response) + "); splitting it to find the row");
        return;
      }
      std::size_t i = job.ops.front();
      if (response.status == 409 && job.kind == OpKind::create) {
        // "Contact already exists. Existing ID: 123": the record is there, link it.
        auto body = Json::parse(response.body, nullptr, false);
        std::string message = body.is_object() ? body.value("message", "") : "";
        auto at = message.find("Existing ID:");
        if (at != std::string::npos) {
          std::string id;
          for (auto c : message.substr(at + 12))
            if (c >= '0' && c <= '9') id += c;
            else if (!id.empty()) break;
          if (!id.empty()) {
            set(i, {true, id, ErrorKind::record, ""});
            return;
          }
        }
      }
      set(i, {false, "", ErrorKind::record, api_.describe_error(response)});
      return;
    }
    if (!response.ok()) fail_object(object, response, std::string("batch ") + to_string(job.kind));
    auto body = Json::parse(response.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      // HubSpot answered but the answer cannot be read: whether the rows were written is
      // unknown, so they fail as transient and are resolved next run.
      for (auto i : job.ops)
        set(i, {false, "", ErrorKind::transient,
                "hubspot: the answer to batch " + std::string(to_string(job.kind)) + " is not valid JSON (HTTP " +
                    std::to_string(response.status) + "); outcome unknown"});
      return;
    }

    // Errors name their rows by id (update), id-property value (upsert) or trace id (create).
    std::unordered_map<std::string, std::size_t> by_name;
    std::string id_property = upsert_property(object);
    for (auto i : job.ops) {
      if (job.kind == OpKind::create) by_name[std::to_string(i)] = i;
      else if (job.kind == OpKind::update) by_name[ops[i].id] = i;
      else if (job.kind == OpKind::upsert) {
        auto value = ops[i].fields.find(id_property);
        by_name[lower(value != ops[i].fields.end() ? plain_text(*value) : ops[i].key)] = i;
      }
    }
    for (const auto& error : body.value("errors", Json::array())) {
      std::string message = describe_row_error(error);
      std::vector<std::string> names;
      if (auto context = error.find("context"); context != error.end() && context->is_object()) {
        for (const auto* key : {"objectWriteTraceId", "ids", "id"})
          if (auto list = context->find(key); list != context->end())
            for (auto& name : string_list(list->is_array() ? *list : Json::array({*list}))) names.push_back(name);
      }
      bool placed = false;
      for (const auto& name : names) {
        auto it = by_name.find(job.kind == OpKind::upsert ? lower(name) : name);
        if (it == by_name.end()) continue;
        set(it->second, {false, "", ErrorKind::record, message});
        placed = true;
      }
      if (!placed && job.ops.size() == 1) set(job.ops.front(), {false, "", ErrorKind::record, message});
    }

    // Results: HubSpot does not promise input order, so match them by id or identifying value.
    std::vector<Json> unmatched;
    std::unordered_map<std::string, std::size_t> by_value;
    std::string match_property = job.kind == OpKind::upsert ? id_property : object.key_field;
    if (job.kind == OpKind::create || job.kind == OpKind::upsert)
      for (auto i : job.ops) {
        auto value = ops[i].fields.find(match_property);
        if (value != ops[i].fields.end() && !value->is_null()) by_value.emplace(lower(plain_text(*value)), i);
      }
    for (const auto& result : body.value("results", Json::array())) {
      std::string id = plain_text(result.value("id", Json("")));
      std::optional<std::size_t> index;
      if (job.kind == OpKind::update) {
        if (auto it = by_name.find(id); it != by_name.end()) index = it->second;
      } else if (auto props = result.find("properties"); props != result.end() && props->is_object()) {
        auto value = props->find(match_property);
        if (value != props->end())
          if (auto it = by_value.find(lower(plain_text(*value))); it != by_value.end()) index = it->second;
      }
      if (index && !answered[*index]) set(*index, {true, id, ErrorKind::record, ""});
      else unmatched.push_back(result);
    }
    // What could not be matched by value is matched by order, but only when exactly one result
    // is left per open row; otherwise guessing could link a row to another row's record, so
    // the open rows fail as transient and are resolved by lookup next run.
    std::vector<std::size_t> open;
    for (auto i : job.ops)
      if (!answered[i]) open.push_back(i);
    for (std::size_t k = 0; k < open.size(); ++k) {
      if (open.size() == unmatched.size())
        set(open[k], {true, plain_text(unmatched[k].value("id", Json(""))), ErrorKind::record, ""});
      else
        set(open[k], {false, "", ErrorKind::transient,
                      "hubspot: the answer to batch " + std::string(to_string(job.kind)) +
                          " does not say which record belongs to this row; it is looked up next run"});
    }
  }

  static std::string describe_row_error(const Json& error) {
    std::string text = error.value("category", "ERROR");
    if (auto message = error.value("message", ""); !message.empty()) text += ": " + message;
    if (auto context = error.find("context"); context != error.end() && context->is_object())
      if (auto names = context->find("propertyName"); names != context->end())
        text += " (property " + util::join(string_list(names->is_array() ? *names : Json::array({*names})), ", ") + ")";
    return text;
  }

  static std::string default_group(const std::string& object, const std::map<std::string, Property>& existing) {
    if (object == "contacts") return "contactinformation";
    if (object == "companies") return "companyinformation";
    if (object == "deals") return "dealinformation";
    for (const auto& [name, property] : existing)
      if (!property.group.empty()) return property.group;
    return object + "_information";
  }

  static std::string label_for(const std::string& name) {
    std::string label;
    bool start = true;
    for (char c : name) {
      if (c == '_') {
        label += ' ';
        start = true;
        continue;
      }
      label += start ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      start = false;
    }
    return label;
  }

  static Json options_json(const std::vector<std::string>& first, const std::vector<std::string>& then) {
    Json options = Json::array();
    std::vector<std::string> seen;
    int order = 0;
    for (const auto* list : {&first, &then})
      for (const auto& value : *list) {
        if (std::find(seen.begin(), seen.end(), value) != seen.end()) continue;
        seen.push_back(value);
        options.push_back({{"label", value}, {"value", value}, {"hidden", false}, {"displayOrder", order++}});
      }
    return options;
  }

  HubspotApi api_;
  const util::Clock& clock_;
};

std::unique_ptr<Connector> make_hubspot_connector(const ConnectionConfig& config) {
  return std::make_unique<HubspotConnector>(config);
}

std::string hubspot_name_problem(const std::string& name) { return hubspot::property_name_problem(name); }

}  // namespace

const ConnectorType& hubspot_connector_type() {
  static const ConnectorType type{
      .type = "hubspot",
      .make = &make_hubspot_connector,
      .connection_keys = {"token", "client_id", "client_secret", "refresh_token", "timeout", "max_retries", "retry_for",
                          "share_rate_limit"},
      .required_connection_keys = {},
      .source_keys = {"lookback", "tombstones"},
      .destination_keys = {"upsert_property"},
      .schema_mode = "properties",
      .schema_types = hubspot::manageable_types(),
      .schema_name_problem = &hubspot_name_problem,
      .init_template =
          {
              .connection = R"(# A private app's token with the objects' scopes (crm.objects.contacts.read, and .write
# when HubSpot is the destination); or OAuth: client_id, client_secret, refresh_token.
token = "${{ENV}_TOKEN}"
base_url = "${{ENV}_BASE_URL:-}"  # empty: https://api.hubapi.com (set it for a proxy)
)",
              .object = "contacts",
              .source_keys = R"(# contacts, companies, deals, or a custom object by name or id (2-1234)
)",
              .email = "email",
              .first_name = "firstname",
              .last_name = "lastname",
          },
  };
  return type;
}

}  // namespace synctool::connectors
