#include "connectors/mailchimp/mailchimp_connector.hpp"

#include "connectors/mailchimp/mailchimp_api.hpp"
#include "connectors/mailchimp/mailchimp_values.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace synctool::connectors {

namespace {

using mailchimp::Audience;
using mailchimp::MailchimpApi;
using mailchimp::MergeField;

constexpr std::int64_t kDefaultLookbackMs = 120'000;
// A read whose offsets shifted (members deleted while it paged) is repeated this often at most.
constexpr int kMaxReadPasses = 3;

std::string lower(const std::string& text) { return util::to_lower(util::trim(text)); }

[[noreturn]] void config_error(const std::string& what) { throw ConnectorError(ErrorKind::config, "mailchimp: " + what); }

// The `fields` parameter: what every member read asks for, plus the fields the sync uses;
// `prefix` is "members." for a page of members, "" for one member.
std::string fields_param(const std::vector<std::string>& wanted, const std::string& prefix) {
  std::vector<std::string> names = {"id", "email_address", "status", "last_changed"};
  auto add = [&](const std::string& name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  if (wanted.empty()) {
    add("merge_fields");
    add("tags");
  }
  for (const auto& field : wanted)
    if (field != kNativeIdField && !field.empty()) add(field);
  std::string param;
  for (const auto& name : names) param += (param.empty() ? "" : ",") + prefix + name;
  if (!prefix.empty()) param += ",total_items";  // a list answer: paging needs the count
  return net::url_encode(param);
}

// One batch request of write(): the rows it carries, and whether existing members are updated
// (upserts and updates) or refused (creates: a create never changes an existing member).
struct BatchJob {
  std::vector<std::size_t> rows;
  bool update_existing = true;
};

class MailchimpConnector final : public Connector {
 public:
  explicit MailchimpConnector(const ConnectionConfig& config)
      : api_(config), clock_(config.clock ? *config.clock : util::system_clock()) {}

  std::string type() const override { return "mailchimp"; }
  std::optional<RequestStats> request_stats() const override {
    const auto& s = api_.stats();
    return RequestStats{s.requests, s.throttled, s.retries};
  }

  void check() override {
    HttpApi::FailFast fail_fast(api_);
    auto response = api_.call("GET", "/ping");
    if (!response.ok()) api_.fail(response, "checking the connection");
  }

  // The audience exists and one of its members can be read.
  void probe(const ObjectRef& object) override {
    HttpApi::FailFast fail_fast(api_);
    const Audience& audience = audience_of(object);
    auto response = api_.call("GET", list_path(audience) + "/members?count=1&fields=" +
                                         net::url_encode("members.id,members.email_address,total_items"));
    if (!response.ok()) fail_audience(audience, response, "reading one member");
    api_.parse(response, "reading one member of audience '" + audience.name + "'");
  }

  void check_options(const ObjectRef& object) const override {
    if (object.name != "members")
      throw ConnectorError(ErrorKind::config,
                           "mailchimp: unknown object '" + object.name + "' (a Mailchimp connection has: members)",
                           "object");
    auto list = object.options.find("list");
    if (list == object.options.end() || !list->is_string() || util::trim(list->get<std::string>()).empty())
      throw ConnectorError(ErrorKind::config, "mailchimp: members need the audience: list = \"<audience name or id>\"",
                           "list");
    new_member_status(object);
    endpoint_duration_ms("mailchimp", object, "lookback", kDefaultLookbackMs);
    endpoint_flag("mailchimp", object, "tombstones", true);
    endpoint_flag("mailchimp", object, "permanent_delete", false);
  }

  Capabilities capabilities(const ObjectRef& object) const override {
    Capabilities caps;
    caps.incremental_read = true;
    caps.tombstones = endpoint_flag("mailchimp", object, "tombstones", true);
    caps.native_upsert = true;  // members are keyed by email: the batch call creates or updates
    // Archiving is the delete; a permanent delete (the address can never be imported again)
    // only when the spec asks for it with permanent_delete = true.
    caps.hard_delete = endpoint_flag("mailchimp", object, "permanent_delete", false);
    caps.archive = true;
    caps.max_batch = mailchimp::kMaxBatchMembers * api_.max_in_flight();
    caps.write_in_background = true;  // an API key: no token is ever stored while writing
    caps.max_lookup = mailchimp::kMaxBatchMembers;
    return caps;
  }

  ObjectDescription describe(const ObjectRef& object) override {
    const Audience& audience = audience_of(object);
    ObjectDescription description;
    description.name = object.name;
    description.fields.push_back({"email_address", "email", true, true});
    description.fields.push_back({"status", "enumeration", false, false});
    for (const auto& field : api_.merge_fields(audience))
      description.fields.push_back({"merge_fields." + field.tag, mailchimp::synctool_type(field), field.required, false});
    for (const auto& field : mailchimp::other_member_fields())
      description.fields.push_back({field.name, field.type, false, false});
    return description;
  }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    const Audience& audience = audience_of(object);
    std::size_t count = request.page_size == 0 ? mailchimp::kMaxPageSize
                                               : std::min(request.page_size, mailchimp::kMaxPageSize);
    std::optional<std::int64_t> since;
    if (request.since) {
      since = util::parse_iso8601(*request.since);
      if (!since)
        config_error("the stored cursor '" + *request.since +
                     "' is not a timestamp; reset it with `synctool state reset`");
    }
    scan(object, audience, since, fields_param(request.fields, "members."), count, sink);
  }

  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    std::vector<Record> found;
    if (values.empty()) return found;
    const Audience& audience = audience_of(object);
    if (field != kNativeIdField && field != "email_address") return scan_lookup(object, audience, field, values);

    // One GET per member: Mailchimp has no bulk lookup by email; the hash addresses a member.
    std::set<std::string> hashes;
    for (const auto& value : values)
      if (!util::trim(value).empty()) hashes.insert(field == kNativeIdField ? value : mailchimp::subscriber_hash(value));
    std::vector<net::HttpRequest> requests;
    for (const auto& hash : hashes)
      requests.push_back(api_.request("GET", member_path(audience, hash) + "?fields=" + fields_param(object.fields, ""), nullptr));
    for (auto& response : api_.call_all(std::move(requests))) {
      if (response.status == 404) continue;
      if (!response.ok()) fail_audience(audience, response, "looking up members by " + field);
      auto record = to_record(api_.parse(response, "looking up members of audience '" + audience.name + "'"));
      if (record.id.empty() || record.fields.value("status", "") == "archived") continue;  // archived: not a member
      found.push_back(std::move(record));
    }
    return found;
  }

  std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) override {
    std::vector<WriteResult> results(ops.size());
    if (ops.empty()) return results;
    const Audience& audience = audience_of(object);
    const auto& merge_fields = api_.merge_fields(audience);
    const std::string status_if_new = new_member_status(object);

    std::vector<Json> entries(ops.size());
    std::vector<std::size_t> upserted, created, patched, deleted;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const WriteOp& op = ops[i];
      if (op.kind == OpKind::remove || op.kind == OpKind::archive) {
        deleted.push_back(i);
        continue;
      }
      auto* checked = std::any_cast<CheckedEntry>(&op.prepared);
      if (checked && checked->kind == op.kind) {
        entries[i] = std::move(checked->entry);
        op.prepared.reset();  // taken: a second write of the op builds it again
      } else if (auto problem = member_entry(audience, merge_fields, op, entries[i]); !problem.empty()) {
        results[i] = {false, "", ErrorKind::record, problem};
        continue;
      }
      std::string email = entries[i].value("email_address", "");
      if (op.kind == OpKind::update) {
        // The batch call finds members by email; a member whose address is not the one given
        // (or not given) is updated on its own, by its id.
        if (util::trim(email).empty() || mailchimp::subscriber_hash(email) != op.id) {
          patched.push_back(i);
          continue;
        }
      } else if (!entries[i].contains("status")) {
        // Only a new member takes this status; an existing one keeps its own (a pending member
        // stays pending, an unsubscribed one is not written as subscribed). `status` itself
        // goes only where the sync maps it on purpose.
        entries[i]["status_if_new"] = status_if_new;
      }
      (op.kind == OpKind::create ? created : upserted).push_back(i);
    }
    std::deque<BatchJob> jobs;
    for (const auto* rows : {&upserted, &created})
      for (std::size_t i = 0; i < rows->size(); i += mailchimp::kMaxBatchMembers) {
        auto end = std::min(rows->size(), i + mailchimp::kMaxBatchMembers);
        jobs.push_back({std::vector<std::size_t>(rows->begin() + static_cast<std::ptrdiff_t>(i),
                                                 rows->begin() + static_cast<std::ptrdiff_t>(end)),
                        rows == &upserted});
      }
    write_batches(audience, std::move(jobs), entries, results);
    patch_members(audience, patched, ops, entries, results);
    delete_members(audience, deleted, ops, results);
    return results;
  }

  std::string write_problem(const ObjectRef& object, const WriteOp& op) override {
    if (op.kind == OpKind::remove || op.kind == OpKind::archive) return "";
    const Audience& audience = audience_of(object);
    Json entry;
    auto problem = member_entry(audience, api_.merge_fields(audience), op, entry);
    if (problem.empty()) op.prepared = CheckedEntry{op.kind, std::move(entry)};
    return problem;
  }

 private:
  // A member entry write_problem() built and found writable (WriteOp::prepared).
  struct CheckedEntry {
    OpKind kind;
    Json entry;
  };

  // The member entry of a create, upsert or update, or why Mailchimp would refuse the row;
  // throws ConnectorError(config) for a field the audience does not have.
  std::string member_entry(const Audience& audience, const std::vector<MergeField>& merge_fields, const WriteOp& op,
                           Json& entry) const {
    bool config = false;
    auto problem = mailchimp::member_entry(op.fields, merge_fields, op.kind != OpKind::update, entry, config);
    if (config) config_error("audience '" + audience.name + "': " + problem);
    if (!problem.empty()) return problem;
    std::string email = util::trim(entry.value("email_address", ""));
    if (email.empty()) return op.kind == OpKind::update ? "" : "no email_address to write";
    return mailchimp::address_problem(email);
  }

  const Audience& audience_of(const ObjectRef& object) {
    if (object.name != "members")
      config_error("unknown object '" + object.name + "' (a Mailchimp connection has: members)");
    return api_.audience(endpoint_text(object, "list"));
  }

  std::string new_member_status(const ObjectRef& object) const {
    auto it = object.options.find("status_if_new");
    if (it == object.options.end() || it->is_null()) return "subscribed";
    const auto& allowed = mailchimp::new_member_statuses();
    std::string status = it->is_string() ? it->get<std::string>() : it->dump();
    if (!it->is_string() || std::find(allowed.begin(), allowed.end(), status) == allowed.end())
      throw ConnectorError(ErrorKind::config,
                           "mailchimp: status_if_new must be one of " + util::join(allowed, ", ") + " (got '" + status + "')",
                           "status_if_new");
    return status;
  }

  static std::string list_path(const Audience& audience) { return "/lists/" + net::url_encode(audience.id); }
  static std::string member_path(const Audience& audience, const std::string& hash) {
    return list_path(audience) + "/members/" + net::url_encode(hash);
  }

  [[noreturn]] void fail_audience(const Audience& audience, const net::HttpResponse& response, const std::string& what) {
    api_.fail(response, what + " in audience '" + audience.name + "'");
  }

  static Record to_record(const Json& member) {
    Record record;
    record.id = member.value("id", "");
    if (record.id.empty() && member.contains("email_address"))
      record.id = mailchimp::subscriber_hash(member.value("email_address", ""));
    record.fields = mailchimp::member_fields(member);
    if (auto ms = util::parse_iso8601(member.value("last_changed", ""))) record.modified_at = util::format_iso8601(*ms);
    return record;
  }

  // Pages through the members with offset paging, `count` a page, since a time when given.
  // Offsets shift when members are deleted while the read pages, so members are de-duplicated
  // by id and, when fewer distinct members were seen than the list reports, the read goes
  // over the list again for the ones that slipped by. Incremental reads report archived
  // members as tombstones; full reads leave them out. Only the last page carries the new
  // cursor: the newest change seen, never later than the read's start (a member changed
  // behind the read is read again next time), and never earlier than `since`.
  void scan(const ObjectRef& object, const Audience& audience, std::optional<std::int64_t> since,
            const std::string& fields, std::size_t count, const PageSink& sink) {
    const std::int64_t started = clock_.now_ms();
    const bool tombstones = since && capabilities(object).tombstones;
    std::string base = list_path(audience) + "/members?count=" + std::to_string(count) + "&fields=" + fields;
    if (since) {
      std::int64_t lookback = endpoint_duration_ms("mailchimp", object, "lookback", kDefaultLookbackMs);
      base += "&since_last_changed=" + net::url_encode(mailchimp::mailchimp_time(*since - lookback));
    }
    const std::string resume = since ? util::format_iso8601(*since) : "";
    std::unordered_set<std::string> seen;
    std::int64_t newest = since.value_or(0);
    bool any = false;
    for (int pass = 1;; ++pass) {
      std::size_t offset = 0, total = 0;
      while (true) {
        auto response = api_.call("GET", base + "&offset=" + std::to_string(offset));
        if (!response.ok()) fail_audience(audience, response, "reading members");
        auto body = api_.parse(response, "reading the members of audience '" + audience.name + "'");
        auto members = body.value("members", Json::array());
        total = count_field(body, "total_items", "mailchimp: reading members");
        Page page;
        page.cursor = resume;
        for (const auto& member : members) {
          Record record = to_record(member);
          if (record.id.empty() || !seen.insert(record.id).second) continue;
          if (record.modified_at)
            if (auto ms = util::parse_iso8601(*record.modified_at)) {
              newest = any ? std::max(newest, *ms) : *ms;
              any = true;
            }
          if (record.fields.value("status", "") == "archived") {
            if (!tombstones) continue;
            record.deleted = true;
          }
          page.records.push_back(std::move(record));
        }
        if (!page.records.empty()) sink(std::move(page));
        offset += members.size();
        if (members.empty() || offset >= total) break;
      }
      if (seen.size() >= total) break;
      if (pass == kMaxReadPasses)
        throw ConnectorError(ErrorKind::transient,
                             "mailchimp: the members of audience '" + audience.name + "' kept moving while being read (" +
                                 std::to_string(seen.size()) + " of " + std::to_string(total) +
                                 " seen after " + std::to_string(pass) + " passes); the next run reads them again");
      api_.log("members moved while being read (" + std::to_string(seen.size()) + " of " + std::to_string(total) +
               " seen); reading the list again for those that slipped by");
    }
    Page last;
    std::int64_t cursor = std::min(any ? newest : started, started);
    if (since) cursor = std::max(cursor, *since);
    last.cursor = util::format_iso8601(cursor);
    sink(std::move(last));
  }

  // Lookup by a field Mailchimp cannot search by (a merge field): a full read, filtered here.
  std::vector<Record> scan_lookup(const ObjectRef& object, const Audience& audience, const std::string& field,
                                  const std::vector<std::string>& values) {
    std::unordered_set<std::string> wanted(values.begin(), values.end());
    std::vector<std::string> fields = object.fields;
    if (!fields.empty()) fields.push_back(field);
    std::vector<Record> found;
    scan(object, audience, std::nullopt, fields_param(fields, "members."), mailchimp::kMaxPageSize, [&](Page&& page) {
      for (auto& record : page.records) {
        const Json* value = util::json_get_path(record.fields, field);
        if (value && wanted.contains(util::json_to_text(*value))) found.push_back(std::move(record));
      }
    });
    return found;
  }

  // The batch call, up to 500 members a request and max_in_flight requests at once. The
  // answer names members by email only, so rows are matched by lower-cased email. A request
  // refused as a whole (400) is split in halves until the offending row stands alone.
  void write_batches(const Audience& audience, std::deque<BatchJob> jobs, const std::vector<Json>& entries,
                     std::vector<WriteResult>& results) {
    const std::string path = list_path(audience) +
                             "?fields=new_members.id,new_members.email_address,updated_members.id,"
                             "updated_members.email_address,errors,total_created,total_updated,error_count";
    while (!jobs.empty()) {
      std::vector<BatchJob> round(jobs.begin(), jobs.end());
      jobs.clear();
      std::vector<net::HttpRequest> requests;
      for (const auto& job : round) {
        // Written as text from the entries: copying them into one Json only to serialise it
        // cost as much as building them.
        std::string body = "{\"members\":[";
        for (auto i : job.rows) {
          if (body.back() != '[') body += ',';
          body += util::json_dump(entries[i]);
        }
        body += job.update_existing ? "],\"update_existing\":true}" : "],\"update_existing\":false}";
        requests.push_back(api_.json_request("POST", path, std::move(body)));
        // Keyed by email: repeating an upsert changes nothing more, and a repeated create of a
        // member the lost first attempt made is refused as existing, never duplicated.
        requests.back().idempotent = true;
      }
      auto outcomes = api_.call_each(std::move(requests));
      for (std::size_t r = 0; r < round.size(); ++r) {
        if (!outcomes[r].error.empty()) {
          for (auto i : round[r].rows) results[i] = {false, "", ErrorKind::transient, outcomes[r].error};
          continue;
        }
        interpret_batch(audience, round[r], entries, outcomes[r].response, results, jobs);
      }
    }
  }

  void interpret_batch(const Audience& audience, const BatchJob& job, const std::vector<Json>& entries,
                       const net::HttpResponse& response, std::vector<WriteResult>& results, std::deque<BatchJob>& retry) {
    const auto& rows = job.rows;
    if (response.status == 400) {
      if (rows.size() > 1) {
        std::size_t half = rows.size() / 2;
        retry.push_back({{rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(half)}, job.update_existing});
        retry.push_back({{rows.begin() + static_cast<std::ptrdiff_t>(half), rows.end()}, job.update_existing});
        api_.log("a batch of " + std::to_string(rows.size()) + " members was refused as a whole (" +
                 api_.describe_error(response) + "); splitting it to find the row");
        return;
      }
      results[rows.front()] = {false, "", ErrorKind::record, api_.describe_error(response)};
      return;
    }
    if (!response.ok()) fail_audience(audience, response, "writing members");
    auto body = Json::parse(response.body, nullptr, false);
    if (!body.is_object()) {
      for (auto i : rows)
        results[i] = {false, "", ErrorKind::transient,
                      "mailchimp: the answer to a batch write is not valid JSON (HTTP " + std::to_string(response.status) +
                          "); outcome unknown, the row is written again next run"};
      return;
    }
    std::unordered_map<std::string, std::vector<std::size_t>> rows_by_email;
    for (auto i : rows) rows_by_email[lower(entries[i].value("email_address", ""))].push_back(i);
    std::vector<bool> answered(results.size(), false);
    auto settle = [&](const Json& email, const WriteResult& result) {
      if (!email.is_string()) return;
      auto it = rows_by_email.find(lower(email.get<std::string>()));
      if (it == rows_by_email.end()) return;
      for (auto i : it->second) {
        results[i] = result;
        answered[i] = true;
      }
    };
    for (const auto* list : {"new_members", "updated_members"})
      for (const auto& member : body.value(list, Json::array())) {
        if (!member.is_object()) continue;
        Json email = member.value("email_address", Json());
        std::string id = member.value("id", "");
        if (id.empty() && email.is_string()) id = mailchimp::subscriber_hash(email.get<std::string>());
        settle(email, {true, id, ErrorKind::record, ""});
      }
    for (const auto& error : body.value("errors", Json::array())) {
      if (!error.is_object()) continue;
      std::string message = error.value("error", "rejected by Mailchimp");
      std::string field = error.value("field", "");
      std::string field_message = error.value("field_message", "");
      if (!field.empty() && !field_message.empty() && message.find(field_message) == std::string::npos)
        message += " (" + field + ": " + field_message + ")";
      if (auto code = error.value("error_code", ""); !code.empty()) message += " [" + code + "]";
      settle(error.value("email_address", Json()), {false, "", ErrorKind::record, api_.redact(message)});
    }
    for (auto i : rows)
      if (!answered[i])
        results[i] = {false, "", ErrorKind::transient,
                      "mailchimp: the answer to the batch write does not mention this member; it is written again next run"};
  }

  // Updates of members whose address changed or is not given, one PATCH each by id.
  void patch_members(const Audience& audience, const std::vector<std::size_t>& rows, const std::vector<WriteOp>& ops,
                     const std::vector<Json>& entries, std::vector<WriteResult>& results) {
    if (rows.empty()) return;
    std::vector<net::HttpRequest> requests;
    for (auto i : rows) {
      requests.push_back(api_.request("PATCH", member_path(audience, ops[i].id) + "?fields=id", &entries[i]));
      requests.back().idempotent = true;
    }
    auto outcomes = api_.call_each(std::move(requests));
    for (std::size_t k = 0; k < rows.size(); ++k) {
      auto i = rows[k];
      const auto& response = outcomes[k].response;
      if (!outcomes[k].error.empty()) results[i] = {false, "", ErrorKind::transient, outcomes[k].error};
      else if (response.ok()) results[i] = {true, ops[i].id, ErrorKind::record, ""};
      else if (response.status == 404 || response.status == 400)
        results[i] = {false, "", ErrorKind::record, api_.describe_error(response)};
      else fail_audience(audience, response, "updating member " + ops[i].id);
    }
  }

  // Archive (DELETE) or permanent delete, one request per member. A member already gone or
  // already archived counts as done; one Mailchimp will not archive (cleaned, pending) is a
  // row error naming its status.
  void delete_members(const Audience& audience, const std::vector<std::size_t>& rows, const std::vector<WriteOp>& ops,
                      std::vector<WriteResult>& results) {
    if (rows.empty()) return;
    std::vector<net::HttpRequest> requests;
    for (auto i : rows) {
      bool permanent = ops[i].kind == OpKind::remove;
      requests.push_back(permanent ? api_.request("POST", member_path(audience, ops[i].id) + "/actions/delete-permanent", nullptr)
                                   : api_.request("DELETE", member_path(audience, ops[i].id), nullptr));
      requests.back().idempotent = true;
    }
    auto outcomes = api_.call_each(std::move(requests));
    std::vector<std::size_t> refused;
    for (std::size_t k = 0; k < rows.size(); ++k) {
      auto i = rows[k];
      const auto& response = outcomes[k].response;
      if (!outcomes[k].error.empty()) results[i] = {false, "", ErrorKind::transient, outcomes[k].error};
      else if (response.ok() || response.status == 404) results[i] = {true, ops[i].id, ErrorKind::record, ""};
      else if (response.status == 405) refused.push_back(i);
      else fail_audience(audience, response, "deleting member " + ops[i].id);
    }
    // 405: archived already (done), or a status Mailchimp does not archive.
    std::vector<net::HttpRequest> checks;
    for (auto i : refused) checks.push_back(api_.request("GET", member_path(audience, ops[i].id) + "?fields=status", nullptr));
    auto answers = checks.empty() ? std::vector<net::HttpResponse>{} : api_.call_all(std::move(checks));
    for (std::size_t k = 0; k < refused.size(); ++k) {
      auto i = refused[k];
      auto body = Json::parse(answers[k].body, nullptr, false);
      std::string status = body.is_object() ? body.value("status", "") : "";
      if (answers[k].status == 404 || status == "archived") results[i] = {true, ops[i].id, ErrorKind::record, ""};
      else
        results[i] = {false, "", ErrorKind::record,
                      "Mailchimp does not archive a member whose status is '" + (status.empty() ? "unknown" : status) +
                          "' (HTTP 405)"};
    }
  }

  MailchimpApi api_;
  const util::Clock& clock_;
};

std::unique_ptr<Connector> make_mailchimp_connector(const ConnectionConfig& config) {
  return std::make_unique<MailchimpConnector>(config);
}

}  // namespace

const ConnectorType& mailchimp_connector_type() {
  static const ConnectorType type{
      .type = "mailchimp",
      .make = &make_mailchimp_connector,
      .connection_keys = {"api_key", "timeout", "max_retries", "retry_for"},
      .required_connection_keys = {"api_key"},
      .source_keys = {"list", "lookback", "tombstones"},
      .destination_keys = {"list", "status_if_new", "permanent_delete"},
      .init_template =
          {
              .connection = R"(# An API key; its suffix (-us6) names the data centre.
api_key = "${{ENV}_API_KEY}"
base_url = "${{ENV}_BASE_URL:-}"  # empty: https://<dc>.api.mailchimp.com/3.0
)",
              .object = "members",
              .source_keys = R"(list = "main-audience"           # change: your audience's name or id
)",
              .destination_keys = R"(list = "main-audience"           # change: your audience's name or id
status_if_new = "subscribed"     # members the sync adds; existing members keep their status
)",
              .email = "email_address",
              .first_name = "merge_fields.FNAME",
              .last_name = "merge_fields.LNAME",
          },
  };
  return type;
}

}  // namespace synctool::connectors
