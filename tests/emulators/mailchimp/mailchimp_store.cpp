// The Mailchimp emulator's store: lists (audiences), merge fields, members, the seed, value
// validation, writes, timestamps and the API shape of lists, merge fields and members.
// Every function here is called with the store's mutex held.
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "emulators/mailchimp/mailchimp_internal.hpp"

namespace synctool::emulators {

using namespace mailchimp_detail;
using json = nlohmann::json;

namespace {

const std::vector<std::string> kWriteStatuses{"subscribed", "unsubscribed", "cleaned", "pending", "transactional"};
const std::vector<std::string> kMergeTypes{"text", "number", "address", "phone",    "date", "url",
                                           "imageurl", "radio", "dropdown", "birthday", "zip"};

bool one_of(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

bool is_empty_value(const json& v) { return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()); }

// Seconds of an ISO 8601 value; false when it is not one.
bool seconds_of(const json& v, std::int64_t& out) {
  if (!v.is_string()) return false;
  const std::optional<std::int64_t> ms = parse_iso_ms(v.get<std::string>());
  if (!ms) return false;
  out = floor_div(*ms, 1000);
  return true;
}

json default_options(const std::string& type) {
  if (type == "text") return {{"size", 25}};
  if (type == "address") return {{"default_country", 164}};
  if (type == "phone") return {{"phone_format", "none"}};
  if (type == "date") return {{"date_format", "MM/DD/YYYY"}};
  if (type == "birthday") return {{"date_format", "MM/DD"}};
  return json::object();
}

MergeField builtin(const std::string& tag, const std::string& name, const std::string& type) {
  MergeField f;
  f.tag = tag;
  f.name = name;
  f.type = type;
  f.options = default_options(type);
  return f;
}

std::string generated_list_id(const std::string& seed_text) { return md5_hex("list:" + seed_text).substr(0, 10); }

bool valid_list_id(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lists and merge fields

MailchimpEmulator::Impl::List* MailchimpEmulator::Impl::find_list(const std::string& id) {
  auto it = lists.find(id);
  return it == lists.end() ? nullptr : it->second.get();
}

const MailchimpEmulator::Impl::List* MailchimpEmulator::Impl::find_list(const std::string& id) const {
  auto it = lists.find(id);
  return it == lists.end() ? nullptr : it->second.get();
}

MailchimpEmulator::Impl::List& MailchimpEmulator::Impl::new_list(const std::string& id, const std::string& name,
                                                                 std::int64_t created) {
  auto l = std::make_unique<List>();
  l->id = id;
  l->name = name;
  l->date_created = created;
  l->web_id = next_web_id++;
  List* raw = l.get();
  lists[id] = std::move(l);
  return *raw;
}

MailchimpEmulator::Impl::MergeField MailchimpEmulator::Impl::parse_merge_field(const json& j, const std::string& where) {
  auto fail = [&](const std::string& what) { throw std::invalid_argument(where + ": " + what); };
  if (!j.is_object()) fail("a merge field must be an object");
  static const std::vector<std::string> known{"tag",     "name",          "type",    "required", "default_value",
                                              "public",  "display_order", "options", "help_text", "merge_id",
                                              "list_id"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!one_of(known, it.key())) fail("unknown merge field key '" + it.key() + "'");
  auto str = [&](const char* k, std::string& out) {
    if (!j.contains(k) || j[k].is_null()) return false;
    if (!j[k].is_string()) fail(std::string("merge field ") + k + " must be a string");
    out = j[k].get<std::string>();
    return true;
  };
  auto boolean = [&](const char* k, bool& out) {
    if (!j.contains(k) || j[k].is_null()) return;
    if (!j[k].is_boolean()) fail(std::string("merge field ") + k + " must be true or false");
    out = j[k].get<bool>();
  };
  MergeField f;
  if (str("tag", f.tag)) {
    f.tag = upper(f.tag);
    if (f.tag.empty() || f.tag.size() > 10) fail("merge field tag '" + f.tag + "' must have 1 to 10 characters");
    for (char c : f.tag)
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
        fail("merge field tag '" + f.tag + "' may hold only letters, digits and _");
  }
  str("name", f.name);
  if (str("type", f.type) && !one_of(kMergeTypes, f.type))
    fail("merge field type '" + f.type + "' is not one of " + joined(kMergeTypes));
  boolean("required", f.required);
  boolean("public", f.is_public);
  str("default_value", f.default_value);
  str("help_text", f.help_text);
  if (j.contains("display_order") && !j["display_order"].is_null()) {
    if (!j["display_order"].is_number_integer()) fail("merge field display_order must be an integer");
    f.display_order = j["display_order"].get<int>();
  }
  f.options = default_options(f.type);
  if (j.contains("options") && !j["options"].is_null()) {
    if (!j["options"].is_object()) fail("merge field options must be an object");
    for (auto it = j["options"].begin(); it != j["options"].end(); ++it) f.options[it.key()] = it.value();
  }
  if (f.type == "dropdown" || f.type == "radio") {
    if (!f.options.contains("choices") || !f.options["choices"].is_array() || f.options["choices"].empty())
      fail("a " + f.type + " merge field needs options.choices (an array of strings)");
    for (const auto& c : f.options["choices"]) {
      if (!c.is_string()) fail("options.choices must hold strings");
      f.choices.push_back(c.get<std::string>());
    }
  } else {
    f.options.erase("choices");
  }
  return f;
}

json MailchimpEmulator::Impl::render_merge_field(const List& l, const MergeField& f) const {
  return {{"merge_id", f.merge_id},
          {"tag", f.tag},
          {"name", f.name},
          {"type", f.type},
          {"required", f.required},
          {"default_value", f.default_value},
          {"public", f.is_public},
          {"display_order", f.display_order},
          {"options", f.options},
          {"help_text", f.help_text},
          {"list_id", l.id}};
}

json MailchimpEmulator::Impl::render_list(const List& l) const {
  std::int64_t subscribed = 0, unsubscribed = 0, cleaned = 0, archived = 0;
  std::int64_t last_sub = kNoTime, last_unsub = kNoTime;
  for (const auto& [hash, m] : l.members) {
    if (m.status == "subscribed") {
      ++subscribed;
      last_sub = std::max(last_sub, m.timestamp_opt == kNoTime ? m.last_changed : m.timestamp_opt);
    } else if (m.status == "unsubscribed") {
      ++unsubscribed;
      last_unsub = std::max(last_unsub, m.last_changed);
    } else if (m.status == "cleaned") {
      ++cleaned;
    } else if (m.status == "archived") {
      ++archived;
    }
  }
  return {{"id", l.id},
          {"web_id", l.web_id},
          {"name", l.name},
          {"contact",
           {{"company", "Synctool Emulator"},
            {"address1", "675 Ponce de Leon Ave NE"},
            {"address2", ""},
            {"city", "Atlanta"},
            {"state", "GA"},
            {"zip", "30308"},
            {"country", "US"},
            {"phone", ""}}},
          {"permission_reminder", "You are receiving this email because you opted in via our website."},
          {"use_archive_bar", true},
          {"campaign_defaults",
           {{"from_name", "Synctool Emulator"},
            {"from_email", "owner@emulator.example.org"},
            {"subject", ""},
            {"language", "en"}}},
          {"date_created", iso_s(l.date_created)},
          {"list_rating", 0},
          {"email_type_option", false},
          {"visibility", "prv"},
          {"double_optin", false},
          {"has_welcome", false},
          {"marketing_permissions", false},
          {"stats",
           {{"member_count", subscribed},
            {"total_contacts", static_cast<std::int64_t>(l.members.size())},
            {"unsubscribe_count", unsubscribed},
            {"cleaned_count", cleaned},
            {"archive_count", archived},
            {"member_count_since_send", subscribed},
            {"unsubscribe_count_since_send", unsubscribed},
            {"cleaned_count_since_send", cleaned},
            {"campaign_count", 0},
            {"campaign_last_sent", ""},
            {"merge_field_count", static_cast<std::int64_t>(l.merge_fields.size())},
            {"avg_sub_rate", 0},
            {"avg_unsub_rate", 0},
            {"target_sub_rate", 0},
            {"open_rate", 0},
            {"click_rate", 0},
            {"last_sub_date", iso_s(last_sub)},
            {"last_unsub_date", iso_s(last_unsub)}}}};
}

// ---------------------------------------------------------------------------------------------
// Seed

void MailchimpEmulator::Impl::load_seed_locked(const json& seed) {
  if (seed.is_null()) return;
  if (!seed.is_object()) throw std::invalid_argument("seed: expected a JSON object");
  for (auto it = seed.begin(); it != seed.end(); ++it)
    if (it.key() != "lists") throw std::invalid_argument("seed: unknown key '" + it.key() + "' (expected \"lists\")");
  if (!seed.contains("lists")) return;
  if (!seed["lists"].is_array()) throw std::invalid_argument("seed: lists must be an array");
  const std::int64_t now = now_s();
  std::size_t index = 0;
  for (const auto& lj : seed["lists"]) {
    std::string where = "seed: lists[" + std::to_string(index++) + "]";
    if (!lj.is_object()) throw std::invalid_argument(where + ": a list must be an object");
    for (auto it = lj.begin(); it != lj.end(); ++it)
      if (it.key() != "id" && it.key() != "name" && it.key() != "merge_fields" && it.key() != "members" &&
          it.key() != "date_created")
        throw std::invalid_argument(where + ": unknown key '" + it.key() + "'");
    std::string id, name;
    if (lj.contains("id") && !lj["id"].is_null()) {
      if (!lj["id"].is_string() || !valid_list_id(lj["id"].get<std::string>()))
        throw std::invalid_argument(where + ": id must be a string of letters and digits");
      id = lj["id"].get<std::string>();
    }
    if (lj.contains("name") && !lj["name"].is_null()) {
      if (!lj["name"].is_string() || lj["name"].get<std::string>().empty())
        throw std::invalid_argument(where + ": name must be a non-empty string");
      name = lj["name"].get<std::string>();
    }
    if (!name.empty()) where += " (" + name + ")";
    List* l = nullptr;
    if (!id.empty()) {
      l = find_list(id);
    } else if (!name.empty()) {
      for (auto& [lid, lp] : lists)
        if (lp->name == name) l = lp.get();
    } else {
      throw std::invalid_argument(where + ": a list needs an id or a name");
    }
    if (!name.empty())
      for (auto& [lid, lp] : lists)
        if (lp->name == name && lp.get() != l)
          throw std::invalid_argument(where + ": another list (" + lid + ") is named " + name);
    std::int64_t created = now;
    if (lj.contains("date_created") && !seconds_of(lj["date_created"], created))
      throw std::invalid_argument(where + ": date_created must be an ISO 8601 date-time");
    if (l == nullptr) {
      if (name.empty()) throw std::invalid_argument(where + ": a new list needs a name");
      if (id.empty()) {
        id = generated_list_id(name);
        while (lists.count(id) != 0) id = generated_list_id(id);
      }
      l = &new_list(id, name, created);
      if (!lj.contains("merge_fields")) {
        for (const auto& f : {builtin("FNAME", "First Name", "text"), builtin("LNAME", "Last Name", "text"),
                              builtin("ADDRESS", "Address", "address"), builtin("PHONE", "Phone Number", "phone"),
                              builtin("BIRTHDAY", "Birthday", "birthday")}) {
          MergeField g = f;
          g.merge_id = l->next_merge_id++;
          g.display_order = g.merge_id + 1;
          l->merge_fields.push_back(std::move(g));
        }
      }
    } else {
      if (!name.empty()) l->name = name;
      if (lj.contains("date_created")) l->date_created = created;
    }

    if (lj.contains("merge_fields") && !lj["merge_fields"].is_null()) {
      if (!lj["merge_fields"].is_array()) throw std::invalid_argument(where + ": merge_fields must be an array");
      std::size_t fi = 0;
      for (const auto& fj : lj["merge_fields"]) {
        const std::string fwhere = where + ": merge_fields[" + std::to_string(fi++) + "]";
        MergeField f = parse_merge_field(fj, fwhere);
        if (f.tag.empty()) throw std::invalid_argument(fwhere + ": a merge field needs a tag");
        if (f.name.empty()) f.name = f.tag;
        auto old = std::find_if(l->merge_fields.begin(), l->merge_fields.end(),
                                [&](const MergeField& x) { return x.tag == f.tag; });
        if (old != l->merge_fields.end()) {
          f.merge_id = old->merge_id;
          if (!fj.contains("display_order")) f.display_order = old->display_order;
          *old = std::move(f);
        } else {
          f.merge_id = l->next_merge_id++;
          if (!fj.contains("display_order")) f.display_order = f.merge_id + 1;
          l->merge_fields.push_back(std::move(f));
        }
      }
    }

    if (lj.contains("members") && !lj["members"].is_null()) {
      if (!lj["members"].is_array()) throw std::invalid_argument(where + ": members must be an array");
      std::unordered_set<std::string> seen;
      std::size_t mi = 0;
      for (const auto& mj : lj["members"]) {
        std::string mwhere = where + ": members[" + std::to_string(mi++) + "]";
        if (!mj.is_object()) throw std::invalid_argument(mwhere + ": a member must be an object");
        static const std::vector<std::string> known{
            "email_address", "status",   "merge_fields", "tags",       "last_changed", "timestamp_opt",
            "timestamp_signup", "ip_signup", "ip_opt",    "language",   "vip",          "email_type",
            "member_rating",    "source"};
        for (auto it = mj.begin(); it != mj.end(); ++it)
          if (!one_of(known, it.key())) throw std::invalid_argument(mwhere + ": unknown key '" + it.key() + "'");
        if (!mj.contains("email_address") || !mj["email_address"].is_string())
          throw std::invalid_argument(mwhere + ": email_address (a string) is required");
        const std::string email = mj["email_address"].get<std::string>();
        mwhere += " (" + email + ")";
        if (!valid_email(email))
          throw std::invalid_argument(mwhere + ": " + email + " looks fake or invalid, please enter a real email address.");
        const std::string hash = md5_hex(lower(email));
        if (!seen.insert(hash).second) throw std::invalid_argument(mwhere + ": the email is repeated in this list");
        std::string status = "subscribed";
        if (mj.contains("status")) {
          if (!mj["status"].is_string()) throw std::invalid_argument(mwhere + ": status must be a string");
          status = mj["status"].get<std::string>();
          if (!one_of(kWriteStatuses, status) && status != "archived")
            throw std::invalid_argument(mwhere + ": status '" + status + "' is not one of " + joined(kWriteStatuses) +
                                        ", archived");
        }
        Member m;
        m.hash = hash;
        m.email = email;
        m.status = status;
        m.source = "Admin Add";
        m.last_changed = now;
        if (mj.contains("last_changed") && !seconds_of(mj["last_changed"], m.last_changed))
          throw std::invalid_argument(mwhere + ": last_changed must be an ISO 8601 date-time");
        if (mj.contains("timestamp_opt")) {
          if (!seconds_of(mj["timestamp_opt"], m.timestamp_opt) && !is_empty_value(mj["timestamp_opt"]))
            throw std::invalid_argument(mwhere + ": timestamp_opt must be an ISO 8601 date-time");
        } else if (status == "subscribed") {
          m.timestamp_opt = m.last_changed;
        }
        if (mj.contains("timestamp_signup") && !seconds_of(mj["timestamp_signup"], m.timestamp_signup) &&
            !is_empty_value(mj["timestamp_signup"]))
          throw std::invalid_argument(mwhere + ": timestamp_signup must be an ISO 8601 date-time");
        try {
          m.ip_signup = mj.value("ip_signup", std::string());
          m.ip_opt = mj.value("ip_opt", std::string());
          m.language = mj.value("language", std::string());
          m.vip = mj.value("vip", false);
          m.email_type = mj.value("email_type", std::string("html"));
          m.member_rating = mj.value("member_rating", 2);
          m.source = mj.value("source", m.source);
        } catch (const json::exception&) {
          throw std::invalid_argument(mwhere + ": ip_signup, ip_opt, language, email_type, source must be strings, "
                                               "vip a boolean, member_rating an integer");
        }
        if (mj.contains("merge_fields") && !mj["merge_fields"].is_null()) {
          if (!mj["merge_fields"].is_object()) throw std::invalid_argument(mwhere + ": merge_fields must be an object");
          for (auto it = mj["merge_fields"].begin(); it != mj["merge_fields"].end(); ++it) {
            const MergeField* f = l->field(upper(it.key()));
            if (f == nullptr)
              throw std::invalid_argument(mwhere + ": the list has no merge field " + it.key() +
                                          " (add it under \"merge_fields\" of the list)");
            json value;
            std::string message;
            if (!convert_merge(*f, it.value(), value, message))
              throw std::invalid_argument(mwhere + ": merge field " + f->tag + ": " + message);
            if (!is_empty_value(value)) m.merge[f->tag] = std::move(value);
          }
        }
        if (mj.contains("tags") && !mj["tags"].is_null()) {
          if (!mj["tags"].is_array()) throw std::invalid_argument(mwhere + ": tags must be an array of strings");
          for (const auto& t : mj["tags"]) {
            if (!t.is_string() || t.get<std::string>().empty())
              throw std::invalid_argument(mwhere + ": tags must be an array of non-empty strings");
            const std::string tag = t.get<std::string>();
            if (!one_of(m.tags, tag)) {
              tag_id(*l, tag);
              m.tags.push_back(tag);
            }
          }
        }
        last_ts = std::max(last_ts, m.last_changed);
        auto old = l->members.find(hash);
        if (old != l->members.end()) {
          // Replaces the member's data; it keeps its place.
          m.seq = old->second.seq;
          m.pos = old->second.pos;
          m.web_id = old->second.web_id;
          m.unique_email_id = old->second.unique_email_id;
          m.contact_id = old->second.contact_id;
          old->second = std::move(m);
        } else {
          place_member(*l, std::move(m));
        }
      }
    }
  }
}

void MailchimpEmulator::load_seed(const nlohmann::json& seed) {
  std::lock_guard lk(impl_->mu);
  impl_->load_seed_locked(seed);
}

std::string MailchimpEmulator::list_id(const std::string& name) const {
  std::lock_guard lk(impl_->mu);
  for (const auto& [id, l] : impl_->lists)
    if (l->name == name) return id;
  throw std::out_of_range("no list named " + name);
}

// ---------------------------------------------------------------------------------------------
// Time

std::int64_t MailchimpEmulator::Impl::now_s() const { return frozen ? frozen_s : floor_div(wall_ms(), 1000); }

std::int64_t MailchimpEmulator::Impl::write_ts() {
  const std::int64_t t = frozen ? frozen_s : std::max(now_s(), last_ts);
  last_ts = std::max(last_ts, t);
  return t;
}

std::int64_t MailchimpEmulator::Impl::touch_locked(const std::string& list_id, const std::string& member) {
  List* l = find_list(list_id);
  if (l == nullptr) throw std::out_of_range("no list " + list_id);
  Member* m = find_member(*l, member);
  if (m == nullptr) throw std::out_of_range("no member " + member + " in list " + list_id);
  const std::int64_t ts = std::max(now_s(), last_ts + 1);
  last_ts = ts;
  m->last_changed = ts;
  return ts;
}

void MailchimpEmulator::touch(const std::string& list_id, const std::string& member) {
  std::lock_guard lk(impl_->mu);
  impl_->touch_locked(list_id, member);
}

// ---------------------------------------------------------------------------------------------
// Members

std::string MailchimpEmulator::Impl::resolve_hash(const std::string& key) {
  if (key.find('@') != std::string::npos) return md5_hex(lower(key));
  return lower(key);
}

MailchimpEmulator::Impl::Member* MailchimpEmulator::Impl::find_member(List& l, const std::string& key) {
  auto it = l.members.find(resolve_hash(key));
  return it == l.members.end() ? nullptr : &it->second;
}

bool MailchimpEmulator::Impl::convert_merge(const MergeField& f, const json& v, json& out, std::string& message) const {
  if (v.is_null()) {
    out = "";
    return true;
  }
  if (f.type == "address") {
    if (v.is_string()) {
      out = v;
      return true;
    }
    if (!v.is_object()) {
      message = "Please enter a complete address";
      return false;
    }
    json a{{"addr1", ""}, {"addr2", ""}, {"city", ""}, {"state", ""}, {"zip", ""}, {"country", "US"}};
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!a.contains(it.key())) continue;
      if (it.value().is_string()) a[it.key()] = it.value();
      else if (it.value().is_number()) a[it.key()] = it.value().dump();
      else if (!it.value().is_null()) {
        message = "Please enter a complete address";
        return false;
      }
    }
    for (const char* k : {"addr1", "city", "state", "zip"})
      if (a[k].get_ref<const std::string&>().empty()) {
        message = "Please enter a complete address";
        return false;
      }
    out = std::move(a);
    return true;
  }
  if (!v.is_string() && !v.is_number()) {
    message = f.type == "number" ? "Please enter a number" : "Please enter a text value";
    return false;
  }
  const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.empty()) {
    out = "";
    return true;
  }
  if (f.type == "number") {
    if (v.is_number()) {
      out = v;
      return true;
    }
    const std::string t = trim(s);
    if (!is_decimal(t)) {
      message = "Please enter a number";
      return false;
    }
    std::int64_t i = 0;
    if (parse_int64(t, i)) out = i;
    else out = std::strtod(t.c_str(), nullptr);
    return true;
  }
  if (f.type == "dropdown" || f.type == "radio") {
    if (!one_of(f.choices, s)) {
      message = "Please choose one of: " + joined(f.choices);
      return false;
    }
    out = s;
    return true;
  }
  if (f.type == "text" && s.size() > 255) {
    message = "Please enter no more than 255 characters";
    return false;
  }
  out = s;
  return true;
}

bool MailchimpEmulator::Impl::read_write(const List& l, const json& in, MemberWrite& w, RowError& err) const {
  auto bad = [&](const std::string& field, const std::string& message) {
    err = RowError{};
    err.error = message;
    err.field = field;
    err.field_message = message;
    return false;
  };
  auto status_field = [&](const char* key, bool& has, std::string& out) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return true;
    if (!it->is_string() || !one_of(kWriteStatuses, it->get<std::string>()))
      return bad(key, "Invalid " + std::string(key) + " " + it->dump() + ": use one of " + joined(kWriteStatuses) + ".");
    has = true;
    out = it->get<std::string>();
    return true;
  };
  if (!status_field("status", w.has_status, w.status)) return false;
  if (!status_field("status_if_new", w.has_status_if_new, w.status_if_new)) return false;
  if (auto it = in.find("merge_fields"); it != in.end() && !it->is_null()) {
    if (!it->is_object()) return bad("merge_fields", "merge_fields must be an object keyed by merge tag");
    for (auto f = it->begin(); f != it->end(); ++f) {
      const MergeField* d = l.field(upper(f.key()));
      if (d == nullptr) continue;  // unknown tags are ignored, as Mailchimp does
      json value;
      std::string message;
      if (!convert_merge(*d, f.value(), value, message)) {
        err = RowError{};
        err.error = "Your merge fields were invalid.";
        err.field = d->tag;
        err.field_message = message;
        return false;
      }
      w.merge.emplace_back(d->tag, std::move(value));
    }
  }
  auto string_field = [&](const char* key, bool& has, std::string& out) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return true;
    if (!it->is_string()) return bad(key, std::string(key) + " must be a string");
    has = true;
    out = it->get<std::string>();
    return true;
  };
  if (!string_field("language", w.has_language, w.language)) return false;
  if (!string_field("ip_signup", w.has_ip_signup, w.ip_signup)) return false;
  if (!string_field("ip_opt", w.has_ip_opt, w.ip_opt)) return false;
  if (!string_field("email_type", w.has_email_type, w.email_type)) return false;
  if (w.has_email_type && w.email_type != "html" && w.email_type != "text")
    return bad("email_type", "email_type must be html or text");
  if (auto it = in.find("vip"); it != in.end() && !it->is_null()) {
    if (!it->is_boolean()) return bad("vip", "vip must be true or false");
    w.has_vip = true;
    w.vip = it->get<bool>();
  }
  for (const char* key : {"timestamp_signup", "timestamp_opt"}) {
    auto it = in.find(key);
    if (it == in.end() || is_empty_value(*it)) continue;
    std::int64_t s = 0;
    if (!seconds_of(*it, s)) return bad(key, std::string(key) + " must be an ISO 8601 date-time");
    (std::string(key) == "timestamp_signup" ? w.timestamp_signup : w.timestamp_opt) = s;
  }
  if (auto it = in.find("tags"); it != in.end() && !it->is_null()) {
    if (!it->is_array()) return bad("tags", "tags must be an array of strings");
    w.has_tags = true;
    for (const auto& t : *it) {
      std::string name;
      if (t.is_string()) name = t.get<std::string>();
      else if (t.is_object() && t.contains("name") && t["name"].is_string()) name = t["name"].get<std::string>();
      else return bad("tags", "tags must be an array of strings");
      if (!name.empty() && !one_of(w.tags, name)) w.tags.push_back(name);
    }
  }
  return true;
}

bool MailchimpEmulator::Impl::missing_required(const List& l, const Member* base, bool strict, const MemberWrite& w,
                                               RowError& err) const {
  for (const auto& f : l.merge_fields) {
    if (!f.required) continue;
    const json* given = nullptr;
    for (const auto& [tag, v] : w.merge)
      if (tag == f.tag) given = &v;
    bool empty = false;
    if (given != nullptr) {
      empty = is_empty_value(*given);
    } else if (strict && base == nullptr) {
      empty = true;
    } else if (strict) {
      auto it = base->merge.find(f.tag);
      empty = it == base->merge.end() || is_empty_value(it->second);
    }
    if (empty) {
      err = RowError{};
      err.error = "Your merge fields were invalid.";
      err.field = f.tag;
      err.field_message = "Please enter a value";
      return true;
    }
  }
  return false;
}

int MailchimpEmulator::Impl::tag_id(List& l, const std::string& name) {
  auto it = l.tag_ids.find(name);
  if (it != l.tag_ids.end()) return it->second;
  const int id = l.next_tag_id++;
  l.tag_ids.emplace(name, id);
  return id;
}

MailchimpEmulator::Impl::Member& MailchimpEmulator::Impl::create_member(List& l, const std::string& email,
                                                                        const std::string& status,
                                                                        const MemberWrite& w, std::int64_t ts) {
  Member m;
  m.hash = md5_hex(lower(email));
  m.email = email;
  m.status = status;
  for (const auto& [tag, v] : w.merge)
    if (!is_empty_value(v)) m.merge[tag] = v;
  for (const auto& t : w.tags) {
    tag_id(l, t);
    m.tags.push_back(t);
  }
  m.last_changed = ts;
  m.timestamp_signup = w.timestamp_signup;
  m.timestamp_opt = w.timestamp_opt != kNoTime ? w.timestamp_opt : status == "subscribed" ? ts : kNoTime;
  if (w.has_ip_signup) m.ip_signup = w.ip_signup;
  if (w.has_ip_opt) m.ip_opt = w.ip_opt;
  if (w.has_language) m.language = w.language;
  if (w.has_email_type) m.email_type = w.email_type;
  if (w.has_vip) m.vip = w.vip;
  const std::string hash = m.hash;
  place_member(l, std::move(m));
  ++members_written;
  return l.members.at(hash);
}

void MailchimpEmulator::Impl::place_member(List& l, Member m) {
  m.seq = next_seq++;
  m.web_id = next_web_id++;
  m.unique_email_id = md5_hex("ueid:" + l.id + m.hash).substr(0, 10);
  m.contact_id = md5_hex("contact:" + m.hash);
  const std::string hash = m.hash;
  auto& stored = l.members.emplace(hash, std::move(m)).first->second;
  stored.pos = l.order.size();
  l.order.push_back(&stored);
}

bool MailchimpEmulator::Impl::apply_write(List& l, Member& m, const MemberWrite& w, const std::string* new_status,
                                          std::int64_t ts) {
  bool changed = false;
  const bool readd = m.status == "archived" && new_status != nullptr;
  if (new_status != nullptr && *new_status != m.status) {
    m.status = *new_status;
    if (m.status == "subscribed" && w.timestamp_opt == kNoTime) m.timestamp_opt = ts;
    changed = true;
  }
  for (const auto& [tag, v] : w.merge) {
    auto it = m.merge.find(tag);
    if (is_empty_value(v)) {
      if (it != m.merge.end()) {
        m.merge.erase(it);
        changed = true;
      }
    } else if (it == m.merge.end() || it->second != v) {
      m.merge[tag] = v;
      changed = true;
    }
  }
  auto set = [&](bool has, const std::string& value, std::string& field) {
    if (has && field != value) {
      field = value;
      changed = true;
    }
  };
  set(w.has_language, w.language, m.language);
  set(w.has_email_type, w.email_type, m.email_type);
  set(w.has_ip_signup, w.ip_signup, m.ip_signup);
  set(w.has_ip_opt, w.ip_opt, m.ip_opt);
  if (w.has_vip && w.vip != m.vip) {
    m.vip = w.vip;
    changed = true;
  }
  if (w.timestamp_signup != kNoTime && w.timestamp_signup != m.timestamp_signup) {
    m.timestamp_signup = w.timestamp_signup;
    changed = true;
  }
  if (w.timestamp_opt != kNoTime && w.timestamp_opt != m.timestamp_opt) {
    m.timestamp_opt = w.timestamp_opt;
    changed = true;
  }
  // Tags are taken when a member is added (or re-added), as Mailchimp's add does.
  if (readd)
    for (const auto& t : w.tags)
      if (!one_of(m.tags, t)) {
        tag_id(l, t);
        m.tags.push_back(t);
        changed = true;
      }
  if (changed) m.last_changed = ts;
  ++members_written;
  return changed;
}

void MailchimpEmulator::Impl::delete_member(List& l, Member& m) {
  l.order[m.pos] = nullptr;
  ++l.holes;
  const std::string hash = m.hash;
  l.members.erase(hash);
  ++members_written;
  if (l.holes > 1024 && l.holes * 2 > l.order.size()) l.compact();
}

void MailchimpEmulator::Impl::write_member(std::string& out, const List& l, const Member& m, const Sel& sel) const {
  ObjectOut o(out, sel);
  Sel c;
  o.str("id", m.hash);
  o.str("email_address", m.email);
  o.str("unique_email_id", m.unique_email_id);
  o.str("contact_id", m.contact_id);
  if (o.key("full_name", c)) {
    std::string full_name;
    for (const char* tag : {"FNAME", "LNAME"}) {
      auto it = m.merge.find(tag);
      if (it == m.merge.end() || !it->second.is_string()) continue;
      const std::string& part = it->second.get_ref<const std::string&>();
      if (part.empty()) continue;
      if (!full_name.empty()) full_name += ' ';
      full_name += part;
    }
    write_string(out, full_name);
  }
  o.num("web_id", m.web_id);
  o.str("email_type", m.email_type);
  o.str("status", m.status);
  o.boolean("consents_to_one_to_one_messaging", true);
  if (o.key("merge_fields", c)) {
    // Every merge field of the list, "" when unset.
    ObjectOut mf(out, c);
    for (const auto& f : l.merge_fields) {
      auto it = m.merge.find(f.tag);
      if (it == m.merge.end()) mf.str(f.tag, "");
      else mf.value(f.tag, it->second);
    }
    mf.close();
  }
  if (o.key("stats", c)) {
    ObjectOut st(out, c);
    st.num("avg_open_rate", 0);
    st.num("avg_click_rate", 0);
    st.close();
  }
  o.str("ip_signup", m.ip_signup);
  o.str("timestamp_signup", iso_s(m.timestamp_signup));
  o.str("ip_opt", m.ip_opt);
  o.str("timestamp_opt", iso_s(m.timestamp_opt));
  o.num("member_rating", m.member_rating);
  o.str("last_changed", iso_s(m.last_changed));
  o.str("language", m.language);
  o.boolean("vip", m.vip);
  o.str("email_client", "");
  if (o.key("location", c)) {
    ObjectOut loc(out, c);
    loc.num("latitude", 0);
    loc.num("longitude", 0);
    loc.num("gmtoff", 0);
    loc.num("dstoff", 0);
    loc.str("country_code", "");
    loc.str("timezone", "");
    loc.str("region", "");
    loc.close();
  }
  o.str("source", m.source);
  o.num("tags_count", static_cast<std::int64_t>(m.tags.size()));
  if (o.key("tags", c)) {
    out += '[';
    for (std::size_t i = 0; i < m.tags.size(); ++i) {
      if (i > 0) out += ',';
      auto it = l.tag_ids.find(m.tags[i]);
      ObjectOut t(out, c);
      t.num("id", it == l.tag_ids.end() ? 0 : it->second);
      t.str("name", m.tags[i]);
      t.close();
    }
    out += ']';
  }
  o.str("list_id", l.id);
  o.close();
}

std::string MailchimpEmulator::Impl::member_text(const List& l, const Member& m, const Sel& sel) const {
  std::string out;
  out.reserve(1024);
  write_member(out, l, m, sel);
  return out;
}

json MailchimpEmulator::Impl::render_member(const List& l, const Member& m) const {
  return json::parse(member_text(l, m, Sel{}));
}

nlohmann::json MailchimpEmulator::members(const std::string& list_id, bool include_archived) const {
  std::lock_guard lk(impl_->mu);
  const List* l = impl_->find_list(list_id);
  if (l == nullptr) throw std::out_of_range("no list " + list_id);
  json out = json::array();
  for (const Member* m : l->order)
    if (m != nullptr && (include_archived || m->status != "archived")) out.push_back(impl_->render_member(*l, *m));
  return out;
}

}  // namespace synctool::emulators
