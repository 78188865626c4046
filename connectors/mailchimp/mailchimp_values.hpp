// Mailchimp's member format: members are identified by the subscriber hash (MD5 of the
// lower-cased email), merge fields travel in a `merge_fields` object keyed by tag, and
// timestamps are ISO 8601 to the second. These functions convert between that and the
// records and write payloads the connector hands to and takes from the engine.
#pragma once

#include "connectors/connector.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace synctool::connectors::mailchimp {

// A merge field of an audience (GET /lists/{id}/merge-fields).
struct MergeField {
  std::string tag;    // FNAME
  std::string name;   // First Name
  std::string type;   // text, number, address, phone, date, birthday, zip, url, imageurl, radio, dropdown
  bool required = false;
  std::vector<std::string> choices;  // radio / dropdown
  std::string date_format;           // date / birthday: "MM/DD/YYYY", "DD/MM", ... (upper case)

  static MergeField from_json(const Json& definition);
};

// The top-level member fields a sync may write besides `merge_fields`.
const std::vector<std::string>& writable_member_fields();

// A member field besides email_address, status and the merge fields.
struct MemberField {
  std::string name;
  std::string type;  // FieldInfo::type
};
// Every other top-level member field a record can carry: tags, last_changed, the writable
// ones (email_type, language, vip) and the read-only ones the connector reads when a sync
// names them (member_rating, timestamp_signup, timestamp_opt, ip_signup, ip_opt, source...).
const std::vector<MemberField>& other_member_fields();
// Member statuses a new member may get (`status_if_new`).
const std::vector<std::string>& new_member_statuses();

// MD5 of the lower-cased email address, 32 lower-case hex digits.
std::string subscriber_hash(const std::string& email);

// "" when `email` looks like an address Mailchimp takes, else why not. A stand-in for
// Mailchimp's own validation that only refuses what can never be delivered: a malformed
// address (no '@', spaces, consecutive dots, a dot at either end of the local part, an empty
// domain label, a top-level domain shorter than two letters or with digits), a reserved
// top-level domain (.invalid, .test, .example, .localhost) or a domain reserved for examples
// (example.com, example.org, example.net and the domains under them), which Mailchimp refuses
// as "looks fake or invalid".
std::string address_problem(const std::string& email);

// Mailchimp's timestamp form for query parameters: "2025-10-21T15:41:36+00:00" (seconds,
// rounded down, so that an inclusive bound stays inclusive).
std::string mailchimp_time(std::int64_t epoch_ms);

// The synctool field type (FieldInfo::type) of a merge field.
std::string synctool_type(const MergeField& field);

// A member from the API -> the fields of a Record: email_address, status, merge_fields (as
// sent), tags as a list of names, and any other requested top-level field.
Json member_fields(const Json& member);

// Write fields from the engine -> a member entry for the batch call. Dotted keys
// ("merge_fields.FNAME") are nested; merge field values are converted to what the field's
// type takes (text as strings, numbers as JSON numbers, dates as text, null as ""). Returns ""
// and fills `entry`, or why the row cannot be written: an unknown top-level field or merge tag
// (a config problem: `config` is set), a required merge field without a value, a number the
// field cannot hold exactly (Mailchimp keeps numbers as doubles: 12345678901234567.89 would be
// rounded) or that is no number, a date the calendar does not have (2024-02-30) (row problems).
// `creating`: the member may be new, so every required merge field needs a value.
std::string member_entry(const Json& fields, const std::vector<MergeField>& merge_fields, bool creating,
                         Json& entry, bool& config);

}  // namespace synctool::connectors::mailchimp
