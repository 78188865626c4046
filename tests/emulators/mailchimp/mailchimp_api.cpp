// The Mailchimp emulator's /3.0 handlers: account root, ping, lists, merge fields, members
// (list, one, create, upsert, update, archive, permanent delete) and the batch call.
// Called with the store's mutex held, after authentication, connection limits and faults.
#include "emulators/mailchimp/mailchimp_internal.hpp"

namespace synctool::emulators {

using namespace mailchimp_detail;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kMaxCount = 1000;
constexpr std::size_t kMaxBatch = 500;
const char* const kNotFound = "The requested resource could not be found.";
const char* const kValidation =
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array.";

Reply not_found() { return problem(404, "Resource Not Found", kNotFound); }

Reply invalid(const std::string& field, const std::string& message) {
  return problem(400, "Invalid Resource", kValidation, json::array({{{"field", field}, {"message", message}}}));
}

Reply not_allowed(const char* allow) {
  Reply r = problem(405, "Method Not Allowed",
                    "The requested method and resource are not compatible. See the Allow header for this "
                    "resource's available methods.");
  r.headers.emplace_back("Allow", allow);
  return r;
}

Reply row_problem(const RowError& e) {
  json errors;
  if (!e.field.empty()) errors = json::array({{{"field", e.field}, {"message", e.field_message}}});
  return problem(e.status, e.title, e.error, std::move(errors));
}

json row_entry(const std::string& email, const RowError& e) {
  return {{"email_address", email},
          {"error", e.error},
          {"error_code", e.code},
          {"field", e.field},
          {"field_message", e.field_message}};
}

RowError fake_email(const std::string& email) {
  RowError e;
  e.error = email + " looks fake or invalid, please enter a real email address.";
  e.field = "email_address";
  e.field_message = "This email address looks fake or invalid. Please enter a real email address.";
  return e;
}

RowError member_exists(const std::string& email) {
  RowError e;
  e.title = "Member Exists";
  e.error = email + " is already a list member. Use PUT to insert or update list members.";
  e.code = "ERROR_CONTACT_EXISTS";
  return e;
}

RowError compliance(const std::string& email) {
  RowError e;
  e.title = "Member In Compliance State";
  e.error = email + " is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.";
  return e;
}

RowError status_required(const char* field) {
  RowError e;
  e.error = std::string(field) + " is required for new members";
  e.field = field;
  e.field_message = "Please enter a status";
  return e;
}

bool in_compliance_state(const std::string& status) { return status == "unsubscribed" || status == "cleaned"; }

// `count` and `offset` of a collection; false (and `err`) when they are not valid.
bool read_paging(const httplib::Request& req, std::int64_t& count, std::int64_t& offset, Reply& err) {
  count = 10;
  offset = 0;
  if (req.has_param("count")) {
    const std::string v = req.get_param_value("count");
    if (!parse_int64(v, count) || count < 0) {
      err = invalid("count", "count must be a non-negative integer, got '" + v + "'");
      return false;
    }
    if (count > kMaxCount) {
      err = invalid("count", "count may be at most 1000, got " + v);
      return false;
    }
  }
  if (req.has_param("offset")) {
    const std::string v = req.get_param_value("offset");
    if (!parse_int64(v, offset) || offset < 0) {
      err = invalid("offset", "offset must be a non-negative integer, got '" + v + "'");
      return false;
    }
  }
  return true;
}

std::string email_of(const json& body) {
  auto it = body.find("email_address");
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Routing

Reply MailchimpEmulator::Impl::route(Call& c) {
  const auto& s = c.segs;
  const std::string& m = c.req.method;
  if (s.empty()) return m == "GET" ? root(c) : not_allowed("GET");
  if (s.size() == 1 && s[0] == "ping") {
    if (m != "GET") return not_allowed("GET");
    return json_reply({{"health_status", "Everything's Chimpy!"}});
  }
  if (s[0] != "lists") return not_found();
  if (s.size() == 1) return m == "GET" ? get_lists(c) : not_allowed("GET");

  // The shape of the path decides the allowed methods; the list is looked up after.
  const char* allow = nullptr;
  if (s.size() == 2) allow = "GET, POST";
  else if (s.size() == 3 && (s[2] == "merge-fields" || s[2] == "members")) allow = "GET, POST";
  else if (s.size() == 4 && s[2] == "merge-fields") allow = "GET";
  else if (s.size() == 4 && s[2] == "members") allow = "GET, PUT, PATCH, DELETE";
  else if (s.size() == 6 && s[2] == "members" && s[4] == "actions" && s[5] == "delete-permanent") allow = "POST";
  if (allow == nullptr) return not_found();
  if (std::string_view(allow).find(m) == std::string_view::npos || m.empty()) return not_allowed(allow);
  List* l = find_list(s[1]);
  if (l == nullptr) return not_found();
  if (s.size() == 2 && m == "POST") ++batch_calls;
  const bool writes = m == "POST" || m == "PUT" || m == "PATCH";
  if (writes && !c.body_ok)
    return problem(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.");

  if (s.size() == 2) {
    if (m == "GET") return json_reply(render_list(*l));
    return batch(c, *l);
  }
  if (s[2] == "merge-fields") return merge_fields(c, *l);
  if (s.size() == 3) return m == "GET" ? list_members(c, *l) : create_one(c, *l);
  if (s.size() == 6) return delete_permanent(c, *l, s[3]);
  if (m == "GET") return one_member(c, *l, s[3]);
  if (m == "PUT") return upsert_one(c, *l, s[3]);
  if (m == "PATCH") return patch_one(c, *l, s[3]);
  return archive_one(c, *l, s[3]);
}

// ---------------------------------------------------------------------------------------------
// Account, lists, merge fields

Reply MailchimpEmulator::Impl::root(Call&) {
  std::int64_t subscribers = 0;
  for (const auto& [id, l] : lists)
    for (const auto& [hash, m] : l->members)
      if (m.status == "subscribed") ++subscribers;
  return json_reply({{"account_id", md5_hex("account:" + api_key).substr(0, 25)},
                     {"login_id", "100001"},
                     {"account_name", "Synctool Emulator"},
                     {"email", "owner@emulator.example.org"},
                     {"first_name", "Emulator"},
                     {"last_name", "Owner"},
                     {"username", "synctool-emulator"},
                     {"avatar_url", ""},
                     {"role", "owner"},
                     {"member_since", "2020-01-01T00:00:00+00:00"},
                     {"pricing_plan_type", "monthly"},
                     {"first_payment", ""},
                     {"account_timezone", "UTC"},
                     {"account_industry", "Software"},
                     {"contact",
                      {{"company", "Synctool Emulator"},
                       {"addr1", "675 Ponce de Leon Ave NE"},
                       {"addr2", ""},
                       {"city", "Atlanta"},
                       {"state", "GA"},
                       {"zip", "30308"},
                       {"country", "US"}}},
                     {"pro_enabled", false},
                     {"last_login", iso_s(now_s())},
                     {"total_subscribers", subscribers}});
}

Reply MailchimpEmulator::Impl::get_lists(Call& c) {
  std::int64_t count = 0, offset = 0;
  Reply err;
  if (!read_paging(c.req, count, offset, err)) return err;
  json out = json::array();
  std::int64_t i = 0;
  for (const auto& [id, l] : lists) {
    if (i >= offset && i < offset + count) out.push_back(render_list(*l));
    ++i;
  }
  return json_reply({{"lists", std::move(out)}, {"total_items", static_cast<std::int64_t>(lists.size())}});
}

Reply MailchimpEmulator::Impl::merge_fields(Call& c, List& l) {
  const auto& s = c.segs;
  if (s.size() == 4) {
    std::int64_t id = 0;
    if (parse_int64(s[3], id))
      for (const auto& f : l.merge_fields)
        if (f.merge_id == id) return json_reply(render_merge_field(l, f));
    return not_found();
  }
  if (c.req.method == "GET") {
    std::int64_t count = 0, offset = 0;
    Reply err;
    if (!read_paging(c.req, count, offset, err)) return err;
    json out = json::array();
    for (std::int64_t i = offset; i < offset + count && i < static_cast<std::int64_t>(l.merge_fields.size()); ++i)
      out.push_back(render_merge_field(l, l.merge_fields[static_cast<std::size_t>(i)]));
    return json_reply({{"merge_fields", std::move(out)},
                       {"list_id", l.id},
                       {"total_items", static_cast<std::int64_t>(l.merge_fields.size())}});
  }
  // POST: create one.
  if (!c.body.is_object()) return invalid("", "The request body must be a JSON object");
  json in = json::object();
  for (const char* k : {"tag", "name", "type", "required", "default_value", "public", "display_order", "options",
                        "help_text"})
    if (c.body.contains(k)) in[k] = c.body[k];
  if (!in.contains("name") || !in["name"].is_string() || in["name"].get<std::string>().empty())
    return invalid("name", "This value should not be blank.");
  if (!in.contains("type") || !in["type"].is_string()) return invalid("type", "This value should not be blank.");
  MergeField f;
  try {
    f = parse_merge_field(in, "merge field");
  } catch (const std::invalid_argument& e) {
    return problem(400, "Invalid Resource", e.what());
  }
  if (f.tag.empty()) {
    f.tag = "MMERGE";
    f.tag += std::to_string(l.next_merge_id);
  }
  if (l.field(f.tag) != nullptr)
    return problem(400, "Invalid Resource",
                   "A Merge Field with the tag \"" + f.tag + "\" already exists for this list.");
  f.merge_id = l.next_merge_id++;
  if (!in.contains("display_order")) f.display_order = f.merge_id + 1;
  l.merge_fields.push_back(std::move(f));
  return json_reply(render_merge_field(l, l.merge_fields.back()));
}

// ---------------------------------------------------------------------------------------------
// Members: reads

Reply MailchimpEmulator::Impl::list_members(Call& c, List& l) {
  const httplib::Request& req = c.req;
  std::int64_t count = 0, offset = 0;
  Reply err;
  if (!read_paging(req, count, offset, err)) return err;
  std::string status;
  if (req.has_param("status") && !req.get_param_value("status").empty()) {
    status = req.get_param_value("status");
    if (status != "subscribed" && status != "unsubscribed" && status != "cleaned" && status != "pending" &&
        status != "transactional" && status != "archived")
      return invalid("status", "status must be one of subscribed, unsubscribed, cleaned, pending, transactional, "
                               "archived; got '" + status + "'");
  }
  bool has_since = false;
  std::int64_t since_ms = 0;
  if (req.has_param("since_last_changed") && !req.get_param_value("since_last_changed").empty()) {
    const std::string v = req.get_param_value("since_last_changed");
    const std::optional<std::int64_t> ms = parse_iso_ms(trim(v));
    if (!ms)
      return invalid("since_last_changed", "since_last_changed must be an ISO 8601 date-time, got '" + v + "'");
    since_ms = *ms;
    has_since = true;
  }
  std::string sort_field;
  bool descending = false;
  if (req.has_param("sort_field") && !req.get_param_value("sort_field").empty()) {
    sort_field = req.get_param_value("sort_field");
    if (sort_field != "last_changed" && sort_field != "timestamp_opt" && sort_field != "timestamp_signup")
      return invalid("sort_field", "sort_field must be last_changed, timestamp_opt or timestamp_signup");
  }
  if (req.has_param("sort_dir") && !req.get_param_value("sort_dir").empty()) {
    const std::string d = upper(req.get_param_value("sort_dir"));
    if (d != "ASC" && d != "DESC") return invalid("sort_dir", "sort_dir must be ASC or DESC");
    descending = d == "DESC";
  }
  const bool inclusive = since_inclusive;
  auto matches = [&](const Member& m) {
    if (!status.empty() && m.status != status) return false;
    if (has_since) {
      const std::int64_t at = m.last_changed * 1000;
      if (inclusive ? at < since_ms : at <= since_ms) return false;
    }
    return true;
  };

  std::vector<const Member*> page;
  std::int64_t total = 0;
  if (sort_field.empty()) {
    l.compact();
    if (status.empty() && !has_since) {
      // Every member, in creation order: the page is a slice.
      total = static_cast<std::int64_t>(l.order.size());
      for (std::int64_t i = offset; i < offset + count && i < total; ++i)
        page.push_back(l.order[static_cast<std::size_t>(i)]);
    } else {
      for (const Member* m : l.order) {
        if (!matches(*m)) continue;
        if (total >= offset && total < offset + count) page.push_back(m);
        ++total;
      }
    }
  } else {
    std::vector<const Member*> all;
    for (const Member* m : l.order)
      if (m != nullptr && matches(*m)) all.push_back(m);
    auto key = [&](const Member* m) {
      return sort_field == "last_changed"    ? m->last_changed
             : sort_field == "timestamp_opt" ? m->timestamp_opt
                                             : m->timestamp_signup;
    };
    // Ties keep creation order whichever the direction.
    std::stable_sort(all.begin(), all.end(),
                     [&](const Member* a, const Member* b) { return descending ? key(a) > key(b) : key(a) < key(b); });
    total = static_cast<std::int64_t>(all.size());
    for (std::int64_t i = offset; i < offset + count && i < total; ++i) page.push_back(all[static_cast<std::size_t>(i)]);
  }
  std::string out;
  out.reserve(page.size() * 1100 + 64);
  ObjectOut o(out, c.sel);
  Sel each;
  if (o.key("members", each)) {
    out += '[';
    for (std::size_t i = 0; i < page.size(); ++i) {
      if (i > 0) out += ',';
      write_member(out, l, *page[i], each);
    }
    out += ']';
  }
  o.str("list_id", l.id);
  o.num("total_items", total);
  o.close();
  return text_reply(std::move(out));
}

Reply MailchimpEmulator::Impl::one_member(Call& c, List& l, const std::string& key) {
  const Member* m = find_member(l, key);
  if (m == nullptr) return not_found();
  return text_reply(member_text(l, *m, c.sel));
}

// ---------------------------------------------------------------------------------------------
// Members: single writes

Reply MailchimpEmulator::Impl::create_one(Call& c, List& l) {
  if (!c.body.is_object()) return invalid("", "The request body must be a JSON object");
  const std::string email = email_of(c.body);
  if (email.empty()) return invalid("email_address", "This value should not be blank.");
  if (!valid_email(email)) return row_problem(fake_email(email));
  MemberWrite w;
  RowError e;
  if (!read_write(l, c.body, w, e)) return row_problem(e);
  Member* m = find_member(l, email);
  if (m != nullptr && m->status != "archived") return row_problem(member_exists(m->email));
  if (!w.has_status) return invalid("status", "This value should not be blank.");
  if (missing_required(l, m, true, w, e)) return row_problem(e);
  const std::int64_t ts = write_ts();
  if (m == nullptr) m = &create_member(l, email, w.status, w, ts);
  else apply_write(l, *m, w, &w.status, ts);  // an archived member is added again
  return text_reply(member_text(l, *m, c.sel));
}

Reply MailchimpEmulator::Impl::upsert_one(Call& c, List& l, const std::string& key) {
  if (!c.body.is_object()) return invalid("", "The request body must be a JSON object");
  const std::string email = email_of(c.body);
  if (email.empty()) return invalid("email_address", "This value should not be blank.");
  if (!valid_email(email)) return row_problem(fake_email(email));
  if (md5_hex(lower(email)) != resolve_hash(key))
    return problem(400, "Invalid Resource",
                   "The email address in the body does not match the subscriber hash in the URL.");
  MemberWrite w;
  RowError e;
  if (!read_write(l, c.body, w, e)) return row_problem(e);
  Member* m = find_member(l, email);
  if (m == nullptr || m->status == "archived") {
    if (!w.has_status_if_new) return invalid("status_if_new", "status_if_new is required for new members");
    const std::string status = w.has_status ? w.status : w.status_if_new;
    if (missing_required(l, m, true, w, e)) return row_problem(e);
    const std::int64_t ts = write_ts();
    if (m == nullptr) m = &create_member(l, email, status, w, ts);
    else apply_write(l, *m, w, &status, ts);
    return text_reply(member_text(l, *m, c.sel));
  }
  if (w.has_status && w.status == "subscribed" && in_compliance_state(m->status))
    return row_problem(compliance(m->email));
  if (missing_required(l, m, false, w, e)) return row_problem(e);
  apply_write(l, *m, w, w.has_status ? &w.status : nullptr, write_ts());
  return text_reply(member_text(l, *m, c.sel));
}

Reply MailchimpEmulator::Impl::patch_one(Call& c, List& l, const std::string& key) {
  Member* m = find_member(l, key);
  if (m == nullptr) return not_found();
  if (!c.body.is_object()) return invalid("", "The request body must be a JSON object");
  const std::string email = email_of(c.body);
  if (!email.empty() && md5_hex(lower(email)) != m->hash)
    return problem(400, "Invalid Resource",
                   "The email address in the body does not match the subscriber hash in the URL.");
  MemberWrite w;
  RowError e;
  if (!read_write(l, c.body, w, e)) return row_problem(e);
  if (m->status != "archived" && w.has_status && w.status == "subscribed" && in_compliance_state(m->status))
    return row_problem(compliance(m->email));
  // An archived member stays archived unless the write gives a status: then it is added again.
  if (missing_required(l, m, m->status == "archived" && w.has_status, w, e)) return row_problem(e);
  apply_write(l, *m, w, w.has_status ? &w.status : nullptr, write_ts());
  return text_reply(member_text(l, *m, c.sel));
}

Reply MailchimpEmulator::Impl::archive_one(Call&, List& l, const std::string& key) {
  Member* m = find_member(l, key);
  if (m == nullptr) return not_found();
  if (m->status == "archived" || m->status == "cleaned" || m->status == "pending")
    return problem(405, "Method Not Allowed",
                   "This list member cannot be removed: the member is " + m->status + ". Please contact support.");
  m->status = "archived";
  m->last_changed = write_ts();
  ++members_written;
  Reply r;
  r.status = 204;
  return r;
}

Reply MailchimpEmulator::Impl::delete_permanent(Call&, List& l, const std::string& key) {
  Member* m = find_member(l, key);
  if (m == nullptr) return not_found();
  delete_member(l, *m);
  Reply r;
  r.status = 204;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Batch: POST /lists/{list_id}

Reply MailchimpEmulator::Impl::batch(Call& c, List& l) {
  if (!c.body.is_object()) return invalid("", "The request body must be a JSON object with \"members\"");
  auto mit = c.body.find("members");
  if (mit == c.body.end() || !mit->is_array()) return invalid("members", "members must be an array of members");
  if (mit->size() > kMaxBatch) {
    std::string detail = "The batch has ";
    detail += std::to_string(mit->size());
    detail += " members; a call may add or update at most 500.";
    return problem(400, "Invalid Resource", detail,
                   json::array({{{"field", "members"}, {"message", "at most 500 members per call"}}}));
  }
  bool update_existing = false;
  if (auto u = c.body.find("update_existing"); u != c.body.end() && !u->is_null()) {
    if (!u->is_boolean()) return invalid("update_existing", "update_existing must be true or false");
    update_existing = u->get<bool>();
  }
  // Members are written into the answer as each row is processed (a later row may change them).
  Sel created_sel, updated_sel;
  const bool want_created = c.sel.child("new_members", created_sel);
  const bool want_updated = c.sel.child("updated_members", updated_sel);
  std::string created, updated;
  std::int64_t n_created = 0, n_updated = 0;
  auto add = [this, &l](std::string& out, bool want, const Sel& sel, std::int64_t& n, const Member& m) {
    if (want) {
      if (n > 0) out += ',';
      write_member(out, l, m, sel);
    }
    ++n;
  };
  json errors = json::array();
  const std::int64_t ts = write_ts();
  for (const auto& entry : *mit) {
    if (!entry.is_object()) {
      RowError e;
      e.error = "Each member must be a JSON object.";
      errors.push_back(row_entry("", e));
      continue;
    }
    const std::string email = email_of(entry);
    if (!valid_email(email)) {
      errors.push_back(row_entry(email, fake_email(email)));
      continue;
    }
    MemberWrite w;
    RowError e;
    if (!read_write(l, entry, w, e)) {
      errors.push_back(row_entry(email, e));
      continue;
    }
    Member* m = find_member(l, email);
    if (m == nullptr || m->status == "archived") {
      // A new address takes `status`, else `status_if_new`; one of them is needed.
      if (!w.has_status && !w.has_status_if_new) {
        errors.push_back(row_entry(email, status_required("status_if_new")));
        continue;
      }
      if (missing_required(l, m, true, w, e)) {
        errors.push_back(row_entry(email, e));
        continue;
      }
      const std::string status = w.has_status ? w.status : w.status_if_new;
      if (m == nullptr) m = &create_member(l, email, status, w, ts);
      else apply_write(l, *m, w, &status, ts);
      add(created, want_created, created_sel, n_created, *m);
      continue;
    }
    // An existing member: `status_if_new` is ignored, `status` overwrites.
    if (!update_existing) {
      errors.push_back(row_entry(m->email, member_exists(m->email)));
      continue;
    }
    if (w.has_status && w.status == "subscribed" && in_compliance_state(m->status)) {
      errors.push_back(row_entry(m->email, compliance(m->email)));
      continue;
    }
    if (missing_required(l, m, false, w, e)) {
      errors.push_back(row_entry(m->email, e));
      continue;
    }
    apply_write(l, *m, w, w.has_status ? &w.status : nullptr, ts);
    add(updated, want_updated, updated_sel, n_updated, *m);
  }
  std::string out;
  out.reserve(created.size() + updated.size() + 256);
  ObjectOut o(out, c.sel);
  Sel sel;
  if (o.key("new_members", sel)) {
    out += '[';
    out += created;
    out += ']';
  }
  if (o.key("updated_members", sel)) {
    out += '[';
    out += updated;
    out += ']';
  }
  o.value("errors", errors);
  o.num("total_created", n_created);
  o.num("total_updated", n_updated);
  o.num("error_count", static_cast<std::int64_t>(errors.size()));
  o.value("_links", json::array());
  o.close();
  return text_reply(std::move(out));
}

}  // namespace synctool::emulators
