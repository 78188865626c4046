// The Salesforce emulator's object store: built-in and custom objects, the seed, value
// validation, saves (with required fields, validation and duplicate rules, unique values),
// deletes, merges, automation, the recycle bin, and the API shape of records and describes.
// Called with the emulator's mutex held.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "emulators/salesforce/salesforce_internal.hpp"

namespace synctool::emulators {

using namespace salesforce_detail;

namespace {

// A text's length as Salesforce counts it: UTF-16 code units (an emoji counts two), not bytes.
int utf16_units(const std::string& text) {
  int n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
    if (c >= 0xF0) ++n;
  }
  return n;
}


FieldDef field(std::string name, std::string label, std::string type, int length = 0) {
  FieldDef d;
  d.name = std::move(name);
  d.label = std::move(label);
  d.type = std::move(type);
  d.length = length;
  return d;
}

FieldDef system_field(std::string name, std::string label, std::string type, int length = 0) {
  FieldDef d = field(std::move(name), std::move(label), std::move(type), length);
  d.system = true;
  d.createable = d.updateable = false;
  return d;
}

FieldDef required(FieldDef d) {
  d.nillable = false;
  return d;
}

FieldDef picklist(std::string name, std::string label, std::vector<std::string> values) {
  FieldDef d = field(std::move(name), std::move(label), "picklist", 255);
  d.picklist_values = std::move(values);
  return d;
}

FieldDef reference(std::string name, std::string label, std::string to) {
  FieldDef d = field(std::move(name), std::move(label), "reference", 18);
  d.reference_to = {std::move(to)};
  return d;
}

bool is_text_type(const std::string& t) {
  return t == "string" || t == "email" || t == "phone" || t == "url" || t == "textarea" || t == "picklist";
}
bool is_number_type(const std::string& t) { return t == "double" || t == "int" || t == "currency" || t == "percent"; }

const std::set<std::string> kKnownTypes = {"id",     "string", "email",    "phone",    "url",       "textarea", "picklist",
                                           "boolean", "double", "int",      "currency", "percent",   "date",     "datetime",
                                           "reference"};

// The audit fields every object has, and Id / IsDeleted.
void add_standard_fields(ObjectType& t, bool mergeable) {
  FieldDef id = system_field("Id", t.label + " ID", "id", 18);
  id.nillable = false;
  id.defaulted_on_create = true;
  id.id_lookup = true;
  t.add_field(id);
  FieldDef deleted = system_field("IsDeleted", "Deleted", "boolean");
  deleted.nillable = false;
  deleted.defaulted_on_create = true;
  t.add_field(deleted);
  if (mergeable) {
    FieldDef master = reference("MasterRecordId", "Master Record ID", t.name);
    master.system = true;
    master.createable = master.updateable = false;
    t.add_field(master);
  }
  for (const char* n : {"CreatedDate", "LastModifiedDate", "SystemModstamp"}) {
    FieldDef d = system_field(n, n == std::string("CreatedDate")        ? "Created Date"
                                 : n == std::string("LastModifiedDate") ? "Last Modified Date"
                                                                        : "System Modstamp",
                              "datetime");
    d.nillable = false;
    d.defaulted_on_create = true;
    t.add_field(d);
  }
  for (const char* n : {"CreatedById", "LastModifiedById"}) {
    FieldDef d = reference(n, n == std::string("CreatedById") ? "Created By ID" : "Last Modified By ID", "User");
    d.system = true;
    d.createable = d.updateable = false;
    d.nillable = false;
    d.defaulted_on_create = true;
    t.add_field(d);
  }
  FieldDef owner = reference("OwnerId", "Owner ID", "User");
  owner.nillable = false;
  owner.defaulted_on_create = true;
  owner.default_value = kUserId;
  t.add_field(owner);
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

[[noreturn]] void parser_error(const FieldDef& d, const json& v) {
  std::string kind = v.is_string() ? "VALUE_STRING" : v.is_boolean() ? "VALUE_TRUE" : v.is_number() ? "VALUE_NUMBER_INT"
                     : v.is_array()                                    ? "START_ARRAY"
                                                                       : "START_OBJECT";
  if (v.is_boolean() && !v.get<bool>()) kind = "VALUE_FALSE";
  if (v.is_number_float()) kind = "VALUE_NUMBER_FLOAT";
  std::string type = d.type == "datetime" ? "datetime" : is_number_type(d.type) ? "double" : d.type;
  throw RequestError(400, "JSON_PARSER_ERROR",
                     "Cannot deserialize instance of " + type + " from " + kind + " value " + text_of(v) +
                         " or request may be missing a required field");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Clock and stamps

std::int64_t SalesforceEmulator::Impl::now() const { return frozen ? *frozen : wall_ms(); }

// Salesforce keeps whole seconds in its timestamps.
std::int64_t SalesforceEmulator::Impl::write_stamp() {
  const std::int64_t s = floor_div(now(), 1000) * 1000;
  last_stamp = std::max(last_stamp, s);
  return last_stamp;
}

// Automation commits a moment after the save it follows. Its stamp does not raise the floor of
// later user writes: were it to, a trigger on every row of a batch would push the stamps of the
// batch one second further into the future per row.
std::int64_t SalesforceEmulator::Impl::later_stamp(std::int64_t after) { return std::max(write_stamp(), after + 1000); }

// ---------------------------------------------------------------------------------------------
// Types

void SalesforceEmulator::Impl::install_builtin_types() {
  const std::vector<std::string> lead_sources = {"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"};
  auto contact = std::make_unique<ObjectType>();
  {
    ObjectType& t = *contact;
    t.name = "Contact";
    t.label = "Contact";
    t.label_plural = "Contacts";
    t.key_prefix = "003";
    add_standard_fields(t, true);
    t.add_field(reference("AccountId", "Account ID", "Account"));
    t.add_field(required(field("LastName", "Last Name", "string", 80)));
    t.add_field(field("FirstName", "First Name", "string", 40));
    t.add_field(picklist("Salutation", "Salutation", {"Mr.", "Ms.", "Mrs.", "Dr.", "Prof."}));
    FieldDef name = system_field("Name", "Full Name", "string", 121);
    name.nillable = false;
    t.add_field(name);
    FieldDef email = field("Email", "Email", "email", 80);
    email.id_lookup = true;
    t.add_field(email);
    t.add_field(field("Phone", "Business Phone", "phone", 40));
    t.add_field(field("MobilePhone", "Mobile Phone", "phone", 40));
    t.add_field(field("Title", "Title", "string", 128));
    t.add_field(field("Department", "Department", "string", 80));
    t.add_field(field("MailingStreet", "Mailing Street", "textarea", 255));
    t.add_field(field("MailingCity", "Mailing City", "string", 40));
    t.add_field(field("MailingState", "Mailing State/Province", "string", 80));
    t.add_field(field("MailingPostalCode", "Mailing Zip/Postal Code", "string", 20));
    t.add_field(field("MailingCountry", "Mailing Country", "string", 80));
    t.add_field(picklist("LeadSource", "Lead Source", lead_sources));
    t.add_field(field("Birthdate", "Birthdate", "date"));
    t.add_field(field("Description", "Contact Description", "textarea", 32000));
    FieldDef opted = field("HasOptedOutOfEmail", "Email Opt Out", "boolean");
    opted.nillable = false;
    opted.defaulted_on_create = true;
    opted.default_value = false;
    t.add_field(opted);
    if (opt.person_accounts) {
      FieldDef person = system_field("IsPersonAccount", "Is Person Account", "boolean");
      person.nillable = false;
      person.defaulted_on_create = true;
      person.default_value = false;
      t.add_field(person);
    }
  }
  auto lead = std::make_unique<ObjectType>();
  {
    ObjectType& t = *lead;
    t.name = "Lead";
    t.label = "Lead";
    t.label_plural = "Leads";
    t.key_prefix = "00Q";
    add_standard_fields(t, true);
    t.add_field(required(field("LastName", "Last Name", "string", 80)));
    t.add_field(field("FirstName", "First Name", "string", 40));
    FieldDef name = system_field("Name", "Full Name", "string", 121);
    name.nillable = false;
    t.add_field(name);
    t.add_field(required(field("Company", "Company", "string", 255)));
    FieldDef email = field("Email", "Email", "email", 80);
    email.id_lookup = true;
    t.add_field(email);
    t.add_field(field("Phone", "Phone", "phone", 40));
    t.add_field(field("Title", "Title", "string", 128));
    FieldDef status = picklist("Status", "Status", {"Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                                                    "Closed - Not Converted"});
    status.nillable = false;
    status.defaulted_on_create = true;
    status.default_value = "Open - Not Contacted";
    t.add_field(status);
    t.add_field(picklist("LeadSource", "Lead Source", lead_sources));
    t.add_field(field("Street", "Street", "textarea", 255));
    t.add_field(field("City", "City", "string", 40));
    t.add_field(field("State", "State/Province", "string", 80));
    t.add_field(field("PostalCode", "Zip/Postal Code", "string", 20));
    t.add_field(field("Country", "Country", "string", 80));
    t.add_field(field("Description", "Description", "textarea", 32000));
    FieldDef opted = field("HasOptedOutOfEmail", "Email Opt Out", "boolean");
    opted.nillable = false;
    opted.defaulted_on_create = true;
    opted.default_value = false;
    t.add_field(opted);
  }
  auto account = std::make_unique<ObjectType>();
  {
    ObjectType& t = *account;
    t.name = "Account";
    t.label = "Account";
    t.label_plural = "Accounts";
    t.key_prefix = "001";
    add_standard_fields(t, true);
    t.add_field(required(field("Name", "Account Name", "string", 255)));
    t.add_field(picklist("Type", "Account Type", {"Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"}));
    t.add_field(picklist("Industry", "Industry", {"Agriculture", "Banking", "Education", "Retail", "Technology", "Other"}));
    t.add_field(field("Phone", "Account Phone", "phone", 40));
    t.add_field(field("Website", "Website", "url", 255));
    t.add_field(field("BillingStreet", "Billing Street", "textarea", 255));
    t.add_field(field("BillingCity", "Billing City", "string", 40));
    t.add_field(field("BillingState", "Billing State/Province", "string", 80));
    t.add_field(field("BillingPostalCode", "Billing Zip/Postal Code", "string", 20));
    t.add_field(field("BillingCountry", "Billing Country", "string", 80));
    t.add_field(field("NumberOfEmployees", "Employees", "int"));
    t.add_field(field("AnnualRevenue", "Annual Revenue", "currency"));
    t.add_field(field("Description", "Account Description", "textarea", 32000));
  }
  types["contact"] = std::move(contact);
  types["lead"] = std::move(lead);
  types["account"] = std::move(account);
}

ObjectType* SalesforceEmulator::Impl::find_type(std::string_view name) {
  auto it = types.find(lower(name));
  return it == types.end() ? nullptr : it->second.get();
}

const ObjectType* SalesforceEmulator::Impl::find_type(std::string_view name) const {
  auto it = types.find(lower(name));
  return it == types.end() ? nullptr : it->second.get();
}

ObjectType& SalesforceEmulator::Impl::define_object_locked(const std::string& name, const json& fields) {
  if (!is_custom_name(name) || name.size() > 43)
    throw std::invalid_argument("custom object names end in __c (at most 40 characters before): " + name);
  for (char c : name.substr(0, name.size() - 3))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      throw std::invalid_argument("bad custom object name: " + name);
  if (!fields.is_array()) throw std::invalid_argument("fields of " + name + ": expected an array");
  ObjectType* t = find_type(name);
  if (t == nullptr) {
    if (next_custom_prefix >= 62 * 62) throw std::invalid_argument("too many custom objects");
    auto fresh = std::make_unique<ObjectType>();
    fresh->name = name.substr(0, name.size() - 3) + "__c";
    fresh->label = name.substr(0, name.size() - 3);
    std::replace(fresh->label.begin(), fresh->label.end(), '_', ' ');
    fresh->label_plural = fresh->label + "s";
    fresh->key_prefix = "a" + base62(static_cast<std::uint64_t>(next_custom_prefix++), 2);
    fresh->custom = true;
    add_standard_fields(*fresh, false);
    FieldDef nm = field("Name", fresh->label + " Name", "string", 80);
    nm.nillable = false;
    nm.defaulted_on_create = true;  // the record's id when not given
    fresh->add_field(nm);
    t = fresh.get();
    types[lower(name)] = std::move(fresh);
  }
  for (const auto& f : fields) define_field_locked(*t, f);
  return *t;
}

void SalesforceEmulator::Impl::define_field_locked(ObjectType& t, const json& f) {
  if (!f.is_object() || !f.contains("name") || !f["name"].is_string())
    throw std::invalid_argument("a field definition needs a \"name\"");
  FieldDef d;
  d.name = f["name"].get<std::string>();
  if (!is_custom_name(d.name)) throw std::invalid_argument("custom field names end in __c: " + d.name);
  d.name = d.name.substr(0, d.name.size() - 3) + "__c";
  d.custom = true;
  try {
    d.type = f.value("type", std::string("string"));
    if (!kKnownTypes.count(d.type) || d.type == "id") throw std::invalid_argument("unknown field type: " + d.type);
    d.label = f.value("label", d.name.substr(0, d.name.size() - 3));
    d.length = f.value("length", is_text_type(d.type) ? (d.type == "textarea" ? 32768 : 255) : 0);
    if (d.type == "email") d.length = f.value("length", 80);
    d.nillable = f.value("nillable", true);
    d.createable = f.value("createable", true);
    d.updateable = f.value("updateable", true);
    d.external_id = f.value("externalId", false);
    d.unique = f.value("unique", false);
    d.restricted_picklist = f.value("restrictedPicklist", false);
    if (f.contains("defaultValue") && !f["defaultValue"].is_null()) {
      d.default_value = f["defaultValue"];
      d.defaulted_on_create = true;
    }
    d.defaulted_on_create = f.value("defaultedOnCreate", d.defaulted_on_create);
    if (d.type == "boolean") {
      d.nillable = false;
      d.defaulted_on_create = true;
      if (d.default_value.is_null()) d.default_value = false;
    }
    if (f.contains("picklistValues"))
      for (const auto& v : f["picklistValues"])
        d.picklist_values.push_back(v.is_object() ? v.at("value").get<std::string>() : v.get<std::string>());
    if (f.contains("referenceTo")) d.reference_to = f["referenceTo"].get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw std::invalid_argument("field " + d.name + ": " + e.what());
  }
  if ((d.external_id || d.unique) && !(is_text_type(d.type) || is_number_type(d.type)))
    throw std::invalid_argument("field " + d.name + ": only text and number fields can be external ids or unique");
  if (d.type == "reference" && d.reference_to.empty())
    throw std::invalid_argument("field " + d.name + ": a reference needs referenceTo");
  t.add_field(std::move(d));
}

// ---------------------------------------------------------------------------------------------
// Indexes: the live values of key fields (external ids, unique and id-lookup fields) and the
// recycle bin.

namespace {

bool indexed(const FieldDef& d) { return d.external_id || d.unique || d.id_lookup; }

}  // namespace

std::string salesforce_detail::index_key(const json& v) {
  if (v.is_string()) return lower_unicode(v.get<std::string>());
  if (v.is_number()) return json(v.get<double>()).dump();  // 5 and 5.0 are one value
  return v.dump();
}

void salesforce_detail::index_record(ObjectType& t, const Record& r, bool add) {
  if (r.deleted) return;
  for (const auto& d : t.fields) {
    if (!indexed(d) || d.system) continue;
    auto it = r.values.find(d.name);
    if (it == r.values.end() || it->second.is_null()) continue;
    auto& ids = t.key_index[d.name][index_key(it->second)];
    if (add) {
      ids.insert(r.id);
    } else {
      ids.erase(r.id);
      if (ids.empty()) t.key_index[d.name].erase(index_key(it->second));
    }
  }
}

void SalesforceEmulator::Impl::note_change(ObjectType& t, const std::string& id) {
  if (journal == nullptr) return;
  for (const auto& e : *journal)
    if (e.type == &t && e.id == id) return;
  auto it = t.records.find(id);
  journal->push_back(JournalEntry{&t, id, it == t.records.end() ? std::nullopt : std::optional<Record>(it->second)});
}

void SalesforceEmulator::Impl::roll_back(std::vector<JournalEntry>& entries) {
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    ObjectType& t = *it->type;
    auto cur = t.records.find(it->id);
    if (cur != t.records.end()) {
      index_record(t, cur->second, false);
      t.records.erase(cur);
    }
    if (it->before) {
      index_record(t, *it->before, true);
      t.records.emplace(it->id, *it->before);
    }
  }
  entries.clear();
}

Record* SalesforceEmulator::Impl::find_record(ObjectType& t, const std::string& id18) {
  auto it = t.records.find(id18);
  return it == t.records.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------------
// Values

void SalesforceEmulator::Impl::read_changes(const ObjectType& t, const json& body, bool create, Changes& out,
                                            std::vector<RowError>& errors) const {
  std::vector<std::string> not_writable;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    if (key == "attributes") continue;
    const FieldDef* d = t.field(key);
    if (d == nullptr) {
      errors.push_back(RowError{"INVALID_FIELD", "No such column '" + key + "' on sobject of type " + t.name, {}, {}});
      return;
    }
    if (d->name == "Id") {
      if (create) errors.push_back(RowError{"INVALID_FIELD", "cannot specify Id in an insert call", {"Id"}, {}});
      if (create) return;
      continue;  // an update's Id names the record
    }
    if (d->system || (create ? !d->createable : !d->updateable)) {
      not_writable.push_back(d->name);
      continue;
    }
    const json& v = it.value();
    json value;
    if (v.is_null() || (v.is_string() && v.get<std::string>().empty() && d->type != "boolean")) {
      value = d->type == "boolean" ? json(false) : json();
    } else if (is_text_type(d->type)) {
      if (v.is_object() || v.is_array()) parser_error(*d, v);
      std::string s = text_of(v);
      if (d->length > 0 && utf16_units(s) > d->length) {
        errors.push_back(RowError{"STRING_TOO_LONG",
                                  d->label + ": data value too large: " + s + " (max length=" +
                                      std::to_string(d->length) + ")",
                                  {d->name}, {}});
        continue;
      }
      if (d->type == "email" && !valid_email(s)) {
        errors.push_back(RowError{"INVALID_EMAIL_ADDRESS", d->label + ": invalid email address: " + s, {d->name}, {}});
        continue;
      }
      if (d->type == "picklist" && d->restricted_picklist &&
          std::find(d->picklist_values.begin(), d->picklist_values.end(), s) == d->picklist_values.end()) {
        errors.push_back(RowError{"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                  d->label + ": bad value for restricted picklist field: " + s,
                                  {d->name}, {}});
        continue;
      }
      value = s;
    } else if (d->type == "reference") {
      if (!v.is_string()) parser_error(*d, v);
      auto id = normalize_id(v.get<std::string>());
      bool prefix_ok = id.has_value();
      if (id && !d->reference_to.empty()) {
        prefix_ok = false;
        for (const auto& target : d->reference_to) {
          const ObjectType* rt = find_type(target);
          prefix_ok = prefix_ok || rt == nullptr || id->substr(0, 3) == rt->key_prefix;
        }
      }
      if (!prefix_ok) {
        errors.push_back(RowError{"MALFORMED_ID", d->label + ": id value of incorrect type: " + v.get<std::string>(),
                                  {d->name}, {}});
        continue;
      }
      value = *id;
    } else if (d->type == "boolean") {
      if (v.is_boolean()) value = v;
      else if (v.is_string() && (lower(v.get<std::string>()) == "true" || lower(v.get<std::string>()) == "false"))
        value = lower(v.get<std::string>()) == "true";
      else parser_error(*d, v);
    } else if (is_number_type(d->type)) {
      if (v.is_number()) value = v;
      else if (v.is_string() && is_decimal(v.get<std::string>())) value = std::stod(v.get<std::string>());
      else parser_error(*d, v);
      if (d->type == "int" && std::floor(value.get<double>()) != value.get<double>()) parser_error(*d, v);
    } else if (d->type == "date") {
      if (!v.is_string() || !parse_sf_date(v.get<std::string>())) parser_error(*d, v);
      value = v;
    } else if (d->type == "datetime") {
      std::optional<std::int64_t> ms;
      if (v.is_string()) ms = parse_iso_ms(v.get<std::string>());
      if (!ms || v.get<std::string>().size() <= 10) parser_error(*d, v);
      value = *ms;
    } else {
      parser_error(*d, v);
    }
    out.emplace_back(d->name, std::move(value));
  }
  if (!not_writable.empty()) {
    std::string list;
    for (const auto& n : not_writable) list += (list.empty() ? "" : ", ") + n;
    errors.push_back(RowError{"INVALID_FIELD_FOR_INSERT_UPDATE",
                              "Unable to create/update fields: " + list +
                                  ". Please check the security settings of this field and verify that it is "
                                  "read/write for your profile or permission set.",
                              not_writable, {}});
  }
}

namespace {

// Name of a Contact or Lead: "FirstName LastName".
void derive_name(const ObjectType& t, Record& r) {
  if (t.name != "Contact" && t.name != "Lead") return;
  std::string name;
  auto first = r.values.find("FirstName");
  if (first != r.values.end() && first->second.is_string()) name = first->second.get<std::string>();
  auto last = r.values.find("LastName");
  if (last != r.values.end() && last->second.is_string())
    name += (name.empty() ? "" : " ") + last->second.get<std::string>();
  r.values["Name"] = name.empty() ? json() : json(name);
}

bool is_null_value(const Record& r, const std::string& name) {
  auto it = r.values.find(name);
  return it == r.values.end() || it->second.is_null();
}

}  // namespace

void SalesforceEmulator::Impl::check_record(const ObjectType& t, const Record& result, const Record* self,
                                            bool allow_save, std::vector<RowError>& errors) const {
  std::vector<std::string> missing;
  for (const auto& d : t.fields)
    if (!d.system && !d.nillable && d.createable && !d.defaulted_on_create && is_null_value(result, d.name))
      missing.push_back(d.name);
  if (!missing.empty()) {
    std::string list;
    for (const auto& n : missing) list += (list.empty() ? "" : ", ") + n;
    errors.push_back(RowError{"REQUIRED_FIELD_MISSING", "Required fields are missing: [" + list + "]", missing, {}});
    return;
  }
  for (const auto& rule : opt.validation_rules) {
    if (lower(rule.object) != lower(t.name)) continue;
    const FieldDef* d = t.field(rule.field);
    if (d == nullptr) continue;
    auto it = result.values.find(d->name);
    if (it == result.values.end() || it->second.is_null()) continue;
    if (lower_unicode(text_of(it->second)) != lower_unicode(rule.value)) continue;
    errors.push_back(RowError{"FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message,
                              rule.show_on_field ? std::vector<std::string>{d->name} : std::vector<std::string>{},
                              {}});
    return;
  }
  for (const auto& d : t.fields) {
    if (!d.unique || d.system || is_null_value(result, d.name)) continue;
    auto idx = t.key_index.find(d.name);
    if (idx == t.key_index.end()) continue;
    auto hit = idx->second.find(index_key(result.values.at(d.name)));
    if (hit == idx->second.end()) continue;
    for (const auto& other : hit->second) {
      if (self != nullptr && other == self->id) continue;
      errors.push_back(RowError{"DUPLICATE_VALUE",
                                "duplicate value found: " + d.name + " duplicates value on record with id: " + other,
                                {d.name}, {}});
      return;
    }
  }
  if (opt.duplicate_rule && !allow_save && (t.name == "Contact" || t.name == "Lead") &&
      !is_null_value(result, "Email")) {
    auto idx = t.key_index.find("Email");
    if (idx == t.key_index.end()) return;
    auto hit = idx->second.find(index_key(result.values.at("Email")));
    if (hit == idx->second.end()) return;
    json matches = json::array();
    for (const auto& other : hit->second) {
      if (self != nullptr && other == self->id) continue;
      matches.push_back({{"additionalInformation", json::array()},
                         {"fieldDiffs", json::array()},
                         {"matchConfidence", 100.0},
                         {"record", {{"attributes", {{"type", t.name}, {"url", record_url(t, other, kMaxApiVersion)}}},
                                     {"Id", other}}}});
    }
    if (matches.empty()) return;
    const std::string rule = t.name == "Contact" ? "Standard_Contact_Duplicate_Rule" : "Standard_Lead_Duplicate_Rule";
    json result_json{{"allowSave", true},
                     {"duplicateRule", rule},
                     {"duplicateRuleEntityType", t.name},
                     {"errorMessage", "You're creating a duplicate record. We recommend you use an existing record instead."},
                     {"matchResults",
                      {{{"entityType", t.name},
                        {"errors", json::array()},
                        {"matchEngine", "ExactMatchEngine"},
                        {"matchRecords", matches},
                        {"rule", t.name == "Contact" ? "Standard_Contact_Match_Rule_v1_1" : "Standard_Lead_Match_Rule_v1_0"},
                        {"size", matches.size()},
                        {"success", true}}}}};
    errors.push_back(RowError{"DUPLICATES_DETECTED", "Use one of these records?", {}, result_json});
  }
}

// ---------------------------------------------------------------------------------------------
// Saves

Record* SalesforceEmulator::Impl::save_new(ObjectType& t, const json& body, bool allow_save,
                                           std::vector<RowError>& errors, const Changes* extra) {
  Changes changes;
  read_changes(t, body, true, changes, errors);
  if (!errors.empty()) return nullptr;
  if (extra != nullptr) changes.insert(changes.end(), extra->begin(), extra->end());
  Record candidate;
  for (const auto& d : t.fields)
    if (d.defaulted_on_create && !d.default_value.is_null()) candidate.values[d.name] = d.default_value;
  for (auto& [name, value] : changes) candidate.values[name] = value;
  derive_name(t, candidate);
  check_record(t, candidate, nullptr, allow_save, errors);
  if (!errors.empty()) return nullptr;
  candidate.id = make_id(t.key_prefix, ++id_counter);
  if (t.custom && is_null_value(candidate, "Name")) candidate.values["Name"] = candidate.id;
  candidate.created = candidate.last_modified = candidate.system_modstamp = write_stamp();
  note_change(t, candidate.id);
  Record& r = t.records.emplace(candidate.id, std::move(candidate)).first->second;
  index_record(t, r, true);
  run_triggers(t, r, true);
  return &r;
}

void SalesforceEmulator::Impl::save_existing(ObjectType& t, Record& r, const json& body, bool allow_save,
                                             std::vector<RowError>& errors) {
  if (r.deleted) {
    errors.push_back(RowError{"ENTITY_IS_DELETED", "entity is deleted", {}, {}});
    return;
  }
  Changes changes;
  read_changes(t, body, false, changes, errors);
  if (!errors.empty()) return;
  Record candidate = r;
  for (auto& [name, value] : changes) candidate.values[name] = value;
  derive_name(t, candidate);
  if (t.custom && is_null_value(candidate, "Name")) candidate.values["Name"] = candidate.id;
  check_record(t, candidate, &r, allow_save, errors);
  if (!errors.empty()) return;
  note_change(t, r.id);
  index_record(t, r, false);
  candidate.last_modified = write_stamp();
  // A record's SystemModstamp never goes back, even after automation stamped it ahead.
  candidate.system_modstamp = std::max(candidate.last_modified, r.system_modstamp);
  r = std::move(candidate);
  index_record(t, r, true);
  run_triggers(t, r, false);
}

void SalesforceEmulator::Impl::delete_record(ObjectType& t, Record& r) {
  note_change(t, r.id);
  index_record(t, r, false);
  r.deleted = true;
  r.last_modified = write_stamp();
  r.system_modstamp = std::max(r.last_modified, r.system_modstamp);
}

void SalesforceEmulator::Impl::run_triggers(ObjectType& t, Record& r, bool inserted) {
  for (const auto& trig : opt.triggers) {
    if (lower(trig.object) != lower(t.name) || (inserted ? !trig.on_insert : !trig.on_update)) continue;
    note_change(t, r.id);
    index_record(t, r, false);
    if (const FieldDef* d = trig.field.empty() ? nullptr : t.field(trig.field)) {
      json v = trig.value;
      if (d->type == "datetime" && v.is_string())
        if (auto ms = parse_iso_ms(v.get<std::string>())) v = *ms;
      r.values[d->name] = v;
      derive_name(t, r);
    }
    r.system_modstamp = later_stamp(r.system_modstamp);
    index_record(t, r, true);
  }
}

std::int64_t SalesforceEmulator::Impl::touch_locked(const std::string& object, const std::string& id) {
  ObjectType* t = find_type(object);
  if (t == nullptr) throw std::out_of_range("unknown object " + object);
  auto id18 = normalize_id(id);
  Record* r = id18 ? find_record(*t, *id18) : nullptr;
  if (r == nullptr) throw std::out_of_range("no " + t->name + " " + id);
  r->system_modstamp = later_stamp(r->system_modstamp);
  return r->system_modstamp;
}

void SalesforceEmulator::Impl::merge_locked(const std::string& object, const std::string& winner,
                                            const std::vector<std::string>& losers) {
  ObjectType* t = find_type(object);
  if (t == nullptr) throw std::out_of_range("unknown object " + object);
  if (t->field("MasterRecordId") == nullptr) throw std::invalid_argument(t->name + " records cannot be merged");
  auto find_live = [&](const std::string& id) {
    auto id18 = normalize_id(id);
    Record* r = id18 ? find_record(*t, *id18) : nullptr;
    if (r == nullptr || r->deleted) throw std::out_of_range("no live " + t->name + " " + id);
    return r;
  };
  Record* w = find_live(winner);
  std::vector<Record*> ls;
  for (const auto& id : losers) {
    Record* l = find_live(id);
    if (l == w) throw std::invalid_argument("a record cannot be merged into itself");
    ls.push_back(l);
  }
  const std::int64_t stamp = write_stamp();
  for (Record* l : ls) {
    index_record(*t, *l, false);
    l->deleted = true;
    l->master_record_id = w->id;
    l->last_modified = stamp;
    l->system_modstamp = std::max(stamp, l->system_modstamp);
  }
  w->last_modified = stamp;
  w->system_modstamp = std::max(stamp, w->system_modstamp);
}

std::int64_t SalesforceEmulator::Impl::purge_locked(ObjectType& t, std::int64_t deleted_before) {
  std::int64_t n = 0;
  for (auto it = t.records.begin(); it != t.records.end();) {
    if (it->second.deleted && it->second.system_modstamp < deleted_before) {
      t.last_purged_delete = std::max(t.last_purged_delete, it->second.system_modstamp);
      it = t.records.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void SalesforceEmulator::Impl::purge_expired() {
  const std::int64_t horizon = now() - opt.deleted_retention_days * kDay;
  if (horizon <= last_retention_purge) return;
  // Scanning every record is only worth it once a minute of emulator time.
  if (horizon - last_retention_purge < kMinute && last_retention_purge != 0) return;
  last_retention_purge = horizon;
  for (auto& [name, t] : types) purge_locked(*t, horizon);
}

// ---------------------------------------------------------------------------------------------
// Seed

void SalesforceEmulator::Impl::load_seed_locked(const json& seed) {
  if (!seed.is_object()) throw std::invalid_argument("seed: expected a JSON object");
  for (auto it = seed.begin(); it != seed.end(); ++it)
    if (it.key() != "objects" && it.key() != "fields" && it.key() != "records")
      throw std::invalid_argument("seed: unknown field '" + it.key() + "'");
  if (seed.contains("objects")) {
    for (const auto& o : seed["objects"]) {
      if (!o.is_object() || !o.contains("name")) throw std::invalid_argument("seed: objects[] need a name");
      ObjectType& t = define_object_locked(o["name"].get<std::string>(), o.value("fields", json::array()));
      if (o.contains("label")) t.label = o["label"].get<std::string>();
      if (o.contains("labelPlural")) t.label_plural = o["labelPlural"].get<std::string>();
    }
  }
  if (seed.contains("fields")) {
    for (auto it = seed["fields"].begin(); it != seed["fields"].end(); ++it) {
      ObjectType* t = find_type(it.key());
      if (t == nullptr) throw std::invalid_argument("seed: unknown object " + it.key());
      for (const auto& f : it.value()) define_field_locked(*t, f);
    }
  }
  if (!seed.contains("records")) return;
  for (auto it = seed["records"].begin(); it != seed["records"].end(); ++it) {
    ObjectType* t = find_type(it.key());
    if (t == nullptr) throw std::invalid_argument("seed: unknown object " + it.key());
    for (const auto& rec : it.value()) {
      if (!rec.is_object()) throw std::invalid_argument("seed: records of " + t->name + " must be objects");
      json body = json::object();
      Record meta;
      std::optional<std::int64_t> created, modified, modstamp;
      bool person_account = false;
      auto time_of = [&](const json& v, const std::string& what) {
        auto ms = v.is_number_integer() ? std::optional<std::int64_t>(v.get<std::int64_t>())
                                        : parse_iso_ms(v.get<std::string>());
        if (!ms) throw std::invalid_argument("seed: bad " + what + " in a " + t->name);
        return *ms;
      };
      for (auto f = rec.begin(); f != rec.end(); ++f) {
        const std::string key = lower(f.key());
        if (key == "id") {
          auto id = normalize_id(f.value().get<std::string>());
          if (!id || id->substr(0, 3) != t->key_prefix)
            throw std::invalid_argument("seed: bad " + t->name + " Id " + f.value().dump());
          meta.id = *id;
        } else if (key == "createddate") {
          created = time_of(f.value(), "CreatedDate");
        } else if (key == "lastmodifieddate") {
          modified = time_of(f.value(), "LastModifiedDate");
        } else if (key == "systemmodstamp") {
          modstamp = time_of(f.value(), "SystemModstamp");
        } else if (key == "isdeleted") {
          meta.deleted = f.value().get<bool>();
        } else if (key == "ispersonaccount" && t->name == "Contact" && opt.person_accounts) {
          person_account = f.value().get<bool>();
        } else if (key == "masterrecordid") {
          if (!f.value().is_null()) meta.master_record_id = normalize_id(f.value().get<std::string>()).value_or("");
        } else if (key == "attributes" || (key == "name" && (t->name == "Contact" || t->name == "Lead"))) {
          continue;
        } else {
          body[f.key()] = f.value();
        }
      }
      std::vector<RowError> errors;
      Changes changes;
      try {
        read_changes(*t, body, true, changes, errors);
      } catch (const RequestError& e) {
        throw std::invalid_argument(std::string("seed: ") + t->name + ": " + e.what());
      }
      Record r;
      for (const auto& d : t->fields)
        if (d.defaulted_on_create && !d.default_value.is_null()) r.values[d.name] = d.default_value;
      for (auto& [name, value] : changes) r.values[name] = value;
      if (person_account) r.values["IsPersonAccount"] = true;
      derive_name(*t, r);
      if (errors.empty()) check_record(*t, r, nullptr, true, errors);
      if (!errors.empty())
        throw std::invalid_argument("seed: " + t->name + ": " + errors.front().code + ": " + errors.front().message);
      if (meta.id.empty()) {
        r.id = make_id(t->key_prefix, ++id_counter);
      } else {
        r.id = meta.id;
        // Later ids continue above seeded ones of this emulator's form.
        std::uint64_t n = 0;
        bool ours = r.id.substr(3, 3) == "5g0";
        for (std::size_t i = 6; ours && i < 15; ++i) {
          const char c = r.id[i];
          const int v = c <= '9' ? c - '0' : c <= 'Z' ? c - 'A' + 10 : c - 'a' + 36;
          n = n * 62 + static_cast<std::uint64_t>(v);
        }
        if (ours) id_counter = std::max(id_counter, n);
      }
      if (t->custom && is_null_value(r, "Name")) r.values["Name"] = r.id;
      const std::int64_t now_stamp = write_stamp();
      r.created = created.value_or(modified.value_or(modstamp.value_or(now_stamp)));
      r.last_modified = modified.value_or(r.created);
      r.system_modstamp = modstamp.value_or(std::max(r.last_modified, r.created));
      r.deleted = meta.deleted;
      r.master_record_id = meta.master_record_id;
      last_stamp = std::max(last_stamp, r.system_modstamp);
      if (auto old = t->records.find(r.id); old != t->records.end()) {
        index_record(*t, old->second, false);
        t->records.erase(old);
      }
      Record& stored = t->records.emplace(r.id, std::move(r)).first->second;
      index_record(*t, stored, true);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// API shapes

std::string SalesforceEmulator::Impl::record_url(const ObjectType& t, const std::string& id, int version) const {
  return "/services/data/v" + std::to_string(version) + ".0/sobjects/" + t.name + "/" + id;
}

json SalesforceEmulator::Impl::field_json(const ObjectType&, const FieldDef& d, const Record& r) const {
  if (d.system) {
    if (d.name == "Id") return r.id;
    if (d.name == "IsDeleted") return r.deleted;
    if (d.name == "CreatedDate") return sf_datetime(r.created);
    if (d.name == "LastModifiedDate") return sf_datetime(r.last_modified);
    if (d.name == "SystemModstamp") return sf_datetime(r.system_modstamp);
    if (d.name == "CreatedById" || d.name == "LastModifiedById") return kUserId;
    if (d.name == "MasterRecordId") return r.master_record_id.empty() ? json() : json(r.master_record_id);
  }
  auto it = r.values.find(d.name);
  if (it == r.values.end() || it->second.is_null()) return d.type == "boolean" ? json(false) : json();
  if (d.type == "datetime" && it->second.is_number()) return sf_datetime(it->second.get<std::int64_t>());
  return it->second;
}

json SalesforceEmulator::Impl::render(const ObjectType& t, const Record& r, const std::vector<std::string>* fields,
                                      int version) const {
  json out{{"attributes", {{"type", t.name}, {"url", record_url(t, r.id, version)}}}};
  if (fields == nullptr) {
    for (const auto& d : t.fields) out[d.name] = field_json(t, d, r);
  } else {
    for (const auto& n : *fields)
      if (const FieldDef* d = t.field(n)) out[d->name] = field_json(t, *d, r);
  }
  return out;
}

json SalesforceEmulator::Impl::describe_field_json(const FieldDef& d) const {
  const bool text = is_text_type(d.type);
  std::string soap = "xsd:string";
  if (d.type == "id" || d.type == "reference") soap = "tns:ID";
  else if (d.type == "boolean") soap = "xsd:boolean";
  else if (d.type == "int") soap = "xsd:int";
  else if (is_number_type(d.type)) soap = "xsd:double";
  else if (d.type == "date") soap = "xsd:date";
  else if (d.type == "datetime") soap = "xsd:dateTime";
  json picklist = json::array();
  for (const auto& v : d.picklist_values)
    picklist.push_back({{"active", true},
                        {"defaultValue", d.default_value.is_string() && d.default_value.get<std::string>() == v},
                        {"label", v},
                        {"validFor", nullptr},
                        {"value", v}});
  const bool is_name = d.name == "Name";
  std::string relationship;
  if (d.type == "reference" && d.name.size() > 2 && d.name.substr(d.name.size() - 2) == "Id")
    relationship = d.name.substr(0, d.name.size() - 2);
  if (d.type == "reference" && d.custom) relationship = d.name.substr(0, d.name.size() - 1) + "r";
  return {{"name", d.name},
          {"label", d.label},
          {"type", d.type},
          {"soapType", soap},
          {"length", text || d.type == "id" || d.type == "reference" ? d.length : 0},
          {"byteLength", text || d.type == "id" || d.type == "reference" ? d.length * 3 : 0},
          {"precision", is_number_type(d.type) && d.type != "int" ? 18 : 0},
          {"scale", is_number_type(d.type) && d.type != "int" ? 2 : 0},
          {"digits", d.type == "int" ? 9 : 0},
          {"nillable", d.nillable},
          {"createable", d.createable},
          {"updateable", d.updateable},
          {"externalId", d.external_id},
          {"unique", d.unique},
          {"idLookup", d.id_lookup || d.external_id},
          {"defaultedOnCreate", d.defaulted_on_create},
          {"defaultValue", d.default_value.is_null() || d.name == "OwnerId" ? json() : d.default_value},
          {"custom", d.custom},
          {"calculated", d.system && is_name},
          {"nameField", is_name},
          {"autoNumber", false},
          {"caseSensitive", false},
          {"filterable", d.type != "textarea" || d.length <= 255},
          {"sortable", d.type != "textarea" || d.length <= 255},
          {"groupable", d.type != "textarea" && d.type != "double" && d.type != "currency" && d.type != "datetime"},
          {"restrictedPicklist", d.restricted_picklist},
          {"picklistValues", picklist},
          {"referenceTo", d.reference_to},
          {"relationshipName", relationship.empty() ? json() : json(relationship)},
          {"htmlFormatted", false},
          {"deprecatedAndHidden", false},
          {"inlineHelpText", nullptr}};
}

json SalesforceEmulator::Impl::describe_json(const ObjectType& t, int version) const {
  json fields = json::array();
  for (const auto& d : t.fields) fields.push_back(describe_field_json(d));
  const std::string base = "/services/data/v" + std::to_string(version) + ".0/sobjects/" + t.name;
  return {{"name", t.name},
          {"label", t.label},
          {"labelPlural", t.label_plural},
          {"keyPrefix", t.key_prefix},
          {"custom", t.custom},
          {"createable", true},
          {"updateable", true},
          {"deletable", true},
          {"undeletable", true},
          {"queryable", true},
          {"retrieveable", true},
          {"searchable", true},
          {"replicateable", true},
          {"mergeable", t.field("MasterRecordId") != nullptr},
          {"fields", fields},
          {"urls", {{"sobject", base}, {"describe", base + "/describe"}, {"rowTemplate", base + "/{ID}"}}}};
}

}  // namespace synctool::emulators
