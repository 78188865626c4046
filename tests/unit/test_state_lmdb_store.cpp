// StateStore behaviour, run against both the LMDB store and the in-memory fake, plus the
// LMDB-only properties (persistence, read-only opens, permissions, crash safety).
#include "state/lmdb_store.hpp"
#include "state/lmdb_support.hpp"
#include "state/record_codec.hpp"
#include "state/memory_store.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <lmdb.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace synctool::state;
using synctool::testing::TempDir;

struct MemoryFixture {
  std::unique_ptr<StateStore> store = make_memory_store();
};

struct LmdbFixture {
  TempDir dir;
  std::unique_ptr<StateStore> store = open_lmdb_store(dir / "sync", false);
};

void commit_link(StateStore& store, const std::string& key, const Link& link) {
  auto txn = store.begin();
  txn->put_link(key, link);
  txn->commit();
}

std::vector<std::string> link_keys(const StateStore& store) {
  std::vector<std::string> keys;
  store.for_each_link([&](const std::string& key, const Link&) {
    keys.push_back(key);
    return true;
  });
  return keys;
}

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEMPLATE_TEST_CASE("state store: links and reverse lookups", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;

  commit_link(store, "a@example.com", {"s1", "d1"});
  commit_link(store, "b@example.com", {"s2", ""});

  auto link = store.get_link("a@example.com");
  REQUIRE(link);
  CHECK(link->source_id == "s1");
  CHECK(link->destination_id == "d1");
  CHECK(store.key_for_source_id("s1") == "a@example.com");
  CHECK(store.key_for_destination_id("d1") == "a@example.com");
  CHECK(store.key_for_source_id("s2") == "b@example.com");
  CHECK_FALSE(store.key_for_destination_id(""));
  CHECK_FALSE(store.get_link("nobody"));
  CHECK_FALSE(store.key_for_source_id("s9"));
  CHECK(store.link_count() == 2);

  SECTION("erase_link removes the reverse entries") {
    auto txn = store.begin();
    txn->erase_link("a@example.com");
    txn->erase_link("never-linked");
    txn->commit();
    CHECK_FALSE(store.get_link("a@example.com"));
    CHECK_FALSE(store.key_for_source_id("s1"));
    CHECK_FALSE(store.key_for_destination_id("d1"));
    CHECK(store.link_count() == 1);
  }
}

TEMPLATE_TEST_CASE("state store: relinking updates reverse entries", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;

  commit_link(store, "k", {"s1", ""});
  commit_link(store, "k", {"s1", "d1"});  // destination confirmed later
  CHECK(store.key_for_source_id("s1") == "k");
  CHECK(store.key_for_destination_id("d1") == "k");

  commit_link(store, "k", {"s2", "d1"});  // source record replaced
  CHECK_FALSE(store.key_for_source_id("s1"));
  CHECK(store.key_for_source_id("s2") == "k");
  CHECK(store.key_for_destination_id("d1") == "k");

  SECTION("an id taken over by another key keeps pointing there") {
    commit_link(store, "other", {"s3", "d1"});
    CHECK(store.key_for_destination_id("d1") == "other");
    auto txn = store.begin();
    txn->erase_link("k");
    txn->commit();
    CHECK(store.key_for_destination_id("d1") == "other");
    CHECK_FALSE(store.key_for_source_id("s2"));
  }

  SECTION("changes inside one transaction see each other") {
    auto txn = store.begin();
    txn->put_link("k", {"s4", "d4"});
    txn->put_link("k", {"s5", "d4"});
    txn->commit();
    CHECK_FALSE(store.key_for_source_id("s2"));
    CHECK_FALSE(store.key_for_source_id("s4"));
    CHECK(store.key_for_source_id("s5") == "k");
    CHECK_FALSE(store.key_for_destination_id("d1"));
    CHECK(store.key_for_destination_id("d4") == "k");
  }
}

TEMPLATE_TEST_CASE("state store: base, pending, failed and conflicts round-trip", "[state]", MemoryFixture,
                   LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;

  BaseValue base;
  base.values = {{"email", "a@example.com"}, {"merge_fields", {{"FNAME", "Ada"}}}, {"n", 3.5}};
  base.hash = "abc123";
  base.source_modified = "2026-01-01T00:00:00Z";
  base.destination_modified = "2026-01-02T00:00:00Z";
  PendingIntent intent{"destination", {{"email", "b@example.com"}}, 1'700'000'000'123};
  FailedRow failed{"s7", "missing required field", "record", 3, 1000, 2000, "d-9"};
  Conflict conflict{{{"name", "A"}}, {{"name", "B"}}, 4242, {{"name", "base"}}, {{"name", "chosen"}}};

  {
    auto txn = store.begin();
    txn->put_base("a", base);
    txn->put_pending("b", intent);
    txn->put_failed("c", failed);
    txn->put_failed("a", FailedRow{"s1", "boom", "transient", 1, 5, 5, ""});
    txn->put_conflict("d", conflict);
    txn->commit();
  }

  auto b = store.get_base("a");
  REQUIRE(b);
  CHECK(b->values == base.values);
  CHECK(b->hash == "abc123");
  CHECK(b->source_modified == base.source_modified);
  CHECK(b->destination_modified == base.destination_modified);
  CHECK(store.get_base_hash("a") == "abc123");
  CHECK_FALSE(store.get_base_hash("b"));

  auto p = store.get_pending("b");
  REQUIRE(p);
  CHECK(p->side == "destination");
  CHECK(p->values == intent.values);
  CHECK(p->sent_at_ms == 1'700'000'000'123);

  auto r = store.get_failed("c");
  REQUIRE(r);
  CHECK(r->source_id == "s7");
  CHECK(r->error == "missing required field");
  CHECK(r->kind == "record");
  CHECK(r->attempts == 3);
  CHECK(r->first_seen_ms == 1000);
  CHECK(r->last_seen_ms == 2000);
  CHECK(r->delete_id == "d-9");

  CHECK(store.pending_count() == 1);
  CHECK(store.failed_count() == 2);

  std::vector<std::string> failed_keys;
  store.for_each_failed([&](const std::string& key, const FailedRow&) {
    failed_keys.push_back(key);
    return true;
  });
  CHECK(failed_keys == std::vector<std::string>{"a", "c"});

  int conflicts = 0;
  store.for_each_conflict([&](const std::string& key, const Conflict& c) {
    CHECK(key == "d");
    CHECK(c.source_values == conflict.source_values);
    CHECK(c.destination_values == conflict.destination_values);
    CHECK(c.base_values == conflict.base_values);
    CHECK(c.resolution == conflict.resolution);
    CHECK(c.seen_ms == 4242);
    ++conflicts;
    return true;
  });
  CHECK(conflicts == 1);

  int pendings = 0;
  store.for_each_pending([&](const std::string& key, const PendingIntent& pi) {
    CHECK(key == "b");
    CHECK(pi.values == intent.values);
    ++pendings;
    return true;
  });
  CHECK(pendings == 1);

  {
    auto txn = store.begin();
    txn->erase_base("a");
    txn->erase_pending("b");
    txn->erase_failed("c");
    txn->erase_conflict("d");
    txn->erase_failed("not-there");
    txn->commit();
  }
  CHECK_FALSE(store.get_base("a"));
  CHECK_FALSE(store.get_pending("b"));
  CHECK_FALSE(store.get_failed("c"));
  CHECK(store.failed_count() == 1);
  CHECK(store.pending_count() == 0);
}

TEMPLATE_TEST_CASE("state store: iteration is sorted and can stop early", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  {
    auto txn = store.begin();
    for (const char* key : {"m", "b", "z", "a", "k"}) txn->put_link(key, {std::string("s-") + key, ""});
    txn->commit();
  }
  CHECK(link_keys(store) == std::vector<std::string>{"a", "b", "k", "m", "z"});

  std::vector<std::string> first_two;
  store.for_each_link([&](const std::string& key, const Link&) {
    first_two.push_back(key);
    return first_two.size() < 2;
  });
  CHECK(first_two == std::vector<std::string>{"a", "b"});
}

TEMPLATE_TEST_CASE("state store: a callback may commit while iterating", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  {
    auto txn = store.begin();
    for (int i = 0; i < 50; ++i) txn->put_link("k" + std::to_string(100 + i), {"s" + std::to_string(i), ""});
    txn->commit();
  }
  int seen = 0;
  store.for_each_link([&](const std::string& key, const Link& link) {
    auto txn = store.begin();
    txn->put_link(key, {link.source_id, "d-" + key});
    txn->put_base(key, BaseValue{});
    txn->commit();
    CHECK(store.get_link(key)->destination_id == "d-" + key);
    ++seen;
    return true;
  });
  CHECK(seen == 50);
  CHECK(store.key_for_destination_id("d-k120") == "k120");
}

TEMPLATE_TEST_CASE("state store: uncommitted transactions are discarded", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  commit_link(store, "kept", {"s1", "d1"});
  {
    auto txn = store.begin();
    txn->put_link("lost", {"s2", "d2"});
    txn->erase_link("kept");
    txn->set_meta(meta::source_cursor, "c1");
    txn->put_run(5, {{"ok", true}});
    // Not visible before commit either.
    CHECK_FALSE(store.get_link("lost"));
    CHECK(store.get_link("kept"));
  }
  CHECK_FALSE(store.get_link("lost"));
  CHECK_FALSE(store.key_for_source_id("s2"));
  CHECK(store.key_for_source_id("s1") == "kept");
  CHECK_FALSE(store.get_meta(meta::source_cursor));
  CHECK(store.runs(0).empty());
  // The aborted transaction released the writer.
  commit_link(store, "next", {"s3", ""});
  CHECK(store.link_count() == 2);
}

TEMPLATE_TEST_CASE("state store: one write transaction at a time", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  auto first = store.begin();
  CHECK_THROWS_AS(store.begin(), std::logic_error);
  first->set_meta("x", "1");
  first->commit();
  CHECK_THROWS_AS(first->commit(), std::logic_error);
  CHECK_THROWS_AS(first->set_meta("x", "2"), std::logic_error);
  // The committed transaction object may still be alive while the next one starts.
  auto second = store.begin();
  second->set_meta("x", "3");
  second->commit();
  first.reset();
  CHECK(store.get_meta("x") == "3");
}

TEMPLATE_TEST_CASE("state store: meta", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  CHECK(store.get_meta(meta::format_version) == "4");
  CHECK_FALSE(store.get_meta(meta::source_cursor));
  {
    auto txn = store.begin();
    txn->set_meta(meta::source_cursor, "2026-01-01T00:00:00Z");
    txn->set_meta(meta::paused, "1");
    txn->commit();
  }
  CHECK(store.get_meta(meta::source_cursor) == "2026-01-01T00:00:00Z");
  {
    auto txn = store.begin();
    txn->set_meta(meta::source_cursor, "2026-02-01T00:00:00Z");
    txn->erase_meta(meta::paused);
    txn->commit();
  }
  CHECK(store.get_meta(meta::source_cursor) == "2026-02-01T00:00:00Z");
  CHECK_FALSE(store.get_meta(meta::paused));
}

TEMPLATE_TEST_CASE("state store: clear_sync_state keeps runs", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  {
    auto txn = store.begin();
    txn->put_link("k", {"s", "d"});
    txn->put_base("k", BaseValue{});
    txn->put_pending("p", PendingIntent{});
    txn->put_failed("f", FailedRow{});
    txn->put_conflict("c", Conflict{});
    txn->set_meta(meta::source_cursor, "1");
    txn->set_meta(meta::destination_cursor, "2");
    txn->set_meta(meta::baseline_done, "1");
    txn->set_meta(meta::identity_hash, "h");
    txn->set_meta(meta::last_full_sync, "2026-01-01T00:00:00Z");
    txn->set_meta(meta::last_run, "2026-01-01T00:00:00Z");
    txn->set_meta(meta::paused, "1");
    txn->put_run(100, {{"id", 1}});
    txn->commit();
  }
  {
    auto txn = store.begin();
    txn->clear_sync_state();
    txn->commit();
  }
  CHECK(store.link_count() == 0);
  CHECK_FALSE(store.key_for_source_id("s"));
  CHECK_FALSE(store.key_for_destination_id("d"));
  CHECK_FALSE(store.get_base("k"));
  CHECK(store.pending_count() == 0);
  CHECK(store.failed_count() == 0);
  int conflicts = 0;
  store.for_each_conflict([&](const std::string&, const Conflict&) { return ++conflicts, true; });
  CHECK(conflicts == 0);
  CHECK_FALSE(store.get_meta(meta::source_cursor));
  CHECK_FALSE(store.get_meta(meta::destination_cursor));
  CHECK_FALSE(store.get_meta(meta::baseline_done));
  CHECK_FALSE(store.get_meta(meta::identity_hash));
  CHECK_FALSE(store.get_meta(meta::last_full_sync));
  CHECK(store.get_meta(meta::last_run));
  CHECK(store.get_meta(meta::paused) == "1");
  CHECK(store.get_meta(meta::format_version) == "4");
  REQUIRE(store.runs(0).size() == 1);
  CHECK(store.runs(0)[0]["id"] == 1);

  // The cleared store is usable again.
  commit_link(store, "k", {"s", "d"});
  CHECK(store.key_for_source_id("s") == "k");
}

TEMPLATE_TEST_CASE("state store: runs are newest first, by run sequence", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  {
    auto txn = store.begin();
    // Start times out of order, as a clock that jumps would give them; 256 and 1 differ in
    // byte order only if the key is big-endian.
    for (std::int64_t t : {std::int64_t{256}, std::int64_t{1}, std::int64_t{1'700'000'000'000}, std::int64_t{65536}})
      txn->put_run(t, {{"started", t}});
    txn->commit();
  }
  auto all = store.runs(0);
  REQUIRE(all.size() == 4);
  CHECK(all[0]["started"] == 65536);
  CHECK(all[1]["started"] == 1'700'000'000'000);
  CHECK(all[2]["started"] == 1);
  CHECK(all[3]["started"] == 256);
  auto two = store.runs(2);
  REQUIRE(two.size() == 2);
  CHECK(two[1]["started"] == 1'700'000'000'000);
  CHECK(store.runs(10).size() == 4);
  CHECK(store.get_meta(meta::run_sequence) == "4");
}

TEMPLATE_TEST_CASE("state store: a clock that jumps back never reorders or overwrites runs", "[state]", MemoryFixture,
                   LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  auto record = [&](std::int64_t started_ms, int id) {
    auto txn = store.begin();
    txn->put_run(started_ms, {{"id", id}});
    txn->commit();
  };
  record(2'000'000, 1);
  record(2'000'000, 2);  // the same millisecond
  record(1'000'000, 3);  // the clock was set back
  record(3'000'000, 4);
  auto runs = store.runs(0);
  REQUIRE(runs.size() == 4);
  CHECK(runs[0]["id"] == 4);
  CHECK(runs[1]["id"] == 3);
  CHECK(runs[2]["id"] == 2);
  CHECK(runs[3]["id"] == 1);
  CHECK(store.runs(1).at(0)["id"] == 4);

  SECTION("clearing the sync state keeps the sequence going") {
    auto txn = store.begin();
    txn->clear_sync_state();
    txn->commit();
    record(0, 5);
    CHECK(store.runs(1).at(0)["id"] == 5);
    CHECK(store.get_meta(meta::run_sequence) == "5");
  }
}

TEMPLATE_TEST_CASE("state store: long keys and ids", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  const std::string prefix(1500, 'x');
  const std::string key_a = prefix + "-a" + std::string(498, 'a');
  const std::string key_b = prefix + "-b" + std::string(498, 'b');
  const std::string long_id(3000, '7');
  {
    auto txn = store.begin();
    txn->put_link(key_a, {long_id, "d-a"});
    txn->put_link(key_b, {"s-b", long_id + "d"});
    txn->put_base(key_a, BaseValue{{{"k", 1}}, "h", "", ""});
    txn->put_failed(key_b, FailedRow{"s-b", "e", "record", 1, 1, 1, ""});
    txn->put_link("zzz-short", {"s-short", ""});
    txn->commit();
  }
  CHECK(store.get_link(key_a)->source_id == long_id);
  CHECK(store.key_for_source_id(long_id) == key_a);
  CHECK(store.key_for_destination_id(long_id + "d") == key_b);
  CHECK(store.get_base(key_a)->values == nlohmann::json{{"k", 1}});
  CHECK(store.get_base_hash(key_a) == "h");
  CHECK(store.get_failed(key_b)->error == "e");
  CHECK_FALSE(store.get_link(prefix));

  auto keys = link_keys(store);
  REQUIRE(keys.size() == 3);
  // Keys differing in their first 400 bytes keep their true order.
  CHECK(keys[2] == "zzz-short");
  CHECK(std::set<std::string>{keys[0], keys[1]} == std::set<std::string>{key_a, key_b});

  std::vector<std::string> failed;
  store.for_each_failed([&](const std::string& key, const FailedRow&) {
    failed.push_back(key);
    return true;
  });
  CHECK(failed == std::vector<std::string>{key_b});

  {
    auto txn = store.begin();
    txn->put_link(key_a, {"s-a2", "d-a"});
    txn->commit();
  }
  CHECK_FALSE(store.key_for_source_id(long_id));
  CHECK(store.key_for_source_id("s-a2") == key_a);
}

TEMPLATE_TEST_CASE("state store: empty keys", "[state]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  CHECK_FALSE(store.get_link(""));
  CHECK_FALSE(store.key_for_source_id(""));
  CHECK_FALSE(store.get_base(""));
  auto txn = store.begin();
  CHECK_THROWS_AS(txn->put_link("", {"s", "d"}), std::invalid_argument);
  CHECK_THROWS_AS(txn->put_base("", BaseValue{}), std::invalid_argument);
}

TEST_CASE("lmdb store: data persists across close and reopen", "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  {
    auto store = open_lmdb_store(folder, false);
    auto txn = store->begin();
    txn->put_link("k", {"s", "d"});
    txn->put_base("k", BaseValue{{{"a", 1}}, "h", "", ""});
    txn->set_meta(meta::source_cursor, "c");
    txn->put_run(7, {{"kind", "full"}});
    txn->commit();
  }
  for (bool read_only : {false, true}) {
    auto store = open_lmdb_store(folder, read_only);
    REQUIRE(store);
    CHECK(store->get_link("k")->destination_id == "d");
    CHECK(store->key_for_destination_id("d") == "k");
    CHECK(store->get_base("k")->values == nlohmann::json{{"a", 1}});
    CHECK(store->get_meta(meta::source_cursor) == "c");
    CHECK(store->get_meta(meta::format_version) == "4");
    CHECK(store->runs(0).at(0)["kind"] == "full");
    CHECK(store->runs(0).at(0)["run"] == 1);  // its sequence number, whatever the start time
    CHECK(store->link_count() == 1);
  }
}

TEMPLATE_TEST_CASE("state store: source digests live and die with the base values", "[state]", MemoryFixture,
                   LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  const nlohmann::json values = {{"email", "a@x.io"}, {"n", 1}};
  {
    auto txn = store.begin();
    txn->put_record("a@x.io", {"s1", "d1"}, BaseView{values, "0123456789abcdef", "m", "", 77});
    txn->put_record("b@x.io", {"s2", "d2"}, BaseView{values, "0123456789abcdef", "m", ""});
    txn->commit();
  }
  CHECK(store.get_summary("a@x.io")->source_digest == 77);
  CHECK(store.get_base("a@x.io")->source_digest == 77);
  CHECK(store.source_unchanged("a@x.io", "s1", 77));
  CHECK_FALSE(store.source_unchanged("a@x.io", "s1", 78));
  CHECK_FALSE(store.source_unchanged("a@x.io", "other", 77));  // another source record, same key
  CHECK_FALSE(store.source_unchanged("b@x.io", "s2", 0));     // no digest is never a match
  CHECK_FALSE(store.source_unchanged("zz", "s1", 77));
  {
    auto txn = store.begin();
    txn->set_source_digest("b@x.io", 5);
    txn->put_link("a@x.io", {"s1", "d9"});  // a new link keeps the digest of the base values
    txn->commit();
  }
  CHECK(store.source_unchanged("b@x.io", "s2", 5));
  CHECK(store.get_base("b@x.io")->values == values);
  CHECK(store.source_unchanged("a@x.io", "s1", 77));
  {
    auto txn = store.begin();
    txn->put_base("a@x.io", BaseValue{{{"n", 2}}, "fedcba9876543210", "", ""});  // new values, no digest
    txn->commit();
  }
  CHECK(store.get_summary("a@x.io")->source_digest == 0);
  CHECK_FALSE(store.source_unchanged("a@x.io", "s1", 77));
}

TEST_CASE("lmdb store: format version 3 (no source digests) is read as is and becomes 4 on a writable open",
          "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  {
    auto store = open_lmdb_store(folder, false);
    auto txn = store->begin();
    txn->put_record("k", {"s", "d"}, BaseView{nlohmann::json{{"a", 1}}, "0123456789abcdef", "", ""});
    txn->set_meta(meta::format_version, "3");  // what version 3 wrote: records without digests
    txn->commit();
  }
  {
    auto store = open_lmdb_store(folder, true);
    CHECK(store->get_meta(meta::format_version) == "3");
    CHECK(store->get_base("k")->values == nlohmann::json{{"a", 1}});
  }
  auto store = open_lmdb_store(folder, false);
  CHECK(store->get_meta(meta::format_version) == "4");
  CHECK(store->get_link("k")->destination_id == "d");
  CHECK(store->get_summary("k")->source_digest == 0);
}

TEST_CASE("lmdb store: read-only opens", "[state][lmdb]") {
  TempDir dir;
  CHECK(open_lmdb_store(dir / "missing", true) == nullptr);
  CHECK_FALSE(std::filesystem::exists(dir / "missing"));
  std::filesystem::create_directory(dir / "empty");
  CHECK(open_lmdb_store(dir / "empty", true) == nullptr);

  open_lmdb_store(dir / "sync", false).reset();
  auto store = open_lmdb_store(dir / "sync", true);
  REQUIRE(store);
  CHECK_THROWS_AS(store->begin(), std::logic_error);
  CHECK(store->link_count() == 0);
  CHECK(store->runs(0).empty());
}

TEST_CASE("lmdb store: folder and file permissions", "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "state" / "sync";
  auto store = open_lmdb_store(folder, false);
  CHECK(mode_of(folder) == 0700);
  CHECK((mode_of(folder / "data.mdb") & 0077) == 0);
  CHECK((mode_of(folder / "lock.mdb") & 0077) == 0);
}

TEST_CASE("lmdb store: errors name the folder", "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  {
    auto store = open_lmdb_store(folder, false);
    auto txn = store->begin();
    txn->set_meta(meta::format_version, "99");
    txn->commit();
  }
  CHECK_THROWS_WITH(open_lmdb_store(folder, false),
                    Catch::Contains("state " + folder.string()) && Catch::Contains("\"99\""));
  CHECK_THROWS_WITH(open_lmdb_store(folder, true), Catch::Contains("state " + folder.string()));
}

TEST_CASE("lmdb store: a killed writer leaves the last committed state", "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: commit one batch, then die by SIGKILL in the middle of the next.
    auto store = open_lmdb_store(folder, false);
    {
      auto txn = store->begin();
      txn->put_link("committed", {"s1", "d1"});
      txn->set_meta(meta::source_cursor, "c1");
      txn->commit();
    }
    auto txn = store->begin();
    for (int i = 0; i < 5000; ++i) txn->put_link("uncommitted-" + std::to_string(i), {"x" + std::to_string(i), ""});
    txn->set_meta(meta::source_cursor, "c2");
    ::kill(::getpid(), SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  auto store = open_lmdb_store(folder, false);
  CHECK(store->link_count() == 1);
  CHECK(store->get_link("committed")->source_id == "s1");
  CHECK_FALSE(store->key_for_source_id("x0"));
  CHECK(store->get_meta(meta::source_cursor) == "c1");
  // The dead writer's lock is gone: writing works.
  auto txn = store->begin();
  txn->put_link("after", {"s2", ""});
  txn->commit();
  CHECK(store->link_count() == 2);
}

TEST_CASE("lmdb store: many links", "[state][lmdb]") {
  TempDir dir;
  auto store = open_lmdb_store(dir / "sync", false);
  const int n = 5'000;
  for (int batch = 0; batch < n; batch += 1000) {
    auto txn = store->begin();
    for (int i = batch; i < batch + 1000; ++i) {
      const auto key = "user" + std::to_string(i) + "@example.com";
      txn->put_link(key, {"s" + std::to_string(i), "d" + std::to_string(i)});
      txn->put_base(key, BaseValue{{{"email", key}, {"i", i}}, "h", "", ""});
    }
    txn->commit();
  }
  CHECK(store->link_count() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; i += 97) {
    const auto key = "user" + std::to_string(i) + "@example.com";
    CHECK(store->key_for_source_id("s" + std::to_string(i)) == key);
    CHECK(store->get_base(key)->values["i"] == i);
  }
  std::size_t count = 0;
  std::string previous;
  bool sorted = true;
  store->for_each_link([&](const std::string& key, const Link&) {
    if (!previous.empty() && !(previous < key)) sorted = false;
    previous = key;
    ++count;
    return true;
  });
  CHECK(count == static_cast<std::size_t>(n));
  CHECK(sorted);
}

namespace {

// A state as format version 1 wrote it: runs keyed by their start time in milliseconds
// (big-endian), every database created, format_version "1".
void write_version_1_state(const std::filesystem::path& folder, const std::vector<std::int64_t>& run_starts) {
  std::filesystem::create_directories(folder);
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == MDB_SUCCESS);
  REQUIRE(mdb_env_set_maxdbs(env, 16) == MDB_SUCCESS);
  REQUIRE(mdb_env_open(env, folder.c_str(), 0, 0600) == MDB_SUCCESS);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == MDB_SUCCESS);
  MDB_dbi meta_db = 0, runs_db = 0;
  for (const char* name :
       {"meta", "links", "source_ids", "destination_ids", "base", "pending", "failed", "conflicts", "runs"}) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, name, MDB_CREATE, &dbi) == MDB_SUCCESS);
    if (std::string_view(name) == "meta") meta_db = dbi;
    if (std::string_view(name) == "runs") runs_db = dbi;
  }
  std::string name = meta::format_version, version = "1";
  MDB_val k{name.size(), name.data()}, v{version.size(), version.data()};
  REQUIRE(mdb_put(txn, meta_db, &k, &v, 0) == MDB_SUCCESS);
  for (std::int64_t started : run_starts) {
    std::string key(8, '\0');
    auto bits = static_cast<std::uint64_t>(started);
    for (int i = 7; i >= 0; --i, bits >>= 8) key[static_cast<std::size_t>(i)] = static_cast<char>(bits & 0xff);
    std::string report = nlohmann::json{{"started", started}}.dump();
    MDB_val rk{key.size(), key.data()}, rv{report.size(), report.data()};
    REQUIRE(mdb_put(txn, runs_db, &rk, &rv, 0) == MDB_SUCCESS);
  }
  REQUIRE(mdb_txn_commit(txn) == MDB_SUCCESS);
  mdb_env_close(env);
}

std::vector<std::int64_t> run_starts(const StateStore& store) {
  std::vector<std::int64_t> out;
  for (const auto& run : store.runs(0)) out.push_back(run["started"].get<std::int64_t>());
  return out;
}

}  // namespace

TEST_CASE("lmdb store: format version 1 is read as is and upgraded on a writable open", "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  write_version_1_state(folder, {300, 100, 200, 5});
  const std::vector<std::int64_t> newest_first = {300, 200, 100, 5};
  {
    auto store = open_lmdb_store(folder, true);
    REQUIRE(store);
    CHECK(store->get_meta(meta::format_version) == "1");
    CHECK(run_starts(*store) == newest_first);
  }
  {
    auto store = open_lmdb_store(folder, false);
    CHECK(store->get_meta(meta::format_version) == "4");
    CHECK(store->get_meta(meta::run_sequence) == "4");
    CHECK(run_starts(*store) == newest_first);
    // The next run comes first whatever its clock said.
    auto txn = store->begin();
    txn->put_run(1, {{"started", 1}});
    txn->commit();
    CHECK(store->runs(1).at(0)["started"] == 1);
  }
  auto store = open_lmdb_store(folder, true);
  CHECK(store->get_meta(meta::format_version) == "4");
  CHECK(run_starts(*store) == std::vector<std::int64_t>{1, 300, 200, 100, 5});
}

namespace {

// A state as format version 2 wrote it: a key's link in `links`, its base values in `base`
// (CBOR maps, a long key's value wrapped with the full key), both reverse indexes. With
// `half_upgraded`, the keys from `moved_from` on are already in `records` and the upgrade is
// marked as under way, as a run killed between two upgrade batches leaves it.
struct Version2Entry {
  std::string key;
  std::optional<Link> link;
  std::optional<BaseValue> base;
};

void write_version_2_state(const std::filesystem::path& folder, const std::vector<Version2Entry>& entries,
                           std::optional<std::size_t> moved_from = std::nullopt) {
  namespace detail = synctool::state::detail;
  std::filesystem::create_directories(folder);
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == MDB_SUCCESS);
  REQUIRE(mdb_env_set_maxdbs(env, 16) == MDB_SUCCESS);
  REQUIRE(mdb_env_set_mapsize(env, std::size_t{1} << 30) == MDB_SUCCESS);
  REQUIRE(mdb_env_open(env, folder.c_str(), 0, 0600) == MDB_SUCCESS);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == MDB_SUCCESS);
  std::map<std::string, MDB_dbi> dbi;
  for (const char* name :
       {"meta", "links", "source_ids", "destination_ids", "base", "pending", "failed", "conflicts", "runs"})
    REQUIRE(mdb_dbi_open(txn, name, MDB_CREATE, &dbi[name]) == MDB_SUCCESS);
  if (moved_from) REQUIRE(mdb_dbi_open(txn, "records", MDB_CREATE, &dbi["records"]) == MDB_SUCCESS);
  auto put = [&](const char* table, std::string_view key, std::string_view value) {
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
    if (int rc = mdb_put(txn, dbi.at(table), &k, &v, 0); rc != MDB_SUCCESS) FAIL(mdb_strerror(rc));
  };
  auto bytes = [](const std::vector<std::uint8_t>& b) { return std::string(b.begin(), b.end()); };
  put("meta", meta::format_version, "2");
  if (moved_from) put("meta", "upgrading_to", "3");
  std::vector<std::uint8_t> buffer;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    detail::StoredKey stored(e.key);
    const std::string stored_key(static_cast<const char*>(stored.val().mv_data), stored.val().mv_size);
    if (moved_from && i >= *moved_from) {
      detail::RecordParts parts;
      parts.has_link = e.link.has_value();
      if (e.link) parts.source_id = e.link->source_id, parts.destination_id = e.link->destination_id;
      parts.has_base = e.base.has_value();
      if (e.base) parts.hash = e.base->hash, parts.source_modified = e.base->source_modified;
      if (stored.hashed()) parts.full_key = e.key;
      detail::encode_record(parts, e.key, e.base ? &e.base->values : nullptr, {}, buffer);
      put("records", stored_key, bytes(buffer));
    } else {
      if (e.link) {
        detail::encode_value(stored, e.key, {{"s", e.link->source_id}, {"d", e.link->destination_id}}, buffer);
        put("links", stored_key, bytes(buffer));
      }
      if (e.base) {
        detail::encode_value(stored, e.key,
                             {{"v", e.base->values}, {"h", e.base->hash}, {"sm", e.base->source_modified}, {"dm", ""}},
                             buffer);
        put("base", stored_key, bytes(buffer));
      }
    }
    if (e.link && !e.link->source_id.empty()) put("source_ids", e.link->source_id, e.key);
    if (e.link && !e.link->destination_id.empty()) put("destination_ids", e.link->destination_id, e.key);
  }
  REQUIRE(mdb_txn_commit(txn) == MDB_SUCCESS);
  mdb_env_close(env);
}

std::vector<Version2Entry> version_2_entries(std::size_t n) {
  std::vector<Version2Entry> entries;
  for (std::size_t i = 0; i < n; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "user%06zu@example.com", i);
    BaseValue base{{{"email", key}, {"i", i}}, "00000000000000" + std::string(i % 2 ? "ab" : "cd"), "t", ""};
    entries.push_back({key, Link{"s" + std::to_string(i), "d" + std::to_string(i)}, base});
  }
  entries.push_back({std::string(450, 'x') + "@long.example", Link{"s-long", "d-long"},
                     BaseValue{{{"n", 1}}, "not a hex digest", "", ""}});
  entries.push_back({"zz-link-only", Link{"s-only", ""}, std::nullopt});
  entries.push_back({"zz-base-only", std::nullopt, BaseValue{{{"n", 2}}, "0123456789abcdef", "", ""}});
  return entries;
}

void check_version_2_entries(const StateStore& store, const std::vector<Version2Entry>& entries) {
  // Versions 1 and 2 counted links only (the base-only entry had none).
  const bool split = store.get_meta(meta::format_version) != "4";
  CHECK(store.link_count() == entries.size() - (split ? 1 : 0));
  std::size_t checked = 0;
  for (std::size_t i = 0; i < entries.size(); i += std::max<std::size_t>(1, entries.size() / 50)) {
    const auto& e = entries[i];
    INFO(e.key.substr(0, 40));
    auto link = store.get_link(e.key);
    REQUIRE(link.has_value() == e.link.has_value());
    if (link) {
      CHECK(link->source_id == e.link->source_id);
      CHECK(link->destination_id == e.link->destination_id);
      CHECK(store.key_for_source_id(e.link->source_id) == e.key);
    }
    auto base = store.get_base(e.key);
    REQUIRE(base.has_value() == e.base.has_value());
    if (base) {
      CHECK(base->values == e.base->values);
      CHECK(base->hash == e.base->hash);
      CHECK(store.get_base_hash(e.key) == e.base->hash);
      CHECK(base->source_modified == e.base->source_modified);
    }
    auto summary = store.get_summary(e.key);
    REQUIRE(summary);
    CHECK(summary->link.has_value() == e.link.has_value());
    CHECK(summary->base_hash == (e.base ? std::optional<std::string>(e.base->hash) : std::nullopt));
    ++checked;
  }
  for (std::size_t i : {entries.size() - 3, entries.size() - 2, entries.size() - 1}) {
    CHECK(store.get_summary(entries[i].key));
    CHECK(store.get_base(entries[i].key).has_value() == entries[i].base.has_value());
  }
  std::size_t links = 0;
  store.for_each_link([&](const std::string&, const Link&) { return ++links, true; });
  CHECK(links == entries.size() - 1);  // the base-only entry has none
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("lmdb store: format version 2 is read as is and upgraded to one record per key on a writable open",
          "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  // More keys than one upgrade transaction moves (20,000), so the upgrade takes batches.
  const auto entries = version_2_entries(20'100);
  write_version_2_state(folder, entries);
  {
    auto store = open_lmdb_store(folder, true);
    CHECK(store->get_meta(meta::format_version) == "2");
    check_version_2_entries(*store, entries);
  }
  {
    auto store = open_lmdb_store(folder, false);
    CHECK(store->get_meta(meta::format_version) == "4");
    CHECK_FALSE(store->get_meta("upgrading_to"));
    check_version_2_entries(*store, entries);
    // Both reverse indexes were kept; a sync that needs neither drops them.
    CHECK(store->id_indexes() == IdIndexes{true, true});
    auto txn = store->begin();
    txn->keep_id_indexes({false, false});
    txn->commit();
    CHECK(store->key_for_source_id("s7") == entries[7].key);  // found by a scan now
  }
  verify_lmdb_store(folder);
  auto store = open_lmdb_store(folder, true);
  check_version_2_entries(*store, entries);
  CHECK(store->id_indexes() == IdIndexes{false, false});
}

TEST_CASE("lmdb store: an upgrade cut off between batches is refused read-only and finished by the next writable open",
          "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  const auto entries = version_2_entries(300);
  write_version_2_state(folder, entries, 120);  // keys from the 120th on were moved already
  CHECK_THROWS_WITH(open_lmdb_store(folder, true),
                    Catch::Contains("upgrade to state format version 4 was interrupted") &&
                        Catch::Contains("synctool run"));
  {
    auto store = open_lmdb_store(folder, false);
    CHECK(store->get_meta(meta::format_version) == "4");
    check_version_2_entries(*store, entries);
  }
  verify_lmdb_store(folder);
}

TEST_CASE("lmdb store: reverse indexes are kept only where wanted", "[state][lmdb]") {
  TempDir dir;
  auto store = open_lmdb_store(dir / "sync", false);
  {
    auto txn = store->begin();
    txn->keep_id_indexes({true, false});
    for (int i = 0; i < 30; ++i)
      txn->put_record("k" + std::to_string(i), {"s" + std::to_string(i), "d" + std::to_string(i)},
                      BaseView{nlohmann::json{{"i", i}}, "0123456789abcdef", "", ""});
    txn->commit();
  }
  CHECK(store->key_for_source_id("s3") == "k3");
  CHECK(store->key_for_destination_id("d4") == "k4");  // by a scan
  {
    auto txn = store->begin();
    txn->put_record("k3", {"s3-new", "d3"}, BaseView{nlohmann::json{{"i", 3}}, "0123456789abcdef", "", ""});
    txn->erase_record("k5");
    txn->keep_id_indexes({false, true});
    txn->commit();
  }
  CHECK_FALSE(store->key_for_source_id("s3"));
  CHECK(store->key_for_source_id("s3-new") == "k3");
  CHECK_FALSE(store->key_for_source_id("s5"));
  CHECK_FALSE(store->key_for_destination_id("d5"));
  CHECK(store->key_for_destination_id("d3") == "k3");
  CHECK(store->get_summary("k3")->base_hash == "0123456789abcdef");
  CHECK(store->get_base("k3")->values == nlohmann::json{{"i", 3}});
  CHECK(store->link_count() == 29);
}

TEST_CASE("lmdb store: check, verify and remove", "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  CHECK(check_lmdb_store(folder).healthy);  // no state at all
  {
    auto store = open_lmdb_store(folder, false);
    auto txn = store->begin();
    txn->put_link("k", {"s", "d"});
    txn->put_run(1, {{"run", 1}});
    txn->commit();
  }
  verify_lmdb_store(folder);
  CHECK(check_lmdb_store(folder).healthy);
  std::filesystem::resize_file(folder / "data.mdb", 4096);
  auto check = check_lmdb_store(folder);
  CHECK_FALSE(check.healthy);
  CHECK(check.problem == StateProblem::damaged);
  CHECK_THAT(check.message, Catch::StartsWith("state " + folder.string()) && Catch::Contains("is truncated"));
  remove_lmdb_store(folder);
  CHECK_FALSE(std::filesystem::exists(folder / "data.mdb"));
  CHECK_FALSE(std::filesystem::exists(folder / "lock.mdb"));
  CHECK(open_lmdb_store(folder, true) == nullptr);
}

TEST_CASE("lmdb store: a new state is created whole", "[state][lmdb]") {
  TempDir dir;
  const auto folder = dir / "sync";
  open_lmdb_store(folder, false).reset();
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"data.mdb", "lock.mdb"});
  // A creation folder of a process that no longer runs is removed; pid 1 still runs.
  std::filesystem::create_directories(folder / "creating-999999999-abcdef");
  std::filesystem::create_directories(folder / "creating-1-abcdef");
  open_lmdb_store(folder, false).reset();
  CHECK_FALSE(std::filesystem::exists(folder / "creating-999999999-abcdef"));
  CHECK(std::filesystem::exists(folder / "creating-1-abcdef"));
  // LMDB's lock file has its blocks: on a full disk nothing is written through a sparse map.
  struct stat st {};
  REQUIRE(::stat((folder / "lock.mdb").c_str(), &st) == 0);
  CHECK(st.st_size >= 8192);
  CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 >= static_cast<std::uint64_t>(st.st_size));
}

TEST_CASE("record codec: random records round-trip, and cut or damaged bytes never read past the end",
          "[state][lmdb]") {
  namespace detail = synctool::state::detail;
  std::mt19937 rng(20261206);
  auto text = [&](std::size_t max) {
    std::string t(rng() % (max + 1), '\0');
    for (auto& c : t) c = static_cast<char>(rng() % 256);
    return t;
  };
  std::vector<std::uint8_t> buffer;
  for (int round = 0; round < 300; ++round) {
    const std::string key = round % 7 == 0 ? std::string() /* a hashed long key: the full key */ : text(30) + "k";
    const std::string full_key = key.empty() ? text(20) + "long" : std::string();
    const std::string& real_key = key.empty() ? full_key : key;
    std::string source_id = text(20), sm = text(30), dm = text(5);
    // Half the destination ids are the key itself (stored once), as SQL tables keyed by it give.
    std::string destination_id = round % 2 ? real_key : text(300);
    std::string hash = round % 3 == 0 ? text(20) : "0123456789abcdef";
    if (round % 5 == 0) hash[3] = 'F';  // not lowercase hex: stored as text
    detail::RecordParts parts{.has_link = round % 4 != 1,
                                    .source_id = source_id,
                                    .destination_id = destination_id,
                                    .has_base = round % 4 != 2,
                                    .hash = hash,
                                    .source_modified = sm,
                                    .destination_modified = dm,
                                    .full_key = full_key,
                                    .key_field = {}};
    // Source digests (format version 4) on some records with base values; 0 is none.
    const std::uint64_t digest = round % 3 == 2 ? (static_cast<std::uint64_t>(rng()) << 32 | rng() | 1) : 0;
    parts.source_digest = digest;
    // Some values hold the key in a field (left out of the stored CBOR, put back on reading).
    nlohmann::json values = {{"a", text(10)}, {"n", round}};
    if (round % 3 != 1) values[round % 2 ? "email" : "zz"] = real_key;
    if (round % 11 == 0) values["nested"] = {{"k", real_key}};
    detail::encode_record(parts, real_key, parts.has_base ? &values : nullptr, {}, buffer);
    const std::string bytes(buffer.begin(), buffer.end());
    detail::RecordView view;
    REQUIRE(detail::parse_record(bytes, key, view));
    CHECK(view.key == real_key);
    CHECK(view.has_link() == parts.has_link);
    CHECK(view.has_base() == parts.has_base);
    CHECK(view.hash_text() == hash);
    CHECK(view.source_id == source_id);
    CHECK(view.destination_id == destination_id);
    CHECK(view.source_modified == sm);
    CHECK(view.destination_modified == dm);
    CHECK(view.full_key == full_key);
    CHECK(view.source_digest == (parts.has_base ? digest : 0));
    if (parts.has_base) CHECK(view.decode_values() == values);
    // Written again from the stored CBOR (a link changed, the values kept as they are).
    std::vector<std::uint8_t> again;
    detail::RecordParts copy = parts;
    copy.key_field = view.key_field;
    detail::encode_record(copy, real_key, nullptr, view.values, again);
    CHECK(again == buffer);
    // Every cut is refused or parsed within its bytes (ASan would see a read past them).
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      detail::RecordView partial;
      if (detail::parse_record(bytes.substr(0, cut), key, partial)) CHECK(partial.values.size() < view.values.size());
    }
    std::string damaged = bytes;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    detail::RecordView any;
    if (detail::parse_record(damaged, key, any) && any.has_base()) {
      try {
        (void)any.decode_values();
      } catch (const nlohmann::json::exception&) {
      }
    }
  }
  detail::RecordView none;
  CHECK_FALSE(detail::parse_record("", "k", none));
  CHECK_FALSE(detail::parse_record(std::string(1, '\0'), "k", none));     // neither link nor base
  CHECK_FALSE(detail::parse_record(std::string(1, '\x21'), "k", none));  // an unknown flag
  CHECK_FALSE(detail::parse_record(std::string(1, '\x11'), "k", none));  // a source digest without base values
}

namespace {

SpooledDelivery delivery(std::int64_t at_ms, const std::string& id, nlohmann::json rows) {
  return SpooledDelivery{at_ms, id, std::move(rows)};
}

std::vector<std::uint64_t> spooled_sequences(const StateStore& store, std::uint64_t from = 1) {
  std::vector<std::uint64_t> out;
  store.for_each_spooled(from, [&](std::uint64_t sequence, const SpooledDelivery&) {
    out.push_back(sequence);
    return true;
  });
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("state store: the spool numbers deliveries, drops repeated delivery ids and drains what was applied",
                   "[state][push]", MemoryFixture, LmdbFixture) {
  TestType f;
  StateStore& store = *f.store;
  CHECK(store.for_each_spooled(1, [](std::uint64_t, const SpooledDelivery&) { return true; }) == 1);
  const std::string long_id(700, 'd');  // stored hashed: still remembered
  {
    auto txn = store.begin();
    auto first = txn->spool(delivery(1000, "a", {{{"i", "k1"}, {"f", {{"x", 1}}}}}));
    CHECK(first.sequence == 1);
    CHECK_FALSE(first.duplicate);
    // The same id again in the same transaction is a duplicate too.
    auto again = txn->spool(delivery(1001, "a", nlohmann::json::array()));
    CHECK(again.duplicate);
    CHECK(again.sequence == 1);
    CHECK(txn->spool(delivery(2000, "", nlohmann::json::array())).sequence == 2);  // no id: never a duplicate
    CHECK(txn->spool(delivery(3000, long_id, nlohmann::json::array())).sequence == 3);
    txn->put_pushed("k1", {{"i", "k1"}, {"f", {{"x", 1}}}});
    txn->put_pushed("k2", {{"i", "k2"}, {"f", {{"x", 2}}}});
    txn->commit();
  }
  CHECK(spooled_sequences(store) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(spooled_sequences(store, 2) == std::vector<std::uint64_t>{2, 3});
  CHECK(store.spooled_count() == 3);
  std::vector<std::pair<std::uint64_t, SpooledDelivery>> read;
  auto next = store.for_each_spooled(1, [&](std::uint64_t sequence, const SpooledDelivery& d) {
    read.emplace_back(sequence, d);
    return true;
  });
  CHECK(next == 4);
  REQUIRE(read.size() == 3);
  CHECK(read[0].second.at_ms == 1000);
  CHECK(read[0].second.delivery_id == "a");
  CHECK(read[0].second.rows.at(0).at("f").at("x") == 1);
  CHECK(read[2].second.delivery_id == long_id);
  CHECK(store.get_pushed("k2")->at("f").at("x") == 2);
  CHECK_FALSE(store.get_pushed("k3"));
  std::vector<std::string> pushed;
  CHECK(store.for_each_pushed([&](const std::string& id, const nlohmann::json&) {
    pushed.push_back(id);
    return true;
  }) == 4);
  CHECK(pushed == std::vector<std::string>{"k1", "k2"});
  {
    auto txn = store.begin();
    CHECK(txn->spool(delivery(4000, long_id, nlohmann::json::array())).duplicate);
    txn->erase_pushed("k1");
    txn->commit();
  }
  CHECK(store.pushed_count() == 1);

  // Draining before 3 removes deliveries 1 and 2 and ids older than 2500 ms ("a"); numbers are
  // never reused, and a forgotten id is taken again.
  {
    auto txn = store.begin();
    CHECK(txn->drain_spool(3, 2500) == 2);
    txn->commit();
  }
  CHECK(spooled_sequences(store) == std::vector<std::uint64_t>{3});
  {
    auto txn = store.begin();
    auto again = txn->spool(delivery(5000, "a", nlohmann::json::array()));
    CHECK_FALSE(again.duplicate);
    CHECK(again.sequence == 4);
    CHECK(txn->spool(delivery(5000, long_id, nlohmann::json::array())).duplicate);
    // A resync forgets the links, not what the source pushed.
    txn->clear_sync_state();
    txn->commit();
  }
  CHECK(spooled_sequences(store) == std::vector<std::uint64_t>{3, 4});
  CHECK(store.pushed_count() == 1);
  // An uncommitted transaction spools nothing.
  { store.begin()->spool(delivery(6000, "b", nlohmann::json::array())); }
  CHECK(store.spooled_count() == 2);
}

TEST_CASE("lmdb store: the spool survives reopening and verifies", "[state][push]") {
  TempDir dir;
  {
    auto store = open_lmdb_store(dir / "sync", false);
    auto txn = store->begin();
    txn->spool(delivery(1000, "a", {{{"i", "k1"}, {"f", {{"x", "y"}}}}}));
    txn->put_pushed("k1", {{"i", "k1"}, {"f", {{"x", "y"}}}});
    txn->commit();
  }
  verify_lmdb_store(dir / "sync");
  auto store = open_lmdb_store(dir / "sync", true);
  CHECK(store->spooled_count() == 1);
  CHECK(store->get_pushed("k1")->at("f").at("x") == "y");
  // Its next number is kept: a reader resumes after delivery 1.
  CHECK(store->for_each_spooled(2, [](std::uint64_t, const SpooledDelivery&) { return true; }) == 2);
}
