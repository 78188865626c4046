// The HubSpot emulator's object store: types and property definitions, the seed, value
// validation, writes (with the history search lag needs) and the API shape of records.
#include <limits>

#include "emulators/hubspot/hubspot_internal.hpp"

namespace synctool::emulators {

using namespace hubspot_detail;
using json = nlohmann::json;

namespace {

PropertyDef def(std::string name, std::string label, std::string type, std::string field_type, std::string group,
                std::vector<Option> options = {}) {
  PropertyDef d;
  d.name = std::move(name);
  d.label = std::move(label);
  d.type = std::move(type);
  d.field_type = std::move(field_type);
  d.group_name = std::move(group);
  d.options = std::move(options);
  d.hubspot_defined = true;
  return d;
}

PropertyDef read_only(std::string name, std::string label, std::string type, std::string field_type,
                      std::string group) {
  PropertyDef d = def(std::move(name), std::move(label), std::move(type), std::move(field_type), std::move(group));
  d.read_only_value = true;
  d.read_only_definition = true;
  return d;
}

std::vector<Option> options_of(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<Option> out;
  int i = 0;
  for (const auto& [value, label] : pairs) out.push_back(Option{label, value, "", false, i++});
  return out;
}

bool valid_pair(const std::string& type, const std::string& field_type) {
  if (type == "string")
    return field_type == "text" || field_type == "textarea" || field_type == "phonenumber" || field_type == "html" ||
           field_type == "file";
  if (type == "number") return field_type == "number";
  if (type == "date" || type == "datetime") return field_type == "date";
  if (type == "enumeration")
    return field_type == "select" || field_type == "radio" || field_type == "checkbox" ||
           field_type == "booleancheckbox";
  if (type == "bool") return field_type == "booleancheckbox";
  return false;
}

std::string default_field_type(const std::string& type) {
  if (type == "number") return "number";
  if (type == "date" || type == "datetime") return "date";
  if (type == "enumeration") return "select";
  if (type == "bool") return "booleancheckbox";
  return "text";
}

bool looks_like_email(const std::string& v) {
  const auto at = v.find('@');
  if (at == std::string::npos || at == 0 || v.find('@', at + 1) != std::string::npos) return false;
  if (v.find_first_of(" \t\r\n") != std::string::npos) return false;
  const std::string domain = v.substr(at + 1);
  const auto dot = domain.find('.');
  return dot != std::string::npos && dot != 0 && domain.back() != '.';
}

std::string options_list(const PropertyDef& d) {
  std::string out = "[";
  for (std::size_t i = 0; i < d.options.size(); ++i) out += (i ? ", " : "") + d.options[i].value;
  return out + "]";
}

std::string json_to_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  return v.dump();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Types

void HubspotEmulator::Impl::install_builtin_types() {
  auto contacts = std::make_unique<ObjectType>();
  {
    ObjectType& t = *contacts;
    t.name = "contacts";
    t.type_id = "0-1";
    t.singular_upper = "CONTACT";
    t.singular_label = "Contact";
    t.created_prop = "createdate";
    t.modified_prop = "lastmodifieddate";
    t.default_props = {"firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"};
    const std::string g = "contactinformation";
    t.add_prop(def("email", "Email", "string", "text", g));
    t.add_prop(def("firstname", "First Name", "string", "text", g));
    t.add_prop(def("lastname", "Last Name", "string", "text", g));
    t.add_prop(def("company", "Company Name", "string", "text", g));
    t.add_prop(def("phone", "Phone Number", "string", "phonenumber", g));
    t.add_prop(def("website", "Website URL", "string", "text", g));
    t.add_prop(def("jobtitle", "Job Title", "string", "text", g));
    t.add_prop(def("city", "City", "string", "text", g));
    t.add_prop(def("country", "Country/Region", "string", "text", g));
    t.add_prop(def("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", g,
                   options_of({{"subscriber", "Subscriber"},
                               {"lead", "Lead"},
                               {"marketingqualifiedlead", "Marketing Qualified Lead"},
                               {"salesqualifiedlead", "Sales Qualified Lead"},
                               {"opportunity", "Opportunity"},
                               {"customer", "Customer"},
                               {"evangelist", "Evangelist"},
                               {"other", "Other"}})));
    t.add_prop(read_only("hs_object_id", "Record ID", "number", "number", g));
    t.add_prop(read_only("createdate", "Create Date", "datetime", "date", g));
    t.add_prop(read_only("lastmodifieddate", "Last Modified Date", "datetime", "date", g));
  }
  auto companies = std::make_unique<ObjectType>();
  {
    ObjectType& t = *companies;
    t.name = "companies";
    t.type_id = "0-2";
    t.singular_upper = "COMPANY";
    t.singular_label = "Company";
    t.created_prop = "createdate";
    t.modified_prop = "hs_lastmodifieddate";
    t.default_props = {"name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"};
    const std::string g = "companyinformation";
    t.add_prop(def("name", "Company name", "string", "text", g));
    t.add_prop(def("domain", "Company Domain Name", "string", "text", g));
    t.add_prop(def("industry", "Industry", "string", "text", g));
    t.add_prop(def("city", "City", "string", "text", g));
    t.add_prop(def("phone", "Phone Number", "string", "phonenumber", g));
    t.add_prop(def("numberofemployees", "Number of Employees", "number", "number", g));
    t.add_prop(def("annualrevenue", "Annual Revenue", "number", "number", g));
    t.add_prop(read_only("hs_object_id", "Record ID", "number", "number", g));
    t.add_prop(read_only("createdate", "Create Date", "datetime", "date", g));
    t.add_prop(read_only("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", g));
  }
  auto deals = std::make_unique<ObjectType>();
  {
    ObjectType& t = *deals;
    t.name = "deals";
    t.type_id = "0-3";
    t.singular_upper = "DEAL";
    t.singular_label = "Deal";
    t.created_prop = "createdate";
    t.modified_prop = "hs_lastmodifieddate";
    t.default_props = {"dealname",   "amount",       "dealstage",           "pipeline",
                       "closedate",  "createdate",   "hs_lastmodifieddate", "hs_object_id"};
    const std::string g = "dealinformation";
    t.add_prop(def("dealname", "Deal Name", "string", "text", g));
    t.add_prop(def("amount", "Amount", "number", "number", g));
    t.add_prop(def("dealstage", "Deal Stage", "enumeration", "radio", g,
                   options_of({{"appointmentscheduled", "Appointment Scheduled"},
                               {"qualifiedtobuy", "Qualified To Buy"},
                               {"presentationscheduled", "Presentation Scheduled"},
                               {"decisionmakerboughtin", "Decision Maker Bought-In"},
                               {"contractsent", "Contract Sent"},
                               {"closedwon", "Closed Won"},
                               {"closedlost", "Closed Lost"}})));
    t.add_prop(def("pipeline", "Pipeline", "string", "text", g));
    t.add_prop(def("closedate", "Close Date", "datetime", "date", g));
    t.add_prop(read_only("hs_object_id", "Record ID", "number", "number", g));
    t.add_prop(read_only("createdate", "Create Date", "datetime", "date", g));
    t.add_prop(read_only("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", g));
  }
  for (auto* t : {contacts.get(), companies.get(), deals.get()}) {
    aliases[t->name] = t;
    aliases[t->type_id] = t;
    aliases[t->name.substr(0, t->name.size() - 1)] = t;  // contact, companie (harmless), deal
  }
  aliases["company"] = companies.get();
  types["contacts"] = std::move(contacts);
  types["companies"] = std::move(companies);
  types["deals"] = std::move(deals);
}

HubspotEmulator::Impl::ObjectType* HubspotEmulator::Impl::find_type(const std::string& name) {
  auto it = aliases.find(name);
  if (it != aliases.end()) return it->second;
  it = aliases.find(lower(name));
  return it == aliases.end() ? nullptr : it->second;
}

const HubspotEmulator::Impl::ObjectType* HubspotEmulator::Impl::find_type(const std::string& name) const {
  return const_cast<Impl*>(this)->find_type(name);
}

HubspotEmulator::Impl::ObjectType& HubspotEmulator::Impl::add_custom_type(const std::string& name,
                                                                         const std::string& type_id) {
  auto t = std::make_unique<ObjectType>();
  t->name = name;
  t->type_id = type_id;
  t->custom = true;
  t->singular_upper = "P_" + [&] {
    std::string u = name;
    for (char& c : u)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return u;
  }();
  t->singular_label = name;
  t->created_prop = "hs_createdate";
  t->modified_prop = "hs_lastmodifieddate";
  t->default_props = {"hs_createdate", "hs_lastmodifieddate", "hs_object_id"};
  const std::string g = name + "_information";
  t->add_prop(read_only("hs_object_id", "Record ID", "number", "number", g));
  t->add_prop(read_only("hs_createdate", "Object create date/time", "datetime", "date", g));
  t->add_prop(read_only("hs_lastmodifieddate", "Object last modified date/time", "datetime", "date", g));
  ObjectType* raw = t.get();
  types[name] = std::move(t);
  aliases[name] = raw;
  aliases["p_" + name] = raw;
  aliases[type_id] = raw;
  return *raw;
}

// ---------------------------------------------------------------------------------------------
// Seed

namespace {

PropertyDef seed_property(const ObjectType& t, const json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    throw std::invalid_argument("seed: a property definition of " + t.name + " needs a string name");
  PropertyDef d;
  d.name = j["name"].get<std::string>();
  d.label = j.value("label", d.name);
  d.type = j.value("type", std::string("string"));
  d.field_type = j.value("fieldType", default_field_type(d.type));
  d.group_name = j.value("groupName", t.name + "information");
  d.description = j.value("description", std::string());
  d.has_unique_value = j.value("hasUniqueValue", false);
  d.calculated = j.value("calculated", false);
  d.display_order = j.value("displayOrder", -1);
  if (j.contains("modificationMetadata") && j["modificationMetadata"].is_object())
    d.read_only_value = j["modificationMetadata"].value("readOnlyValue", false);
  if (!valid_pair(d.type, d.field_type))
    throw std::invalid_argument("seed: property " + t.name + "." + d.name + " has an invalid type/fieldType pair " +
                                d.type + "/" + d.field_type);
  if (j.contains("options")) {
    if (!j["options"].is_array()) throw std::invalid_argument("seed: options of " + d.name + " must be an array");
    int i = 0;
    for (const auto& o : j["options"]) {
      Option opt;
      opt.value = json_to_text(o.value("value", json("")));
      opt.label = o.value("label", opt.value);
      opt.hidden = o.value("hidden", false);
      opt.display_order = o.value("displayOrder", i++);
      d.options.push_back(std::move(opt));
    }
  }
  if (d.type == "enumeration" && d.options.empty()) {
    if (d.field_type == "booleancheckbox") d.options = options_of({{"true", "Yes"}, {"false", "No"}});
    else throw std::invalid_argument("seed: enumeration property " + t.name + "." + d.name + " needs options");
  }
  if (d.type == "bool" && d.options.empty()) d.options = options_of({{"true", "Yes"}, {"false", "No"}});
  return d;
}

std::optional<std::int64_t> seed_time(const json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) return parse_time_value(v.get<std::string>());
  return std::nullopt;
}

}  // namespace

void HubspotEmulator::Impl::load_seed_locked(const json& seed) {
  if (seed.is_null()) return;
  ++generation;
  if (!seed.is_object()) throw std::invalid_argument("seed: expected a JSON object");
  for (auto it = seed.begin(); it != seed.end(); ++it)
    if (it.key() != "properties" && it.key() != "custom_objects" && it.key() != "objects")
      throw std::invalid_argument("seed: unknown key '" + it.key() + "'");

  if (seed.contains("custom_objects")) {
    if (!seed["custom_objects"].is_array()) throw std::invalid_argument("seed: custom_objects must be an array");
    for (const auto& co : seed["custom_objects"]) {
      if (!co.is_object() || !co.contains("name") || !co["name"].is_string())
        throw std::invalid_argument("seed: a custom object needs a string name");
      const std::string name = co["name"].get<std::string>();
      std::string type_id = co.value("objectTypeId", std::string());
      ObjectType* t = find_type(name);
      if (t == nullptr && !type_id.empty()) t = find_type(type_id);
      if (t != nullptr && !t->custom) throw std::invalid_argument("seed: custom object name " + name + " is taken");
      if (t == nullptr) {
        if (type_id.empty()) type_id = "2-" + std::to_string(next_custom_type++);
        t = &add_custom_type(name, type_id);
      }
      if (co.contains("labels") && co["labels"].is_object())
        t->singular_label = co["labels"].value("singular", t->singular_label);
      if (co.contains("properties")) {
        if (!co["properties"].is_array()) throw std::invalid_argument("seed: properties of " + name + " must be an array");
        for (const auto& p : co["properties"]) t->add_prop(seed_property(*t, p));
      }
      if (co.contains("primaryDisplayProperty") && co["primaryDisplayProperty"].is_string()) {
        const std::string p = co["primaryDisplayProperty"].get<std::string>();
        if (std::find(t->default_props.begin(), t->default_props.end(), p) == t->default_props.end())
          t->default_props.push_back(p);
      }
    }
  }

  if (seed.contains("properties")) {
    if (!seed["properties"].is_object()) throw std::invalid_argument("seed: properties must be an object of arrays");
    for (auto it = seed["properties"].begin(); it != seed["properties"].end(); ++it) {
      ObjectType* t = find_type(it.key());
      if (t == nullptr) throw std::invalid_argument("seed: unknown object type " + it.key());
      if (!it.value().is_array()) throw std::invalid_argument("seed: properties." + it.key() + " must be an array");
      for (const auto& p : it.value()) {
        PropertyDef d = seed_property(*t, p);
        if (const PropertyDef* old = t->prop(d.name)) {
          d.read_only_value = d.read_only_value || old->read_only_value;
          d.read_only_definition = old->read_only_definition;
          d.hubspot_defined = old->hubspot_defined;
        }
        const bool was_unique = t->prop(d.name) != nullptr && t->prop(d.name)->has_unique_value;
        const std::string pname = d.name;
        t->add_prop(std::move(d));
        if (t->prop(pname)->has_unique_value && !was_unique) {
          auto& idx = t->unique[pname];
          idx.clear();
          for (const auto& [id, rec] : t->records) {
            if (rec.cur.archived) continue;
            auto v = rec.cur.props.find(pname);
            if (v != rec.cur.props.end()) idx[t->unique_key(pname, v->second)] = id;
          }
        }
      }
    }
  }

  if (seed.contains("objects")) {
    if (!seed["objects"].is_object()) throw std::invalid_argument("seed: objects must be an object of arrays");
    const std::int64_t now = now_ts();
    for (auto it = seed["objects"].begin(); it != seed["objects"].end(); ++it) {
      ObjectType* t = find_type(it.key());
      if (t == nullptr) throw std::invalid_argument("seed: unknown object type " + it.key());
      if (!it.value().is_array()) throw std::invalid_argument("seed: objects." + it.key() + " must be an array");
      for (const auto& o : it.value()) {
        if (!o.is_object()) throw std::invalid_argument("seed: each " + t->name + " record must be an object");
        std::uint64_t id = 0;
        if (o.contains("id") && !o["id"].is_null()) {
          const std::string s = o["id"].is_string() ? o["id"].get<std::string>() : o["id"].dump();
          auto v = parse_id(s);
          if (!v || *v == 0) throw std::invalid_argument("seed: record id must be a positive number: " + s);
          id = *v;
        } else {
          id = next_id;
        }
        next_id = std::max(next_id, id + 1);
        Record rec;
        rec.id = id;
        rec.real_ms = std::numeric_limits<std::int64_t>::min() / 2;  // visible to search at once
        std::optional<std::int64_t> created, updated;
        if (o.contains("createdAt")) created = seed_time(o["createdAt"]);
        if (o.contains("updatedAt")) updated = seed_time(o["updatedAt"]);
        if (o.contains("properties")) {
          if (!o["properties"].is_object())
            throw std::invalid_argument("seed: properties of a " + t->name + " record must be an object");
          for (auto p = o["properties"].begin(); p != o["properties"].end(); ++p) {
            const std::string& name = p.key();
            if (name == "hs_object_id") continue;
            if (name == t->created_prop || name == "createdate" || name == "hs_createdate") {
              if (auto v = seed_time(p.value())) created = v;
              continue;
            }
            if (name == t->modified_prop || name == "lastmodifieddate" || name == "hs_lastmodifieddate") {
              if (auto v = seed_time(p.value())) updated = v;
              continue;
            }
            const PropertyDef* d = t->prop(name);
            if (d == nullptr)
              throw std::invalid_argument("seed: unknown property " + t->name + "." + name +
                                          " (define it under \"properties\")");
            std::string value;
            if (auto err = convert_value(*t, *d, p.value(), value))
              throw std::invalid_argument("seed: " + t->name + " " + std::to_string(id) + ": " + err->message);
            if (!value.empty()) rec.cur.props[name] = value;
          }
        }
        // Missing timestamps: created defaults to updated (or now), updated to created.
        rec.cur.created = created ? *created : updated ? std::min(*updated, now) : now;
        rec.cur.updated = std::max(updated.value_or(rec.cur.created), rec.cur.created);
        rec.cur.archived = o.value("archived", false);
        if (rec.cur.archived) {
          std::optional<std::int64_t> at;
          if (o.contains("archivedAt")) at = seed_time(o["archivedAt"]);
          rec.cur.archived_at = at.value_or(rec.cur.updated);
        }
        rec.cur.props["hs_object_id"] = std::to_string(id);
        rec.cur.props[t->created_prop] = iso_ms(rec.cur.created);
        rec.cur.props[t->modified_prop] = iso_ms(rec.cur.updated);
        last_ts = std::max(last_ts, rec.cur.updated);
        if (!rec.cur.archived) {
          for (const auto& [pname, value] : rec.cur.props) {
            if (!t->is_unique(pname)) continue;
            auto& idx = t->unique[pname];
            auto hit = idx.find(t->unique_key(pname, value));
            if (hit != idx.end() && hit->second != id)
              throw std::invalid_argument("seed: " + t->name + " " + std::to_string(id) + " repeats " + pname + " " +
                                          value + " of " + std::to_string(hit->second));
          }
        }
        auto old = t->records.find(id);
        if (old != t->records.end()) {
          index_remove(*t, old->second);
          t->records.erase(old);
        }
        auto& stored = t->records.emplace(id, std::move(rec)).first->second;
        index_add(*t, stored);
      }
    }
  }
}

void HubspotEmulator::load_seed(const nlohmann::json& seed) {
  std::lock_guard lk(impl_->mu);
  impl_->load_seed_locked(seed);
}

// ---------------------------------------------------------------------------------------------
// Time and writes

std::int64_t HubspotEmulator::Impl::now_ts() const { return frozen ? *frozen : wall_ms(); }

std::int64_t HubspotEmulator::Impl::write_ts() {
  ++generation;
  const std::int64_t t = now_ts();
  last_ts = std::max(last_ts, t);
  return t;
}

void HubspotEmulator::Impl::before_write(Record& r) {
  const std::int64_t now = steady_ms();
  if (opt.search_lag_ms > 0) {
    r.history.push_back(Version{r.real_ms, r.cur});
    // Drop the states no search can see any more: everything older than the newest one that
    // was already visible lag ago.
    const std::int64_t cutoff = now - opt.search_lag_ms;
    std::size_t keep_from = 0;
    for (std::size_t i = 0; i < r.history.size(); ++i)
      if (r.history[i].real_ms <= cutoff) keep_from = i;
    if (keep_from > 0) r.history.erase(r.history.begin(), r.history.begin() + static_cast<std::ptrdiff_t>(keep_from));
  } else {
    r.history.clear();
  }
  r.real_ms = now;
}

const State* HubspotEmulator::Impl::visible_state(const Record& r, std::int64_t cutoff) const {
  if (r.real_ms <= cutoff || r.history.empty()) return &r.cur;
  for (std::size_t i = r.history.size(); i-- > 0;)
    if (r.history[i].real_ms <= cutoff) return r.history[i].state.exists ? &r.history[i].state : nullptr;
  return nullptr;
}

void HubspotEmulator::Impl::index_remove(ObjectType& t, const Record& r) {
  if (r.cur.archived) return;
  for (auto& [pname, idx] : t.unique) {
    auto v = r.cur.props.find(pname);
    if (v == r.cur.props.end()) continue;
    auto hit = idx.find(t.unique_key(pname, v->second));
    if (hit != idx.end() && hit->second == r.id) idx.erase(hit);
  }
}

void HubspotEmulator::Impl::index_add(ObjectType& t, const Record& r) {
  if (r.cur.archived) return;
  for (const auto& [pname, value] : r.cur.props)
    if (t.is_unique(pname)) t.unique[pname][t.unique_key(pname, value)] = r.id;
}

std::optional<std::uint64_t> HubspotEmulator::Impl::unique_conflict(const ObjectType& t, const Changes& c,
                                                                     std::uint64_t self) const {
  for (const auto& [pname, value] : c) {
    if (value.empty() || !t.is_unique(pname)) continue;
    auto idx = t.unique.find(pname);
    if (idx == t.unique.end()) continue;
    auto hit = idx->second.find(t.unique_key(pname, value));
    if (hit != idx->second.end() && hit->second != self) return hit->second;
  }
  return std::nullopt;
}

HubspotEmulator::Impl::Record& HubspotEmulator::Impl::create_record(ObjectType& t, const Changes& c) {
  const std::int64_t ts = write_ts();
  Record rec;
  rec.id = next_id++;
  if (opt.search_lag_ms > 0) {
    State none;
    none.exists = false;
    rec.history.push_back(Version{std::numeric_limits<std::int64_t>::min() / 2, none});
  }
  rec.real_ms = steady_ms();
  for (const auto& [k, v] : c)
    if (!v.empty()) rec.cur.props[k] = v;
  rec.cur.created = rec.cur.updated = ts;
  rec.cur.props["hs_object_id"] = std::to_string(rec.id);
  rec.cur.props[t.created_prop] = iso_ms(ts);
  rec.cur.props[t.modified_prop] = iso_ms(ts);
  const std::uint64_t id = rec.id;
  Record& stored = t.records.emplace(id, std::move(rec)).first->second;
  index_add(t, stored);
  return stored;
}

void HubspotEmulator::Impl::update_record(ObjectType& t, Record& r, const Changes& c) {
  const std::int64_t ts = write_ts();
  before_write(r);
  index_remove(t, r);
  for (const auto& [k, v] : c) {
    if (v.empty()) r.cur.props.erase(k);
    else r.cur.props[k] = v;
  }
  r.cur.updated = ts;
  r.cur.props[t.modified_prop] = iso_ms(ts);
  index_add(t, r);
}

void HubspotEmulator::Impl::archive_record(ObjectType& t, Record& r) {
  if (r.cur.archived) return;
  const std::int64_t ts = write_ts();
  before_write(r);
  index_remove(t, r);
  r.cur.archived = true;
  r.cur.archived_at = ts;
  r.cur.updated = ts;
  r.cur.props[t.modified_prop] = iso_ms(ts);
}

std::int64_t HubspotEmulator::Impl::touch_locked(const std::string& type, const std::string& id) {
  ObjectType* t = find_type(type);
  if (t == nullptr) throw std::out_of_range("unknown object type " + type);
  auto num = parse_id(id);
  auto it = num ? t->records.find(*num) : t->records.end();
  if (it == t->records.end()) throw std::out_of_range("no " + t->name + " record " + id);
  const std::int64_t ts = std::max(now_ts(), last_ts + 1);
  last_ts = ts;
  ++generation;
  before_write(it->second);
  it->second.cur.updated = ts;
  it->second.cur.props[t->modified_prop] = iso_ms(ts);
  return ts;
}

void HubspotEmulator::touch(const std::string& object_type, const std::string& id) {
  std::lock_guard lk(impl_->mu);
  impl_->touch_locked(object_type, id);
}

// ---------------------------------------------------------------------------------------------
// Validation

std::optional<FieldError> HubspotEmulator::Impl::convert_value(const ObjectType& t, const PropertyDef& d,
                                                              const json& v, std::string& out) const {
  auto fail = [&](std::string code, std::string message) {
    return std::optional<FieldError>(FieldError{std::move(code), std::move(message), d.name});
  };
  if (v.is_null()) {
    out.clear();
    return std::nullopt;
  }
  if (v.is_object() || v.is_array())
    return fail("INVALID_VALUE", "Property \"" + d.name + "\" needs a string, number or boolean value");
  const bool from_number = v.is_number();
  std::string s = json_to_text(v);
  if (s.empty()) {
    out.clear();
    return std::nullopt;
  }
  if (d.type == "string") {
    if (t.name == "contacts" && d.name == "email") {
      if (!looks_like_email(s)) return fail("INVALID_EMAIL", "Email address " + s + " is invalid");
      out = lower(s);
      return std::nullopt;
    }
    out = std::move(s);
    return std::nullopt;
  }
  if (d.type == "number") {
    if (v.is_boolean() || !parse_number(s)) return fail("INVALID_DOUBLE", s + " was not a valid number.");
    out = std::move(s);
    return std::nullopt;
  }
  if (d.type == "bool") {
    const std::string l = lower(s);
    if (from_number || (l != "true" && l != "false"))
      return fail("INVALID_BOOLEAN", s + " was not a valid boolean (true or false).");
    out = l;
    return std::nullopt;
  }
  if (d.type == "enumeration") {
    auto is_option = [&](const std::string& x) {
      return std::any_of(d.options.begin(), d.options.end(), [&](const auto& o) { return o.value == x; });
    };
    if (d.field_type == "checkbox") {
      for (const auto& part : split(s, ';'))
        if (!is_option(part))
          return fail("INVALID_OPTION", part + " was not one of the allowed options: " + options_list(d));
    } else if (!is_option(s)) {
      return fail("INVALID_OPTION", s + " was not one of the allowed options: " + options_list(d));
    }
    out = std::move(s);
    return std::nullopt;
  }
  if (d.type == "date") {
    std::optional<std::int64_t> ms;
    if (v.is_number_integer()) ms = v.get<std::int64_t>();
    else if (v.is_string()) ms = parse_time_value(s);
    if (!ms || *ms % 86400000 != 0)
      return fail("INVALID_DATE", s + " is not a valid date: use YYYY-MM-DD or epoch milliseconds at midnight UTC");
    out = iso_date(*ms);
    return std::nullopt;
  }
  if (d.type == "datetime") {
    std::optional<std::int64_t> ms;
    if (v.is_number_integer()) ms = v.get<std::int64_t>();
    else if (v.is_string()) ms = parse_time_value(s);
    if (!ms) return fail("INVALID_DATE", s + " is not a valid datetime: use epoch milliseconds or ISO 8601");
    out = iso_ms(*ms);
    return std::nullopt;
  }
  out = std::move(s);
  return std::nullopt;
}

std::vector<FieldError> HubspotEmulator::Impl::validate(const ObjectType& t, const json& props, Changes& out) const {
  std::vector<FieldError> errors;
  if (props.is_null()) return errors;
  if (!props.is_object()) {
    errors.push_back(FieldError{"INVALID_VALUE", "properties must be an object", "properties"});
    return errors;
  }
  for (auto it = props.begin(); it != props.end(); ++it) {
    const PropertyDef* d = t.prop(it.key());
    if (d == nullptr) {
      errors.push_back(FieldError{"PROPERTY_DOESNT_EXIST", "Property \"" + it.key() + "\" does not exist", it.key()});
      continue;
    }
    if (d->read_only_value || d->calculated) {
      errors.push_back(FieldError{"READ_ONLY_VALUE",
                                  "\"" + it.key() + "\" is a read only property; its value cannot be set.", it.key()});
      continue;
    }
    std::string value;
    if (auto err = convert_value(t, *d, it.value(), value)) {
      errors.push_back(*err);
      continue;
    }
    out.emplace_back(it.key(), std::move(value));
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// API shapes

json HubspotEmulator::Impl::render(const ObjectType& t, std::uint64_t id, const State& s, const PropSel& sel) const {
  json props = json::object();
  auto put = [&](const std::string& name) {
    if (props.contains(name)) return;
    auto v = s.props.find(name);
    props[name] = v == s.props.end() ? json() : json(v->second);
  };
  if (sel.all) {
    for (const auto& [k, v] : s.props) props[k] = v;
  }
  // HubSpot always answers these three, whatever was asked for.
  put("hs_object_id");
  put(t.created_prop);
  put(t.modified_prop);
  if (sel.defaults && !sel.all)
    for (const auto& name : t.default_props) put(name);
  for (const auto& name : sel.names)
    if (t.prop(name) != nullptr) put(name);
  json r{{"id", std::to_string(id)},
         {"properties", std::move(props)},
         {"createdAt", iso_ms(s.created)},
         {"updatedAt", iso_ms(s.updated)},
         {"archived", s.archived}};
  if (s.archived) r["archivedAt"] = iso_ms(s.archived_at);
  return r;
}

json HubspotEmulator::Impl::property_json(const PropertyDef& d) const {
  json options = json::array();
  for (const auto& o : d.options)
    options.push_back({{"label", o.label},
                       {"value", o.value},
                       {"description", o.description},
                       {"displayOrder", o.display_order},
                       {"hidden", o.hidden}});
  return {{"name", d.name},
          {"label", d.label},
          {"type", d.type},
          {"fieldType", d.field_type},
          {"groupName", d.group_name},
          {"description", d.description},
          {"options", options},
          {"displayOrder", d.display_order},
          {"hasUniqueValue", d.has_unique_value},
          {"calculated", d.calculated},
          {"externalOptions", false},
          {"hidden", false},
          {"formField", !d.read_only_value},
          {"archived", false},
          {"hubspotDefined", d.hubspot_defined},
          {"createdAt", iso_ms(d.created_at)},
          {"updatedAt", iso_ms(d.updated_at)},
          {"modificationMetadata",
           {{"archivable", !d.hubspot_defined},
            {"readOnlyDefinition", d.read_only_definition},
            {"readOnlyValue", d.read_only_value || d.calculated}}}};
}

json HubspotEmulator::records(const std::string& object_type, bool include_archived) const {
  std::lock_guard lk(impl_->mu);
  const auto* t = impl_->find_type(object_type);
  if (t == nullptr) throw std::out_of_range("unknown object type " + object_type);
  json out = json::array();
  for (const auto& [id, rec] : t->records)
    if (include_archived || !rec.cur.archived) out.push_back(impl_->render(*t, id, rec.cur, PropSel::everything()));
  return out;
}

}  // namespace synctool::emulators
