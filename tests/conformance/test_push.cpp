// The push connector through the conformance suite. synctool never writes to a push source, so
// the fixture's write_through plays the sender: each batch becomes one delivery spooled in a
// state (the memory store) the connector reads, as `synctool ingest` would spool it.
#include "cli/push_spool.hpp"
#include "conformance/conformance.hpp"
#include "connectors/push/push_connector.hpp"
#include "state/memory_store.hpp"
#include "util/clock.hpp"

#include <catch2/catch.hpp>

namespace synctool::testing {

namespace {

using connectors::Json;
using connectors::OpKind;
using connectors::WriteOp;
using connectors::WriteResult;
namespace push = connectors::push;

struct PushSystem {
  std::unique_ptr<state::StateStore> store = state::make_memory_store();
  cli::StatePushSpool spool{*store, true, 3'600'000, util::system_clock()};

  // One batch as one delivery: creates of new keys and updates of existing records (merged into
  // the record's latest row, as a sender sends whole rows), deletes as tombstones.
  std::vector<WriteResult> deliver(const std::vector<WriteOp>& ops, const std::string& key_field) {
    push::Delivery delivery;
    std::vector<WriteResult> results;
    std::map<std::string, Json> rows;  // this delivery's rows so far, by id
    auto current = [&](const std::string& id) -> std::optional<Json> {
      if (auto it = rows.find(id); it != rows.end()) return it->second;
      if (auto latest = spool.latest(id)) return latest->first.fields;
      return std::nullopt;
    };
    for (const auto& op : ops) {
      WriteResult result;
      if (op.kind == OpKind::create || op.kind == OpKind::upsert) {
        const auto* key = op.fields.contains(key_field) ? &op.fields[key_field] : nullptr;
        if (!key || !key->is_string() || key->get<std::string>().empty()) {
          result.error = "no " + key_field;
        } else if (op.kind == OpKind::create && current(key->get<std::string>())) {
          result.ok = true;  // the sender's record already exists: linked, unchanged
          result.id = key->get<std::string>();
        } else {
          result.ok = true;
          result.id = key->get<std::string>();
          Json fields = current(result.id).value_or(Json::object());
          fields.update(op.fields);
          rows[result.id] = fields;
          delivery.rows.push_back({result.id, false, fields});
        }
      } else if (op.kind == OpKind::update) {
        if (auto fields = current(op.id)) {
          fields->update(op.fields);
          rows[op.id] = *fields;
          delivery.rows.push_back({op.id, false, *fields});
          result.ok = true;
          result.id = op.id;
        } else {
          result.error = "no record " + op.id;
        }
      } else {
        delivery.rows.push_back({op.id, true, Json{{key_field, op.id}}});
        rows.erase(op.id);
        result.ok = true;
        result.id = op.id;
      }
      results.push_back(std::move(result));
    }
    if (!delivery.rows.empty()) cli::spool_delivery(*store, delivery, util::system_clock().now_ms());
    return results;
  }
};

ConformanceFixture push_fixture() {
  auto system = std::make_shared<PushSystem>();
  ConformanceFixture fixture;
  fixture.config.name = "shop";
  fixture.config.type = "push";
  fixture.config.settings = {{"secret", "conformance-secret"}, {"rows", "$.events[*]"}, {"key", "email"}};
  fixture.config.push_spool = &system->spool;
  fixture.object.name = "contacts";
  fixture.object.key_field = "email";
  fixture.object.destination = false;
  fixture.write_through = [system](const std::vector<WriteOp>& ops) { return system->deliver(ops, "email"); };
  // A record touched is its latest row sent again.
  fixture.touch = [system](const std::string& id) {
    auto latest = system->spool.latest(id);
    REQUIRE(latest);
    WriteOp op;
    op.kind = OpKind::update;
    op.id = id;
    op.fields = latest->first.fields;
    system->deliver({op}, "email");
  };
  fixture.keep_alive = system;
  return fixture;
}

}  // namespace

TEST_CASE("conformance: push", "[conformance][push]") {
  ConformanceOptions options;
  options.name = "push";
  options.make_fixture = push_fixture;
  options.bad_configs = [](const ConformanceFixture& fixture) {
    return with_settings(fixture, {
                                      {{"rows", "$.events[*]"}, {"key", "email"}},  // no secret
                                      {{"secret", ""}, {"key", "email"}},
                                      {{"secret", "s"}},  // no key
                                      {{"secret", "s"}, {"key", "email"}, {"signature", "md5"}},
                                      {{"secret", "s"}, {"key", "email"}, {"rows", "events"}},
                                      {{"secret", "s"}, {"key", "email"}, {"signature_header", "Bad Header"}},
                                  });
  };
  options.capabilities.incremental_read = true;
  options.capabilities.tombstones = true;
  options.capabilities.native_upsert = false;
  options.capabilities.hard_delete = false;
  options.capabilities.archive = false;
  options.capabilities.max_batch = 1;
  options.capabilities.max_lookup = 1000;
  options.capabilities.unique_ids = true;
  options.create_of_existing_key_links = true;
  options.missing_id = "nobody@example.com";
  options.future_cursor = "999999999";
  options.any_object_name = true;
  options.cursor_is_position = true;
  run_conformance(options);
}

}  // namespace synctool::testing
