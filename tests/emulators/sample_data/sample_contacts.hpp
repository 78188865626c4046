// Deterministic, realistic sample contacts for the demo, the end-to-end tests and the benchmark:
// a HubSpot contact list with the dirt real CRM data has (mixed-case, invalid and missing emails,
// missing names and companies) plus the state of a Mailchimp audience that already shares some of
// these people (matching members, stale members, unsubscribed and cleaned ones, members that are
// not HubSpot contacts).
//
// The output depends only on the options: a self-written PRNG (splitmix64) and self-written range
// mapping, no std::rand, no <random> distributions, no unordered container iteration order, so the
// same options give byte-identical output on every machine and standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace synctool::emulators {

struct SampleContactsOptions {
  std::size_t count = 2000;        // HubSpot contacts
  std::uint64_t seed = 7;
  double in_mailchimp = 0.25;      // share of contacts (with a valid email) already in the audience
  std::size_t mailchimp_only = 40; // audience members that are not HubSpot contacts
  std::string list_name = "main-audience";
  std::string list_id = "a1b2c3d4e5";
  bool company_required = true;    // COMPANY is a required merge field of the audience
  bool dirty = true;               // false: every contact clean (benchmarks)
};

enum class ContactFlaw { none, mixed_case_email, missing_first_name, missing_last_name, missing_company, invalid_email, no_email };

struct SampleContact {
  std::string id;        // HubSpot id, "1001", "1002", ... in order
  std::string email;     // as stored in HubSpot ("" for no_email)
  std::string firstname, lastname, company;  // "" when missing
  std::string updated_at;  // ISO 8601 UTC with milliseconds, e.g. "2025-03-04T05:06:07.089Z", spread over 2025-01-01..2026-10-31, createdAt earlier
  std::string created_at;
  ContactFlaw flaw = ContactFlaw::none;
  // The audience member that already exists for this contact, if any:
  bool in_mailchimp = false;
  std::string mailchimp_email;   // lower-cased email (the audience has it lower-cased; HubSpot may have it mixed-case)
  std::string mailchimp_status;  // "subscribed" mostly; some "unsubscribed", a few "cleaned"
  bool mailchimp_stale = false;  // the member's FNAME/LNAME/COMPANY differ from HubSpot's (an older version)
};

struct SampleData {
  std::vector<SampleContact> contacts;
  // {"objects":{"contacts":[{"id","properties":{email,firstname,lastname,company},"createdAt","updatedAt"}]}};
  // missing values are omitted from properties.
  nlohmann::json hubspot_seed;
  // {"lists":[{"id","name","merge_fields":[{"tag","name","type","required"}: FNAME text, LNAME text,
  // COMPANY text (required per option), PHONE phone],
  // "members":[{"email_address","status","merge_fields":{"FNAME","LNAME","COMPANY"},"last_changed"}]}]}.
  // Members of contacts come first (in contact order), then the audience-only members.
  nlohmann::json mailchimp_seed;
};

// Shares with `dirty`: 12% mixed_case_email, 3% missing_first_name, 3% missing_last_name,
// 3% missing_company, 2% invalid_email, 1% no_email (exact counts, rounded, at random positions).
// Contacts with invalid_email or no_email are never in the audience. Of those in the audience,
// 20% are stale, 6% unsubscribed, 2% cleaned. A missing_company contact in an audience whose
// COMPANY is required keeps its former company in the member (so it is stale as well).
SampleData make_sample_contacts(const SampleContactsOptions& options);

// Header "id,email,firstname,lastname,company,updated_at", LF line ends, RFC 4180 quoting
// (fields containing a comma, a double quote, CR or LF are quoted, quotes doubled).
std::string to_csv(const SampleData& data);

const char* to_string(ContactFlaw flaw);

// {"contacts": N, "flaws": {"mixed_case_email": n, ...every flaw but none}, "in_mailchimp": n,
//  "stale": n, "unsubscribed": n, "cleaned": n, "mailchimp_only": n}. in_mailchimp, stale,
// unsubscribed and cleaned count the contacts' members; mailchimp_only the other members.
nlohmann::json summary(const SampleData& data);

}  // namespace synctool::emulators
