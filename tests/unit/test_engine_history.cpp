// Record history (every confirmed write, per record and run) and `revert` of a run, in memory.
#include "engine/history.hpp"
#include "engine/revert.hpp"
#include "support/engine_harness.hpp"
#include "support/fake_clock.hpp"

#include <catch2/catch.hpp>

using namespace synctool;

namespace {

// Deletes are not capped: these tests delete a fifth of a few records.
spec::SyncSpec contacts_spec(spec::Mode mode = spec::Mode::upsert) {
  auto s = synctool::testing::contacts_spec(mode);
  s.deletes.max_value = 100;
  return s;
}

}  // namespace

namespace {

struct Harness : synctool::testing::EngineHarness {
  synctool::testing::FakeClock fake_clock;
  explicit Harness(spec::SyncSpec s) : EngineHarness(std::move(s)) { clock = &fake_clock; }
  void put(int i, const std::string& name, int age) {
    source.put("s" + std::to_string(i),
               {{"email", "User" + std::to_string(i) + "@Example.com"}, {"name", name}, {"age", age}});
  }
  engine::RevertInputs revert_inputs() { return {*compiled, source, destination, *store, *clock}; }
  std::vector<std::pair<std::string, state::HistoryEntry>> history_of(std::uint64_t run) const {
    std::vector<std::pair<std::string, state::HistoryEntry>> out;
    store->for_each_history(run, [&](const std::string& key, const state::HistoryEntry& entry) {
      out.emplace_back(key, entry);
      return true;
    });
    return out;
  }
};

}  // namespace

TEST_CASE("history: every confirmed write is kept per record and run, before -> after") {
  Harness h(contacts_spec(spec::Mode::mirror));
  for (int i = 0; i < 4; ++i) h.put(i, "User " + std::to_string(i), 20 + i);
  auto baseline = h.run();
  REQUIRE(baseline.exit_code == 0);
  CHECK(baseline.run == 1);
  auto created = h.history_of(1);
  REQUIRE(created.size() == 4);
  CHECK(created[0].first == "user0@example.com");
  const auto& create = created[0].second.writes.at(0);
  CHECK(create["op"] == "create");
  CHECK(create["side"] == "destination");
  // A one-way create keeps no copy of its values: they are the base values until a later write.
  CHECK_FALSE(create.contains("after"));
  CHECK(engine::values_after_create(create, *h.store, "user0@example.com")["full_name"] == "User 0");
  CHECK(create["id"] == h.destination.find_by("email", "user0@example.com")->id);

  h.fake_clock.advance(60'000);
  h.put(1, "Renamed", 21);
  h.source.records.erase("s3");
  auto second = h.run(engine::RunOptions{.full = true});
  REQUIRE(second.exit_code == 0);
  CHECK(second.run == 2);
  auto update = h.store->get_history(2, "user1@example.com");
  REQUIRE(update);
  CHECK(update->at_ms == h.fake_clock.now_ms());
  const auto& change = update->writes.at(0)["changes"].at(0);
  CHECK(change["field"] == "full_name");
  CHECK(change["before"] == "User 1");
  CHECK(change["after"] == "Renamed");
  auto removed = h.store->get_history(2, "user3@example.com");
  REQUIRE(removed);
  CHECK(removed->writes.at(0)["op"] == "delete");
  CHECK(removed->writes.at(0)["before"]["full_name"] == "User 3");
  CHECK_FALSE(h.store->get_history(2, "user0@example.com"));  // unchanged: no write, no entry

  // A run that writes nothing leaves no history; the runs carry their numbers.
  auto third = h.run();
  CHECK(third.run == 3);
  CHECK(h.history_of(3).empty());
  auto runs = h.store->runs(0);
  REQUIRE(runs.size() == 3);
  CHECK(runs.front()["run"] == 3);
}

TEST_CASE("history: entries older than history_days are pruned as runs go by; 0 keeps none") {
  auto spec = contacts_spec();
  spec.history_days = 2;
  Harness h(spec);
  h.put(0, "A", 1);
  REQUIRE(h.run().exit_code == 0);
  CHECK(h.history_of(1).size() == 1);
  h.fake_clock.advance(24LL * 3600 * 1000);
  h.put(0, "B", 1);
  REQUIRE(h.run().exit_code == 0);
  CHECK(h.history_of(1).size() == 1);  // one day old: kept
  h.fake_clock.advance(36LL * 3600 * 1000);
  REQUIRE(h.run().exit_code == 0);
  CHECK(h.history_of(1).empty());      // 2.5 days old: pruned
  CHECK(h.history_of(2).size() == 1);  // 1.5 days old: kept

  auto none = contacts_spec();
  none.history_days = 0;
  Harness off(none);
  off.put(0, "A", 1);
  REQUIRE(off.run().exit_code == 0);
  CHECK(off.history_of(1).empty());
}

TEST_CASE("history: a run killed before recording its report keeps its writes under its own number") {
  Harness h(contacts_spec());
  h.put(0, "A", 1);
  REQUIRE(h.run().exit_code == 0);
  // What a killed run 2 leaves: history under 2, no run 2 recorded.
  {
    auto txn = h.store->begin();
    txn->put_history(2, "user0@example.com", {h.fake_clock.now_ms(), nlohmann::json::array({{{"op", "update"}}})});
    txn->commit();
  }
  h.put(0, "B", 1);
  auto next = h.run();
  CHECK(next.run == 3);
  auto runs = h.store->runs(0);
  REQUIRE(runs.size() == 3);
  CHECK(runs[1]["run"] == 2);
  CHECK(runs[1]["exit_code"] == 137);
  CHECK(runs[1]["killed"] == true);
  CHECK(h.store->get_history(2, "user0@example.com"));
  CHECK(h.store->get_history(3, "user0@example.com"));
}

TEST_CASE("revert: a run's updates, creates and deletes are undone; the next run leaves them undone") {
  Harness h(contacts_spec(spec::Mode::mirror));
  for (int i = 0; i < 5; ++i) h.put(i, "User " + std::to_string(i), 30 + i);
  REQUIRE(h.run().exit_code == 0);
  h.fake_clock.advance(1000);
  h.put(1, "Wrong", 99);
  h.put(7, "New", 7);
  h.source.records.erase("s4");
  auto bad = h.run(engine::RunOptions{.full = true});
  REQUIRE(bad.destination.updated == 1);
  REQUIRE(bad.destination.created == 1);
  REQUIRE(bad.destination.deleted == 1);

  auto plan = engine::plan_revert(h.revert_inputs(), bad.run);
  CHECK(plan.refused.empty());
  REQUIRE(plan.steps.size() == 3);
  auto report = engine::apply_revert(h.revert_inputs(), plan);
  CHECK(report.exit_code == 0);
  CHECK(report.kind == engine::RunKind::revert);
  CHECK(report.destination.updated == 1);
  CHECK(report.destination.deleted == 1);
  CHECK(report.destination.created == 1);
  const auto* one = h.destination.find_by("email", "user1@example.com");
  REQUIRE(one);
  CHECK(one->fields["full_name"] == "User 1");
  CHECK(one->fields["age"] == 31);
  CHECK(h.destination.find_by("email", "user7@example.com") == nullptr);
  const auto* four = h.destination.find_by("email", "user4@example.com");
  REQUIRE(four);
  CHECK(four->fields["full_name"] == "User 4");
  // The revert is a run of its own, with its own history.
  CHECK(h.store->get_history(report.run, "user1@example.com"));

  // An incremental run does not write the reverted update again: the source did not change since.
  auto after = h.run();
  CHECK(after.exit_code == 0);
  CHECK(after.destination.updated == 0);
  CHECK(h.destination.find_by("email", "user1@example.com")->fields["full_name"] == "User 1");
}

TEST_CASE("revert: records changed since the run, or written by a later run, are refused and left alone") {
  Harness h(contacts_spec());
  for (int i = 0; i < 3; ++i) h.put(i, "User " + std::to_string(i), i);
  REQUIRE(h.run().exit_code == 0);
  h.put(0, "Run2", 0);
  h.put(1, "Run2", 1);
  h.put(2, "Run2", 2);
  auto second = h.run();
  REQUIRE(second.destination.updated == 3);
  h.put(1, "Run3", 1);
  REQUIRE(h.run().destination.updated == 1);
  // Someone edits user2 at the destination by hand.
  auto* two = const_cast<connectors::Record*>(h.destination.find_by("email", "user2@example.com"));
  two->fields["full_name"] = "Edited by hand";

  auto plan = engine::plan_revert(h.revert_inputs(), second.run);
  REQUIRE(plan.steps.size() == 1);
  CHECK(plan.steps[0].key == "user0@example.com");
  REQUIRE(plan.refused.size() == 2);
  std::map<std::string, std::string> why;
  for (const auto& r : plan.refused) why[r.key] = r.reason;
  CHECK_THAT(why["user1@example.com"], Catch::Contains("run 3 wrote it again"));
  CHECK_THAT(why["user2@example.com"], Catch::Contains("full_name is \"Edited by hand\" now"));
  auto report = engine::apply_revert(h.revert_inputs(), plan);
  CHECK(report.exit_code == engine::exit_code::rows_failed);
  CHECK(h.destination.find_by("email", "user0@example.com")->fields["full_name"] == "User 0");
  CHECK(h.destination.find_by("email", "user1@example.com")->fields["full_name"] == "Run3");
  CHECK(h.destination.find_by("email", "user2@example.com")->fields["full_name"] == "Edited by hand");

  CHECK_THROWS_AS(engine::plan_revert(h.revert_inputs(), 42), engine::RevertError);
}

TEST_CASE("history: a two-way merge records the rule that decided and what it weighed") {
  auto spec = contacts_spec();
  spec.direction = spec::Direction::bidirectional;
  spec.conflicts.strategy = spec::ConflictStrategy::most_recent_wins;
  Harness h(spec);
  h.put(0, "Both", 1);
  REQUIRE(h.run().exit_code == 0);
  h.source.put("s0", {{"email", "User0@Example.com"}, {"name", "From source"}, {"age", 1}});
  REQUIRE(h.destination.records.size() == 1);
  auto* d = &h.destination.records.begin()->second;
  d->fields["full_name"] = "From destination";
  d->modified_at = "2026-01-01T12:00:00Z";  // later than every stamp the fake source gives
  auto merged = h.run();
  REQUIRE(merged.exit_code == 0);
  auto entry = h.store->get_history(merged.run, "user0@example.com");
  REQUIRE(entry);
  REQUIRE(entry->writes.size() == 1);
  const auto& w = entry->writes[0];
  CHECK(w["side"] == "source");
  const auto& c = w["changes"].at(0);
  CHECK(c["field"] == "name");
  CHECK(c["before"] == "From source");
  CHECK(c["after"] == "From destination");
  CHECK(c["base"] == "Both");
  CHECK(c["source"] == "From source");
  CHECK(c["destination"] == "From destination");
  CHECK_THAT(c["rule"].get<std::string>(), Catch::Contains("conflict"));
}
