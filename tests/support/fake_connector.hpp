// An in-memory connector for engine tests, with switches for the failures the engine must
// survive: rejected rows, transient batch errors, and a "crash" after the system applied a
// batch but before the caller heard back. It enforces no uniqueness, so a duplicate created
// by the engine shows up as two records.
#pragma once

#include "connectors/connector.hpp"
#include "util/json_path.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace synctool::testing {

class FakeConnector final : public connectors::Connector {
 public:
  std::map<std::string, connectors::Record> records;  // by native id
  connectors::Capabilities caps;
  std::set<std::string> reject_keys;  // writes of these keys fail as record errors
  int transient_failures = 0;         // the next N write() calls throw transient
  bool crash_after_write = false;     // the next write() applies, then throws config
  int write_calls = 0, lookup_calls = 0, read_calls = 0, problem_checks = 0;
  std::set<std::thread::id> write_threads;  // the threads write() was called on
  std::set<std::thread::id> check_threads;  // the threads write_problem() was called on
  std::size_t ops_written = 0;

  FakeConnector() {
    caps.max_batch = 50;
    caps.max_lookup = 50;
    caps.write_in_background = true;
    caps.native_upsert = false;
    caps.incremental_read = true;
    caps.tombstones = false;
  }

  // Adds or replaces a record; modified_at defaults to a counter so later edits sort later.
  std::string put(const std::string& id, nlohmann::json fields, std::string modified = "") {
    if (modified.empty()) modified = next_stamp();
    connectors::Record record;
    record.id = id;
    record.fields = std::move(fields);
    record.modified_at = modified;
    records[id] = std::move(record);
    return id;
  }
  std::size_t count_with(const std::string& field, const std::string& value) const {
    std::size_t n = 0;
    for (const auto& [id, r] : records)
      if (auto v = util::json_get_path(r.fields, field); v && util::json_to_text(*v) == value) ++n;
    return n;
  }
  const connectors::Record* find_by(const std::string& field, const std::string& value) const {
    for (const auto& [id, r] : records)
      if (auto v = util::json_get_path(r.fields, field); v && util::json_to_text(*v) == value) return &r;
    return nullptr;
  }

  // Records read after `records` on every read: where ids repeat (caps.unique_ids false) or a
  // record arrives with a problem or an origin.
  std::vector<connectors::Record> also_read;
  // Called after each write() applied its batch, with the number of write() calls so far.
  std::function<void(std::size_t)> on_write;
  // Called before each page read() hands on, with its number (0, 1, ...): may throw, as a
  // source failing in the middle of a read does.
  std::function<void(std::size_t)> on_page;
  // When set, probe() fails with this config error (credentials revoked, object gone).
  std::string probe_error;

  // write_problem() refuses these keys with this reason, as a destination's own rules would.
  std::map<std::string, std::string> refuse_keys;
  // write_problem() throws a config error on this key (a field the destination lacks).
  std::string config_error_key;
  // Set when a call began while another was still running: the engine must never use a
  // connector from two threads at once.
  std::atomic<bool> overlapped = false;

  std::string type() const override { return "fake"; }
  std::string write_problem(const connectors::ObjectRef& object, const connectors::WriteOp& op) override {
    OneCallAtATime call(*this);
    ++problem_checks;
    {
      std::lock_guard lock(check_threads_mutex_);
      check_threads.insert(std::this_thread::get_id());
    }
    if (!config_error_key.empty() && op.key == config_error_key)
      throw connectors::ConnectorError(connectors::ErrorKind::config, "fake: no field 'nickname' in contacts");
    if (auto it = refuse_keys.find(op.key); it != refuse_keys.end()) return it->second;
    return Connector::write_problem(object, op);
  }
  void check() override {}
  void probe(const connectors::ObjectRef&) override {
    if (!probe_error.empty()) throw connectors::ConnectorError(connectors::ErrorKind::config, probe_error);
  }
  connectors::Capabilities capabilities(const connectors::ObjectRef&) const override { return caps; }
  // Schemaless unless a test lists `fields`: then a sync naming another field is refused.
  std::vector<std::string> fields;
  connectors::ObjectDescription describe(const connectors::ObjectRef& object) override {
    connectors::ObjectDescription description{object.name, {}, fields.empty(), false};
    for (const auto& name : fields) description.fields.push_back({name, "string", false, false});
    return description;
  }

  void read(const connectors::ObjectRef&, const connectors::ReadRequest& request,
            const connectors::PageSink& sink) override {
    OneCallAtATime call(*this);
    ++read_calls;
    std::size_t pages = 0;
    connectors::Page page;
    std::string max_cursor;
    for (const auto& [id, r] : records) {
      if (request.since && r.modified_at.value_or("") < *request.since) continue;
      page.records.push_back(r);
      max_cursor = std::max(max_cursor, r.modified_at.value_or(""));
      if (page.records.size() == 7) {
        page.cursor = max_cursor;
        if (on_page) on_page(pages++);
        sink(std::move(page));
        page = {};
      }
    }
    for (const auto& r : also_read) page.records.push_back(r);
    page.cursor = max_cursor;
    if (on_page) on_page(pages++);
    sink(std::move(page));
  }

  std::vector<connectors::Record> lookup(const connectors::ObjectRef&, const std::string& field,
                                         const std::vector<std::string>& values) override {
    OneCallAtATime call(*this);
    ++lookup_calls;
    std::set<std::string> wanted(values.begin(), values.end());
    std::vector<connectors::Record> found;
    for (const auto& [id, r] : records) {
      if (field == connectors::kNativeIdField) {
        if (wanted.count(id)) found.push_back(r);
        continue;
      }
      auto v = util::json_get_path(r.fields, field);
      if (v && wanted.count(util::json_to_text(*v))) found.push_back(r);
    }
    return found;
  }

  std::vector<connectors::WriteResult> write(const connectors::ObjectRef& object,
                                             const std::vector<connectors::WriteOp>& ops) override {
    OneCallAtATime call(*this);
    ++write_calls;
    write_threads.insert(std::this_thread::get_id());
    if (transient_failures > 0) {
      --transient_failures;
      throw connectors::ConnectorError(connectors::ErrorKind::transient, "fake: 503 Service Unavailable");
    }
    std::vector<connectors::WriteResult> results;
    for (const auto& op : ops) {
      ++ops_written;
      connectors::WriteResult result;
      if (reject_keys.count(op.key)) {
        result.error = "fake: 400 invalid value for '" + op.key + "'";
        results.push_back(result);
        continue;
      }
      switch (op.kind) {
        case connectors::OpKind::create: result.id = put("r" + std::to_string(next_id_++), op.fields); break;
        case connectors::OpKind::upsert: {
          auto* existing = find_by(object.key_field, op.key);
          result.id = existing ? existing->id : "r" + std::to_string(next_id_++);
          put(result.id, op.fields);
          break;
        }
        case connectors::OpKind::update: {
          auto it = records.find(op.id);
          if (it == records.end()) {
            result.error = "fake: no record " + op.id;
            results.push_back(result);
            continue;
          }
          it->second.fields.update(op.fields);
          it->second.modified_at = next_stamp();
          result.id = op.id;
          break;
        }
        case connectors::OpKind::remove:
        case connectors::OpKind::archive: records.erase(op.id); break;
      }
      result.ok = true;
      results.push_back(result);
    }
    if (on_write) on_write(static_cast<std::size_t>(write_calls));
    if (crash_after_write) {
      crash_after_write = false;
      throw connectors::ConnectorError(connectors::ErrorKind::config, "fake: connection lost after the write");
    }
    return results;
  }

 private:
  struct OneCallAtATime {
    explicit OneCallAtATime(FakeConnector& c) : connector(c) {
      if (connector.active_calls_.fetch_add(1) != 0) connector.overlapped = true;
    }
    ~OneCallAtATime() { connector.active_calls_.fetch_sub(1); }
    FakeConnector& connector;
  };

  std::atomic<int> active_calls_ = 0;
  std::mutex check_threads_mutex_;
  std::string next_stamp() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2026-01-01T%02d:%02d:%02dZ", stamp_ / 3600 % 24, stamp_ / 60 % 60, stamp_ % 60);
    ++stamp_;  // one second per change: a day of stamps before they wrap, far more than tests use
    return buf;
  }
  int stamp_ = 0;
  int next_id_ = 1;
};

}  // namespace synctool::testing
