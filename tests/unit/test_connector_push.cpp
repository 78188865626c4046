// The push connector reading a spool in the state (cli/push_spool.hpp over the memory store):
// deliveries as pages whose cursors are delivery boundaries, full reads of the latest rows,
// lookups, draining, and what it refuses. And the engine's side: a record read twice in one run
// (unchanged, then changed) takes its later row.
#include "cli/push_spool.hpp"
#include "connectors/push/push_connector.hpp"
#include "support/engine_harness.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace synctool;
namespace push = connectors::push;

push::PushRow row(const std::string& id, nlohmann::json fields, bool deleted = false) {
  fields["id"] = id;
  return push::PushRow{id, deleted, std::move(fields)};
}

void deliver(state::StateStore& store, std::vector<push::PushRow> rows, std::optional<std::string> id = std::nullopt) {
  push::Delivery delivery;
  delivery.id = std::move(id);
  delivery.rows = std::move(rows);
  cli::spool_delivery(store, delivery, util::system_clock().now_ms());
}

struct PushFixture {
  std::unique_ptr<state::StateStore> store = state::make_memory_store();
  cli::StatePushSpool spool{*store, true, 7LL * 24 * 3600 * 1000, util::system_clock()};
  std::unique_ptr<connectors::Connector> connector;
  connectors::ObjectRef object{"events", nlohmann::json::object(), "id", false, {"id", "email"}, {}};

  PushFixture() {
    connectors::ConnectionConfig config;
    config.name = "shop";
    config.type = "push";
    config.settings = {{"secret", "s3cret"}, {"rows", "$.events[*]"}, {"key", "id"}, {"tombstone", "deleted"}};
    config.push_spool = &spool;
    connector = connectors::make_connector(config);
  }

  std::vector<connectors::Page> read(std::optional<std::string> since, std::size_t page_size = 0,
                                     std::vector<std::string> fields = {"id", "email"}) {
    connectors::ReadRequest request;
    request.since = std::move(since);
    request.page_size = page_size;
    request.fields = std::move(fields);
    std::vector<connectors::Page> pages;
    connector->read(object, request, [&](connectors::Page&& page) { pages.push_back(std::move(page)); });
    return pages;
  }
};

std::vector<std::string> ids(const std::vector<connectors::Page>& pages) {
  std::vector<std::string> out;
  for (const auto& page : pages)
    for (const auto& record : page.records) out.push_back(record.id + (record.deleted ? "-" : ""));
  return out;
}

}  // namespace

TEST_CASE("push connector: the spool's deliveries are the changes, each page ending at a delivery", "[push]") {
  PushFixture f;
  deliver(*f.store, {row("a", {{"email", "a@x"}}), row("b", {{"email", "b@x"}})});
  deliver(*f.store, {row("c", {{"email", "c@x"}})});
  deliver(*f.store, {row("a", {{"email", "a2@x"}}), row("b", {}, true)});

  auto caps = f.connector->capabilities(f.object);
  CHECK(caps.incremental_read);
  CHECK(caps.tombstones);
  CHECK(caps.unique_ids);

  auto pages = f.read("1");
  REQUIRE(pages.size() == 1);
  CHECK(ids(pages) == std::vector<std::string>{"a", "b", "c", "a", "b-"});
  CHECK(pages.back().cursor == "4");
  CHECK(pages.back().records[3].fields.at("email") == "a2@x");
  CHECK(pages.back().records[0].origin == "delivery 1");

  // Two rows a page: the first ends with delivery 1; the second inside delivery 3, where there
  // is no point to resume from; the last ends it.
  pages = f.read("1", 2);
  REQUIRE(pages.size() == 3);
  CHECK(pages[0].cursor == "2");
  CHECK(pages[1].cursor.empty());
  CHECK(pages[2].cursor == "4");
  CHECK(ids(pages) == std::vector<std::string>{"a", "b", "c", "a", "b-"});
  // A delivery without rows is passed: the cursor moves beyond it.
  deliver(*f.store, {});
  pages = f.read("4");
  REQUIRE(pages.size() == 1);
  CHECK(pages[0].records.empty());
  CHECK(pages[0].cursor == "5");

  CHECK(ids(f.read("3")) == std::vector<std::string>{"a", "b-"});
  CHECK(f.read("5").empty());  // nothing new: no page, the cursor stays
  CHECK_THROWS_AS(f.read("not-a-number"), connectors::ConnectorError);
  CHECK_THROWS_AS(f.read("0"), connectors::ConnectorError);

  // A full read: the latest row of each live record, and where the changes after it start.
  pages = f.read(std::nullopt);
  CHECK(ids(pages) == std::vector<std::string>{"a", "c"});
  CHECK(pages.back().cursor == "5");
  CHECK(pages.front().records[0].fields.at("email") == "a2@x");

  // Lookups (a failed row's retry) answer with the latest row.
  auto found = f.connector->lookup(f.object, connectors::kNativeIdField, {"a", "b", "zz"});
  REQUIRE(found.size() == 1);
  CHECK(found[0].fields.at("email") == "a2@x");
  found = f.connector->lookup(f.object, "email", {"c@x"});
  REQUIRE(found.size() == 1);
  CHECK(found[0].id == "c");
}

TEST_CASE("push connector: a row without a field the sync reads is a record problem; writing is refused",
          "[push]") {
  PushFixture f;
  deliver(*f.store, {row("a", {{"email", "a@x"}}), row("b", {{"name", "B"}})});
  auto pages = f.read("1");
  REQUIRE(ids(pages) == std::vector<std::string>{"a", "b"});
  CHECK(pages[0].records[0].problem.empty());
  CHECK(pages[0].records[1].problem.find("no field \"email\"") != std::string::npos);
  CHECK_THROWS_AS(f.connector->write(f.object, {connectors::WriteOp{}}), connectors::ConnectorError);

  auto description = f.connector->describe(f.object);
  std::vector<std::string> names;
  for (const auto& field : description.fields) names.push_back(field.name);
  // The key (unique), the tombstone, the sync's fields, then what the kept rows carry.
  CHECK(names == std::vector<std::string>{"id", "deleted", "email", "name"});
  CHECK(description.fields[0].unique);

  // Without a spool (synctool check) the settings are checked, and reading says who reads it.
  connectors::ConnectionConfig config;
  config.name = "shop";
  config.type = "push";
  config.settings = {{"secret", "s3cret"}, {"key", "id"}};
  auto alone = connectors::make_connector(config);
  alone->check();
  connectors::ReadRequest request;
  CHECK_THROWS_WITH(alone->read(f.object, request, [](connectors::Page&&) {}),
                    Catch::Contains("synctool run"));
  config.settings = {{"secret", "s3cret"}, {"key", "id"}, {"signature", "md5"}};
  try {
    connectors::make_connector(config);
    FAIL("an unknown signature scheme was accepted");
  } catch (const connectors::ConnectorError& e) {
    CHECK(e.setting() == "signature");
  }
  config.settings = {{"secret", ""}, {"key", "id"}};
  CHECK_THROWS_AS(connectors::make_connector(config), connectors::ConnectorError);
}

TEST_CASE("push spool: a run's first read drains the deliveries before the committed cursor", "[push]") {
  PushFixture f;
  for (int i = 0; i < 5; ++i) deliver(*f.store, {row("k" + std::to_string(i), {{"email", "e"}})}, "d" + std::to_string(i));
  {
    auto txn = f.store->begin();
    txn->set_meta(state::meta::source_cursor, "4");
    txn->commit();
  }
  CHECK(f.store->spooled_count() == 5);
  CHECK(ids(f.read("4")) == std::vector<std::string>{"k3", "k4"});
  CHECK(f.store->spooled_count() == 2);
  // A read-only spool (diff) drains nothing.
  auto other = state::make_memory_store();
  cli::StatePushSpool readonly(*other, false, 1000, util::system_clock());
  deliver(*other, {row("x", {{"email", "e"}})});
  {
    auto txn = other->begin();
    txn->set_meta(state::meta::source_cursor, "2");
    txn->commit();
  }
  readonly.read_deliveries(2, [](std::uint64_t, std::int64_t, std::vector<push::PushRow>&&) {});
  CHECK(other->spooled_count() == 1);
}

TEST_CASE("engine: a record read unchanged and then changed in one incremental read takes the later row", "[engine][push]") {
  testing::EngineHarness h(testing::contacts_spec());
  h.source.put("1", {{"email", "ann@example.com"}, {"name", "Ann"}, {"age", 30}}, "2026-01-01");
  REQUIRE(h.run().exit_code == 0);
  REQUIRE(h.destination.find_by("email", "ann@example.com"));

  // The spool holds both deliveries of record 1: the first as it was, the second changed.
  auto& unchanged = h.source.records.at("1");
  unchanged.modified_at = "2026-01-02";
  connectors::Record changed = unchanged;
  changed.fields["name"] = "Ann Lee";
  h.source.also_read = {changed};
  auto report = h.run();
  REQUIRE(report.exit_code == 0);
  CHECK(report.destination.updated == 1);
  CHECK(h.destination.find_by("email", "ann@example.com")->fields.at("full_name") == "Ann Lee");

  // And the other way round: changed, then back as it was, the later row (the base) stands.
  h.source.records.at("1").fields["name"] = "Ann Lee";
  connectors::Record back = h.source.records.at("1");
  back.fields["name"] = "Ann";
  h.source.records.at("1").modified_at = "2026-01-03";
  back.modified_at = "2026-01-03";
  h.source.also_read = {back};
  report = h.run();
  REQUIRE(report.exit_code == 0);
  CHECK(h.destination.find_by("email", "ann@example.com")->fields.at("full_name") == "Ann");
}

TEST_CASE("engine: a record deleted by a run that died before its commit, then back at the source, is created again",
          "[engine][push]") {
  auto spec = testing::contacts_spec(spec::Mode::mirror);
  spec.deletes.max_value = 100;
  testing::EngineHarness h(spec);
  h.source.caps.tombstones = true;
  h.source.put("1", {{"email", "ann@example.com"}, {"name", "Ann"}, {"age", 30}}, "2026-01-01");
  REQUIRE(h.run().exit_code == 0);
  REQUIRE(h.destination.find_by("email", "ann@example.com"));

  // The source deletes the record; the destination deletes it, and the run dies before it can
  // commit (the answer to the batch never arrives).
  h.source.records.at("1").deleted = true;
  h.source.records.at("1").modified_at = "2026-01-02";
  h.destination.on_write = [](std::size_t) {
    throw connectors::ConnectorError(connectors::ErrorKind::transient, "connection reset");
  };
  CHECK(h.run().exit_code == engine::exit_code::rows_failed);  // the batch failed, its outcome unknown
  REQUIRE_FALSE(h.destination.find_by("email", "ann@example.com"));

  // The record comes back at the source as it was (a push source's later delivery): the state
  // still links it, with those very values, but the destination no longer has it.
  h.destination.on_write = nullptr;
  h.source.records.at("1").deleted = false;
  h.source.records.at("1").modified_at = "2026-01-03";
  auto report = h.run();
  REQUIRE(report.exit_code == 0);
  CHECK(report.destination.created == 1);
  REQUIRE(h.destination.find_by("email", "ann@example.com"));
  CHECK(h.store->pending_count() == 0);

  // And an update after the same kind of lost delete.
  h.source.records.at("1").deleted = true;
  h.source.records.at("1").modified_at = "2026-01-04";
  h.destination.on_write = [](std::size_t) {
    throw connectors::ConnectorError(connectors::ErrorKind::transient, "connection reset");
  };
  CHECK(h.run().exit_code == engine::exit_code::rows_failed);  // the batch failed, its outcome unknown
  h.destination.on_write = nullptr;
  h.source.records.at("1").deleted = false;
  h.source.records.at("1").fields["name"] = "Ann Lee";
  h.source.records.at("1").modified_at = "2026-01-05";
  report = h.run();
  REQUIRE(report.exit_code == 0);
  CHECK(report.destination.failed == 0);
  REQUIRE(h.destination.find_by("email", "ann@example.com"));
  CHECK(h.destination.find_by("email", "ann@example.com")->fields.at("full_name") == "Ann Lee");
}
