// Private to the Mailchimp emulator's .cpp files.
#pragma once

// httplib comes from emulators/common/emulator_server.hpp, which defines CPPHTTPLIB_OPENSSL_SUPPORT
// first (Debian's library is built with it, and it changes the layout of some of httplib's structs).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulators/common/emulator_faults.hpp"
#include "emulators/common/emulator_server.hpp"
#include "emulators/common/emulator_util.hpp"
#include "emulators/mailchimp/mailchimp_emulator.hpp"

namespace synctool::emulators::mailchimp_detail {

constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();  // an unset timestamp ("")

// Clocks, dates, strings, the fault kinds: emulators/common.
using namespace common;

// mailchimp_util.cpp
std::string iso_s(std::int64_t epoch_s);  // 2025-10-21T15:41:36+00:00; "" for kNoTime
bool parse_int64(std::string_view s, std::int64_t& out);
std::string upper(std::string_view s);
std::string md5_hex(std::string_view data);
// The emulator's stand-in for Mailchimp's address check (README "Email addresses").
bool valid_email(std::string_view email);

// Mailchimp's `fields` / `exclude_fields`: comma-separated dotted paths (members.email_address)
// as a tree. Paths apply to each element of an array on the way.
struct FieldTree {
  bool whole = false;  // a path ends here
  std::map<std::string, FieldTree, std::less<>> kids;
};
FieldTree field_tree(std::string_view spec);

// What of a JSON value is written: the `fields` and `exclude_fields` trees at its depth.
struct Sel {
  const FieldTree* inc = nullptr;  // nullptr: everything
  const FieldTree* exc = nullptr;  // nullptr: nothing left out
  // The selection of `key`'s value; false when the key is left out.
  bool child(std::string_view key, Sel& out) const;
};

// A small JSON writer: answers with many members are written as text directly (under the
// store's lock, without building a JSON tree), honouring a selection.
void write_string(std::string& out, std::string_view s);
void write_json(std::string& out, const nlohmann::json& v, const Sel& sel);

class ObjectOut {
 public:
  ObjectOut(std::string& out, const Sel& sel) : out_(out), sel_(sel) { out_ += '{'; }
  // Writes the key and gives its value's selection, unless the selection leaves the key out.
  bool key(std::string_view k, Sel& child) {
    if (!sel_.child(k, child)) return false;
    if (!first_) out_ += ',';
    first_ = false;
    write_string(out_, k);
    out_ += ':';
    return true;
  }
  void str(std::string_view k, std::string_view v) {
    Sel c;
    if (key(k, c)) write_string(out_, v);
  }
  void num(std::string_view k, std::int64_t v) {
    Sel c;
    if (key(k, c)) out_ += std::to_string(v);
  }
  void boolean(std::string_view k, bool v) {
    Sel c;
    if (key(k, c)) out_ += v ? "true" : "false";
  }
  void value(std::string_view k, const nlohmann::json& v) {
    Sel c;
    if (key(k, c)) write_json(out_, v, c);
  }
  void close() { out_ += '}'; }

 private:
  std::string& out_;
  Sel sel_;
  bool first_ = true;
};

// An answer. JSON bodies are kept as JSON until the store's lock is released: `fields`
// filtering, serialisation and gzip happen outside it.
struct Reply {
  int status = 200;
  nlohmann::json body;       // the JSON answer (when !raw; null for 204)
  std::string text;          // the body as is (when raw)
  bool raw = false;
  std::string content_type;  // empty: application/json, or application/problem+json for errors
  std::vector<std::pair<std::string, std::string>> headers;
  bool filterable = false;   // `fields` / `exclude_fields` of the request apply
};

// An answer already written as JSON text (with the request's selection applied).
inline Reply text_reply(std::string text) {
  Reply r;
  r.text = std::move(text);
  r.raw = true;
  return r;
}

inline Reply json_reply(nlohmann::json body, int status = 200) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  r.filterable = status == 200;
  return r;
}

inline Reply raw_reply(int status, std::string text, std::string content_type) {
  Reply r;
  r.status = status;
  r.text = std::move(text);
  r.raw = true;
  r.content_type = std::move(content_type);
  return r;
}

// Mailchimp's application/problem+json error.
inline Reply problem(int status, const std::string& title, const std::string& detail,
                     nlohmann::json errors = nlohmann::json()) {
  nlohmann::json b{{"type", "https://mailchimp.com/developer/marketing/docs/errors/"},
                   {"title", title},
                   {"status", status},
                   {"detail", detail},
                   {"instance", uuid4()}};
  if (!errors.is_null()) b["errors"] = std::move(errors);
  Reply r;
  r.status = status;
  r.body = std::move(b);
  r.content_type = "application/problem+json; charset=utf-8";
  return r;
}

struct MergeField {
  int merge_id = 0;
  std::string tag, name, type = "text";
  bool required = false, is_public = true;
  std::string default_value, help_text;
  int display_order = 0;
  nlohmann::json options = nlohmann::json::object();  // type-specific (size, choices, date_format...)
  std::vector<std::string> choices;                    // dropdown / radio
};

struct Member {
  std::string hash;   // subscriber hash: MD5 of the lower-cased email
  std::string email;  // as first written
  std::string unique_email_id, contact_id;
  std::uint64_t seq = 0;  // creation order
  std::size_t pos = 0;    // index in List::order
  std::int64_t web_id = 0;
  std::string status;
  std::unordered_map<std::string, nlohmann::json> merge;  // tag -> value; absent: ""
  std::vector<std::string> tags;
  std::int64_t last_changed = 0, timestamp_signup = kNoTime, timestamp_opt = kNoTime;  // epoch seconds
  std::string ip_signup, ip_opt, language, email_type = "html", source = "API - Generic";
  bool vip = false;
  int member_rating = 2;
};

struct List {
  std::string id, name;
  std::int64_t web_id = 0, date_created = 0;
  std::vector<MergeField> merge_fields;  // by merge_id
  int next_merge_id = 1;
  std::unordered_map<std::string, Member> members;  // by subscriber hash (nodes are stable)
  std::vector<Member*> order;                       // creation order; nullptr: deleted permanently
  std::size_t holes = 0;
  std::unordered_map<std::string, int> tag_ids;
  int next_tag_id = 1;

  const MergeField* field(const std::string& tag) const {
    for (const auto& f : merge_fields)
      if (f.tag == tag) return &f;
    return nullptr;
  }
  void compact() {
    if (holes == 0) return;
    std::size_t w = 0;
    for (Member* m : order) {
      if (m == nullptr) continue;
      m->pos = w;
      order[w++] = m;
    }
    order.resize(w);
    holes = 0;
  }
};

// A validated member write (the fields given; "has_" says whether one was).
struct MemberWrite {
  bool has_status = false, has_status_if_new = false;
  std::string status, status_if_new;
  std::vector<std::pair<std::string, nlohmann::json>> merge;  // tag -> value ("" clears)
  bool has_language = false, has_email_type = false, has_vip = false, has_tags = false;
  bool has_ip_signup = false, has_ip_opt = false;
  std::string language, email_type, ip_signup, ip_opt;
  bool vip = false;
  std::vector<std::string> tags;
  std::int64_t timestamp_signup = kNoTime, timestamp_opt = kNoTime;
};

// A failed member write: the batch error entry, or the problem+json of a single write.
struct RowError {
  std::string title = "Invalid Resource";
  std::string error;                  // batch `error` / problem `detail`
  std::string code = "ERROR_GENERIC"; // batch `error_code`
  std::string field, field_message;   // batch `field`, `field_message` / problem `errors[0]`
  int status = 400;
};

struct Call {
  const httplib::Request& req;
  std::vector<std::string> segs;  // path after /3.0, split
  nlohmann::json body;
  bool body_ok = true;
  Sel sel;  // the request's fields / exclude_fields
};

}  // namespace synctool::emulators::mailchimp_detail

namespace synctool::emulators {

struct MailchimpEmulator::Impl {
  using Reply = mailchimp_detail::Reply;
  using Fault = mailchimp_detail::Fault;
  using List = mailchimp_detail::List;
  using Member = mailchimp_detail::Member;
  using MergeField = mailchimp_detail::MergeField;
  using MemberWrite = mailchimp_detail::MemberWrite;
  using RowError = mailchimp_detail::RowError;
  using Call = mailchimp_detail::Call;
  using Sel = mailchimp_detail::Sel;

  explicit Impl(MailchimpEmulatorOptions o);

  const std::string api_key;  // fixed at construction (read without a lock)

  // The store: guarded by `mu`.
  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<List>> lists;  // by id
  bool frozen = false;
  std::int64_t frozen_s = 0;
  std::int64_t last_ts = 0;  // the latest timestamp issued (epoch seconds)
  std::uint64_t next_seq = 1;
  std::int64_t next_web_id = 100001;
  bool since_inclusive = true;  // copy of the option, read by the store

  // Options, faults, stats and the log: guarded by `ctl_mu` (held only briefly).
  mutable std::mutex ctl_mu;
  MailchimpEmulatorOptions opt;
  common::FaultDice fault_dice;
  std::int64_t faults_injected = 0, throttled_connections = 0;
  common::RequestLog requests;

  std::atomic<int> in_flight{0};
  std::atomic<std::int64_t> max_concurrent{0}, batch_calls{0}, members_written{0};

  common::RequestListener listener;
  common::HttpServer server;

  // mailchimp_emulator.cpp
  void serve(const httplib::Request& req, httplib::Response& res);
  Reply control(const httplib::Request& req);
  Reply handle_api(const httplib::Request& req, const std::string& sub_path);
  void finish(Reply& r, const httplib::Request& req) const;  // fields filtering and serialisation
  bool authorized(const httplib::Request& req) const;
  Reply overload_reply(const std::string& answer, int limit) const;
  void record_request(const httplib::Request& req, int status, const char* fault, std::int64_t at);
  nlohmann::json stats_locked() const;
  void reset_stats_locked();
  void update_options(const nlohmann::json& j);  // takes ctl_mu, then mu
  void set_faults_locked(const MailchimpFaults& f);

  // mailchimp_store.cpp (callers hold `mu`)
  void load_seed_locked(const nlohmann::json& seed);
  List* find_list(const std::string& id);
  const List* find_list(const std::string& id) const;
  List& new_list(const std::string& id, const std::string& name, std::int64_t created);
  std::int64_t now_s() const;
  std::int64_t write_ts();  // max(now, latest issued) (or the frozen second), noted as issued
  std::int64_t touch_locked(const std::string& list_id, const std::string& member);
  static std::string resolve_hash(const std::string& key);  // email (any case) or hash -> hash
  Member* find_member(List& l, const std::string& key);
  bool read_write(const List& l, const nlohmann::json& in, MemberWrite& w, RowError& err) const;
  bool convert_merge(const MergeField& f, const nlohmann::json& v, nlohmann::json& out, std::string& message) const;
  // A required merge field the write leaves empty. strict (new and re-added members): every
  // required field needs a value, given now or kept in `base`; otherwise only a required field
  // given as "" is an error.
  bool missing_required(const List& l, const Member* base, bool strict, const MemberWrite& w, RowError& err) const;
  Member& create_member(List& l, const std::string& email, const std::string& status, const MemberWrite& w,
                        std::int64_t ts);
  bool apply_write(List& l, Member& m, const MemberWrite& w, const std::string* new_status, std::int64_t ts);
  int tag_id(List& l, const std::string& name);
  void place_member(List& l, Member m);  // a new member: ids, creation order
  void delete_member(List& l, Member& m);
  void write_member(std::string& out, const List& l, const Member& m, const Sel& sel) const;
  std::string member_text(const List& l, const Member& m, const Sel& sel) const;
  nlohmann::json render_member(const List& l, const Member& m) const;  // parsed member_text
  nlohmann::json render_list(const List& l) const;
  nlohmann::json render_merge_field(const List& l, const MergeField& f) const;
  static MergeField parse_merge_field(const nlohmann::json& j, const std::string& where);  // throws invalid_argument

  // mailchimp_api.cpp (callers hold `mu`)
  Reply route(Call& c);
  Reply root(Call& c);
  Reply get_lists(Call& c);
  Reply merge_fields(Call& c, List& l);
  Reply list_members(Call& c, List& l);
  Reply create_one(Call& c, List& l);
  Reply one_member(Call& c, List& l, const std::string& key);
  Reply upsert_one(Call& c, List& l, const std::string& key);
  Reply patch_one(Call& c, List& l, const std::string& key);
  Reply archive_one(Call& c, List& l, const std::string& key);
  Reply delete_permanent(Call& c, List& l, const std::string& key);
  Reply batch(Call& c, List& l);
};

}  // namespace synctool::emulators
