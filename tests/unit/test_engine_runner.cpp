// The engine end to end in memory: fake connectors, the memory state store.
#include "support/engine_harness.hpp"
#include "engine/source_records.hpp"
#include "support/fake_clock.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <thread>
#include <unordered_map>

using namespace synctool;
using synctool::testing::FakeConnector;
using synctool::testing::contacts_spec;

namespace {

struct Harness : synctool::testing::EngineHarness {
  using EngineHarness::EngineHarness;
  void seed_source(int n) {
    for (int i = 0; i < n; ++i)
      source.put("s" + std::to_string(i),
                 {{"email", "user" + std::to_string(i) + "@example.com"}, {"name", "User " + std::to_string(i)}, {"age", i}});
  }
};

struct Recorder final : engine::PlanObserver {
  std::vector<engine::Action> actions;
  void on_action(const engine::Action& a) override { actions.push_back(a); }
};

}  // namespace

TEST_CASE("a baseline creates every source record and a second run with no changes writes nothing") {
  Harness h(contacts_spec());
  h.seed_source(120);
  auto first = h.run();
  CHECK(first.kind == engine::RunKind::baseline);
  CHECK(first.exit_code == 0);
  CHECK(first.destination.created == 120);
  CHECK(h.destination.records.size() == 120);
  CHECK(h.store->link_count() == 120);

  int writes = h.destination.write_calls;
  auto second = h.run();
  CHECK(second.kind == engine::RunKind::incremental);
  CHECK(second.exit_code == 0);
  CHECK(second.destination.created + second.destination.updated + second.destination.deleted == 0);
  CHECK(h.destination.write_calls == writes);
}

TEST_CASE("changing 3 of 1000 source records updates exactly 3 and reads only the changes") {
  Harness h(contacts_spec());
  h.seed_source(1000);
  REQUIRE(h.run().destination.created == 1000);
  for (int i : {5, 500, 999}) h.source.put("s" + std::to_string(i), {{"email", "user" + std::to_string(i) + "@example.com"}, {"name", "Changed"}, {"age", i}});
  std::size_t before = h.destination.ops_written;
  auto report = h.run();
  CHECK(report.destination.updated == 3);
  CHECK(report.destination.created == 0);
  CHECK(h.destination.ops_written - before == 3);
  // The inclusive cursor re-reads records stamped at the cursor itself, never the whole object.
  CHECK(report.source.read <= 4);
  CHECK(h.destination.find_by("email", "user500@example.com")->fields["full_name"] == "Changed");
}

TEST_CASE("an incremental run knows an unchanged record by its source digest, and still sees every change") {
  // A source read in full every run (as a CSV file is): unchanged records are known by the
  // digest of what was read, without mapping them. Random edits, some to a field nothing maps.
  Harness h(contacts_spec());
  h.source.caps.incremental_read = false;
  constexpr int kRecords = 300;
  h.seed_source(kRecords);
  std::size_t known = 0;
  h.log = [&](const std::string& line) {
    if (auto at = line.find(" known unchanged"); at != std::string::npos)
      known = std::stoul(line.substr(line.rfind('(', at) + 1));
  };
  REQUIRE(h.run().destination.created == kRecords);
  CHECK(known == 0);  // a baseline compares every record with the destination

  std::mt19937 rng(4242);
  for (int round = 0; round < 6; ++round) {
    std::set<int> mapped_edits, unmapped_edits;
    for (int e = 0; e < 20; ++e) {
      const int i = static_cast<int>(rng() % kRecords);
      auto fields = h.source.records.at("s" + std::to_string(i)).fields;
      if (rng() % 3 == 0) {
        fields["extra"] = static_cast<int>(rng());  // read, but mapped nowhere
        if (!mapped_edits.contains(i)) unmapped_edits.insert(i);
      } else {
        fields["name"] = "Edit " + std::to_string(rng());
        mapped_edits.insert(i);
        unmapped_edits.erase(i);
      }
      h.source.put("s" + std::to_string(i), fields);
    }
    auto report = h.run();
    INFO("round " << round);
    CHECK(report.exit_code == 0);
    CHECK(report.destination.updated == mapped_edits.size());
    CHECK(report.destination.unchanged == kRecords - mapped_edits.size());
    // Every edited record went the slow way; a record edited in a field nothing maps is
    // unchanged, and its new digest is stored: the next run knows it at once.
    CHECK(known == kRecords - mapped_edits.size() - unmapped_edits.size());
    for (int i : mapped_edits)
      CHECK(h.destination.find_by("email", "user" + std::to_string(i) + "@example.com")->fields["full_name"] ==
            h.source.records.at("s" + std::to_string(i)).fields["name"]);
  }
  CHECK(h.run().destination.unchanged == kRecords);
  CHECK(known == kRecords);

  SECTION("a state without source digests (written by version 3) is compared the slow way once") {
    {
      auto txn = h.store->begin();
      for (int i = 0; i < kRecords; ++i) txn->set_source_digest("user" + std::to_string(i) + "@example.com", 0);
      txn->commit();
    }
    CHECK(h.run().destination.unchanged == kRecords);
    CHECK(known == 0);
    CHECK(h.run().destination.unchanged == kRecords);
    CHECK(known == kRecords);
  }
  SECTION("a changed mapping maps every record again") {
    h.spec.field_map[1].transforms = {{spec::Transform::Kind::uppercase, {}}};
    h.compiled = std::make_unique<engine::CompiledSync>(h.spec);
    auto report = h.run();
    CHECK(known == 0);
    CHECK(report.destination.updated == kRecords);
    CHECK(h.destination.find_by("email", "user7@example.com")->fields["full_name"] == "USER 7");
  }
  SECTION("a record known unchanged and another record with its key are both rejected as duplicates") {
    // The unchanged record is never staged, only its key's hash is remembered: the second
    // record's key is found there, and both are staged to be rejected together.
    h.source.put("intruder", {{"email", " USER42@example.com"}, {"name", "Someone else"}, {"age", 1}});
    auto report = h.run();
    REQUIRE(report.destination.rejected == 1);  // one key, one reject naming both records
    CHECK_THAT(report.rejected.at(0).reason, Catch::Contains("'intruder' and 's42'"));
    CHECK(report.destination.unchanged == kRecords - 1);
    CHECK(known == kRecords);  // known by its digest, then staged beside the intruder
    CHECK(h.destination.find_by("email", "user42@example.com")->fields["full_name"] == "User 42");
    h.source.records.erase("intruder");
    CHECK(h.run().destination.unchanged == kRecords);
  }
  SECTION("a mirror deletes what left the source, not what it knew unchanged") {
    h.spec.mode = spec::Mode::mirror;
    h.compiled = std::make_unique<engine::CompiledSync>(h.spec);
    REQUIRE(h.run().destination.unchanged == kRecords);  // a new mapping seed: the slow way
    for (int i : {3, 150, 299}) h.source.records.erase("s" + std::to_string(i));
    auto report = h.run();
    CHECK(known == kRecords - 3);
    CHECK(report.destination.deleted == 3);
    CHECK(report.destination.unchanged == kRecords - 3);
    CHECK(h.destination.records.size() == kRecords - 3);
    CHECK_FALSE(h.destination.find_by("email", "user150@example.com"));
  }
  SECTION("a changed schema validates every record again") {
    h.spec.schema = {{"full_name", spec::FieldType::enumeration, false, {"User 1"}, {}}};
    h.compiled = std::make_unique<engine::CompiledSync>(h.spec);
    auto report = h.run();
    CHECK(known == 0);
    CHECK(report.destination.rejected > 0);
  }
}

TEST_CASE("key hash set: random hashes and marks agree with std::unordered_map, through growth") {
  std::mt19937_64 rng(77);
  engine::KeyHashSet set;
  set.reserve(1000);  // then grown well past it
  std::unordered_map<std::uint64_t, bool> reference;  // by the 62 bits the set keeps
  auto kept = [](std::uint64_t h) { return h & ~std::uint64_t{3}; };
  std::vector<std::uint64_t> inserted;
  for (int i = 0; i < 60000; ++i) {
    const std::uint64_t h = i % 5 == 0 && !inserted.empty() ? inserted[rng() % inserted.size()] : rng();
    const bool mark = rng() % 3 == 0;
    const bool fresh = !reference.contains(kept(h));
    CHECK(set.insert(h, mark) == fresh);
    reference[kept(h)] = reference[kept(h)] || mark;
    inserted.push_back(h);
  }
  CHECK(set.size() == reference.size());
  for (auto h : inserted) {
    CHECK(set.contains(h));
    CHECK(set.marked(h) == reference[kept(h)]);
  }
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t h = rng();
    CHECK(set.contains(h) == reference.contains(kept(h)));
  }
  CHECK(set.contains(0) == reference.contains(0));
  CHECK(set.insert(0, true) == !reference.contains(0));
  CHECK(set.marked(0));
}

TEST_CASE("confirmed updates are committed as the run goes, not held until its end") {
  // An update rewrites a state page of its own: they are committed 1,000 at a time (as one
  // transaction would take them), so memory does not grow with the number of changes.
  Harness h(contacts_spec());
  h.seed_source(3000);
  REQUIRE(h.run().destination.created == 3000);
  for (int i = 0; i < 3000; ++i)
    h.source.put("s" + std::to_string(i),
                 {{"email", "user" + std::to_string(i) + "@example.com"}, {"name", "Changed"}, {"age", i}});
  std::size_t committed_before_last_write = 0;
  const std::size_t last_call = static_cast<std::size_t>(h.destination.write_calls) + 3000 / 50;
  h.destination.on_write = [&](std::size_t call) {
    if (call != last_call) return;
    for (int i = 0; i < 3000; ++i)
      if (auto base = h.store->get_base("user" + std::to_string(i) + "@example.com"))
        committed_before_last_write += base->values.value("full_name", "") == "Changed";
  };
  CHECK(h.run().destination.updated == 3000);
  INFO("updates committed before the last batch was written: " << committed_before_last_write);
  CHECK(committed_before_last_write >= 2000);
  CHECK(committed_before_last_write < 3000);
}

TEST_CASE("each written record is checked against the destination's rules once") {
  Harness h(contacts_spec());
  h.seed_source(30);
  REQUIRE(h.run().destination.created == 30);
  CHECK(h.destination.problem_checks == 30);  // a baseline: before each create
  // New records on an incremental run are checked before they are looked up, not again
  // before they are created; a changed one is checked as the update it is.
  for (int i = 30; i < 40; ++i) h.source.put("s" + std::to_string(i), {{"email", "new" + std::to_string(i) + "@example.com"}, {"name", "New"}, {"age", i}});
  h.source.put("s3", {{"email", "user3@example.com"}, {"name", "Changed"}, {"age", 3}});
  h.destination.problem_checks = 0;
  auto report = h.run();
  CHECK(report.destination.created == 10);
  CHECK(report.destination.updated == 1);
  CHECK(h.destination.problem_checks == 11);
}

TEST_CASE("records already at the destination are linked, not duplicated") {
  Harness h(contacts_spec());
  h.seed_source(10);
  h.destination.put("d1", {{"email", "user3@example.com"}, {"full_name", "User 3"}, {"age", 3}});
  h.destination.put("d2", {{"email", "user4@example.com"}, {"full_name", "Old name"}, {"age", 4}});
  auto report = h.run();
  CHECK(report.destination.created == 8);
  CHECK(report.destination.updated == 1);
  CHECK(report.destination.unchanged == 1);
  CHECK(h.destination.records.size() == 10);
  CHECK(h.destination.count_with("email", "user3@example.com") == 1);
  CHECK(h.store->get_link("user3@example.com")->destination_id == "d1");
}

TEST_CASE("two source records with the same normalized key are both rejected and nothing else stops") {
  Harness h(contacts_spec());
  h.seed_source(5);
  h.source.put("dup", {{"email", "  USER2@example.com"}, {"name", "Twin"}, {"age", 1}});
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::rows_failed);
  CHECK(report.destination.rejected == 1);  // one key, two records
  CHECK(report.destination.created == 4);
  REQUIRE(report.rejected.size() == 1);
  CHECK_THAT(report.rejected[0].reason, Catch::Contains("duplicate match key") && Catch::Contains("'s2'") &&
                                            Catch::Contains("'dup'"));
  CHECK(h.destination.count_with("email", "user2@example.com") == 0);
  CHECK(h.store->get_failed("user2@example.com").has_value());
}

TEST_CASE("a schema violation rejects the row, the run goes on, and the row is retried until it passes") {
  auto s = contacts_spec();
  s.schema = {{"age", spec::FieldType::number, false, {}, {}}};
  Harness h(s);
  h.seed_source(3);
  h.source.put("bad", {{"email", "bad@example.com"}, {"name", "Bad"}, {"age", "forty"}});
  auto first = h.run();
  CHECK(first.exit_code == engine::exit_code::rows_failed);
  CHECK(first.destination.created == 3);
  REQUIRE(first.rejected.size() == 1);
  CHECK_THAT(first.rejected[0].reason, Catch::Contains("age") && Catch::Contains("not a number"));

  auto again = h.run();  // unchanged source: still rejected and reported, but known: no alert
  CHECK(again.exit_code == 0);
  CHECK(again.destination.rejected == 1);
  CHECK(again.new_problems == 0);
  CHECK(h.store->get_failed("bad@example.com")->attempts == 2);

  h.source.put("bad", {{"email", "bad@example.com"}, {"name", "Bad"}, {"age", "40"}});
  auto fixed = h.run();
  CHECK(fixed.exit_code == 0);
  CHECK(fixed.destination.created == 1);
  CHECK_FALSE(h.store->get_failed("bad@example.com").has_value());
}

TEST_CASE("a record without a match key is rejected with its id") {
  Harness h(contacts_spec());
  h.source.put("nokey", {{"email", "   "}, {"name", "Nobody"}});
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::rows_failed);
  REQUIRE(report.rejected.size() == 1);
  CHECK(report.rejected[0].source_id == "nokey");
  CHECK_THAT(report.rejected[0].reason, Catch::Contains("match field 'email'"));
}

TEST_CASE("mirror mode deletes what left the source, and the delete cap stops a mass delete") {
  Harness h(contacts_spec(spec::Mode::mirror));
  h.source.caps.incremental_read = false;  // every run sees the whole source
  h.seed_source(10);
  REQUIRE(h.run().destination.created == 10);

  h.source.records.erase("s1");
  auto one = h.run();
  CHECK(one.destination.deleted == 1);
  CHECK(h.destination.count_with("email", "user1@example.com") == 0);

  for (int i = 2; i < 8; ++i) h.source.records.erase("s" + std::to_string(i));  // 6 of 9 gone
  auto tripped = h.run();
  CHECK(tripped.exit_code == engine::exit_code::safeguard);
  CHECK_THAT(tripped.error, Catch::Contains("6 deletes planned"));
  CHECK(h.destination.records.size() == 9);

  engine::RunOptions force;
  force.force = true;
  auto forced = h.run(force);
  CHECK(forced.destination.deleted == 6);
  CHECK(h.destination.records.size() == 3);
}

TEST_CASE("an empty source never empties the destination without --force") {
  auto s = contacts_spec(spec::Mode::mirror);
  s.deletes.max_value = 100;
  Harness h(s);
  h.source.caps.incremental_read = false;
  h.seed_source(4);
  REQUIRE(h.run().exit_code == 0);
  h.source.records.clear();
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::safeguard);
  CHECK_THAT(report.error, Catch::Contains("no records"));
  CHECK(h.destination.records.size() == 4);
}

TEST_CASE("a create confirmed by the system but not by the run is linked on the next run, not sent twice") {
  Harness h(contacts_spec());
  h.seed_source(30);
  h.destination.crash_after_write = true;  // the first batch lands, then the connection drops
  auto crashed = h.run();
  CHECK(crashed.exit_code == engine::exit_code::connection);
  CHECK(h.store->pending_count() == 30);
  REQUIRE(h.destination.records.size() == 30);

  auto rerun = h.run();
  CHECK(rerun.exit_code == 0);
  CHECK(h.destination.records.size() == 30);
  for (int i = 0; i < 30; ++i) CHECK(h.destination.count_with("email", "user" + std::to_string(i) + "@example.com") == 1);
  CHECK(h.store->pending_count() == 0);
  CHECK(h.store->link_count() == 30);
}

TEST_CASE("a transient batch failure records the rows as failed and the next run writes them") {
  Harness h(contacts_spec());
  h.seed_source(20);
  h.destination.transient_failures = 1;
  auto first = h.run();
  CHECK(first.exit_code == engine::exit_code::rows_failed);
  CHECK(first.destination.failed == 20);
  CHECK(h.store->failed_count() == 20);
  auto second = h.run();
  CHECK(second.exit_code == 0);
  CHECK(second.destination.created == 20);
  CHECK(h.store->failed_count() == 0);
  CHECK(h.destination.records.size() == 20);
}

TEST_CASE("rows the destination rejects are reported and retried; the rest of the batch is written") {
  Harness h(contacts_spec());
  h.seed_source(10);
  h.destination.reject_keys = {"user7@example.com"};
  auto first = h.run();
  CHECK(first.exit_code == engine::exit_code::rows_failed);
  CHECK(first.destination.created == 9);
  CHECK(first.destination.failed == 1);
  REQUIRE(first.failed.size() == 1);
  CHECK_THAT(first.failed[0].reason, Catch::Contains("400"));
  h.destination.reject_keys.clear();
  auto second = h.run();
  CHECK(second.destination.created == 1);
  CHECK(second.exit_code == 0);
}

TEST_CASE("rows the destination's rules refuse are rejected before sending, as diff predicts, and nothing is left pending") {
  // Batches are sent from a second thread, which checks each row as it sends: 120 records are
  // three batches of 50, so rows are refused in a batch sent while the next one is planned.
  Harness h(contacts_spec());
  h.seed_source(120);
  h.destination.refuse_keys = {{"user7@example.com", "fake: age out of range"}, {"user77@example.com", "fake: bad email"},
                               {"user118@example.com", "fake: bad email"}};
  auto predicted = h.diff();
  CHECK(predicted.destination.rejected == 3);
  CHECK(predicted.destination.created == 117);

  auto first = h.run();
  CHECK(first.exit_code == engine::exit_code::rows_failed);
  CHECK(first.destination.rejected == 3);
  CHECK(first.destination.created == 117);
  CHECK(h.destination.ops_written == 117);  // a refused row is never sent
  CHECK(h.destination.records.size() == 117);
  CHECK(h.store->pending_count() == 0);     // their create intents were taken back
  CHECK(h.store->failed_count() == 3);
  std::set<std::string> reasons;
  for (const auto& problem : first.rejected) reasons.insert(problem.key + ": " + problem.reason);
  CHECK(reasons == std::set<std::string>{"user118@example.com: fake: bad email", "user77@example.com: fake: bad email",
                                         "user7@example.com: fake: age out of range"});

  // An update the rules refuse is rejected the same way; the others go through.
  h.source.put("s8", {{"email", "user8@example.com"}, {"name", "Changed"}, {"age", 8}});
  h.source.put("s9", {{"email", "user9@example.com"}, {"name", "Changed"}, {"age", 9}});
  h.destination.refuse_keys = {{"user8@example.com", "fake: name too long"}};
  auto second = h.run();
  CHECK(second.destination.updated == 1);
  CHECK(second.destination.created == 3);  // the three refused before are accepted now
  CHECK(second.destination.rejected == 1);
  CHECK(h.store->failed_count() == 1);
  CHECK(h.destination.records.size() == 120);
  CHECK_FALSE(h.destination.overlapped);
}

TEST_CASE("a field the destination lacks, found while a batch is sent, ends the run and keeps what was confirmed") {
  Harness h(contacts_spec());
  h.seed_source(120);
  h.destination.config_error_key = "user60@example.com";  // in the second batch of 50 (keys in order)
  auto failed = h.run();
  CHECK(failed.exit_code == engine::exit_code::connection);
  CHECK_THAT(failed.error, Catch::Contains("no field 'nickname'"));
  CHECK(h.destination.records.size() == 50);  // the first batch only: the second was refused whole
  CHECK(h.store->link_count() == 50);         // what the destination confirmed is in the state
  CHECK(h.store->pending_count() == 0);       // the refused batch was never sent: no intent remains

  h.destination.config_error_key.clear();
  auto rerun = h.run();
  CHECK(rerun.exit_code == 0);
  CHECK(rerun.destination.created == 70);
  CHECK(h.destination.records.size() == 120);
  CHECK_FALSE(h.destination.overlapped);
}

TEST_CASE("the destination is never used by two threads at once: random runs of creates, updates, lookups and rejects") {
  // Incremental runs look new records up while batches are being sent; the planner waits for
  // the batch out before it asks the destination anything.
  Harness h(contacts_spec());
  h.destination.caps.max_batch = 7;
  h.destination.caps.max_lookup = 5;
  h.seed_source(60);
  std::mt19937 rng(77);
  int next = 60;
  for (int round = 0; round < 8; ++round) {
    for (int e = 0; e < 40; ++e) {
      const int i = static_cast<int>(rng() % 3 == 0 ? next++ : rng() % static_cast<unsigned>(next));
      h.source.put("s" + std::to_string(i), {{"email", "user" + std::to_string(i) + "@example.com"},
                                             {"name", "Name " + std::to_string(rng() % 1000)}, {"age", i}});
    }
    h.destination.refuse_keys.clear();
    for (int r = 0; r < 3; ++r)
      h.destination.refuse_keys["user" + std::to_string(rng() % static_cast<unsigned>(next)) + "@example.com"] = "fake: refused";
    auto report = h.run();
    INFO("round " << round);
    CHECK((report.exit_code == 0 || report.exit_code == engine::exit_code::rows_failed));
    CHECK(h.store->pending_count() == 0);
  }
  h.destination.refuse_keys.clear();
  CHECK(h.run().exit_code == 0);
  CHECK(h.destination.records.size() == static_cast<std::size_t>(next));
  for (int i = 0; i < next; ++i) CHECK(h.destination.count_with("email", "user" + std::to_string(i) + "@example.com") == 1);
  CHECK_FALSE(h.destination.overlapped);
  CHECK_FALSE(h.source.overlapped);
}

TEST_CASE("a destination that may not be written in the background is written and checked on the run's own thread") {
  // An API connector that may store a refreshed OAuth token in the state while writing must
  // not write beside the planner, which uses the state meanwhile.
  for (bool background : {false, true}) {
    INFO("write_in_background = " << background);
    Harness h(contacts_spec());
    h.destination.caps.write_in_background = background;
    h.seed_source(120);
    h.destination.refuse_keys = {{"user7@example.com", "fake: refused"}};
    auto report = h.run();
    CHECK(report.destination.created == 119);
    CHECK(report.destination.rejected == 1);
    CHECK(h.destination.write_calls == 3);
    CHECK(h.destination.ops_written == 119);
    CHECK(h.destination.problem_checks == 120);
    const auto here = std::this_thread::get_id();
    CHECK(h.destination.write_threads.contains(here) == !background);
    CHECK(h.destination.check_threads.contains(here) == !background);
    CHECK(h.store->pending_count() == 0);
    CHECK_FALSE(h.destination.overlapped);
  }
}

TEST_CASE("changing the match key demands --resync, which matches afresh") {
  Harness h(contacts_spec());
  h.seed_source(5);
  REQUIRE(h.run().exit_code == 0);
  h.spec.match.normalize = {"trim"};
  h.compiled = std::make_unique<engine::CompiledSync>(h.spec);
  auto refused = h.run();
  CHECK(refused.exit_code == engine::exit_code::resync_needed);
  engine::RunOptions resync;
  resync.resync = true;
  auto rebuilt = h.run(resync);
  CHECK(rebuilt.exit_code == 0);
  CHECK(rebuilt.kind == engine::RunKind::baseline);
  CHECK(h.destination.records.size() == 5);  // linked again, nothing duplicated
}

TEST_CASE("append mode creates but never updates") {
  Harness h(contacts_spec(spec::Mode::append));
  h.seed_source(3);
  REQUIRE(h.run().destination.created == 3);
  h.source.put("s1", {{"email", "user1@example.com"}, {"name", "Changed"}, {"age", 1}});
  auto report = h.run();
  CHECK(report.destination.updated == 0);
  CHECK(h.destination.find_by("email", "user1@example.com")->fields["full_name"] == "User 1");
}

TEST_CASE("a dry run predicts the run's totals and changes nothing") {
  Harness h(contacts_spec(spec::Mode::mirror));
  h.source.caps.incremental_read = false;
  h.seed_source(10);
  REQUIRE(h.run().exit_code == 0);
  h.source.records.erase("s0");
  h.source.put("s1", {{"email", "user1@example.com"}, {"name", "Changed"}, {"age", 1}});
  h.source.put("new", {{"email", "new@example.com"}, {"name", "New"}, {"age", 2}});
  engine::RunOptions dry;
  dry.dry_run = true;
  Recorder recorder;
  auto plan = h.run(dry, &recorder);
  CHECK(h.destination.records.size() == 10);
  auto run = h.run();
  CHECK(plan.destination.created == run.destination.created);
  CHECK(plan.destination.updated == run.destination.updated);
  CHECK(plan.destination.deleted == run.destination.deleted);
  CHECK(run.destination.created == 1);
  CHECK(run.destination.updated == 1);
  CHECK(run.destination.deleted == 1);
  bool saw_change = false;
  for (const auto& a : recorder.actions)
    if (a.kind == engine::Action::Kind::update) {
      REQUIRE(a.changes.size() == 1);
      CHECK(a.changes[0].field == "full_name");
      CHECK(a.changes[0].old_value == "User 1");
      CHECK(a.changes[0].new_value == "Changed");
      saw_change = true;
    }
  CHECK(saw_change);
}

TEST_CASE("a record that leaves the filter is deleted in mirror mode") {
  auto s = contacts_spec(spec::Mode::mirror);
  s.source.filter = "age < 100";
  Harness h(s);
  h.seed_source(5);
  REQUIRE(h.run().destination.created == 5);
  h.source.put("s2", {{"email", "user2@example.com"}, {"name", "Old"}, {"age", 200}});
  auto report = h.run();
  CHECK(report.destination.deleted == 1);
  CHECK(h.destination.count_with("email", "user2@example.com") == 0);
}

TEST_CASE("a full run repairs drift at the destination") {
  Harness h(contacts_spec());
  h.seed_source(5);
  REQUIRE(h.run().exit_code == 0);
  auto* rec = const_cast<connectors::Record*>(h.destination.find_by("email", "user3@example.com"));
  rec->fields["full_name"] = "Edited by hand";
  h.destination.records.erase(h.destination.find_by("email", "user4@example.com")->id);
  CHECK(h.run().destination.updated == 0);  // incremental trusts the base values
  engine::RunOptions full;
  full.full = true;
  auto report = h.run(full);
  CHECK(report.kind == engine::RunKind::full);
  CHECK(report.destination.updated == 1);
  CHECK(report.destination.created == 1);
  CHECK(h.destination.find_by("email", "user3@example.com")->fields["full_name"] == "User 3");
}

// Found by the crash-consistency test: the deletes a mirror's baseline plans for records only
// the destination has are never linked, and an incremental run does not read the destination,
// so a failed delete must be remembered with its destination id to be tried again.
TEST_CASE("a mirror's failed delete of a destination-only record is retried by the next incremental run") {
  auto s = contacts_spec(spec::Mode::mirror);
  s.deletes.max_value = 100;
  Harness h(s);
  h.seed_source(4);
  h.destination.put("x1", {{"email", "gone@example.com"}, {"full_name", "Only here"}});
  h.destination.reject_keys = {"gone@example.com"};
  auto baseline = h.run();
  CHECK(baseline.kind == engine::RunKind::baseline);
  CHECK(baseline.exit_code == engine::exit_code::rows_failed);
  CHECK(baseline.destination.failed == 1);
  REQUIRE(h.store->failed_count() == 1);
  CHECK(h.store->get_failed("gone@example.com")->delete_id == "x1");

  // Still refused: planned again, failed again, still remembered.
  auto refused = h.run();
  CHECK(refused.kind == engine::RunKind::incremental);
  CHECK(refused.destination.failed == 1);
  CHECK(h.store->get_failed("gone@example.com")->attempts == 2);

  h.destination.reject_keys.clear();
  auto retried = h.run();
  CHECK(retried.kind == engine::RunKind::incremental);
  CHECK(retried.exit_code == 0);
  CHECK(retried.destination.deleted == 1);
  CHECK(h.destination.count_with("email", "gone@example.com") == 0);
  CHECK(h.store->failed_count() == 0);
  CHECK(h.run().destination.deleted == 0);
}

TEST_CASE("a failed delete from a tombstone the source has since purged is retried by the next incremental run") {
  Harness h(contacts_spec(spec::Mode::mirror));
  h.source.caps.tombstones = true;
  h.seed_source(5);
  REQUIRE(h.run().destination.created == 5);
  h.source.records["s2"].deleted = true;
  h.source.records["s2"].modified_at = "9999";  // after every stamp so far
  h.destination.transient_failures = 1;
  auto failed = h.run();
  CHECK(failed.destination.failed == 1);
  CHECK(h.destination.count_with("email", "user2@example.com") == 1);
  h.source.records.erase("s2");  // the system keeps tombstones only for a while
  auto retried = h.run();
  CHECK(retried.exit_code == 0);
  CHECK(retried.destination.deleted == 1);
  CHECK(h.destination.count_with("email", "user2@example.com") == 0);
  CHECK(h.store->failed_count() == 0);
}

TEST_CASE("a failed delete is dropped, not retried, once the source has the record again") {
  Harness h(contacts_spec(spec::Mode::mirror));
  h.source.caps.incremental_read = false;
  h.seed_source(5);
  REQUIRE(h.run().destination.created == 5);
  auto kept = h.source.records["s3"];
  h.source.records.erase("s3");
  h.destination.transient_failures = 1;
  REQUIRE(h.run().destination.failed == 1);
  h.source.records["s3"] = kept;
  auto back = h.run();
  CHECK(back.exit_code == 0);
  CHECK(back.destination.deleted == 0);
  CHECK(h.destination.count_with("email", "user3@example.com") == 1);
  CHECK(h.store->failed_count() == 0);
}

TEST_CASE("a full run forgets a failed delete whose record is gone from both sides") {
  auto s = contacts_spec(spec::Mode::mirror);
  s.deletes.max_value = 100;
  Harness h(s);
  h.seed_source(3);
  h.destination.put("x1", {{"email", "gone@example.com"}});
  h.destination.reject_keys = {"gone@example.com"};
  REQUIRE(h.run().destination.failed == 1);
  h.destination.records.erase("x1");  // someone removed it by hand
  engine::RunOptions full;
  full.full = true;
  auto report = h.run(full);
  CHECK(report.exit_code == 0);
  CHECK(h.store->failed_count() == 0);
}

// HubSpot finds companies by domain through search, which lags behind writes: a lookup made at
// once would miss what the lost batch created, and the records would be created twice.
TEST_CASE("unconfirmed creates are looked up only once the destination's lookup lag has passed") {
  Harness h(contacts_spec());
  synctool::testing::FakeClock clock;
  h.clock = &clock;
  h.destination.caps.lookup_lag_ms = 5'000;
  h.seed_source(20);
  REQUIRE(h.run().exit_code == 0);  // a baseline reads the whole destination: no lookups
  for (int i = 20; i < 30; ++i)
    h.source.put("s" + std::to_string(i), {{"email", "user" + std::to_string(i) + "@example.com"}, {"name", "U"}});
  h.destination.crash_after_write = true;
  REQUIRE(h.run().exit_code == engine::exit_code::connection);
  REQUIRE(h.store->pending_count() == 10);

  clock.advance(1'500);  // the rerun starts 1.5 s later
  auto rerun = h.run();
  CHECK(rerun.kind == engine::RunKind::incremental);
  CHECK(rerun.exit_code == 0);
  CHECK(clock.sleeps() == std::vector<std::int64_t>{3'500});
  CHECK(h.destination.records.size() == 30);
  CHECK(h.store->pending_count() == 0);

  // Nothing unconfirmed: new records are looked up without waiting.
  clock.reset_sleeps();
  h.source.put("s99", {{"email", "new@example.com"}, {"name", "New"}, {"age", 1}});
  CHECK(h.run().destination.created == 1);
  CHECK(clock.slept_ms() == 0);
}

// The same in a two-way run: the other side's records an interrupted run created there are
// missing from its incremental read (its search lags too), and looked up only after the lag.
TEST_CASE("two-way: unconfirmed creates are looked up only once that side's lookup lag has passed") {
  auto spec = contacts_spec();
  spec.direction = spec::Direction::bidirectional;
  Harness h(spec);
  synctool::testing::FakeClock clock;
  h.clock = &clock;
  h.destination.caps.lookup_lag_ms = 5'000;
  h.seed_source(20);
  h.destination.put("d0", {{"email", "dee@example.com"}, {"full_name", "Dee"}});  // gives the destination a cursor
  REQUIRE(h.run().exit_code == 0);
  REQUIRE(h.destination.records.size() == 21);
  for (int i = 20; i < 30; ++i)
    h.source.put("s" + std::to_string(i), {{"email", "user" + std::to_string(i) + "@example.com"}, {"name", "U"}});
  h.destination.crash_after_write = true;
  REQUIRE(h.run().exit_code == engine::exit_code::connection);
  REQUIRE(h.store->pending_count() == 10);
  for (auto& [id, record] : h.destination.records)  // not yet in the destination's change feed
    if (record.fields.value("full_name", "") == "U") record.modified_at = "2000-01-01T00:00:00Z";

  clock.advance(1'500);
  auto rerun = h.run();
  CHECK(rerun.exit_code == 0);
  CHECK(clock.sleeps() == std::vector<std::int64_t>{3'500});
  CHECK(h.destination.records.size() == 31);
  CHECK(h.store->pending_count() == 0);
  CHECK(rerun.destination.created == 0);
}
