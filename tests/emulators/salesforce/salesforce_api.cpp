// The Salesforce emulator's /services/data/vNN.0/ resources: describe, query / queryAll with
// cursors, the replication resources (updated / deleted), sObject Collections, single records
// and upsert by external id, limits. Called with the emulator's mutex held, after
// authentication and the limits.
#include <algorithm>
#include <set>

#include "emulators/salesforce/salesforce_internal.hpp"

namespace synctool::emulators {

using namespace salesforce_detail;

namespace {

constexpr std::size_t kDefaultBatch = 2000;
constexpr std::size_t kMinBatch = 200;
constexpr std::int64_t kCursorIdleMs = 15 * kMinute;
constexpr std::size_t kMaxOpenCursors = 10;

std::string data_prefix(int version) { return "/services/data/v" + std::to_string(version) + ".0"; }

// Sforce-Duplicate-Rule-Header: allowSave=true[; includeRecordDetails=...; runAsCurrentUser=...]
bool allow_save(const httplib::Request& req) {
  const std::string h = lower(req.get_header_value("Sforce-Duplicate-Rule-Header"));
  for (auto& part : split(h, ';'))
    for (auto& item : split(part, ','))
      if (trim(item) == "allowsave=true") return true;
  return false;
}

std::size_t batch_size(const httplib::Request& req) {
  const std::string h = lower(req.get_header_value("Sforce-Query-Options"));
  for (auto& part : split(h, ',')) {
    const std::string p = trim(part);
    if (starts_with(p, "batchsize=")) {
      const std::string v = p.substr(10);
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6) continue;
      return std::clamp<std::size_t>(std::stoul(v), kMinBatch, kDefaultBatch);
    }
  }
  return kDefaultBatch;
}

json exceeded_limit_body() {
  return json::array(
      {{{"message", "record limit reached. cannot submit more than 200 records into this call"},
        {"errorCode", "EXCEEDED_ID_LIMIT"}}});
}

json row_errors_json(const std::vector<RowError>& errors) {
  json arr = json::array();
  for (const auto& e : errors) arr.push_back(e.to_json(false));
  return arr;
}

Reply errors_reply(int status, const std::vector<RowError>& errors) {
  json arr = json::array();
  for (const auto& e : errors) arr.push_back(e.to_json(true));
  return json_reply(status, arr);
}

json rolled_back_error() {
  return json::array({{{"statusCode", "ALL_OR_NONE_OPERATION_ROLLED_BACK"},
                       {"message",
                        "Record rolled back because not all records were valid and the request was using AllOrNone "
                        "header"},
                       {"fields", json::array()}}});
}

// The value of a record's Id key ("Id" or "id"), or null.
json id_of(const json& record) {
  for (auto it = record.begin(); it != record.end(); ++it)
    if (lower(it.key()) == "id") return it.value();
  return json();
}

std::string type_of(const json& record) {
  if (!record.contains("attributes") || !record["attributes"].is_object()) return "";
  const json& a = record["attributes"];
  return a.contains("type") && a["type"].is_string() ? a["type"].get<std::string>() : "";
}

json parse_body(const httplib::Request& req) {
  if (req.body.empty()) return json();
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& e) {
    throw RequestError(400, "JSON_PARSER_ERROR", std::string("Unexpected character in the request body: ") + e.what());
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Routing

Reply SalesforceEmulator::Impl::route_api(const httplib::Request& req, int version,
                                          const std::vector<std::string>& rest) {
  const std::string& m = req.method;
  try {
    const json body = m == "POST" || m == "PATCH" ? parse_body(req) : json();
    const std::size_t n = rest.size();
    if (n == 0 && m == "GET") {
      const std::string p = data_prefix(version);
      return json_reply(200, {{"sobjects", p + "/sobjects"},
                              {"query", p + "/query"},
                              {"queryAll", p + "/queryAll"},
                              {"limits", p + "/limits"},
                              {"composite", p + "/composite"}});
    }
    if (n == 0) return not_found_reply();
    const std::string& head = rest[0];
    if (head == "limits" && n == 1 && m == "GET") return limits_json();
    if ((head == "query" || head == "queryAll") && m == "GET") {
      if (n == 1) return query(req, version, head == "queryAll");
      if (n == 2) return query_more(req, version, rest[1]);
    }
    if (head == "sobjects") {
      if (n == 1 && m == "GET") {
        json list = json::array();
        for (const auto& [key, t] : types) {
          const std::string base = data_prefix(version) + "/sobjects/" + t->name;
          list.push_back({{"name", t->name},
                          {"label", t->label},
                          {"labelPlural", t->label_plural},
                          {"keyPrefix", t->key_prefix},
                          {"custom", t->custom},
                          {"createable", true},
                          {"queryable", true},
                          {"replicateable", true},
                          {"urls", {{"sobject", base}, {"describe", base + "/describe"}, {"rowTemplate", base + "/{ID}"}}}});
        }
        return json_reply(200, {{"encoding", "UTF-8"}, {"maxBatchSize", 200}, {"sobjects", list}});
      }
      if (n < 2) return not_found_reply();
      ObjectType* t = find_type(rest[1]);
      if (t == nullptr) return not_found_reply();
      if (n == 2 && m == "GET") {
        json info = describe_json(*t, version);
        info.erase("fields");
        return json_reply(200, {{"objectDescribe", info}, {"recentItems", json::array()}});
      }
      if (n == 3 && rest[2] == "describe" && m == "GET") return json_reply(200, describe_json(*t, version));
      if (n == 3 && (rest[2] == "updated" || rest[2] == "deleted") && m == "GET")
        return replication(req, *t, rest[2] == "deleted");
      return single(req, version, *t, rest, body);
    }
    if (head == "composite" && n >= 2 && rest[1] == "sobjects") {
      if (n == 2 && m == "POST") return collection_create(req, body);
      if (n == 2 && m == "PATCH") return collection_update(req, body);
      if (n == 2 && m == "DELETE") return collection_delete(req);
      if (n == 4 && m == "PATCH") {
        ObjectType* t = find_type(rest[2]);
        if (t == nullptr) return not_found_reply();
        const FieldDef* key = t->field(rest[3]);
        if (key == nullptr)
          return api_error(404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: " + rest[3]);
        if (!(key->external_id || key->id_lookup))
          return api_error(400, "INVALID_FIELD", "Field " + key->name + " is not an External ID or Id-lookup field");
        return collection_upsert(req, *t, *key, body);
      }
    }
    return not_found_reply();
  } catch (const RequestError& e) {
    return api_error(e.status, e.code, e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Query

Reply SalesforceEmulator::Impl::query(const httplib::Request& req, int version, bool all) {
  if (!req.has_param("q") || trim(req.get_param_value("q")).empty())
    return api_error(400, "MALFORMED_QUERY", "A query string has to be specified");
  SoqlQuery q;
  try {
    q = parse_soql(req.get_param_value("q"),
                   [this](const std::string& name) -> const ObjectType* { return find_type(name); });
  } catch (const SoqlError& e) {
    return api_error(400, e.code, e.what());
  }
  const ObjectType& t = *find_type(q.object);
  std::vector<const Record*> rows;
  for (const auto& [id, r] : t.records) {
    if (r.deleted && !all) continue;
    if (q.where && !soql_matches(*q.where, t, r)) continue;
    rows.push_back(&r);
  }
  if (q.count) {
    std::size_t n = rows.size();
    if (q.limit) n = std::min<std::size_t>(n, static_cast<std::size_t>(*q.limit));
    return json_reply(200, {{"totalSize", n}, {"done", true}, {"records", json::array()}});
  }
  if (!q.order.empty()) soql_sort(rows, t, q.order);
  const auto offset = static_cast<std::size_t>(q.offset.value_or(0));
  rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(std::min(offset, rows.size())));
  if (q.limit && rows.size() > static_cast<std::size_t>(*q.limit)) rows.resize(static_cast<std::size_t>(*q.limit));

  QueryCursor c;
  c.object = t.name;
  c.fields = q.fields;
  c.ids.reserve(rows.size());
  for (const Record* r : rows) c.ids.push_back(r->id);
  c.last_used_ms = now();
  const std::size_t batch = batch_size(req);
  if (c.ids.size() <= batch) return query_page(c, "", version, c.ids.size(), batch);
  // Keep the cursor for nextRecordsUrl; at most 10 open, the oldest goes first.
  const std::string id15 = "01g5g0" + base62(++cursor_counter, 9);
  const std::string locator = id15 + id_suffix(id15);
  while (cursor_order.size() >= kMaxOpenCursors) {
    cursors.erase(cursor_order.front());
    cursor_order.pop_front();
  }
  QueryCursor& stored = cursors.emplace(locator, std::move(c)).first->second;
  cursor_order.push_back(locator);
  return query_page(stored, locator, version, stored.ids.size(), batch);
}

Reply SalesforceEmulator::Impl::query_more(const httplib::Request& req, int version, const std::string& segment) {
  const auto dash = segment.rfind('-');
  const std::string locator = segment.substr(0, dash);
  auto it = cursors.find(locator);
  if (it == cursors.end() || now() - it->second.last_used_ms > kCursorIdleMs) {
    if (it != cursors.end()) {
      cursor_order.erase(std::find(cursor_order.begin(), cursor_order.end(), locator));
      cursors.erase(it);
    }
    return api_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
  }
  QueryCursor& c = it->second;
  if (dash != std::string::npos) {
    const std::string off = segment.substr(dash + 1);
    if (off.empty() || off.find_first_not_of("0123456789") != std::string::npos || off.size() > 9 ||
        std::stoul(off) > c.ids.size())
      return api_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    c.next = std::stoul(off);
  }
  c.last_used_ms = now();
  return query_page(c, locator, version, c.ids.size(), batch_size(req));
}

Reply SalesforceEmulator::Impl::query_page(QueryCursor& c, const std::string& locator, int version,
                                           std::size_t total, std::size_t batch) {
  const ObjectType* t = find_type(c.object);
  json records = json::array();
  const std::size_t end = std::min(c.ids.size(), c.next + batch);
  for (std::size_t i = c.next; i < end; ++i) {
    auto it = t->records.find(c.ids[i]);
    if (it != t->records.end()) records.push_back(render(*t, it->second, &c.fields, version));
  }
  c.next = end;
  json out{{"totalSize", total}, {"done", end >= c.ids.size()}, {"records", std::move(records)}};
  if (end < c.ids.size())
    out["nextRecordsUrl"] = data_prefix(version) + "/query/" + locator + "-" + std::to_string(end);
  return json_reply(200, out);
}

// ---------------------------------------------------------------------------------------------
// Replication: /sobjects/{Type}/updated/ and /deleted/

Reply SalesforceEmulator::Impl::replication(const httplib::Request& req, ObjectType& t, bool deleted) {
  if (!req.has_param("start") || !req.has_param("end"))
    return api_error(400, "MISSING_ARGUMENT", "start and end are required parameters");
  const auto start = parse_iso_ms(req.get_param_value("start"));
  const auto end = parse_iso_ms(req.get_param_value("end"));
  if (!start || !end)
    return api_error(400, "INVALID_REPLICATION_DATE",
                     "start and end must be date-times in ISO 8601 form, e.g. 2026-01-02T03:04:00+00:00");
  if (*end - *start <= kMinute)
    return api_error(400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate by more than one minute");
  const std::int64_t now_ms = now();
  // Seconds are ignored.
  const std::int64_t start_m = floor_div(*start, kMinute) * kMinute;
  const std::int64_t end_m = floor_div(*end, kMinute) * kMinute;
  const std::int64_t window = (deleted ? opt.deleted_retention_days : opt.updated_window_days) * kDay;
  if (start_m < now_ms - window)
    return api_error(400, "INVALID_REPLICATION_DATE",
                     "startDate cannot be more than " + std::to_string(window / kDay) + " days ago");
  const std::int64_t latest = std::min(end_m, floor_div(now_ms, kMinute) * kMinute);
  if (!deleted) {
    json ids = json::array();
    for (const auto& [id, r] : t.records)
      if (!r.deleted && r.system_modstamp >= start_m && r.system_modstamp < latest) ids.push_back(id);
    return json_reply(200, {{"ids", ids}, {"latestDateCovered", sf_datetime(latest)}});
  }
  // "Timestamp of the last physically deleted object": the recycle bin emptied (purge_deleted)
  // or records aging out of it. An org that never purged anything reports the epoch.
  const std::int64_t earliest = floor_div(t.last_purged_delete, kMinute) * kMinute;
  if (start_m < earliest)
    return api_error(400, "INVALID_REPLICATION_DATE",
                     "startDate is before earliestDateAvailable " + sf_datetime(earliest) +
                         ": deleted records were purged since; replicate the object again");
  json list = json::array();
  for (const auto& [id, r] : t.records)
    if (r.deleted && r.system_modstamp >= start_m && r.system_modstamp < latest)
      list.push_back({{"id", id}, {"deletedDate", sf_datetime(r.system_modstamp)}});
  return json_reply(200, {{"deletedRecords", list},
                          {"earliestDateAvailable", sf_datetime(earliest)},
                          {"latestDateCovered", sf_datetime(latest)}});
}

// ---------------------------------------------------------------------------------------------
// sObject Collections

namespace {

struct CollectionRequest {
  bool all_or_none = false;
  const json* records = nullptr;
};

// {allOrNone, records: [...]}; throws RequestError.
CollectionRequest read_collection(const json& body) {
  if (!body.is_object() || !body.contains("records") || !body["records"].is_array())
    throw RequestError(400, "JSON_PARSER_ERROR", "The request body must be an object with a records array");
  CollectionRequest c;
  if (body.contains("allOrNone")) {
    if (!body["allOrNone"].is_boolean())
      throw RequestError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of boolean for allOrNone");
    c.all_or_none = body["allOrNone"].get<bool>();
  }
  c.records = &body["records"];
  for (const auto& r : *c.records)
    if (!r.is_object()) throw RequestError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object");
  return c;
}

}  // namespace

// Runs `row(i, ok)` for every row with an undo log: a RequestError (the request fails as a
// whole) or, with allOrNone, any failed row undoes every change. `row` answers the row's result
// and sets ok when the row succeeded.
json SalesforceEmulator::Impl::run_rows(std::size_t count, bool all_or_none,
                                        const std::function<json(std::size_t, bool&)>& row) {
  std::vector<JournalEntry> undo;
  journal = &undo;
  json results = json::array();
  std::vector<bool> ok(count, false);
  try {
    for (std::size_t i = 0; i < count; ++i) {
      bool row_ok = false;
      results.push_back(row(i, row_ok));
      ok[i] = row_ok;
    }
  } catch (...) {
    roll_back(undo);
    journal = nullptr;
    throw;
  }
  journal = nullptr;
  if (all_or_none && std::find(ok.begin(), ok.end(), false) != ok.end()) {
    roll_back(undo);
    for (std::size_t i = 0; i < count; ++i) {
      if (results[i].contains("created")) results[i]["created"] = false;
      if (!ok[i]) continue;
      results[i]["success"] = false;
      results[i]["errors"] = rolled_back_error();
    }
  }
  return results;
}

Reply SalesforceEmulator::Impl::collection_create(const httplib::Request& req, const json& body) {
  const CollectionRequest c = read_collection(body);
  const json& records = *c.records;
  if (records.size() > kMaxCollection) return json_reply(400, exceeded_limit_body());
  const bool allow = allow_save(req);
  json results = run_rows(records.size(), c.all_or_none, [&](std::size_t i, bool& ok) -> json {
    const json& rec = records[i];
    std::vector<RowError> errors;
    const std::string type = type_of(rec);
    ObjectType* t = find_type(type);
    Record* created = nullptr;
    if (type.empty())
      errors.push_back(RowError{"INVALID_TYPE", "Must specify a type in the attributes of each record", {}, {}});
    else if (t == nullptr)
      errors.push_back(RowError{"INVALID_TYPE", "sObject type '" + type + "' is not supported.", {}, {}});
    else
      created = save_new(*t, rec, allow, errors);
    ok = created != nullptr;
    return {{"id", created != nullptr ? json(created->id) : json()},
                  {"success", ok},
                  {"errors", row_errors_json(errors)}};
  });
  if (c.all_or_none)  // rolled back: nothing was created
    for (auto& r : results)
      if (!r["success"].get<bool>()) r["id"] = nullptr;
  return json_reply(200, results);
}

Reply SalesforceEmulator::Impl::collection_update(const httplib::Request& req, const json& body) {
  const CollectionRequest c = read_collection(body);
  const json& records = *c.records;
  if (records.size() > kMaxCollection) return json_reply(400, exceeded_limit_body());
  const bool allow = allow_save(req);
  std::set<std::string> seen;
  json results = run_rows(records.size(), c.all_or_none, [&](std::size_t i, bool& ok) -> json {
    const json& rec = records[i];
    std::vector<RowError> errors;
    const std::string type = type_of(rec);
    ObjectType* t = find_type(type);
    const json id_value = id_of(rec);
    std::optional<std::string> id;
    if (id_value.is_string()) id = normalize_id(id_value.get<std::string>());
    if (type.empty()) {
      errors.push_back(RowError{"INVALID_TYPE", "Must specify a type in the attributes of each record", {}, {}});
    } else if (t == nullptr) {
      errors.push_back(RowError{"INVALID_TYPE", "sObject type '" + type + "' is not supported.", {}, {}});
    } else if (id_value.is_null()) {
      errors.push_back(RowError{"MISSING_ARGUMENT", "Id not specified in an update call", {}, {}});
    } else if (!id || id->substr(0, 3) != t->key_prefix) {
      errors.push_back(RowError{"MALFORMED_ID", t->label + " ID: id value of incorrect type: " + (id_value.is_string() ? id_value.get<std::string>() : id_value.dump()),
                                {"Id"}, {}});
    } else if (!seen.insert(*id).second) {
      errors.push_back(RowError{"DUPLICATE_VALUE", "Duplicate id in list: " + *id, {}, {}});
    } else if (Record* r = find_record(*t, *id)) {
      save_existing(*t, *r, rec, allow, errors);
    } else {
      errors.push_back(RowError{"INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", {}, {}});
    }
    ok = errors.empty();
    return {{"id", id ? json(*id) : id_value}, {"success", ok}, {"errors", row_errors_json(errors)}};
  });
  return json_reply(200, results);
}

std::vector<SalesforceEmulator::Impl::Record*> SalesforceEmulator::Impl::find_by_key(ObjectType& t,
                                                                                      const FieldDef& key,
                                                                                      const json& value) {
  std::vector<Record*> out;
  if (key.name == "Id") {
    if (!value.is_string()) return out;
    auto id = normalize_id(value.get<std::string>());
    if (Record* r = id ? find_record(t, *id) : nullptr)
      if (!r->deleted) out.push_back(r);
    return out;
  }
  auto idx = t.key_index.find(key.name);
  if (idx == t.key_index.end()) return out;
  json v = value;
  if (v.is_number() && !(key.type == "double" || key.type == "int" || key.type == "currency" || key.type == "percent"))
    v = v.dump();
  if (v.is_string() && (key.type == "double" || key.type == "int" || key.type == "currency" || key.type == "percent") &&
      is_decimal(v.get<std::string>()))
    v = std::stod(v.get<std::string>());
  auto hit = idx->second.find(index_key(v));
  if (hit == idx->second.end()) return out;
  for (const auto& id : hit->second)
    if (Record* r = find_record(t, id)) out.push_back(r);
  return out;
}

Reply SalesforceEmulator::Impl::collection_upsert(const httplib::Request& req, ObjectType& t, const FieldDef& key,
                                                  const json& body) {
  const CollectionRequest c = read_collection(body);
  const json& records = *c.records;
  if (records.size() > kMaxCollection) return json_reply(400, exceeded_limit_body());
  const bool allow = allow_save(req);
  json results = run_rows(records.size(), c.all_or_none, [&](std::size_t i, bool& ok) -> json {
    const json& rec = records[i];
    std::vector<RowError> errors;
    const std::string type = type_of(rec);
    json key_value;
    for (auto it = rec.begin(); it != rec.end(); ++it)
      if (lower(it.key()) == lower(key.name)) key_value = it.value();
    Record* saved = nullptr;
    bool created = false;
    if (!type.empty() && lower(type) != lower(t.name)) {
      errors.push_back(RowError{"INVALID_TYPE",
                                "Records of an upsert by external id must all be of type " + t.name + ", not " + type,
                                {}, {}});
    } else if (key.name != "Id" && !id_of(rec).is_null()) {
      errors.push_back(RowError{"INVALID_FIELD", "Id is not allowed in an upsert by external id (" + key.name + ")",
                                {"Id"}, {}});
    } else if (key_value.is_null() || (key_value.is_string() && key_value.get<std::string>().empty())) {
      if (key.name == "Id") {
        saved = save_new(t, rec, allow, errors);
        created = saved != nullptr;
      } else {
        errors.push_back(RowError{"MISSING_ARGUMENT", key.name + " not specified", {key.name}, {}});
      }
    } else {
      std::vector<Record*> matches = find_by_key(t, key, key_value);
      if (matches.size() > 1) {
        std::string list;
        for (const Record* m : matches) list += (list.empty() ? "" : ", ") + m->id;
        errors.push_back(RowError{"DUPLICATE_EXTERNAL_ID",
                                  key.label + ": more than one record found for external id field: [" + list + "]",
                                  {key.name}, {}});
      } else if (matches.size() == 1) {
        save_existing(t, *matches.front(), rec, allow, errors);
        if (errors.empty()) saved = matches.front();
      } else if (key.name == "Id") {
        errors.push_back(RowError{"INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", {}, {}});
      } else {
        saved = save_new(t, rec, allow, errors);
        created = saved != nullptr;
      }
    }
    ok = saved != nullptr;
    return {{"id", saved != nullptr ? json(saved->id) : json()},
                  {"success", ok},
                  {"errors", row_errors_json(errors)},
                  {"created", created}};
  });
  return json_reply(200, results);
}

Reply SalesforceEmulator::Impl::collection_delete(const httplib::Request& req) {
  if (!req.has_param("ids") || req.get_param_value("ids").empty())
    return api_error(400, "MISSING_ARGUMENT", "ids is a required parameter");
  std::vector<std::string> ids = split(req.get_param_value("ids"), ',');
  if (ids.size() > kMaxCollection) return json_reply(400, exceeded_limit_body());
  bool all_or_none = false;
  if (req.has_param("allOrNone")) {
    const std::string v = lower(req.get_param_value("allOrNone"));
    if (v != "true" && v != "false") return api_error(400, "INVALID_PARAMETER_VALUE", "allOrNone must be true or false");
    all_or_none = v == "true";
  }
  json results = run_rows(ids.size(), all_or_none, [&](std::size_t i, bool& ok) -> json {
    const std::string given = trim(ids[i]);
    std::vector<RowError> errors;
    auto id = normalize_id(given);
    ObjectType* t = nullptr;
    if (id)
      for (auto& [key, type] : types)
        if (type->key_prefix == id->substr(0, 3)) t = type.get();
    Record* r = t != nullptr ? find_record(*t, *id) : nullptr;
    if (!id) errors.push_back(RowError{"MALFORMED_ID", "malformed id " + given, {}, {}});
    else if (r == nullptr) errors.push_back(RowError{"INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", {}, {}});
    else if (r->deleted) errors.push_back(RowError{"ENTITY_IS_DELETED", "entity is deleted", {}, {}});
    else delete_record(*t, *r);
    ok = errors.empty();
    return {{"id", id ? json(*id) : json(given)}, {"success", ok}, {"errors", row_errors_json(errors)}};
  });
  return json_reply(200, results);
}

// ---------------------------------------------------------------------------------------------
// Single records

Reply SalesforceEmulator::Impl::single(const httplib::Request& req, int version, ObjectType& t,
                                       const std::vector<std::string>& rest, const json& body) {
  const std::string& m = req.method;
  const std::size_t n = rest.size();
  const bool allow = allow_save(req);
  if (n == 2 && m == "POST") {
    if (!body.is_object()) return api_error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object");
    std::vector<RowError> errors;
    std::vector<JournalEntry> undo;
    journal = &undo;
    Record* r = nullptr;
    try {
      r = save_new(t, body, allow, errors);
    } catch (...) {
      roll_back(undo);
      journal = nullptr;
      throw;
    }
    journal = nullptr;
    if (r == nullptr) return errors_reply(400, errors);
    return json_reply(201, {{"id", r->id}, {"success", true}, {"errors", json::array()}});
  }
  if (n == 4) {
    const FieldDef* key = t.field(rest[2]);
    if (key == nullptr || !(key->external_id || key->id_lookup))
      return api_error(404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: " + rest[2]);
    if (m == "PATCH") return upsert_single(req, version, t, *key, rest[3], body);
    if (m == "GET") {
      std::vector<Record*> matches = find_by_key(t, *key, json(rest[3]));
      if (matches.empty()) return not_found_reply();
      if (matches.size() > 1) {
        json urls = json::array();
        for (const Record* r : matches) urls.push_back(record_url(t, r->id, version));
        return json_reply(300, urls);
      }
      return json_reply(200, render(t, *matches.front(), nullptr, version));
    }
    return not_found_reply();
  }
  if (n != 3) return not_found_reply();
  auto id = normalize_id(rest[2]);
  Record* r = id && id->substr(0, 3) == t.key_prefix ? find_record(t, *id) : nullptr;
  if (r == nullptr) return not_found_reply();
  if (m == "GET") {
    if (r->deleted) return not_found_reply();
    if (!req.has_param("fields")) return json_reply(200, render(t, *r, nullptr, version));
    std::vector<std::string> fields;
    for (auto& f : split(req.get_param_value("fields"), ',')) {
      const FieldDef* d = t.field(trim(f));
      if (d == nullptr) return api_error(400, "INVALID_FIELD", "No such column '" + trim(f) + "' on sobject of type " + t.name);
      fields.push_back(d->name);
    }
    return json_reply(200, render(t, *r, &fields, version));
  }
  if (r->deleted) return api_error(404, "ENTITY_IS_DELETED", "entity is deleted", json::array());
  if (m == "PATCH") {
    if (!body.is_object()) return api_error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object");
    std::vector<RowError> errors;
    save_existing(t, *r, body, allow, errors);
    if (!errors.empty()) return errors_reply(400, errors);
    return Reply{204, "", {}};
  }
  if (m == "DELETE") {
    delete_record(t, *r);
    return Reply{204, "", {}};
  }
  return not_found_reply();
}

Reply SalesforceEmulator::Impl::upsert_single(const httplib::Request& req, int version, ObjectType& t,
                                              const FieldDef& key, const std::string& value, const json& body) {
  if (!body.is_object()) return api_error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object");
  if (!id_of(body).is_null() && key.name != "Id")
    return api_error(400, "INVALID_FIELD", "Id is not allowed in an upsert by external id (" + key.name + ")",
                     json::array({"Id"}));
  const bool allow = allow_save(req);
  std::vector<Record*> matches = find_by_key(t, key, json(value));
  if (matches.size() > 1) {
    json urls = json::array();
    for (const Record* r : matches) urls.push_back(record_url(t, r->id, version));
    return json_reply(300, urls);
  }
  std::vector<RowError> errors;
  if (matches.size() == 1) {
    save_existing(t, *matches.front(), body, allow, errors);
    if (!errors.empty()) return errors_reply(400, errors);
    return json_reply(200, {{"id", matches.front()->id}, {"success", true}, {"errors", json::array()}, {"created", false}});
  }
  if (key.name == "Id") return not_found_reply();
  // The key's value comes from the path.
  json with_key = body;
  for (auto it = with_key.begin(); it != with_key.end();)
    if (lower(it.key()) == lower(key.name)) it = with_key.erase(it);
    else ++it;
  with_key[key.name] = value;
  Record* r = save_new(t, with_key, allow, errors);
  if (r == nullptr) return errors_reply(400, errors);
  return json_reply(201, {{"id", r->id}, {"success", true}, {"errors", json::array()}, {"created", true}});
}

Reply SalesforceEmulator::Impl::limits_json() const {
  const std::int64_t used = used_today();
  auto pair = [](std::int64_t max, std::int64_t remaining) { return json{{"Max", max}, {"Remaining", remaining}}; };
  return json_reply(200, {{"DailyApiRequests", pair(opt.daily_limit, std::max<std::int64_t>(0, opt.daily_limit - used))},
                          {"DailyBulkV2QueryJobs", pair(10000, 10000)},
                          {"DailyBulkApiBatches", pair(15000, 15000)},
                          {"ConcurrentLongRunningRequests", pair(opt.long_request_limit, opt.long_request_limit)},
                          {"DataStorageMB", pair(1024, 1000)}});
}

}  // namespace synctool::emulators
