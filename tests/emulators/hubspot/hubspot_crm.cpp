// The HubSpot emulator's /crm/v3 handlers: objects (list, single, batch, search) and properties.
// Called with the emulator's mutex held, after authentication and rate limiting.
#include <cmath>
#include <limits>
#include <set>
#include <unordered_set>

#include "emulators/hubspot/hubspot_internal.hpp"

namespace synctool::emulators {

using namespace hubspot_detail;
using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxBatch = 100;
constexpr int kListMax = 100;
constexpr int kSearchMax = 200;
constexpr std::int64_t kSearchWindow = 10000;

Reply json_reply(int status, const json& body) { return Reply{status, dump_json(body), {}}; }

Reply validation(const std::string& message) { return error_reply(400, message, "VALIDATION_ERROR"); }

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// `properties` from the query: repeated and/or comma-separated.
PropSel query_props(const httplib::Request& req) {
  PropSel sel;
  const std::size_t n = req.get_param_value_count("properties");
  for (std::size_t i = 0; i < n; ++i)
    for (auto& p : split(req.get_param_value("properties", i), ','))
      if (auto t = trim(p); !t.empty()) sel.names.push_back(t);
  sel.defaults = sel.names.empty();
  return sel;
}

PropSel body_props(const json& body) {
  PropSel sel;
  if (body.is_object() && body.contains("properties")) {
    const json& p = body["properties"];
    if (p.is_array()) {
      for (const auto& x : p)
        if (x.is_string()) sel.names.push_back(x.get<std::string>());
    } else if (p.is_string()) {
      for (auto& s : split(p.get<std::string>(), ','))
        if (auto t = trim(s); !t.empty()) sel.names.push_back(t);
    }
  }
  sel.defaults = sel.names.empty();
  return sel;
}

// Written properties are answered along with the defaults.
PropSel written_props(const Changes& c) {
  PropSel sel;
  for (const auto& [k, v] : c) sel.names.push_back(k);
  return sel;
}

json field_errors_json(const std::vector<FieldError>& errs) {
  json arr = json::array();
  for (const auto& e : errs)
    arr.push_back({{"message", e.message}, {"code", e.code}, {"context", {{"propertyName", {e.prop}}}}});
  return arr;
}

std::string validation_message(const std::vector<FieldError>& errs) {
  json arr = json::array();
  for (const auto& e : errs)
    arr.push_back({{"isValid", false},
                   {"message", e.message},
                   {"error", e.code},
                   {"name", e.prop},
                   {"localizedErrorMessage", e.message}});
  return "Property values were not valid: " + dump_json(arr);
}

Reply validation_reply(const std::vector<FieldError>& errs) {
  return error_reply(400, validation_message(errs), "VALIDATION_ERROR", {{"errors", field_errors_json(errs)}});
}

std::string conflict_message(const ObjectType& t, std::uint64_t existing) {
  return (t.name == "contacts" ? std::string("Contact") : t.singular_label) +
         " already exists. Existing ID: " + std::to_string(existing);
}

json row_error(const std::string& category, const std::string& message, json context,
               const std::vector<FieldError>* errs = nullptr) {
  json e{{"status", "error"}, {"category", category}, {"message", message}, {"context", std::move(context)}};
  if (errs != nullptr) e["errors"] = field_errors_json(*errs);
  return e;
}

json trace_context(const json& input) {
  json ctx = json::object();
  if (input.is_object() && input.contains("objectWriteTraceId") && !input["objectWriteTraceId"].is_null())
    ctx["objectWriteTraceId"] = json::array({value_text(input["objectWriteTraceId"])});
  return ctx;
}

json ids_context(const std::string& id, const json& input) {
  json ctx = trace_context(input);
  ctx["ids"] = json::array({id});
  return ctx;
}

std::string not_found_message(const ObjectType& t) {
  return "Could not get some " + t.singular_upper +
         " objects, they may be deleted or not exist. Check that ids are valid.";
}

Reply unknown_type(const std::string& name) {
  return error_reply(400, "Unable to infer object type from: " + name, "OBJECT_NOT_FOUND");
}

// The granular scope reading an object type needs, as HubSpot names it.
std::string read_scope(const std::string& type) {
  if (type == "contacts" || type == "companies" || type == "deals") return "crm.objects." + type + ".read";
  return "crm.objects.custom.read";
}

Reply missing_scope(const std::string& type) {
  return error_reply(403,
                     "This app hasn't been granted all required scopes to make this call. Read more about required "
                     "scopes here: https://developers.hubspot.com/scopes.",
                     "MISSING_SCOPES",
                     {{"errors", json::array({{{"message", "One or more of the following scopes are required."},
                                               {"context", {{"requiredGranularScopes", json::array({read_scope(type)})}}}}})}});
}

Reply method_not_allowed(const httplib::Request& req) {
  return error_reply(405, "Method " + req.method + " is not allowed on " + req.path, "METHOD_NOT_ALLOWED");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Routing

Reply HubspotEmulator::Impl::route_crm(Call& c) {
  const auto& s = c.segs;
  const std::string& m = c.req.method;
  if (s.size() >= 4 && s[1] == "v3" && (s[2] == "objects" || s[2] == "properties") &&
      std::find(opt.unreadable_objects.begin(), opt.unreadable_objects.end(), s[3]) != opt.unreadable_objects.end())
    return missing_scope(s[3]);
  if (s.size() >= 4 && s[1] == "v3" && s[2] == "objects") {
    ObjectType* t = find_type(s[3]);
    if (t == nullptr) return unknown_type(s[3]);
    if (s.size() == 4) {
      if (m == "GET") return list_objects(c, *t);
      if (m == "POST") return create_object(c, *t);
      return method_not_allowed(c.req);
    }
    if (s.size() == 5) {
      if (s[4] == "search" && m == "POST") return search(c, *t);
      if (s[4] == "batch") return method_not_allowed(c.req);
      if (m == "GET" || m == "PATCH" || m == "DELETE") return single_object(c, *t, s[4]);
      return method_not_allowed(c.req);
    }
    if (s.size() == 6 && s[4] == "batch") {
      if (m != "POST") return method_not_allowed(c.req);
      return batch(c, *t, s[5]);
    }
  }
  if (s.size() >= 4 && s[1] == "v3" && s[2] == "properties") {
    ObjectType* t = find_type(s[3]);
    if (t == nullptr) return unknown_type(s[3]);
    if (s.size() == 4) return properties(c, *t);
    if (s.size() == 5) return property(c, *t, s[4]);
  }
  return error_reply(404, "Unable to route request: " + m + " " + c.req.path, "OBJECT_NOT_FOUND");
}

// ---------------------------------------------------------------------------------------------
// Objects

Reply HubspotEmulator::Impl::list_objects(Call& c, ObjectType& t) {
  const httplib::Request& req = c.req;
  int limit = 10;
  if (req.has_param("limit")) {
    auto v = parse_int64(req.get_param_value("limit"));
    if (!v || *v < 1 || *v > kListMax)
      return validation("limit must be an integer between 1 and " + std::to_string(kListMax) + ", got " +
                        req.get_param_value("limit"));
    limit = static_cast<int>(*v);
  }
  std::uint64_t after = 0;
  if (req.has_param("after") && !req.get_param_value("after").empty()) {
    auto v = decode_cursor(req.get_param_value("after"));
    if (!v) return validation("Invalid paging cursor (after): " + req.get_param_value("after"));
    after = *v;
  }
  const bool archived = req.has_param("archived") && lower(req.get_param_value("archived")) == "true";
  const PropSel sel = query_props(req);
  json results = json::array();
  auto it = t.records.lower_bound(after);
  for (; it != t.records.end() && static_cast<int>(results.size()) < limit; ++it)
    if (it->second.cur.archived == archived) results.push_back(render(t, it->first, it->second.cur, sel));
  while (it != t.records.end() && it->second.cur.archived != archived) ++it;
  json body{{"results", std::move(results)}};
  if (it != t.records.end()) {
    const std::string cursor = encode_cursor(it->first);
    std::string link = base_url() + req.path + "?after=" + cursor + "&limit=" + std::to_string(limit);
    if (!sel.names.empty()) {
      std::string joined;
      for (const auto& n : sel.names) joined += (joined.empty() ? "" : "%2C") + n;
      link += "&properties=" + joined;
    }
    if (archived) link += "&archived=true";
    body["paging"] = {{"next", {{"after", cursor}, {"link", link}}}};
  }
  return json_reply(200, body);
}

HubspotEmulator::Impl::Record* HubspotEmulator::Impl::resolve(ObjectType& t, const std::string& id,
                                                              const std::string& id_property, bool include_archived) {
  if (id_property.empty() || id_property == "hs_object_id") {
    auto num = parse_id(id);
    if (!num) return nullptr;
    auto it = t.records.find(*num);
    if (it == t.records.end() || (it->second.cur.archived && !include_archived)) return nullptr;
    return &it->second;
  }
  auto idx = t.unique.find(id_property);
  if (idx != t.unique.end()) {
    auto hit = idx->second.find(t.unique_key(id_property, id));
    if (hit != idx->second.end()) return &t.records.at(hit->second);
  }
  if (include_archived) {
    const std::string key = t.unique_key(id_property, id);
    for (auto& [rid, rec] : t.records) {
      if (!rec.cur.archived) continue;
      auto v = rec.cur.props.find(id_property);
      if (v != rec.cur.props.end() && t.unique_key(id_property, v->second) == key) return &rec;
    }
  }
  return nullptr;
}

Reply HubspotEmulator::Impl::create_object(Call& c, ObjectType& t) {
  if (!c.body.is_object()) return validation("Invalid input JSON: expected an object with \"properties\"");
  Changes changes;
  auto errs = validate(t, c.body.contains("properties") ? c.body["properties"] : json::object(), changes);
  if (!errs.empty()) return validation_reply(errs);
  if (auto existing = unique_conflict(t, changes, 0))
    return error_reply(409, conflict_message(t, *existing), "CONFLICT");
  Record& r = create_record(t, changes);
  return json_reply(201, render(t, r.id, r.cur, written_props(changes)));
}

Reply HubspotEmulator::Impl::single_object(Call& c, ObjectType& t, const std::string& id) {
  const httplib::Request& req = c.req;
  const std::string id_property = req.has_param("idProperty") ? req.get_param_value("idProperty") : "";
  if (!id_property.empty() && id_property != "hs_object_id" && !t.is_unique(id_property))
    return validation("idProperty " + id_property + " is not a unique-value property of " + t.name);
  const bool include_archived = req.method == "GET" && req.has_param("archived") &&
                                lower(req.get_param_value("archived")) == "true";
  if (req.method == "DELETE") {
    if (Record* r = resolve(t, id, id_property, false)) archive_record(t, *r);
    return Reply{204, "", {}};
  }
  Record* r = resolve(t, id, id_property, include_archived);
  if (r == nullptr) return error_reply(404, "resource not found", "OBJECT_NOT_FOUND");
  if (req.method == "GET") return json_reply(200, render(t, r->id, r->cur, query_props(req)));
  // PATCH
  if (!c.body.is_object()) return validation("Invalid input JSON: expected an object with \"properties\"");
  Changes changes;
  auto errs = validate(t, c.body.contains("properties") ? c.body["properties"] : json::object(), changes);
  if (!errs.empty()) return validation_reply(errs);
  if (auto existing = unique_conflict(t, changes, r->id))
    return error_reply(409, conflict_message(t, *existing), "CONFLICT");
  update_record(t, *r, changes);
  return json_reply(200, render(t, r->id, r->cur, written_props(changes)));
}

// ---------------------------------------------------------------------------------------------
// Batch

Reply HubspotEmulator::Impl::batch_reply(int ok_status, json results, json errors, std::int64_t started) {
  if (opt.shuffle_batch_results && results.size() > 1) {
    std::vector<json> v(results.begin(), results.end());
    std::shuffle(v.begin(), v.end(), misc_rng);
    results = json(v);
  }
  json body{{"status", "COMPLETE"}, {"results", std::move(results)}};
  if (!errors.empty()) {
    body["numErrors"] = errors.size();
    body["errors"] = std::move(errors);
  }
  body["startedAt"] = iso_ms(started);
  body["completedAt"] = iso_ms(wall_ms());
  return json_reply(body.contains("errors") ? 207 : ok_status, body);
}

Reply HubspotEmulator::Impl::batch(Call& c, ObjectType& t, const std::string& op) {
  if (op != "read" && op != "create" && op != "update" && op != "upsert" && op != "archive")
    return error_reply(404, "Unable to route request: POST " + c.req.path, "OBJECT_NOT_FOUND");
  if (!c.body.is_object()) return validation("Invalid input JSON: expected an object with \"inputs\"");
  auto it = c.body.find("inputs");
  if (it == c.body.end() || !it->is_array())
    return validation("Invalid input JSON: \"inputs\" must be an array");
  if (it->empty()) return validation("Invalid input: \"inputs\" must not be empty");
  if (it->size() > kMaxBatch)
    return validation("Too many inputs: " + std::to_string(it->size()) + "; a batch takes at most " +
                      std::to_string(kMaxBatch));
  for (const auto& in : *it)
    if (!in.is_object()) return validation("Invalid input JSON: each input must be an object");
  if (op == "read") return batch_read(c, t, *it);
  if (op == "create") return batch_create(c, t, *it);
  if (op == "update") return batch_update(c, t, *it);
  if (op == "upsert") return batch_upsert(c, t, *it);
  return batch_archive(c, t, *it);
}

Reply HubspotEmulator::Impl::batch_read(Call& c, ObjectType& t, const json& inputs) {
  const std::int64_t started = wall_ms();
  const std::string id_property = c.body.value("idProperty", std::string());
  if (!id_property.empty() && id_property != "hs_object_id" && !t.is_unique(id_property))
    return validation("idProperty " + id_property + " is not a unique-value property of " + t.name);
  const bool archived = c.body.value("archived", false);
  const PropSel sel = body_props(c.body);
  json results = json::array();
  json missing = json::array();
  std::unordered_set<std::uint64_t> seen;
  for (const auto& in : inputs) {
    const std::string id = value_text(in.value("id", json()));
    Record* r = resolve(t, id, id_property, archived);
    if (r == nullptr || r->cur.archived != archived) {
      missing.push_back(id);
      continue;
    }
    if (seen.insert(r->id).second) results.push_back(render(t, r->id, r->cur, sel));
  }
  json errors = json::array();
  if (!missing.empty())
    errors.push_back(row_error("OBJECT_NOT_FOUND", not_found_message(t), {{"ids", missing}}));
  return batch_reply(200, std::move(results), std::move(errors), started);
}

Reply HubspotEmulator::Impl::batch_create(Call&, ObjectType& t, const json& inputs) {
  const std::int64_t started = wall_ms();
  const bool whole = opt.batch_errors == "whole";
  std::vector<Changes> changes(inputs.size());
  std::vector<std::vector<FieldError>> errs(inputs.size());
  bool any_invalid = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    errs[i] = validate(t, inputs[i].contains("properties") ? inputs[i]["properties"] : json::object(), changes[i]);
    any_invalid = any_invalid || !errs[i].empty();
  }
  if (whole && any_invalid) {
    std::vector<FieldError> all;
    for (const auto& e : errs) all.insert(all.end(), e.begin(), e.end());
    return validation_reply(all);
  }
  // A unique value (a contact's email) that exists or repeats fails the whole batch.
  std::unordered_map<std::string, std::unordered_set<std::string>> in_batch;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!errs[i].empty()) continue;
    if (auto existing = unique_conflict(t, changes[i], 0))
      return error_reply(409, conflict_message(t, *existing), "CONFLICT");
    for (const auto& [k, v] : changes[i]) {
      if (v.empty() || !t.is_unique(k)) continue;
      if (!in_batch[k].insert(t.unique_key(k, v)).second)
        return error_reply(409,
                           "Duplicate " + k + " in batch input: " + v +
                               " (creating it twice would make a second record with the same value)",
                           "CONFLICT");
    }
  }
  json results = json::array();
  json errors = json::array();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!errs[i].empty()) {
      errors.push_back(row_error("VALIDATION_ERROR", validation_message(errs[i]), trace_context(inputs[i]), &errs[i]));
      continue;
    }
    Record& r = create_record(t, changes[i]);
    results.push_back(render(t, r.id, r.cur, written_props(changes[i])));
  }
  return batch_reply(201, std::move(results), std::move(errors), started);
}

Reply HubspotEmulator::Impl::batch_update(Call& c, ObjectType& t, const json& inputs) {
  const std::int64_t started = wall_ms();
  const bool whole = opt.batch_errors == "whole";
  const std::string top_id_property = c.body.value("idProperty", std::string());
  std::vector<std::string> ids(inputs.size()), id_props(inputs.size());
  std::set<std::string> seen, dups;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ids[i] = value_text(inputs[i].value("id", json()));
    id_props[i] = inputs[i].value("idProperty", top_id_property);
    if (!id_props[i].empty() && id_props[i] != "hs_object_id" && !t.is_unique(id_props[i]))
      return validation("idProperty " + id_props[i] + " is not a unique-value property of " + t.name);
    const std::string key = id_props[i] + "\x1f" + t.unique_key(id_props[i], ids[i]);
    if (!seen.insert(key).second) dups.insert(ids[i]);
  }
  if (!dups.empty()) {
    std::string list;
    for (const auto& d : dups) list += (list.empty() ? "" : ", ") + d;
    return validation("Duplicate IDs found in batch input: [" + list + "]. IDs must be unique");
  }
  std::vector<Changes> changes(inputs.size());
  std::vector<std::vector<FieldError>> errs(inputs.size());
  bool any_invalid = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    errs[i] = validate(t, inputs[i].contains("properties") ? inputs[i]["properties"] : json::object(), changes[i]);
    any_invalid = any_invalid || !errs[i].empty();
  }
  if (whole && any_invalid) {
    std::vector<FieldError> all;
    for (const auto& e : errs) all.insert(all.end(), e.begin(), e.end());
    return validation_reply(all);
  }
  json results = json::array();
  json errors = json::array();
  json missing = json::array();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Record* r = resolve(t, ids[i], id_props[i], false);
    if (r == nullptr) {
      missing.push_back(ids[i]);
      continue;
    }
    if (!errs[i].empty()) {
      errors.push_back(
          row_error("VALIDATION_ERROR", validation_message(errs[i]), ids_context(ids[i], inputs[i]), &errs[i]));
      continue;
    }
    if (auto existing = unique_conflict(t, changes[i], r->id)) {
      errors.push_back(row_error("CONFLICT", conflict_message(t, *existing), ids_context(ids[i], inputs[i])));
      continue;
    }
    update_record(t, *r, changes[i]);
    results.push_back(render(t, r->id, r->cur, written_props(changes[i])));
  }
  if (!missing.empty())
    errors.push_back(row_error("OBJECT_NOT_FOUND", not_found_message(t), {{"ids", missing}}));
  return batch_reply(200, std::move(results), std::move(errors), started);
}

Reply HubspotEmulator::Impl::batch_upsert(Call&, ObjectType& t, const json& inputs) {
  const std::int64_t started = wall_ms();
  const bool whole = opt.batch_errors == "whole";
  std::vector<std::string> ids(inputs.size()), id_props(inputs.size());
  std::set<std::string> seen, dups;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ids[i] = value_text(inputs[i].value("id", json()));
    id_props[i] = inputs[i].value("idProperty", std::string());
    if (id_props[i].empty())
      return validation("Each upsert input needs an idProperty (a property with unique values)");
    if (!t.is_unique(id_props[i]))
      return validation("idProperty " + id_props[i] + " of " + t.name +
                        " does not have unique values (hasUniqueValue); upsert cannot use it");
    if (ids[i].empty()) return validation("Each upsert input needs an id");
    const std::string key = id_props[i] + "\x1f" + t.unique_key(id_props[i], ids[i]);
    if (!seen.insert(key).second) dups.insert(ids[i]);
  }
  if (!dups.empty()) {
    std::string list;
    for (const auto& d : dups) list += (list.empty() ? "" : ", ") + d;
    return validation("Duplicate IDs found in batch input: [" + list + "]. IDs must be unique");
  }
  std::vector<Changes> changes(inputs.size());
  std::vector<std::vector<FieldError>> errs(inputs.size());
  bool any_invalid = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    errs[i] = validate(t, inputs[i].contains("properties") ? inputs[i]["properties"] : json::object(), changes[i]);
    // The id is itself a value of idProperty and must be valid for it.
    std::string id_value;
    if (auto e = convert_value(t, *t.prop(id_props[i]), json(ids[i]), id_value)) errs[i].push_back(*e);
    any_invalid = any_invalid || !errs[i].empty();
  }
  if (whole && any_invalid) {
    std::vector<FieldError> all;
    for (const auto& e : errs) all.insert(all.end(), e.begin(), e.end());
    return validation_reply(all);
  }
  json results = json::array();
  json errors = json::array();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!errs[i].empty()) {
      errors.push_back(
          row_error("VALIDATION_ERROR", validation_message(errs[i]), ids_context(ids[i], inputs[i]), &errs[i]));
      continue;
    }
    Record* r = resolve(t, ids[i], id_props[i], false);
    json row;
    if (r != nullptr) {
      if (auto existing = unique_conflict(t, changes[i], r->id)) {
        errors.push_back(row_error("CONFLICT", conflict_message(t, *existing), ids_context(ids[i], inputs[i])));
        continue;
      }
      update_record(t, *r, changes[i]);
      row = render(t, r->id, r->cur, written_props(changes[i]));
      row["new"] = false;
    } else {
      Changes c = changes[i];
      const bool sets_id_prop =
          std::any_of(c.begin(), c.end(), [&](const auto& kv) { return kv.first == id_props[i] && !kv.second.empty(); });
      if (!sets_id_prop) {
        std::string id_value;
        convert_value(t, *t.prop(id_props[i]), json(ids[i]), id_value);
        c.emplace_back(id_props[i], id_value);
      }
      if (auto existing = unique_conflict(t, c, 0)) {
        errors.push_back(row_error("CONFLICT", conflict_message(t, *existing), ids_context(ids[i], inputs[i])));
        continue;
      }
      Record& created = create_record(t, c);
      row = render(t, created.id, created.cur, written_props(c));
      row["new"] = true;
    }
    results.push_back(std::move(row));
  }
  return batch_reply(200, std::move(results), std::move(errors), started);
}

Reply HubspotEmulator::Impl::batch_archive(Call&, ObjectType& t, const json& inputs) {
  for (const auto& in : inputs) {
    const std::string id = value_text(in.value("id", json()));
    if (Record* r = resolve(t, id, "", false)) archive_record(t, *r);
  }
  return Reply{204, "", {}};
}

// ---------------------------------------------------------------------------------------------
// Search

namespace {

enum class Op { eq, neq, lt, lte, gt, gte, between, in, not_in, has, not_has, contains, not_contains };

std::optional<Op> parse_op(const std::string& s) {
  static const std::unordered_map<std::string, Op> ops{
      {"EQ", Op::eq},           {"NEQ", Op::neq},
      {"LT", Op::lt},           {"LTE", Op::lte},
      {"GT", Op::gt},           {"GTE", Op::gte},
      {"BETWEEN", Op::between}, {"IN", Op::in},
      {"NOT_IN", Op::not_in},   {"HAS_PROPERTY", Op::has},
      {"NOT_HAS_PROPERTY", Op::not_has}, {"CONTAINS_TOKEN", Op::contains},
      {"NOT_CONTAINS_TOKEN", Op::not_contains}};
  auto it = ops.find(s);
  if (it == ops.end()) return std::nullopt;
  return it->second;
}

enum class Kind { text, number, time };

Kind kind_of(const PropertyDef& d) {
  if (d.type == "number") return Kind::number;
  if (d.type == "date" || d.type == "datetime") return Kind::time;
  return Kind::text;
}

// A stored value as a number (numbers, dates, datetimes).
std::optional<double> stored_number(Kind k, const std::string& v) {
  if (k == Kind::number) return parse_number(v);
  if (auto ms = parse_iso_ms(v)) return static_cast<double>(*ms);
  if (auto ms = parse_int64(v)) return static_cast<double>(*ms);
  return std::nullopt;
}

// A filter value as a number: numbers; epoch ms or ISO for dates.
std::optional<double> filter_number(Kind k, const json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  const std::string s = trim(v.get<std::string>());
  if (k == Kind::number) return parse_number(s);
  if (auto ms = parse_int64(s)) return static_cast<double>(*ms);
  if (auto ms = parse_iso_ms(s)) return static_cast<double>(*ms);
  return std::nullopt;
}

// Properties the record keeps as numbers already: no parsing in the scan.
enum class Special { none, created, modified, id };

Special special_of(const ObjectType& t, const std::string& prop) {
  if (prop == t.created_prop) return Special::created;
  if (prop == t.modified_prop) return Special::modified;
  if (prop == "hs_object_id") return Special::id;
  return Special::none;
}

std::optional<double> special_number(Special sp, std::uint64_t id, const State& s) {
  switch (sp) {
    case Special::created: return static_cast<double>(s.created);
    case Special::modified: return static_cast<double>(s.updated);
    case Special::id: return static_cast<double>(id);
    case Special::none: break;
  }
  return std::nullopt;
}

struct Filter {
  std::string prop;
  Special special = Special::none;
  Op op = Op::eq;
  Kind kind = Kind::text;
  // A string property: HubSpot compares its stored values without regard to case. EQ, NEQ
  // and the range operators lower-case both sides; IN and NOT_IN lower-case only the stored
  // value and take their values as given ("values must be lowercase"), so a mixed-case IN
  // value matches nothing, as on a real account.
  bool ci = false;
  bool multi = false;  // checkbox: ;-joined values
  std::string value, high;
  double num = 0, num_high = 0;
  std::vector<std::string> values;
  std::vector<double> nums;
};

bool text_match_any(const Filter& f, const std::string& stored, const std::function<bool(const std::string&)>& pred) {
  if (!f.multi) return pred(f.ci ? lower_unicode(stored) : stored);
  for (const auto& part : split(stored, ';'))
    if (pred(part)) return true;
  return false;
}

bool matches(const Filter& f, std::uint64_t id, const State& s) {
  if (f.special != Special::none && f.op != Op::contains && f.op != Op::not_contains) {
    const double x = *special_number(f.special, id, s);
    switch (f.op) {
      case Op::has: return true;
      case Op::not_has: return false;
      case Op::eq: return x == f.num;
      case Op::neq: return x != f.num;
      case Op::lt: return x < f.num;
      case Op::lte: return x <= f.num;
      case Op::gt: return x > f.num;
      case Op::gte: return x >= f.num;
      case Op::between: return x >= f.num && x <= f.num_high;
      case Op::in: return std::find(f.nums.begin(), f.nums.end(), x) != f.nums.end();
      case Op::not_in: return std::find(f.nums.begin(), f.nums.end(), x) == f.nums.end();
      default: return false;
    }
  }
  auto it = s.props.find(f.prop);
  const std::string* v = it == s.props.end() || it->second.empty() ? nullptr : &it->second;
  switch (f.op) {
    case Op::has: return v != nullptr;
    case Op::not_has: return v == nullptr;
    default: break;
  }
  if (f.kind != Kind::text) {
    std::optional<double> x = v ? stored_number(f.kind, *v) : std::nullopt;
    switch (f.op) {
      case Op::eq: return x && *x == f.num;
      case Op::neq: return !x || *x != f.num;
      case Op::lt: return x && *x < f.num;
      case Op::lte: return x && *x <= f.num;
      case Op::gt: return x && *x > f.num;
      case Op::gte: return x && *x >= f.num;
      case Op::between: return x && *x >= f.num && *x <= f.num_high;
      case Op::in: return x && std::find(f.nums.begin(), f.nums.end(), *x) != f.nums.end();
      case Op::not_in: return !x || std::find(f.nums.begin(), f.nums.end(), *x) == f.nums.end();
      case Op::contains: return x && v->find(f.value) != std::string::npos;
      case Op::not_contains: return !x || v->find(f.value) == std::string::npos;
      default: return false;
    }
  }
  switch (f.op) {
    case Op::eq: return v && text_match_any(f, *v, [&](const std::string& x) { return x == f.value; });
    case Op::neq: return !v || !text_match_any(f, *v, [&](const std::string& x) { return x == f.value; });
    case Op::lt: return v && (f.ci ? lower_unicode(*v) : *v) < f.value;
    case Op::lte: return v && (f.ci ? lower_unicode(*v) : *v) <= f.value;
    case Op::gt: return v && (f.ci ? lower_unicode(*v) : *v) > f.value;
    case Op::gte: return v && (f.ci ? lower_unicode(*v) : *v) >= f.value;
    case Op::between: {
      if (!v) return false;
      const std::string x = f.ci ? lower_unicode(*v) : *v;
      return x >= f.value && x <= f.high;
    }
    case Op::in:
      return v && text_match_any(f, *v, [&](const std::string& x) {
               return std::find(f.values.begin(), f.values.end(), x) != f.values.end();
             });
    case Op::not_in:
      return !v || !text_match_any(f, *v, [&](const std::string& x) {
               return std::find(f.values.begin(), f.values.end(), x) != f.values.end();
             });
    case Op::contains: {
      if (!v) return false;
      std::string needle = lower(f.value);
      needle.erase(std::remove(needle.begin(), needle.end(), '*'), needle.end());
      return lower(*v).find(needle) != std::string::npos;
    }
    case Op::not_contains: {
      if (!v) return true;
      std::string needle = lower(f.value);
      needle.erase(std::remove(needle.begin(), needle.end(), '*'), needle.end());
      return lower(*v).find(needle) == std::string::npos;
    }
    default: return false;
  }
}

}  // namespace

Reply HubspotEmulator::Impl::search(Call& c, ObjectType& t) {
  const json& b = c.body.is_null() ? json::object() : c.body;
  if (!b.is_object()) return validation("Invalid input JSON: expected an object");

  // Filters.
  std::vector<std::vector<Filter>> groups;
  if (b.contains("filterGroups") && !b["filterGroups"].is_null()) {
    const json& fg = b["filterGroups"];
    if (!fg.is_array()) return validation("filterGroups must be an array");
    if (fg.size() > 5) return validation("Too many filter groups: " + std::to_string(fg.size()) + " (at most 5)");
    std::size_t total = 0;
    for (const auto& g : fg) {
      if (!g.is_object() || !g.contains("filters") || !g["filters"].is_array())
        return validation("each filter group needs a \"filters\" array");
      const json& fs = g["filters"];
      if (fs.size() > 6)
        return validation("Too many filters in a group: " + std::to_string(fs.size()) + " (at most 6)");
      total += fs.size();
      if (total > 18) return validation("Too many filters: more than 18 in total");
      std::vector<Filter> group;
      for (const auto& fj : fs) {
        if (!fj.is_object() || !fj.contains("propertyName") || !fj["propertyName"].is_string())
          return validation("each filter needs a propertyName");
        Filter f;
        f.prop = fj["propertyName"].get<std::string>();
        const PropertyDef* d = t.prop(f.prop);
        if (d == nullptr)
          return validation("There was a problem with the request: property " + f.prop + " does not exist on " +
                            t.name);
        auto op = parse_op(fj.value("operator", std::string("EQ")));
        if (!op) return validation("Unknown filter operator " + fj.value("operator", std::string()));
        f.op = *op;
        f.kind = kind_of(*d);
        f.special = special_of(t, f.prop);
        f.ci = d->type == "string";
        f.multi = d->field_type == "checkbox";
        auto need = [&](const char* key) -> const json* {
          if (!fj.contains(key) || fj[key].is_null()) return nullptr;
          return &fj[key];
        };
        if (f.op == Op::in || f.op == Op::not_in) {
          const json* vs = need("values");
          if (vs == nullptr || !vs->is_array())
            return validation("operator " + fj.value("operator", std::string()) + " needs \"values\"");
          for (const auto& v : *vs) {
            if (f.kind == Kind::text) {
              f.values.push_back(value_text(v));  // as given: mixed case matches nothing
            } else {
              auto n = filter_number(f.kind, v);
              if (!n) return validation("filter value " + value_text(v) + " is not valid for " + f.prop);
              f.nums.push_back(*n);
            }
          }
        } else if (f.op != Op::has && f.op != Op::not_has) {
          const json* v = need("value");
          if (v == nullptr) return validation("filter on " + f.prop + " needs a \"value\"");
          f.value = f.ci ? lower_unicode(value_text(*v)) : value_text(*v);
          if (f.kind != Kind::text && f.op != Op::contains && f.op != Op::not_contains) {
            auto n = filter_number(f.kind, *v);
            if (!n) return validation("filter value " + value_text(*v) + " is not valid for " + f.prop);
            f.num = *n;
          }
          if (f.op == Op::between) {
            const json* h = need("highValue");
            if (h == nullptr) return validation("BETWEEN needs a \"highValue\"");
            f.high = f.ci ? lower_unicode(value_text(*h)) : value_text(*h);
            if (f.kind != Kind::text) {
              auto n = filter_number(f.kind, *h);
              if (!n) return validation("filter value " + value_text(*h) + " is not valid for " + f.prop);
              f.num_high = *n;
            }
          }
        }
        group.push_back(std::move(f));
      }
      groups.push_back(std::move(group));
    }
  }

  // Sort.
  std::string sort_prop;
  bool descending = false;
  Kind sort_kind = Kind::text;
  Special sort_special = Special::none;
  if (b.contains("sorts") && !b["sorts"].is_null()) {
    const json& s = b["sorts"];
    if (!s.is_array()) return validation("sorts must be an array");
    if (s.size() > 1) return validation("Only one sort is allowed; got " + std::to_string(s.size()));
    if (s.size() == 1) {
      if (s[0].is_string()) {
        sort_prop = s[0].get<std::string>();
        if (!sort_prop.empty() && sort_prop[0] == '-') {
          descending = true;
          sort_prop.erase(0, 1);
        }
      } else if (s[0].is_object()) {
        sort_prop = s[0].value("propertyName", std::string());
        const std::string dir = s[0].value("direction", std::string("ASCENDING"));
        if (dir != "ASCENDING" && dir != "DESCENDING")
          return validation("sort direction must be ASCENDING or DESCENDING");
        descending = dir == "DESCENDING";
      }
      const PropertyDef* d = t.prop(sort_prop);
      if (d == nullptr) return validation("Cannot sort by unknown property " + sort_prop);
      sort_kind = kind_of(*d);
      sort_special = special_of(t, sort_prop);
    }
  }

  // Paging.
  std::int64_t limit = 10;
  if (b.contains("limit") && !b["limit"].is_null()) {
    const json& l = b["limit"];
    std::optional<std::int64_t> v;
    if (l.is_number_integer()) v = l.get<std::int64_t>();
    else if (l.is_string()) v = parse_int64(l.get<std::string>());
    if (!v || *v < 0 || *v > kSearchMax)
      return validation("limit must be an integer between 0 and " + std::to_string(kSearchMax));
    limit = *v;
  }
  std::int64_t after = 0;
  if (b.contains("after") && !b["after"].is_null()) {
    const json& a = b["after"];
    std::optional<std::int64_t> v;
    if (a.is_number_integer()) v = a.get<std::int64_t>();
    else if (a.is_string()) v = a.get<std::string>().empty() ? std::optional<std::int64_t>(0)
                                                              : parse_int64(a.get<std::string>());
    if (!v || *v < 0) return validation("after must be a non-negative integer offset");
    after = *v;
  }
  if (after >= kSearchWindow)
    return validation("Search results are limited to 10,000: paging beyond 10,000 results is not supported (after=" +
                      std::to_string(after) + ")");
  const std::string query = b.contains("query") && b["query"].is_string() ? lower(trim(b["query"].get<std::string>()))
                                                                           : std::string();
  const PropSel sel = body_props(b);

  // Scan what search can see.
  struct Hit {
    std::uint64_t id;
    const State* s;
    bool has = false;
    double num = 0;
    const std::string* text = nullptr;
  };
  const bool cacheable = opt.search_lag_ms == 0;
  std::string cache_key;
  if (cacheable) {
    if (search_cache_generation != generation || search_cache.size() > 64) {
      search_cache.clear();
      search_cache_generation = generation;
    }
    cache_key = t.name + '\x1f' + dump_json(b.value("filterGroups", json())) + '\x1f' +
                dump_json(b.value("sorts", json())) + '\x1f' + query;
    auto hit = search_cache.find(cache_key);
    if (hit != search_cache.end()) {
      const auto& ids = hit->second.ids;
      const auto total = static_cast<std::int64_t>(ids.size());
      const std::int64_t end = std::min({after + limit, total, kSearchWindow});
      json results = json::array();
      for (std::int64_t i = after; i < end; ++i) {
        const std::uint64_t id = ids[static_cast<std::size_t>(i)];
        results.push_back(render(t, id, t.records.at(id).cur, sel));
      }
      json body{{"total", total}, {"results", std::move(results)}};
      if (end < total && limit > 0) body["paging"] = {{"next", {{"after", std::to_string(end)}}}};
      return json_reply(200, body);
    }
  }
  std::vector<Hit> hits;
  const std::int64_t cutoff = steady_ms() - opt.search_lag_ms;
  for (const auto& [id, rec] : t.records) {
    const State* s = visible_state(rec, cutoff);
    if (s == nullptr || !s->exists || s->archived) continue;
    bool ok = groups.empty();
    for (const auto& g : groups) {
      bool all = true;
      for (const auto& f : g)
        if (!matches(f, id, *s)) {
          all = false;
          break;
        }
      if (all) {
        ok = true;
        break;
      }
    }
    if (!ok) continue;
    if (!query.empty()) {
      bool found = false;
      for (const auto& [k, v] : s->props) {
        const PropertyDef* d = t.prop(k);
        if (d != nullptr && d->type == "string" && lower(v).find(query) != std::string::npos) {
          found = true;
          break;
        }
      }
      if (!found) continue;
    }
    Hit h{id, s};
    if (sort_special != Special::none) {
      h.has = true;
      h.num = *special_number(sort_special, id, *s);
    } else if (!sort_prop.empty()) {
      auto v = s->props.find(sort_prop);
      if (v != s->props.end() && !v->second.empty()) {
        if (sort_kind == Kind::text) {
          h.has = true;
          h.text = &v->second;
        } else if (auto n = stored_number(sort_kind, v->second)) {
          h.has = true;
          h.num = *n;
        }
      }
    }
    hits.push_back(h);
  }
  const auto total = static_cast<std::int64_t>(hits.size());
  const std::int64_t end = std::min({after + limit, total, kSearchWindow});
  if (!sort_prop.empty()) {
    // Records without a value come last either way; ties by id ascending.
    auto less = [&](const Hit& a, const Hit& z) {
      if (a.has != z.has) return a.has;
      if (a.has) {
        if (sort_kind == Kind::text) {
          const int cmp = a.text->compare(*z.text);
          if (cmp != 0) return descending ? cmp > 0 : cmp < 0;
        } else if (a.num != z.num) {
          return descending ? a.num > z.num : a.num < z.num;
        }
      }
      return a.id < z.id;
    };
    if (cacheable) {
      std::sort(hits.begin(), hits.end(), less);
    } else if (after < end) {
      // Only the page is put in order: the rest is partitioned around it.
      const auto first = hits.begin() + after, last = hits.begin() + end;
      if (after > 0) std::nth_element(hits.begin(), first, hits.end(), less);
      if (last != hits.end()) std::nth_element(first, last, hits.end(), less);
      std::sort(first, last, less);
    }
  }
  if (cacheable) {
    auto& ids = search_cache[cache_key].ids;
    ids.reserve(hits.size());
    for (const auto& h : hits) ids.push_back(h.id);
  }
  json results = json::array();
  for (std::int64_t i = after; i < end; ++i)
    results.push_back(render(t, hits[static_cast<std::size_t>(i)].id, *hits[static_cast<std::size_t>(i)].s, sel));
  json body{{"total", total}, {"results", std::move(results)}};
  if (end < total && limit > 0) body["paging"] = {{"next", {{"after", std::to_string(end)}}}};
  return json_reply(200, body);
}

// ---------------------------------------------------------------------------------------------
// Properties

namespace {

bool valid_property_name(const std::string& n) {
  if (n.empty() || n[0] < 'a' || n[0] > 'z') return false;
  return std::all_of(n.begin(), n.end(),
                     [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'; });
}

bool valid_type_pair(const std::string& type, const std::string& field_type) {
  static const std::map<std::string, std::vector<std::string>> pairs{
      {"string", {"text", "textarea", "phonenumber", "html", "file"}},
      {"number", {"number"}},
      {"date", {"date"}},
      {"datetime", {"date"}},
      {"enumeration", {"select", "radio", "checkbox", "booleancheckbox"}},
      {"bool", {"booleancheckbox"}}};
  auto it = pairs.find(type);
  return it != pairs.end() && std::find(it->second.begin(), it->second.end(), field_type) != it->second.end();
}

std::optional<std::string> read_options(const json& j, std::vector<Option>& out) {
  if (!j.is_array()) return "options must be an array";
  out.clear();
  int i = 0;
  std::set<std::string> values;
  for (const auto& o : j) {
    if (!o.is_object() || !o.contains("label") || !o.contains("value"))
      return "each option needs a label and a value";
    Option opt;
    opt.label = value_text(o["label"]);
    opt.value = value_text(o["value"]);
    opt.description = o.value("description", std::string());
    opt.hidden = o.value("hidden", false);
    opt.display_order = o.value("displayOrder", i++);
    if (!values.insert(opt.value).second) return "option value " + opt.value + " appears twice";
    out.push_back(std::move(opt));
  }
  return std::nullopt;
}

}  // namespace

Reply HubspotEmulator::Impl::properties(Call& c, ObjectType& t) {
  const std::string& m = c.req.method;
  if (m == "GET") {
    json results = json::array();
    for (const auto& d : t.props) results.push_back(property_json(d));
    return json_reply(200, {{"results", results}});
  }
  if (m != "POST") return method_not_allowed(c.req);
  const json& b = c.body;
  if (!b.is_object()) return validation("Invalid input JSON: expected a property definition object");
  std::vector<std::string> missing;
  for (const char* k : {"name", "label", "type", "fieldType", "groupName"})
    if (!b.contains(k) || !b[k].is_string() || b[k].get<std::string>().empty()) missing.push_back(k);
  if (!missing.empty()) {
    std::string list;
    for (const auto& k : missing) list += (list.empty() ? "" : ", ") + k;
    return validation("Some required fields were not set: [" + list + "]");
  }
  PropertyDef d;
  d.name = b["name"].get<std::string>();
  d.label = b["label"].get<std::string>();
  d.type = b["type"].get<std::string>();
  d.field_type = b["fieldType"].get<std::string>();
  d.group_name = b["groupName"].get<std::string>();
  d.description = b.value("description", std::string());
  d.has_unique_value = b.value("hasUniqueValue", false);
  d.display_order = b.value("displayOrder", -1);
  if (!valid_property_name(d.name))
    return validation("Invalid property name " + d.name +
                      ": use lower-case letters, digits and underscores, starting with a letter");
  if (!valid_type_pair(d.type, d.field_type))
    return validation("Invalid fieldType " + d.field_type + " for property type " + d.type);
  if (b.contains("options") && !b["options"].is_null())
    if (auto err = read_options(b["options"], d.options)) return validation(*err);
  if ((d.type == "bool" || (d.type == "enumeration" && d.field_type == "booleancheckbox")) && d.options.empty()) {
    d.options = {Option{"Yes", "true", "", false, 0}, Option{"No", "false", "", false, 1}};
  }
  if (d.type == "enumeration" && d.options.empty())
    return validation("Enumeration property " + d.name + " needs options");
  if (t.prop(d.name) != nullptr)
    return error_reply(409, "A property named '" + d.name + "' already exists.", "OBJECT_ALREADY_EXISTS");
  d.created_at = d.updated_at = now_ts();
  const std::string name = d.name;
  t.add_prop(std::move(d));
  ++generation;
  if (t.prop(name)->has_unique_value) t.unique[name];  // starts empty: no record has the property yet
  return json_reply(201, property_json(*t.prop(name)));
}

Reply HubspotEmulator::Impl::property(Call& c, ObjectType& t, const std::string& name) {
  const std::string& m = c.req.method;
  const PropertyDef* existing = t.prop(name);
  if (existing == nullptr)
    return error_reply(404, "Unable to find property " + name + " on " + t.name, "OBJECT_NOT_FOUND");
  if (m == "GET") return json_reply(200, property_json(*existing));
  if (m == "DELETE") {
    if (existing->hubspot_defined)
      return validation("Property " + name + " is defined by HubSpot and cannot be archived");
    t.remove_prop(name);
    t.unique.erase(name);
    ++generation;
    return Reply{204, "", {}};
  }
  if (m != "PATCH") return method_not_allowed(c.req);
  const json& b = c.body;
  if (!b.is_object()) return validation("Invalid input JSON: expected an object");
  if (existing->read_only_definition) return validation("Property " + name + " is read-only and cannot be changed");
  PropertyDef d = *existing;
  if (b.contains("name") && value_text(b["name"]) != name)
    return validation("The internal name of a property cannot change");
  for (const char* k : {"label", "type", "fieldType", "groupName", "description"})
    if (b.contains(k) && !b[k].is_string()) return validation(std::string(k) + " must be a string");
  if (b.contains("label")) d.label = b["label"].get<std::string>();
  if (b.contains("type")) d.type = b["type"].get<std::string>();
  if (b.contains("fieldType")) d.field_type = b["fieldType"].get<std::string>();
  if (b.contains("groupName")) d.group_name = b["groupName"].get<std::string>();
  if (b.contains("description")) d.description = b["description"].get<std::string>();
  if (b.contains("displayOrder") && b["displayOrder"].is_number_integer()) d.display_order = b["displayOrder"];
  if (b.contains("options") && !b["options"].is_null())
    if (auto err = read_options(b["options"], d.options)) return validation(*err);
  if (!valid_type_pair(d.type, d.field_type))
    return validation("Invalid fieldType " + d.field_type + " for property type " + d.type);
  if (d.type == "enumeration" && d.options.empty()) return validation("Enumeration property " + name + " needs options");
  d.updated_at = now_ts();
  t.add_prop(std::move(d));
  ++generation;
  return json_reply(200, property_json(*t.prop(name)));
}

}  // namespace synctool::emulators
