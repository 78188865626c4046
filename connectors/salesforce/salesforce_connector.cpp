#include "connectors/salesforce/salesforce_connector.hpp"

#include "connectors/salesforce/salesforce_api.hpp"
#include "connectors/settings.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace synctool::connectors {

namespace {

using salesforce::Field;
using salesforce::SalesforceApi;

// A transaction may commit with a SystemModstamp earlier than a record already read: each
// incremental read looks this far back (API-FACTS) and the base-value compare drops repeats.
constexpr std::int64_t kDefaultLookbackMs = 300'000;
constexpr const char* kModstamp = "SystemModstamp";

std::int64_t lookback_ms(const ObjectRef& object) {
  return endpoint_duration_ms("salesforce", object, "lookback", kDefaultLookbackMs);
}

// The external id field upserts go through, or "" (creates and updates by id).
std::string external_id_field(const ObjectRef& object) { return endpoint_text(object, "external_id"); }

std::string plain_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// Row errors of a collections result: "REQUIRED_FIELD_MISSING: Required fields are missing:
// [LastName] (LastName)".
std::string describe_row_errors(const Json& result) {
  std::vector<std::string> parts;
  if (auto it = result.find("errors"); it != result.end() && it->is_array())
    for (const auto& error : *it) {
      if (!error.is_object()) continue;
      std::string text = error.value("statusCode", "ERROR");
      if (auto message = error.value("message", ""); !message.empty()) text += ": " + util::squeeze(message, 300);
      if (auto fields = error.find("fields"); fields != error.end() && fields->is_array() && !fields->empty()) {
        std::vector<std::string> names;
        for (const auto& f : *fields) names.push_back(plain_text(f));
        text += " (" + util::join(names, ", ") + ")";
      }
      parts.push_back(text);
    }
  return parts.empty() ? "salesforce: the row failed without an error" : util::join(parts, "; ");
}

bool has_error_code(const Json& result, const std::string& code) {
  if (auto it = result.find("errors"); it != result.end() && it->is_array())
    for (const auto& error : *it)
      if (error.is_object() && error.value("statusCode", "") == code) return true;
  return false;
}

// Ids of the records a duplicate rule matched (duplicateResult.matchResults[].matchRecords[]
// .record.Id), wherever the error carries them.
std::vector<std::string> duplicate_matches(const Json& result) {
  std::vector<std::string> ids;
  auto collect = [&](const Json& duplicate) {
    if (auto m = duplicate.find("matchResults"); m != duplicate.end() && m->is_array())
      for (const auto& match : *m)
        if (auto records = match.find("matchRecords"); records != match.end() && records->is_array())
          for (const auto& r : *records)
            if (auto record = r.find("record"); record != r.end() && record->is_object())
              if (auto id = record->find("Id"); id != record->end() && id->is_string()) ids.push_back(*id);
  };
  if (auto it = result.find("errors"); it != result.end() && it->is_array())
    for (const auto& error : *it)
      if (error.is_object())
        if (auto d = error.find("duplicateResult"); d != error.end() && d->is_object()) collect(*d);
  return ids;
}

// One collections call of write(): which ops it carries.
struct WriteJob {
  OpKind kind;
  std::vector<std::size_t> ops;
};

class SalesforceConnector final : public Connector {
 public:
  explicit SalesforceConnector(const ConnectionConfig& config)
      : api_(config), clock_(config.clock ? *config.clock : util::system_clock()) {}

  std::string type() const override { return "salesforce"; }
  std::optional<RequestStats> request_stats() const override {
    const auto& s = api_.stats();
    return RequestStats{s.requests, s.throttled, s.retries};
  }

  void check() override {
    HttpApi::FailFast fail_fast(api_);
    api_.connect(/*checking=*/true);
    auto response = api_.send("GET", api_.data_path("/limits"));
    if (!response.ok()) api_.fail(response, "checking the connection");
  }

  // Describe needs read access to the object: it proves as much as reading a record would,
  // for one request instead of two. The token comes from the state's cache where it can.
  void probe(const ObjectRef& object) override {
    HttpApi::FailFast fail_fast(api_);
    api_.connect();
    api_.fields(object.name);
  }

  void check_options(const ObjectRef& object) const override {
    lookback_ms(object);
    endpoint_flag("salesforce", object, "tombstones", true);
    if (auto it = object.options.find("external_id"); it != object.options.end()) {
      if (!it->is_string())
        throw ConnectorError(ErrorKind::config, "salesforce: 'external_id' must be the API name of a field", "external_id");
      if (auto problem = salesforce::api_name_problem(it->get<std::string>()); !problem.empty())
        throw ConnectorError(ErrorKind::config, "salesforce: external_id: " + problem, "external_id");
    }
  }

  Capabilities capabilities(const ObjectRef& object) const override {
    Capabilities caps;
    caps.incremental_read = true;
    caps.tombstones = endpoint_flag("salesforce", object, "tombstones", true);
    caps.native_upsert = !external_id_field(object).empty();
    caps.hard_delete = true;  // DELETE moves the record to the recycle bin, as a user's delete does
    caps.archive = false;
    caps.max_batch = salesforce::kCollectionMax * api_.max_in_flight();
    caps.max_lookup = salesforce::kLookupValues;
    caps.lookup_lag_ms = 0;  // SOQL sees a write at once
    return caps;
  }

  ObjectDescription describe(const ObjectRef& object) override {
    ObjectDescription description;
    description.name = object.name;
    for (const auto& [name, field] : api_.fields(object.name)) {
      FieldInfo info;
      info.name = name;
      info.type = salesforce::synctool_type(field);
      info.required = field.required_on_create();
      // Email of a Contact or Lead is kept one per record by the org's duplicate rule (the
      // connector links a create the rule blocks to the record it matched).
      const bool matched_by_rule = name == "Email" && (object.name == "Contact" || object.name == "Lead");
      info.unique = field.unique || field.external_id || name == "Id" || matched_by_rule;
      description.fields.push_back(std::move(info));
    }
    return description;
  }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    const auto fields = select_list(object, request.fields);
    if (!request.since) {
      const std::string where = person_contacts_left_out(object);
      query_pages(object,
                  "SELECT " + fields + " FROM " + object.name + (where.empty() ? "" : " WHERE " + where) +
                      " ORDER BY SystemModstamp, Id",
                  false, sink,
                  request.page_size);
      return;
    }
    auto since = util::parse_iso8601(*request.since);
    if (!since)
      throw ConnectorError(ErrorKind::config, "salesforce: the stored cursor '" + *request.since +
                                                  "' is not a date and time; run with --full once");
    const std::int64_t from = *since - lookback_ms(object);
    // Deletes first: a cursor committed from the changes that follow is then never ahead of
    // a delete not yet read.
    if (capabilities(object).tombstones) read_deleted(object, *since, from, sink);
    query_pages(object,
                "SELECT " + fields + " FROM " + object.name + " WHERE " + and_person_contacts_left_out(object) +
                    "SystemModstamp >= " +
                    salesforce::soql_datetime(from) + " ORDER BY SystemModstamp, Id",
                false, sink, request.page_size);
  }

  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    std::vector<Record> found;
    if (values.empty()) return found;
    const bool by_id = field == kNativeIdField;
    const std::string column = by_id ? "Id" : field;
    if (!by_id && !api_.field(object.name, field))
      throw ConnectorError(ErrorKind::config, no_field_message(object, field));
    // At least the object's fields (every field when it names none) and the one looked up by.
    std::vector<std::string> wanted_fields = object.fields;
    for (const auto& extra : {field, object.key_field})
      if (!wanted_fields.empty() && extra != kNativeIdField && !extra.empty() &&
          std::find(wanted_fields.begin(), wanted_fields.end(), extra) == wanted_fields.end())
        wanted_fields.push_back(extra);
    const auto select = select_list(object, wanted_fields);
    for (std::size_t i = 0; i < values.size(); i += salesforce::kLookupValues) {
      std::vector<std::string> quoted;
      for (std::size_t j = i; j < std::min(values.size(), i + salesforce::kLookupValues); ++j) {
        if (by_id && values[j].find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
                         std::string::npos)
          continue;  // not an id: nothing can match it
        quoted.push_back(salesforce::soql_quote(values[j]));
      }
      if (quoted.empty()) continue;
      query_pages(object,
                  "SELECT " + select + " FROM " + object.name + " WHERE " + and_person_contacts_left_out(object) +
                      column + " IN (" + util::join(quoted, ", ") + ")",
                  false, [&](Page&& page) {
                    for (auto& record : page.records) found.push_back(std::move(record));
                  });
    }
    return found;
  }

  std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) override {
    std::vector<WriteResult> results(ops.size());
    std::vector<bool> answered(ops.size(), false);
    std::vector<WriteJob> jobs;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const WriteOp& op = ops[i];
      if (op.kind != OpKind::remove && op.kind != OpKind::archive) {
        if (auto problem = write_problem(object, op); !problem.empty()) {
          results[i] = {false, "", ErrorKind::record, problem};
          answered[i] = true;
          continue;
        }
      }
      const OpKind kind = op.kind == OpKind::archive ? OpKind::remove : op.kind;
      if (jobs.empty() || jobs.back().kind != kind || jobs.back().ops.size() == salesforce::kCollectionMax)
        jobs.push_back({kind, {}});
      jobs.back().ops.push_back(i);
    }
    std::vector<net::HttpRequest> requests;
    for (const auto& job : jobs) requests.push_back(collection_request(object, job, ops));
    if (!requests.empty()) {
      auto outcomes = api_.send_each(std::move(requests));
      for (std::size_t j = 0; j < jobs.size(); ++j) {
        if (!outcomes[j].error.empty()) {
          // Retries ran out: the call's outcome is unknown; its rows fail as transient and are
          // tried again next run (creates keep their pending intent and are looked up first).
          for (auto i : jobs[j].ops) results[i] = {false, "", ErrorKind::transient, outcomes[j].error}, answered[i] = true;
          continue;
        }
        interpret(object, jobs[j], ops, outcomes[j].response, results, answered);
      }
    }
    link_duplicates(object, ops, results);
    for (std::size_t i = 0; i < ops.size(); ++i)
      if (!answered[i]) results[i] = {false, "", ErrorKind::transient, "salesforce: no result for this row in the answer"};
    return results;
  }

  std::string write_problem(const ObjectRef& object, const WriteOp& op) override {
    if (op.kind == OpKind::remove || op.kind == OpKind::archive) return "";
    for (const auto& [name, value] : op.fields.items()) {
      const Field* field = api_.field(object.name, name);
      if (!field) throw ConnectorError(ErrorKind::config, no_field_message(object, name));
      const bool creating = op.kind == OpKind::create || op.kind == OpKind::upsert;
      if (creating ? !field->createable : !field->updateable) {
        if (op.kind == OpKind::upsert && name == external_id_field(object)) continue;
        throw ConnectorError(ErrorKind::config, "salesforce: field '" + name + "' of " + object.name + " is not " +
                                                    (creating ? "createable" : "updateable") +
                                                    " (a formula, a system field or a permission); it cannot be written");
      }
      if (auto problem = salesforce::value_problem(*field, value); !problem.empty()) return problem;
    }
    if (op.kind == OpKind::create) {
      for (const auto& [name, field] : api_.fields(object.name)) {
        if (!field.required_on_create() || name == "Id") continue;
        auto it = op.fields.find(name);
        if (it == op.fields.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty()))
          return "REQUIRED_FIELD_MISSING: " + object.name + " needs a value in " + name + " to be created";
      }
    }
    return "";
  }

 private:
  std::string no_field_message(const ObjectRef& object, const std::string& name) {
    std::vector<std::string> names;
    for (const auto& [n, f] : api_.fields(object.name)) names.push_back(n);
    std::string message = "salesforce: " + object.name + " has no field '" + name + "'";
    if (auto hint = util::closest_match(name, names); !hint.empty()) message += " (did you mean '" + hint + "'?)";
    return message;
  }

  // In an org with person accounts, a Contact may be the person behind an Account (its fields
  // live on the Account as `__pc`); syncing it as a contact would write the person's data
  // twice. Such contacts are left out of every read and lookup (API-FACTS: skip or route them
  // explicitly). "" where the object has no such contacts.
  std::string person_contacts_left_out(const ObjectRef& object) {
    if (object.name != "Contact" || !api_.field(object.name, "IsPersonAccount")) return "";
    if (!person_note_logged_) {
      api_.log("person accounts are enabled: contacts of person accounts are left out (IsPersonAccount = FALSE)");
      person_note_logged_ = true;
    }
    return "IsPersonAccount = FALSE";
  }
  std::string and_person_contacts_left_out(const ObjectRef& object) {
    const std::string where = person_contacts_left_out(object);
    return where.empty() ? "" : where + " AND ";
  }

  // Id, SystemModstamp and the wanted fields (every field the object has when none are
  // named), each checked against describe.
  std::string select_list(const ObjectRef& object, const std::vector<std::string>& wanted) {
    std::vector<std::string> names = {"Id", kModstamp};
    auto add = [&](const std::string& name) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    };
    if (wanted.empty()) {
      for (const auto& [name, field] : api_.fields(object.name))
        if (field.type != "base64") add(name);
    } else {
      for (const auto& name : wanted) {
        if (!api_.field(object.name, name)) throw ConnectorError(ErrorKind::config, no_field_message(object, name));
        add(name);
      }
    }
    return util::join(names, ", ");
  }

  Record to_record(const Json& row, bool deleted) {
    Record record;
    record.id = plain_text(row.value("Id", Json()));
    record.fields = salesforce::record_fields(row);
    if (auto it = row.find(kModstamp); it != row.end() && it->is_string()) {
      if (auto ms = util::parse_iso8601(it->get<std::string>()))
        record.modified_at = util::format_iso8601(*ms);
      else
        record.modified_at = it->get<std::string>();
    }
    record.deleted = deleted;
    return record;
  }

  // Runs a SOQL query (queryAll when `all`), following nextRecordsUrl; each page's cursor is
  // the SystemModstamp of its last record (the query is ordered by it) where it has one.
  void query_pages(const ObjectRef& object, const std::string& soql, bool all, const PageSink& sink,
                   std::size_t page_size = 0) {
    // A cursor never runs ahead of the read's start: a record stamped later was written while
    // the read went on, and the next read must still see it.
    const std::string started = util::format_iso8601(clock_.now_ms());
    std::string path = api_.data_path(std::string(all ? "/queryAll" : "/query") + "?q=" + net::url_encode(soql));
    const std::string what = (all ? "reading deleted records of " : "reading ") + object.name;
    while (true) {
      auto response = api_.send("GET", path);
      if (!response.ok()) {
        if (response.status == 400) api_.fail(response, what + " (SOQL: " + util::squeeze(soql, 300) + ")");
        api_.fail(response, what);
      }
      auto body = api_.parse(response, what);
      Page page;
      if (auto it = body.find("records"); it != body.end() && it->is_array()) {
        page.records.reserve(it->size());
        for (const auto& row : *it) {
          if (!row.is_object()) continue;
          const bool deleted = all && row.value("IsDeleted", false);
          page.records.push_back(to_record(row, deleted));
        }
      }
      if (!all) page.cursor = started;  // emit() gives each page its own
      const bool done = body.value("done", true);
      const std::string next = body.value("nextRecordsUrl", "");
      emit(std::move(page), page_size, sink);
      if (done || next.empty()) break;
      if (!util::starts_with(next, "/services/data/"))
        throw ConnectorError(ErrorKind::transient, "salesforce: " + what + ": the answer's nextRecordsUrl is not a query path");
      path = next;
    }
  }

  // Hands a query page on in pages of at most `page_size` records (a query page holds up to
  // 2,000), each with the SystemModstamp of its last record as cursor (capped at `page.cursor`,
  // the read's start) where the query is ordered by it.
  static void emit(Page&& page, std::size_t page_size, const PageSink& sink) {
    const std::string cap = std::move(page.cursor);
    auto cursor_of = [&](const Page& part) {
      if (cap.empty() || part.records.empty() || !part.records.back().modified_at) return std::string();
      return std::min(*part.records.back().modified_at, cap);
    };
    if (page_size == 0 || page.records.size() <= page_size) {
      page.cursor = cursor_of(page);
      sink(std::move(page));
      return;
    }
    for (std::size_t i = 0; i < page.records.size(); i += page_size) {
      Page part;
      const std::size_t end = std::min(page.records.size(), i + page_size);
      part.records.assign(std::make_move_iterator(page.records.begin() + static_cast<std::ptrdiff_t>(i)),
                          std::make_move_iterator(page.records.begin() + static_cast<std::ptrdiff_t>(end)));
      part.cursor = cursor_of(part);
      sink(std::move(part));
    }
  }

  // Records deleted (or merged away: MasterRecordId names the winner, which is read as a
  // change) since `from_ms`, as tombstones. Only mergeable objects (Contact, Lead, Account...)
  // have MasterRecordId; asking a custom object for it is INVALID_FIELD. A cursor older than what the org still keeps of
  // its deletes cannot be trusted: say that a full run is needed rather than miss them.
  void read_deleted(const ObjectRef& object, std::int64_t since_ms, std::int64_t from_ms, const PageSink& sink) {
    const std::int64_t now = clock_.now_ms();
    if (now - since_ms > 120'000) {  // /deleted/ needs start more than a minute before end
      // The delete log answers for the last 15 days at most; what matters is only whether
      // anything deleted after the cursor was purged since (earliestDateAvailable).
      const std::int64_t start = std::max<std::int64_t>(since_ms, now - 14LL * 24 * 3600 * 1000);
      auto response = api_.send("GET", api_.data_path("/sobjects/" + object.name + "/deleted/?start=" +
                                                      net::url_encode(salesforce::soql_datetime(start)) +
                                                      "&end=" + net::url_encode(salesforce::soql_datetime(now))));
      if (response.status == 400 && api_.describe_error(response).find("INVALID_REPLICATION_DATE") != std::string::npos)
        throw ConnectorError(ErrorKind::config,
                             "salesforce: the cursor of " + object.name + " (" + util::format_iso8601(since_ms) +
                                 ") is older than the deletes the org still keeps (" + api_.describe_error(response) +
                                 "): deletes in between may be lost; run with --full");
      if (!response.ok()) api_.fail(response, "reading the delete log of " + object.name);
      auto body = api_.parse(response, "reading the delete log of " + object.name);
      const std::string earliest = body.value("earliestDateAvailable", "");
      if (auto ms = util::parse_iso8601(earliest); ms && since_ms < *ms)
        throw ConnectorError(ErrorKind::config,
                             "salesforce: the cursor of " + object.name + " (" + util::format_iso8601(since_ms) +
                                 ") is older than the deletes the org still keeps (from " + earliest +
                                 "): deletes in between may be lost; run with --full");
    }
    const std::string merged = api_.field(object.name, "MasterRecordId") ? ", MasterRecordId" : "";
    query_pages(object,
                "SELECT Id, SystemModstamp, IsDeleted" + merged + " FROM " + object.name +
                    " WHERE IsDeleted = TRUE AND SystemModstamp >= " + salesforce::soql_datetime(from_ms) +
                    " ORDER BY SystemModstamp, Id",
                true, [&](Page&& page) {
                  std::erase_if(page.records, [](const Record& r) { return !r.deleted; });
                  page.cursor.clear();
                  if (!page.records.empty()) sink(std::move(page));
                });
  }

  Json wire_record(const ObjectRef& object, const WriteOp& op) {
    Json record = {{"attributes", {{"type", object.name}}}};
    for (const auto& [name, value] : op.fields.items()) {
      const Field* field = api_.field(object.name, name);
      record[name] = field ? salesforce::to_wire(*field, value) : value;
    }
    return record;
  }

  net::HttpRequest collection_request(const ObjectRef& object, const WriteJob& job, const std::vector<WriteOp>& ops) {
    if (job.kind == OpKind::remove) {
      std::vector<std::string> ids;
      for (auto i : job.ops) ids.push_back(ops[i].id);
      return api_.request("DELETE", api_.data_path("/composite/sobjects?allOrNone=false&ids=" + util::join(ids, ",")),
                          nullptr);
    }
    Json records = Json::array();
    for (auto i : job.ops) {
      Json record = wire_record(object, ops[i]);
      if (job.kind == OpKind::update) record["Id"] = ops[i].id;
      records.push_back(std::move(record));
    }
    Json body = {{"allOrNone", false}, {"records", std::move(records)}};
    if (job.kind == OpKind::create) return api_.request("POST", api_.data_path("/composite/sobjects"), &body);
    if (job.kind == OpKind::upsert)
      return api_.request("PATCH", api_.data_path("/composite/sobjects/" + object.name + "/" + external_id_field(object)),
                          &body);
    return api_.request("PATCH", api_.data_path("/composite/sobjects"), &body);
  }

  void interpret(const ObjectRef& object, const WriteJob& job, const std::vector<WriteOp>& ops,
                 const net::HttpResponse& response, std::vector<WriteResult>& results, std::vector<bool>& answered) {
    const std::string what = std::string(to_string(job.kind)) + " of " + std::to_string(job.ops.size()) + " " + object.name;
    if (!response.ok()) {
      // A malformed call (400) or a refusal of the whole call: every row of it fails alike.
      if (response.status >= 500) api_.fail(response, what);
      const std::string message = "salesforce: " + what + ": " + api_.describe_error(response);
      if (response.status == 400 || response.status == 401 || response.status == 403 || response.status == 404)
        throw ConnectorError(ErrorKind::config, message);
      for (auto i : job.ops) results[i] = {false, "", ErrorKind::record, message}, answered[i] = true;
      return;
    }
    auto body = api_.parse(response, what, /*array=*/true);
    if (body.size() != job.ops.size())
      throw ConnectorError(ErrorKind::transient, "salesforce: " + what + ": the answer has " +
                                                     std::to_string(body.is_array() ? body.size() : 0) +
                                                     " results for " + std::to_string(job.ops.size()) + " rows");
    for (std::size_t k = 0; k < job.ops.size(); ++k) {
      const std::size_t i = job.ops[k];
      const Json& result = body[k];
      answered[i] = true;
      if (!result.is_object()) {
        results[i] = {false, "", ErrorKind::transient, "salesforce: " + what + ": a result is not an object"};
        continue;
      }
      if (result.value("success", false)) {
        results[i] = {true, plain_text(result.value("id", Json(ops[i].id))), ErrorKind::record, ""};
        continue;
      }
      // Deleting what is already gone reaches the goal.
      if (job.kind == OpKind::remove &&
          (has_error_code(result, "ENTITY_IS_DELETED") || has_error_code(result, "INVALID_CROSS_REFERENCE_KEY"))) {
        results[i] = {true, ops[i].id, ErrorKind::record, ""};
        continue;
      }
      results[i] = {false, "", ErrorKind::record, describe_row_errors(result)};
      if (job.kind == OpKind::create && has_error_code(result, "DUPLICATES_DETECTED"))
        duplicates_[i] = duplicate_matches(result);
    }
  }

  // A create a duplicate rule blocked: when exactly one matched record has the same key, the
  // row is that record, linked and left as it is (as a lookup before the create would have
  // found it; the engine's next full read compares its values); else the row stays rejected
  // with the rule's message.
  void link_duplicates(const ObjectRef& object, const std::vector<WriteOp>& ops, std::vector<WriteResult>& results) {
    if (duplicates_.empty()) return;
    auto pending = std::move(duplicates_);
    duplicates_.clear();
    std::vector<std::string> ids;
    for (const auto& [i, matches] : pending) ids.insert(ids.end(), matches.begin(), matches.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    ObjectRef keyed = object;
    keyed.fields = {object.key_field};
    std::unordered_map<std::string, std::string> key_of;  // id -> key field value, lower-cased
    for (auto& record : lookup(keyed, kNativeIdField, ids))
      key_of[record.id] = util::to_lower(util::trim(plain_text(record.fields.value(object.key_field, Json()))));
    for (const auto& [i, matches] : pending) {
      // The key as the row carries it (what the rule matched), else the op's match key.
      const Json sent = ops[i].fields.value(object.key_field, Json());
      const std::string key = util::to_lower(util::trim(sent.is_null() ? ops[i].key : plain_text(sent)));
      std::vector<std::string> agreeing;
      for (const auto& id : matches)
        if (auto it = key_of.find(id); it != key_of.end() && !key.empty() && it->second == key) agreeing.push_back(id);
      if (agreeing.size() != 1) continue;
      results[i] = {true, agreeing.front(), ErrorKind::record, ""};
      api_.log("linked " + key + " to the existing " + object.name + " " + agreeing.front() +
               " the duplicate rule matched");
    }
  }

  SalesforceApi api_;
  const util::Clock& clock_;
  std::map<std::size_t, std::vector<std::string>> duplicates_;  // row -> matched ids, within write()
  bool person_note_logged_ = false;
};

std::unique_ptr<Connector> make_salesforce_connector(const ConnectionConfig& config) {
  return std::make_unique<SalesforceConnector>(config);
}

}  // namespace

const ConnectorType& salesforce_connector_type() {
  static const ConnectorType type{
      .type = "salesforce",
      .make = &make_salesforce_connector,
      .connection_keys = {"login_url", "api_version", "client_id", "client_secret", "refresh_token", "username",
                          "private_key_file", "max_api_share", "timeout", "max_retries", "retry_for", "share_rate_limit"},
      .required_connection_keys = {},
      .source_keys = {"lookback", "tombstones"},
      .destination_keys = {"external_id"},
      .init_template =
          {
              .connection = R"(# A connected app's consumer key and secret with a refresh token (or, server to server,
# username + private_key_file for the JWT bearer flow instead of the secret and token).
login_url = "${{ENV}_LOGIN_URL:-https://login.salesforce.com}"  # sandboxes: https://test.salesforce.com
client_id = "${{ENV}_CLIENT_ID}"
client_secret = "${{ENV}_CLIENT_SECRET}"
refresh_token = "${{ENV}_REFRESH_TOKEN}"
)",
              .object = "Contact",
              .source_keys = R"(# Contact, Lead, Account or a custom object (Invoice__c) by API name
)",
              .destination_keys = R"(# external_id = "Email__c"       # a field marked External ID: upserts go through it
)",
              .email = "Email",
              .first_name = "FirstName",
              .last_name = "LastName",
          },
  };
  return type;
}

}  // namespace synctool::connectors
