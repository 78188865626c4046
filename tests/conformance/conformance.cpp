#include "conformance/conformance.hpp"

#include "util/clock.hpp"
#include "util/json_path.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace synctool::testing {

namespace {

using connectors::Capabilities;
using connectors::Connector;
using connectors::ConnectorError;
using connectors::ErrorKind;
using connectors::Json;
using connectors::OpKind;
using connectors::Page;
using connectors::ReadRequest;
using connectors::Record;
using connectors::WriteOp;
using connectors::WriteResult;

// The connector and fixture for one section, with helpers for the record shape.
class Harness {
 public:
  explicit Harness(const ConformanceOptions& options)
      : options_(options), fixture_(options.make_fixture()), connector_(connectors::make_connector(fixture_.config)) {
    REQUIRE(options_.text_fields.size() >= 2);
    REQUIRE_FALSE(fixture_.object.key_field.empty());
  }

  Connector& connector() { return *connector_; }
  const connectors::ObjectRef& object() const { return fixture_.object; }
  const ConformanceFixture& fixture() const { return fixture_; }
  const std::string& key_field() const { return fixture_.object.key_field; }
  const std::string& field(std::size_t i) const { return options_.text_fields[i]; }
  std::string key(std::size_t i) const { return options_.make_key(i); }

  Json person(std::size_t i) const {
    Json fields = Json::object();
    fields[key_field()] = key(i);
    fields[field(0)] = "First" + std::to_string(i);
    fields[field(1)] = "Last" + std::to_string(i);
    return fields;
  }

  static WriteOp op(OpKind kind, std::string id, Json fields = Json::object()) {
    WriteOp op;
    op.kind = kind;
    op.id = std::move(id);
    op.fields = std::move(fields);
    return op;
  }

  std::vector<WriteResult> write(const std::vector<WriteOp>& ops) {
    auto results = fixture_.write_through ? fixture_.write_through(ops) : connector_->write(object(), ops);
    REQUIRE(results.size() == ops.size());
    return results;
  }

  // Creates people first..first+count-1 in one batch; returns their ids by key.
  std::map<std::string, std::string> create_people(std::size_t first, std::size_t count) {
    std::vector<WriteOp> ops;
    for (std::size_t i = first; i < first + count; ++i) {
      ops.push_back(op(OpKind::create, "", person(i)));
      ops.back().key = key(i);
    }
    auto results = write(ops);
    std::map<std::string, std::string> ids;
    for (std::size_t i = 0; i < results.size(); ++i) {
      INFO("create " << ops[i].key << ": " << results[i].error);
      REQUIRE(results[i].ok);
      REQUIRE_FALSE(results[i].id.empty());
      ids[ops[i].key] = results[i].id;
    }
    return ids;
  }

  std::vector<Record> read(const ReadRequest& request = {}, std::vector<Page>* pages = nullptr) {
    std::vector<Record> records;
    connector_->read(object(), request, [&](Page&& page) {
      for (const auto& record : page.records) records.push_back(record);
      if (pages) pages->push_back(std::move(page));
    });
    return records;
  }

  std::vector<Record> read_since(const std::string& cursor, std::string* next_cursor = nullptr) {
    ReadRequest request;
    request.since = cursor;
    std::vector<Page> pages;
    auto records = read(request, &pages);
    if (next_cursor && !pages.empty()) *next_cursor = pages.back().cursor;
    return records;
  }

  std::string text(const Record& record, const std::string& name) const {
    const Json* value = util::json_get_path(record.fields, name);
    return value ? util::json_to_text(*value) : std::string();
  }

  // Records by their key field's text.
  std::map<std::string, Record> by_key(const std::vector<Record>& records) const {
    std::map<std::string, Record> keyed;
    for (const auto& record : records) keyed[text(record, key_field())] = record;
    return keyed;
  }

  std::set<std::string> keys(const std::vector<Record>& records) const {
    std::set<std::string> keys;
    for (const auto& record : records) keys.insert(text(record, key_field()));
    return keys;
  }

  void touch(const std::string& id) {
    REQUIRE(fixture_.touch);
    fixture_.touch(id);
  }

 private:
  const ConformanceOptions& options_;
  ConformanceFixture fixture_;
  std::unique_ptr<Connector> connector_;
};

std::optional<ErrorKind> failure_of_check(const connectors::ConnectionConfig& config) {
  try {
    auto connector = connectors::make_connector(config);
    connector->check();
  } catch (const ConnectorError& e) {
    INFO("error: " << e.what());
    CHECK(std::string(e.what()).size() > 0);
    return e.kind();
  }
  return std::nullopt;
}

void check_capabilities(const Capabilities& actual, const Capabilities& expected) {
  CHECK(actual.incremental_read == expected.incremental_read);
  CHECK(actual.tombstones == expected.tombstones);
  CHECK(actual.native_upsert == expected.native_upsert);
  CHECK(actual.hard_delete == expected.hard_delete);
  CHECK(actual.archive == expected.archive);
  CHECK(actual.max_batch == expected.max_batch);
  CHECK(actual.max_lookup == expected.max_lookup);
  CHECK(actual.lookup_lag_ms == expected.lookup_lag_ms);
  CHECK(actual.unique_ids == expected.unique_ids);
}

}  // namespace

void run_conformance(const ConformanceOptions& options) {
  INFO("connector: " << options.name);
  const Capabilities& caps = options.capabilities;

  SECTION("check passes for a good connection and the type is registered") {
    Harness h(options);
    REQUIRE_NOTHROW(h.connector().check());
    CHECK(h.connector().type() == h.fixture().config.type);
    CHECK(connectors::find_connector_type(h.connector().type()) != nullptr);
  }

  SECTION("check fails for a bad connection with a config error") {
    Harness h(options);
    REQUIRE(options.bad_configs);
    auto configs = options.bad_configs(h.fixture());
    REQUIRE_FALSE(configs.empty());
    for (std::size_t i = 0; i < configs.size(); ++i) {
      INFO("bad config #" << i << ": " << configs[i].settings.dump());
      auto kind = failure_of_check(configs[i]);
      REQUIRE(kind.has_value());
      CHECK(*kind == ErrorKind::config);
    }
  }

  SECTION("capabilities are as declared") {
    Harness h(options);
    check_capabilities(h.connector().capabilities(h.object()), caps);
  }

  SECTION("probe and check_options accept the object, and probe refuses one that does not exist") {
    Harness h(options);
    CHECK_NOTHROW(h.connector().check_options(h.object()));
    CHECK_NOTHROW(h.connector().probe(h.object()));
    h.create_people(0, 1);
    CHECK_NOTHROW(h.connector().probe(h.object()));
    if (options.any_object_name) return;
    connectors::ObjectRef missing = h.object();
    missing.name = "no_such_object_here";
    missing.destination = false;
    std::optional<ErrorKind> kind;
    try {
      h.connector().probe(missing);
    } catch (const ConnectorError& e) {
      INFO("error: " << e.what());
      CHECK_THAT(e.what(), Catch::Contains("no_such_object_here"));
      kind = e.kind();
    }
    REQUIRE(kind.has_value());
    CHECK(*kind == ErrorKind::config);
  }

  SECTION("an empty object reads nothing and finds nothing") {
    Harness h(options);
    CHECK(h.read().empty());
    CHECK(h.connector().lookup(h.object(), h.key_field(), {h.key(0)}).empty());
    CHECK(h.write({}).empty());
  }

  SECTION("created records read back equal") {
    Harness h(options);
    auto ids = h.create_people(0, 3);
    auto records = h.read();
    REQUIRE(records.size() == 3);
    auto keyed = h.by_key(records);
    for (std::size_t i = 0; i < 3; ++i) {
      INFO("record " << h.key(i));
      REQUIRE(keyed.contains(h.key(i)));
      const Record& record = keyed[h.key(i)];
      CHECK(record.id == ids[h.key(i)]);
      CHECK_FALSE(record.deleted);
      CHECK(h.text(record, h.field(0)) == "First" + std::to_string(i));
      CHECK(h.text(record, h.field(1)) == "Last" + std::to_string(i));
    }
  }

  SECTION("describe lists the fields and marks the key unique") {
    Harness h(options);
    h.create_people(0, 1);
    auto description = h.connector().describe(h.object());
    std::map<std::string, connectors::FieldInfo> fields;
    for (const auto& field : description.fields) fields[field.name] = field;
    for (const auto& name : {h.key_field(), h.field(0), h.field(1)}) {
      INFO("field " << name);
      REQUIRE(fields.contains(name));
      CHECK_FALSE(fields[name].type.empty());
    }
    CHECK(fields[h.key_field()].unique);
  }

  SECTION("two full reads agree") {
    Harness h(options);
    h.create_people(0, 5);
    auto first = h.read();
    auto second = h.read();
    REQUIRE(first.size() == 5);
    std::map<std::string, std::string> a, b;
    for (const auto& record : first) a[record.id] = record.fields.dump();
    for (const auto& record : second) b[record.id] = record.fields.dump();
    CHECK(a == b);
  }

  SECTION("a read in rows gives the records a read in fields gives") {
    Harness h(options);
    h.create_people(0, 5);
    ReadRequest in_rows;
    in_rows.rows = true;
    auto rows = h.read(in_rows);
    auto fields = h.read();
    REQUIRE(rows.size() == 5);
    std::map<std::string, std::string> a, b;
    for (auto& record : rows) {
      if (record.row) CHECK(record.fields.empty());
      connectors::take_row_into_fields(record);
      a[record.id] = record.fields.dump();
    }
    for (const auto& record : fields) {
      CHECK_FALSE(record.row);
      b[record.id] = record.fields.dump();
    }
    CHECK(a == b);
  }

  SECTION("a read returns the requested fields") {
    Harness h(options);
    h.create_people(0, 2);
    ReadRequest request;
    request.fields = {h.key_field(), h.field(0)};
    auto records = h.read(request);
    REQUIRE(records.size() == 2);
    for (const auto& record : records) {
      CHECK(h.text(record, h.field(0)).starts_with("First"));
      CHECK_FALSE(record.fields.contains(h.field(1)));
    }
  }

  SECTION("pages respect the requested page size") {
    Harness h(options);
    h.create_people(0, 7);
    ReadRequest request;
    request.page_size = 3;
    std::vector<Page> pages;
    auto records = h.read(request, &pages);
    CHECK(records.size() == 7);
    CHECK(pages.size() >= 3);
    for (const auto& page : pages) CHECK(page.records.size() <= 3);
  }

  SECTION("lookup finds and misses exactly") {
    Harness h(options);
    auto ids = h.create_people(0, 3);
    auto found = h.connector().lookup(h.object(), h.key_field(), {h.key(0), h.key(100), h.key(2)});
    CHECK(h.keys(found) == std::set<std::string>{h.key(0), h.key(2)});
    for (const auto& record : found) CHECK(record.id == ids[h.text(record, h.key_field())]);

    auto by_field = h.connector().lookup(h.object(), h.field(0), {"First1"});
    INFO("looked up by " << h.field(0));
    CHECK(h.keys(by_field) == std::set<std::string>{h.key(1)});

    auto by_id = h.connector().lookup(h.object(), connectors::kNativeIdField, {ids[h.key(1)], options.missing_id});
    CHECK(h.keys(by_id) == std::set<std::string>{h.key(1)});

    CHECK(h.connector().lookup(h.object(), h.key_field(), {h.key(100)}).empty());
    CHECK(h.connector().lookup(h.object(), h.key_field(), {}).empty());
  }

  SECTION("a partly failing batch reports per-row results and applies the rest") {
    Harness h(options);
    auto existing = h.create_people(0, 1);
    Json duplicate = h.person(0);
    duplicate[h.field(0)] = "Duplicate";
    std::vector<WriteOp> ops = {
        Harness::op(OpKind::create, "", h.person(1)),
        Harness::op(OpKind::create, "", duplicate),
        Harness::op(OpKind::create, "", h.person(2)),
        Harness::op(OpKind::update, options.missing_id, Json{{h.field(0), "Nobody"}}),
    };
    auto results = h.write(ops);
    INFO(results[0].error << " / " << results[1].error << " / " << results[2].error);
    CHECK(results[0].ok);
    if (options.create_of_existing_key_links) {
      CHECK(results[1].ok);
      CHECK(results[1].id == existing[h.key(0)]);
    } else {
      CHECK_FALSE(results[1].ok);
      CHECK(results[1].error_kind == ErrorKind::record);
      CHECK_FALSE(results[1].error.empty());
    }
    CHECK(results[2].ok);
    CHECK_FALSE(results[3].ok);
    CHECK(results[3].error_kind == ErrorKind::record);
    CHECK_FALSE(results[3].error.empty());

    auto keyed = h.by_key(h.read());
    CHECK(keyed.size() == 3);
    REQUIRE(keyed.contains(h.key(0)));
    CHECK(h.text(keyed[h.key(0)], h.field(0)) == "First0");
    CHECK(keyed.contains(h.key(1)));
    CHECK(keyed.contains(h.key(2)));
  }

  SECTION("update changes only the given fields") {
    Harness h(options);
    auto ids = h.create_people(0, 2);
    auto results = h.write({Harness::op(OpKind::update, ids[h.key(0)], Json{{h.field(0), "Changed"}})});
    INFO(results[0].error);
    REQUIRE(results[0].ok);
    CHECK(results[0].id == ids[h.key(0)]);
    auto keyed = h.by_key(h.read());
    CHECK(h.text(keyed[h.key(0)], h.field(0)) == "Changed");
    CHECK(h.text(keyed[h.key(0)], h.field(1)) == "Last0");
    CHECK(h.text(keyed[h.key(1)], h.field(0)) == "First1");
  }

  if (caps.native_upsert) {
    SECTION("upsert creates, then updates the given fields") {
      Harness h(options);
      auto created = h.write({Harness::op(OpKind::upsert, "", h.person(0))});
      INFO(created[0].error);
      REQUIRE(created[0].ok);
      auto updated = h.write({Harness::op(OpKind::upsert, "", Json{{h.key_field(), h.key(0)}, {h.field(0), "Again"}})});
      INFO(updated[0].error);
      REQUIRE(updated[0].ok);
      CHECK(updated[0].id == created[0].id);
      auto records = h.read();
      REQUIRE(records.size() == 1);
      CHECK(records[0].id == created[0].id);
      CHECK(h.text(records[0], h.field(0)) == "Again");
      CHECK(h.text(records[0], h.field(1)) == "Last0");
    }
  }

  if (caps.hard_delete) {
    SECTION("delete removes the record from full reads") {
      Harness h(options);
      auto ids = h.create_people(0, 2);
      auto results = h.write({Harness::op(OpKind::remove, ids[h.key(0)])});
      INFO(results[0].error);
      REQUIRE(results[0].ok);
      CHECK(h.keys(h.read()) == std::set<std::string>{h.key(1)});
      // Deleting again (a run repeating a delete whose state commit was lost) still succeeds.
      auto again = h.write({Harness::op(OpKind::remove, ids[h.key(0)])});
      INFO(again[0].error);
      CHECK(again[0].ok);
      CHECK(h.keys(h.read()) == std::set<std::string>{h.key(1)});
    }
  }

  if (caps.archive) {
    SECTION("archive hides the record from full reads") {
      Harness h(options);
      auto ids = h.create_people(0, 2);
      auto results = h.write({Harness::op(OpKind::archive, ids[h.key(0)])});
      INFO(results[0].error);
      REQUIRE(results[0].ok);
      CHECK(h.keys(h.read()) == std::set<std::string>{h.key(1)});
    }
  }

  SECTION("quotes, separators, line breaks and unicode survive a round trip") {
    Harness h(options);
    const std::string tricky_first = "Quote \" comma , semicolon ; tab \t pipe |";
    const std::string tricky_last = "line1\nline2\r\nline3 ünïcødé ✓ 日本語 😀";
    Json a = h.person(0);
    a[h.field(0)] = tricky_first;
    a[h.field(1)] = tricky_last;
    Json b = h.person(1);
    b[h.field(0)] = "  padded  ";
    b[h.field(1)] = "\"fully quoted\"";
    auto results = h.write({Harness::op(OpKind::create, "", a), Harness::op(OpKind::create, "", b)});
    INFO(results[0].error << " / " << results[1].error);
    REQUIRE(results[0].ok);
    REQUIRE(results[1].ok);
    auto keyed = h.by_key(h.read());
    CHECK(h.text(keyed[h.key(0)], h.field(0)) == tricky_first);
    CHECK(h.text(keyed[h.key(0)], h.field(1)) == tricky_last);
    CHECK(h.text(keyed[h.key(1)], h.field(0)) == "  padded  ");
    CHECK(h.text(keyed[h.key(1)], h.field(1)) == "\"fully quoted\"");
  }

  if (!options.json_text_fields.empty()) {
    SECTION("a nested object and an array are written as JSON text and read back as the same text") {
      Harness h(options);
      REQUIRE(options.json_text_fields.size() == 2);
      const std::string& nested = options.json_text_fields[0];
      const std::string& list = options.json_text_fields[1];
      const Json address = {{"city", "Tromsø"}, {"zip", "9008"}, {"geo", {{"lat", 69.65}, {"lon", 18.96}}}};
      const Json tags = {"vip", "early \"bird\"", 3, true};
      Json fields = h.person(0);
      fields[nested] = address;
      fields[list] = tags;
      auto results = h.write({Harness::op(OpKind::create, "", fields)});
      INFO(results[0].error);
      REQUIRE(results[0].ok);
      auto check_record = [&](const Record& record, const Json& expected_address, const Json& expected_tags) {
        REQUIRE(record.fields.contains(nested));
        REQUIRE(record.fields.contains(list));
        CHECK(record.fields[nested] == Json(expected_address.dump()));
        CHECK(record.fields[list] == Json(expected_tags.dump()));
      };
      auto records = h.read();
      REQUIRE(records.size() == 1);
      check_record(records[0], address, tags);
      auto found = h.connector().lookup(h.object(), h.key_field(), {h.key(0)});
      REQUIRE(found.size() == 1);
      check_record(found[0], address, tags);

      const Json moved = {{"city", "Oslo"}};
      const Json none = Json::array();
      results = h.write({Harness::op(OpKind::update, records[0].id, Json{{nested, moved}, {list, none}})});
      INFO(results[0].error);
      REQUIRE(results[0].ok);
      records = h.read();
      REQUIRE(records.size() == 1);
      check_record(records[0], moved, none);
    }
  }

  SECTION("a batch of the maximum size and a lookup of the maximum size work") {
    Harness h(options);
    const std::size_t batch = std::min(caps.max_batch, options.bulk_limit);
    std::vector<WriteOp> ops;
    for (std::size_t i = 0; i < batch; ++i) ops.push_back(Harness::op(OpKind::create, "", h.person(i)));
    auto results = h.write(ops);
    CHECK(std::all_of(results.begin(), results.end(), [](const WriteResult& r) { return r.ok; }));
    CHECK(h.read().size() == batch);

    const std::size_t lookups = std::min({caps.max_lookup, options.bulk_limit, batch});
    std::vector<std::string> values;
    for (std::size_t i = 0; i < lookups; ++i) values.push_back(h.key(i));
    CHECK(h.connector().lookup(h.object(), h.key_field(), values).size() == lookups);
  }

  if (caps.incremental_read) {
    SECTION("incremental reads return records modified at or after the cursor") {
      Harness h(options);
      auto ids = h.create_people(0, 3);
      for (std::size_t i = 0; i < 3; ++i) h.touch(ids[h.key(i)]);
      std::vector<Page> pages;
      h.read({}, &pages);
      REQUIRE_FALSE(pages.empty());
      const std::string cursor = pages.back().cursor;
      REQUIRE_FALSE(cursor.empty());

      h.touch(ids[h.key(1)]);
      std::string next_cursor;
      auto changed = h.read_since(cursor, &next_cursor);
      // person 2 was touched exactly at the cursor: the lower bound is inclusive (a position
      // has nothing at it).
      if (options.cursor_is_position)
        CHECK(h.keys(changed) == std::set<std::string>{h.key(1)});
      else
        CHECK(h.keys(changed) == std::set<std::string>{h.key(1), h.key(2)});
      for (const auto& record : changed) CHECK(record.modified_at.has_value());
      REQUIRE_FALSE(next_cursor.empty());
      if (options.cursor_is_position)
        CHECK(h.read_since(next_cursor).empty());
      else
        CHECK(h.keys(h.read_since(next_cursor)) == std::set<std::string>{h.key(1)});

      CHECK(h.read_since(options.future_cursor).empty());
    }
  }

  if (caps.tombstones) {
    SECTION("incremental reads report deletes as tombstones") {
      Harness h(options);
      auto ids = h.create_people(0, 2);
      h.touch(ids[h.key(0)]);
      h.touch(ids[h.key(1)]);
      std::vector<Page> pages;
      h.read({}, &pages);
      REQUIRE_FALSE(pages.empty());
      const std::string cursor = pages.back().cursor;
      REQUIRE_FALSE(cursor.empty());

      auto results = h.write({Harness::op(caps.hard_delete ? OpKind::remove : OpKind::archive, ids[h.key(0)])});
      REQUIRE(results[0].ok);
      bool tombstone = false;
      for (const auto& record : h.read_since(cursor)) {
        if (record.id == ids[h.key(0)]) {
          CHECK(record.deleted);
          tombstone = true;
        } else {
          CHECK_FALSE(record.deleted);
        }
      }
      CHECK(tombstone);
      CHECK(h.keys(h.read()) == std::set<std::string>{h.key(1)});
      CHECK(h.read_since(options.future_cursor).empty());
    }
  }
}

std::vector<connectors::ConnectionConfig> with_settings(const ConformanceFixture& fixture,
                                                        const std::vector<connectors::Json>& settings) {
  std::vector<connectors::ConnectionConfig> configs;
  for (const auto& s : settings) {
    configs.push_back(fixture.config);
    configs.back().settings = s;
  }
  return configs;
}

const util::Clock& clock_an_hour_ahead() {
  class AheadClock final : public util::Clock {
   public:
    std::int64_t now_ms() const override { return util::system_clock().now_ms() + 3'600'000; }
    std::int64_t steady_ms() const override { return util::system_clock().steady_ms(); }
    void sleep_ms(std::int64_t ms) const override { util::system_clock().sleep_ms(ms); }
  };
  static const AheadClock clock;
  return clock;
}

std::vector<connectors::Record> read_all(connectors::Connector& connector, const connectors::ObjectRef& object,
                                         connectors::ReadRequest request) {
  std::vector<connectors::Record> records;
  connector.read(object, request, [&](connectors::Page&& page) {
    for (auto& record : page.records) records.push_back(std::move(record));
  });
  return records;
}

connectors::WriteOp op(connectors::OpKind kind, std::string id, connectors::Json fields) {
  connectors::WriteOp result;
  result.kind = kind;
  result.id = std::move(id);
  result.fields = std::move(fields);
  return result;
}

std::string config_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const connectors::ConnectorError& e) {
    CHECK(e.kind() == connectors::ErrorKind::config);
    return e.what();
  }
  FAIL("expected a config error");
  return "";
}

Thrown thrown(const std::function<void()>& call) {
  try {
    call();
  } catch (const connectors::ConnectorError& e) {
    return {e.kind(), e.setting(), e.what()};
  }
  FAIL("expected a ConnectorError");
  return {};
}

}  // namespace synctool::testing
