// Private to the Salesforce emulator's .cpp files.
#pragma once

// Debian's libcpp-httplib is built with OpenSSL support, which changes the layout of some of
// httplib's structs: emulators/common/emulator_server.hpp defines CPPHTTPLIB_OPENSSL_SUPPORT
// before it includes httplib, so every user agrees.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulators/common/emulator_faults.hpp"
#include "emulators/common/emulator_server.hpp"
#include "emulators/common/emulator_util.hpp"
#include "emulators/salesforce/salesforce_emulator.hpp"

namespace synctool::emulators::salesforce_detail {

// Clocks, dates, strings, the fault kinds: emulators/common.
using namespace common;
using json = nlohmann::json;

constexpr std::int64_t kMinute = 60000;
constexpr std::int64_t kDay = 86400000;
constexpr int kMinApiVersion = 46;
constexpr int kMaxApiVersion = 64;     // the latest listed at GET /services/data/
constexpr int kMaxAcceptedVersion = 99;  // later ones are accepted too (a connector may be newer)
constexpr std::size_t kMaxCollection = 200;
constexpr const char* kUserId = "005000000000001AAA";  // the integration user
constexpr const char* kOrgId = "00D000000000001EAA";

// ---------------------------------------------------------------------------------------------
// salesforce_util.cpp

std::string sf_datetime(std::int64_t ms);  // 2026-01-02T03:04:05.000+0000, Salesforce's JSON form
std::string sf_date(std::int64_t ms);      // 2026-01-02
std::optional<std::int64_t> parse_sf_date(std::string_view s);  // YYYY-MM-DD only
std::string url_decode(std::string_view s);
std::map<std::string, std::string> parse_form(const std::string& body);
std::string base62(std::uint64_t v, std::size_t width);
// Ids: 15 case-sensitive characters, plus 3 that encode the case of the first 15 (18-character
// ids are what the API answers, and are case-insensitive).
std::string id_suffix(std::string_view id15);
std::string make_id(std::string_view key_prefix, std::uint64_t counter);
// A 15- or 18-character id in canonical 18-character form; nullopt when malformed (wrong length,
// characters, or a suffix that does not fit).
std::optional<std::string> normalize_id(std::string_view s);
bool valid_email(std::string_view s);
std::string base64_encode(std::string_view in);
std::string hmac_sha256_base64(const std::string& key, const std::string& data);
// Verifies an RS256 signature with a PEM public key or certificate: "" when valid, else why not.
std::string verify_rs256(const std::string& pem, std::string_view signing_input, std::string_view signature);
bool is_custom_name(std::string_view name);  // ends in __c, case-insensitive

struct Reply {
  int status = 200;
  std::string body;  // JSON text; empty for 204
  std::vector<std::pair<std::string, std::string>> headers;
};

inline Reply json_reply(int status, const json& body) { return Reply{status, dump_json(body), {}}; }

// The error shape outside collections: [{message, errorCode, fields?}].
inline Reply api_error(int status, const std::string& code, const std::string& message,
                       const json& fields = json()) {
  json e{{"message", message}, {"errorCode", code}};
  if (fields.is_array()) e["fields"] = fields;
  return Reply{status, dump_json(json::array({e})), {}};
}

inline Reply not_found_reply() { return api_error(404, "NOT_FOUND", "The requested resource does not exist"); }

// ---------------------------------------------------------------------------------------------
// The store

struct FieldDef {
  std::string name, label;
  std::string type;  // id, string, email, phone, url, boolean, double, date, datetime, picklist, reference, textarea
  int length = 0;    // text types
  bool nillable = true, createable = true, updateable = true, external_id = false, unique = false,
       defaulted_on_create = false, id_lookup = false, custom = false, restricted_picklist = false;
  bool system = false;  // maintained by the emulator (Id, IsDeleted, audit dates, MasterRecordId, Name)
  std::vector<std::string> picklist_values;
  std::vector<std::string> reference_to;
  json default_value;  // written on create when the field is defaulted and not given
};

// Values by field name (canonical case). Absent: null. Datetimes are stored as epoch ms
// (numbers), dates as "YYYY-MM-DD", doubles as numbers, booleans as booleans, the rest as strings.
struct Record {
  std::string id;
  std::unordered_map<std::string, json> values;
  std::int64_t created = 0, last_modified = 0, system_modstamp = 0;
  bool deleted = false;
  std::string master_record_id;
};

struct ObjectType {
  std::string name, label, label_plural, key_prefix;
  bool custom = false;
  std::vector<FieldDef> fields;
  std::unordered_map<std::string, std::size_t> by_lower;  // lower-case name -> index
  std::map<std::string, Record> records;                   // by 18-character id (creation order)
  std::int64_t last_purged_delete = 0;                     // deletion time of the last purged record
  // Live records by the value of each key field (external ids, unique and id-lookup fields):
  // field -> value (lower case for text) -> ids.
  std::unordered_map<std::string, std::unordered_map<std::string, std::set<std::string>>> key_index;

  const FieldDef* field(std::string_view name) const {
    auto it = by_lower.find(lower(name));
    return it == by_lower.end() ? nullptr : &fields[it->second];
  }
  void add_field(FieldDef d) {
    auto it = by_lower.find(lower(d.name));
    if (it != by_lower.end()) {
      fields[it->second] = std::move(d);
    } else {
      by_lower[lower(d.name)] = fields.size();
      fields.push_back(std::move(d));
    }
  }
};

// Adds a live record's key values to (or removes them from) the type's key_index.
void index_record(ObjectType& t, const Record& r, bool add);
std::string index_key(const json& value);

// One error of a saved row (collections' `errors`, or the array answered by single calls).
struct RowError {
  std::string code, message;
  std::vector<std::string> fields;
  json duplicate_result;  // DUPLICATES_DETECTED only
  json to_json(bool api_shape) const;  // api_shape: {message, errorCode, fields}; else {statusCode, message, fields}
};

// What a save asked for: field name (canonical) -> internal value (see Record).
using Changes = std::vector<std::pair<std::string, json>>;

// Thrown for a request that fails as a whole (400 JSON_PARSER_ERROR and the like).
struct RequestError : std::runtime_error {
  int status;
  std::string code;
  RequestError(int s, std::string c, const std::string& message)
      : std::runtime_error(message), status(s), code(std::move(c)) {}
};

// ---------------------------------------------------------------------------------------------
// SOQL (salesforce_soql.cpp)

struct SoqlValue {
  enum Kind { null_value, string_kind, number_kind, boolean_kind, datetime_kind, date_kind } kind = null_value;
  std::string text;  // string, date (YYYY-MM-DD)
  double number = 0;
  bool boolean = false;
  std::int64_t ms = 0;  // datetime
};

struct SoqlCondition {
  enum Kind { all_of, any_of, negation, compare, in, not_in, like } kind = compare;
  std::vector<SoqlCondition> children;  // all_of, any_of, negation
  std::string field;                    // canonical name
  std::string op;                       // compare: = != < <= > >=
  std::vector<SoqlValue> values;        // compare and like: one; in / not_in: the list
};

struct SoqlOrder {
  std::string field;
  bool descending = false;
  bool nulls_last = false;
};

struct SoqlQuery {
  std::string object;  // canonical name
  bool count = false;  // SELECT COUNT()
  std::vector<std::string> fields;
  std::optional<SoqlCondition> where;
  std::vector<SoqlOrder> order;
  std::optional<std::int64_t> limit, offset;
};

// A query that cannot run: 400 with errorCode MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE or
// INVALID_QUERY_FILTER_OPERATOR.
struct SoqlError : std::runtime_error {
  std::string code;
  SoqlError(std::string c, const std::string& message) : std::runtime_error(message), code(std::move(c)) {}
};

SoqlQuery parse_soql(const std::string& text, const std::function<const ObjectType*(const std::string&)>& find_type);
bool soql_matches(const SoqlCondition& c, const ObjectType& t, const Record& r);
// Sorts records by the ORDER BY items (ties by Id).
void soql_sort(std::vector<const Record*>& rows, const ObjectType& t, const std::vector<SoqlOrder>& order);
// The typed value of a field of a record, as SOQL compares it.
SoqlValue soql_value_of(const ObjectType& t, const FieldDef& d, const Record& r);

// An open query cursor (nextRecordsUrl).
struct QueryCursor {
  std::string object;
  std::vector<std::string> fields;
  std::vector<std::string> ids;  // the rows in order
  std::size_t next = 0;
  std::int64_t last_used_ms = 0;
};

}  // namespace synctool::emulators::salesforce_detail

namespace synctool::emulators {

struct SalesforceEmulator::Impl {
  using Reply = salesforce_detail::Reply;
  using Fault = salesforce_detail::Fault;
  using ObjectType = salesforce_detail::ObjectType;
  using Record = salesforce_detail::Record;
  using FieldDef = salesforce_detail::FieldDef;
  using RowError = salesforce_detail::RowError;
  using Changes = salesforce_detail::Changes;
  using QueryCursor = salesforce_detail::QueryCursor;
  using json = nlohmann::json;

  explicit Impl(SalesforceEmulatorOptions o);

  mutable std::mutex mu;  // guards everything below but the server and the listener
  SalesforceEmulatorOptions opt;
  SalesforceFaults faults;
  common::FaultDice fault_dice;
  std::optional<std::int64_t> frozen;
  std::int64_t last_stamp = 0;      // the latest user-write timestamp issued
  std::uint64_t id_counter = 1000;  // shared by every object's ids
  int next_custom_prefix = 0;       // a00, a01, ...
  std::map<std::string, std::unique_ptr<ObjectType>> types;  // by lower-case name

  struct Session {
    std::int64_t expires_ms;  // emulator clock
  };
  std::unordered_map<std::string, Session> sessions;
  std::unordered_set<std::string> refresh_tokens;
  std::uint64_t token_counter = 0;

  mutable std::deque<std::int64_t> usage;  // emulator times of the counted API requests (rolling 24 h)
  std::map<std::uint64_t, std::int64_t> in_flight;  // request number -> emulator time it arrived
  std::uint64_t flight_counter = 0;
  std::map<std::string, QueryCursor> cursors;  // by locator
  std::deque<std::string> cursor_order;        // oldest first
  std::uint64_t cursor_counter = 0;

  // An allOrNone call's undo log: each record's state before the call first changed it.
  struct JournalEntry {
    ObjectType* type;
    std::string id;
    std::optional<Record> before;  // nullopt: created by the call
  };
  std::vector<JournalEntry>* journal = nullptr;
  std::int64_t last_retention_purge = 0;

  std::int64_t faults_injected = 0, limit_exceeded = 0, sessions_issued = 0, token_requests = 0;
  std::map<std::string, std::int64_t> api_hosts;  // Host header of API requests -> count
  common::RequestLog requests;
  common::RequestListener listener;
  common::HttpServer server;

  // salesforce_emulator.cpp: server, auth, token endpoint, limits, faults, log
  std::string base_url() const;
  std::string instance_url() const;
  void serve(const httplib::Request& req, httplib::Response& res);
  Reply handle_token(const httplib::Request& req);
  Reply control(const httplib::Request& req);
  Reply handle_api(const httplib::Request& req, std::uint64_t flight);
  std::optional<Reply> authenticate(const httplib::Request& req);
  std::optional<Reply> check_limits(std::uint64_t flight);
  std::string limit_info() const;  // api-usage=used/limit
  std::int64_t used_today() const;
  std::string new_session();
  void record_request(const httplib::Request& req, int status, const char* fault, std::int64_t at);
  json stats_locked() const;
  void update_options_locked(const json& j);

  // salesforce_store.cpp: types, seed, validation, writes, rendering
  std::int64_t now() const;         // frozen or wall clock
  std::int64_t write_stamp();  // now() in whole seconds, never before the last user write's
  std::int64_t later_stamp(std::int64_t after);  // automation's: write_stamp(), at least a second after `after`
  void install_builtin_types();
  ObjectType* find_type(std::string_view name);
  const ObjectType* find_type(std::string_view name) const;
  ObjectType& define_object_locked(const std::string& name, const json& fields);
  void define_field_locked(ObjectType& t, const json& field);
  void load_seed_locked(const json& seed);
  Record* find_record(ObjectType& t, const std::string& id18);
  void note_change(ObjectType& t, const std::string& id);  // before a record changes (allOrNone)
  void roll_back(std::vector<JournalEntry>& entries);
  // Reads the fields of a record body into changes; per-row problems go to errors. Throws
  // RequestError for a value of the wrong JSON type.
  void read_changes(const ObjectType& t, const json& body, bool create, Changes& out,
                    std::vector<RowError>& errors) const;
  // The checks that need the whole resulting record: required fields, validation rules,
  // duplicates (unless allow_save).
  void check_record(const ObjectType& t, const Record& result, const Record* self, bool allow_save,
                    std::vector<RowError>& errors) const;
  // Validates and creates / updates; errors empty on success.
  Record* save_new(ObjectType& t, const json& body, bool allow_save, std::vector<RowError>& errors,
                   const Changes* extra = nullptr);
  void save_existing(ObjectType& t, Record& r, const json& body, bool allow_save, std::vector<RowError>& errors);
  void delete_record(ObjectType& t, Record& r);
  void run_triggers(ObjectType& t, Record& r, bool inserted);
  std::int64_t touch_locked(const std::string& object, const std::string& id);
  void merge_locked(const std::string& object, const std::string& winner, const std::vector<std::string>& losers);
  std::int64_t purge_locked(ObjectType& t, std::int64_t deleted_before);
  void purge_expired();  // the recycle bin's retention
  json field_json(const ObjectType& t, const FieldDef& d, const Record& r) const;
  json render(const ObjectType& t, const Record& r, const std::vector<std::string>* fields, int version) const;
  json describe_json(const ObjectType& t, int version) const;
  json describe_field_json(const FieldDef& d) const;
  std::string record_url(const ObjectType& t, const std::string& id, int version) const;

  // salesforce_api.cpp: /services/data/
  Reply route_api(const httplib::Request& req, int version, const std::vector<std::string>& rest);
  Reply query(const httplib::Request& req, int version, bool all);
  Reply query_more(const httplib::Request& req, int version, const std::string& locator);
  Reply query_page(QueryCursor& c, const std::string& locator, int version, std::size_t total, std::size_t batch);
  Reply replication(const httplib::Request& req, ObjectType& t, bool deleted);
  json run_rows(std::size_t count, bool all_or_none, const std::function<json(std::size_t, bool&)>& row);
  Reply collection_create(const httplib::Request& req, const json& body);
  Reply collection_update(const httplib::Request& req, const json& body);
  Reply collection_upsert(const httplib::Request& req, ObjectType& t, const FieldDef& key, const json& body);
  Reply collection_delete(const httplib::Request& req);
  Reply single(const httplib::Request& req, int version, ObjectType& t, const std::vector<std::string>& rest,
               const json& body);
  Reply upsert_single(const httplib::Request& req, int version, ObjectType& t, const FieldDef& key,
                      const std::string& value, const json& body);
  std::vector<Record*> find_by_key(ObjectType& t, const FieldDef& key, const json& value);
  Reply limits_json() const;
};

}  // namespace synctool::emulators
