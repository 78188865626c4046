// The deterministic sample contacts generator (tests/emulators/sample_data).
#include <catch2/catch.hpp>

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulators/sample_data/sample_contacts.hpp"

namespace {

using nlohmann::json;
using synctool::emulators::ContactFlaw;
using synctool::emulators::make_sample_contacts;
using synctool::emulators::SampleContact;
using synctool::emulators::SampleContactsOptions;
using synctool::emulators::SampleData;

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// HubSpot's check: one @, not first, no whitespace, the domain has a dot not at its start and
// does not end with a dot.
bool hubspot_accepts(const std::string& e) {
  const auto at = e.find('@');
  if (at == std::string::npos || at == 0 || e.find('@', at + 1) != std::string::npos) return false;
  if (e.find_first_of(" \t\r\n") != std::string::npos) return false;
  const std::string domain = e.substr(at + 1);
  const auto dot = domain.find('.');
  return dot != std::string::npos && dot != 0 && domain.back() != '.';
}

// The (emulated) Mailchimp rules: one @, a non-empty local part not starting or ending with a
// dot, no spaces or control characters, no "..", a domain of non-empty dot-separated labels
// whose last (the TLD) has at least 2 letters only, not a reserved TLD (.invalid .test .example
// .localhost), not a domain reserved for examples (example.com .org .net and their subdomains).
bool mailchimp_accepts(const std::string& e) {
  const auto at = e.find('@');
  if (at == std::string::npos || e.find('@', at + 1) != std::string::npos) return false;
  for (char c : e)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  if (e.find("..") != std::string::npos) return false;
  const std::string local = e.substr(0, at);
  const std::string domain = lower(e.substr(at + 1));
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  if (domain.empty() || domain.front() == '.' || domain.back() == '.') return false;  // with no "..": labels non-empty
  const auto dot = domain.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string tld = domain.substr(dot + 1);
  if (tld.size() < 2) return false;
  for (char c : tld)
    if (c < 'a' || c > 'z') return false;
  if (tld == "invalid" || tld == "test" || tld == "example" || tld == "localhost") return false;
  for (const std::string reserved : {"example.com", "example.org", "example.net"})
    if (domain == reserved || domain.ends_with("." + reserved)) return false;
  return true;
}

// RFC 4180 reader (LF or CRLF line ends).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (any) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

const json& members_of(const SampleData& d) { return d.mailchimp_seed.at("lists").at(0).at("members"); }

std::map<std::string, json> members_by_email(const SampleData& d) {
  std::map<std::string, json> out;
  for (const json& m : members_of(d)) out.emplace(m.at("email_address").get<std::string>(), m);
  return out;
}

std::size_t count_flaw(const SampleData& d, ContactFlaw f) {
  std::size_t n = 0;
  for (const SampleContact& c : d.contacts) n += c.flaw == f ? 1 : 0;
  return n;
}

void require_about(std::size_t actual, double expected) {
  INFO("actual " << actual << ", expected about " << expected);
  REQUIRE(static_cast<double>(actual) >= expected * 0.5);
  REQUIRE(static_cast<double>(actual) <= expected * 1.5);
}

const SampleData& default_data() {
  static const SampleData data = make_sample_contacts(SampleContactsOptions{});
  return data;
}

}  // namespace

TEST_CASE("sample contacts: same options give identical output, another seed different", "[sample-contacts]") {
  SampleContactsOptions o;
  o.count = 500;
  const SampleData a = make_sample_contacts(o);
  const SampleData b = make_sample_contacts(o);
  CHECK(a.hubspot_seed.dump() == b.hubspot_seed.dump());
  CHECK(a.mailchimp_seed.dump() == b.mailchimp_seed.dump());
  CHECK(to_csv(a) == to_csv(b));
  CHECK(summary(a).dump() == summary(b).dump());
  o.seed = 8;
  const SampleData c = make_sample_contacts(o);
  CHECK(a.hubspot_seed.dump() != c.hubspot_seed.dump());
  CHECK(a.mailchimp_seed.dump() != c.mailchimp_seed.dump());
}

TEST_CASE("sample contacts: counts, ids, seeds and timestamps", "[sample-contacts]") {
  const SampleData& d = default_data();
  REQUIRE(d.contacts.size() == 2000);
  const json& hs = d.hubspot_seed.at("objects").at("contacts");
  REQUIRE(hs.size() == 2000);
  std::size_t in_mailchimp = 0;
  for (std::size_t i = 0; i < d.contacts.size(); ++i) {
    const SampleContact& c = d.contacts[i];
    const json& h = hs[i];
    REQUIRE(c.id == std::to_string(1001 + i));
    REQUIRE(h.at("id") == c.id);
    REQUIRE(h.at("createdAt") == c.created_at);
    REQUIRE(h.at("updatedAt") == c.updated_at);
    const json& p = h.at("properties");
    // Missing values are omitted, present ones as in the contact.
    for (const auto& [key, value] : std::map<std::string, std::string>{
             {"email", c.email}, {"firstname", c.firstname}, {"lastname", c.lastname}, {"company", c.company}}) {
      if (value.empty()) REQUIRE_FALSE(p.contains(key));
      else REQUIRE(p.at(key) == value);
    }
    // "2025-03-04T05:06:07.089Z", updated within 2025-01-01..2026-10-31, created earlier.
    for (const std::string& t : {c.updated_at, c.created_at}) {
      REQUIRE(t.size() == 24);
      REQUIRE(t[4] == '-');
      REQUIRE(t[10] == 'T');
      REQUIRE(t[19] == '.');
      REQUIRE(t.back() == 'Z');
    }
    REQUIRE(c.updated_at >= "2025-01-01T00:00:00.000Z");
    REQUIRE(c.updated_at < "2026-11-01T00:00:00.000Z");
    REQUIRE(c.created_at < c.updated_at);
    in_mailchimp += c.in_mailchimp ? 1 : 0;
  }
  const json& list = d.mailchimp_seed.at("lists").at(0);
  CHECK(list.at("id") == "a1b2c3d4e5");
  CHECK(list.at("name") == "main-audience");
  REQUIRE(members_of(d).size() == in_mailchimp + 40);
  for (const json& m : members_of(d)) {
    const std::string t = m.at("last_changed");
    REQUIRE(t.size() == 25);
    REQUIRE(t.substr(19) == "+00:00");
    REQUIRE(t >= "2024-06-01T00:00:00+00:00");
    REQUIRE(t < "2025-06-01T00:00:00+00:00");
    const std::string status = m.at("status");
    REQUIRE((status == "subscribed" || status == "unsubscribed" || status == "cleaned"));
  }
  std::map<std::string, json> fields;
  for (const json& f : list.at("merge_fields")) fields[f.at("tag")] = f;
  REQUIRE(fields.size() == 4);
  CHECK(fields["FNAME"].at("type") == "text");
  CHECK(fields["LNAME"].at("type") == "text");
  CHECK(fields["COMPANY"].at("type") == "text");
  CHECK(fields["COMPANY"].at("required") == true);
  CHECK(fields["PHONE"].at("type") == "phone");

  SampleContactsOptions o;
  o.count = 0;
  o.mailchimp_only = 3;
  o.company_required = false;
  o.list_id = "zz99";
  o.list_name = "other";
  const SampleData empty = make_sample_contacts(o);
  CHECK(empty.contacts.empty());
  CHECK(empty.hubspot_seed.at("objects").at("contacts").empty());
  CHECK(members_of(empty).size() == 3);
  CHECK(empty.mailchimp_seed.at("lists").at(0).at("id") == "zz99");
  CHECK(empty.mailchimp_seed.at("lists").at(0).at("name") == "other");
  CHECK(empty.mailchimp_seed.at("lists").at(0).at("merge_fields").at(2).at("required") == false);
  CHECK(to_csv(empty) == "id,email,firstname,lastname,company,updated_at\n");
}

TEST_CASE("sample contacts: every flaw in about its share, at most one per contact", "[sample-contacts]") {
  const SampleData& d = default_data();
  const std::vector<std::pair<ContactFlaw, double>> shares = {
      {ContactFlaw::mixed_case_email, 0.12}, {ContactFlaw::missing_first_name, 0.03},
      {ContactFlaw::missing_last_name, 0.03}, {ContactFlaw::missing_company, 0.03},
      {ContactFlaw::invalid_email, 0.02},     {ContactFlaw::no_email, 0.01}};
  double flawed = 0;
  for (const auto& [flaw, share] : shares) {
    INFO(to_string(flaw));
    require_about(count_flaw(d, flaw), 2000 * share);
    flawed += share;
  }
  require_about(count_flaw(d, ContactFlaw::none), 2000 * (1 - flawed));
  for (const SampleContact& c : d.contacts) {
    INFO(c.id << " " << to_string(c.flaw));
    // Exactly the flaw's symptom and no other.
    CHECK(c.firstname.empty() == (c.flaw == ContactFlaw::missing_first_name));
    CHECK(c.lastname.empty() == (c.flaw == ContactFlaw::missing_last_name));
    CHECK(c.company.empty() == (c.flaw == ContactFlaw::missing_company));
    CHECK(c.email.empty() == (c.flaw == ContactFlaw::no_email));
    if (c.flaw == ContactFlaw::no_email) continue;
    CHECK((c.email != lower(c.email)) == (c.flaw == ContactFlaw::mixed_case_email));
    CHECK(mailchimp_accepts(c.email) == (c.flaw != ContactFlaw::invalid_email));
  }
}

TEST_CASE("sample contacts: emails are ASCII, unique ignoring case, and acceptable to HubSpot", "[sample-contacts]") {
  const SampleData& d = default_data();
  std::set<std::string> seen;
  for (const SampleContact& c : d.contacts) {
    if (c.email.empty()) continue;
    INFO(c.email);
    REQUIRE(hubspot_accepts(c.email));
    for (char ch : c.email) REQUIRE(static_cast<unsigned char>(ch) < 0x80);
    REQUIRE(seen.insert(lower(c.email)).second);
  }
  // The audience: unique, lower-case, valid; its own members collide with no contact.
  std::set<std::string> contact_member_emails;
  for (const SampleContact& c : d.contacts)
    if (c.in_mailchimp) contact_member_emails.insert(c.mailchimp_email);
  std::set<std::string> members;
  for (const json& m : members_of(d)) {
    const std::string e = m.at("email_address");
    INFO(e);
    REQUIRE(mailchimp_accepts(e));
    REQUIRE(e == lower(e));
    REQUIRE(members.insert(e).second);
    if (!contact_member_emails.contains(e)) {
      REQUIRE_FALSE(seen.contains(e));
      // Audience-only members have every merge field set.
      for (const char* tag : {"FNAME", "LNAME", "COMPANY"}) REQUIRE_FALSE(m.at("merge_fields").at(tag).get<std::string>().empty());
    }
  }
}

TEST_CASE("sample contacts: invalid emails pass HubSpot's check and fail Mailchimp's", "[sample-contacts]") {
  SampleContactsOptions o;
  o.count = 5000;
  const SampleData d = make_sample_contacts(o);
  std::size_t invalid = 0;
  for (const SampleContact& c : d.contacts) {
    if (c.flaw != ContactFlaw::invalid_email) continue;
    ++invalid;
    INFO(c.email);
    CHECK(hubspot_accepts(c.email));
    CHECK_FALSE(mailchimp_accepts(c.email));
    CHECK_FALSE(c.in_mailchimp);
  }
  CHECK(invalid == 100);
  // Among them, placeholder addresses at the domains reserved for examples, which Mailchimp
  // calls fake; no other contact and no member uses such a domain.
  std::size_t placeholders = 0;
  for (const SampleContact& c : d.contacts) {
    const std::string domain = lower(c.email.substr(c.email.find('@') + 1));
    const bool example = domain == "example.com" || domain == "example.org" || domain == "example.net";
    if (example) CHECK(c.flaw == ContactFlaw::invalid_email);
    placeholders += example ? 1 : 0;
  }
  CHECK(placeholders > 0);
  for (const auto& m : members_of(d)) CHECK(mailchimp_accepts(m.at("email_address").get<std::string>()));
  // The rules themselves, on the forms the brief names.
  CHECK(hubspot_accepts("john..smith@gmail.com"));
  CHECK_FALSE(mailchimp_accepts("john..smith@gmail.com"));
  CHECK(hubspot_accepts("ann.lee@acme.invalid"));
  CHECK_FALSE(mailchimp_accepts("ann.lee@acme.invalid"));
  CHECK(hubspot_accepts("bob@mail.c"));
  CHECK_FALSE(mailchimp_accepts("bob@mail.c"));
  CHECK(mailchimp_accepts("Ann.Lee@Acme.COM"));
  CHECK(hubspot_accepts("ann.lee@example.com"));
  CHECK_FALSE(mailchimp_accepts("ann.lee@example.com"));
  CHECK_FALSE(mailchimp_accepts("ann@Example.ORG"));
  CHECK_FALSE(mailchimp_accepts("ann@mail.example.net"));
  CHECK(mailchimp_accepts("ann@example.co"));
  CHECK(mailchimp_accepts("ann@myexample.com"));
  CHECK_FALSE(mailchimp_accepts("john.@gmail.com"));
  CHECK_FALSE(mailchimp_accepts(".john@gmail.com"));
  CHECK_FALSE(mailchimp_accepts("john@gmail.c0m"));
  CHECK_FALSE(hubspot_accepts("ann@acme."));
  CHECK_FALSE(hubspot_accepts("@acme.com"));
}

TEST_CASE("sample contacts: the audience shares contacts, with mixed-case duplicates lower-cased", "[sample-contacts]") {
  const SampleData& d = default_data();
  const auto members = members_by_email(d);
  std::size_t eligible = 0, in = 0, mixed_in = 0, stale = 0, unsubscribed = 0, cleaned = 0;
  for (const SampleContact& c : d.contacts) {
    INFO(c.id << " " << c.email);
    if (c.flaw == ContactFlaw::invalid_email || c.flaw == ContactFlaw::no_email) {
      REQUIRE_FALSE(c.in_mailchimp);
      continue;
    }
    ++eligible;
    if (!c.in_mailchimp) {
      REQUIRE_FALSE(members.contains(lower(c.email)));
      continue;
    }
    ++in;
    REQUIRE(c.mailchimp_email == lower(c.email));
    REQUIRE(members.contains(c.mailchimp_email));
    const json& m = members.at(c.mailchimp_email);
    REQUIRE(m.at("status") == c.mailchimp_status);
    if (c.flaw == ContactFlaw::mixed_case_email) {
      ++mixed_in;
      REQUIRE(c.email != c.mailchimp_email);
      REQUIRE_FALSE(members.contains(c.email));
    }
    const json& f = m.at("merge_fields");
    const bool differs = f.at("FNAME") != c.firstname || f.at("LNAME") != c.lastname || f.at("COMPANY") != c.company;
    REQUIRE(differs == c.mailchimp_stale);
    // Missing names are empty merge fields unless the member is stale (an older version).
    if (!c.mailchimp_stale) {
      REQUIRE(f.at("FNAME") == c.firstname);
      REQUIRE(f.at("LNAME") == c.lastname);
    }
    // COMPANY is required in this audience: never empty.
    REQUIRE_FALSE(f.at("COMPANY").get<std::string>().empty());
    stale += c.mailchimp_stale ? 1 : 0;
    unsubscribed += c.mailchimp_status == "unsubscribed" ? 1 : 0;
    cleaned += c.mailchimp_status == "cleaned" ? 1 : 0;
  }
  require_about(in, static_cast<double>(eligible) * 0.25);
  CHECK(mixed_in > 0);
  require_about(stale, static_cast<double>(in) * 0.20);
  require_about(unsubscribed, static_cast<double>(in) * 0.06);
  require_about(cleaned, static_cast<double>(in) * 0.02);

  // With an optional COMPANY, a contact without a company has an empty one in the audience.
  SampleContactsOptions o;
  o.company_required = false;
  o.in_mailchimp = 1.0;
  const SampleData all = make_sample_contacts(o);
  const auto all_members = members_by_email(all);
  std::size_t missing_company = 0;
  for (const SampleContact& c : all.contacts) {
    if (c.flaw != ContactFlaw::missing_company) continue;
    REQUIRE(c.in_mailchimp);
    ++missing_company;
    if (!c.mailchimp_stale) CHECK(all_members.at(c.mailchimp_email).at("merge_fields").at("COMPANY") == "");
  }
  CHECK(missing_company == 60);
  CHECK(all_members.size() == 2000 - 40 - 20 + 40);
}

TEST_CASE("sample contacts: clean gives no flaws", "[sample-contacts]") {
  SampleContactsOptions o;
  o.dirty = false;
  const SampleData d = make_sample_contacts(o);
  REQUIRE(d.contacts.size() == 2000);
  for (const SampleContact& c : d.contacts) {
    INFO(c.email);
    REQUIRE(c.flaw == ContactFlaw::none);
    REQUIRE_FALSE(c.email.empty());
    REQUIRE(c.email == lower(c.email));
    REQUIRE(mailchimp_accepts(c.email));
    REQUIRE_FALSE(c.firstname.empty());
    REQUIRE_FALSE(c.lastname.empty());
    REQUIRE_FALSE(c.company.empty());
  }
  const json s = summary(d);
  for (const auto& [flaw, n] : s.at("flaws").items()) CHECK(n == 0);
  CHECK(s.at("in_mailchimp") == 500);
}

TEST_CASE("sample contacts: CSV quoting round-trips", "[sample-contacts]") {
  SampleData d;
  SampleContact c;
  c.id = "1001";
  c.email = "ann.lee@acme.com";
  c.firstname = "Zoë";
  c.lastname = "O'Brien";
  c.company = "Joe's \"Famous\" Diner, LLC";
  c.updated_at = "2025-03-04T05:06:07.089Z";
  d.contacts.push_back(c);
  c.id = "1002";
  c.email = "";
  c.company = "Acme, Inc.";
  c.firstname = "line\nbreak";
  d.contacts.push_back(c);
  const std::string csv = to_csv(d);
  CHECK(csv.find("\"Joe's \"\"Famous\"\" Diner, LLC\"") != std::string::npos);
  const auto rows = parse_csv(csv);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"id", "email", "firstname", "lastname", "company", "updated_at"});
  CHECK(rows[1] == std::vector<std::string>{"1001", "ann.lee@acme.com", "Zoë", "O'Brien", "Joe's \"Famous\" Diner, LLC",
                                            "2025-03-04T05:06:07.089Z"});
  CHECK(rows[2] == std::vector<std::string>{"1002", "", "line\nbreak", "O'Brien", "Acme, Inc.", "2025-03-04T05:06:07.089Z"});

  // The generated list round-trips too, and has companies that need quoting.
  const SampleData& g = default_data();
  const auto all = parse_csv(to_csv(g));
  REQUIRE(all.size() == g.contacts.size() + 1);
  bool quoted_company = false;
  for (std::size_t i = 0; i < g.contacts.size(); ++i) {
    const SampleContact& x = g.contacts[i];
    REQUIRE(all[i + 1] == std::vector<std::string>{x.id, x.email, x.firstname, x.lastname, x.company, x.updated_at});
    quoted_company = quoted_company || x.company.find(',') != std::string::npos;
  }
  CHECK(quoted_company);
}

TEST_CASE("sample contacts: summary agrees with the contacts", "[sample-contacts]") {
  const SampleData& d = default_data();
  const json s = summary(d);
  CHECK(s.at("contacts") == d.contacts.size());
  std::size_t in = 0, stale = 0, unsubscribed = 0, cleaned = 0;
  for (const SampleContact& c : d.contacts) {
    if (!c.in_mailchimp) continue;
    ++in;
    stale += c.mailchimp_stale ? 1 : 0;
    unsubscribed += c.mailchimp_status == "unsubscribed" ? 1 : 0;
    cleaned += c.mailchimp_status == "cleaned" ? 1 : 0;
  }
  CHECK(s.at("in_mailchimp") == in);
  CHECK(s.at("stale") == stale);
  CHECK(s.at("unsubscribed") == unsubscribed);
  CHECK(s.at("cleaned") == cleaned);
  CHECK(s.at("mailchimp_only") == 40);
  CHECK(s.at("flaws").size() == 6);
  for (ContactFlaw f : {ContactFlaw::mixed_case_email, ContactFlaw::missing_first_name, ContactFlaw::missing_last_name,
                        ContactFlaw::missing_company, ContactFlaw::invalid_email, ContactFlaw::no_email})
    CHECK(s.at("flaws").at(to_string(f)) == count_flaw(d, f));
  CHECK(std::string(to_string(ContactFlaw::none)) == "none");
}

TEST_CASE("sample contacts: names and companies are international and dirty", "[sample-contacts]") {
  SampleContactsOptions o;
  o.count = 5000;
  const SampleData d = make_sample_contacts(o);
  std::set<std::string> first, last, companies;
  bool non_ascii_name = false, apostrophe = false, hyphen = false, ampersand = false, unicode_company = false;
  for (const SampleContact& c : d.contacts) {
    if (!c.firstname.empty()) first.insert(c.firstname);
    if (!c.lastname.empty()) last.insert(c.lastname);
    if (!c.company.empty()) companies.insert(c.company);
    for (const std::string& n : {c.firstname, c.lastname}) {
      for (char ch : n) non_ascii_name = non_ascii_name || static_cast<unsigned char>(ch) >= 0x80;
      apostrophe = apostrophe || n.find('\'') != std::string::npos;
      hyphen = hyphen || n.find('-') != std::string::npos;
    }
    ampersand = ampersand || c.company.find('&') != std::string::npos;
    for (char ch : c.company) unicode_company = unicode_company || static_cast<unsigned char>(ch) >= 0x80;
  }
  CHECK(first.size() >= 80);
  CHECK(last.size() >= 80);
  CHECK(companies.size() >= 50);
  CHECK(non_ascii_name);
  CHECK(apostrophe);
  CHECK(hyphen);
  CHECK(ampersand);
  CHECK(unicode_company);
  CHECK(first.contains("José"));
  CHECK(last.contains("Nguyễn"));
  CHECK(last.contains("Müller"));
  // Folding: "Nguyễn" -> "nguyen", "O'Brien" -> "obrien" somewhere in the emails.
  bool nguyen = false, obrien = false;
  for (const SampleContact& c : d.contacts) {
    nguyen = nguyen || lower(c.email).find("nguyen") != std::string::npos;
    obrien = obrien || lower(c.email).find("obrien") != std::string::npos;
  }
  CHECK(nguyen);
  CHECK(obrien);
}
