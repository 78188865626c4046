// Private to the HubSpot emulator's .cpp files.
#pragma once

// Debian's libcpp-httplib is built with OpenSSL support, which changes the layout of some of
// httplib's structs: emulators/common/emulator_server.hpp defines CPPHTTPLIB_OPENSSL_SUPPORT
// before it includes httplib, so every user agrees.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
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
#include "emulators/hubspot/hubspot_emulator.hpp"

namespace synctool::emulators::hubspot_detail {

// Clocks, dates, strings, the fault kinds: emulators/common.
using namespace common;

// hubspot_util.cpp
std::string iso_ms(std::int64_t ms);    // 2025-01-02T03:04:05.678Z
std::string iso_date(std::int64_t ms);  // 2025-01-02
std::optional<std::int64_t> parse_int64(std::string_view s);
std::optional<std::uint64_t> parse_id(std::string_view s);
std::optional<std::int64_t> parse_time_value(std::string_view s);
std::optional<double> parse_number(std::string_view s);
std::string encode_cursor(std::uint64_t id);
std::optional<std::uint64_t> decode_cursor(std::string_view s);
std::string url_decode(std::string_view s);

struct Reply {
  int status = 200;
  std::string body;  // JSON text; empty for 204
  std::vector<std::pair<std::string, std::string>> headers;
};

inline Reply error_reply(int status, const std::string& message, const std::string& category,
                         nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json b{{"status", "error"}, {"message", message}, {"correlationId", uuid4()}, {"category", category}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return Reply{status, dump_json(b), {}};
}

using Props = std::unordered_map<std::string, std::string>;  // absent: null

// What a record looks like at one moment (search may see an older one).
struct State {
  bool exists = true;
  Props props;
  std::int64_t created = 0, updated = 0;
  bool archived = false;
  std::int64_t archived_at = 0;
};

struct Version {
  std::int64_t real_ms;  // steady time at which this state became current
  State state;
};

struct Record {
  std::uint64_t id = 0;
  State cur;
  std::int64_t real_ms = 0;      // steady time of the last write
  std::vector<Version> history;  // earlier states, oldest first, kept only while search lags
};

struct Option {
  std::string label, value, description;
  bool hidden = false;
  int display_order = 0;
};

struct PropertyDef {
  std::string name, label, type, field_type, group_name, description;
  std::vector<Option> options;
  bool has_unique_value = false, calculated = false, read_only_value = false, read_only_definition = false;
  bool hubspot_defined = false;
  int display_order = -1;
  std::int64_t created_at = 0, updated_at = 0;
};

struct ObjectType {
  std::string name;            // contacts, companies, deals, or the custom object's name
  std::string type_id;         // 0-1, 0-2, 0-3, 2-NNNN
  std::string singular_upper;  // CONTACT (error messages)
  std::string singular_label;  // Contact
  bool custom = false;
  std::string created_prop, modified_prop;
  std::vector<std::string> default_props;
  std::vector<PropertyDef> props;
  std::unordered_map<std::string, std::size_t> prop_idx;
  std::map<std::uint64_t, Record> records;
  // Unique-valued properties of live records: property -> key -> id.
  std::unordered_map<std::string, std::unordered_map<std::string, std::uint64_t>> unique;

  const PropertyDef* prop(const std::string& n) const {
    auto it = prop_idx.find(n);
    return it == prop_idx.end() ? nullptr : &props[it->second];
  }
  bool is_unique(const std::string& p) const {
    if (name == "contacts" && p == "email") return true;
    const PropertyDef* d = prop(p);
    return d != nullptr && d->has_unique_value;
  }
  std::string unique_key(const std::string& p, const std::string& v) const {
    return name == "contacts" && p == "email" ? lower(v) : v;
  }
  void add_prop(PropertyDef d) {
    auto it = prop_idx.find(d.name);
    if (it != prop_idx.end()) {
      props[it->second] = std::move(d);
    } else {
      prop_idx[d.name] = props.size();
      props.push_back(std::move(d));
    }
  }
  void remove_prop(const std::string& n) {
    auto it = prop_idx.find(n);
    if (it == prop_idx.end()) return;
    props.erase(props.begin() + static_cast<std::ptrdiff_t>(it->second));
    prop_idx.clear();
    for (std::size_t i = 0; i < props.size(); ++i) prop_idx[props[i].name] = i;
  }
};

struct PropSel {
  bool all = false;           // every stored property (control endpoint, records())
  bool defaults = true;       // the type's default properties
  std::vector<std::string> names;
  static PropSel everything() {
    PropSel s;
    s.all = true;
    return s;
  }
};

struct FieldError {
  std::string code, message, prop;
};

struct Call {
  const httplib::Request& req;
  std::vector<std::string> segs;
  nlohmann::json body;
  std::string body_error;
};

// One validated property change: value "" clears.
using Changes = std::vector<std::pair<std::string, std::string>>;

}  // namespace synctool::emulators::hubspot_detail

namespace synctool::emulators {

struct HubspotEmulator::Impl {
  using Reply = hubspot_detail::Reply;
  using Fault = hubspot_detail::Fault;
  using ObjectType = hubspot_detail::ObjectType;
  using Record = hubspot_detail::Record;
  using State = hubspot_detail::State;
  using PropSel = hubspot_detail::PropSel;
  using PropertyDef = hubspot_detail::PropertyDef;
  using FieldError = hubspot_detail::FieldError;
  using Changes = hubspot_detail::Changes;
  using Call = hubspot_detail::Call;

  explicit Impl(HubspotEmulatorOptions o);

  mutable std::mutex mu;  // guards everything below but the server and the listener
  HubspotEmulatorOptions opt;
  HubspotFaults faults;
  common::FaultDice fault_dice;
  std::mt19937_64 misc_rng{0x5eed};
  std::optional<std::int64_t> frozen;
  std::int64_t last_ts = 0;  // the latest write timestamp issued
  std::uint64_t next_id = 1001;
  int next_custom_type = 1001;
  std::uint64_t generation = 0;  // bumped by every change to data or definitions
  // Ordered search results of recent queries, valid while `generation` is unchanged (only used
  // when search has no lag, so visibility does not depend on time).
  struct CachedSearch {
    std::vector<std::uint64_t> ids;
  };
  std::unordered_map<std::string, CachedSearch> search_cache;
  std::uint64_t search_cache_generation = 0;
  std::map<std::string, std::unique_ptr<ObjectType>> types;
  std::unordered_map<std::string, ObjectType*> aliases;

  struct AccessToken {
    std::int64_t expires_ms;  // wall clock
    std::string client_id;
  };
  std::unordered_map<std::string, AccessToken> access_tokens;
  std::unordered_map<std::string, int> refresh_tokens;  // remaining uses, -1: unlimited
  std::uint64_t token_counter = 0;

  std::unordered_map<std::string, std::deque<std::int64_t>> ten_windows, search_windows;
  std::deque<std::int64_t> all_window;
  std::int64_t max_in_window = 0, daily_used = 0;
  std::int64_t throttled_by_limit = 0, throttled_injected = 0, faults_injected = 0, token_refreshes = 0;
  common::RequestLog requests;

  common::RequestListener listener;
  common::HttpServer server;

  // hubspot_emulator.cpp
  std::string base_url() const;
  void serve(const httplib::Request& req, httplib::Response& res);
  Reply control(const httplib::Request& req);
  Reply handle_crm(const httplib::Request& req, bool search);
  Reply handle_oauth(const httplib::Request& req);
  Reply not_found(const httplib::Request& req) const;
  std::optional<Reply> authenticate(const httplib::Request& req, std::string& bucket);
  std::optional<Reply> rate_limit(const std::string& bucket, bool search,
                                  std::vector<std::pair<std::string, std::string>>& headers);
  void add_rate_headers(Reply& r, std::size_t in_window, bool exhausted) const;
  void note_arrival();
  Fault roll_fault(const std::string& path, bool crm, bool oauth, std::int64_t& slow, int& status_5xx);
  void record_request(const httplib::Request& req, int status, const char* fault, std::int64_t at);
  void expire_tokens_locked();
  nlohmann::json stats_locked() const;
  void reset_stats_locked();
  void update_options_locked(const nlohmann::json& j);

  // hubspot_store.cpp
  void install_builtin_types();
  ObjectType* find_type(const std::string& name);
  const ObjectType* find_type(const std::string& name) const;
  ObjectType& add_custom_type(const std::string& name, const std::string& type_id);
  void load_seed_locked(const nlohmann::json& seed);
  std::int64_t now_ts() const;    // frozen or wall clock
  std::int64_t write_ts();        // now_ts(), noted as issued
  std::int64_t touch_locked(const std::string& type, const std::string& id);
  std::optional<FieldError> convert_value(const ObjectType& t, const PropertyDef& d, const nlohmann::json& v,
                                          std::string& out) const;
  std::vector<FieldError> validate(const ObjectType& t, const nlohmann::json& props, Changes& out) const;
  std::optional<std::uint64_t> unique_conflict(const ObjectType& t, const Changes& c, std::uint64_t self) const;
  Record& create_record(ObjectType& t, const Changes& c);
  void update_record(ObjectType& t, Record& r, const Changes& c);
  void archive_record(ObjectType& t, Record& r);
  void before_write(Record& r);
  void index_remove(ObjectType& t, const Record& r);
  void index_add(ObjectType& t, const Record& r);
  const State* visible_state(const Record& r, std::int64_t cutoff) const;
  nlohmann::json render(const ObjectType& t, std::uint64_t id, const State& s, const PropSel& sel) const;
  nlohmann::json property_json(const PropertyDef& d) const;

  // hubspot_crm.cpp
  Reply route_crm(Call& c);
  Reply list_objects(Call& c, ObjectType& t);
  Reply create_object(Call& c, ObjectType& t);
  Reply single_object(Call& c, ObjectType& t, const std::string& id);
  Reply batch(Call& c, ObjectType& t, const std::string& op);
  Reply batch_read(Call& c, ObjectType& t, const nlohmann::json& inputs);
  Reply batch_create(Call& c, ObjectType& t, const nlohmann::json& inputs);
  Reply batch_update(Call& c, ObjectType& t, const nlohmann::json& inputs);
  Reply batch_upsert(Call& c, ObjectType& t, const nlohmann::json& inputs);
  Reply batch_archive(Call& c, ObjectType& t, const nlohmann::json& inputs);
  Reply search(Call& c, ObjectType& t);
  Reply properties(Call& c, ObjectType& t);
  Reply property(Call& c, ObjectType& t, const std::string& name);
  Record* resolve(ObjectType& t, const std::string& id, const std::string& id_property, bool include_archived);
  Reply batch_reply(int ok_status, nlohmann::json results, nlohmann::json errors, std::int64_t started);
};

}  // namespace synctool::emulators
