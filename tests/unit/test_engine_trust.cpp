// What the engine must never do silently (issue "trust the one-way core"): write a field the
// spec names but a system lacks as empty, let one of two records with one key win, bend a
// value, alert forever on rows that keep failing, lose a run to a signal or a bad byte.
#include "state/memory_store.hpp"
#include "support/engine_harness.hpp"
#include "support/fake_clock.hpp"
#include "util/clock.hpp"
#include "util/interrupt.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

#include <csignal>

using namespace synctool;
using synctool::testing::FakeConnector;

namespace {

spec::SyncSpec people_spec(spec::Mode mode = spec::Mode::upsert) {
  spec::SyncSpec s;
  s.name = "people";
  s.file = "syncs/people.toml";
  s.mode = mode;
  s.source = {"src", "people", {}, "", {}, "", nlohmann::json::object(), {}};
  s.destination = {"dst", "people", {}, "", {}, "", nlohmann::json::object(), {}};
  s.match = {"email", "email", {"trim", "lowercase"}, {"syncs/people.toml", 9, 1}};
  s.field_map = {{"email", "email", {}, {"syncs/people.toml", 14, 1}},
                 {"name", "full_name", {}, {"syncs/people.toml", 15, 1}},
                 {"age", "age", {}, {"syncs/people.toml", 16, 1}}};
  return s;
}

struct Harness : synctool::testing::EngineHarness {
  synctool::testing::FakeClock fake_clock;

  explicit Harness(spec::SyncSpec s) : EngineHarness(std::move(s)) { clock = &fake_clock; }

  void person(int i, const std::string& name = "") {
    source.put("s" + std::to_string(i), {{"email", "user" + std::to_string(i) + "@acme.io"},
                                         {"name", name.empty() ? "User " + std::to_string(i) : name},
                                         {"age", i}});
  }
  std::uint64_t writes(const engine::RunReport& r) const {
    return r.destination.created + r.destination.updated + r.destination.deleted;
  }
};

connectors::Record record(std::string id, nlohmann::json fields, std::string origin = "", std::string problem = "") {
  connectors::Record r;
  r.id = std::move(id);
  r.fields = std::move(fields);
  r.modified_at = "2026-01-01T00:00:00Z";
  r.origin = std::move(origin);
  r.problem = std::move(problem);
  return r;
}

// Clears a stop request however a test ends, so that no other test sees it.
struct StopGuard {
  ~StopGuard() { util::request_stop(0); }
};

}  // namespace

TEST_CASE("a field the spec names that the source lacks stops the run and the dry run before anything is written",
          "[engine][fields]") {
  Harness h(people_spec());
  h.source.fields = {"email", "nmae", "age"};  // the system calls it "nmae"
  h.destination.fields = {"email", "full_name", "age"};
  for (int i = 0; i < 5; ++i) h.person(i);

  auto planned = h.diff();
  CHECK(planned.exit_code == engine::exit_code::usage);
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::usage);
  CHECK_THAT(report.error, Catch::Contains("syncs/people.toml:15:1") &&
                               Catch::Contains("[field_map] source field 'name' does not exist in fake connection 'src'") &&
                               Catch::Contains("did you mean 'nmae'?"));
  CHECK(planned.error == report.error);  // diff reports exactly what run meets
  CHECK(h.destination.write_calls == 0);
  CHECK(h.destination.records.empty());
  CHECK(h.store->link_count() == 0);
}

TEST_CASE("a destination field the system lacks is one error before any write, not a failure per row",
          "[engine][fields]") {
  Harness h(people_spec());
  h.destination.fields = {"email", "fullname", "age"};
  for (int i = 0; i < 149; ++i) h.person(i);
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::usage);
  CHECK_THAT(report.error, Catch::Contains("[field_map] destination field 'full_name' does not exist") &&
                               Catch::Contains("did you mean 'fullname'?"));
  CHECK(report.destination.failed == 0);
  CHECK(h.destination.write_calls == 0);
}

TEST_CASE("a filter on a field the source lacks is an error, not a filter that matches nothing", "[engine][fields]") {
  auto spec = people_spec(spec::Mode::mirror);
  spec.source.filter = "stage = 'customer'";
  spec.source.filter_where = {"syncs/people.toml", 6, 10};
  Harness h(spec);
  h.source.fields = {"email", "name", "age", "lifecycle_stage"};
  h.person(1);
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::usage);
  CHECK_THAT(report.error, Catch::Contains("syncs/people.toml:6:10") && Catch::Contains("[source] filter field 'stage'"));
}

TEST_CASE("every run proves both connections, also when there is nothing to write", "[engine][connections]") {
  Harness h(people_spec());
  h.person(1);
  REQUIRE(h.run().exit_code == 0);
  REQUIRE(h.run().exit_code == 0);  // nothing to write
  h.destination.probe_error = "fake: 401 the token was revoked";
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::connection);
  CHECK_THAT(report.error, Catch::Contains("401"));
}

TEST_CASE("two records with one key are both rejected, also when their ids are the same text", "[engine][duplicates]") {
  Harness h(people_spec());
  h.source.caps.unique_ids = false;  // a CSV file: the id is the key column's value
  h.person(1);
  h.source.also_read.push_back(record("user2@acme.io", {{"email", "user2@acme.io"}, {"name", "First"}}, "line 3"));
  h.source.also_read.push_back(record("user2@acme.io", {{"email", "user2@acme.io"}, {"name", "Second"}}, "line 9"));
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::rows_failed);
  CHECK(report.destination.created == 1);
  CHECK(report.destination.rejected == 1);
  REQUIRE(report.rejected.size() == 1);
  CHECK_THAT(report.rejected[0].reason, Catch::Contains("line 3 and line 9"));
  CHECK(h.destination.count_with("email", "user2@acme.io") == 0);
}

TEST_CASE("a record read twice under a unique id is one record, not a duplicate", "[engine][duplicates]") {
  Harness h(people_spec());
  h.person(1);
  h.source.also_read.push_back(h.source.records.at("s1"));  // a page repeated while paging
  auto report = h.run();
  CHECK(report.exit_code == 0);
  CHECK(report.destination.created == 1);
  CHECK(report.destination.rejected == 0);
}

TEST_CASE("a record the connector could not read whole is rejected with its reason, the rest is written",
          "[engine][utf8]") {
  Harness h(people_spec());
  h.person(1);
  h.source.also_read.push_back(record("x", {{"email", "zoe@acme.io"}, {"name", "Zo\xff"}}, "line 7",
                                      "line 7: column 'name' is not valid UTF-8"));
  h.source.also_read.push_back(record("y", {{"email", "bad\xfe@acme.io"}}, "line 8"));
  auto report = h.run();
  CHECK(report.exit_code == engine::exit_code::rows_failed);
  CHECK(report.destination.created == 1);
  CHECK(report.destination.rejected == 2);
  std::string reasons;
  for (const auto& p : report.rejected) reasons += p.reason + "\n";
  CHECK_THAT(reasons, Catch::Contains("line 7: column 'name' is not valid UTF-8") &&
                          Catch::Contains("the match field 'email' is not valid UTF-8"));
  // The run is in the history although its report quoted bytes that are not UTF-8.
  auto runs = h.store->runs(1);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].dump().find("rejected") != std::string::npos);
}

TEST_CASE("rows that keep failing are listed but alert only the first time; --strict alerts always",
          "[engine][known-rejects]") {
  auto spec = people_spec();
  spec.schema = {{"age", spec::FieldType::number, false, {}, {}}};
  Harness h(spec);
  h.person(1);
  h.source.put("bad", {{"email", "bad@acme.io"}, {"name", "Bad"}, {"age", "old"}});
  h.source.put("nokey", {{"email", ""}, {"name", "No key"}, {"age", 3}});

  auto first = h.run();
  CHECK(first.exit_code == engine::exit_code::rows_failed);
  CHECK(first.new_problems == 2);
  CHECK(first.destination.rejected == 2);

  engine::RunOptions full;
  full.full = true;
  auto second = h.run(full);  // reads them all again: the same two problems
  CHECK(second.exit_code == 0);
  CHECK(second.destination.rejected == 2);
  CHECK(second.new_problems == 0);
  REQUIRE(second.rejected.size() == 2);
  CHECK_FALSE(second.rejected[0].is_new);
  CHECK_FALSE(second.rejected[1].is_new);

  engine::RunOptions strict = full;
  strict.strict = true;
  CHECK(h.run(strict).exit_code == engine::exit_code::rows_failed);

  // A new problem alerts again.
  h.source.put("worse", {{"email", "worse@acme.io"}, {"name", "Worse"}, {"age", "older"}});
  auto third = h.run(full);
  CHECK(third.exit_code == engine::exit_code::rows_failed);
  CHECK(third.new_problems == 1);

  // The keyless row is kept among the failed rows by its id, and leaves once it has a key.
  CHECK(h.store->get_failed(state::unkeyed_failure_key("nokey")).has_value());
  h.source.put("nokey", {{"email", "nokey@acme.io"}, {"name", "No key"}, {"age", 3}});
  h.run(full);
  CHECK_FALSE(h.store->get_failed(state::unkeyed_failure_key("nokey")).has_value());
  CHECK(h.destination.count_with("email", "nokey@acme.io") == 1);
}

TEST_CASE("append mode counts existing and changed records as skipped", "[engine][append]") {
  Harness h(people_spec(spec::Mode::append));
  for (int i = 0; i < 3; ++i) h.person(i);
  h.destination.put("d9", {{"email", "user2@acme.io"}, {"full_name", "Someone else"}, {"age", 99}});
  auto first = h.run();
  CHECK(first.destination.created == 2);
  CHECK(first.destination.skipped == 1);
  CHECK(h.destination.records.at("d9").fields["full_name"] == "Someone else");
  h.person(1, "Renamed");
  auto second = h.run();
  CHECK(second.destination.updated == 0);
  CHECK(second.destination.skipped == 1);
  CHECK(h.run().destination.skipped == 0);  // that change was skipped once; nothing new
}

TEST_CASE("SIGTERM stops the run at a batch boundary, keeps what was confirmed and records the run",
          "[engine][signals]") {
  StopGuard guard;
  Harness h(people_spec());
  h.destination.caps.max_batch = 10;
  for (int i = 0; i < 95; ++i) h.person(i);
  h.destination.on_write = [&](std::size_t calls) {
    if (calls == 3) util::request_stop(SIGTERM);
  };
  auto report = h.run();
  CHECK(report.exit_code == 143);
  CHECK_THAT(report.error, Catch::Contains("stopped by SIGTERM"));
  CHECK(report.destination.created == 30);  // three batches confirmed, nothing after
  CHECK(h.destination.records.size() == 30);
  CHECK(h.store->link_count() == 30);
  auto runs = h.store->runs(1);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["exit_code"] == 143);
  CHECK_FALSE(h.store->get_meta(state::meta::baseline_done));  // no cursor, no baseline mark

  util::request_stop(0);
  h.destination.on_write = nullptr;
  auto resumed = h.run();
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.destination.created == 65);
  CHECK(h.destination.records.size() == 95);
}

TEST_CASE("a stop seen while a batch is out keeps what the destination confirmed for it", "[engine][signals]") {
  // An incremental run whose first 50 records are new (one batch of creates, sent early in
  // key order) and whose 1,050 others changed only in a field nothing maps: each of those
  // stores its new source digest, a scattered state change, and the planner commits them in
  // groups of 1,000. The stop the destination's write asked for is seen at that commit, on the
  // planning thread, while the batch is out (or answered but not collected): what the
  // destination confirmed for it is kept.
  StopGuard guard;
  Harness h(people_spec());
  h.source.caps.incremental_read = false;  // read in full, as a CSV file is
  for (int i = 0; i < 1050; ++i) h.person(i);
  REQUIRE(h.run().destination.created == 1050);
  for (int i = 0; i < 1050; ++i) {
    auto fields = h.source.records.at("s" + std::to_string(i)).fields;
    fields["extra"] = i;  // read, mapped nowhere
    h.source.put("s" + std::to_string(i), fields);
  }
  for (int i = 0; i < 50; ++i)  // "aaa..." sorts before "user...": planned first
    h.source.put("n" + std::to_string(i), {{"email", "aaa" + std::to_string(i) + "@acme.io"}, {"name", "New"}, {"age", i}});
  h.destination.on_write = [&](std::size_t) { util::request_stop(SIGTERM); };
  auto report = h.run();
  CHECK(report.exit_code == 143);
  CHECK(report.destination.created == 50);
  CHECK(h.store->pending_count() == 0);  // the batch's creates are linked, not left as intents
  CHECK(h.store->link_count() == 1100);
  CHECK(h.destination.records.size() == 1100);

  util::request_stop(0);
  h.destination.on_write = nullptr;
  auto resumed = h.run();
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.destination.created == 0);
  CHECK(resumed.destination.unchanged == 1100);
  CHECK(h.destination.records.size() == 1100);
}

TEST_CASE("a source read on a second thread stages the same records; its failures and stops end the run cleanly",
          "[engine][background-read]") {
  StopGuard guard;
  // The same source read inline and in the background: the same plan, duplicates included.
  auto outcome = [](bool background) {
    Harness h(people_spec());
    h.source.caps.read_in_background = background;
    h.source.caps.unique_ids = false;
    for (int i = 0; i < 300; ++i) h.person(i);
    h.source.also_read.push_back(record("s7-again", {{"email", "USER7@acme.io"}, {"name", "Twin"}, {"age", 1}}));
    auto report = h.run();
    return std::make_tuple(report.exit_code, report.source.read, report.destination.created,
                           report.destination.rejected, h.destination.records.size());
  };
  CHECK(outcome(true) == outcome(false));
  CHECK(std::get<3>(outcome(true)) == 1);  // the shared key, neither of its records written

  // The source fails after three pages: a connection error, and nothing is written.
  Harness failing(people_spec());
  failing.source.caps.read_in_background = true;
  for (int i = 0; i < 100; ++i) failing.person(i);
  failing.source.on_page = [](std::size_t page) {
    if (page == 3) throw connectors::ConnectorError(connectors::ErrorKind::transient, "fake: the read broke off");
  };
  auto broken = failing.run();
  CHECK(broken.exit_code == engine::exit_code::connection);
  CHECK_THAT(broken.error, Catch::Contains("the read broke off"));
  CHECK(failing.destination.records.empty());

  // A stop request while pages are still coming: the reader is stopped and the run recorded.
  Harness stopped(people_spec());
  stopped.source.caps.read_in_background = true;
  for (int i = 0; i < 200; ++i) stopped.person(i);
  stopped.source.on_page = [](std::size_t page) {
    if (page == 2) util::request_stop(SIGINT);
  };
  auto interrupted = stopped.run();
  CHECK(interrupted.exit_code == 130);
  CHECK(stopped.destination.records.empty());
  util::request_stop(0);
  stopped.source.on_page = nullptr;
  CHECK(stopped.run().destination.created == 200);
}

TEST_CASE("state commits: grouped across batches, at most 1,000 updates a transaction, and what was confirmed is "
          "kept when the destination fails",
          "[engine][commits]") {
  Harness h(people_spec());
  std::vector<std::size_t> commits;
  h.store = state::make_memory_store(&commits);
  h.destination.caps.max_batch = 500;
  for (int i = 0; i < 2500; ++i) h.person(i);
  REQUIRE(h.run().destination.created == 2500);
  // Each create is a record, an erased intent and a history entry: 7,500 changes in one transaction.
  CHECK(std::count_if(commits.begin(), commits.end(), [](std::size_t n) { return n >= 7500; }) == 1);

  for (int i = 0; i < 2500; ++i) h.person(i, "Renamed " + std::to_string(i));
  commits.clear();
  REQUIRE(h.run().destination.updated == 2500);
  // 2,500 updates (a record, an erased intent and a history entry each) in three transactions,
  // none over 1,000 updates.
  std::size_t update_commits = 0;
  for (std::size_t n : commits) {
    CHECK(n <= 3 * 1000);
    if (n >= 3 * 500) ++update_commits;
  }
  CHECK(update_commits == 3);

  // The destination gives up at the third batch (applied there, never confirmed): the two
  // confirmed batches are in the state although their group was not committed yet.
  Harness failing(people_spec());
  failing.destination.caps.max_batch = 10;
  for (int i = 0; i < 35; ++i) failing.person(i);
  failing.destination.on_write = [&](std::size_t calls) {
    if (calls == 3) failing.destination.crash_after_write = true;  // this very write then fails
  };
  auto report = failing.run();
  CHECK(report.exit_code == engine::exit_code::connection);
  CHECK(failing.store->link_count() == 20);
}

TEST_CASE("a last full run stamped in the future does not hold off full reconciliation", "[engine][clock]") {
  auto spec = people_spec();
  spec.full_sync_every_ms = 24 * 3600 * 1000;
  Harness h(spec);
  h.person(1);
  h.fake_clock.set_now_ms(*util::parse_iso8601("2026-12-31T00:00:00Z"));  // a clock a month ahead
  REQUIRE(h.run().kind == engine::RunKind::baseline);
  h.fake_clock.set_now_ms(*util::parse_iso8601("2026-12-01T00:00:00Z"));  // set right again
  CHECK(h.run().kind == engine::RunKind::full);
  CHECK(h.run().kind == engine::RunKind::incremental);
}

TEST_CASE("keys that differ only in Unicode case are one key", "[engine][unicode]") {
  Harness h(people_spec());
  h.source.put("a", {{"email", "ÅSA.Ünicode@Example.com"}, {"name", "Åsa"}, {"age", 1}});
  h.destination.put("d", {{"email", "åsa.ünicode@example.com"}, {"full_name", "Åsa"}, {"age", 1}});
  auto report = h.run();
  CHECK(report.exit_code == 0);
  CHECK(report.destination.created == 0);
  CHECK(h.destination.records.size() == 1);
  CHECK(h.store->get_link("åsa.ünicode@example.com")->destination_id == "d");
}

TEST_CASE("numbers keep their digits, and an unchanged full run writes nothing", "[engine][exact]") {
  auto spec = people_spec();
  spec.field_map.push_back({"amount", "amount", {}, {}});
  spec.field_map.push_back({"tags", "tags", {}, {}});
  spec.field_map.push_back({"city", "address.city", {}, {}});
  spec.schema = {{"amount", spec::FieldType::number, false, {}, {}},
                 {"tags", spec::FieldType::multiselect, false, {"a", "b", "c"}, {}}};
  Harness h(spec);
  h.source.put("s1", {{"email", "a@acme.io"}, {"name", "A"}, {"age", 1}, {"amount", "12345678901234567.89"},
                      {"tags", "c;a"}, {"city", "Oslo"}});
  h.source.put("s2", {{"email", "b@acme.io"}, {"name", "B"}, {"age", 2}, {"amount", "12345678901234567.88"},
                      {"tags", "b"}, {"city", "Rome"}});
  REQUIRE(h.run().destination.created == 2);
  CHECK(h.destination.find_by("email", "a@acme.io")->fields["amount"] == "12345678901234567.89");
  CHECK(h.destination.find_by("email", "a@acme.io")->fields["tags"] == nlohmann::json({"a", "c"}));

  // The destination spells the same values its own way: a multiselect as text in another
  // order, the nested object as JSON text.
  auto& stored = h.destination.records.at(h.destination.find_by("email", "a@acme.io")->id);
  stored.fields["tags"] = "c;a";
  stored.fields["address"] = R"({"city": "Oslo"})";
  engine::RunOptions full;
  full.full = true;
  auto report = h.run(full);
  CHECK(h.writes(report) == 0);

  // One cent apart is a change, although a double cannot tell them apart.
  h.source.put("s2", {{"email", "b@acme.io"}, {"name", "B"}, {"age", 2}, {"amount", "12345678901234567.89"},
                      {"tags", "b"}, {"city", "Rome"}});
  CHECK(h.run().destination.updated == 1);
}

TEST_CASE("the empty-source safeguard says when the filter, not the source, left nothing", "[engine][safeguard]") {
  auto spec = people_spec(spec::Mode::mirror);
  spec.source.filter = "age > 100";
  Harness h(spec);
  for (int i = 0; i < 4; ++i) h.person(i);
  h.spec.source.filter = "";  // the baseline syncs everyone...
  h.compiled = std::make_unique<engine::CompiledSync>(h.spec);
  REQUIRE(h.run().destination.created == 4);
  h.spec.source.filter = "age > 100";  // ...then a filter that keeps no one
  h.compiled = std::make_unique<engine::CompiledSync>(h.spec);
  engine::RunOptions full;
  full.full = true;
  auto report = h.run(full);
  CHECK(report.exit_code == engine::exit_code::safeguard);
  CHECK_THAT(report.error, Catch::Contains("the filter matched none of the 4 records the source returned"));
  CHECK(h.destination.records.size() == 4);

  h.source.records.clear();
  report = h.run(full);
  CHECK_THAT(report.error, Catch::Contains("the source returned no records"));
}
